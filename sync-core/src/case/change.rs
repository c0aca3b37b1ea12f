//! Changes: who wrote one (recorded in its message), and how change bytes from the network are
//! taken.

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::Change;
use serde::{Deserialize, Serialize};

use crate::access::{Identity, Role};
use crate::{Error, Result};

/// Who wrote a change, as recorded in the change's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeAuthor {
    pub user: String,
    pub device: String,
    pub role: Role,
}

impl ChangeAuthor {
    const PREFIX: &'static str = "gs1";

    pub fn of(who: &Identity) -> Self {
        ChangeAuthor {
            user: who.user.clone(),
            device: who.device.clone(),
            role: who.role,
        }
    }

    /// The change message: `gs1 <user> <device> <role>` (ids are space-free tokens).
    pub fn to_message(&self) -> String {
        format!(
            "{} {} {} {}",
            Self::PREFIX,
            self.user,
            self.device,
            self.role
        )
    }

    pub fn from_message(message: &str) -> Option<Self> {
        let mut parts = message.split(' ');
        if parts.next()? != Self::PREFIX {
            return None;
        }
        let author = ChangeAuthor {
            user: parts.next()?.to_owned(),
            device: parts.next()?.to_owned(),
            role: Role::parse(parts.next()?)?,
        };
        parts.next().is_none().then_some(author)
    }

    pub fn of_change(change: &Change) -> Option<Self> {
        change.message().and_then(Self::from_message)
    }
}

/// Parses change bytes from the network; never panics. Only a plain change chunk is taken:
/// Automerge inflates a compressed one (chunk type 2) without bound before anything can check
/// its size (0.5 MB of deflated zeros took 1.5 GB and 4 s), and parses a document or bundle
/// chunk whole before refusing it. The apps and the server send raw, uncompressed changes.
pub fn parse_change(bytes: &[u8]) -> Result<Change> {
    // Magic (4 bytes), checksum (4), then the chunk type; shorter input fails in Automerge.
    const CHANGE_CHUNK: u8 = 1;
    if let Some(&kind) = bytes.get(8)
        && kind != CHANGE_CHUNK
    {
        return Err(Error::Automerge(format!(
            "chunk type {kind} is not an uncompressed change"
        )));
    }
    match catch_unwind(AssertUnwindSafe(|| Change::try_from(bytes))) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(Error::Automerge(e.to_string())),
        Err(_) => Err(Error::Automerge("automerge panicked on this change".into())),
    }
}

/// Every text a change writes, decoded from its bytes (compressed or not): each string value,
/// the run of all of them joined (text typed a character at a time) and its message. What a
/// reader of the change bytes could recover; the erasure tests search it.
pub fn change_texts(change: &Change) -> Vec<String> {
    let Ok(expanded) = catch_unwind(AssertUnwindSafe(|| change.decode())) else {
        return Vec::new();
    };
    let mut out: Vec<String> = expanded
        .operations
        .iter()
        .filter_map(|op| match &op.action {
            automerge::legacy::OpType::Put(automerge::ScalarValue::Str(s)) => Some(s.to_string()),
            _ => None,
        })
        .collect();
    out.push(out.concat());
    out.extend(expanded.message);
    out
}
