//! The coordinator against real databases: every scenario runs on SQLite (a file) and on PostgreSQL (a fresh database on the server named by `AITBC_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`). A PostgreSQL that cannot be reached fails the tests; it is never skipped.

mod db;
mod group_commit;
mod lifecycle;
mod market;
mod miners;
mod payments;
mod sessions;
