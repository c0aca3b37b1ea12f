//! End-to-end tests of gridsync live in `tests/tests/e2e/`: several phone replicas, the hub, and (as
//! the server and FFI issues land) the real server and the generated bindings.
