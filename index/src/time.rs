//! RFC 3339 timestamps, as the catalog writes and reads them: build facts, freshness, ledger
//! entries, STAC items and query dates.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

/// `instant` in RFC 3339 (`2023-06-15T10:00:00Z` in UTC, with a fraction when it has one);
/// `None` for a year RFC 3339 cannot write (before 0 or after 9999).
pub fn rfc3339(instant: OffsetDateTime) -> Option<String> {
    instant.format(&Rfc3339).ok()
}

/// Seconds since the Unix epoch in RFC 3339, UTC; `None` beyond the years RFC 3339 writes.
pub fn rfc3339_from_seconds(seconds: i64) -> Option<String> {
    rfc3339(OffsetDateTime::from_unix_timestamp(seconds).ok()?)
}

/// The time now in RFC 3339, UTC, to the nanosecond: two builds a second apart differ.
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc()).expect("the current year is one RFC 3339 writes")
}

/// Reads an RFC 3339 timestamp.
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_rfc3339() {
        assert_eq!(
            rfc3339_from_seconds(1_686_823_200).as_deref(),
            Some("2023-06-15T10:00:00Z")
        );
        assert_eq!(rfc3339_from_seconds(i64::MAX), None);
        assert_eq!(rfc3339_from_seconds(-62_198_755_200), None);
        let now = now_rfc3339();
        let read = parse_rfc3339(&now).unwrap();
        assert_eq!(rfc3339(read).as_deref(), Some(now.as_str()));
        assert!(parse_rfc3339("2023-06-15").is_none());
        assert_eq!(
            parse_rfc3339("2023-06-15T12:00:00+02:00").map(|t| t.unix_timestamp()),
            Some(1_686_823_200)
        );
    }
}
