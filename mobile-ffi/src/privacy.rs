//! Personal data sealed per case (ADR 0029) on the phone side: what the store holds that its
//! key opens, and the texts recoverable from change bytes — what an app's privacy check (and the
//! erasure tests) search for a person's name.

use gridsync_core::case::{CaseDoc, change_texts, parse_change};

use crate::{FfiError, FieldStore};

/// Every text the change bytes `change` write (its values, their run joined, its message);
/// bytes that are not a change give none.
#[uniffi::export]
pub fn texts_of_change(change: Vec<u8>) -> Vec<String> {
    parse_change(&change)
        .map(|c| change_texts(&c))
        .unwrap_or_default()
}

/// Every text in the history of a saved document (`texts_of_change` over all its changes);
/// bytes that are not a document give none.
#[uniffi::export]
pub fn texts_of_document(document: Vec<u8>) -> Vec<String> {
    CaseDoc::load(&document)
        .map(|mut d| d.texts())
        .unwrap_or_default()
}

#[uniffi::export]
impl FieldStore {
    /// Everything this store holds that its key opens: every text of every case's history
    /// (sealed personal values opened with the case keys held here), summaries, queued changes
    /// and refusals. What someone holding the phone and its key could read.
    pub fn readable_texts(&self) -> Result<Vec<String>, FfiError> {
        Ok(self.lock().readable_texts()?)
    }
}
