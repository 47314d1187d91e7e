//! Totals of each segment by its keyword columns and sensing month, kept beside the segment in
//! `totals-<segment>.bin`: the totals of a conjunction of exact keywords and whole months add
//! up rows instead of reading the columns of every match. `--count` of a year of one satellite
//! at 1.5×10^8 documents read 1.4×10^7 matches at 17 ns each (236 ms); a segment of 2×10^7
//! documents holds some 1.5×10^4 rows, a tenth of them in a year.
//!
//! The build writes the file of every segment it leaves without one, once its merges are done,
//! and removes the files of segments gone. A segment never changes once written, so its totals
//! stay true of it. Documents deleted from it later are taken off when counting: the build also
//! writes the totals of a segment's deleted documents, as of its last deletion, since reading
//! them one by one at every count took 100 ms for 10^5 deletions at 1.5×10^8 documents (their
//! columns' pages are scattered); without that file they are still read one by one. A segment
//! whose rows would not be far fewer than its documents gets no file (see
//! [`SegmentTotals::pays`]): a small one, or an index of few documents. A segment without its
//! file (also in an index built before, or read while the build writes them) is counted by
//! reading its columns, as every other query is.

use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::iter::{IntoParallelRefIterator, ParallelIterator};
use tantivy::columnar::Column;
use tantivy::directory::Directory;
use tantivy::{DocId, Index, ReloadPolicy, SegmentReader};

use crate::directory::ReadOnlyDirectory;
use crate::error::{CatalogError, Result};
use crate::fields::{self, FieldDef, FieldKind, FIELDS};
use crate::query::keyword_ords;
use crate::search::{Columns, Summary};

const PREFIX: &str = "totals-";
const SUFFIX: &str = ".bin";
/// The first bytes of a totals file; the digit is the version of its layout.
const MAGIC: &[u8; 8] = b"CTOTALS1";

/// Whether a field is a keyword column, and so a key of the rows.
const fn is_key(field: &FieldDef) -> bool {
    matches!(field.kind, FieldKind::Keyword) && field.column
}

/// How many keyword columns there are.
const KEYWORDS: usize = {
    let (mut count, mut i) = (0, 0);
    while i < FIELDS.len() {
        if is_key(&FIELDS[i]) {
            count += 1;
        }
        i += 1;
    }
    count
};

/// The keyword columns, in the field table's order: the order of a row's ordinals.
fn keyword_fields() -> impl Iterator<Item = &'static FieldDef> {
    FIELDS.iter().filter(|field| is_key(field))
}

/// The position of a keyword column among [`keyword_fields`].
pub(crate) fn keyword_position(name: &str) -> Option<usize> {
    keyword_fields().position(|field| field.name == name)
}

/// A file without a sensing date.
const NO_MONTH: i32 = i32::MIN;
/// A file without a value in a keyword column.
const NO_ORD: u32 = u32::MAX;

/// Months counted from year 0: January 2019 is 2019 × 12.
pub(crate) fn month_index(date: time::Date) -> i32 {
    date.year() * 12 + i32::from(u8::from(date.month())) - 1
}

fn month_of_seconds(seconds: i64) -> i32 {
    // 2,440,588 is the Julian day of 1970-01-01.
    i32::try_from(seconds.div_euclid(86_400) + 2_440_588)
        .ok()
        .and_then(|day| time::Date::from_julian_day(day).ok())
        .map_or(NO_MONTH, month_index)
}

/// What a query asks of the totals: every one of some exact keyword values, and a sensing date
/// in a range of whole months.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Each value by the position of its column among the keyword columns, lowercase.
    pub keywords: Vec<(usize, String)>,
    /// The months of [`month_index`] the date lies in; `None` when the query asks no date.
    pub months: Option<Range<i32>>,
}

impl Tally {
    /// Any date at all, as a range of months.
    pub const ANY_MONTH: Range<i32> = NO_MONTH + 1..i32::MAX;
}

/// A group of documents: a sensing month and an ordinal of each keyword column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    month: i32,
    ords: [u32; KEYWORDS],
}

/// The files and bytes of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    key: Key,
    files: u64,
    bytes: u64,
}

const ROW_BYTES: usize = 4 + 4 * KEYWORDS + 8 + 8;
const HEADER_BYTES: usize = MAGIC.len() + 4 + 4 + 8;

