//! The STAC search request: read from GET parameters or a POST body and checked whole before
//! anything runs. Every parameter or member is either understood or refused by name: nothing
//! is ignored. `limit` above the maximum is taken as the maximum, as the STAC API asks.

use std::collections::HashMap;
use std::ops::Bound;

use catalog_index::search::SortKey;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::render::Fields;
use super::translate::{area, checked_bbox, datetime_interval};
use crate::serve::footprint::bbox_area;
use crate::serve::{MAX_COLLECTIONS, MAX_IDS, MAX_LIMIT};

/// The page size when none is asked.
const DEFAULT_LIMIT: usize = 10;
/// The only coordinate system filters take.
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// The parameters a search takes, in GET and POST alike (`q` is GET's short `catalog:q`).
const MEMBERS: &[&str] = &[
    "collections",
    "ids",
    "bbox",
    "intersects",
    "datetime",
    "limit",
    "token",
    "query",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "fields",
    "catalog:q",
];

/// The order of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

/// A checked search.
#[derive(Debug, Default)]
pub struct Search {
    pub collections: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    pub datetime: Option<(Bound<OffsetDateTime>, Bound<OffsetDateTime>)>,
    /// The area of `bbox` or `intersects`.
    pub area: Option<geo::Geometry<f64>>,
    pub limit: usize,
    /// Where the page starts, from the paging token.
    pub offset: usize,
    pub query: Option<Map<String, Value>>,
    pub filter: Option<cql2::Expr>,
    pub sort: Sort,
    pub fields: Option<Fields>,
    /// A catalog query, for what STAC cannot say.
    pub catalog_query: Option<String>,
}

