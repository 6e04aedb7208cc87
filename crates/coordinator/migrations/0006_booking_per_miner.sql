-- A booking reserves the miner (it runs only the booking client's jobs), so at most one active
-- booking per miner, whichever of its GPUs was booked.
DROP INDEX one_active_booking_per_gpu;
CREATE UNIQUE INDEX one_active_booking_per_miner ON bookings (miner_id) WHERE status = 'active';
