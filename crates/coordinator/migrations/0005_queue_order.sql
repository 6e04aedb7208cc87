-- The queue in the order miners take it (highest priority, then oldest, then id), so a poll
-- reads the head of the queue without sorting it.
DROP INDEX jobs_queue;
CREATE INDEX jobs_queue ON jobs (state, priority DESC, requested_at, id);