/// The parameters of a query string, each given once: a second value is refused rather than
/// one of them dropped.
pub fn unique(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if params.contains_key(&name) {
            return Err(format!(
                "parameter '{name}' is given twice (lists are comma-separated)"
            ));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// The paging token of the page starting at `offset`.
pub fn token(offset: usize) -> String {
    format!("next:{offset}")
}

impl Search {
    /// Reads GET parameters; `path_collection` is the collection of `/collections/{id}/items`,
    /// which takes neither `collections` nor `ids`.
    pub fn from_params(
        params: &HashMap<String, String>,
        path_collection: Option<&str>,
    ) -> Result<Search, String> {
        let mut search = Search {
            limit: DEFAULT_LIMIT,
            ..Search::default()
        };
        let list = |text: &str| -> Vec<String> {
            text.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let json = |name: &str, text: &str| -> Result<Value, String> {
            serde_json::from_str(text).map_err(|e| format!("bad {name} parameter: {e}"))
        };
        let mut filter_lang = None;
        let mut filter_text = None;
        for (name, value) in params {
            let name = if name == "q" {
                "catalog:q"
            } else {
                name.as_str()
            };
            check_member(name, path_collection, "parameter")?;
            match name {
                "collections" => search.collections = Some(list(value)),
                "ids" => search.ids = Some(list(value)),
                "bbox" => {
                    let numbers = value
                        .split(',')
                        .map(|n| n.trim().parse::<f64>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| {
                            format!("bad bbox '{value}': it takes numbers separated by commas")
                        })?;
                    search.area = Some(bbox_area(checked_bbox(&numbers)?));
                }
                "intersects" => search.area = Some(area(&json(name, value)?)?),
                "datetime" => search.datetime = Some(datetime_interval(value)?),
                "limit" => {
                    let limit = value
                        .parse::<i64>()
                        .map_err(|_| format!("bad limit '{value}': it takes a whole number"))?;
                    search.limit = clamp_limit(limit)?;
                }
                "token" => search.offset = offset(value)?,
                "query" => match json(name, value)? {
                    Value::Object(query) => search.query = Some(query),
                    _ => return Err("the query parameter is a JSON object".into()),
                },
                "filter" => filter_text = Some(value.clone()),
                "filter-lang" => filter_lang = Some(value.clone()),
                "filter-crs" => check_crs(value)?,
                "sortby" => search.sort = sort_from_text(value)?,
                "fields" => search.fields = Some(fields_from_text(value)),
                "catalog:q" => search.catalog_query = Some(value.clone()),
                _ => unreachable!("check_member knows every member"),
            }
        }
        if params.contains_key("bbox") && params.contains_key("intersects") {
            return Err("bbox and intersects cannot be combined".into());
        }
        search.filter = match (filter_text, filter_lang.as_deref()) {
            (Some(text), None | Some("cql2-text")) => Some(parse_text_filter(&text)?),
            (Some(text), Some("cql2-json")) => Some(parse_json_filter(&json("filter", &text)?)?),
            (Some(_), Some(other)) => return Err(unsupported_lang(other)),
            (None, Some(_)) => return Err("filter-lang without a filter".into()),
            (None, None) => None,
        };
        search.finish(path_collection)
    }

    /// Reads a POST body; its members are handed back too, for the links that repeat it.
    pub fn from_body(body: &[u8]) -> Result<(Search, Map<String, Value>), String> {
        let body: Value =
            serde_json::from_slice(body).map_err(|e| format!("bad search body: {e}"))?;
        let Value::Object(body) = body else {
            return Err("a search body is a JSON object".into());
        };
        let mut search = Search {
            limit: DEFAULT_LIMIT,
            ..Search::default()
        };
        let mut filter_lang = None;
        let mut filter = None;
        for (name, value) in &body {
            check_member(name, None, "member")?;
            let wrong = |what: &str| format!("'{name}' takes {what}, not {value}");
            match name.as_str() {
                // A single collection is taken as a list of one, as clients send it so.
                "collections" | "ids" => {
                    let list = match value {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| wrong("a list of texts"))?,
                        _ => return Err(wrong("a list of texts")),
                    };
                    if name == "ids" {
                        search.ids = Some(list);
                    } else {
                        search.collections = Some(list);
                    }
                }
                "bbox" => {
                    let numbers = value
                        .as_array()
                        .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<_>>>())
                        .ok_or_else(|| wrong("a list of numbers"))?;
                    search.area = Some(bbox_area(checked_bbox(&numbers)?));
                }
                "intersects" => search.area = Some(area(value)?),
                "datetime" => {
                    let text = value.as_str().ok_or_else(|| wrong("a text"))?;
                    search.datetime = Some(datetime_interval(text)?);
                }
                "limit" => {
                    let limit = value.as_i64().ok_or_else(|| wrong("a whole number"))?;
                    search.limit = clamp_limit(limit)?;
                }
                "token" => search.offset = offset(value.as_str().ok_or_else(|| wrong("a text"))?)?,
                "query" => match value {
                    Value::Object(query) => search.query = Some(query.clone()),
                    _ => return Err(wrong("an object")),
                },
                "filter" => filter = Some(value.clone()),
                "filter-lang" => {
                    filter_lang = Some(value.as_str().ok_or_else(|| wrong("a text"))?.to_string())
                }
                "filter-crs" => check_crs(value.as_str().ok_or_else(|| wrong("a text"))?)?,
                "sortby" => search.sort = sort_from_json(value)?,
                "fields" => search.fields = Some(fields_from_json(value)?),
                "catalog:q" => {
                    search.catalog_query =
                        Some(value.as_str().ok_or_else(|| wrong("a text"))?.to_string())
                }
                _ => unreachable!("check_member knows every member"),
            }
        }
        if body.contains_key("bbox") && body.contains_key("intersects") {
            return Err("bbox and intersects cannot be combined".into());
        }
        search.filter = match (filter, filter_lang.as_deref()) {
            (Some(Value::String(text)), None | Some("cql2-text")) => {
                Some(parse_text_filter(&text)?)
            }
            (Some(json), None | Some("cql2-json")) => Some(parse_json_filter(&json)?),
            (Some(_), Some("cql2-text")) => return Err("a cql2-text filter is a text".into()),
            (Some(_), Some(other)) => return Err(unsupported_lang(other)),
            (None, Some(_)) => return Err("filter-lang without a filter".into()),
            (None, None) => None,
        };
        Ok((search.finish(None)?, body))
    }

    fn finish(mut self, path_collection: Option<&str>) -> Result<Search, String> {
        if let Some(fields) = &self.fields {
            fields.check()?;
        }
        if let Some(collection) = path_collection {
            self.collections = Some(vec![collection.to_string()]);
        }
        for (name, list, most) in [
            ("ids", &self.ids, MAX_IDS),
            ("collections", &self.collections, MAX_COLLECTIONS),
        ] {
            let given = list.as_ref().map_or(0, Vec::len);
            if given > most {
                return Err(format!(
                    "a search takes at most {most} {name} ({given} given)"
                ));
            }
        }
        Ok(self)
    }
}

fn check_member(name: &str, path_collection: Option<&str>, what: &str) -> Result<(), String> {
    if !MEMBERS.contains(&name) {
        return Err(format!(
            "unknown {what} '{name}' (a search takes {})",
            MEMBERS.join(", ")
        ));
    }
    if path_collection.is_some() && matches!(name, "collections" | "ids" | "intersects") {
        return Err(format!(
            "the items of a collection take no '{name}' (use /stac/search)"
        ));
    }
    Ok(())
}

fn clamp_limit(limit: i64) -> Result<usize, String> {
    if limit < 1 {
        return Err(format!(
            "limit is between 1 and {MAX_LIMIT} (a larger one is taken as {MAX_LIMIT}), not {limit}"
        ));
    }
    Ok(usize::try_from(limit).unwrap_or(MAX_LIMIT).min(MAX_LIMIT))
}

fn offset(token: &str) -> Result<usize, String> {
    token
        .strip_prefix("next:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad paging token '{token}'"))
}

