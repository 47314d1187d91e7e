//! A [`Node`] tree into a tantivy query over the catalog schema, each clause by the rules of
//! its field in the field table.

use std::ops::Bound;

use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DateTime, DocId, SegmentReader, Term};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::conjunction::{Conjunction, KeywordCheck};
use super::dates::date_span;
use super::glob::glob_to_regex;
use super::limits::check_limits;
use super::tally::Tallied;
use super::{error, last_line, parse, Node, QueryError, Value};
use crate::fields::{self, FieldDef, FieldKind, QueryRule};
use crate::schema::{calendar_term, CatalogSchema, Period};

/// Turns query text into a tantivy query over the catalog schema.
pub fn compile(text: &str, schema: &CatalogSchema) -> Result<Box<dyn Query>, QueryError> {
    compile_node(&parse(text)?, schema)
}

/// Turns a query tree into a tantivy query over the catalog schema, with the checks and limits
/// of query text: unknown fields, values a field does not take, depth, clauses and globs each
/// give a [`QueryError`].
pub fn compile_node(node: &Node, schema: &CatalogSchema) -> Result<Box<dyn Query>, QueryError> {
    check_limits(node)?;
    Tallied::wrap(to_query(node, schema)?, node)
}

fn to_query(node: &Node, schema: &CatalogSchema) -> Result<Box<dyn Query>, QueryError> {
    match node {
        Node::And(all) => {
            let mut clauses = Vec::with_capacity(all.len());
            let mut leads = Vec::new();
            let mut checks = Vec::new();
            for child in all {
                match child {
                    Node::Not(inner) => clauses.push((Occur::MustNot, to_query(inner, schema)?)),
                    _ => match keyword_check(child, schema)? {
                        Some(check) => checks.push(check),
                        None => leads.push(to_query(child, schema)?),
                    },
                }
            }
            if checks.is_empty() {
                clauses.extend(leads.into_iter().map(|lead| (Occur::Must, lead)));
            } else {
                clauses.push((Occur::Must, Box::new(Conjunction { leads, checks })));
            }
            if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Ok(Box::new(BooleanQuery::new(clauses)))
        }
        Node::Or(any) => {
            // Globs over paths and names become one pattern, so the path dictionary is read
            // once however many there are (a STAC search for 50 ids makes 50 of them).
            let mut globs = Vec::new();
            let mut others = Vec::new();
            for child in any {
                match path_regex(child) {
                    Some(pattern) => globs.push((child, pattern)),
                    None => others.push(child),
                }
            }
            let mut clauses = Vec::with_capacity(others.len() + 1);
            if globs.len() > 1 {
                let patterns: Vec<&str> = globs.iter().map(|(_, p)| p.as_str()).collect();
                let pattern = format!("(?:{})", patterns.join("|"));
                clauses.push((Occur::Should, path_query(glob_matcher(&pattern)?)));
            } else {
                others.extend(globs.into_iter().map(|(child, _)| child));
            }
            for child in others {
                clauses.push((Occur::Should, to_query(child, schema)?));
            }
            Ok(Box::new(BooleanQuery::new(clauses)))
        }
        Node::Not(inner) => Ok(Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery)),
            (Occur::MustNot, to_query(inner, schema)?),
        ]))),
        Node::Clause { field, value } => {
            clause_query(field.as_deref().unwrap_or(fields::NAME.name), value, schema)
        }
    }
}

fn regex_query(pattern: &str, field: Field) -> Result<Box<dyn Query>, QueryError> {
    RegexQuery::from_pattern(pattern, field)
        .map(|q| Box::new(q) as Box<dyn Query>)
        .or_else(|e| error(format!("bad glob: {}", last_line(&e))))
}

/// Which paths a path clause accepts.
#[derive(Debug, Clone)]
enum PathMatcher {
    Exact(String),
    Pattern(regex::bytes::Regex),
}

