//! How fresh the index is: when it was last crawled and how long ago, as `catalog stats`,
//! `catalog query --max-age` and `catalog serve` tell it.

use catalog_index::layout::{BuildInfo, Freshness};
use catalog_index::time::{parse_rfc3339, rfc3339};
use catalog_index::Catalog;
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

/// When the index was last crawled whole, RFC 3339 UTC (see [`BuildInfo::crawled_at`]).
pub fn crawled_at(info: &BuildInfo) -> Option<String> {
    info.crawled_at().and_then(rfc3339)
}

/// Seconds since the index was last crawled, at `now`, to the millisecond.
pub fn age_seconds(info: &BuildInfo, now: OffsetDateTime) -> Option<f64> {
    info.age_seconds(now)
        .map(|seconds| (seconds * 1000.0).round() / 1000.0)
}

/// The state an answer reads: the commit it was built by, and when the index was last crawled.
/// `/search` and `/count` answers carry it.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerState {
    /// The build info's `built_at`: the commit the answer reads.
    pub indexed_at: String,
    /// [`crawled_at`].
    pub crawled_at: Option<String>,
}

impl AnswerState {
    /// The state of `catalog`.
    pub fn of(catalog: &Catalog) -> AnswerState {
        AnswerState {
            indexed_at: catalog.info().built_at.clone(),
            crawled_at: crawled_at(catalog.info()),
        }
    }
}

/// An age for people: `45s`, `12m 5s`, `3h 12m`, `2d 4h`.
pub fn human_age(seconds: f64) -> String {
    let seconds = seconds.max(0.0) as u64;
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {secs}s")
    } else {
        format!("{secs}s")
    }
}

/// An RFC 3339 time to the second, for text output; `-` when there is none.
pub fn display_time(time: Option<&str>) -> String {
    let Some(text) = time else {
        return "-".to_string();
    };
    parse_rfc3339(text)
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(rfc3339)
        .unwrap_or_else(|| text.to_string())
}

/// One collection of `catalog stats --json` and `/stats`: its name, its documents, and the
/// times it was last crawled, updated and re-`stat`ed (each left out when unknown, as in the
/// build's roots).
fn collection_json(name: &str, documents: u64, freshness: Option<&Freshness>) -> Value {
    let mut value = json!({"collection": name, "documents": documents});
    if let Some(Value::Object(times)) = freshness.and_then(|f| serde_json::to_value(f).ok()) {
        value.as_object_mut().expect("an object").extend(times);
    }
    value
}

/// What `catalog stats --json` prints and `/stats` answers, at `now`.
pub fn stats_json(catalog: &Catalog, collections: &[(String, u64)], now: OffsetDateTime) -> Value {
    let info = catalog.info();
    json!({
        "index": catalog.dir(),
        "documents": catalog.documents(),
        "bytes": catalog.size_on_disk(),
        "crawled_at": crawled_at(info),
        "age_seconds": age_seconds(info, now),
        "collections": collections
            .iter()
            .map(|(name, count)| collection_json(name, *count, info.collections.get(name)))
            .collect::<Vec<_>>(),
        "build": info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_their_two_largest_units() {
        assert_eq!(human_age(0.4), "0s");
        assert_eq!(human_age(45.0), "45s");
        assert_eq!(human_age(12.0 * 60.0 + 5.0), "12m 5s");
        assert_eq!(human_age(3.0 * 3600.0 + 12.0 * 60.0 + 59.0), "3h 12m");
        assert_eq!(human_age(2.0 * 86_400.0 + 4.0 * 3600.0), "2d 4h");
        assert_eq!(human_age(-3.0), "0s");
    }

    #[test]
    fn times_show_to_the_second_or_as_a_dash() {
        assert_eq!(
            display_time(Some("2026-06-01T10:00:00.123456789Z")),
            "2026-06-01T10:00:00Z"
        );
        assert_eq!(display_time(None), "-");
        assert_eq!(display_time(Some("yesterday")), "yesterday");
    }

    #[test]
    fn collections_carry_their_times_next_to_their_counts() {
        let freshness = Freshness {
            crawled_at: Some("2026-06-01T10:00:00Z".into()),
            updated_at: None,
            restat_at: Some("2026-05-01T10:00:00Z".into()),
        };
        assert_eq!(
            collection_json("s2a_prd_msil1c", 3, Some(&freshness)),
            json!({"collection": "s2a_prd_msil1c", "documents": 3,
                   "crawled_at": "2026-06-01T10:00:00Z", "restat_at": "2026-05-01T10:00:00Z"})
        );
        assert_eq!(
            collection_json("s1", 1, None),
            json!({"collection": "s1", "documents": 1})
        );
    }
}
