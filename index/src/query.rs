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

use std::ops::Bound;

use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DateTime, DocId, SegmentReader, Term};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::fields::{self, field_kind, field_list, FieldDef, FieldKind, QueryRule};
use crate::schema::CatalogSchema;

/// The limits on one query, so that no text costs more than a bounded parse and search; a
/// query beyond any of them is refused with a message naming the limit.
pub mod limits {
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
}

use limits::*;

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
fn last_line(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().last().unwrap_or_default().trim().to_string()
}

fn error<T>(problem: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError {
        problem: problem.into(),
    })
}

/// A query tree, before it is tied to an index: what [`parse`] makes of query text, and what
/// callers that translate another query language (STAC, CQL2) build directly, with the
/// constructors below, and compile with [`compile_node`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// All of these match.
    And(Vec<Node>),
    /// Any of these matches.
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

/// `!node` does not match: a [`Node::Not`].
impl std::ops::Not for Node {
    type Output = Node;

    fn not(self) -> Node {
        Node::Not(Box::new(self))
    }
}

/// Escapes the glob characters of `literal`, so that it can be part of a [`Value::Glob`] and
/// match itself only (`a*b` becomes `a[*]b`).
pub fn escape_glob(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[') {
            escaped.push('[');
            escaped.push(c);
            escaped.push(']');
        } else {
            escaped.push(c);
        }
    }
    escaped
}

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

    fn read_word(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && c != '(' && c != ')')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
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
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && c != ']' && c != '}')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
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