/// Matches documents by their path column: the clause is resolved once per segment against the
/// sorted path dictionary, then each candidate document is one column lookup.
fn path_query(matcher: PathMatcher) -> Box<dyn Query> {
    let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
        let column = segment.fast_fields().str(fields::PATH.name)?;
        // One bit per path, not a byte: at 3×10^8 paths a pattern's set is 36 MiB, not 286.
        let mut accepted = BitSet::with_max_value(0);
        if let Some(column) = &column {
            let dictionary = column.dictionary();
            let terms = u32::try_from(dictionary.num_terms()).expect("tantivy counts docs in u32");
            accepted = BitSet::with_max_value(terms);
            match &matcher {
                PathMatcher::Exact(path) => {
                    if let Some(ord) = dictionary.term_ord(path)? {
                        accepted.insert(ord as u32);
                    }
                }
                PathMatcher::Pattern(pattern) => {
                    let mut terms = dictionary.stream()?;
                    while terms.advance() {
                        if pattern.is_match(terms.key()) {
                            accepted.insert(terms.term_ord() as u32);
                        }
                    }
                }
            }
        }
        let ords = column.map(|c| c.ords().clone());
        Ok(move |doc: DocId| {
            ords.as_ref()
                .and_then(|ords| ords.first(doc))
                .is_some_and(|ord| accepted.contains(ord as u32))
        })
    });
    Box::new(DocPredicateQuery::from(predicate))
}

/// The pattern over whole paths of a glob on `path` (where `*` crosses `/`) or on `name` (the
/// last component, where it does not).
fn glob_regex(kind: FieldKind, glob: &str) -> String {
    match kind {
        FieldKind::Name => format!("(?:.*/)?{}", glob_to_regex(glob, "[^/]*")),
        _ => glob_to_regex(glob, ".*"),
    }
}

/// The path pattern of a glob clause on `path` or `name`; `None` for any other node.
fn path_regex(node: &Node) -> Option<String> {
    let Node::Clause {
        field,
        value: Value::Glob(glob),
    } = node
    else {
        return None;
    };
    let kind = match field.as_deref() {
        None => FieldKind::Name,
        Some(name) if name == fields::NAME.name => FieldKind::Name,
        Some(name) if name == fields::PATH.name => FieldKind::Path,
        Some(_) => return None,
    };
    Some(glob_regex(kind, glob))
}

