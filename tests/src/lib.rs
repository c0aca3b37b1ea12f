//! End-to-end tests of gridsync live in `tests/tests/e2e/`: phone replicas against the real
//! server over HTTP, the convergence property test, bad inputs and faults. What they share with
//! the server's tests and the benchmarks is the test kit, `tests/kit/` (`gridsync-testkit`).