/// The columns a row's key and sums are read from.
struct KeyColumns {
    keywords: Vec<Option<Column<u64>>>,
    date: Column<tantivy::DateTime>,
    size: Column<u64>,
}

impl KeyColumns {
    const BLOCK: usize = 1024;

    fn open(reader: &SegmentReader) -> tantivy::Result<KeyColumns> {
        let fast = reader.fast_fields();
        let keywords = keyword_fields()
            .map(|field| Ok(fast.str(field.name)?.map(|column| column.ords().clone())))
            .collect::<tantivy::Result<_>>()?;
        Ok(KeyColumns {
            keywords,
            date: fast.date(fields::DATE.name)?,
            size: fast.u64(fields::SIZE.name)?,
        })
    }

    /// Hands `add` the key and size of each of `docs`, read a column at a time.
    fn read(&self, docs: &[DocId], mut add: impl FnMut(Key, u64)) {
        const BLOCK: usize = KeyColumns::BLOCK;
        for docs in docs.chunks(BLOCK) {
            let mut keys = [Key {
                month: NO_MONTH,
                ords: [NO_ORD; KEYWORDS],
            }; BLOCK];
            let keys = &mut keys[..docs.len()];
            let mut values = [None; BLOCK];
            let values = &mut values[..docs.len()];
            for (position, column) in self.keywords.iter().enumerate() {
                let Some(column) = column else { continue };
                column.first_vals(docs, values);
                for (key, ord) in keys.iter_mut().zip(values.iter()) {
                    key.ords[position] = ord.map_or(NO_ORD, |ord| ord as u32);
                }
            }
            let mut dates = [None; BLOCK];
            let dates = &mut dates[..docs.len()];
            self.date.first_vals(docs, dates);
            for (key, date) in keys.iter_mut().zip(dates.iter()) {
                key.month = date.map_or(NO_MONTH, |d| month_of_seconds(d.into_timestamp_secs()));
            }
            self.size.first_vals(docs, values);
            for (key, size) in keys.iter().zip(values.iter()) {
                add(*key, size.unwrap_or(0));
            }
        }
    }
}

/// The totals of one segment, sorted by month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentTotals {
    /// Documents in the segment, deleted ones included: the file is of this segment only.
    max_doc: u32,
    rows: Vec<Row>,
    /// Whether the rows leave out the documents the segment's reader sees deleted.
    deletions_counted: bool,
}

impl SegmentTotals {
    /// The totals of `docs` of `reader`, which are sorted.
    fn compute(
        reader: &SegmentReader,
        docs: impl Iterator<Item = DocId>,
    ) -> tantivy::Result<SegmentTotals> {
        let columns = KeyColumns::open(reader)?;
        let mut groups: HashMap<Key, (u64, u64)> = HashMap::new();
        let mut block = Vec::with_capacity(KeyColumns::BLOCK);
        let mut add = |block: &[DocId]| {
            columns.read(block, |key, size| {
                let group = groups.entry(key).or_default();
                group.0 += 1;
                group.1 += size;
            });
        };
        for doc in docs {
            block.push(doc);
            if block.len() == KeyColumns::BLOCK {
                add(&block);
                block.clear();
            }
        }
        add(&block);
        let mut rows: Vec<Row> = groups
            .into_iter()
            .map(|(key, (files, bytes))| Row { key, files, bytes })
            .collect();
        rows.sort_unstable_by_key(|row| row.key);
        Ok(SegmentTotals {
            max_doc: reader.max_doc(),
            rows,
            deletions_counted: false,
        })
    }