fn glob_matcher(regex: &str) -> Result<PathMatcher, QueryError> {
    regex::bytes::Regex::new(&format!("^{regex}$"))
        .map(PathMatcher::Pattern)
        .or_else(|e| error(format!("bad glob: {}", last_line(&e))))
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

fn clause_query(
    name: &str,
    value: &Value,
    schema: &CatalogSchema,
) -> Result<Box<dyn Query>, QueryError> {
    let Some((field, handle)) = schema.fields().find(|(field, _)| field.name == name) else {
        return error(format!("unknown field '{name}'"));
    };
    match (field.kind, value) {
        // Every document has a path, and so a name.
        (FieldKind::Path | FieldKind::Name, Value::Exists) => Ok(Box::new(AllQuery)),
        (FieldKind::Path | FieldKind::Name, Value::Glob(v)) => {
            Ok(path_query(glob_matcher(&glob_regex(field.kind, v))?))
        }
        (FieldKind::Path, Value::Exact(v)) => Ok(path_query(PathMatcher::Exact(v.clone()))),
        (FieldKind::Name, Value::Exact(v)) => {
            let tokens = CatalogSchema::name_tokens(v);
            if tokens.is_empty() {
                return error(format!("'{v}' holds no letters or digits to search for"));
            }
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = tokens
                .iter()
                .map(|t| (Occur::Must, term_query(Term::from_field_text(handle, t))))
                .collect();
            Ok(if clauses.len() == 1 {
                clauses.remove(0).1
            } else {
                Box::new(BooleanQuery::new(clauses))
            })
        }
        (FieldKind::Path | FieldKind::Name, Value::Range(..)) => {
            error(format!("{name} takes a value or a glob, not a range"))
        }
        (FieldKind::Keyword, _) => keyword_query(field, handle, value),
        (FieldKind::Number, _) => number_query(field, handle, value),
        (FieldKind::Date, _) => date_query(name, handle, schema.calendar(name), value),
    }
}

/// Lowercases a keyword value and adds the letter users often leave out (of tiles and
/// baselines): see [`QueryRule::LeadingLetter`].
fn normalize_keyword(field: &FieldDef, value: &str) -> String {
    let lower = value.to_lowercase();
    match field.rule {
        QueryRule::LeadingLetter {
            letter,
            len,
            digits,
        } if lower.len() == len && lower.bytes().take(digits).all(|b| b.is_ascii_digit()) => {
            format!("{}{lower}", letter.to_ascii_lowercase())
        }
        _ => lower,
    }
}

/// The term of an exact keyword value: normalized, and checked against the values the field
/// takes.
pub(super) fn keyword_term(field: &FieldDef, value: &str) -> Result<String, QueryError> {
    let value = normalize_keyword(field, value);
    if let QueryRule::OneOf(allowed) = field.rule {
        if !allowed.contains(&value.as_str()) {
            let allowed: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
            return error(format!(
                "{} is {}, not '{value}'",
                field.name,
                allowed.join(" or ")
            ));
        }
    }
    Ok(value)
}

/// An exact value of a keyword that is also a column, as a member of a conjunction may check
/// it; `None` for any other node.
fn keyword_check(node: &Node, schema: &CatalogSchema) -> Result<Option<KeywordCheck>, QueryError> {
    let Node::Clause {
        field: Some(name),
        value: Value::Exact(value),
    } = node
    else {
        return Ok(None);
    };
    let Some((field, handle)) = schema.fields().find(|(field, _)| field.name == name) else {
        return Ok(None);
    };
    if field.kind != FieldKind::Keyword || !field.column {
        return Ok(None);
    }
    Ok(Some(KeywordCheck {
        name: field.name,
        handle,
        value: keyword_term(field, value)?,
    }))
}

fn keyword_query(
    field: &FieldDef,
    handle: Field,
    value: &Value,
) -> Result<Box<dyn Query>, QueryError> {
    match value {
        Value::Glob(v) => regex_query(&glob_to_regex(&v.to_lowercase(), ".*"), handle),
        Value::Exists => regex_query(".*", handle),
        Value::Exact(v) => Ok(term_query(Term::from_field_text(
            handle,
            &keyword_term(field, v)?,
        ))),
        Value::Range(low, high) => {
            let term = |v: &String| Term::from_field_text(handle, &normalize_keyword(field, v));
            let low = match low.as_ref().map(term) {
                // A range names its field through its bounds: an open one starts at "".
                Bound::Unbounded => Bound::Included(Term::from_field_text(handle, "")),
                bound => bound,
            };
            Ok(Box::new(RangeQuery::new(low, high.as_ref().map(term))))
        }
    }
}

/// Reads a number: see [`QueryRule::NumberAfter`] and [`QueryRule::Bytes`].
fn parse_number(field: &FieldDef, value: &str) -> Result<u64, QueryError> {
    let text = match field.rule {
        QueryRule::NumberAfter(letter) => {
            value.trim_start_matches(|c: char| c.eq_ignore_ascii_case(&letter))
        }
        _ => value,
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let not_a_number = || QueryError {
        problem: format!("{} takes a whole number, not '{value}'", field.name),
    };
    let multiplier: u64 = match (field.rule, unit.to_ascii_lowercase().as_str()) {
        (_, "") => 1,
        (QueryRule::Bytes, "k" | "kb") => 1_000,
        (QueryRule::Bytes, "m" | "mb") => 1_000_000,
        (QueryRule::Bytes, "g" | "gb") => 1_000_000_000,
        (QueryRule::Bytes, "t" | "tb") => 1_000_000_000_000,
        (QueryRule::Bytes, "kib") => 1 << 10,
        (QueryRule::Bytes, "mib") => 1 << 20,
        (QueryRule::Bytes, "gib") => 1 << 30,
        (QueryRule::Bytes, "tib") => 1 << 40,
        _ => return Err(not_a_number()),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(not_a_number)
}

fn number_query(
    field: &FieldDef,
    handle: Field,
    value: &Value,
) -> Result<Box<dyn Query>, QueryError> {
    match value {
        Value::Glob(v) => not_a_glob(field.name, v),
        Value::Exists => Ok(Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_u64(handle, 0)),
            Bound::Unbounded,
        ))),
        // An exact value is a one-value range: sizes have no term index, only a column.
        Value::Exact(v) => {
            let term = Term::from_field_u64(handle, parse_number(field, v)?);
            Ok(Box::new(RangeQuery::new(
                Bound::Included(term.clone()),
                Bound::Included(term),
            )))
        }
        Value::Range(low, high) => {
            let term = |v: &String| parse_number(field, v).map(|n| Term::from_field_u64(handle, n));
            let low = match map_bound(low, term)? {
                // A range names its field through its bounds: an open one starts at zero.
                Bound::Unbounded => Bound::Included(Term::from_field_u64(handle, 0)),
                bound => bound,
            };
            Ok(Box::new(RangeQuery::new(low, map_bound(high, term)?)))
        }
    }
}

