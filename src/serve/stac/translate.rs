//! STAC questions in the catalog's terms: the query extension, CQL2 filters (text and JSON, as
//! the `cql2` crate reads them), `ids`, `collections`, `datetime`, `bbox` and `intersects` become
//! one query tree ([`Node`]), never query text.
//!
//! Properties are found through the index's field table (`field_by_stac_property`), plus the
//! item members `id` and `collection`, `geometry` for spatial tests, `start_datetime` and
//! `mission`. Text properties whose STAC value is spelled otherwise than the index's (platform
//! `sentinel-2a` for `S2A`, grid code `MGRS-60WWV` for tile `T60WWV`) are tested against the
//! index's distinct values spelled the STAC way, and become an `any_of` those values; text
//! comparisons ignore case, as the index does.
//!
//! CQL2's three-valued logic holds: a test on a property an item lacks is neither true nor
//! false, so neither it nor its negation matches that item. Spatial tests need a footprint,
//! which only Sentinel-2 names give (their MGRS tile): S1, S3 and S5P items never match one.

use std::ops::{Bound, Not};

use catalog_index::fields::{field_by_stac_property, FieldDef, FieldKind, STAC_PREFIX};
use catalog_index::query::{escape_glob, Node};
use cql2::Expr;
use serde_json::Value;
use time::OffsetDateTime;

use super::render::{stac_text, INSTRUMENTS};
use crate::serve::footprint::{bbox_area, footprint};

/// Properties every STAC client may name that no file name carries: known to be unknown, so
/// they are null on every item (a comparison matches nothing, `IS NULL` everything).
const ALWAYS_NULL: &[&str] = &["eo:cloud_cover"];

/// The distinct values of the index's keyword fields, as the index holds them (lowercase).
pub trait Vocabulary {
    /// Every value of `field`.
    fn values(&self, field: &str) -> Result<Vec<String>, String>;
}

/// A question in the catalog's terms: a tree, or an answer known without asking the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    /// Nothing matches.
    Nothing,
    /// Everything matches.
    Everything,
    /// What matches this tree.
    Node(Node),
}

impl Tree {
    /// All of `parts`.
    pub fn all(parts: impl IntoIterator<Item = Tree>) -> Tree {
        let mut nodes = Vec::new();
        for part in parts {
            match part {
                Tree::Nothing => return Tree::Nothing,
                Tree::Everything => {}
                Tree::Node(node) => nodes.push(node),
            }
        }
        match nodes.len() {
            0 => Tree::Everything,
            1 => Tree::Node(nodes.remove(0)),
            _ => Tree::Node(Node::And(nodes)),
        }
    }

    /// Any of `parts`.
    pub fn any(parts: impl IntoIterator<Item = Tree>) -> Tree {
        let mut nodes = Vec::new();
        for part in parts {
            match part {
                Tree::Nothing => {}
                Tree::Everything => return Tree::Everything,
                Tree::Node(node) => nodes.push(node),
            }
        }
        match nodes.len() {
            0 => Tree::Nothing,
            1 => Tree::Node(nodes.remove(0)),
            _ => Tree::Node(Node::Or(nodes)),
        }
    }
}

/// What does not match a tree.
impl std::ops::Not for Tree {
    type Output = Tree;

    fn not(self) -> Tree {
        match self {
            Tree::Nothing => Tree::Everything,
            Tree::Everything => Tree::Nothing,
            Tree::Node(node) => Tree::Node(!node),
        }
    }
}

/// What a STAC name stands for.
#[derive(Debug, Clone, Copy)]
enum Property {
    /// The item id: its file name.
    Id,
    /// The item's collection.
    Collection,
    /// The item's footprint.
    Geometry,
    /// A field of the index.
    Field(&'static FieldDef),
    /// The instruments, a list that the mission and product type decide.
    Instruments,
    /// A property no item has.
    Null,
}

fn property(name: &str) -> Result<Property, String> {
    let name = name.strip_prefix("properties.").unwrap_or(name);
    let field = |n: &str| catalog_index::fields::field(n).map(Property::Field);
    let found = match name {
        "id" => Some(Property::Id),
        "collection" => Some(Property::Collection),
        "geometry" => Some(Property::Geometry),
        "start_datetime" => field("date"),
        "mission" => field("mission"),
        "instruments" => Some(Property::Instruments),
        _ if ALWAYS_NULL.contains(&name) => Some(Property::Null),
        _ => field_by_stac_property(name).map(Property::Field),
    };
    found.ok_or_else(|| format!("cannot filter on property '{name}'"))
}

/// A test of one property.
#[derive(Debug, Clone)]
enum Test {
    Compare(Comparison, Literal),
    /// A text pattern: LIKE, or the query extension's startsWith, endsWith and contains.
    Like(Pattern),
    In(Vec<Literal>),
    Between(Literal, Literal),
    IsNull,
    /// The property (a datetime) lies in the interval.
    During(Bound<Literal>, Bound<Literal>),
    /// The property (the geometry) meets this area.
    Intersects(geo::Geometry<f64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// A value a property is compared with.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
    Instant(OffsetDateTime),
}

impl Literal {
    fn from_json(value: &Value, what: &str) -> Result<Literal, String> {
        match value {
            Value::String(s) => Ok(Literal::Text(s.clone())),
            Value::Number(n) => n
                .as_f64()
                .map(Literal::Number)
                .ok_or_else(|| format!("{what}: {n} is no number")),
            other => Err(format!("{what} takes a text or a number, not {other}")),
        }
    }

