//! # gridsync-testkit
//!
//! One home for what the end-to-end tests (`tests/`), the server's integration tests
//! (`server/tests`) and the benchmarks (`bench/`) need around the code under test:
//! - [`db`]: a fresh database per test or run, on SQLite or PostgreSQL (`GRIDSYNC_TEST_PG`),
//!   with CI's rule: PostgreSQL missing fails under `CI=true`, and says "skip" elsewhere;
//! - [`process`]: the real `gridsync serve` binary on port 0;
//! - [`server`]: the server in process on SQLite, and phones signed in to it over HTTP that sync
//!   through the core's session driver;
//! - [`link`]: a loopback link that throttles, delays, records requests and can cut an upload.
//!
//! Test support only: helpers panic on a broken environment rather than return errors, except
//! where a benchmark needs the error.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

pub mod db;
pub mod link;
pub mod process;
pub mod server;
