//! The working-time clock: when a time limit runs out.
//!
//! Limits in hours count clock hours. Limits in working days follow the county's calendar:
//! Monday to Friday except public holidays, plus make-up working days (调休) on weekends. "N
//! working days" ends at the close (24:00 local time) of the N-th working day after the day the
//! clock started, so a case accepted on a Friday with a one-working-day limit is due at the end
//! of Monday, and one accepted on a Saturday is due then too. The calendar is data, part of the
//! county's rules (the `rules` module): phone and server compute the same due time, and the writer
//! of the event that starts a clock records it in the case, so a later calendar change never
//! moves it. A year the calendar does not list follows plain Monday to Friday, and a deadline
//! that crosses one says so ([`Calendar::due_flagged`]).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;
use toml::Spanned;

use crate::taxonomy::TimeLimit;
use crate::tomlfile::{check_file, line_at, syntax};
use crate::vocab::Millis;
use crate::{Error, Result};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// A day as days since 1970-01-01 (local calendar date).
type Day = i64;

/// How often a level patrols (巡查): grid daily, village weekly, township fortnightly, county
/// monthly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cadence {
    Daily,
    Weekly,
    Fortnightly,
    Monthly,
}

impl Cadence {
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Fortnightly => "fortnightly",
            Cadence::Monthly => "monthly",
        }
    }
}

/// Working days, holidays and make-up days for the years a deployment knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    offset_ms: i64,
    years: BTreeSet<i32>,
    holidays: BTreeSet<Day>,
    workdays: BTreeSet<Day>,
    /// As the State Council notice lists them, for export and display.
    named: Vec<Holiday>,
}

/// One holiday of the notice: its days off and the weekend days worked to make up for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub name: String,
    /// `YYYY-MM-DD`, in file order.
    pub days: Vec<String>,
    pub workdays: Vec<String>,
}

/// The top-level keys of a calendar file besides `version`.
pub(crate) const CALENDAR_KEYS: [&str; 3] = ["utc_offset_minutes", "years", "holiday"];

/// A calendar file as written; every key may be absent so a rules file without a calendar
/// parses too. Unknown top-level keys are refused by the caller, which knows the file's kind.
#[derive(Deserialize)]
pub(crate) struct RawCalendar {
    pub utc_offset_minutes: Option<Spanned<i64>>,
    pub years: Option<Spanned<Vec<i32>>>,
    #[serde(default)]
    pub holiday: Vec<Spanned<RawHoliday>>,
}

