//! The field table: every field users query, in one place, with how it is indexed, where its
//! value comes from, how query values are read and its STAC property.
//!
//! The schema, document building, the search columns, the query compiler and STAC read this
//! table: adding a field means adding one entry here (and bumping the schema version). The
//! field names are a contract with users' scripts: keep them stable.

use crate::record::{FileRecord, State};
use crate::sentinel::Product;

/// How a field is queried, and so how it is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// The absolute path: exact match or glob. Indexed as a dictionary-encoded column.
    Path,
    /// The file name: any token of it, or a glob over the whole name. Indexed as tokens of the
    /// name tokenizer; globs run over the path column.
    Name,
    /// A short case-insensitive value such as a satellite or tile. Indexed whole and lowercased.
    Keyword,
    /// An unsigned integer: exact, range or comparison. A column only.
    Number,
    /// A UTC instant, to the second: a year, month, day or full timestamp, ranges and
    /// comparisons. A column only.
    Date,
}

/// How a field reads query values, beyond what its kind does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryRule {
    /// Nothing more.
    Plain,
    /// A keyword users often give without its leading letter: a value of `len` characters
    /// whose first `digits` are digits gets `letter` in front (tile `60WWV` is `T60WWV`).
    LeadingLetter {
        /// The letter the values start with, in names.
        letter: char,
        /// The length of a value without it.
        len: usize,
        /// How many of its first characters are digits.
        digits: usize,
    },
    /// A number that may keep the letter it has in names (orbit `R122`).
    NumberAfter(char),
    /// A size in bytes, which takes decimal (`k`, `M`, `G`, `T`) and binary (`KiB`..`TiB`)
    /// units.
    Bytes,
    /// A keyword with these values only; any other is refused.
    OneOf(&'static [&'static str]),
}

/// One field's value in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// Text of a path, name or keyword field.
    Text(&'a str),
    /// An unsigned integer.
    Number(u64),
    /// Seconds since the Unix epoch.
    Date(i64),
}

/// What a file's document is built from: its record and what its path says.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The path and `stat` facts.
    pub record: &'a FileRecord,
    /// The file name.
    pub name: &'a str,
    /// The collection directory, in the EODC layout.
    pub collection: Option<&'a str>,
    /// The fields of a Sentinel name, when the name is one.
    pub product: Option<&'a Product>,
}

/// One queryable field.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// The name users query it by.
    pub name: &'static str,
    /// How it is queried and indexed.
    pub kind: FieldKind,
    /// Whether it is also a column (a fast field): numbers and dates always are, the path is
    /// nothing else, `state` is one because every answer's summary reads it, and keywords of
    /// few values are, so that a conjunction checks a broad one (`sat:S2A`, a quarter of the
    /// archive) in its column instead of seeking through its postings (see
    /// `query::conjunction`).
    pub column: bool,
    /// How query values are read.
    pub rule: QueryRule,
    /// The STAC item property holding it, if items show it.
    pub stac_property: Option<&'static str>,
    /// For a date: whether its calendar year, month and day are also indexed as terms, so that
    /// a range of whole days, months or years reads those terms' documents instead of
    /// scanning the column of every document (see `schema::CatalogSchema::calendar`).
    pub calendar: bool,
    /// Reads its value from a file's facts: see [`FieldDef::value`].
    read: ValueOf,
}

/// The absolute path.
pub const PATH: FieldDef = FieldDef {
    name: "path",
    kind: FieldKind::Path,
    column: true,
    rule: QueryRule::Plain,
    stac_property: None,
    calendar: false,
    read: |f| Some(FieldValue::Text(&f.record.path)),
};

/// The file name.
pub const NAME: FieldDef = FieldDef {
    name: "name",
    kind: FieldKind::Name,
    column: false,
    rule: QueryRule::Plain,
    stac_property: None,
    calendar: false,
    read: |f| Some(FieldValue::Text(f.name)),
};

/// The collection directory.
pub const COLLECTION: FieldDef =
    few_values(keyword("collection", Some("catalog:collection"), |f| {
        f.collection.map(FieldValue::Text)
    }));

