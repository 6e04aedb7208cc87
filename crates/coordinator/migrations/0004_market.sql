-- The GPU marketplace: GPUs that registered miners list with an hourly price, bookings that
-- reserve a GPU's miner for one client (at most one active booking per GPU), reviews by clients
-- who booked, and the earlier offers (besides those derived from online miners) and bids.
CREATE TABLE gpus (
    id TEXT PRIMARY KEY,
    miner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    memory_mb BIGINT NOT NULL,
    cuda_version TEXT,
    region TEXT,
    -- Base units per hour.
    price_per_hour BIGINT NOT NULL,
    capabilities TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX gpus_by_miner ON gpus (miner_id);

CREATE TABLE bookings (
    id TEXT PRIMARY KEY,
    gpu_id TEXT NOT NULL,
    miner_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    -- Base units: hours × the GPU's hourly price when booked.
    total_cost BIGINT NOT NULL,
    -- active, released (ended early by the client) or ended (ran its time).
    status TEXT NOT NULL,
    job_id TEXT,
    released_at BIGINT
);
CREATE UNIQUE INDEX one_active_booking_per_gpu ON bookings (gpu_id) WHERE status = 'active';
CREATE INDEX bookings_by_client ON bookings (client_id, start_at);
CREATE INDEX bookings_by_miner ON bookings (miner_id, status);

CREATE TABLE gpu_reviews (
    gpu_id TEXT NOT NULL,
    author TEXT NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (gpu_id, author)
);

CREATE TABLE market_offers (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    -- Base units per unit-hour.
    price BIGINT NOT NULL,
    sla TEXT,
    attributes TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE market_bids (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    provider TEXT,
    capacity INTEGER NOT NULL,
    -- Base units per unit-hour.
    price BIGINT NOT NULL,
    notes TEXT,
    -- pending, accepted or rejected.
    status TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    decided_by TEXT
);
CREATE INDEX market_bids_by_status ON market_bids (status, submitted_at);