/// Checks the limits over a query tree: its depth, clauses and globs. Text is checked for
/// depth while it is parsed, so that no text recurses deeper than [`MAX_DEPTH`]; a tree built
/// by a caller is checked here, before anything recurses over it.
fn check_limits(node: &Node) -> Result<(), QueryError> {
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

/// Turns query text into a tantivy query over the catalog schema.
pub fn compile(text: &str, schema: &CatalogSchema) -> Result<Box<dyn Query>, QueryError> {
    compile_node(&parse(text)?, schema)
}

/// Turns a query tree into a tantivy query over the catalog schema, with the checks and limits
/// of query text: unknown fields, values a field does not take, depth, clauses and globs each
/// give a [`QueryError`].
pub fn compile_node(node: &Node, schema: &CatalogSchema) -> Result<Box<dyn Query>, QueryError> {
    check_limits(node)?;
    to_query(node, schema)
}

fn to_query(node: &Node, schema: &CatalogSchema) -> Result<Box<dyn Query>, QueryError> {
    match node {
        Node::And(all) => {
            let mut clauses = Vec::with_capacity(all.len());
            for child in all {
                match child {
                    Node::Not(inner) => clauses.push((Occur::MustNot, to_query(inner, schema)?)),
                    _ => clauses.push((Occur::Must, to_query(child, schema)?)),
                }
            }
            if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Ok(Box::new(BooleanQuery::new(clauses)))
        }
        Node::Or(any) => {
            let clauses = any
                .iter()
                .map(|child| Ok((Occur::Should, to_query(child, schema)?)))
                .collect::<Result<Vec<_>, QueryError>>()?;
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

fn is_glob(value: &str) -> bool {
    value.contains(['*', '?', '['])
}

/// Translates an fnmatch glob into an anchored regular expression; `any` is what `*` matches.
fn glob_to_regex(glob: &str, any: &str) -> String {
    let mut regex = String::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => regex.push_str(any),
            '?' => regex.push_str(&any[..any.len() - 1]),
            '[' => {
                let class: String = chars.clone().take_while(|&c| c != ']').collect();
                if chars.clone().any(|c| c == ']') && !class.is_empty() {
                    chars.nth(class.chars().count());
                    let class = class
                        .strip_prefix('!')
                        .map_or(class.clone(), |rest| format!("^{rest}"));
                    regex.push('[');
                    regex.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                    regex.push(']');
                } else {
                    regex.push_str("\\[");
                }
            }
            _ => regex.push_str(&regex::escape(&c.to_string())),
        }
    }
    regex
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
        let mut accepted = Vec::new();
        if let Some(column) = &column {
            let dictionary = column.dictionary();
            accepted = vec![false; dictionary.num_terms()];
            match &matcher {
                PathMatcher::Exact(path) => {
                    if let Some(ord) = dictionary.term_ord(path)? {
                        accepted[ord as usize] = true;
                    }
                }
                PathMatcher::Pattern(pattern) => {
                    let mut terms = dictionary.stream()?;
                    while terms.advance() {
                        accepted[terms.term_ord() as usize] = pattern.is_match(terms.key());
                    }
                }
            }
        }
        let ords = column.map(|c| c.ords().clone());
        Ok(move |doc: DocId| {
            ords.as_ref()
                .and_then(|ords| ords.first(doc))
                .is_some_and(|ord| accepted[ord as usize])
        })
    });
    Box::new(DocPredicateQuery::from(predicate))
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
        (FieldKind::Path, Value::Glob(v)) => Ok(path_query(glob_matcher(&glob_to_regex(v, ".*"))?)),
        (FieldKind::Path, Value::Exact(v)) => Ok(path_query(PathMatcher::Exact(v.clone()))),
        (FieldKind::Name, Value::Glob(v)) => Ok(path_query(glob_matcher(&format!(
            "(?:.*/)?{}",
            glob_to_regex(v, "[^/]*")
        ))?)),
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
        (FieldKind::Date, _) => date_query(name, handle, value),
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

fn keyword_query(
    field: &FieldDef,
    handle: Field,
    value: &Value,
) -> Result<Box<dyn Query>, QueryError> {
    match value {
        Value::Glob(v) => regex_query(&glob_to_regex(&v.to_lowercase(), ".*"), handle),
        Value::Exists => regex_query(".*", handle),
        Value::Exact(v) => {
            let v = normalize_keyword(field, v);
            if let QueryRule::OneOf(allowed) = field.rule {
                if !allowed.contains(&v.as_str()) {
                    let allowed: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
                    return error(format!(
                        "{} is {}, not '{v}'",
                        field.name,
                        allowed.join(" or ")
                    ));
                }
            }
            Ok(term_query(Term::from_field_text(handle, &v)))
        }
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
        let instant = OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .or_else(|_| {
                PrimitiveDateTime::parse(
                    &text,
                    &time::macros::format_description!(
                        "[year]-[month]-[day]T[hour]:[minute]:[second]"
                    ),
                )
                .map(PrimitiveDateTime::assume_utc)
            })
            .ok()?;
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

fn date_query(name: &str, field: Field, value: &Value) -> Result<Box<dyn Query>, QueryError> {
    let span = |v: &String| {
        date_span(v).ok_or_else(|| QueryError {
            problem: format!("{name} takes a date such as 2023, 2023-06, 2023-06-15 or 2023-06-15T10:00:00Z, not '{v}'"),
        })
    };
    // Dates beyond tantivy's (nanoseconds in an i64: 1677 to 2262) hold to its ends.
    let term = |t: OffsetDateTime| {
        let nanos = t.unix_timestamp().saturating_mul(1_000_000_000);
        Term::from_field_date(field, DateTime::from_timestamp_nanos(nanos))
    };
    // Every bound becomes inclusive-start / exclusive-end so that a day, month or year
    // counts whole: `<=2023-06` takes all of June, `>2023-06` starts in July.
    let (low, high) = match value {
        Value::Glob(v) => return not_a_glob(name, v),
        Value::Exists => (Bound::Unbounded, Bound::Unbounded),
        Value::Exact(v) => {
            let (start, end) = span(v)?;
            (Bound::Included(term(start)), Bound::Excluded(term(end)))
        }
        Value::Range(low, high) => {
            let low = match low {
                Bound::Included(v) => Bound::Included(term(span(v)?.0)),
                Bound::Excluded(v) => Bound::Included(term(span(v)?.1)),
                Bound::Unbounded => Bound::Unbounded,
            };
            let high = match high {
                Bound::Included(v) => Bound::Excluded(term(span(v)?.1)),
                Bound::Excluded(v) => Bound::Excluded(term(span(v)?.0)),
                Bound::Unbounded => Bound::Unbounded,
            };
            (low, high)
        }
    };
    let low = match low {
        // A range names its field through its bounds: an open one starts at the earliest date.
        Bound::Unbounded => Bound::Included(Term::from_field_date(field, DateTime::MIN)),
        bound => bound,
    };
    Ok(Box::new(RangeQuery::new(low, high)))
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
        ] {
            assert!(compile_node(&node, &schema).is_ok(), "{node:?}");
        }
    }

    #[test]
    fn escaped_globs_match_themselves() {
        let glob = escape_glob("a*b?[c]");
        assert_eq!(glob, "a[*]b[?][[]c]");
        let regex = regex::Regex::new(&format!("^{}$", glob_to_regex(&glob, ".*"))).unwrap();
        assert!(regex.is_match("a*b?[c]"));
        assert!(!regex.is_match("axbx[c]"));
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

    #[test]
    fn globs_translate_like_fnmatch() {
        assert_eq!(glob_to_regex("*_N0500_*", "[^/]*"), "[^/]*_N0500_[^/]*");
        assert_eq!(glob_to_regex("a?c.zip", ".*"), "a.c\\.zip");
        assert_eq!(glob_to_regex("[!ab]x", ".*"), "[^ab]x");
        assert_eq!(glob_to_regex("[x", ".*"), "\\[x");
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
