//! The hub scenarios on the in-memory hub (the server runs the same ones on SQLite and
//! PostgreSQL).

use gridsync_core::testing::MemoryHub;
use gridsync_core::testing::scenarios;

#[test]
fn the_memory_hub_passes_every_hub_scenario() {
    scenarios::run_all(MemoryHub::new).unwrap();
}