    /// Takes off the rows of `deleted`, the totals of this segment's deleted documents;
    /// `None` when they are not all among these rows.
    fn less(mut self, deleted: &SegmentTotals) -> Option<SegmentTotals> {
        for gone in &deleted.rows {
            let at = self
                .rows
                .binary_search_by_key(&gone.key, |row| row.key)
                .ok()?;
            let row = &mut self.rows[at];
            row.files = row.files.checked_sub(gone.files)?;
            row.bytes = row.bytes.checked_sub(gone.bytes)?;
        }
        self.deletions_counted = true;
        Some(self)
    }

    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_BYTES + self.rows.len() * ROW_BYTES);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&self.max_doc.to_le_bytes());
        bytes.extend_from_slice(&(KEYWORDS as u32).to_le_bytes());
        bytes.extend_from_slice(&(self.rows.len() as u64).to_le_bytes());
        for row in &self.rows {
            bytes.extend_from_slice(&row.key.month.to_le_bytes());
            for ord in row.key.ords {
                bytes.extend_from_slice(&ord.to_le_bytes());
            }
            bytes.extend_from_slice(&row.files.to_le_bytes());
            bytes.extend_from_slice(&row.bytes.to_le_bytes());
        }
        bytes
    }

    /// The totals in `bytes`; `None` unless they are whole and of this layout.
    fn decode(bytes: &[u8]) -> Option<SegmentTotals> {
        let mut fields = Fields(bytes.strip_prefix(MAGIC)?);
        let max_doc = fields.u32()?;
        if fields.u32()? as usize != KEYWORDS {
            return None;
        }
        let count = usize::try_from(fields.u64()?).ok()?;
        if fields.0.len() != count.checked_mul(ROW_BYTES)? {
            return None;
        }
        let mut rows = Vec::with_capacity(count);
        for _ in 0..count {
            let month = fields.u32()? as i32;
            let mut ords = [NO_ORD; KEYWORDS];
            for ord in &mut ords {
                *ord = fields.u32()?;
            }
            let (files, bytes) = (fields.u64()?, fields.u64()?);
            rows.push(Row {
                key: Key { month, ords },
                files,
                bytes,
            });
        }
        rows.is_sorted_by_key(|row| row.key)
            .then_some(SegmentTotals {
                max_doc,
                rows,
                deletions_counted: false,
            })
    }

    /// Whether reading these totals costs less than reading the columns of the documents they
    /// add up: a row costs about as much to read as a document's columns, and a query reads
    /// every row of its months, against the documents its rarest term matches.
    fn pays(&self) -> bool {
        self.rows.len() * Self::DOCUMENTS_PER_ROW <= self.max_doc as usize
    }

    /// See [`SegmentTotals::pays`]: a year is a tenth of the documents, and 64 leaves room.
    const DOCUMENTS_PER_ROW: usize = 64;

    /// The file's bytes: sorted rows compress to a fifth with zstd.
    fn compressed(&self) -> io::Result<Vec<u8>> {
        zstd::bulk::compress(&self.encode(), 3)
    }

    /// The totals of the segment `reader` reads, from its file in `generation`, less those of
    /// its deleted documents where their file is there too; `None` when it has no totals that
    /// are whole and of this segment.
    pub(crate) fn read(generation: &Path, reader: &SegmentReader) -> Option<SegmentTotals> {
        let load = |path: PathBuf| {
            let bytes = zstd::decode_all(std::fs::File::open(path).ok()?).ok()?;
            SegmentTotals::decode(&bytes).filter(|totals| totals.max_doc == reader.max_doc())
        };
        let totals = load(file_path(generation, reader, Part::All))?;
        if !reader.has_deletes() {
            return Some(totals);
        }
        let deleted = load(file_path(generation, reader, Part::Deleted)).filter(|deleted| {
            let files: u64 = deleted.rows.iter().map(|row| row.files).sum();
            files == u64::from(reader.num_deleted_docs())
        });
        match deleted {
            Some(deleted) => totals.clone().less(&deleted).or(Some(totals)),
            None => Some(totals),
        }
    }

    /// The totals of the live documents of `reader` that match `tally`; `columns` are the
    /// segment's, and tell a state from its ordinal.
    pub(crate) fn summary(
        &self,
        tally: &Tally,
        directory: &ReadOnlyDirectory,
        reader: &SegmentReader,
        columns: &Columns,
    ) -> tantivy::Result<Summary> {
        let fast = reader.fast_fields();
        let mut accepted = Vec::with_capacity(tally.keywords.len());
        for (position, value) in &tally.keywords {
            let name = keyword_fields()
                .nth(*position)
                .expect("a keyword column")
                .name;
            let Some(column) = fast.str(name)? else {
                return Ok(Summary::default());
            };
            accepted.push((*position, keyword_ords(&column, value)?));
        }
        let months = tally.months.clone().unwrap_or(i32::MIN..i32::MAX);
        let matches = |key: &Key| {
            months.contains(&key.month)
                && accepted
                    .iter()
                    .all(|(position, ords)| ords.contains(&u64::from(key.ords[*position])))
        };
        let state_position =
            keyword_position(fields::STATE.name).expect("state is a keyword column");
        let state = |key: &Key| {
            let ord = key.ords[state_position];
            columns.state_of((ord != NO_ORD).then_some(u64::from(ord)))
        };
        let start = self
            .rows
            .partition_point(|row| row.key.month < months.start);
        let mut summary = Summary::default();
        for row in self.rows[start..]
            .iter()
            .take_while(|row| row.key.month < months.end)
            .filter(|row| matches(&row.key))
        {
            summary.add_files(row.files, row.bytes, state(&row.key));
        }
        if reader.has_deletes() && !self.deletions_counted {
            let deleted = deleted_docs(directory, reader);
            let mut gone = Summary::default();
            KeyColumns::open(reader)?.read(&deleted, |key, size| {
                if matches(&key) {
                    gone.add_files(1, size, state(&key));
                }
            });
            summary = summary.without(gone);
        }
        Ok(summary)
    }
}

