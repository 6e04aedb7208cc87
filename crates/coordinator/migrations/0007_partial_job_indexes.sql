-- Smaller indexes on jobs, so that a job writes fewer index pages: idempotency keys only of
-- jobs submitted with one, and payment statuses only while the escrow needs watching (unpaid and
-- settled jobs, nearly all of them, are in neither).
DROP INDEX jobs_by_idempotency_key;
CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
DROP INDEX jobs_by_payment_status;
CREATE INDEX jobs_by_payment_status ON jobs (payment_status)
    WHERE payment_status IN ('locking', 'locked', 'releasing', 'refunding');
-- Jobs by miner only while they run (what a claim's slot count, heartbeats and leases read).
DROP INDEX jobs_by_miner;
CREATE INDEX jobs_by_miner ON jobs (assigned_miner_id) WHERE state = 'RUNNING';