fn not_a_glob<T>(name: &str, glob: &str) -> Result<T, QueryError> {
    error(format!(
        "{name} takes a value or a range, not a glob ('{glob}')"
    ))
}

fn map_bound<T>(
    bound: &Bound<String>,
    f: impl Fn(&String) -> Result<T, QueryError>,
) -> Result<Bound<T>, QueryError> {
    Ok(match bound {
        Bound::Included(v) => Bound::Included(f(v)?),
        Bound::Excluded(v) => Bound::Excluded(f(v)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// The instants a date clause takes, from a start (inclusive) to an end (exclusive).
type DateBounds = (Bound<OffsetDateTime>, Bound<OffsetDateTime>);

fn date_query(
    name: &str,
    field: Field,
    calendar: Option<Field>,
    value: &Value,
) -> Result<Box<dyn Query>, QueryError> {
    // Dates beyond tantivy's (nanoseconds in an i64: 1677 to 2262) hold to its ends.
    let term = |t: OffsetDateTime| {
        let nanos = t.unix_timestamp().saturating_mul(1_000_000_000);
        Term::from_field_date(field, DateTime::from_timestamp_nanos(nanos))
    };
    let (low, high) = date_bounds(name, value)?;
    if let (Some(calendar), Bound::Included(low), Bound::Excluded(high)) = (calendar, low, high) {
        if let Some(query) = calendar_query(calendar, low, high, &term) {
            return Ok(query);
        }
    }
    let low = match low {
        // A range names its field through its bounds: an open one starts at the earliest date.
        Bound::Unbounded => Bound::Included(Term::from_field_date(field, DateTime::MIN)),
        bound => bound.map(term),
    };
    Ok(Box::new(RangeQuery::new(low, high.map(term))))
}

/// What a date clause of the field `name` takes. Every bound becomes inclusive-start /
/// exclusive-end so that a day, month or year counts whole: `<=2023-06` takes all of June,
/// `>2023-06` starts in July.
pub(super) fn date_bounds(name: &str, value: &Value) -> Result<DateBounds, QueryError> {
    let span = |v: &String| {
        date_span(v).ok_or_else(|| QueryError {
            problem: format!("{name} takes a date such as 2023, 2023-06, 2023-06-15 or 2023-06-15T10:00:00Z, not '{v}'"),
        })
    };
    Ok(match value {
        Value::Glob(v) => return not_a_glob(name, v),
        Value::Exists => (Bound::Unbounded, Bound::Unbounded),
        Value::Exact(v) => {
            let (start, end) = span(v)?;
            (Bound::Included(start), Bound::Excluded(end))
        }
        Value::Range(low, high) => {
            let low = match low {
                Bound::Included(v) => Bound::Included(span(v)?.0),
                Bound::Excluded(v) => Bound::Included(span(v)?.1),
                Bound::Unbounded => Bound::Unbounded,
            };
            let high = match high {
                Bound::Included(v) => Bound::Excluded(span(v)?.1),
                Bound::Excluded(v) => Bound::Excluded(span(v)?.0),
                Bound::Unbounded => Bound::Unbounded,
            };
            (low, high)
        }
    })
}

/// The range `[low, high)` through the calendar terms of its field: each whole year, month
/// and day inside it by its term, and a partial day at either end by that day's term and the
/// range on the column. A range on the column alone tests every document of the index (some
/// 10^8); the terms' documents are those of the range, plus at most two days' worth. `None`
/// when the range lies beyond tantivy's dates or would take more than `MAX_TERMS` terms.
fn calendar_query(
    calendar: Field,
    low: OffsetDateTime,
    high: OffsetDateTime,
    column_term: &dyn Fn(OffsetDateTime) -> Term,
) -> Option<Box<dyn Query>> {
    const MAX_TERMS: usize = 256;
    let supported = 1678..=2261;
    if low >= high || !supported.contains(&low.year()) || !supported.contains(&high.year()) {
        return None;
    }
    let midnight = |date: Date| PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
    let period = |date: Date, period: Period| -> Box<dyn Query> {
        term_query(Term::from_field_text(
            calendar,
            &calendar_term(date, period),
        ))
    };
    let partial_day = |from: OffsetDateTime, to: OffsetDateTime| -> Box<dyn Query> {
        let range = RangeQuery::new(
            Bound::Included(column_term(from)),
            Bound::Excluded(column_term(to)),
        );
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, period(from.date(), Period::Day)),
            (Occur::Must, Box::new(range)),
        ]))
    };
    let mut pieces = Vec::new();
    let mut whole = low.date();
    if low != midnight(low.date()) {
        whole = low.date().next_day()?;
        pieces.push(partial_day(low, high.min(midnight(whole))));
    }
    let whole_end = high.date();
    while whole < whole_end {
        let next_year = Date::from_calendar_date(whole.year() + 1, Month::January, 1).ok()?;
        let next_month = {
            let (year, month) = match whole.month() {
                Month::December => (whole.year() + 1, Month::January),
                month => (whole.year(), month.next()),
            };
            Date::from_calendar_date(year, month, 1).ok()?
        };
        let (kind, next) = if whole.ordinal() == 1 && next_year <= whole_end {
            (Period::Year, next_year)
        } else if whole.day() == 1 && next_month <= whole_end {
            (Period::Month, next_month)
        } else {
            (Period::Day, whole.next_day()?)
        };
        pieces.push(period(whole, kind));
        whole = next;
        if pieces.len() > MAX_TERMS {
            return None;
        }
    }
    if high != midnight(high.date()) && high.date() >= whole {
        pieces.push(partial_day(low.max(midnight(high.date())), high));
    }
    Some(if pieces.len() == 1 {
        pieces.remove(0)
    } else {
        Box::new(BooleanQuery::new(
            pieces.into_iter().map(|q| (Occur::Should, q)).collect(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::escape_glob;
    use crate::query::limits::*;

    #[test]
    fn built_trees_are_checked_like_text() {
        let schema = CatalogSchema::new();
        let problem = |node: Node| {
            compile_node(&node, &schema)
                .map(|_| ())
                .unwrap_err()
                .problem
        };
        assert_eq!(problem(Node::exact("tiel", "x")), "unknown field 'tiel'");
        assert!(problem(Node::glob("orbit", "1*")).contains("not a glob"));
        assert!(problem(Node::exact("state", "lost")).contains("'disk' or 'tape'"));
        assert!(
            problem(Node::range("name", Bound::Unbounded, Bound::Unbounded))
                .contains("not a range")
        );
        let nots = |n: usize| (0..n).fold(Node::exists("orbit"), |node, _| !node);
        assert!(compile_node(&nots(MAX_TREE_DEPTH - 1), &schema).is_ok());
        assert!(problem(nots(MAX_TREE_DEPTH)).contains("deeper than"));
        // Far deeper than the limit, the check neither recurses nor overflows.
        assert!(problem(nots(10_000)).contains("deeper than"));
        let many = Node::any_of("sat", vec!["S2A"; MAX_CLAUSES + 1]);
        assert!(problem(many).contains("clauses"));
        let globs = Node::Or(vec![Node::glob("tile", "t*"); MAX_GLOBS + 1]);
        assert!(problem(globs).contains("globs"));
        for node in [
            Node::exists("tile"),
            Node::exists("path"),
            Node::exists("date"),
            Node::glob("name", escape_glob("a*b?[c]")),
            Node::glob("sat", escape_glob("S2[A*")),
        ] {
            assert!(compile_node(&node, &schema).is_ok(), "{node:?}");
        }
    }

    #[test]
    fn reports_errors_in_one_line() {
        for (query, needle) in [
            ("tiel:T60WWV", "unknown field 'tiel'"),
            ("(sat:S2A", "never closed"),
            ("sat:S2A)", "unmatched ')'"),
            ("", "empty"),
            ("orbit:[1 120]", "TO"),
            ("sat:", "no value"),
            ("\"abc", "never closed"),
        ] {
            let message = parse(query).unwrap_err().to_string();
            assert!(message.contains(needle), "{query}: {message}");
            assert!(message.contains("known fields: path, name"), "{message}");
            assert!(!message.contains('\n'));
        }
        let schema = CatalogSchema::new();
        for (query, needle) in [
            ("orbit:abc", "whole number"),
            ("date:2023-13", "takes a date"),
            ("state:lost", "disk"),
            ("name:[a TO b]", "not a range"),
            ("size:5parsecs", "whole number"),
            (
                "name:*[z-a]",
                "bad glob: error: invalid character class range",
            ),
        ] {
            let message = compile(query, &schema).expect_err(query).to_string();
            assert!(message.contains(needle), "{query}: {message}");
        }
    }

    #[test]
    fn control_characters_stay_on_one_line() {
        let message = compile("state:\"lo\nst\"", &CatalogSchema::new())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(message.contains("not 'lo\\nst'"), "{message}");
    }

    #[test]
    fn dates_beyond_the_index_range_hold_to_its_ends() {
        let schema = CatalogSchema::new();
        for query in [
            "date:0509",
            "date:>9998",
            "end:[0001 TO 9999-12-30]",
            "mtime:<1000-01",
        ] {
            assert!(compile(query, &schema).is_ok(), "{query}");
        }
    }

    #[test]
    fn keywords_are_normalized() {
        assert_eq!(normalize_keyword(&fields::TILE, "60WWV"), "t60wwv");
        assert_eq!(normalize_keyword(&fields::TILE, "T60WWV"), "t60wwv");
        assert_eq!(normalize_keyword(&fields::BASELINE, "0204"), "n0204");
        assert_eq!(normalize_keyword(&fields::SAT, "s2a"), "s2a");
        assert_eq!(parse_number(&fields::ORBIT, "R122").unwrap(), 122);
        assert_eq!(parse_number(&fields::SIZE, "1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_number(&fields::SIZE, "2KiB").unwrap(), 2048);
        assert!(parse_number(&fields::ORBIT, "1G").is_err());
        assert!(parse_number(&fields::SIZE, "99999999999999999999").is_err());
    }
}
