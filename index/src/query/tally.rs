//! Queries whose totals the segments' totals files can answer (see [`crate::totals`]): exact
//! values of keyword columns and whole months of the sensing date, all of them together.

use std::ops::{Bound, Range};

use tantivy::query::{EnableScoring, Query, Weight};
use tantivy::Term;
use time::{OffsetDateTime, Time};

use super::compile::{date_bounds, keyword_term};
use super::{Node, QueryError, Value};
use crate::fields::{self, FieldKind};
use crate::totals::{keyword_position, month_index, Tally};

/// A query that matches as its inner query does, and whose totals are those of its [`Tally`].
#[derive(Debug)]
pub struct Tallied {
    query: Box<dyn Query>,
    tally: Tally,
}

impl Clone for Tallied {
    fn clone(&self) -> Self {
        Tallied {
            query: self.query.box_clone(),
            tally: self.tally.clone(),
        }
    }
}

impl Query for Tallied {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        self.query.weight(enable_scoring)
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.query.query_terms(visitor);
    }
}

impl Tallied {
    /// `query`, marked with the tally of `node` when it has one.
    pub(super) fn wrap(query: Box<dyn Query>, node: &Node) -> Result<Box<dyn Query>, QueryError> {
        Ok(match tally(node)? {
            Some(tally) => Box::new(Tallied { query, tally }),
            None => query,
        })
    }

    pub(crate) fn tally(&self) -> &Tally {
        &self.tally
    }
}

/// The tally of a clause or a conjunction of clauses, each an exact keyword column value or a
/// date range of whole months; `None` for any other query.
fn tally(node: &Node) -> Result<Option<Tally>, QueryError> {
    let clauses = match node {
        Node::And(all) => all.as_slice(),
        Node::Clause { .. } => std::slice::from_ref(node),
        _ => return Ok(None),
    };
    let mut tally = Tally {
        keywords: Vec::new(),
        months: None,
    };
    for clause in clauses {
        let Node::Clause {
            field: Some(name),
            value,
        } = clause
        else {
            return Ok(None);
        };
        let Some(field) = fields::field(name) else {
            return Ok(None);
        };
        match (field.kind, value) {
            (FieldKind::Keyword, Value::Exact(value)) => {
                let Some(position) = keyword_position(field.name) else {
                    return Ok(None);
                };
                tally.keywords.push((position, keyword_term(field, value)?));
            }
            (FieldKind::Date, _) if field.name == fields::DATE.name => {
                let Some(months) = whole_months(date_bounds(name, value)?) else {
                    return Ok(None);
                };
                let within = tally.months.unwrap_or(Tally::ANY_MONTH);
                tally.months = Some(months.start.max(within.start)..months.end.min(within.end));
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(tally))
}

/// The months of [`month_index`] from `low` to `high`, when both are the start of a month
/// (or open) within the years tantivy's dates hold; `None` otherwise.
fn whole_months((low, high): (Bound<OffsetDateTime>, Bound<OffsetDateTime>)) -> Option<Range<i32>> {
    let month = |instant: OffsetDateTime| {
        let start = instant.day() == 1 && instant.time() == Time::MIDNIGHT;
        (start && (1678..=2261).contains(&instant.year())).then(|| month_index(instant.date()))
    };
    let start = match low {
        Bound::Unbounded => Tally::ANY_MONTH.start,
        Bound::Included(low) => month(low)?,
        Bound::Excluded(_) => return None,
    };
    let end = match high {
        Bound::Unbounded => Tally::ANY_MONTH.end,
        Bound::Excluded(high) => month(high)?,
        Bound::Included(_) => return None,
    };
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn tally_of(text: &str) -> Option<Tally> {
        tally(&parse(text).unwrap()).unwrap()
    }

    fn keyword(name: &str, value: &str) -> (usize, String) {
        (keyword_position(name).unwrap(), value.to_string())
    }

    #[test]
    fn keywords_and_whole_months_are_tallied() {
        assert_eq!(
            tally_of("sat:S2A AND product:msil1c AND date:2019"),
            Some(Tally {
                keywords: vec![keyword("sat", "s2a"), keyword("product", "msil1c")],
                months: Some(2019 * 12..2020 * 12),
            })
        );
        assert_eq!(
            tally_of("date:[2018-02 TO 2019-01] AND date:>=2018-06"),
            Some(Tally {
                keywords: vec![],
                months: Some(2018 * 12 + 5..2019 * 12 + 1),
            })
        );
        assert_eq!(
            tally_of("state:tape"),
            Some(Tally {
                keywords: vec![keyword("state", "tape")],
                months: None,
            })
        );
        assert_eq!(tally_of("date:*").unwrap().months, Some(Tally::ANY_MONTH));
    }

    #[test]
    fn other_queries_are_not_tallied() {
        for text in [
            "date:2019-03-15",
            "date:>2019-03-15T10:00:00Z",
            "tile:T60WWV AND date:2019",
            "sat:S2A OR sat:S2B",
            "NOT sat:S2A",
            "sat:S2*",
            "sat:[S2A TO S2B]",
            "size:>1000",
            "S2A",
            "date:1500",
        ] {
            assert_eq!(tally_of(text), None, "{text}");
        }
    }
}
