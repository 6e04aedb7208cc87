-- Receipt hashes anchored on chain (receipt-anchor transactions), for lookups by receipt. The
-- same receipt may be anchored more than once; the first anchor is the one that counts.
CREATE TABLE receipts (
    tx_hash      BLOB    PRIMARY KEY REFERENCES transactions (hash) ON DELETE CASCADE,
    receipt_hash BLOB    NOT NULL,
    job_id       TEXT    NOT NULL,
    block_height INTEGER NOT NULL REFERENCES blocks (height) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    anchored_by  BLOB    NOT NULL
);
CREATE INDEX receipts_by_hash ON receipts (receipt_hash, block_height);
CREATE INDEX receipts_by_block ON receipts (block_height, idx);
