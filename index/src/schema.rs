//! The index schema, built from the field table of [`crate::fields`], and the tokenizers it
//! names.

use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer, TokenStream, Tokenizer};

use crate::fields::{self, FieldDef};
use crate::tokenizer::NameTokenizer;
use tantivy::Index;

/// Version of the on-disk layout; bumped whenever fields or their indexing change, so an old index
/// is rebuilt rather than misread.
pub const SCHEMA_VERSION: u32 = 5;

/// Tokenizer of `name`: see [`NameTokenizer`].
const NAME_TOKENIZER: &str = "catalog_name";
/// Tokenizer of keyword fields: the whole value, lowercased, so matches ignore case.
const KEYWORD_TOKENIZER: &str = "catalog_keyword";

pub use crate::fields::{field_kind, field_list, FieldKind};

/// The name and kind of every field of [`crate::fields::FIELDS`], in its order, for callers
/// that need no more of the table.
pub const FIELDS: &[(&str, FieldKind)] = &NAMES_AND_KINDS;

const NAMES_AND_KINDS: [(&str, FieldKind); fields::FIELDS.len()] = {
    let mut pairs = [("", FieldKind::Path); fields::FIELDS.len()];
    let mut i = 0;
    while i < pairs.len() {
        pairs[i] = (fields::FIELDS[i].name, fields::FIELDS[i].kind);
        i += 1;
    }
    pairs
};

/// Where the table puts the path and the name, checked when compiling.
const PATH_POSITION: usize = 0;
const NAME_POSITION: usize = 1;
const _: () = assert!(
    matches!(fields::FIELDS[PATH_POSITION].kind, FieldKind::Path)
        && matches!(fields::FIELDS[NAME_POSITION].kind, FieldKind::Name)
);

/// The tantivy schema with direct handles to every field.
#[derive(Debug, Clone)]
pub struct CatalogSchema {
    /// The tantivy schema itself.
    pub schema: Schema,
    /// Absolute path: a dictionary-encoded column, which serves output, exact lookups and globs.
    pub path: Field,
    /// File name tokens.
    pub name: Field,
    /// The handle of each field of [`fields::FIELDS`], in its order.
    handles: Vec<Field>,
    /// For each field of [`fields::FIELDS`] with a calendar, the handle of its companion field
    /// `<name>_calendar`, which holds the terms of [`calendar_term`] for each of its values.
    calendars: Vec<Option<Field>>,
}

/// A calendar period of a date: see [`calendar_term`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// `2019`.
    Year,
    /// `2019-03`.
    Month,
    /// `2019-03-01`.
    Day,
}

/// The term of the `period` that holds `date`, as a calendar field indexes it.
pub fn calendar_term(date: time::Date, period: Period) -> String {
    let (year, month, day) = (date.year(), u8::from(date.month()), date.day());
    match period {
        Period::Year => format!("{year:04}"),
        Period::Month => format!("{year:04}-{month:02}"),
        Period::Day => format!("{year:04}-{month:02}-{day:02}"),
    }
}

impl CatalogSchema {
    /// Builds the schema of [`SCHEMA_VERSION`] from the field table.
    pub fn new() -> Self {
        let mut builder = Schema::builder();
        // Never scored: no frequencies, positions or field norms, which would only cost space.
        let indexed = |tokenizer| {
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false)
        };
        let handles: Vec<Field> = fields::FIELDS
            .iter()
            .map(|field| {
                let FieldDef {
                    name, kind, column, ..
                } = *field;
                match kind {
                    // The path column's dictionary holds every path once, sorted, in compressed
                    // blocks: smaller than a stored field, and it streams a whole answer's paths
                    // in order.
                    FieldKind::Path => {
                        builder.add_text_field(name, TextOptions::default().set_fast("raw"))
                    }
                    FieldKind::Name | FieldKind::Keyword => {
                        let tokenizer = if kind == FieldKind::Name {
                            NAME_TOKENIZER
                        } else {
                            KEYWORD_TOKENIZER
                        };
                        let options =
                            TextOptions::default().set_indexing_options(indexed(tokenizer));
                        let options = if column {
                            options.set_fast("raw")
                        } else {
                            options
                        };
                        builder.add_text_field(name, options)
                    }
                    // Numbers and dates are columns only: queries on them are range scans,
                    // which cost less than term indexes of near-unique values would.
                    FieldKind::Number => {
                        builder.add_u64_field(name, NumericOptions::default().set_fast())
                    }
                    FieldKind::Date => builder.add_date_field(
                        name,
                        DateOptions::default()
                            .set_fast()
                            .set_precision(DateTimePrecision::Seconds),
                    ),
                }
            })
            .collect();
        let calendars = fields::FIELDS
            .iter()
            .map(|field| {
                field.calendar.then(|| {
                    builder.add_text_field(
                        &format!("{}_calendar", field.name),
                        TextOptions::default().set_indexing_options(indexed("raw")),
                    )
                })
            })
            .collect();
        CatalogSchema {
            schema: builder.build(),
            path: handles[PATH_POSITION],
            name: handles[NAME_POSITION],
            handles,
            calendars,
        }
    }

    /// The handle of a field by its name.
    pub fn field(&self, name: &str) -> Option<Field> {
        fields::FIELDS
            .iter()
            .position(|f| f.name == name)
            .map(|i| self.handles[i])
    }

    /// The companion field holding the calendar terms of the field `name`, if it has one.
    pub fn calendar(&self, name: &str) -> Option<Field> {
        let position = fields::FIELDS.iter().position(|f| f.name == name)?;
        self.calendars[position]
    }

    /// Every field of the table with its handle, in the table's order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static FieldDef, Field)> + '_ {
        fields::FIELDS.iter().zip(self.handles.iter().copied())
    }

    /// Registers the tokenizers this schema names on an index.
    pub fn register_tokenizers(index: &Index) {
        let tokenizers = index.tokenizers();
        tokenizers.register(NAME_TOKENIZER, NameTokenizer::default());
        tokenizers.register(
            KEYWORD_TOKENIZER,
            TextAnalyzer::builder(RawTokenizer::default())
                .filter(LowerCaser)
                .build(),
        );
    }

    /// Splits a name into the lowercase tokens `name` is indexed with.
    pub fn name_tokens(text: &str) -> Vec<String> {
        let mut tokenizer = NameTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut tokens = Vec::new();
        while let Some(token) = stream.next() {
            tokens.push(token.text.clone());
        }
        tokens
    }
}

impl Default for CatalogSchema {
    fn default() -> Self {
        Self::new()
    }
}