impl RawCalendar {
    pub(crate) fn is_empty(&self) -> bool {
        self.utc_offset_minutes.is_none() && self.years.is_none() && self.holiday.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHoliday {
    name: String,
    days: Vec<Spanned<String>>,
    #[serde(default)]
    workdays: Vec<Spanned<String>>,
}

impl Calendar {
    /// The calendar shipped in `sync-core/calendar-2026.toml`.
    pub fn builtin() -> &'static Calendar {
        static BUILTIN: OnceLock<Calendar> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // Compiled in and checked by the tests below.
            Calendar::from_toml_str(include_str!("../calendar-2026.toml"))
                .expect("the shipped calendar-2026.toml is valid")
        })
    }

    /// Reads a deployment's calendar file.
    pub fn load(path: &Path) -> Result<Calendar> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Calendar(format!("cannot read {}: {e}", path.display())))?;
        Calendar::from_toml_str(&text)
            .map_err(|e| Error::Calendar(format!("{}: {e}", path.display())))
    }

    pub fn from_toml_str(text: &str) -> Result<Calendar> {
        let cal_err = |e: Error| match e {
            Error::Rules(msg) => Error::Calendar(msg),
            other => other,
        };
        check_file(text, "calendar", &CALENDAR_KEYS).map_err(cal_err)?;
        let raw: RawCalendar = toml::from_str(text).map_err(|e| cal_err(syntax(e)))?;
        Calendar::build(raw, text).map_err(cal_err)
    }

    /// Checks a parsed calendar file; errors (as [`Error::Rules`]) name the line in `text`.
    pub(crate) fn build(raw: RawCalendar, text: &str) -> Result<Calendar> {
        let at = |span: std::ops::Range<usize>, msg: String| {
            Error::Rules(format!("line {}: {msg}", line_at(text, span.start)))
        };
        let offset = raw
            .utc_offset_minutes
            .ok_or_else(|| Error::Rules("the calendar lacks utc_offset_minutes".into()))?;
        if !(-14 * 60..=14 * 60).contains(offset.get_ref()) {
            return Err(at(offset.span(), "utc_offset_minutes out of range".into()));
        }
        let years = raw.years.ok_or_else(|| {
            Error::Rules("the calendar lacks `years` (the years it covers)".into())
        })?;
        if let Some(y) = years.get_ref().iter().find(|y| !(1970..=9999).contains(*y)) {
            return Err(at(years.span(), format!("year {y} out of range")));
        }
        let mut cal = Calendar {
            offset_ms: offset.into_inner() * 60_000,
            years: years.into_inner().into_iter().collect(),
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            named: Vec::new(),
        };
        for h in raw.holiday {
            let span = h.span();
            let h = h.into_inner();
            if h.name.trim().is_empty() {
                return Err(at(span, "a [[holiday]] without a name".into()));
            }
            let mut named = Holiday {
                name: h.name.trim().to_owned(),
                days: Vec::new(),
                workdays: Vec::new(),
            };
            for (list, is_holiday) in [(&h.days, true), (&h.workdays, false)] {
                for s in list {
                    let bad = |msg: String| at(s.span(), format!("{}: {msg}", h.name));
                    let day = parse_date(s.get_ref()).ok_or_else(|| {
                        bad(format!("{:?} is not a date (YYYY-MM-DD)", s.get_ref()))
                    })?;
                    if !cal.years.contains(&year_of(day)) {
                        return Err(bad(format!(
                            "{} lies outside the years listed in `years`",
                            s.get_ref()
                        )));
                    }
                    let weekend = is_weekend(day);
                    if !is_holiday && !weekend {
                        return Err(bad(format!(
                            "make-up working day {} is not a Saturday or Sunday",
                            s.get_ref()
                        )));
                    }
                    let (set, other, names) = if is_holiday {
                        (&mut cal.holidays, &cal.workdays, &mut named.days)
                    } else {
                        (&mut cal.workdays, &cal.holidays, &mut named.workdays)
                    };
                    if other.contains(&day) {
                        return Err(bad(format!(
                            "{} is both a holiday and a make-up working day",
                            s.get_ref()
                        )));
                    }
                    set.insert(day);
                    names.push(format_date(day));
                }
            }
            cal.named.push(named);
        }
        Ok(cal)
    }

    /// The years whose holidays this calendar lists.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// The holidays, as the notices list them.
    pub fn holidays(&self) -> &[Holiday] {
        &self.named
    }

    /// This calendar with the years `other` lists taken from `other` (a newly published year,
    /// or a corrected one); the other years stay as they are.
    pub fn with_years_of(&self, other: &Calendar) -> Result<Calendar> {
        if other.offset_ms != self.offset_ms {
            return Err(Error::Rules(format!(
                "the new calendar's utc_offset_minutes ({}) differs from the one in force ({})",
                other.offset_ms / 60_000,
                self.offset_ms / 60_000
            )));
        }
        let replaced = |d: &Day| other.years.contains(&year_of(*d));
        let mut cal = self.clone();
        cal.years.extend(other.years.iter().copied());
        cal.holidays.retain(|d| !replaced(d));
        cal.workdays.retain(|d| !replaced(d));
        cal.holidays.extend(other.holidays.iter().copied());
        cal.workdays.extend(other.workdays.iter().copied());
        // A holiday belongs to the year of its first day off (元旦 may start in December).
        let first_year = |h: &Holiday| {
            h.days
                .first()
                .and_then(|d| parse_date(d))
                .map(year_of)
                .unwrap_or_default()
        };
        cal.named.retain(|h| !other.years.contains(&first_year(h)));
        cal.named.extend(other.named.iter().cloned());
        cal.named.sort_by_key(|h| h.days.first().cloned());
        if let Some(day) = cal.holidays.intersection(&cal.workdays).next() {
            return Err(Error::Rules(format!(
                "{} is both a holiday and a make-up working day",
                format_date(*day)
            )));
        }
        Ok(cal)
    }

    /// The calendar's top-level keys in the shipped file's format (without `version`); they
    /// go before any table of the file.
    pub fn toml_keys(&self) -> String {
        let years: Vec<String> = self.years.iter().map(i32::to_string).collect();
        format!(
            "utc_offset_minutes = {}\nyears = [{}]\n",
            self.offset_ms / 60_000,
            years.join(", ")
        )
    }

    /// The calendar's `[[holiday]]` tables in the shipped file's format.
    pub fn toml_tables(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let list = |v: &[String]| v.iter().map(|d| q(d)).collect::<Vec<_>>().join(", ");
        let mut out = String::new();
        for h in &self.named {
            out.push_str(&format!(
                "\n[[holiday]]\nname = {}\ndays = [{}]\n",
                q(&h.name),
                list(&h.days)
            ));
            if !h.workdays.is_empty() {
                out.push_str(&format!("workdays = [{}]\n", list(&h.workdays)));
            }
        }
        out
    }

    /// The year whose holidays are missing and soon needed at `at`: this year when the calendar
    /// lacks it, next year from 1 December on when it lacks that.
    pub fn missing_year(&self, at: Millis) -> Option<i32> {
        let (y, m, _) = civil_from_days(self.local_day(at));
        let year = y as i32;
        if !self.years.contains(&year) {
            Some(year)
        } else if m == 12 && !self.years.contains(&(year + 1)) {
            Some(year + 1)
        } else {
            None
        }
    }

    /// Whether the local date `day` is a working day.
    fn is_working(&self, day: Day) -> bool {
        if self.workdays.contains(&day) {
            true
        } else if self.holidays.contains(&day) {
            false
        } else {
            !is_weekend(day)
        }
    }

    /// Whether the instant `at` falls on a working day (local time).
    pub fn is_working_day(&self, at: Millis) -> bool {
        self.is_working(self.local_day(at))
    }

    /// Whether the calendar knows the holidays of the year `at` falls in.
    pub fn covers(&self, at: Millis) -> bool {
        self.years.contains(&year_of(self.local_day(at)))
    }

    /// When a clock started at `start` with `limit` runs out.
    pub fn due(&self, start: Millis, limit: TimeLimit) -> Millis {
        match limit {
            TimeLimit::Hours(h) => start.saturating_add(i64::from(h) * HOUR_MS),
            TimeLimit::WorkingDays(n) => {
                let mut day = self.local_day(start);
                let mut left = n;
                while left > 0 {
                    day += 1;
                    if self.is_working(day) {
                        left -= 1;
                    }
                }
                // The close of that day: the start of the next, local time.
                (day + 1) * DAY_MS - self.offset_ms
            }
        }
    }

    /// [`Calendar::due`], and whether the count crossed a year this calendar does not list
    /// (then weekends were the only days off, which may be wrong).
    pub fn due_flagged(&self, start: Millis, limit: TimeLimit) -> (Millis, bool) {
        let due = self.due(start, limit);
        let guessed = match limit {
            TimeLimit::Hours(_) => false,
            TimeLimit::WorkingDays(_) => {
                let first = year_of(self.local_day(start));
                let last = year_of(self.local_day(due - 1));
                (first..=last).any(|y| !self.years.contains(&y))
            }
        };
        (due, guessed)
    }

    fn local_day(&self, at: Millis) -> Day {
        (at + self.offset_ms).div_euclid(DAY_MS)
    }

    /// The local date of `at`, `YYYY-MM-DD`.
    pub fn local_date(&self, at: Millis) -> String {
        format_date(self.local_day(at))
    }

    /// The local date and time of `at`, `YYYY-MM-DD HH:MM`.
    pub fn local_date_time(&self, at: Millis) -> String {
        let minutes = (at + self.offset_ms).rem_euclid(DAY_MS) / 60_000;
        format!(
            "{} {:02}:{:02}",
            self.local_date(at),
            minutes / 60,
            minutes % 60
        )
    }

    /// The local date of the Monday starting the week `at` falls in, `YYYY-MM-DD`.
    pub fn week_start(&self, at: Millis) -> String {
        let day = self.local_day(at);
        // 1970-01-01 was a Thursday: (day + 3) mod 7 counts days since Monday.
        format_date(day - (day + 3).rem_euclid(7))
    }

    /// The period of `cadence` that `at` falls in, named by its first local day (`YYYY-MM-DD`).
    /// Fortnights are counted from Monday 1970-01-05, so they are the same whatever the window.
    pub fn period_start(&self, at: Millis, cadence: Cadence) -> String {
        let day = self.local_day(at);
        let monday = day - (day + 3).rem_euclid(7);
        let start = match cadence {
            Cadence::Daily => day,
            Cadence::Weekly => monday,
            Cadence::Fortnightly => monday - (monday - 4).div_euclid(7).rem_euclid(2) * 7,
            Cadence::Monthly => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
        };
        format_date(start)
    }

    /// Local midnights from the day of `from` up to (not including) `to`, one per day.
    pub fn days(&self, from: Millis, to: Millis) -> impl Iterator<Item = Millis> + '_ {
        let first = self.local_day(from) * DAY_MS - self.offset_ms;
        (0..)
            .map(move |i| first + i * DAY_MS)
            .take_while(move |d| *d < to)
    }

    /// The instant of local midnight starting `YYYY-MM-DD` (for tests and tools).
    pub fn local_midnight(&self, date: &str) -> Option<Millis> {
        parse_date(date).map(|d| d * DAY_MS - self.offset_ms)
    }
}

