-- Paid jobs: the escrow as the coordinator tracks it (terms, amount, the client's signed lock, the
-- release or refund once built) and where it stands (locking, locked, releasing, released,
-- refunding, refunded, failed). NULL for a job nobody pays for.
ALTER TABLE jobs ADD COLUMN payment TEXT;
ALTER TABLE jobs ADD COLUMN payment_status TEXT;
CREATE INDEX jobs_by_payment_status ON jobs (payment_status);
