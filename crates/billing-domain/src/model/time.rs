use chrono::{DateTime, NaiveDate, SubsecRound, Utc};

use super::InvalidValue;

/// An instant, kept to the millisecond (what MongoDB's BSON dates and our JSON carry).
pub type Timestamp = DateTime<Utc>;

/// Truncates to whole milliseconds, so a value survives a round trip through any store.
pub fn to_millis_precision(t: Timestamp) -> Timestamp {
    t.trunc_subsecs(3)
}

/// Parses a date from a client: RFC 3339 (`2025-10-01T09:15:00Z`, any offset), or a plain date
/// (`2025-10-15`), which means midnight UTC.
///
/// # Errors
/// When `raw` is neither.
pub fn parse_timestamp(raw: &str) -> Result<Timestamp, InvalidValue> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(to_millis_precision(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && raw.len() == 10
        && let Some(midnight) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc());
    }
    Err(InvalidValue::new(
        "must be an RFC 3339 date-time (2025-10-01T09:15:00Z) or a date (2025-10-15)",
    ))
}

/// Milliseconds since the Unix epoch to a timestamp.
///
/// # Errors
/// When `millis` is out of chrono's range.
pub fn timestamp_from_millis(millis: i64) -> Result<Timestamp, InvalidValue> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| InvalidValue::new("date out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn other_date_shapes_are_refused() {
        for bad in ["2025-13-01", "01/10/2025", "2025-10-1", "yesterday", ""] {
            assert!(parse_timestamp(bad).is_err(), "{bad} should be refused");
        }
    }
}
