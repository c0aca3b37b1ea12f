//! What a peer's storage directory holds: each document's chunks in automerge-repo's file layout
//! (which samod shares: `data/ID[..2]/ID[2..]/{incremental,snapshot}/…`) loaded with automerge,
//! and its heads compared with those of the phone's own save. Nothing of the peer's own account
//! (its acknowledgements, its remote heads) is taken on trust.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use automerge::ChangeHash;

/// Every file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            files_under(&entry.path(), out)?;
        } else {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Each document of `manifest` (lines `PHONE DOC DOCUMENT_ID`) with the heads of the phone's
/// save, sorted.
fn expected(
    manifest: &Path,
    docs: &[Vec<Vec<u8>>],
) -> anyhow::Result<Vec<(String, Vec<ChangeHash>)>> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let bad = || anyhow!("bad manifest line {line:?} in {}", manifest.display());
            let mut fields = line.split_whitespace();
            let (Some(phone), Some(n), Some(id)) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(bad());
            };
            let (phone, n): (usize, usize) = (phone.parse()?, n.parse()?);
            let save = docs.get(phone).and_then(|p| p.get(n)).ok_or_else(bad)?;
            if id.len() < 3 || !id.is_ascii() {
                return Err(bad());
            }
            let mut want = automerge::Automerge::load(save)
                .context("loading a phone's save")?
                .get_heads();
            want.sort();
            Ok((id.to_owned(), want))
        })
        .collect()
}

/// Whether `data` holds document `id` at heads `want`. A chunk that does not load (a write cut
/// short) leaves the document not stored.
fn is_stored(data: &Path, id: &str, want: &[ChangeHash]) -> bool {
    let mut chunks = Vec::new();
    if files_under(&data.join(&id[..2]).join(&id[2..]), &mut chunks).is_err() {
        return false;
    }
    let mut doc = automerge::Automerge::new();
    for chunk in &chunks {
        match std::fs::read(chunk) {
            Ok(bytes) if doc.load_incremental(&bytes).is_ok() => {}
            _ => return false,
        }
    }
    let mut got = doc.get_heads();
    got.sort();
    got == want
}

/// How many documents of `manifest` the storage directory `data` holds at the phone's heads.
pub(crate) fn stored_at_heads(
    data: &Path,
    manifest: &Path,
    docs: &[Vec<Vec<u8>>],
) -> anyhow::Result<usize> {
    Ok(expected(manifest, docs)?
        .iter()
        .filter(|(id, want)| is_stored(data, id, want))
        .count())
}

/// Waits until `data` holds every document of `manifest` at the phone's heads, or until
/// `patience` passes with none more stored; returns how many are stored and the seconds waited.
pub(crate) fn wait_until_stored(
    data: &Path,
    manifest: &Path,
    docs: &[Vec<Vec<u8>>],
    patience: Duration,
) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let mut remaining = expected(manifest, docs)?;
    let total = remaining.len();
    let mut progress = Instant::now();
    loop {
        let before = remaining.len();
        remaining.retain(|(id, want)| !is_stored(data, id, want));
        if remaining.len() < before {
            progress = Instant::now();
        }
        if remaining.is_empty() || progress.elapsed() > patience {
            return Ok((total - remaining.len(), started.elapsed().as_secs_f64()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use automerge::transaction::Transactable as _;

    fn doc_with(edits: usize) -> automerge::Automerge {
        let mut doc = automerge::Automerge::new();
        for e in 0..edits {
            let mut tx = doc.transaction();
            tx.put(automerge::ROOT, "n", e as i64).unwrap();
            tx.commit();
        }
        doc
    }

    #[test]
    fn a_document_counts_only_when_its_stored_chunks_reach_the_phones_heads() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let full = doc_with(2);
        let phone = vec![full.save(), full.save(), full.save()];
        // Document 0 stored whole (as two incremental chunks), document 1 missing its last
        // change, document 2 not stored at all.
        let put = |id: &str, kind: &str, name: &str, bytes: &[u8]| {
            let at = data.join(&id[..2]).join(&id[2..]).join(kind);
            std::fs::create_dir_all(&at).unwrap();
            std::fs::write(at.join(name), bytes).unwrap();
        };
        for (i, change) in full.get_changes(&[]).iter().enumerate() {
            put("docA", "incremental", &i.to_string(), change.raw_bytes());
        }
        put("docB", "snapshot", "s", &doc_with(1).save());
        let manifest = dir.path().join("manifest.txt");
        std::fs::write(&manifest, "0 0 docA\n0 1 docB\n0 2 docC\n").unwrap();
        let docs = [phone];
        assert_eq!(stored_at_heads(&data, &manifest, &docs).unwrap(), 1);
        let (stored, _) =
            wait_until_stored(&data, &manifest, &docs, Duration::from_millis(100)).unwrap();
        assert_eq!(stored, 1);
        // A line naming no phone's document is an error, not a count.
        std::fs::write(&manifest, "3 0 docA\n").unwrap();
        assert!(stored_at_heads(&data, &manifest, &[vec![]]).is_err());
    }
}
