//! The county's TOML files (catalogue, calendar, both as one rules file): the checks every
//! kind shares — the format version, no unknown top-level key — and line numbers for errors, so
//! an administrator can find what a refusal is about.

use crate::{Error, Result};

/// The file format this build reads, for every kind of file.
pub(crate) const FORMAT_VERSION: i64 = 1;

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Checks that `text` is TOML of format [`FORMAT_VERSION`] whose top-level keys are `version`
/// and `keys`. `what` names the kind of file in messages. Errors are [`Error::Rules`].
pub(crate) fn check_file(text: &str, what: &str, keys: &[&str]) -> Result<()> {
    let table: toml::Table = toml::from_str(text).map_err(syntax)?;
    match table.get("version") {
        Some(toml::Value::Integer(FORMAT_VERSION)) => {}
        Some(v) => {
            return Err(Error::Rules(format!(
                "line {}: unsupported {what} version {v}, this build reads version {FORMAT_VERSION}",
                key_line(text, "version")
            )));
        }
        None => {
            return Err(Error::Rules(format!(
                "the {what} lacks `version = {FORMAT_VERSION}`"
            )));
        }
    }
    if let Some(key) = table
        .keys()
        .find(|k| *k != "version" && !keys.contains(&k.as_str()))
    {
        return Err(Error::Rules(format!(
            "line {}: unknown key `{key}` in a {what} (expected {})",
            key_line(text, key),
            keys.join(", ")
        )));
    }
    Ok(())
}

/// toml's message already names the line and shows it; only the trailing newline is noise.
pub(crate) fn syntax(e: toml::de::Error) -> Error {
    Error::Rules(e.to_string().trim_end().to_owned())
}

/// The line a top-level `key` is written on (`key =`, `[key…` or `[[key…`), or 1.
fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches('[');
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(['=', ']', '.']))
        })
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(line_at("a\nb\nc", 99), 3);
    }

    #[test]
    fn unknown_keys_and_versions_are_named_with_their_line() {
        let err = |t: &str| {
            check_file(t, "catalogue", &["category"])
                .unwrap_err()
                .to_string()
        };
        assert!(
            err("version = 1\n\n[[holidays]]\nname = 1").contains("line 3: unknown key `holidays`")
        );
        assert!(err("\nversion = 2").contains("line 2: unsupported catalogue version 2"));
        assert!(err("x = 1").contains("lacks `version = 1`"));
        assert!(check_file("version = 1\n[[category]]\n", "catalogue", &["category"]).is_ok());
    }
}