fn check_crs(crs: &str) -> Result<(), String> {
    if crs == CRS84 {
        Ok(())
    } else {
        Err(format!(
            "unsupported filter-crs '{crs}': filters take {CRS84}"
        ))
    }
}

fn unsupported_lang(lang: &str) -> String {
    format!("unsupported filter-lang '{lang}': filters are cql2-text or cql2-json")
}

fn parse_text_filter(text: &str) -> Result<cql2::Expr, String> {
    cql2::parse_text(text).map_err(|e| format!("bad cql2-text filter: {e}"))
}

fn parse_json_filter(json: &Value) -> Result<cql2::Expr, String> {
    serde_json::from_value(json.clone()).map_err(|e| format!("bad cql2-json filter: {e}"))
}

/// The sort key of a property; the index sorts by sensing date and by size.
fn sort_key(field: &str) -> Result<SortKey, String> {
    match field.strip_prefix("properties.").unwrap_or(field) {
        "datetime" => Ok(SortKey::Date),
        "file:size" => Ok(SortKey::Size),
        other => Err(format!(
            "cannot sort by '{other}' (sortby takes datetime or file:size)"
        )),
    }
}

fn one_sort(fields: Vec<Sort>) -> Result<Sort, String> {
    match fields.as_slice() {
        [] => Ok(Sort::default()),
        [one] => Ok(*one),
        _ => Err("sortby takes one field".into()),
    }
}

