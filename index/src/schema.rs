//! The index schema: the field names users query, and how each is indexed.
//!
//! The field names are a contract with users' scripts: keep them stable.

use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer, TokenStream, Tokenizer};

use crate::tokenizer::NameTokenizer;
use tantivy::Index;

/// Version of the on-disk layout; bumped whenever fields or their indexing change, so an old index
/// is rebuilt rather than misread.
pub const SCHEMA_VERSION: u32 = 3;

/// Tokenizer of `name`: see [`NameTokenizer`].
const NAME_TOKENIZER: &str = "catalog_name";
/// Tokenizer of keyword fields: the whole value, lowercased, so matches ignore case.
const KEYWORD_TOKENIZER: &str = "catalog_keyword";

/// How a field is queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// The absolute path: exact match or glob.
    Path,
    /// The file name: any token of it, or a glob over the whole name.
    Name,
    /// A short case-insensitive value such as a satellite or tile.
    Keyword,
    /// An unsigned integer: exact, range or comparison.
    Number,
    /// A UTC instant: a year, month, day or full timestamp, ranges and comparisons.
    Date,
}

/// Every queryable field in the order users see them, with its kind.
pub const FIELDS: &[(&str, FieldKind)] = &[
    ("path", FieldKind::Path),
    ("name", FieldKind::Name),
    ("collection", FieldKind::Keyword),
    ("mission", FieldKind::Keyword),
    ("sat", FieldKind::Keyword),
    ("product", FieldKind::Keyword),
    ("level", FieldKind::Keyword),
    ("mode", FieldKind::Keyword),
    ("tile", FieldKind::Keyword),
    ("orbit", FieldKind::Number),
    ("absorbit", FieldKind::Number),
    ("baseline", FieldKind::Keyword),
    ("date", FieldKind::Date),
    ("end", FieldKind::Date),
    ("size", FieldKind::Number),
    ("mtime", FieldKind::Date),
    ("state", FieldKind::Keyword),
];

/// The names of all queryable fields, comma-separated, for error messages.
pub fn field_list() -> String {
    FIELDS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Looks up the kind of a queryable field.
pub fn field_kind(name: &str) -> Option<FieldKind> {
    FIELDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, kind)| *kind)
}

/// The tantivy schema with direct handles to every field.
#[derive(Debug, Clone)]
pub struct CatalogSchema {
    /// The tantivy schema itself.
    pub schema: Schema,
    /// Absolute path: a dictionary-encoded column, which serves output, exact lookups and globs.
    pub path: Field,
    /// File name tokens.
    pub name: Field,
    /// Keyword and numeric fields, by name.
    fields: Vec<(&'static str, Field)>,
}

impl CatalogSchema {
    /// Builds the schema of [`SCHEMA_VERSION`].
    pub fn new() -> Self {
        let mut builder = Schema::builder();
        // Never scored: no frequencies, positions or field norms, which would only cost space.
        let keyword = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(KEYWORD_TOKENIZER)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        );
        // The path column's dictionary holds every path once, sorted, in compressed blocks:
        // smaller than a stored field, and it streams a whole answer's paths in order.
        let path = builder.add_text_field("path", TextOptions::default().set_fast("raw"));
        let name = builder.add_text_field(
            "name",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(NAME_TOKENIZER)
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false),
            ),
        );
        let mut fields = Vec::new();
        for &(field_name, kind) in FIELDS {
            let field = match kind {
                FieldKind::Path | FieldKind::Name => continue,
                // The state of every hit feeds the on-disk / on-tape summary, so it is a column too.
                FieldKind::Keyword if field_name == "state" => {
                    builder.add_text_field(field_name, keyword.clone().set_fast("raw"))
                }
                FieldKind::Keyword => builder.add_text_field(field_name, keyword.clone()),
                // Numbers and dates are columns only: queries on them are range scans, which
                // cost less than term indexes of near-unique values would.
                FieldKind::Number => {
                    builder.add_u64_field(field_name, NumericOptions::default().set_fast())
                }
                FieldKind::Date => builder.add_date_field(
                    field_name,
                    DateOptions::default()
                        .set_fast()
                        .set_precision(DateTimePrecision::Seconds),
                ),
            };
            fields.push((field_name, field));
        }
        CatalogSchema {
            schema: builder.build(),
            path,
            name,
            fields,
        }
    }

    /// The field of a keyword, number or date field name; `None` for others.
    pub fn field(&self, name: &str) -> Option<Field> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
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
