//! The schema's rules on values, beyond the types `read` checks: a case has a title, its times
//! are plausible ms, its coordinates lie on the globe. The hub applies [`Case::check`] to the
//! case every batch leaves (`invalid_case`); the editor applies the same rules to what it
//! writes, so a phone does not write what the hub would refuse.

use super::time::implausible_time;
use super::{Case, invalid};
use crate::vocab::Millis;
use crate::{Error, Result};

/// Why `title` is no title (empty or only whitespace), if it is not one.
pub(super) fn blank_title(title: &str) -> Option<&'static str> {
    title
        .trim()
        .is_empty()
        .then_some("a case needs a title (not only whitespace)")
}

/// The editor's form of [`blank_title`]: the person's input, refused.
pub(super) fn check_title(title: &str) -> Result<()> {
    blank_title(title).map_or(Ok(()), |why| Err(invalid("title", why)))
}

/// The editor's check of a time it writes into `field` (the device clock, usually).
pub(super) fn check_time(field: &str, t: Millis) -> Result<()> {
    implausible_time(t).map_or(Ok(()), |why| Err(invalid(field, &why)))
}

/// Why a coordinate `key` with value `v` is off the globe, if it is.
pub(super) fn off_globe(key: &str, v: f64) -> Option<&'static str> {
    let ok = match key {
        "lat" => (-90.0..=90.0).contains(&v),
        "lon" => (-180.0..=180.0).contains(&v),
        // accuracy_m
        _ => v >= 0.0,
    };
    // NaN fails every comparison above, so it is refused here too.
    (!ok).then_some(match key {
        "lat" => "not a latitude (within ±90)",
        "lon" => "not a longitude (within ±180)",
        _ => "not a distance (≥ 0)",
    })
}

impl Case {
    /// The value rules of schema v1 (see "Case document, schema v1"); the error names the
    /// field and why.
    pub fn check(&self) -> Result<()> {
        let bad = |field: &str, why: &str| Err(Error::InvalidCase(format!("{field}: {why}")));
        if let Some(why) = blank_title(&self.title) {
            return bad("title", why);
        }
        let mut times: Vec<(String, Millis)> = vec![("created_at".into(), self.created_at)];
        for (i, e) in self.events.iter().enumerate() {
            times.push((format!("events[{i}].at"), e.at));
            times.extend(e.due.map(|d| (format!("events[{i}].due"), d)));
        }
        for (i, a) in self.attachments.iter().enumerate() {
            times.push((format!("attachments[{i}].captured_at"), a.captured_at));
        }
        for (i, s) in self.mediation.sessions.iter().enumerate() {
            times.push((format!("mediation.sessions[{i}].at"), s.at));
        }
        for (field, t) in times {
            if let Some(why) = implausible_time(t) {
                return bad(&field, &why);
            }
        }
        let loc = &self.location;
        let mut coords = vec![
            ("location.lat".to_owned(), "lat", loc.lat),
            ("location.lon".to_owned(), "lon", loc.lon),
            (
                "location.accuracy_m".to_owned(),
                "accuracy_m",
                loc.accuracy_m,
            ),
        ];
        for (i, a) in self.attachments.iter().enumerate() {
            coords.push((format!("attachments[{i}].lat"), "lat", a.lat));
            coords.push((format!("attachments[{i}].lon"), "lon", a.lon));
        }
        for (field, key, v) in coords {
            if let Some(why) = v.and_then(|v| off_globe(key, v)) {
                return bad(&field, why);
            }
        }
        Ok(())
    }
}
