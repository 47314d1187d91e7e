//! Query text into a [`Node`] tree: a recursive-descent parser over the Lucene-style syntax,
//! which checks field names and the limits while it reads.

use std::ops::Bound;

use super::limits::{check_limits, MAX_DEPTH, MAX_QUERY_BYTES};
use super::{error, is_glob, Node, QueryError, Value};
use crate::fields::{self, field_kind, FieldKind};

/// Parses query text into a [`Node`], checking field names.
pub fn parse(text: &str) -> Result<Node, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return error(format!(
            "the query is longer than {MAX_QUERY_BYTES} bytes ({} bytes)",
            text.len()
        ));
    }
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    parser.skip_space();
    if parser.at_end() {
        return error("the query is empty");
    }
    let node = parser.parse_or(None)?;
    parser.skip_space();
    match parser.peek() {
        None => check_limits(&node).map(|()| node),
        Some(')') => error(format!("unmatched ')' at column {}", parser.pos + 1)),
        Some(c) => error(format!("unexpected '{c}' at column {}", parser.pos + 1)),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// Open parentheses and pending `NOT`s: checked while descending, so that no text can
    /// recurse deeper than [`MAX_DEPTH`].
    depth: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Consumes `word` if it stands next as a whole word.
    fn keyword(&mut self, word: &str) -> bool {
        let len = word.chars().count();
        let matches = self.chars.len() >= self.pos + len
            && self.chars[self.pos..self.pos + len]
                .iter()
                .copied()
                .eq(word.chars())
            && self
                .chars
                .get(self.pos + len)
                .is_none_or(|c| c.is_whitespace() || *c == '(' || *c == ')');
        if matches {
            self.pos += len;
        }
        matches
    }

    fn parse_or(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        let mut any = vec![self.parse_and(field)?];
        loop {
            self.skip_space();
            if self.keyword("OR") || self.keyword("||") {
                any.push(self.parse_and(field)?);
            } else {
                break;
            }
        }
        Ok(if any.len() == 1 {
            any.remove(0)
        } else {
            Node::Or(any)
        })
    }

    fn parse_and(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        let mut all = vec![self.parse_unary(field)?];
        loop {
            self.skip_space();
            let start = self.pos;
            if self.at_end() || self.peek() == Some(')') || self.keyword("OR") || self.keyword("||")
            {
                self.pos = start;
                break;
            }
            // Terms side by side must all match, so an explicit AND only needs consuming.
            let _ = self.keyword("AND") || self.keyword("&&");
            all.push(self.parse_unary(field)?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Node::And(all)
        })
    }

    /// Reads the `NOT`, `-`, `!` and `+` before a primary in a loop, not by recursion.
    fn parse_unary(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        let mut nots = 0;
        loop {
            self.skip_space();
            let start = self.pos;
            if self.keyword("NOT") {
                nots += 1;
            } else {
                match self.peek() {
                    Some('-') | Some('!') => {
                        self.pos += 1;
                        nots += 1;
                    }
                    Some('+') => self.pos += 1,
                    _ => break,
                }
            }
            self.check_depth(self.depth + nots, start)?;
        }
        self.depth += nots;
        let node = self.parse_primary(field);
        self.depth -= nots;
        let mut node = node?;
        for _ in 0..nots {
            node = Node::Not(Box::new(node));
        }
        Ok(node)
    }

    fn check_depth(&self, depth: usize, at: usize) -> Result<(), QueryError> {
        if depth > MAX_DEPTH {
            return error(format!(
                "the query nests deeper than {MAX_DEPTH} levels of parentheses and NOT (at column {})",
                at + 1
            ));
        }
        Ok(())
    }

    fn parse_primary(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        self.skip_space();
        match self.peek() {
            None => return error("the query ends where a term was expected"),
            Some('(') => return self.parse_group(field),
            Some(')') => return error(format!("unexpected ')' at column {}", self.pos + 1)),
            Some('"') => {
                let value = self.parse_quoted()?;
                return Ok(clause(field, term(field, value)));
            }
            Some('[') | Some('{') => {
                let value = self.parse_range()?;
                return Ok(clause(field, value));
            }
            _ => {}
        }
        let start = self.pos;
        let word = self.read_word();
        if let Some(colon) = word.find(':') {
            let name = &word[..colon];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                if field.is_some() {
                    return error(format!(
                        "field '{name}' inside a field group at column {}",
                        start + 1
                    ));
                }
                if field_kind(name).is_none() {
                    return error(format!("unknown field '{name}'"));
                }
                let rest = &word[colon + 1..];
                if !rest.is_empty() && !rest.starts_with(['[', '{', '"']) {
                    return Ok(clause(Some(name), comparison(Some(name), rest)));
                }
                self.pos = start + name.chars().count() + 1;
                return match self.peek() {
                    Some('(') => self.parse_group(Some(name)),
                    Some('"') => Ok(clause(Some(name), term(Some(name), self.parse_quoted()?))),
                    Some('[') | Some('{') => Ok(clause(Some(name), self.parse_range()?)),
                    _ => error(format!("field '{name}' has no value")),
                };
            }
        }
        Ok(clause(field, comparison(field, &word)))
    }

    fn parse_group(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        let open = self.pos;
        self.check_depth(self.depth + 1, open)?;
        self.pos += 1;
        self.skip_space();
        if self.peek() == Some(')') {
            return error(format!("empty parentheses at column {}", open + 1));
        }
        self.depth += 1;
        let node = self.parse_or(field);
        self.depth -= 1;
        let node = node?;
        self.skip_space();
        if self.peek() != Some(')') {
            return error(format!("the '(' at column {} is never closed", open + 1));
        }
        self.pos += 1;
        Ok(node)
    }

    /// Consumes and returns the characters up to the first one `keep` refuses.
    fn read_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn read_word(&mut self) -> String {
        self.read_while(|c| !c.is_whitespace() && c != '(' && c != ')')
    }

    fn parse_quoted(&mut self) -> Result<String, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let mut value = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '"' => return Ok(value),
                '\\' => {
                    if let Some(escaped) = self.peek() {
                        value.push(escaped);
                        self.pos += 1;
                    }
                }
                _ => value.push(c),
            }
        }
        error(format!("the quote at column {} is never closed", open + 1))
    }

    fn parse_range(&mut self) -> Result<Value, QueryError> {
        let open = self.pos;
        let inclusive_low = self.peek() == Some('[');
        self.pos += 1;
        self.skip_space();
        let low = self.read_range_end();
        self.skip_space();
        if !self.keyword("TO") {
            return error(format!(
                "the range at column {} needs 'TO' between its ends",
                open + 1
            ));
        }
        self.skip_space();
        let high = self.read_range_end();
        self.skip_space();
        let inclusive_high = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => return error(format!("the range at column {} is never closed", open + 1)),
        };
        self.pos += 1;
        if low.is_empty() || high.is_empty() {
            return error(format!("the range at column {} has an empty end", open + 1));
        }
        let bound = |value: String, inclusive: bool| match (value.as_str(), inclusive) {
            ("*", _) => Bound::Unbounded,
            (_, true) => Bound::Included(value),
            (_, false) => Bound::Excluded(value),
        };
        Ok(Value::Range(
            bound(low, inclusive_low),
            bound(high, inclusive_high),
        ))
    }

    fn read_range_end(&mut self) -> String {
        self.read_while(|c| !c.is_whitespace() && c != ']' && c != '}')
    }
}