/// `sortby=datetime`, `+datetime`, `-file:size`.
fn sort_from_text(text: &str) -> Result<Sort, String> {
    let fields = text
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (descending, field) = match f.as_bytes()[0] {
                b'-' => (true, &f[1..]),
                // A `+` that arrived unescaped in a query string is a space.
                b'+' | b' ' => (false, &f[1..]),
                _ => (false, f),
            };
            Ok(Sort {
                key: sort_key(field)?,
                descending,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    one_sort(fields)
}

/// `[{"field": "datetime", "direction": "desc"}]`.
fn sort_from_json(value: &Value) -> Result<Sort, String> {
    let Value::Array(fields) = value else {
        return Err("sortby takes a list of {field, direction}".into());
    };
    let fields = fields
        .iter()
        .map(|f| {
            let Value::Object(f) = f else {
                return Err("sortby takes a list of {field, direction}".to_string());
            };
            if let Some(other) = f.keys().find(|k| *k != "field" && *k != "direction") {
                return Err(format!("unknown sortby member '{other}'"));
            }
            let field = f
                .get("field")
                .and_then(Value::as_str)
                .ok_or("a sortby entry names its field")?;
            let descending = match f.get("direction").map(|d| d.as_str()) {
                None | Some(Some("asc")) => false,
                Some(Some("desc")) => true,
                Some(_) => return Err("sortby direction is asc or desc".into()),
            };
            Ok(Sort {
                key: sort_key(field)?,
                descending,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    one_sort(fields)
}

/// `fields=id,+properties.datetime,-geometry`; an empty value asks for the default set.
fn fields_from_text(text: &str) -> Fields {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for field in text.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match field.as_bytes()[0] {
            b'-' => exclude.push(field[1..].to_string()),
            b'+' | b' ' => include.push(field[1..].to_string()),
            _ => include.push(field.to_string()),
        }
    }
    let include = if include.is_empty() && !exclude.is_empty() {
        None
    } else {
        Some(include)
    };
    Fields { include, exclude }
}

/// `{"include": [...], "exclude": [...]}`, either null or left out.
fn fields_from_json(value: &Value) -> Result<Fields, String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "fields takes an object of include and exclude, not {value}"
        ));
    };
    if let Some(other) = fields.keys().find(|k| *k != "include" && *k != "exclude") {
        return Err(format!("unknown fields member '{other}'"));
    }
    let list = |name: &str| -> Result<Option<Vec<String>>, String> {
        match fields.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(Vec::new())),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| format!("fields {name} takes a list of texts")),
            Some(other) => Err(format!("fields {name} takes a list, not {other}")),
        }
    };
    // No include: the whole item; an empty or null one: the default set.
    let include = list("include")?;
    let exclude = list("exclude")?.unwrap_or_default();
    Ok(Fields { include, exclude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn refuses_what_it_does_not_know_by_name() {
        for (pairs, needle) in [
            (vec![("colour", "red")], "unknown parameter 'colour'"),
            (
                vec![
                    ("bbox", "0,0,1,1"),
                    ("intersects", r#"{"type":"Point","coordinates":[0,0]}"#),
                ],
                "cannot be combined",
            ),
            (vec![("datetime", "../..")], "at least one end"),
            (vec![("datetime", "/")], "at least one end"),
            (
                vec![(
                    "datetime",
                    "1986-04-12T23:20:50.52Z/1985-04-12T23:20:50.52Z",
                )],
                "starts after",
            ),
            (vec![("datetime", "1985-04-12")], "RFC 3339"),
            (vec![("datetime", "1985-04-12T23:20:50,52Z")], "RFC 3339"),
            (vec![("bbox", "100.0, 1.0, 105.0, 0.0")], "south"),
            (vec![("bbox", "[100.0, 0.0, 105.0, 1.0]")], "bad bbox"),
            (vec![("bbox", "0,0,0,1,1")], "4 (or 6)"),
            (vec![("limit", "-1")], "limit is between"),
            (
                vec![("sortby", "eo:cloud_cover")],
                "cannot sort by 'eo:cloud_cover'",
            ),
            (vec![("filter-lang", "cql2-text")], "without a filter"),
            (vec![("filter", "a =")], "bad cql2-text filter"),
            (
                vec![("filter-crs", "EPSG:4326"), ("filter", "id = 'x'")],
                "filter-crs",
            ),
        ] {
            let problem = Search::from_params(&params(&pairs), None).unwrap_err();
            assert!(problem.contains(needle), "{pairs:?}: {problem}");
        }
        for (body, needle) in [
            (r#"{"colour": 1}"#, "unknown member 'colour'"),
            (r#"{"fields": null}"#, "fields takes an object"),
            (
                r#"{"fields": {"only": []}}"#,
                "unknown fields member 'only'",
            ),
            (r#"{"bbox": "100.0, 0.0, 105.0, 1.0"}"#, "list of numbers"),
            (
                r#"{"sortby": [{"field": "datetime", "direction": "up"}]}"#,
                "asc or desc",
            ),
            (r#"{"limit": 1.5}"#, "whole number"),
        ] {
            let problem = Search::from_body(body.as_bytes()).unwrap_err();
            assert!(problem.contains(needle), "{body}: {problem}");
        }
        let twice = vec![
            ("ids".to_string(), "a".to_string()),
            ("ids".to_string(), "b".to_string()),
        ];
        assert!(unique(twice).unwrap_err().contains("'ids' is given twice"));
        let problem = Search::from_params(&params(&[("ids", "a")]), Some("c")).unwrap_err();
        assert!(problem.contains("take no 'ids'"), "{problem}");
    }

    #[test]
    fn takes_what_the_spec_allows() {
        for datetime in [
            "1985-04-12t23:20:50.000z",
            "1996-12-19T16:39:57-08:00",
            "../1985-04-12T23:20:50.52Z",
            "1985-04-12T23:20:50.52Z/",
            "2020-07-23T00:00:00.012345678Z",
        ] {
            let search = Search::from_params(&params(&[("datetime", datetime)]), None);
            assert!(search.is_ok(), "{datetime}: {search:?}");
        }
        let search = Search::from_params(&params(&[("limit", "1000000")]), None).unwrap();
        assert_eq!(search.limit, MAX_LIMIT);
        let search = Search::from_params(&params(&[("bbox", "170,0,-170,1")]), None).unwrap();
        assert!(search.area.is_some());
        let search =
            Search::from_params(&params(&[("sortby", "-properties.datetime")]), None).unwrap();
        assert_eq!(
            search.sort,
            Sort {
                key: SortKey::Date,
                descending: true
            }
        );
        let (search, _) = Search::from_body(br#"{"collections": "s2", "limit": 5}"#).unwrap();
        assert_eq!(search.collections, Some(vec!["s2".to_string()]));
        let search = Search::from_params(&params(&[("fields", "")]), None).unwrap();
        assert_eq!(
            search.fields,
            Some(Fields {
                include: Some(vec![]),
                exclude: vec![]
            })
        );
        let search = Search::from_params(&params(&[("fields", "-geometry")]), None).unwrap();
        assert_eq!(
            search.fields,
            Some(Fields {
                include: None,
                exclude: vec!["geometry".into()]
            })
        );
    }
}
