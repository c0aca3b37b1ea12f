//! End-to-end tests across replicas and the hub.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod convergence;
mod server;
