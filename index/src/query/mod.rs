//! The query language: Lucene-style syntax over the catalog's fields.
//!
//! `field:value`, `AND`/`OR`/`NOT` (terms side by side must all match), `-term`, parentheses,
//! `field:(a OR b)`, ranges `orbit:[100 TO 120]` (`{}` excludes the ends, `*` leaves one open),
//! comparisons `size:>1000000000`, globs `name:*_N0500_*`. A bare term searches the name
//! tokens. Keyword values ignore case; dates take a year, month, day or instant.
//!
//! Text is parsed into a [`Node`] tree, which is compiled into a tantivy query. Callers that
//! translate another language (STAC, CQL2) build the tree themselves and compile it with
//! [`compile_node`], under the same checks and limits as text.
//!
//! The parts: [`parse`] (text into a tree), [`compile`] and [`compile_node`] (a tree into a
//! tantivy query), [`limits`], globs and dates.

mod compile;
mod conjunction;
mod dates;
mod glob;
pub mod limits;
mod parse;
mod tally;

use std::ops::Bound;

pub use compile::{compile, compile_node};
pub(crate) use conjunction::keyword_ords;
pub use dates::date_span;
pub use glob::escape_glob;
use glob::is_glob;
pub use parse::parse;
pub use tally::Tallied;

use crate::fields::field_list;

/// A query that cannot be understood: the message names the problem and the known fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad query: {} (known fields: {})", one_line(problem), field_list())]
pub struct QueryError {
    /// What is wrong, in one phrase.
    pub problem: String,
}

/// A problem shown on one line: control characters from the query text (a quoted value may
/// hold a newline) are escaped.
fn one_line(problem: &str) -> String {
    problem
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The last line of a multi-line message (a regex syntax error ends with what is wrong).
pub(super) fn last_line(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().last().unwrap_or_default().trim().to_string()
}

pub(super) fn error<T>(problem: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError {
        problem: problem.into(),
    })
}

/// A query tree, before it is tied to an index: what [`parse`] makes of query text, and what
/// callers that translate another query language (STAC, CQL2) build directly, with the
/// constructors below, and compile with [`compile_node`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// All of these match; an empty list matches every file.
    And(Vec<Node>),
    /// Any of these matches; an empty list matches no file.
    Or(Vec<Node>),
    /// This does not match.
    Not(Box<Node>),
    /// A field (or the name tokens, when `None`) matches a value.
    Clause {
        /// The field named, if any.
        field: Option<String>,
        /// What it must match.
        value: Value,
    },
}

impl Node {
    /// `field` is exactly `value`; see [`Value::Exact`].
    pub fn exact(field: &str, value: impl Into<String>) -> Node {
        Node::clause(field, Value::Exact(value.into()))
    }

    /// `field` matches the glob `pattern`; see [`Value::Glob`].
    pub fn glob(field: &str, pattern: impl Into<String>) -> Node {
        Node::clause(field, Value::Glob(pattern.into()))
    }

    /// `field` lies between `low` and `high`; a comparison leaves one end unbounded
    /// (`orbit < 10` is `range("orbit", Unbounded, Excluded("10"))`).
    pub fn range(field: &str, low: Bound<String>, high: Bound<String>) -> Node {
        Node::clause(field, Value::Range(low, high))
    }

    /// `field` has a value.
    pub fn exists(field: &str) -> Node {
        Node::clause(field, Value::Exists)
    }

    /// `field` is any one of `values` (an `in` list): an [`Node::Or`] of exact values.
    pub fn any_of<V: Into<String>>(field: &str, values: impl IntoIterator<Item = V>) -> Node {
        Node::Or(values.into_iter().map(|v| Node::exact(field, v)).collect())
    }

    fn clause(field: &str, value: Value) -> Node {
        Node::Clause {
            field: Some(field.to_string()),
            value,
        }
    }
}

/// The value side of a clause. Values are written as in query text and read by the field's
/// rules: keywords ignore case and take a tile without its `T` or a baseline without its `N`,
/// orbits may keep their `R`, sizes take units (`1G`, `2KiB`), dates take a year, month, day or
/// instant, `state` is `disk` or `tape`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// One value, never a glob. On `name` it matches names holding all of its tokens; on every
    /// other field, that value. A date value covers its whole period (a day, a month...).
    Exact(String),
    /// An fnmatch glob (`*`, `?`, `[abc]`, `[!abc]`) over a path, name or keyword field; on
    /// `name` it covers the whole file name. See [`escape_glob`] for literal parts.
    Glob(String),
    /// A range; comparisons are ranges open at one end. On numbers, dates and keywords.
    Range(Bound<String>, Bound<String>),
    /// The field has a value (`*` on a number or date in query text).
    Exists,
}

/// `!node` does not match: a [`Node::Not`].
impl std::ops::Not for Node {
    type Output = Node;

    fn not(self) -> Node {
        Node::Not(Box::new(self))
    }
}
