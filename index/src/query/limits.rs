//! The limits on one query, so that no text or tree costs more than a bounded parse and
//! search; a query beyond any of them is refused with a message naming the limit.

use super::{error, Node, QueryError, Value};

/// The longest query text, in bytes.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// The deepest nesting of parentheses and `NOT`/`-`/`!` taken together.
pub const MAX_DEPTH: usize = 64;
/// The most clauses (`field:value` terms, ranges, globs) in one query.
pub const MAX_CLAUSES: usize = 4096;
/// The most globs in one query: each is matched against a whole dictionary.
pub const MAX_GLOBS: usize = 128;
/// The deepest nesting of AND, OR and NOT nodes in a query tree. Each level of parentheses
/// in text may hold an OR of ANDs, so this is what [`MAX_DEPTH`] allows text to reach.
pub const MAX_TREE_DEPTH: usize = 2 * MAX_DEPTH + 2;
/// The longest glob, in characters.
pub const MAX_GLOB_CHARS: usize = 1024;
/// The most wildcards (`*`, `?`, `[`) in one glob.
pub const MAX_GLOB_WILDCARDS: usize = 16;

/// Checks the limits over a query tree: its depth, clauses and globs. Text is checked for
/// depth while it is parsed, so that no text recurses deeper than [`MAX_DEPTH`]; a tree built
/// by a caller is checked here, before anything recurses over it.
pub(super) fn check_limits(node: &Node) -> Result<(), QueryError> {
    let (mut clauses, mut globs) = (0, 0);
    let mut pending = vec![(node, 1)];
    while let Some((node, depth)) = pending.pop() {
        if depth > MAX_TREE_DEPTH {
            return error(format!(
                "the query nests deeper than {MAX_TREE_DEPTH} levels of AND, OR and NOT"
            ));
        }
        match node {
            Node::And(children) | Node::Or(children) => {
                pending.extend(children.iter().map(|child| (child, depth + 1)))
            }
            Node::Not(inner) => pending.push((inner, depth + 1)),
            Node::Clause { value, .. } => {
                clauses += 1;
                if clauses > MAX_CLAUSES {
                    return error(format!("the query has more than {MAX_CLAUSES} clauses"));
                }
                let Value::Glob(v) = value else { continue };
                globs += 1;
                if globs > MAX_GLOBS {
                    return error(format!("the query has more than {MAX_GLOBS} globs"));
                }
                if v.chars().count() > MAX_GLOB_CHARS {
                    return error(format!("a glob is longer than {MAX_GLOB_CHARS} characters"));
                }
                if v.chars().filter(|c| matches!(c, '*' | '?' | '[')).count() > MAX_GLOB_WILDCARDS {
                    return error(format!(
                        "a glob has more than {MAX_GLOB_WILDCARDS} wildcards ('{}...')",
                        v.chars().take(40).collect::<String>()
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{compile, parse};
    use crate::schema::CatalogSchema;

    /// Just under a limit passes, just over it fails with a one-line message naming it.
    fn at_limit(under: &str, over: &str, needle: &str) {
        let schema = CatalogSchema::new();
        if let Err(e) = compile(under, &schema) {
            panic!("{}: {e}", &under[..under.len().min(80)]);
        }
        let message = compile(over, &schema).expect_err(needle).to_string();
        assert!(message.contains(needle), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn limits_nesting_depth() {
        let nested = |n: usize| format!("{}sat:S2A{}", "(".repeat(n), ")".repeat(n));
        at_limit(
            &nested(MAX_DEPTH),
            &nested(MAX_DEPTH + 1),
            "deeper than 64 levels",
        );
        let nots = |n: usize| format!("{}sat:S2A", "NOT ".repeat(n));
        at_limit(
            &nots(MAX_DEPTH),
            &nots(MAX_DEPTH + 1),
            "deeper than 64 levels",
        );
        let minus = |n: usize| format!("{}sat:S2A", "-".repeat(n));
        at_limit(
            &minus(MAX_DEPTH),
            &minus(MAX_DEPTH + 1),
            "deeper than 64 levels",
        );
        // Parentheses and NOT count together; `+` adds no level.
        let mixed = |n: usize| format!("{}sat:S2A{}", "-(".repeat(n / 2), ")".repeat(n / 2));
        at_limit(
            &mixed(MAX_DEPTH),
            &mixed(MAX_DEPTH + 2),
            "deeper than 64 levels",
        );
        assert!(parse(&format!("{}sat:S2A", "+".repeat(10_000))).is_ok());
        // Far beyond the limit the parser stops at it, without deep recursion.
        for hostile in [nested(30_000), nots(15_000), minus(60_000)] {
            let message = parse(&hostile).unwrap_err().to_string();
            assert!(message.contains("deeper than"), "{message}");
        }
    }

    #[test]
    fn limits_clauses() {
        let clauses = |n: usize| vec!["orbit:1"; n].join(" OR ");
        at_limit(
            &clauses(MAX_CLAUSES),
            &clauses(MAX_CLAUSES + 1),
            "more than 4096 clauses",
        );
    }

    #[test]
    fn limits_globs() {
        let globs = |n: usize| {
            (0..n)
                .map(|i| format!("path:*/{i}_*"))
                .collect::<Vec<_>>()
                .join(" OR ")
        };
        at_limit(
            &globs(MAX_GLOBS),
            &globs(MAX_GLOBS + 1),
            "more than 128 globs",
        );
        let long = |n: usize| format!("name:*{}", "a".repeat(n - 1));
        at_limit(
            &long(MAX_GLOB_CHARS),
            &long(MAX_GLOB_CHARS + 1),
            "longer than 1024 characters",
        );
        let wild = |n: usize| format!("name:{}", "a*".repeat(n));
        at_limit(
            &wild(MAX_GLOB_WILDCARDS),
            &wild(MAX_GLOB_WILDCARDS + 1),
            "more than 16 wildcards",
        );
        // A star on a number or a date is no glob.
        let stars = vec!["orbit:*"; MAX_GLOBS + 1].join(" OR ");
        assert!(compile(&stars, &CatalogSchema::new()).is_ok());
    }

    #[test]
    fn limits_text_length() {
        let text = |n: usize| format!("name:{}", "a".repeat(n - 5));
        at_limit(
            &text(MAX_QUERY_BYTES),
            &text(MAX_QUERY_BYTES + 1),
            "longer than 65536 bytes",
        );
    }
}
