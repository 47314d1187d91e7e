//! Date values of queries: a year, a month, a day or an instant, each the span it covers.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::time::parse_rfc3339;

/// The span a date value covers: a year, a month, a day, or one second for an instant.
pub fn date_span(value: &str) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let number = |s: &str| s.parse::<u32>().ok();
    let parts: Vec<&str> = value.split('-').collect();
    let day = |y: i32, m: u32, d: u32| {
        Date::from_calendar_date(
            y,
            Month::try_from(u8::try_from(m).ok()?).ok()?,
            u8::try_from(d).ok()?,
        )
        .ok()
    };
    let start_of = |date: Date| PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
    if value.len() >= 19
        && value
            .as_bytes()
            .get(10)
            .is_some_and(|b| *b == b'T' || *b == b' ')
    {
        let text = value.replacen(' ', "T", 1);
        let instant = parse_rfc3339(&text).or_else(|| {
            PrimitiveDateTime::parse(
                &text,
                &time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
            )
            .map(PrimitiveDateTime::assume_utc)
            .ok()
        })?;
        return Some((instant, instant + time::Duration::SECOND));
    }
    match parts.as_slice() {
        [y] if y.len() == 4 => {
            let year = i32::try_from(number(y)?).ok()?;
            Some((start_of(day(year, 1, 1)?), start_of(day(year + 1, 1, 1)?)))
        }
        [y, m] if y.len() == 4 && m.len() == 2 => {
            let year = i32::try_from(number(y)?).ok()?;
            let month = number(m)?;
            let start = day(year, month, 1)?;
            let next = if month == 12 {
                day(year + 1, 1, 1)?
            } else {
                day(year, month + 1, 1)?
            };
            Some((start_of(start), start_of(next)))
        }
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            let start = day(i32::try_from(number(y)?).ok()?, number(m)?, number(d)?)?;
            Some((start_of(start), start_of(start.next_day()?)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_values_cover_whole_periods() {
        let (start, end) = date_span("2023").unwrap();
        assert_eq!((start.year(), end.year()), (2023, 2024));
        let (start, end) = date_span("2023-12").unwrap();
        assert_eq!(
            (start.month(), end.month(), end.year()),
            (Month::December, Month::January, 2024)
        );
        let (start, end) = date_span("2023-06-15").unwrap();
        assert_eq!(end - start, time::Duration::DAY);
        let (start, end) = date_span("2023-06-15T10:00:00Z").unwrap();
        assert_eq!(end - start, time::Duration::SECOND);
        assert!(date_span("2023-02-30").is_none());
        assert!(date_span("yesterday").is_none());
    }
}
