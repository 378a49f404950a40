//! The deadline rule of Resolution 1344: responses are due one month before the Group's meeting.
//!
//! The rule is computed in Geneva time (the Secretariat's time zone), so the deadline is the end
//! of that calendar day in `Europe/Zurich`, whatever the season.

use jiff::{Timestamp, ToSpan, civil::Date, tz::TimeZone};

/// The Secretariat's time zone: every deadline is a Geneva wall-clock time.
pub const GENEVA: &str = "Europe/Zurich";

/// Geneva's time zone, from the tz database bundled into the binary (Lambda images may lack one).
pub fn geneva() -> TimeZone {
    // Looked up once: every row of every page shows a time (a lookup takes the database's lock).
    static ZONE: std::sync::LazyLock<TimeZone> = std::sync::LazyLock::new(|| {
        TimeZone::get(GENEVA).expect("the bundled tz database has Europe/Zurich")
    });
    ZONE.clone()
}

/// The calendar day on which responses are due: one calendar month before the meeting.
///
/// Month ends are clamped: a meeting on 31 March gives 28 (or 29) February.
pub fn deadline_day(meeting: Date) -> Date {
    // jiff clamps the day of month when the target month is shorter, which is exactly the rule.
    meeting
        .checked_sub(1.month())
        .expect("a meeting date one month after the minimum date")
}

/// The last instant at which a response is on time: 23:59:59.999 Geneva time on the deadline day.
pub fn deadline_for_meeting(meeting: Date) -> Timestamp {
    deadline_day(meeting)
        .at(23, 59, 59, 999_000_000)
        .to_zoned_datetime(geneva())
        .expect("the end of a day exists in Geneva (DST changes happen at night, not at midnight)")
        .timestamp()
}

/// `2027-02-28T23:59:59.999+01:00`: Geneva wall-clock time with its offset.
pub fn rfc3339_geneva(at: Timestamp) -> String {
    at.to_zoned_datetime(geneva())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// `28 February 2027, 23:59 Geneva time (UTC+01:00)`: for people.
pub fn human_geneva(at: Timestamp) -> String {
    at.to_zoned_datetime(geneva())
        .strftime("%-d %B %Y, %H:%M Geneva time (UTC%:z)")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn utc(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn one_calendar_month_before_the_meeting() {
        assert_eq!(deadline_day(date(2027, 6, 15)), date(2027, 5, 15));
        assert_eq!(deadline_day(date(2027, 1, 10)), date(2026, 12, 10));
    }

    #[test]
    fn month_ends_are_clamped() {
        assert_eq!(deadline_day(date(2027, 3, 31)), date(2027, 2, 28));
        assert_eq!(
            deadline_day(date(2028, 3, 31)),
            date(2028, 2, 29),
            "leap year"
        );
        assert_eq!(
            deadline_day(date(2100, 3, 29)),
            date(2100, 2, 28),
            "2100 is not leap"
        );
        assert_eq!(
            deadline_day(date(2000, 3, 30)),
            date(2000, 2, 29),
            "2000 is leap"
        );
        assert_eq!(deadline_day(date(2027, 5, 31)), date(2027, 4, 30));
        assert_eq!(deadline_day(date(2027, 12, 31)), date(2027, 11, 30));
    }

    #[test]
    fn end_of_day_in_geneva_winter_time() {
        // 28 February 2027: CET, UTC+1.
        assert_eq!(
            deadline_for_meeting(date(2027, 3, 31)),
            utc("2027-02-28T22:59:59.999Z")
        );
        assert_eq!(
            deadline_for_meeting(date(2028, 3, 31)),
            utc("2028-02-29T22:59:59.999Z")
        );
    }

    #[test]
    fn end_of_day_in_geneva_summer_time() {
        // 15 June 2027: CEST, UTC+2.
        assert_eq!(
            deadline_for_meeting(date(2027, 7, 15)),
            utc("2027-06-15T21:59:59.999Z")
        );
    }

    #[test]
    fn on_the_days_the_clocks_change() {
        // Summer time starts on 28 March 2027 at 02:00; the end of that day is already CEST.
        assert_eq!(
            deadline_for_meeting(date(2027, 4, 28)),
            utc("2027-03-28T21:59:59.999Z")
        );
        // Summer time ends on 25 October 2026 at 03:00; the end of that day is CET again.
        assert_eq!(
            deadline_for_meeting(date(2026, 11, 25)),
            utc("2026-10-25T22:59:59.999Z")
        );
        // The day before the change is still CEST.
        assert_eq!(
            deadline_for_meeting(date(2026, 11, 24)),
            utc("2026-10-24T21:59:59.999Z")
        );
    }

    #[test]
    fn across_a_year_boundary() {
        assert_eq!(
            deadline_for_meeting(date(2027, 1, 20)),
            utc("2026-12-20T22:59:59.999Z")
        );
    }

    #[test]
    fn geneva_formats() {
        let at: Timestamp = "2027-02-28T22:59:59.999Z".parse().unwrap();
        assert_eq!(rfc3339_geneva(at), "2027-02-28T23:59:59.999+01:00");
        assert_eq!(
            human_geneva(at),
            "28 February 2027, 23:59 Geneva time (UTC+01:00)"
        );
        let summer: Timestamp = "2027-06-15T21:59:59.999Z".parse().unwrap();
        assert_eq!(rfc3339_geneva(summer), "2027-06-15T23:59:59.999+02:00");
    }
}
