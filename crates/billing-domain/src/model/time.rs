use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SubsecRound, Utc};

use super::InvalidValue;

/// An instant, kept to the millisecond (what MongoDB's BSON dates and our JSON carry).
pub type Timestamp = DateTime<Utc>;

/// Truncates to whole milliseconds, so a value survives a round trip through any store. A leap
/// second (`23:59:60.5`) becomes the instant the stores keep for it (the next second's
/// `00.5`), so it reads the same when created and when fetched.
pub fn to_millis_precision(t: Timestamp) -> Timestamp {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or_else(|| t.trunc_subsecs(3))
}

/// Years a date may have: RFC 3339 has four digits for the year, so an instant outside them
/// could not be written back in the form the API accepts.
fn in_range(t: Timestamp) -> Result<Timestamp, InvalidValue> {
    if (0..=9999).contains(&t.year()) {
        Ok(t)
    } else {
        Err(InvalidValue::new(
            "must be between years 0000 and 9999 (in UTC)",
        ))
    }
}

/// Parses a date from a client: RFC 3339 (`2025-10-01T09:15:00Z`, any offset), a date-time
/// without an offset (`2025-10-01T09:15:00`, taken as UTC), or a plain date (`2025-10-15`,
/// midnight UTC). The instant must fall in the years 0000-9999 once in UTC.
///
/// # Errors
/// When `raw` is none of those, or out of range.
pub fn parse_timestamp(raw: &str) -> Result<Timestamp, InvalidValue> {
    let shape = || {
        InvalidValue::new(
            "must be an RFC 3339 date-time (2025-10-01T09:15:00Z) or a date (2025-10-15)",
        )
    };
    // Four-digit years only: chrono also reads `+99999` and `-999`, which RFC 3339 has not.
    if raw.len() < 10 || !raw.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        return Err(shape());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return in_range(to_millis_precision(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return in_range(to_millis_precision(t.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && raw.len() == 10
        && let Some(midnight) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc());
    }
    Err(shape())
}

/// Milliseconds since the Unix epoch to a timestamp, in the years 0000-9999 as [`parse_timestamp`]'s.
///
/// # Errors
/// When `millis` falls outside those years.
pub fn timestamp_from_millis(millis: i64) -> Result<Timestamp, InvalidValue> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| InvalidValue::new("must be between years 0000 and 9999 (in UTC)"))
        .and_then(in_range)
}

/// The last instant [`in_range`] takes: 9999-12-31T23:59:59.999Z.
pub fn latest_timestamp() -> Timestamp {
    DateTime::from_timestamp_millis(LATEST_MILLIS).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

const LATEST_MILLIS: i64 = 253_402_300_799_999;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_taken_only_inside_the_years_0000_to_9999() {
        assert_eq!(
            timestamp_from_millis(LATEST_MILLIS).unwrap(),
            latest_timestamp()
        );
        assert_eq!(
            latest_timestamp().to_rfc3339(),
            "9999-12-31T23:59:59.999+00:00"
        );
        assert!(timestamp_from_millis(LATEST_MILLIS + 1).is_err());
        assert!(timestamp_from_millis(-62_167_219_200_000).is_ok());
        assert!(timestamp_from_millis(-62_167_219_200_001).is_err());
    }

    #[test]
    fn a_plain_date_means_midnight_utc() {
        let t = parse_timestamp("2025-10-15").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-10-15T00:00:00+00:00");
    }

    #[test]
    fn rfc3339_with_an_offset_is_converted_to_utc_and_truncated_to_millis() {
        let t = parse_timestamp("2025-10-01T09:15:00.123456-05:00").unwrap();
        assert_eq!(t.timestamp_millis() % 1000, 123);
        assert_eq!(t.to_rfc3339(), "2025-10-01T14:15:00.123+00:00");
    }

    #[test]
    fn a_date_time_without_an_offset_is_utc() {
        let t = parse_timestamp("2025-10-01T09:15:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-10-01T09:15:00+00:00");
        let t = parse_timestamp("2025-10-01T09:15:00.5").unwrap();
        assert_eq!(t.timestamp_millis() % 1000, 500);
    }

    #[test]
    fn dates_outside_years_0000_to_9999_are_refused_after_the_offset() {
        for bad in [
            "-999-01-01",
            "+99999-1-1",
            "9999-12-31T23:59:59.999-23:59",
            "10000-01-01",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad} should be refused");
        }
        assert!(parse_timestamp("9999-12-31T23:59:59.999Z").is_ok());
        assert!(parse_timestamp("0000-01-01T00:00:00Z").is_ok());
    }

    #[test]
    fn a_leap_second_is_the_instant_the_stores_keep() {
        let leap = parse_timestamp("2016-12-31T23:59:60.500Z").unwrap();
        let kept = timestamp_from_millis(leap.timestamp_millis()).unwrap();
        assert_eq!(leap, kept);
    }

    #[test]
    fn other_date_shapes_are_refused() {
        for bad in ["2025-13-01", "01/10/2025", "2025-10-1", "yesterday", ""] {
            assert!(parse_timestamp(bad).is_err(), "{bad} should be refused");
        }
    }
}