fn clause(field: Option<&str>, value: Value) -> Node {
    Node::Clause {
        field: field.map(str::to_string),
        value,
    }
}

/// A value of query text: a glob where the field takes globs and the value has wildcards, `*`
/// alone on a number or date any value, anything else itself.
fn term(field: Option<&str>, value: String) -> Value {
    match field_kind(field.unwrap_or(fields::NAME.name)) {
        Some(FieldKind::Path | FieldKind::Name | FieldKind::Keyword) if is_glob(&value) => {
            Value::Glob(value)
        }
        Some(FieldKind::Number | FieldKind::Date) if value == "*" => Value::Exists,
        _ => Value::Exact(value),
    }
}

/// Reads `>x`, `>=x`, `<x`, `<=x` as ranges, anything else as a [`term`].
fn comparison(field: Option<&str>, word: &str) -> Value {
    let owned = |s: &str| s.to_string();
    if let Some(v) = word.strip_prefix(">=") {
        Value::Range(Bound::Included(owned(v)), Bound::Unbounded)
    } else if let Some(v) = word.strip_prefix("<=") {
        Value::Range(Bound::Unbounded, Bound::Included(owned(v)))
    } else if let Some(v) = word.strip_prefix('>') {
        Value::Range(Bound::Excluded(owned(v)), Bound::Unbounded)
    } else if let Some(v) = word.strip_prefix('<') {
        Value::Range(Bound::Unbounded, Bound::Excluded(owned(v)))
    } else {
        term(field, owned(word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(field: &str, value: &str) -> Node {
        clause(Some(field), Value::Exact(value.into()))
    }

    #[test]
    fn parses_boolean_structure() {
        assert_eq!(
            parse("tile:T60WWV AND sat:S2A").unwrap(),
            Node::And(vec![term("tile", "T60WWV"), term("sat", "S2A")])
        );
        assert_eq!(
            parse("sat:S2A sat:S2B OR -level:L2A").unwrap(),
            Node::Or(vec![
                Node::And(vec![term("sat", "S2A"), term("sat", "S2B")]),
                Node::Not(Box::new(term("level", "L2A"))),
            ])
        );
        assert_eq!(
            parse("sat:(S2A OR S2B)").unwrap(),
            Node::Or(vec![term("sat", "S2A"), term("sat", "S2B")])
        );
        assert_eq!(
            parse("T60WWV").unwrap(),
            clause(None, Value::Exact("T60WWV".into()))
        );
        assert_eq!(
            parse("NOT (a OR b)").unwrap(),
            Node::Not(Box::new(Node::Or(vec![
                clause(None, Value::Exact("a".into())),
                clause(None, Value::Exact("b".into()))
            ])))
        );
    }

    #[test]
    fn parses_ranges_and_comparisons() {
        assert_eq!(
            parse("orbit:[100 TO 120]").unwrap(),
            clause(
                Some("orbit"),
                Value::Range(Bound::Included("100".into()), Bound::Included("120".into()))
            )
        );
        assert_eq!(
            parse("date:{2023 TO *]").unwrap(),
            clause(
                Some("date"),
                Value::Range(Bound::Excluded("2023".into()), Bound::Unbounded)
            )
        );
        assert_eq!(
            parse("size:>=10").unwrap(),
            clause(
                Some("size"),
                Value::Range(Bound::Included("10".into()), Bound::Unbounded)
            )
        );
        assert_eq!(
            parse("date:<2023-01-01").unwrap(),
            clause(
                Some("date"),
                Value::Range(Bound::Unbounded, Bound::Excluded("2023-01-01".into()))
            )
        );
    }

    #[test]
    fn built_trees_equal_parsed_ones() {
        use Bound::{Excluded, Included, Unbounded};
        let text = |v: &str| v.to_string();
        for (query, tree) in [
            ("tile:T60WWV", Node::exact("tile", "T60WWV")),
            ("name:*_N0500_*", Node::glob("name", "*_N0500_*")),
            ("tile:*", Node::glob("tile", "*")),
            ("orbit:*", Node::exists("orbit")),
            ("orbit:R1*", Node::exact("orbit", "R1*")),
            ("sat:(S2A OR S2B)", Node::any_of("sat", ["S2A", "S2B"])),
            (
                "date:{2023 TO 2024-06]",
                Node::range("date", Excluded(text("2023")), Included(text("2024-06"))),
            ),
            (
                "size:<1G",
                Node::range("size", Unbounded, Excluded(text("1G"))),
            ),
            (
                "-level:L2A orbit:>=10",
                Node::And(vec![
                    !Node::exact("level", "L2A"),
                    Node::range("orbit", Included(text("10")), Unbounded),
                ]),
            ),
        ] {
            assert_eq!(parse(query).unwrap(), tree, "{query}");
        }
    }
}