/// The mission.
pub const MISSION: FieldDef = few_values(keyword("mission", Some("constellation"), |f| {
    text(f.product?.mission.as_deref())
}));

/// The satellite.
pub const SAT: FieldDef = few_values(keyword("sat", Some("platform"), |f| {
    text(f.product?.sat.as_deref())
}));

/// The product type.
pub const PRODUCT: FieldDef = few_values(keyword("product", Some("product:type"), |f| {
    text(f.product?.product.as_deref())
}));

/// The processing level.
pub const LEVEL: FieldDef = few_values(keyword("level", Some("processing:level"), |f| {
    text(f.product?.level.as_deref())
}));

/// The Sentinel-1 beam mode.
pub const MODE: FieldDef = few_values(keyword("mode", Some("sar:instrument_mode"), |f| {
    text(f.product?.mode.as_deref())
}));

/// The Sentinel-2 MGRS tile.
pub const TILE: FieldDef = FieldDef {
    rule: QueryRule::LeadingLetter {
        letter: 'T',
        len: 5,
        digits: 2,
    },
    ..keyword("tile", Some("grid:code"), |f| {
        text(f.product?.tile.as_deref())
    })
};

/// The relative orbit.
pub const ORBIT: FieldDef = FieldDef {
    rule: QueryRule::NumberAfter('R'),
    ..number("orbit", Some("sat:relative_orbit"), |f| {
        f.product?.orbit.map(FieldValue::Number)
    })
};

/// The absolute orbit.
pub const ABSORBIT: FieldDef = number("absorbit", Some("sat:absolute_orbit"), |f| {
    f.product?.absorbit.map(FieldValue::Number)
});

/// The Sentinel-2 processing baseline.
pub const BASELINE: FieldDef = FieldDef {
    rule: QueryRule::LeadingLetter {
        letter: 'N',
        len: 4,
        digits: 4,
    },
    ..keyword("baseline", Some("catalog:baseline"), |f| {
        text(f.product?.baseline.as_deref())
    })
};

/// The sensing start, which most queries narrow by.
pub const DATE: FieldDef = FieldDef {
    calendar: true,
    ..date("date", Some("datetime"), |f| seconds(f.product?.date))
};

/// The sensing stop.
pub const END: FieldDef = date("end", Some("end_datetime"), |f| seconds(f.product?.end));

/// The apparent size in bytes.
pub const SIZE: FieldDef = FieldDef {
    rule: QueryRule::Bytes,
    ..number("size", Some("file:size"), |f| {
        f.record.size.map(FieldValue::Number)
    })
};

/// The modification time.
pub const MTIME: FieldDef = date("mtime", None, |f| f.record.mtime.map(FieldValue::Date));

/// On disk or on tape.
pub const STATE: FieldDef = FieldDef {
    rule: QueryRule::OneOf(&[State::Disk.as_str(), State::Tape.as_str()]),
    ..few_values(keyword("state", Some("catalog:state"), |f| {
        f.record.state.map(|s| FieldValue::Text(s.as_str()))
    }))
};

/// Every queryable field in the order users see them.
pub const FIELDS: &[FieldDef] = &[
    PATH, NAME, COLLECTION, MISSION, SAT, PRODUCT, LEVEL, MODE, TILE, ORBIT, ABSORBIT, BASELINE,
    DATE, END, SIZE, MTIME, STATE,
];

/// The prefix under which STAC items and searches name any field by its own name
/// (`catalog:orbit`), besides its [`FieldDef::stac_property`].
pub const STAC_PREFIX: &str = "catalog:";

/// The type of [`FieldDef::value`].
type ValueOf = for<'a> fn(&Facts<'a>) -> Option<FieldValue<'a>>;

const fn keyword(
    name: &'static str,
    stac_property: Option<&'static str>,
    read: ValueOf,
) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Keyword,
        column: false,
        rule: QueryRule::Plain,
        stac_property,
        calendar: false,
        read,
    }
}

/// A keyword of few values, which is also a column.
const fn few_values(keyword: FieldDef) -> FieldDef {
    FieldDef {
        column: true,
        ..keyword
    }
}