    fn from_expr(expr: &Expr) -> Result<Literal, String> {
        match expr {
            Expr::Literal(s) => Ok(Literal::Text(s.clone())),
            Expr::Float(n) => Ok(Literal::Number(*n)),
            Expr::Timestamp { timestamp } | Expr::Date { date: timestamp } => match &**timestamp {
                Expr::Literal(s) => instant(s).map(Literal::Instant),
                other => Err(format!("unsupported timestamp {}", describe(other))),
            },
            other => Err(format!("unsupported value {}", describe(other))),
        }
    }

    fn text(&self) -> String {
        match self {
            Literal::Text(s) => s.clone(),
            Literal::Number(n) => n.to_string(),
            Literal::Instant(t) => canonical(*t),
        }
    }
}

/// A text pattern: literal characters, `_` (one character) and `%` (any run).
#[derive(Debug, Clone, PartialEq)]
struct Pattern(Vec<Piece>);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece {
    Char(char),
    One,
    Any,
}

impl Pattern {
    /// A CQL2 LIKE pattern; `\` escapes the next character.
    fn like(text: &str) -> Pattern {
        let mut pieces = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            pieces.push(match c {
                '%' => Piece::Any,
                '_' => Piece::One,
                '\\' => Piece::Char(chars.next().unwrap_or('\\')),
                c => Piece::Char(c),
            });
        }
        Pattern(pieces)
    }

    /// `text` with any run before and/or after it.
    fn around(text: &str, before: bool, after: bool) -> Pattern {
        let mut pieces: Vec<Piece> = text.chars().map(Piece::Char).collect();
        if before {
            pieces.insert(0, Piece::Any);
        }
        if after {
            pieces.push(Piece::Any);
        }
        Pattern(pieces)
    }

    /// Whether `text` matches, ignoring case.
    fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.to_lowercase().chars().collect();
        let pieces: Vec<Piece> = self
            .0
            .iter()
            .map(|p| match p {
                Piece::Char(c) => Piece::Char(c.to_lowercase().next().unwrap_or(*c)),
                other => *other,
            })
            .collect();
        // Classic wildcard matching, remembering the last `%` to backtrack to.
        let (mut t, mut p) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pieces.get(p) {
                Some(Piece::Char(c)) if *c == text[t] => (t, p) = (t + 1, p + 1),
                Some(Piece::One) => (t, p) = (t + 1, p + 1),
                Some(Piece::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                _ => match star {
                    Some((star_p, star_t)) => {
                        (p, t) = (star_p + 1, star_t + 1);
                        star = Some((star_p, star_t + 1));
                    }
                    None => return false,
                },
            }
        }
        pieces[p..].iter().all(|piece| *piece == Piece::Any)
    }

    /// The same pattern as an fnmatch glob.
    fn glob(&self) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Char(c) => escape_glob(&c.to_string()),
                Piece::One => "?".to_string(),
                Piece::Any => "*".to_string(),
            })
            .collect()
    }
}

/// Reads an RFC 3339 instant, `t` and `z` in any case.
pub fn instant(text: &str) -> Result<OffsetDateTime, String> {
    catalog_index::time::parse_rfc3339(&text.to_ascii_uppercase())
        .ok_or_else(|| format!("'{text}' is no RFC 3339 date and time"))
}

