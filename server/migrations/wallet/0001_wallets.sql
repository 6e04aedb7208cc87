-- The wallet daemon's wallets: each an encrypted keystore (never a key in the clear), with what
-- can be shown while it is locked; and a log of what was done with them.
CREATE TABLE wallets (
    wallet_id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    public_key TEXT NOT NULL,
    keystore TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE wallet_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    wallet_id TEXT NOT NULL REFERENCES wallets (wallet_id),
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX wallet_events_by_wallet ON wallet_events (wallet_id, id);
