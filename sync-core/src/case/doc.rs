//! [`CaseDoc`]: one case as an Automerge document — created, loaded, saved, merged, and edited
//! one change at a time.

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::transaction::CommitOptions;
use automerge::{
    ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value,
};

use super::sealed::CaseKey;
use super::{CaseEditor, ChangeAuthor, NewCase};
use crate::access::Identity;
use crate::error::Refusal;
use crate::vocab::{Millis, validate_case_id};
use crate::workflow::Deadlines;
use crate::{Error, Result};

/// One case as an Automerge document.
#[derive(Debug, Clone)]
pub struct CaseDoc {
    pub(super) doc: AutoCommit,
}

impl CaseDoc {
    /// Captures a new case: the document with every object it will ever hold, and the
    /// `reported` event, in one change.
    pub fn create(
        actor: ActorId,
        id: &str,
        new: &NewCase,
        by: &Identity,
        at: Millis,
    ) -> Result<(CaseDoc, ChangeHash)> {
        CaseDoc::create_with(actor, id, new, by, at, &Deadlines::builtin())
    }

    /// [`CaseDoc::create`] with the deadlines of the county's rules in force.
    pub fn create_with(
        actor: ActorId,
        id: &str,
        new: &NewCase,
        by: &Identity,
        at: Millis,
        deadlines: &Deadlines<'_>,
    ) -> Result<(CaseDoc, ChangeHash)> {
        CaseDoc::create_sealed(actor, id, new, by, at, deadlines, None)
    }

    /// [`CaseDoc::create_with`], its people's personal fields sealed under `key` (ADR 0029).
    pub fn create_sealed(
        actor: ActorId,
        id: &str,
        new: &NewCase,
        by: &Identity,
        at: Millis,
        deadlines: &Deadlines<'_>,
        key: Option<&CaseKey>,
    ) -> Result<(CaseDoc, ChangeHash)> {
        CaseDoc::create_inner(actor, id, new, by, at, deadlines, None, None, key)
    }

