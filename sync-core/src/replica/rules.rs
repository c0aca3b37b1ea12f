//! The county's rules as this phone holds them: sealed in `meta` beside the version the server
//! has confirmed recording, so a sync carries the version only until that confirmation (see
//! [`SyncRequest::rules`](crate::protocol::SyncRequest)).

use rusqlite::{Connection, params};

use super::seal::Sealer;
use super::{Replica, storage};
use crate::protocol::RulesUpdate;
use crate::rules::Rules;
use crate::{Error, Result};

const RULES_AAD: &[u8] = b"meta:rules";

impl Replica {
    /// The rules in force on this phone: the county's, as last received, or those shipped in
    /// the build (version 0) before the first sync.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub(super) fn load_rules(&mut self) -> Result<()> {
        if let Some(sealed) = self.meta("rules")? {
            let plain = self.seal.open(&sealed, RULES_AAD)?;
            let (version, text) = plain
                .split_first_chunk::<8>()
                .ok_or_else(|| Error::Storage("rules: truncated".into()))?;
            let text =
                std::str::from_utf8(text).map_err(|_| Error::Storage("rules: not UTF-8".into()))?;
            self.rules = Rules::from_toml(u64::from_be_bytes(*version), text)?;
        }
        Ok(())
    }

    /// The version to tell the server, while it has not confirmed recording it.
    pub(super) fn unreported_rules(&self) -> Result<Option<u64>> {
        let reported = self
            .meta("rules_reported")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes);
        let version = self.rules.version();
        Ok((reported != Some(version)).then_some(version))
    }
}

/// Keeps `update` when it is newer than `held` and reads as rules; returns the rules to use
/// from the commit on. Without an update the server has recorded the version held: noted, so
/// the next request leaves it out.
pub(super) fn take_rules(
    conn: &Connection,
    seal: &Sealer,
    held: &Rules,
    update: Option<&RulesUpdate>,
) -> Result<Option<Rules>> {
    let upsert = |key: &str, value: Vec<u8>| {
        conn.prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .and_then(|mut stmt| stmt.execute(params![key, value]))
        .map_err(storage)
    };
    let Some(update) = update else {
        upsert("rules_reported", held.version().to_be_bytes().to_vec())?;
        return Ok(None);
    };
    if update.version <= held.version() {
        return Ok(None);
    }
    // Rules this build cannot read (a newer format) leave the ones held in force; the sync
    // itself goes on, and the server offers them again next time.
    let Ok(rules) = Rules::from_toml(update.version, &update.toml) else {
        return Ok(None);
    };
    let mut plain = update.version.to_be_bytes().to_vec();
    plain.extend_from_slice(update.toml.as_bytes());
    upsert("rules", seal.seal(&plain, RULES_AAD))?;
    Ok(Some(rules))
}