/// The deleted documents of `reader`, found a word of its delete file at a time: asking its
/// alive bitset of each document took 11 ms per 10^7 documents, more than all the rest of a
/// count. The file is tantivy's (the number of documents, then 64 documents to a little-endian
/// word, a set bit for a live one); should its layout ever disagree with the segment's count of
/// deletions, the bitset is asked document by document.
fn deleted_docs(directory: &ReadOnlyDirectory, reader: &SegmentReader) -> Vec<DocId> {
    let from_file = || {
        let name = format!(
            "{}.{}.del",
            reader.segment_id().uuid_string(),
            reader.delete_opstamp()?
        );
        let bytes = directory
            .open_read(Path::new(&name))
            .ok()?
            .read_bytes()
            .ok()?;
        let mut words = Fields(bytes.as_slice());
        if words.u32()? != reader.max_doc() {
            return None;
        }
        let mut deleted = Vec::new();
        let mut base = 0;
        while let Some(word) = words.u64() {
            let mut gone = !word;
            while gone != 0 {
                deleted.push(base + gone.trailing_zeros());
                gone &= gone - 1;
            }
            base += 64;
        }
        deleted.retain(|&doc| doc < reader.max_doc());
        (deleted.len() == reader.num_deleted_docs() as usize).then_some(deleted)
    };
    from_file().unwrap_or_else(|| {
        let alive = reader.alive_bitset();
        (0..reader.max_doc())
            .filter(|&doc| alive.is_some_and(|alive| alive.is_deleted(doc)))
            .collect()
    })
}

/// Little-endian fields read off the front of a byte slice.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
}

/// Which documents of a segment a totals file adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Every one, deleted ones included.
    All,
    /// Those deleted as of the segment's last deletion.
    Deleted,
}

fn file_path(generation: &Path, segment: &SegmentReader, part: Part) -> PathBuf {
    let id = segment.segment_id().uuid_string();
    generation.join(match (part, segment.delete_opstamp()) {
        (Part::Deleted, Some(opstamp)) => format!("{PREFIX}{id}-deleted-{opstamp}{SUFFIX}"),
        _ => format!("{PREFIX}{id}{SUFFIX}"),
    })
}

/// Writes the totals of `part` of `segment` in `generation` when they pay and are not there
/// yet; returns whether they are there.
fn write_part(
    generation: &Path,
    directory: &ReadOnlyDirectory,
    segment: &SegmentReader,
    part: Part,
) -> Result<bool> {
    let path = file_path(generation, segment, part);
    if path.exists() {
        return Ok(true);
    }
    let totals = match part {
        Part::All => SegmentTotals::compute(segment, 0..segment.max_doc())?,
        Part::Deleted => {
            SegmentTotals::compute(segment, deleted_docs(directory, segment).into_iter())?
        }
    };
    // The columns were read, whole or here and there: give back their pages (see
    // `release_pages`).
    directory.release_pages();
    if part == Part::All && !totals.pays() {
        return Ok(false);
    }
    totals
        .compressed()
        .and_then(|bytes| crate::atomic::write_file(&path, &bytes))
        .map_err(CatalogError::io(format!("cannot write {}", path.display())))?;
    Ok(true)
}