    /// A creation that comes out byte for byte the same wherever it is made from the same
    /// inputs: the `reported` event's id is given, and `extra` is written in the same change
    /// (an urgent SMS report's first change is built this way on the phone and on the server).
    #[allow(clippy::too_many_arguments)]
    pub fn create_exactly(
        actor: ActorId,
        id: &str,
        new: &NewCase,
        by: &Identity,
        at: Millis,
        deadlines: &Deadlines<'_>,
        event_id: &str,
        extra: (&str, &str),
    ) -> Result<(CaseDoc, ChangeHash)> {
        CaseDoc::create_inner(
            actor,
            id,
            new,
            by,
            at,
            deadlines,
            Some(event_id),
            Some(extra),
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn create_inner(
        actor: ActorId,
        id: &str,
        new: &NewCase,
        by: &Identity,
        at: Millis,
        deadlines: &Deadlines<'_>,
        event_id: Option<&str>,
        extra: Option<(&str, &str)>,
        key: Option<&CaseKey>,
    ) -> Result<(CaseDoc, ChangeHash)> {
        validate_case_id(id)?;
        if !by.may_report(new.kind, &new.jurisdiction) {
            return Err(Refusal::OutOfScope {
                what: format!(
                    "{} may not report a {} at {}",
                    by.role, new.kind, new.jurisdiction
                ),
            }
            .into());
        }
        let mut case = CaseDoc {
            doc: AutoCommit::new().with_actor(actor),
        };
        let hash = case.edit_sealed(by, at, key, |e| {
            e.write_new(id, new, by, at, deadlines, event_id.map(str::to_owned))?;
            match extra {
                Some((key, value)) => e.set_extra(key, value),
                None => Ok(()),
            }
        })?;
        let hash = hash.ok_or_else(|| Error::InvalidCase("empty creation".into()))?;
        Ok((case, hash))
    }

    /// Loads a saved document; corrupt bytes are an error, never a panic.
    pub fn load(bytes: &[u8]) -> Result<CaseDoc> {
        let doc = guard(|| AutoCommit::load(bytes))?;
        Ok(CaseDoc { doc })
    }

    /// A document built from raw changes (the server's log or a pull).
    pub fn from_changes(changes: Vec<Change>) -> Result<CaseDoc> {
        let mut doc = AutoCommit::new();
        guard(|| doc.apply_changes(changes))?;
        Ok(CaseDoc { doc })
    }

    /// An empty document, for a case first seen through a pull.
    pub fn empty(actor: ActorId) -> CaseDoc {
        CaseDoc {
            doc: AutoCommit::new().with_actor(actor),
        }
    }

    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// The whole document, its columns compressed: what the phone keeps (its storage is the
    /// scarcer resource) and what leaves the system (exports, peers).
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The whole document without compression: what the server keeps. Its snapshot is rewritten
    /// on every push, and setting up DEFLATE (and inflating again on every load) cost more CPU
    /// than the ~12 % of bytes it saved (ADR 0017).
    pub fn save_uncompressed(&mut self) -> Vec<u8> {
        self.doc.save_nocompress()
    }

    /// The ids of the workflow events, the rest unread: what a write added to the log is what
    /// was not there before (the server's notices, ADR 0027).
    pub fn event_ids(&self) -> Vec<String> {
        let Ok(Some((Value::Object(ObjType::List), list))) = self.doc.get(ObjId::Root, "events")
        else {
            return Vec::new();
        };
        (0..self.doc.length(&list))
            .filter_map(|i| match self.doc.get(&list, i) {
                Ok(Some((Value::Object(ObjType::Map), event))) => {
                    match self.doc.get(&event, "id") {
                        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                            ScalarValue::Str(id) => Some(id.to_string()),
                            _ => None,
                        },
                        _ => None,
                    }
                }
                _ => None,
            })
            .collect()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Changes the holder of `have` lacks.
    pub fn changes_since(&mut self, have: &[ChangeHash]) -> Vec<Change> {
        self.doc.get_changes(have)
    }

    /// Every text of every change in the history ([`super::change_texts`]).
    pub fn texts(&mut self) -> Vec<String> {
        self.doc
            .get_changes(&[])
            .iter()
            .flat_map(super::change_texts)
            .collect()
    }

    /// The hashes of the changes the holder of `have` lacks, from the change graph alone:
    /// nothing is rebuilt, unlike [`CaseDoc::changes_since`].
    pub fn hashes_since(&mut self, have: &[ChangeHash]) -> Vec<ChangeHash> {
        self.doc
            .get_changes_meta(have)
            .into_iter()
            .map(|m| m.hash)
            .collect()
    }

    /// The changes `hash` depends on directly, if this document holds it (nothing rebuilt).
    pub fn deps_of(&mut self, hash: &ChangeHash) -> Option<Vec<ChangeHash>> {
        self.doc.get_change_meta_by_hash(hash).map(|m| m.deps)
    }

    pub fn change(&mut self, hash: &ChangeHash) -> Option<Change> {
        self.doc.get_change_by_hash(hash)
    }

    /// Whether the document holds change `hash`, without rebuilding it from the document as
    /// [`CaseDoc::change`] does: a look-up in the change graph. Exact for a document with no
    /// changes queued for missing dependencies (any stored one); otherwise the rebuild decides.
    pub fn has_change(&mut self, hash: &ChangeHash) -> bool {
        let missing = self.doc.get_missing_deps(std::slice::from_ref(hash));
        if missing.is_empty() {
            return true;
        }
        if missing.contains(hash) {
            return false;
        }
        self.change(hash).is_some()
    }

    /// The hashes of the changes after `since`, each rebuilt from the document: for changes from
    /// elsewhere, as Automerge can take a hostile change and then panic rebuilding it (found by
    /// fuzzing, ADR 0014), which is an error here. One call for all of them: rebuilding them
    /// one by one cost half as much again.
    pub fn read_back_since(
        &mut self,
        since: &[ChangeHash],
    ) -> Result<std::collections::HashSet<ChangeHash>> {
        guard(|| {
            Ok(self
                .doc
                .get_changes(since)
                .iter()
                .map(|c| c.hash())
                .collect())
        })
        .map_err(|_| Error::Automerge("a change cannot be read back".into()))
    }

    /// Applies changes from elsewhere; duplicates are ignored by Automerge.
    pub fn apply(&mut self, changes: Vec<Change>) -> Result<()> {
        guard(|| self.doc.apply_changes_batch(changes))
    }

    /// Hashes this document's held-back changes depend on but does not have.
    pub fn missing_deps(&mut self) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(&[])
    }

    /// A copy to try changes on before accepting them.
    pub fn fork(&mut self) -> CaseDoc {
        CaseDoc {
            doc: self.doc.fork(),
        }
    }

    /// Makes one change from `f`: all of its writes or none of them.
    pub fn edit<F>(&mut self, by: &Identity, at: Millis, f: F) -> Result<Option<ChangeHash>>
    where
        F: FnOnce(&mut CaseEditor<'_>) -> Result<()>,
    {
        self.edit_sealed(by, at, None, f)
    }

    /// [`CaseDoc::edit`], personal values written sealed under `key` (ADR 0029); without a key
    /// they are written plain, as before sealing.
    pub fn edit_sealed<F>(
        &mut self,
        by: &Identity,
        at: Millis,
        key: Option<&CaseKey>,
        f: F,
    ) -> Result<Option<ChangeHash>>
    where
        F: FnOnce(&mut CaseEditor<'_>) -> Result<()>,
    {
        let outcome = {
            let mut editor = CaseEditor {
                doc: &mut self.doc,
                by,
                at,
                key,
            };
            catch_unwind(AssertUnwindSafe(|| f(&mut editor)))
                .unwrap_or_else(|_| Err(Error::Automerge("panic inside automerge".into())))
        };
        match outcome {
            Ok(()) => Ok(self.doc.commit_with(
                CommitOptions::default()
                    .with_message(ChangeAuthor::of(by).to_message())
                    .with_time(at),
            )),
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }
}

/// Runs an Automerge call that may panic on hostile bytes.
pub(super) fn guard<T>(
    f: impl FnOnce() -> std::result::Result<T, automerge::AutomergeError>,
) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::Automerge(e.to_string())),
        Err(_) => Err(Error::Automerge("automerge panicked on this input".into())),
    }
}
