-- The coordinator's database, written in the SQL that SQLite and PostgreSQL share: text ids,
-- BIGINT milliseconds since the epoch, JSON as text. Amounts are AITBC base units (BIGINT).

-- API keys: only a hash of each secret is kept; the identity is who the key belongs to.
CREATE TABLE api_keys (
    id         TEXT   PRIMARY KEY,
    key_hash   TEXT   NOT NULL UNIQUE,
    role       TEXT   NOT NULL,
    identity   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE jobs (
    id                TEXT    PRIMARY KEY,
    client_id         TEXT    NOT NULL,
    state             TEXT    NOT NULL,
    payload           TEXT    NOT NULL,
    constraints       TEXT    NOT NULL,
    priority          INTEGER NOT NULL,
    ttl_seconds       BIGINT  NOT NULL,
    requested_at      BIGINT  NOT NULL,
    expires_at        BIGINT  NOT NULL,
    assigned_miner_id TEXT,
    lease_expires_at  BIGINT,
    started_at        BIGINT,
    finished_at       BIGINT,
    attempts          INTEGER NOT NULL,
    result            TEXT,
    metrics           TEXT,
    error             TEXT,
    receipt_id        TEXT,
    idempotency_key   TEXT,
    body_hash         TEXT    NOT NULL,
    -- Partial output of a long job and its progress (0 to 100).
    partial           TEXT,
    progress          INTEGER
);
CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (client_id, idempotency_key);
CREATE INDEX jobs_queue ON jobs (state, priority, requested_at);
CREATE INDEX jobs_by_miner ON jobs (assigned_miner_id, state);
CREATE INDEX jobs_by_client ON jobs (client_id, requested_at);

CREATE TABLE miners (
    id                    TEXT    PRIMARY KEY,
    capabilities          TEXT    NOT NULL,
    concurrency           INTEGER NOT NULL,
    region                TEXT,
    public_key            TEXT,
    payout_address        TEXT,
    status                TEXT    NOT NULL,
    enabled               INTEGER NOT NULL,
    last_heartbeat        BIGINT  NOT NULL,
    registered_at         BIGINT  NOT NULL,
    session_token         TEXT    NOT NULL,
    metadata              TEXT    NOT NULL,
    jobs_completed        BIGINT  NOT NULL,
    jobs_failed           BIGINT  NOT NULL,
    total_job_duration_ms BIGINT  NOT NULL,
    last_receipt_id       TEXT
);

CREATE TABLE receipts (
    receipt_id   TEXT   PRIMARY KEY,
    job_id       TEXT   NOT NULL REFERENCES jobs (id),
    receipt      TEXT   NOT NULL,
    receipt_hash TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX receipts_by_job ON receipts (job_id, created_at);