/// Writes the totals of every segment of the index in `generation` that has none, and of its
/// deleted documents, and removes the totals of segments and deletions it no longer holds.
pub(crate) fn write(generation: &Path) -> Result<()> {
    let directory = ReadOnlyDirectory::open(generation).map_err(tantivy::TantivyError::from)?;
    let index = Index::open(directory.clone())?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let searcher = reader.searcher();
    let segments = searcher.segment_readers();
    segments.par_iter().try_for_each(|segment| {
        if write_part(generation, &directory, segment, Part::All)? && segment.has_deletes() {
            write_part(generation, &directory, segment, Part::Deleted)?;
        }
        Ok::<_, CatalogError>(())
    })?;
    let kept: Vec<String> = segments
        .iter()
        .flat_map(|segment| {
            [Part::All, Part::Deleted].map(|part| file_path(generation, segment, part))
        })
        .filter_map(|path| Some(path.file_name()?.to_str()?.to_string()))
        .collect();
    let Ok(entries) = std::fs::read_dir(generation) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) && !kept.iter().any(|k| k == name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{build, BuildOptions, Source};
    use crate::layout::IndexDir;
    use crate::search::Catalog;

    #[test]
    fn months_turn_at_midnight_utc() {
        let month = |text: &str| {
            let instant = crate::time::parse_rfc3339(text).unwrap();
            month_of_seconds(instant.unix_timestamp())
        };
        assert_eq!(month("2019-01-01T00:00:00Z"), 2019 * 12);
        assert_eq!(month("2018-12-31T23:59:59Z"), 2018 * 12 + 11);
        assert_eq!(month("2019-12-31T23:59:59Z"), 2019 * 12 + 11);
        assert_eq!(month("1969-12-31T23:59:59Z"), 1969 * 12 + 11);
    }

    #[test]
    fn a_count_of_keywords_and_months_adds_up_the_rows() {
        let temp = tempfile::tempdir().unwrap();
        let dir = IndexDir::new(temp.path().join("index"));
        let list: String = (0..3000)
            .map(|i| {
                let stamp = format!("20190{}01T00{:02}{:02}", 1 + i % 2, i / 60, i % 60);
                let name = format!("S2A_MSIL1C_{stamp}_N0509_R122_T31NFF_{stamp}.zip");
                format!("4096 1700000000 8 /eodc/s2a_prd_msil1c/{name}\n")
            })
            .collect();
        let source = Source::List {
            name: "list".into(),
            reader: Box::new(std::io::Cursor::new(list.into_bytes())),
        };
        build(&dir, source, &BuildOptions::default(), &|_| {}).unwrap();
        let count = |text: &str| {
            let catalog = Catalog::open(dir.path()).unwrap();
            let query = catalog.parse(text).unwrap();
            catalog.count(query.as_ref()).unwrap().files
        };
        assert_eq!(count("sat:S2A AND date:2019-01"), 1500);
        // Every row counted twice: the count of keywords and months is the rows' sum, and a
        // query they cannot answer still counts its matches.
        let generation = Catalog::open(dir.path())
            .unwrap()
            .generation()
            .to_path_buf();
        for entry in std::fs::read_dir(&generation).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_str().unwrap().contains(PREFIX) {
                continue;
            }
            let bytes = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
            let mut totals = SegmentTotals::decode(&bytes).unwrap();
            for row in &mut totals.rows {
                row.files *= 2;
            }
            std::fs::write(&path, totals.compressed().unwrap()).unwrap();
        }
        assert_eq!(count("sat:S2A AND date:2019-01"), 3000);
        assert_eq!(count("sat:S2A AND date:2019-01 AND size:>0"), 1500);
    }

    #[test]
    fn files_of_another_layout_or_cut_short_are_not_read() {
        let totals = SegmentTotals {
            max_doc: 10,
            deletions_counted: false,
            rows: vec![Row {
                key: Key {
                    month: 2019 * 12,
                    ords: [0; KEYWORDS],
                },
                files: 10,
                bytes: 40960,
            }],
        };
        let bytes = totals.encode();
        assert_eq!(SegmentTotals::decode(&bytes), Some(totals));
        assert_eq!(SegmentTotals::decode(&bytes[..bytes.len() - 1]), None);
        let mut other = bytes.clone();
        other[7] = b'2';
        assert_eq!(SegmentTotals::decode(&other), None);
    }
}
