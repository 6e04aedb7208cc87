-- The node's own database: the canonical chain, its transactions, the accounts after the head,
-- the undo log that lets a reorg roll accounts back, and the transactions admitted to the mempool
-- (so an acknowledged transaction survives a crash). Amounts are 8-byte big-endian blobs: exact
-- for every u64 and ordered like numbers.
CREATE TABLE blocks (
    height       INTEGER PRIMARY KEY,
    hash         BLOB    NOT NULL UNIQUE,
    parent_hash  BLOB    NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    proposer     BLOB    NOT NULL,
    tx_count     INTEGER NOT NULL,
    weight       INTEGER NOT NULL,
    total_weight INTEGER NOT NULL,
    block        TEXT    NOT NULL
);

CREATE TABLE transactions (
    hash         BLOB    PRIMARY KEY,
    block_height INTEGER NOT NULL REFERENCES blocks (height) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    sender       BLOB    NOT NULL,
    recipient    BLOB,
    tx           TEXT    NOT NULL
);
CREATE INDEX transactions_by_sender ON transactions (sender, block_height);
CREATE INDEX transactions_by_recipient ON transactions (recipient, block_height);
CREATE INDEX transactions_by_block ON transactions (block_height, idx);

CREATE TABLE accounts (
    address BLOB    PRIMARY KEY,
    balance BLOB    NOT NULL,
    nonce   INTEGER NOT NULL
);
CREATE INDEX accounts_by_balance ON accounts (balance DESC);

-- For each block, the accounts it changed as they were before it (NULL: did not exist).
CREATE TABLE account_undo (
    height  INTEGER NOT NULL REFERENCES blocks (height) ON DELETE CASCADE,
    address BLOB    NOT NULL,
    balance BLOB,
    nonce   INTEGER,
    PRIMARY KEY (height, address)
);

CREATE TABLE mempool (
    hash        BLOB    PRIMARY KEY,
    tx          TEXT    NOT NULL,
    received_ms INTEGER NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
