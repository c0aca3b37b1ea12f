//! The benchmark workloads, shared by the `gridsync-bench` binary and its smoke test.
//!
//! Every device is a real `Replica` (the phones' own store, in memory) that captured cases
//! offline; accounts and device bindings are written straight into the database and access
//! tokens signed with the servers' own key, so setting up thousands of phones costs no password
//! hashing and nothing of it is timed. Databases and server processes come from the test kit.

mod compare;
mod floor;
mod handoff;
mod limit;
mod link;
mod measure;
mod peer;
mod peer_run;
mod phone;
mod samod;
mod stored;
mod storm;
mod workload;

pub use compare::{CompareOptions, CompareReport, compare};
pub use floor::{FloorFigures, FloorOptions, FloorReport, floor};
pub use handoff::{HandoffOptions, HandoffReport, handoff};
pub use limit::limit;
pub use link::{LinkOptions, LinkReport, link};
pub use measure::Report;
pub use peer::{PeerKind, PeerOptions, peer};
pub use peer_run::PeerReport;
pub use phone::{PhoneOptions, PhoneReport, phone};
pub use samod::{SamodOptions, SamodProfile, SamodVariant, samod_binary};
pub use storm::{StormOptions, storm};
pub use workload::{Database, Phones, ServerBin, Workload};
