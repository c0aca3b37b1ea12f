//! End-to-end tests across replicas and the hub.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod access_matrix;
mod bad_inputs;
mod blobs;
mod cli;
mod console_pages;
mod convergence;
mod evidence;
mod faults;
mod field_photos;
mod intake;
mod notices;
mod observability;
mod peer;
mod quarantine;
mod read_audit;
mod register;
mod restore;
mod rules_console;
mod server;
mod shape;
mod sms;
mod tls;
mod together;
mod track;