const fn number(
    name: &'static str,
    stac_property: Option<&'static str>,
    read: ValueOf,
) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Number,
        column: true,
        rule: QueryRule::Plain,
        stac_property,
        calendar: false,
        read,
    }
}

const fn date(name: &'static str, stac_property: Option<&'static str>, read: ValueOf) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Date,
        column: true,
        rule: QueryRule::Plain,
        stac_property,
        calendar: false,
        read,
    }
}

fn text(value: Option<&str>) -> Option<FieldValue<'_>> {
    value.map(FieldValue::Text)
}

fn seconds<'a>(instant: Option<time::OffsetDateTime>) -> Option<FieldValue<'a>> {
    instant.map(|t| FieldValue::Date(t.unix_timestamp()))
}

/// The names of all queryable fields, comma-separated, for error messages.
pub fn field_list() -> String {
    FIELDS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// The field of a name.
pub fn field(name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.name == name)
}

/// Looks up the kind of a queryable field.
pub fn field_kind(name: &str) -> Option<FieldKind> {
    field(name).map(|f| f.kind)
}

/// The field a STAC property names: its [`FieldDef::stac_property`], or any field by its own
/// name after [`STAC_PREFIX`] (`catalog:orbit`).
pub fn field_by_stac_property(property: &str) -> Option<&'static FieldDef> {
    FIELDS
        .iter()
        .find(|f| f.stac_property == Some(property))
        .or_else(|| field(property.strip_prefix(STAC_PREFIX)?))
}

impl FieldDef {
    /// The field's value for a file, if it has one.
    pub fn value<'a>(&self, facts: &Facts<'a>) -> Option<FieldValue<'a>> {
        (self.read)(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{collection_of, FileRecord};
    use crate::sentinel::parse_name;

    #[test]
    fn every_field_of_a_sentinel_file_has_a_value_of_its_kind() {
        let record = FileRecord {
            path: "/eodc/products/copernicus.eu/s2a_prd_msil1c/2017/01/01/\
                   S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T100409.zip"
                .to_string(),
            size: Some(800_000_000),
            mtime: Some(1_500_000_000),
            state: Some(State::Tape),
        };
        let name = record.name();
        let product = parse_name(name);
        let facts = Facts {
            record: &record,
            name,
            collection: collection_of(&record.path),
            product: product.as_ref(),
        };
        for field in FIELDS {
            let value = field.value(&facts);
            let fits = match (field.kind, value) {
                (
                    FieldKind::Path | FieldKind::Name | FieldKind::Keyword,
                    Some(FieldValue::Text(_)),
                ) => true,
                (FieldKind::Number, Some(FieldValue::Number(_))) => true,
                (FieldKind::Date, Some(FieldValue::Date(_))) => true,
                // Sentinel-2 names carry no beam mode, absolute orbit or sensing stop.
                (_, None) => ["mode", "absorbit", "end"].contains(&field.name),
                _ => false,
            };
            assert!(fits, "{}: {value:?}", field.name);
        }
        assert_eq!(TILE.value(&facts), Some(FieldValue::Text("T31NFF")));
        assert_eq!(ORBIT.value(&facts), Some(FieldValue::Number(122)));
        assert_eq!(STATE.value(&facts), Some(FieldValue::Text("tape")));
        assert_eq!(
            COLLECTION.value(&facts),
            Some(FieldValue::Text("s2a_prd_msil1c"))
        );
    }

    #[test]
    fn names_and_stac_properties_are_unique() {
        for (i, a) in FIELDS.iter().enumerate() {
            for b in &FIELDS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert!(a.stac_property.is_none() || a.stac_property != b.stac_property);
            }
        }
    }

    #[test]
    fn stac_properties_name_fields() {
        let name = |property: &str| field_by_stac_property(property).map(|f| f.name);
        assert_eq!(name("grid:code"), Some("tile"));
        assert_eq!(name("sat:relative_orbit"), Some("orbit"));
        assert_eq!(name("catalog:orbit"), Some("orbit"));
        assert_eq!(name("catalog:mtime"), Some("mtime"));
        assert_eq!(name("orbit"), None);
        assert_eq!(name("catalog:nothing"), None);
    }
}