/// An instant as the index's date values are written: UTC, to the second.
fn canonical(instant: OffsetDateTime) -> String {
    let utc = instant.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// The interval of a STAC `datetime`: `instant`, `start/end`, with `..` or nothing for an open
/// end (never both); a start after its end is refused.
pub fn datetime_interval(
    text: &str,
) -> Result<(Bound<OffsetDateTime>, Bound<OffsetDateTime>), String> {
    let bad = |why: &str| format!("bad datetime '{text}': {why}");
    let end = |part: &str| -> Result<Bound<OffsetDateTime>, String> {
        match part {
            "" | ".." => Ok(Bound::Unbounded),
            _ => instant(part).map(Bound::Included).map_err(|e| bad(&e)),
        }
    };
    let (low, high) = match text.split('/').collect::<Vec<_>>().as_slice() {
        [one] if !one.is_empty() && *one != ".." => {
            let at = instant(one).map_err(|e| bad(&e))?;
            (Bound::Included(at), Bound::Included(at))
        }
        [low, high] => (end(low)?, end(high)?),
        _ => return Err(bad("it is an instant or an interval start/end")),
    };
    match (&low, &high) {
        (Bound::Unbounded, Bound::Unbounded) => Err(bad("an interval needs at least one end")),
        (Bound::Included(a), Bound::Included(b)) if a > b => {
            Err(bad("the interval starts after it ends"))
        }
        _ => Ok((low, high)),
    }
}

/// The tree of a `datetime` interval over items' sensing start.
pub fn datetime_tree(low: Bound<OffsetDateTime>, high: Bound<OffsetDateTime>) -> Tree {
    let text = |b: Bound<OffsetDateTime>| b.map(canonical);
    Tree::Node(Node::range("date", text(low), text(high)))
}

/// Items whose id is one of `ids`.
pub fn ids_tree(ids: &[String]) -> Tree {
    Tree::any(
        ids.iter()
            .map(|id| id_tree(&Pattern::around(id, false, false))),
    )
}

/// Items whose id (the file name) matches `pattern`.
fn id_tree(pattern: &Pattern) -> Tree {
    // An id holds no `/`: a pattern with one would otherwise reach across directories.
    if pattern.0.contains(&Piece::Char('/')) {
        return Tree::Nothing;
    }
    Tree::Node(Node::glob("name", pattern.glob()))
}

/// Items in one of `collections`.
pub fn collections_tree(collections: &[String]) -> Tree {
    Tree::Node(Node::any_of("collection", collections.iter().cloned()))
}

/// Items whose footprint meets `area`: the tiles whose square meets it.
pub fn spatial_tree(
    area: &geo::Geometry<f64>,
    vocabulary: &dyn Vocabulary,
) -> Result<Tree, String> {
    let tiles: Vec<String> = vocabulary
        .values("tile")?
        .into_iter()
        .filter(|tile| footprint(tile).is_some_and(|f| f.intersects(area)))
        .collect();
    Ok(if tiles.is_empty() {
        Tree::Nothing
    } else {
        Tree::Node(Node::any_of("tile", tiles))
    })
}

/// The query extension: `{"property": {"operator": value, ...}, ...}`, all of which must hold.
pub fn query_tree(
    query: &serde_json::Map<String, Value>,
    vocabulary: &dyn Vocabulary,
) -> Result<Tree, String> {
    let mut parts = Vec::new();
    for (name, operators) in query {
        let Value::Object(operators) = operators else {
            return Err(format!(
                "the query on '{name}' must be an object of operators"
            ));
        };
        let target = property(name)?;
        for (operator, value) in operators {
            let what = format!("'{operator}' on '{name}'");
            let literal = || Literal::from_json(value, &what);
            let text = || match value {
                Value::String(s) => Ok(s.as_str()),
                _ => Err(format!("{what} takes a text")),
            };
            let test = match operator.as_str() {
                "eq" => Test::Compare(Comparison::Equal, literal()?),
                "neq" => Test::Compare(Comparison::NotEqual, literal()?),
                "lt" => Test::Compare(Comparison::Less, literal()?),
                "lte" => Test::Compare(Comparison::LessOrEqual, literal()?),
                "gt" => Test::Compare(Comparison::Greater, literal()?),
                "gte" => Test::Compare(Comparison::GreaterOrEqual, literal()?),
                "startsWith" => Test::Like(Pattern::around(text()?, false, true)),
                "endsWith" => Test::Like(Pattern::around(text()?, true, false)),
                "contains" => Test::Like(Pattern::around(text()?, true, true)),
                "in" => {
                    let Value::Array(values) = value else {
                        return Err(format!("{what} takes a list"));
                    };
                    Test::In(
                        values
                            .iter()
                            .map(|v| Literal::from_json(v, &what))
                            .collect::<Result<_, _>>()?,
                    )
                }
                other => return Err(format!("unsupported query operator '{other}' on '{name}'")),
            };
            parts.push(test_tree(name, target, &test, true, vocabulary)?);
        }
    }
    Ok(Tree::all(parts))
}

/// A CQL2 filter, read by the `cql2` crate.
pub fn filter_tree(filter: &Expr, vocabulary: &dyn Vocabulary) -> Result<Tree, String> {
    cql2_tree(filter, true, vocabulary)
}

/// `expr` when `holds`, its negation otherwise; negations are pushed down to the tests so that
/// a test on a missing property stays unknown under `not`.
fn cql2_tree(expr: &Expr, holds: bool, vocabulary: &dyn Vocabulary) -> Result<Tree, String> {
    let Expr::Operation { op, args } = expr else {
        return match expr {
            Expr::Bool(b) => Ok(if *b == holds {
                Tree::Everything
            } else {
                Tree::Nothing
            }),
            other => Err(format!("a filter is a condition, not {}", describe(other))),
        };
    };
    let children = || args.iter().map(|a| cql2_tree(a, holds, vocabulary));
    match op.as_str() {
        "and" | "or" => {
            let parts = children().collect::<Result<Vec<_>, _>>()?;
            // De Morgan: under a negation, `and` becomes `or`.
            Ok(if (op == "and") == holds {
                Tree::all(parts)
            } else {
                Tree::any(parts)
            })
        }
        "not" => match args.as_slice() {
            [inner] => cql2_tree(inner, !holds, vocabulary),
            _ => Err("'not' takes one argument".into()),
        },
        "t_disjoint" => {
            let (name, test) = cql2_test("t_intersects", args)?;
            test_tree(&name, property(&name)?, &test, !holds, vocabulary)
        }
        _ => {
            let (name, test) = cql2_test(op, args)?;
            let target = property(&name)?;
            test_tree(&name, target, &test, holds, vocabulary)
        }
    }
}

/// The property and test of a CQL2 predicate.
fn cql2_test(op: &str, args: &[Box<Expr>]) -> Result<(String, Test), String> {
    // A predicate compares a property with values: an operation among its arguments is
    // arithmetic or a function, which the index cannot compute.
    if let Some(Expr::Operation { op: inner, .. }) = args
        .iter()
        .map(|a| &**a)
        .find(|a| matches!(a, Expr::Operation { .. }))
    {
        return Err(format!("unsupported CQL2 operator '{inner}'"));
    }
    let property_of = |expr: &Expr| match expr {
        Expr::Property { property } => Ok(property.clone()),
        other => Err(format!(
            "'{op}' compares a property with a value, not {}",
            describe(other)
        )),
    };
    let comparison = match op {
        "=" => Some(Comparison::Equal),
        "<>" => Some(Comparison::NotEqual),
        "<" => Some(Comparison::Less),
        "<=" => Some(Comparison::LessOrEqual),
        ">" => Some(Comparison::Greater),
        ">=" => Some(Comparison::GreaterOrEqual),
        _ => None,
    };
    if let Some(comparison) = comparison {
        let [left, right] = args else {
            return Err(format!("'{op}' takes two arguments"));
        };
        // A comparison may name its property on either side; the other way round, `<` is `>`.
        let (name, value, comparison) = match (&**left, &**right) {
            (Expr::Property { property }, value) => (property.clone(), value, comparison),
            (value, Expr::Property { property }) => (property.clone(), value, mirror(comparison)),
            _ => return Err(format!("'{op}' compares a property with a value")),
        };
        return Ok((name, Test::Compare(comparison, Literal::from_expr(value)?)));
    }
    match (op, args) {
        ("like", [left, right]) => match &**right {
            Expr::Literal(pattern) => Ok((property_of(left)?, Test::Like(Pattern::like(pattern)))),
            other => Err(format!(
                "'like' takes a text pattern, not {}",
                describe(other)
            )),
        },
        ("in", [left, right]) => match &**right {
            Expr::Array(values) => Ok((
                property_of(left)?,
                Test::In(
                    values
                        .iter()
                        .map(|v| Literal::from_expr(v))
                        .collect::<Result<_, _>>()?,
                ),
            )),
            other => Err(format!("'in' takes a list, not {}", describe(other))),
        },
        ("between", [value, low, high]) => Ok((
            property_of(value)?,
            Test::Between(Literal::from_expr(low)?, Literal::from_expr(high)?),
        )),
        ("between", [value, range]) => match &**range {
            Expr::Array(ends) if ends.len() == 2 => Ok((
                property_of(value)?,
                Test::Between(Literal::from_expr(&ends[0])?, Literal::from_expr(&ends[1])?),
            )),
            other => Err(format!("'between' takes two ends, not {}", describe(other))),
        },
        ("isNull", [value]) => Ok((property_of(value)?, Test::IsNull)),
        ("s_intersects", [left, right]) => match (&**left, &**right) {
            (Expr::Property { property }, shape) | (shape, Expr::Property { property }) => {
                Ok((property.clone(), Test::Intersects(geometry(shape)?)))
            }
            _ => Err("'s_intersects' tests a property against a geometry".into()),
        },
        ("t_intersects" | "t_before" | "t_after", [left, right]) => {
            let (low, high) = temporal(right)?;
            let test = match op {
                "t_before" => Test::During(Bound::Unbounded, exclusive(low)),
                "t_after" => Test::During(exclusive(high), Bound::Unbounded),
                _ => Test::During(low, high),
            };
            Ok((property_of(left)?, test))
        }
        _ => Err(format!("unsupported CQL2 operator '{op}'")),
    }
}

fn exclusive(bound: Bound<Literal>) -> Bound<Literal> {
    match bound {
        Bound::Included(v) | Bound::Excluded(v) => Bound::Excluded(v),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn mirror(comparison: Comparison) -> Comparison {
    match comparison {
        Comparison::Less => Comparison::Greater,
        Comparison::LessOrEqual => Comparison::GreaterOrEqual,
        Comparison::Greater => Comparison::Less,
        Comparison::GreaterOrEqual => Comparison::LessOrEqual,
        other => other,
    }
}

/// The ends of a CQL2 timestamp, date or interval.
fn temporal(expr: &Expr) -> Result<(Bound<Literal>, Bound<Literal>), String> {
    let end = |e: &Expr| -> Result<Bound<Literal>, String> {
        match e {
            Expr::Literal(s) if s == ".." => Ok(Bound::Unbounded),
            Expr::Literal(s) => instant(s).map(|t| Bound::Included(Literal::Instant(t))),
            other => Literal::from_expr(other).map(Bound::Included),
        }
    };
    match expr {
        Expr::Interval { interval } if interval.len() == 2 => {
            Ok((end(&interval[0])?, end(&interval[1])?))
        }
        Expr::Timestamp { .. } | Expr::Date { .. } => {
            let at = Literal::from_expr(expr)?;
            Ok((Bound::Included(at.clone()), Bound::Included(at)))
        }
        other => Err(format!(
            "a temporal test takes a timestamp or an interval, not {}",
            describe(other)
        )),
    }
}

/// The area of a CQL2 geometry (WKT in text, GeoJSON in JSON) or BBOX.
fn geometry(expr: &Expr) -> Result<geo::Geometry<f64>, String> {
    match expr {
        // The crate renders either spelling as GeoJSON.
        Expr::Geometry(geometry) => {
            let value = serde_json::to_value(geometry).map_err(|e| format!("bad geometry: {e}"))?;
            area(&value)
        }
        Expr::BBox { bbox } => {
            let numbers: Vec<f64> = bbox
                .iter()
                .map(|n| match **n {
                    Expr::Float(f) => Ok(f),
                    _ => Err("BBOX takes numbers".to_string()),
                })
                .collect::<Result<_, _>>()?;
            Ok(bbox_area(checked_bbox(&numbers)?))
        }
        other => Err(format!(
            "'s_intersects' takes a geometry, not {}",
            describe(other)
        )),
    }
}

/// The area of a GeoJSON geometry, any of its types.
pub fn area(geometry: &Value) -> Result<geo::Geometry<f64>, String> {
    let geojson = geojson::Geometry::from_json_value(geometry.clone())
        .map_err(|e| format!("bad GeoJSON geometry: {e}"))?;
    geo::Geometry::<f64>::try_from(&geojson.value).map_err(|e| format!("bad GeoJSON geometry: {e}"))
}

/// A bounding box of 4 numbers (or 6, with heights), checked: latitudes within ±90, south
/// not above north, longitudes within ±180; west > east crosses the antimeridian.
pub fn checked_bbox(numbers: &[f64]) -> Result<[f64; 4], String> {
    let [west, south, east, north] = match *numbers {
        [w, s, e, n] => [w, s, e, n],
        [w, s, _, e, n, _] => [w, s, e, n],
        _ => {
            return Err(format!(
                "bbox takes 4 (or 6) numbers, not {}",
                numbers.len()
            ))
        }
    };
    let latitude = -90.0..=90.0;
    let longitude = -180.0..=180.0;
    if !latitude.contains(&south) || !latitude.contains(&north) {
        return Err("bbox latitudes lie between -90 and 90".into());
    }
    if !longitude.contains(&west) || !longitude.contains(&east) {
        return Err("bbox longitudes lie between -180 and 180".into());
    }
    if south > north {
        return Err(format!(
            "bbox south ({south}) is north of its north ({north})"
        ));
    }
    Ok([west, south, east, north])
}

/// The tree of one test on one property, or of its negation when `holds` is false.
fn test_tree(
    name: &str,
    target: Property,
    test: &Test,
    holds: bool,
    vocabulary: &dyn Vocabulary,
) -> Result<Tree, String> {
    let known = |field: &str| Tree::Node(Node::exists(field));
    // Under a negation, a test only matches items that have the property.
    let negate = |tree: Tree, known: Tree| {
        if holds {
            tree
        } else {
            Tree::all([known, tree.not()])
        }
    };
    match target {
        Property::Null => Ok(match (test, holds) {
            (Test::IsNull, true) => Tree::Everything,
            _ => Tree::Nothing,
        }),
        Property::Geometry => match test {
            Test::Intersects(area) => Ok(negate(spatial_tree(area, vocabulary)?, known("tile"))),
            Test::IsNull => Ok(negate(known("tile").not(), Tree::Everything)),
            _ => Err(format!("'{name}' is only tested with s_intersects")),
        },
        Property::Id => {
            let tree = match test {
                Test::Compare(Comparison::Equal, value) => {
                    id_tree(&Pattern::around(&value.text(), false, false))
                }
                Test::Compare(Comparison::NotEqual, value) => {
                    id_tree(&Pattern::around(&value.text(), false, false)).not()
                }
                Test::Like(pattern) => id_tree(pattern),
                Test::In(values) => Tree::any(
                    values
                        .iter()
                        .map(|v| id_tree(&Pattern::around(&v.text(), false, false))),
                ),
                Test::IsNull => Tree::Nothing,
                _ => return Err(format!("'{name}' takes =, <>, like and in")),
            };
            Ok(negate(tree, Tree::Everything))
        }
        Property::Collection => keyword_tree(name, "collection", test, holds, vocabulary),
        Property::Instruments => {
            let tree = match test {
                // On a list, `=` and `eq` ask whether it holds the value.
                Test::Compare(Comparison::Equal, value) => instrument_tree(&value.text()),
                Test::In(values) => Tree::any(values.iter().map(|v| instrument_tree(&v.text()))),
                Test::IsNull => Tree::any(INSTRUMENTS.iter().map(|i| instrument_tree(i.0))).not(),
                _ => return Err(format!("'{name}' is a list: it takes = (holds) and in")),
            };
            let known = Tree::any(INSTRUMENTS.iter().map(|i| instrument_tree(i.0)));
            Ok(negate(tree, known))
        }
        Property::Field(field) => match field.kind {
            FieldKind::Keyword => keyword_tree(name, field.name, test, holds, vocabulary),
            FieldKind::Number => {
                let tree = number_tree(name, field.name, test)?;
                Ok(negate(tree, known(field.name)))
            }
            FieldKind::Date => {
                let tree = date_tree(name, field.name, test)?;
                Ok(negate(tree, known(field.name)))
            }
            FieldKind::Path | FieldKind::Name => Err(format!("cannot filter on property '{name}'")),
        },
    }
}

/// Items whose products hold data of `instrument`.
fn instrument_tree(instrument: &str) -> Tree {
    let products = INSTRUMENTS
        .iter()
        .filter(|(name, _, _)| name.eq_ignore_ascii_case(instrument))
        .map(|(_, mission, prefixes)| {
            let types = prefixes
                .iter()
                .map(|p| Tree::Node(Node::glob("product", format!("{}*", escape_glob(p)))));
            let types = if prefixes.is_empty() {
                Tree::Everything
            } else {
                Tree::any(types)
            };
            Tree::all([Tree::Node(Node::exact("mission", *mission)), types])
        });
    Tree::any(products)
}

/// A test on a text property: the index's values for which it holds, spelled as STAC shows
/// them. Under a negation, the values for which it fails: items without the property have
/// none, so they match neither way.
fn keyword_tree(
    name: &str,
    field: &str,
    test: &Test,
    holds: bool,
    vocabulary: &dyn Vocabulary,
) -> Result<Tree, String> {
    if matches!(test, Test::IsNull) {
        let known = Tree::Node(Node::exists(field));
        return Ok(if holds { known.not() } else { known });
    }
    let lower = |l: &Literal| match l {
        Literal::Text(s) => Ok(s.to_lowercase()),
        other => Err(format!("'{name}' is a text, not {}", other.text())),
    };
    let check: Box<dyn Fn(&str) -> bool> = match test {
        Test::Compare(comparison, value) => {
            let value = lower(value)?;
            let comparison = *comparison;
            Box::new(move |v: &str| {
                let order = v.cmp(value.as_str());
                match comparison {
                    Comparison::Equal => order.is_eq(),
                    Comparison::NotEqual => order.is_ne(),
                    Comparison::Less => order.is_lt(),
                    Comparison::LessOrEqual => order.is_le(),
                    Comparison::Greater => order.is_gt(),
                    Comparison::GreaterOrEqual => order.is_ge(),
                }
            })
        }
        Test::Like(pattern) => {
            let pattern = pattern.clone();
            Box::new(move |v: &str| pattern.matches(v))
        }
        Test::In(values) => {
            let values = values.iter().map(lower).collect::<Result<Vec<_>, _>>()?;
            Box::new(move |v: &str| values.iter().any(|x| x == v))
        }
        Test::Between(low, high) => {
            let (low, high) = (lower(low)?, lower(high)?);
            Box::new(move |v: &str| low.as_str() <= v && v <= high.as_str())
        }
        Test::During(..) | Test::Intersects(_) | Test::IsNull => {
            return Err(format!("'{name}' is a text: no temporal or spatial test"));
        }
    };
    let matching: Vec<String> = vocabulary
        .values(field)?
        .into_iter()
        .filter(|value| {
            // `catalog:NAME` speaks the catalog's spelling (`T60WWV`), the STAC names STAC's.
            let spelled = if name.starts_with(STAC_PREFIX) {
                value.clone()
            } else {
                stac_text(field, value)
            };
            check(&spelled.to_lowercase()) == holds
        })
        .collect();
    Ok(if matching.is_empty() {
        Tree::Nothing
    } else {
        Tree::Node(Node::any_of(field, matching))
    })
}

/// A test on a whole-number property.
fn number_tree(name: &str, field: &str, test: &Test) -> Result<Tree, String> {
    let whole = |l: &Literal| -> Result<u64, String> {
        let n = match l {
            Literal::Number(n) => *n,
            Literal::Text(s) => s
                .parse::<f64>()
                .map_err(|_| format!("'{name}' is a number, not '{s}'"))?,
            Literal::Instant(_) => return Err(format!("'{name}' is a number, not a timestamp")),
        };
        if n < 0.0 || n.fract() != 0.0 || n > u64::MAX as f64 {
            return Err(format!("'{name}' takes a whole number, not {n}"));
        }
        Ok(n as u64)
    };
    let text = |l: &Literal| whole(l).map(|n| n.to_string());
    let range = |low: Bound<String>, high: Bound<String>| Tree::Node(Node::range(field, low, high));
    Ok(match test {
        Test::Compare(comparison, value) => {
            let v = text(value)?;
            compare_tree(field, *comparison, v)
        }
        Test::In(values) => Tree::any(
            values
                .iter()
                .map(|v| text(v).map(|v| Tree::Node(Node::exact(field, v))))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Test::Between(low, high) => {
            range(Bound::Included(text(low)?), Bound::Included(text(high)?))
        }
        Test::IsNull => Tree::Node(Node::exists(field)).not(),
        Test::Like(_) | Test::During(..) | Test::Intersects(_) => {
            return Err(format!(
                "'{name}' is a number: no text, temporal or spatial test"
            ))
        }
    })
}

/// A comparison of a number or date field with one value.
fn compare_tree(field: &str, comparison: Comparison, value: String) -> Tree {
    let range = |low, high| Tree::Node(Node::range(field, low, high));
    match comparison {
        Comparison::Equal => Tree::Node(Node::exact(field, value)),
        Comparison::NotEqual => Tree::all([
            Tree::Node(Node::exists(field)),
            Tree::Node(Node::exact(field, value)).not(),
        ]),
        Comparison::Less => range(Bound::Unbounded, Bound::Excluded(value)),
        Comparison::LessOrEqual => range(Bound::Unbounded, Bound::Included(value)),
        Comparison::Greater => range(Bound::Excluded(value), Bound::Unbounded),
        Comparison::GreaterOrEqual => range(Bound::Included(value), Bound::Unbounded),
    }
}

/// A test on a date property, with RFC 3339 instants.
fn date_tree(name: &str, field: &str, test: &Test) -> Result<Tree, String> {
    let text = |l: &Literal| -> Result<String, String> {
        match l {
            Literal::Instant(t) => Ok(canonical(*t)),
            Literal::Text(s) => instant(s).map(canonical),
            Literal::Number(n) => Err(format!("'{name}' is a date and time, not {n}")),
        }
    };
    let bound = |b: &Bound<Literal>| -> Result<Bound<String>, String> {
        Ok(match b {
            Bound::Included(v) => Bound::Included(text(v)?),
            Bound::Excluded(v) => Bound::Excluded(text(v)?),
            Bound::Unbounded => Bound::Unbounded,
        })
    };
    Ok(match test {
        Test::Compare(comparison, value) => compare_tree(field, *comparison, text(value)?),
        Test::Between(low, high) => Tree::Node(Node::range(
            field,
            Bound::Included(text(low)?),
            Bound::Included(text(high)?),
        )),
        Test::During(low, high) => match (low, high) {
            (Bound::Unbounded, Bound::Unbounded) => Tree::Node(Node::exists(field)),
            _ => Tree::Node(Node::range(field, bound(low)?, bound(high)?)),
        },
        Test::In(values) => Tree::any(
            values
                .iter()
                .map(|v| text(v).map(|v| Tree::Node(Node::exact(field, v))))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Test::IsNull => Tree::Node(Node::exists(field)).not(),
        Test::Like(_) | Test::Intersects(_) => {
            return Err(format!("'{name}' is a date: no text or spatial test"))
        }
    })
}

/// A short description of a CQL2 expression for messages.
fn describe(expr: &Expr) -> String {
    expr.to_text()
        .unwrap_or_else(|_| format!("{expr:?}"))
        .chars()
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few values of each keyword field, as the index holds them.
    struct Fixed;

    impl Vocabulary for Fixed {
        fn values(&self, field: &str) -> Result<Vec<String>, String> {
            let values: &[&str] = match field {
                "sat" => &["s1a", "s2a", "s2b"],
                "mission" => &["s1", "s2"],
                "tile" => &["t31udq", "t60wwv", "t60tym"],
                "collection" => &["s2a_prd_msil1c", "s1a_prd_grd"],
                _ => &[],
            };
            Ok(values.iter().map(|v| v.to_string()).collect())
        }
    }

    fn text(filter: &str) -> Result<Tree, String> {
        filter_tree(&cql2::parse_text(filter).unwrap(), &Fixed)
    }

    fn json(filter: &str) -> Result<Tree, String> {
        filter_tree(&cql2::parse_json(filter).unwrap(), &Fixed)
    }

    fn node(tree: Tree) -> Node {
        match tree {
            Tree::Node(node) => node,
            other => panic!("no node: {other:?}"),
        }
    }

    #[test]
    fn text_properties_match_the_index_values_spelled_as_stac() {
        assert_eq!(
            node(text("platform = 'Sentinel-2A'").unwrap()),
            Node::any_of("sat", ["s2a"])
        );
        assert_eq!(
            node(text("platform LIKE 'sentinel-2%'").unwrap()),
            Node::any_of("sat", ["s2a", "s2b"])
        );
        // Negated, a text test keeps the values it fails for: items without one match neither.
        assert_eq!(
            node(text("NOT platform LIKE 'sentinel-2%'").unwrap()),
            Node::any_of("sat", ["s1a"])
        );
        assert_eq!(
            node(text("\"grid:code\" IN ('MGRS-60WWV', 'MGRS-31UDQ')").unwrap()),
            Node::any_of("tile", ["t31udq", "t60wwv"])
        );
        assert_eq!(text("platform = 'landsat-9'").unwrap(), Tree::Nothing);
        // Under `catalog:`, values are spelled as the catalog spells them.
        assert_eq!(
            node(text("catalog:tile = 'T60WWV' AND catalog:sat = 'S2B'").unwrap()),
            Node::And(vec![
                Node::any_of("tile", ["t60wwv"]),
                Node::any_of("sat", ["s2b"])
            ])
        );
        let query: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"grid:code": {"startsWith": "MGRS-60", "endsWith": "YM"}, "mission": {"contains": "-1"}}"#,
        )
        .unwrap();
        assert_eq!(
            node(query_tree(&query, &Fixed).unwrap()),
            Node::And(vec![
                Node::any_of("tile", ["t60wwv", "t60tym"]),
                Node::any_of("tile", ["t60tym"]),
                Node::any_of("mission", ["s1"]),
            ])
        );
    }

    #[test]
    fn numbers_dates_and_ids_become_ranges_and_globs() {
        let orbit = |low, high| Node::range("orbit", low, high);
        assert_eq!(
            node(
                json(
                    r#"{"op": "between", "args": [{"property": "sat:relative_orbit"}, [10, 20]]}"#
                )
                .unwrap()
            ),
            orbit(Bound::Included("10".into()), Bound::Included("20".into()))
        );
        assert_eq!(
            node(text("sat:relative_orbit >= 5 AND sat:relative_orbit < 10").unwrap()),
            Node::And(vec![
                orbit(Bound::Included("5".into()), Bound::Unbounded),
                orbit(Bound::Unbounded, Bound::Excluded("10".into())),
            ])
        );
        // A value on the left mirrors the comparison.
        assert_eq!(
            node(text("10 > sat:relative_orbit").unwrap()),
            orbit(Bound::Unbounded, Bound::Excluded("10".into()))
        );
        // Under NOT, a number test matches only items that have the number.
        assert_eq!(
            node(text("NOT sat:relative_orbit = 7").unwrap()),
            Node::And(vec![Node::exists("orbit"), !Node::exact("orbit", "7")])
        );
        assert_eq!(
            node(text("datetime > TIMESTAMP('2021-04-08T06:39:23+02:00')").unwrap()),
            Node::range(
                "date",
                Bound::Excluded("2021-04-08T04:39:23Z".into()),
                Bound::Unbounded
            )
        );
        assert_eq!(
            node(json(r#"{"op": "t_intersects", "args": [{"property": "datetime"}, {"interval": ["2020-11-11T00:00:00Z", ".."]}]}"#).unwrap()),
            Node::range("date", Bound::Included("2020-11-11T00:00:00Z".into()), Bound::Unbounded)
        );
        let id = |glob: &str| Node::glob("name", glob);
        assert_eq!(node(text("id = 'S2A_x*'").unwrap()), id("S2A_x[*]"));
        assert_eq!(node(text("id LIKE 'S2A\\_%'").unwrap()), id("S2A_*"));
        assert_eq!(node(text("id = 'S2A_x.zip'").unwrap()), id("S2A_x.zip"));
        assert_eq!(text("id = 'a/S2A_x'").unwrap(), Tree::Nothing);
    }

    #[test]
    fn instruments_are_the_missions_and_product_types_that_carry_them() {
        assert_eq!(
            node(text("instruments IN ('msi', 'c-sar')").unwrap()),
            Node::Or(vec![
                Node::exact("mission", "S2"),
                Node::exact("mission", "S1")
            ])
        );
        assert_eq!(
            node(text("instruments = 'OLCI'").unwrap()),
            Node::And(vec![
                Node::exact("mission", "S3"),
                Node::Or(vec![
                    Node::glob("product", "OL_*"),
                    Node::glob("product", "SY_*")
                ]),
            ])
        );
        assert_eq!(text("instruments = 'oli'").unwrap(), Tree::Nothing);
    }

    #[test]
    fn unknown_values_follow_three_valued_logic() {
        assert_eq!(text("eo:cloud_cover < 10").unwrap(), Tree::Nothing);
        assert_eq!(text("NOT eo:cloud_cover < 10").unwrap(), Tree::Nothing);
        assert_eq!(text("eo:cloud_cover IS NULL").unwrap(), Tree::Everything);
        assert_eq!(
            node(text("eo:cloud_cover > 50 OR sat:relative_orbit IS NULL").unwrap()),
            !Node::exists("orbit")
        );
    }

    #[test]
    fn space_is_the_tiles_whose_square_meets_the_area() {
        let around_paris = "S_INTERSECTS(geometry, POLYGON((2 48, 3 48, 3 49, 2 49, 2 48)))";
        assert_eq!(
            node(text(around_paris).unwrap()),
            Node::any_of("tile", ["t31udq"])
        );
        // Across the antimeridian, only the tile that crosses it.
        let across = r#"{"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "MultiPolygon", "coordinates": [[[[179.5, 41], [180, 41], [180, 42], [179.5, 42], [179.5, 41]]], [[[-180, 41], [-179.5, 41], [-179.5, 42], [-180, 42], [-180, 41]]]]}]}"#;
        assert_eq!(
            node(json(across).unwrap()),
            Node::any_of("tile", ["t60tym"])
        );
        let bbox = "S_INTERSECTS(geometry, BBOX(179.5, 41, -179.5, 42))";
        assert_eq!(node(text(bbox).unwrap()), Node::any_of("tile", ["t60tym"]));
        assert_eq!(
            text("S_INTERSECTS(geometry, POINT(-100 -80))").unwrap(),
            Tree::Nothing
        );
        // Not meeting an area still needs a footprint.
        assert_eq!(
            node(text(&format!("NOT {around_paris}")).unwrap()),
            Node::And(vec![
                Node::exists("tile"),
                !Node::any_of("tile", ["t31udq"])
            ])
        );
    }

    #[test]
    fn what_cannot_be_answered_is_named() {
        for (filter, needle) in [
            ("colour = 'red'", "cannot filter on property 'colour'"),
            (
                "S_WITHIN(geometry, POINT(0 0))",
                "unsupported CQL2 operator 's_within'",
            ),
            ("platform > 5", "is a text, not 5"),
            ("sat:relative_orbit = 1.5", "whole number"),
            ("sat:relative_orbit LIKE '1%'", "is a number"),
            (
                "\"sat:relative_orbit\" + 1 = 5",
                "unsupported CQL2 operator '+'",
            ),
            ("datetime = 'yesterday'", "RFC 3339"),
            ("geometry = 'x'", "s_intersects"),
        ] {
            let problem = text(filter).unwrap_err();
            assert!(problem.contains(needle), "{filter}: {problem}");
        }
        let query: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"platform": {"near": "x"}}"#).unwrap();
        let problem = query_tree(&query, &Fixed).unwrap_err();
        assert!(
            problem.contains("unsupported query operator 'near'"),
            "{problem}"
        );
    }

    #[test]
    fn like_patterns_match_as_cql2_says() {
        let like = |p: &str, t: &str| Pattern::like(p).matches(t);
        assert!(like("sentinel%", "Sentinel-2A"));
        assert!(like("%2_", "sentinel-2a"));
        assert!(!like("%2_", "sentinel-2"));
        assert!(like("a%b%c", "aXbYbZc"));
        assert!(!like("a\\%", "ab"));
        assert!(like("a\\%", "a%"));
        assert_eq!(Pattern::like("a_b%\\_").glob(), "a?b*_");
        assert!(Pattern::around("-34R", true, true).matches("MGRS-34RFN"));
    }
}