fn is_weekend(day: Day) -> bool {
    // 1970-01-01 was a Thursday: 0 = Thursday, so 2 = Saturday, 3 = Sunday.
    matches!(day.rem_euclid(7), 2 | 3)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: Day) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn year_of(day: Day) -> i32 {
    civil_from_days(day).0 as i32
}

fn parse_date(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let day = days_from_civil(y, m, d);
    // Refuses 2026-02-30 and friends: the date must survive the round trip.
    (civil_from_days(day) == (y, m, d)).then_some(day)
}

fn format_date(day: Day) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> &'static Calendar {
        Calendar::builtin()
    }

    /// Local time `date` at `hh:mm` China time.
    fn at(date: &str, hh: i64, mm: i64) -> Millis {
        cal().local_midnight(date).unwrap() + hh * HOUR_MS + mm * 60_000
    }

    #[test]
    fn dates_round_trip_and_weekdays_are_right() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(format_date(parse_date("2026-02-28").unwrap()), "2026-02-28");
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-2-3"), None);
        assert!(is_weekend(parse_date("2026-11-28").unwrap())); // a Saturday
        assert!(!is_weekend(parse_date("2026-11-27").unwrap())); // a Friday
    }

    #[test]
    fn one_working_day_from_friday_is_the_end_of_monday() {
        // Friday 2026-11-20, 15:00 → end of Monday 2026-11-23.
        let due = cal().due(at("2026-11-20", 15, 0), TimeLimit::WorkingDays(1));
        assert_eq!(due, at("2026-11-24", 0, 0));
        // Accepted on the Saturday: the same deadline.
        let due = cal().due(at("2026-11-21", 9, 0), TimeLimit::WorkingDays(1));
        assert_eq!(due, at("2026-11-24", 0, 0));
    }

    #[test]
    fn make_up_saturdays_count_and_holidays_do_not() {
        // Friday 2026-02-13 → the make-up Saturday 2026-02-14 is the next working day.
        let due = cal().due(at("2026-02-13", 10, 0), TimeLimit::WorkingDays(1));
        assert_eq!(due, at("2026-02-15", 0, 0));
        // From that Saturday, the Spring Festival (15th–23rd) is skipped: Tuesday the 24th.
        let due = cal().due(at("2026-02-14", 10, 0), TimeLimit::WorkingDays(1));
        assert_eq!(due, at("2026-02-25", 0, 0));
        // National Day: Wednesday 30 September + 3wd → 8th (Thu), 9th (Fri), 10th (make-up Sat).
        let due = cal().due(at("2026-09-30", 10, 0), TimeLimit::WorkingDays(3));
        assert_eq!(due, at("2026-10-11", 0, 0));
        assert!(cal().covers(at("2026-05-01", 0, 0)));
        assert!(!cal().covers(at("2027-05-01", 0, 0)));
    }

    #[test]
    fn weeks_start_on_monday_in_local_time() {
        // Sunday 2026-11-29 23:30 China time is still in the week of Monday the 23rd.
        assert_eq!(cal().week_start(at("2026-11-29", 23, 30)), "2026-11-23");
        assert_eq!(cal().week_start(at("2026-11-30", 0, 0)), "2026-11-30");
        assert_eq!(cal().local_date(at("2026-11-30", 0, 0)), "2026-11-30");
    }

    #[test]
    fn patrol_periods_are_days_weeks_fortnights_and_months() {
        let t = at("2026-11-26", 10, 0); // a Thursday
        assert_eq!(cal().period_start(t, Cadence::Daily), "2026-11-26");
        assert_eq!(cal().period_start(t, Cadence::Weekly), "2026-11-23");
        assert_eq!(cal().period_start(t, Cadence::Monthly), "2026-11-01");
        // Fortnights pair up weeks: the week before and this one, or this one and the next.
        let this = cal().period_start(t, Cadence::Fortnightly);
        let next_week = cal().period_start(t + 7 * DAY_MS, Cadence::Fortnightly);
        let prev_week = cal().period_start(t - 7 * DAY_MS, Cadence::Fortnightly);
        assert!(this == next_week || this == prev_week);
        assert_ne!(next_week, prev_week);
        assert_eq!(cal().days(t, t + 2 * DAY_MS).count(), 3);
    }

    #[test]
    fn hour_limits_count_clock_hours_through_weekends() {
        let due = cal().due(at("2026-11-20", 23, 30), TimeLimit::Hours(1));
        assert_eq!(due, at("2026-11-21", 0, 30));
    }

    #[test]
    fn bad_calendars_are_refused_with_the_reason() {
        let err = |t: &str| Calendar::from_toml_str(t).unwrap_err().to_string();
        let head = "version = 1\nutc_offset_minutes = 480\nyears = [2026]\n";
        assert!(
            err(&format!(
                "{head}[[holiday]]\nname = \"x\"\ndays = [\"2026-13-01\"]"
            ))
            .contains("not a date")
        );
        assert!(
            err(&format!(
                "{head}[[holiday]]\nname = \"x\"\ndays = [\"2027-01-01\"]"
            ))
            .contains("outside the years")
        );
        assert!(
            err(&format!(
                "{head}[[holiday]]\nname = \"x\"\ndays = []\nworkdays = [\"2026-11-24\"]"
            ))
            .contains("not a Saturday or Sunday")
        );
        assert!(err("version = 2\nutc_offset_minutes = 480").contains("version"));
    }
}
