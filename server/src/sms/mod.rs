//! SMS with the county's gateway (ADR 0027): the settings file ([`config`]), the delivery loop
//! that empties the store's SMS outbox through the gateway ([`deliver`]), and the inbound route's
//! work, turning a grid worker's urgent SMS report into a case ([`inbound`]).

pub mod config;
pub mod deliver;
pub mod inbound;

pub use config::{QuietHours, SmsConfig};
pub use deliver::Delivery;
pub use inbound::{Inbound, Refusal};

/// Minutes east of UTC of China Standard Time (no daylight saving): quiet hours and the daily
/// cap's day are the county's local time.
pub const CHINA_OFFSET_MINUTES: i64 = 8 * 60;

const DAY_MS: i64 = 86_400_000;

/// The start (ms since the epoch) of the China day that holds `now`.
pub fn china_day_start(now: i64) -> i64 {
    let offset = CHINA_OFFSET_MINUTES * 60_000;
    (now + offset).div_euclid(DAY_MS) * DAY_MS - offset
}

/// Minutes since local midnight in China at `now`.
pub fn china_minute(now: i64) -> u32 {
    ((now - china_day_start(now)) / 60_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_china_day_starts_at_sixteen_utc() {
        // 2026-12-06 15:59:59 UTC is 23:59:59 in Beijing; 16:00 UTC is the next day's midnight.
        let before = 1_796_572_799_000;
        let midnight = before + 1_000;
        assert_eq!(china_minute(before), 23 * 60 + 59);
        assert_eq!(china_minute(midnight), 0);
        assert_eq!(china_day_start(midnight), midnight);
        assert_eq!(china_day_start(before), midnight - DAY_MS);
    }
}
