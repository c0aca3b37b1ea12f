//! Times as the case holds them: the plausible range of a document time, and how a change's
//! header time is read. Each rule lives here and nowhere else.

use crate::vocab::Millis;

/// The earliest plausible document time: 2000-01-01T00:00:00Z, in ms.
pub const EARLIEST_TIME: Millis = 946_684_800_000;
/// The end of the plausible range (excluded): 2100-01-01T00:00:00Z, in ms.
pub const LATEST_TIME: Millis = 4_102_444_800_000;

/// A change header time below this is seconds, not ms: JavaScript Automerge writes seconds by
/// default, and 10^11 ms is 1973 while 10^11 s is the year 5138, so no real time is ambiguous.
pub const CHANGE_TIME_SECONDS_BELOW: i64 = 100_000_000_000;

/// Why `t` is no document time (ms from [`EARLIEST_TIME`] to [`LATEST_TIME`]), if it is not:
/// the reason names seconds when `t` would be plausible as seconds, the usual mistake.
pub fn implausible_time(t: Millis) -> Option<String> {
    if (EARLIEST_TIME..LATEST_TIME).contains(&t) {
        return None;
    }
    let range = "not a time in ms from 2000-01-01 to 2100-01-01";
    if (EARLIEST_TIME / 1000..LATEST_TIME / 1000).contains(&t) {
        Some(format!(
            "{t} is {range}: it looks like seconds (times are ms since the epoch)"
        ))
    } else {
        Some(format!("{t} is {range}"))
    }
}

/// A change's header time (`Change::timestamp`) in ms; 0 when unknown. Below
/// [`CHANGE_TIME_SECONDS_BELOW`] it is read as seconds (the JavaScript default); gridsync's own
/// changes carry the device clock in ms. Zero or negative means the writer set no time.
pub fn change_time_ms(raw: i64) -> Millis {
    if raw <= 0 {
        0
    } else if raw < CHANGE_TIME_SECONDS_BELOW {
        raw * 1000
    } else {
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_in_seconds_is_named_as_such() {
        assert_eq!(implausible_time(1_796_447_169_618), None);
        let why = implausible_time(1_796_447_169).unwrap();
        assert!(why.contains("looks like seconds"), "{why}");
        let why = implausible_time(1_000).unwrap();
        assert!(!why.contains("seconds"), "{why}");
        assert!(implausible_time(LATEST_TIME).is_some());
        assert!(implausible_time(EARLIEST_TIME - 1).is_some());
    }

    #[test]
    fn change_times_in_seconds_are_read_as_ms_and_zero_is_unknown() {
        assert_eq!(change_time_ms(1_796_447_169), 1_796_447_169_000);
        assert_eq!(change_time_ms(1_796_447_169_618), 1_796_447_169_618);
        assert_eq!(change_time_ms(0), 0);
        assert_eq!(change_time_ms(-5), 0);
    }
}
