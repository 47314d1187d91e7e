//! Reading the index: complete, sorted answers to queries. What an incremental rebuild asks
//! of the index it updates is in its own module, `search/incremental.rs`.

mod incremental;
mod path_blocks;

pub use incremental::{is_below, is_within, IndexedFile};
pub use path_blocks::PathCacheStats;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::fastfield::FastFieldReaders;
use tantivy::query::{EnableScoring, Query};
use tantivy::schema::IndexRecordOption;
use tantivy::{
    DocId, DocSet, Index, IndexReader, ReloadPolicy, Score, Searcher, SegmentOrdinal,
    SegmentReader, COLLECT_BLOCK_BUFFER_LEN,
};

use crate::directory::ReadOnlyDirectory;
use crate::error::{CatalogError, Result};
use crate::fields::{self, FieldKind};
use crate::layout::{BuildInfo, IndexDir};
use crate::query::{Node, Tallied};
use crate::record::{Entry, FileRecord, State};
use crate::schema::{CatalogSchema, FIELDS, SCHEMA_VERSION};
use crate::totals::SegmentTotals;
use path_blocks::PathBlocks;

/// The order of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// By sensing date, then path (files without a date last).
    #[default]
    Date,
    /// By path.
    Path,
    /// By size, then path.
    Size,
}

/// One matching document with the facts read from its columns, before its path is fetched.
/// Absent values are kept as values no file has, not as `Option`s: a year's answer at
/// 1.5×10^8 documents holds 1.4×10^7 hits, 40 bytes each rather than 72. The facts are read
/// while collecting, in document order; reading them again in the answer's order, when each
/// is handed out, made a streamed year 40% slower (16.2 s instead of 11.6 s).
#[derive(Debug, Clone, Copy)]
struct Hit {
    segment: SegmentOrdinal,
    doc: DocId,
    date: i64,
    size: u64,
    mtime: i64,
    state: Option<State>,
}

const NO_INSTANT: i64 = i64::MIN;
const NO_SIZE: u64 = u64::MAX;

impl Hit {
    fn date(&self) -> Option<i64> {
        (self.date != NO_INSTANT).then_some(self.date)
    }

    fn size(&self) -> Option<u64> {
        (self.size != NO_SIZE).then_some(self.size)
    }

    fn mtime(&self) -> Option<i64> {
        (self.mtime != NO_INSTANT).then_some(self.mtime)
    }
}

/// One file that matches a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Absolute path.
    pub path: String,
    /// Sensing start, seconds since the epoch.
    pub date: Option<i64>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Modification time, seconds since the epoch.
    pub mtime: Option<i64>,
    /// On disk or on tape.
    pub state: Option<State>,
}

impl Match {
    /// Every field of the file.
    pub fn entry(&self) -> Entry {
        Entry::from_record(&FileRecord {
            path: self.path.clone(),
            size: self.size,
            mtime: self.mtime,
            state: self.state,
        })
    }
}

/// Files, bytes, and their split between disk and tape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Matching files.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Files on disk.
    pub disk_files: u64,
    /// Bytes on disk.
    pub disk_bytes: u64,
    /// Files on tape.
    pub tape_files: u64,
    /// Bytes on tape.
    pub tape_bytes: u64,
}

impl SortKey {
    /// The value a hit sorts by: files without a date sort last, files without a size first,
    /// and sorting by path leaves the order to the paths.
    fn value(self, date: Option<i64>, size: Option<u64>) -> i64 {
        match self {
            SortKey::Date => date.unwrap_or(i64::MAX),
            SortKey::Size => size.map_or(-1, |size| i64::try_from(size).unwrap_or(i64::MAX)),
            SortKey::Path => 0,
        }
    }
}

impl Summary {
    fn add(&mut self, size: Option<u64>, state: Option<State>) {
        self.add_files(1, size.unwrap_or(0), state);
    }

    /// Adds `files` files of `bytes` bytes in all, each in `state`.
    pub(crate) fn add_files(&mut self, files: u64, bytes: u64, state: Option<State>) {
        self.files += files;
        self.bytes += bytes;
        match state {
            Some(State::Disk) => {
                self.disk_files += files;
                self.disk_bytes += bytes;
            }
            Some(State::Tape) => {
                self.tape_files += files;
                self.tape_bytes += bytes;
            }
            None => {}
        }
    }

    /// These totals less `part`, which they include (a damaged totals file cannot make them
    /// wrap around).
    pub(crate) fn without(self, part: Summary) -> Summary {
        Summary {
            files: self.files.saturating_sub(part.files),
            bytes: self.bytes.saturating_sub(part.bytes),
            disk_files: self.disk_files.saturating_sub(part.disk_files),
            disk_bytes: self.disk_bytes.saturating_sub(part.disk_bytes),
            tape_files: self.tape_files.saturating_sub(part.tape_files),
            tape_bytes: self.tape_bytes.saturating_sub(part.tape_bytes),
        }
    }

    fn merge(mut self, other: Summary) -> Summary {
        self.files += other.files;
        self.bytes += other.bytes;
        self.disk_files += other.disk_files;
        self.disk_bytes += other.disk_bytes;
        self.tape_files += other.tape_files;
        self.tape_bytes += other.tape_bytes;
        self
    }
}

/// The matches of a query, in the order asked for.
#[derive(Debug, Clone, Default)]
pub struct Hits {
    /// The matches, sorted, possibly cut to a limit.
    pub matches: Vec<Match>,
    /// How many matches there are, before any limit.
    pub total: u64,
}

/// An opened index, ready for queries. It answers from the state committed when it was opened;
/// open it again to see a later rebuild.
pub struct Catalog {
    index: Index,
    /// The directory `index` reads through, which can give back the pages read.
    directory: ReadOnlyDirectory,
    searcher: Searcher,
    /// Per segment, opened once: opening a column decodes its block metadata, which would
    /// otherwise cost every query as much as collecting a small answer.
    columns: Vec<Columns>,
    /// Per segment, its totals once a count has read them; `None` when it has none.
    totals: Vec<OnceLock<Option<SegmentTotals>>>,
    /// Decompressed blocks of the path dictionaries, when kept; see [`Catalog::with_path_cache`].
    path_blocks: Option<PathBlocks>,
    schema: CatalogSchema,
    info: BuildInfo,
    dir: PathBuf,
    generation: PathBuf,
}

/// Opens the tantivy index of one generation, read-only, and checks its schema version.
fn open_generation(dir: &Path, generation: &Path) -> Result<(Index, ReadOnlyDirectory, BuildInfo)> {
    let directory = ReadOnlyDirectory::open(generation).map_err(tantivy::TantivyError::from)?;
    let index = Index::open(directory.clone())?;
    let info = committed_info(&index)?;
    if info.schema_version != SCHEMA_VERSION {
        return Err(CatalogError::SchemaMismatch {
            dir: dir.to_path_buf(),
            found: info.schema_version,
            expected: SCHEMA_VERSION,
        });
    }
    CatalogSchema::register_tokenizers(&index);
    Ok((index, directory, info))
}

/// What the last commit to `index` recorded of its build.
fn committed_info(index: &Index) -> Result<BuildInfo> {
    Ok(index
        .load_metas()?
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default())
}

/// Whether opening failed because a file or directory of the index vanished on the way: a
/// rebuild committed and cleaned up, or switched generations and removed the old one.
fn vanished(error: &CatalogError) -> bool {
    use tantivy::directory::error::{OpenDirectoryError, OpenReadError};
    use tantivy::TantivyError;
    matches!(
        error,
        CatalogError::Index(
            TantivyError::OpenReadError(OpenReadError::FileDoesNotExist(_))
                | TantivyError::OpenDirectoryError(
                    OpenDirectoryError::DoesNotExist(_)
                    // tantivy checks that the path exists, then that it is a directory: a
                    // generation removed between the two reads as no directory.
                    | OpenDirectoryError::NotADirectory(_)
                )
        )
    )
}

impl Catalog {
    /// Opens the current index in `dir`, for reading only: it takes no lock and writes
    /// nothing, so read access to the index's files is all it needs. A rebuild may commit
    /// (and remove the files of older commits) while it opens; then it opens again, and
    /// answers from one commit, whole.
    pub fn open(dir: &Path) -> Result<Catalog> {
        const ATTEMPTS: u32 = 20;
        let mut attempt = 1;
        loop {
            match Catalog::open_once(dir) {
                Ok((catalog, whole)) if whole || attempt >= ATTEMPTS => return Ok(catalog),
                Ok(_) => {}
                Err(error) if attempt < ATTEMPTS && vanished(&error) => {}
                Err(error) => return Err(error),
            }
            std::thread::sleep(std::time::Duration::from_millis(5 * u64::from(attempt)));
            attempt += 1;
        }
    }

    /// Opens the current generation once; `false` beside the catalog when a commit landed
    /// while it opened, so that its segments may not be those its build facts describe.
    fn open_once(dir: &Path) -> Result<(Catalog, bool)> {
        let generation = IndexDir::new(dir)
            .current()
            .ok_or_else(|| CatalogError::NoIndex(dir.to_path_buf()))?;
        let (index, directory, info) = open_generation(dir, &generation)?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let columns: Vec<Columns> = searcher
            .segment_readers()
            .iter()
            .map(Columns::open)
            .collect::<tantivy::Result<_>>()?;
        // Every commit records a new build time, so the same facts after the segments were
        // opened as before mean no commit landed in between.
        let whole = committed_info(&index)? == info;
        let totals = columns.iter().map(|_| OnceLock::new()).collect();
        let catalog = Catalog {
            index,
            directory,
            searcher,
            columns,
            totals,
            path_blocks: None,
            schema: CatalogSchema::new(),
            info,
            dir: dir.to_path_buf(),
            generation,
        };
        Ok((catalog, whole))
    }

    /// Keeps up to about `bytes` of decompressed path dictionary blocks between answers, for a
    /// catalog that answers many queries: a path costs a block's decompression otherwise.
    pub fn with_path_cache(mut self, bytes: u64) -> Catalog {
        self.path_blocks = Some(PathBlocks::new(bytes));
        self
    }

    /// How the cache of [`Catalog::with_path_cache`] has done; `None` without one.
    pub fn path_cache_stats(&self) -> Option<PathCacheStats> {
        self.path_blocks.as_ref().map(PathBlocks::stats)
    }

    /// Whether a rebuild has committed since this catalog was opened: a new generation, or a
    /// new commit in this one. Reads the index's meta file only, so it is cheap to ask often;
    /// when the meta file cannot be read, the answer is no, and asking again later will tell.
    pub fn is_outdated(&self) -> bool {
        if IndexDir::new(&self.dir).current().as_ref() != Some(&self.generation) {
            return true;
        }
        committed_info(&self.index).is_ok_and(|info| info != self.info)
    }

    /// The tantivy index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The schema and its field handles.
    pub fn schema(&self) -> &CatalogSchema {
        &self.schema
    }

    /// Facts about the build that produced this index.
    pub fn info(&self) -> &BuildInfo {
        &self.info
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of documents.
    pub fn documents(&self) -> u64 {
        self.searcher.num_docs()
    }

    /// Bytes the current generation takes on disk.
    pub fn size_on_disk(&self) -> u64 {
        std::fs::read_dir(&self.generation)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Parses query text against this index's schema.
    pub fn parse(&self, text: &str) -> Result<Box<dyn Query>> {
        Ok(crate::query::compile(text, &self.schema)?)
    }

    /// Compiles a query tree against this index's schema, with the checks of query text: for
    /// callers that translate another query language and should never write query text.
    pub fn compile(&self, node: &Node) -> Result<Box<dyn Query>> {
        Ok(crate::query::compile_node(node, &self.schema)?)
    }

    /// Every match of `query`, sorted by `sort`, keeping at most `limit` after skipping `offset`.
    /// With a limit, every match is read for its sort key only, and the matches kept for their
    /// other facts: reading every fact of the 6,940 matches of a tile query was a quarter of
    /// `catalog serve`'s time answering it with a page of 100.
    pub fn search(
        &self,
        query: &dyn Query,
        sort: SortKey,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Hits> {
        let reading = match limit {
            Some(_) => Reading::SortKey(sort),
            None => Reading::Everything { mtime: true },
        };
        let mut matches = Vec::new();
        let summary = self.emit_matches(query, reading, sort, offset, limit, |m| {
            matches.push(m);
            Ok(())
        })?;
        Ok(Hits {
            matches,
            total: summary.files,
        })
    }

    /// Like [`Catalog::search`], but hands the matches to `emit` one by one, fetching paths a
    /// window at a time: a million-file answer never holds a million paths. Sorting by path
    /// needs them all. Returns the totals over every match; stops at the first error of `emit`.
    /// Without `with_mtime`, the matches carry no modification time (`None`), and a process
    /// that asks no other answer never opens that column, whose opening costs milliseconds a
    /// large segment.
    pub fn for_each_match(
        &self,
        query: &dyn Query,
        sort: SortKey,
        offset: usize,
        limit: Option<usize>,
        with_mtime: bool,
        emit: impl FnMut(Match) -> std::io::Result<()>,
    ) -> Result<Summary> {
        let reading = Reading::Everything { mtime: with_mtime };
        self.emit_matches(query, reading, sort, offset, limit, emit)
    }

    /// [`Catalog::for_each_match`], reading of every match what `reading` says; the facts not
    /// read are read of the matches handed out.
    fn emit_matches(
        &self,
        query: &dyn Query,
        reading: Reading,
        sort: SortKey,
        offset: usize,
        limit: Option<usize>,
        mut emit: impl FnMut(Match) -> std::io::Result<()>,
    ) -> Result<Summary> {
        const WINDOW: usize = 1 << 16;
        let (mut hits, summary) = self.searcher.search(query, &self.hit_collector(reading))?;
        let key = |h: &Hit| sort.value(h.date(), h.size());
        let end = limit.map_or(hits.len(), |l| offset.saturating_add(l).min(hits.len()));
        let sorted = sort_leading(&mut hits, end, key);
        let hits = &hits[..sorted];
        let mut start = 0;
        while start < end {
            // A window never splits hits of equal key, whose order is decided by their paths,
            // and reaches no further than the answer needs.
            let mut stop = if sort == SortKey::Path {
                hits.len()
            } else {
                (start + WINDOW).min(end)
            };
            while stop < hits.len() && key(&hits[stop]) == key(&hits[stop - 1]) {
                stop += 1;
            }
            if stop > offset {
                let window = &hits[start..stop];
                let mut paths = self.paths(window)?;
                let mut order: Vec<usize> = (0..window.len()).collect();
                order.sort_by(|&a, &b| {
                    (key(&window[a]), &paths[a]).cmp(&(key(&window[b]), &paths[b]))
                });
                for (rank, i) in order.into_iter().enumerate() {
                    let position = start + rank;
                    if position < offset || position >= end {
                        continue;
                    }
                    let hit = match reading {
                        Reading::Everything { .. } => window[i],
                        _ => self.columns[window[i].segment as usize].hit(window[i])?,
                    };
                    emit(Match {
                        path: std::mem::take(&mut paths[i]),
                        date: hit.date(),
                        size: hit.size(),
                        mtime: hit.mtime(),
                        state: hit.state,
                    })
                    .map_err(CatalogError::Output)?;
                }
            }
            start = stop;
        }
        Ok(summary)
    }

    /// The earliest and latest sensing dates among the matches of `query`, in seconds since
    /// the epoch; `None` when no match has a date.
    pub fn date_extent(&self, query: &dyn Query) -> Result<Option<(i64, i64)>> {
        let reading = Reading::SortKey(SortKey::Date);
        let (hits, _) = self.searcher.search(query, &self.hit_collector(reading))?;
        Ok(hits
            .iter()
            .filter_map(Hit::date)
            .fold(None, |extent, date| match extent {
                None => Some((date, date)),
                Some((low, high)) => Some((low.min(date), high.max(date))),
            }))
    }

    /// Totals over every match of `query`, without fetching paths. A query of exact keywords
    /// and whole months is counted from each segment's totals where it has them (see
    /// [`crate::totals`]); every other segment, and every other query, by reading the columns
    /// of its matches.
    pub fn count(&self, query: &dyn Query) -> Result<Summary> {
        let collector = self.hit_collector(Reading::Totals);
        let Some(tally) = query.downcast_ref::<Tallied>().map(Tallied::tally) else {
            return Ok(self.searcher.search(query, &collector)?.1);
        };
        let mut weight = None;
        let mut summary = Summary::default();
        for (ordinal, segment) in self.searcher.segment_readers().iter().enumerate() {
            let totals =
                self.totals[ordinal].get_or_init(|| SegmentTotals::read(&self.generation, segment));
            let part = match totals {
                Some(totals) => {
                    totals.summary(tally, &self.directory, segment, &self.columns[ordinal])?
                }
                None => {
                    let weight = match &weight {
                        Some(weight) => weight,
                        None => weight.insert(
                            query.weight(EnableScoring::disabled_from_searcher(&self.searcher))?,
                        ),
                    };
                    let ordinal = SegmentOrdinal::try_from(ordinal).expect("few segments");
                    collector
                        .collect_segment(weight.as_ref(), ordinal, segment)?
                        .1
                }
            };
            summary = summary.merge(part);
        }
        Ok(summary)
    }

    /// A collector of the matches, reading of each what `reading` says.
    fn hit_collector(&self, reading: Reading) -> HitCollector<'_> {
        HitCollector {
            columns: &self.columns,
            reading,
        }
    }

    /// The paths of `hits`, in the same order. Each segment's ordinals are resolved in sorted
    /// order, so the path dictionary is read block by block, each block once. Every path costs
    /// a block of its own in a small answer (a zstd decompression and first page faults, some
    /// 17 µs), so a large one is shared out among the cores, in runs of neighbouring ordinals.
    fn paths(&self, hits: &[Hit]) -> Result<Vec<String>> {
        let mut wanted: Vec<(SegmentOrdinal, u64, usize)> = hits
            .iter()
            .enumerate()
            .filter_map(|(i, hit)| {
                let column = self.columns[hit.segment as usize].path.as_ref()?;
                Some((hit.segment, column.term_ords(hit.doc).next()?, i))
            })
            .collect();
        wanted.sort_unstable();
        let mut paths = vec![String::new(); hits.len()];
        let threads = (wanted.len() / PATHS_PER_THREAD).clamp(1, cores());
        if threads == 1 {
            self.resolve_paths(&wanted, |i, path| paths[i] = path)?;
            return Ok(paths);
        }
        let parts = std::thread::scope(|scope| {
            let workers: Vec<_> = wanted
                .chunks(wanted.len().div_ceil(threads))
                .map(|part| {
                    scope.spawn(move || {
                        let mut found = Vec::with_capacity(part.len());
                        self.resolve_paths(part, |i, path| found.push((i, path)))?;
                        Ok::<_, CatalogError>(found)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e))
                })
                .collect::<Vec<_>>()
        });
        for part in parts {
            for (i, path) in part? {
                paths[i] = path;
            }
        }
        Ok(paths)
    }

    /// Hands `found` the position and path of each of `wanted` (segment, path ordinal,
    /// position), which is sorted.
    fn resolve_paths(
        &self,
        wanted: &[(SegmentOrdinal, u64, usize)],
        mut found: impl FnMut(usize, String),
    ) -> Result<()> {
        for run in wanted.chunk_by(|a, b| a.0 == b.0) {
            let Some(column) = &self.columns[run[0].0 as usize].path else {
                continue;
            };
            // The callback runs once per ordinal given, repeated ones included, in order.
            let mut targets = run.iter().map(|(_, _, i)| *i);
            let each = |bytes: &[u8]| {
                if let Some(i) = targets.next() {
                    found(i, path_text(bytes));
                }
            };
            let ords = run.iter().map(|(_, ord, _)| *ord);
            match &self.path_blocks {
                Some(blocks) => blocks.resolve(run[0].0, column.dictionary(), ords, each)?,
                None => {
                    let ords: Vec<u64> = ords.collect();
                    column.dictionary().sorted_ords_to_term_cb(&ords, each)?;
                }
            }
        }
        Ok(())
    }

    /// The directory of the current generation, where the build keeps its side files.
    pub fn generation(&self) -> &Path {
        &self.generation
    }

    /// The values of a keyword field with their document counts, most frequent first.
    pub fn values(&self, field: &str) -> Result<Vec<(String, u64)>> {
        let Some((_, handle)) = self
            .schema
            .fields()
            .find(|(f, _)| f.name == field && f.kind == FieldKind::Keyword)
        else {
            return Ok(Vec::new());
        };
        let searcher = &self.searcher;
        let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(handle)?;
            let mut terms = inverted.terms().stream()?;
            while terms.advance() {
                let Ok(term) = std::str::from_utf8(terms.key()) else {
                    continue;
                };
                let mut docs = inverted
                    .read_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)?;
                let alive = segment.alive_bitset();
                let mut live = 0u64;
                let mut doc = docs.doc();
                while doc != tantivy::TERMINATED {
                    if alive.is_none_or(|a| a.is_alive(doc)) {
                        live += 1;
                    }
                    doc = docs.advance();
                }
                if live > 0 {
                    *counts.entry(term.to_string()).or_default() += live;
                }
            }
        }
        let mut values: Vec<(String, u64)> = counts.into_iter().collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(values)
    }

    /// Documents per collection, from the `collection` field.
    pub fn collections(&self) -> Result<Vec<(String, u64)>> {
        self.values(fields::COLLECTION.name)
    }

    /// Field names with their kinds, in the order users see them.
    pub fn fields() -> &'static [(&'static str, FieldKind)] {
        FIELDS
    }
}

/// Puts the `end` hits of the smallest keys first, sorted, followed by the hits tied with the
/// last of them (their paths decide between them), and returns how many hits that is. A page
/// selects its hits in linear time instead of sorting every match: sorting the 6,940 matches
/// of a tile query was a tenth of `catalog serve`'s time answering it with 100 items.
fn sort_leading(hits: &mut [Hit], end: usize, key: impl Fn(&Hit) -> i64) -> usize {
    if end == 0 {
        return 0;
    }
    if end == hits.len() {
        hits.sort_unstable_by_key(key);
        return end;
    }
    hits.select_nth_unstable_by_key(end - 1, &key);
    let boundary = key(&hits[end - 1]);
    let mut tied = end;
    for i in end..hits.len() {
        if key(&hits[i]) == boundary {
            hits.swap(i, tied);
            tied += 1;
        }
    }
    hits[..end].sort_unstable_by_key(key);
    tied
}

/// Paths one thread resolves at least: another thread costs some 50 µs to start, and 64 paths
/// at 17 µs each repay it twenty times.
const PATHS_PER_THREAD: usize = 64;

/// The cores this process may use, asked once: asking reads the cgroup's files.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A path from the dictionary. Only UTF-8 paths are indexed, so the lossy conversion is never
/// taken; the plain one is much faster.
fn path_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The columns of one segment that describe a file.
#[derive(Clone)]
pub(crate) struct Columns {
    path: Option<StrColumn>,
    date: Column<tantivy::DateTime>,
    size: Column<u64>,
    /// Opened when first asked for: see [`Columns::mtime`].
    mtime: Arc<OnceLock<Column<tantivy::DateTime>>>,
    fast: FastFieldReaders,
    state: Option<(StrColumn, Option<u64>, Option<u64>)>,
}

impl Columns {
    fn open(segment: &SegmentReader) -> tantivy::Result<Columns> {
        let fast = segment.fast_fields();
        let state = fast.str(fields::STATE.name)?.map(|column| {
            let ord = |state: State| column.dictionary().term_ord(state.as_str()).ok().flatten();
            let (disk, tape) = (ord(State::Disk), ord(State::Tape));
            (column, disk, tape)
        });
        Ok(Columns {
            path: fast.str(fields::PATH.name)?,
            date: fast.date(fields::DATE.name)?,
            size: fast.u64(fields::SIZE.name)?,
            mtime: Arc::default(),
            fast: fast.clone(),
            state,
        })
    }

    /// The modification times. The column is opened when first asked for: where they follow the
    /// order the files were listed in (as in a policy-scan list in ingest order), tantivy stores
    /// them piecewise linear, and opening that decodes every piece's parameters, some 2 ms a
    /// segment of 1.2×10^7 documents. Path lists and stagings need none.
    pub(crate) fn mtime(&self) -> tantivy::Result<&Column<tantivy::DateTime>> {
        if let Some(column) = self.mtime.get() {
            return Ok(column);
        }
        let column = self.fast.date(fields::MTIME.name)?;
        Ok(self.mtime.get_or_init(|| column))
    }

    fn state(&self, doc: DocId) -> Option<State> {
        let mut state = [None];
        self.states(&[doc], &mut state);
        state[0]
    }

    /// `hit` with every fact read.
    fn hit(&self, hit: Hit) -> tantivy::Result<Hit> {
        let doc = hit.doc;
        let mtime = self.mtime()?.first(doc);
        Ok(Hit {
            date: self
                .date
                .first(doc)
                .map_or(NO_INSTANT, |d| d.into_timestamp_secs()),
            size: self.size.first(doc).unwrap_or(NO_SIZE),
            mtime: mtime.map_or(NO_INSTANT, |d| d.into_timestamp_secs()),
            state: self.state(doc),
            ..hit
        })
    }

    /// The states of `docs`, into `states`.
    fn states(&self, docs: &[DocId], states: &mut [Option<State>]) {
        let Some((column, disk, tape)) = &self.state else {
            return;
        };
        let mut ords = [None; COLLECT_BLOCK_BUFFER_LEN];
        let ords = &mut ords[..docs.len()];
        column.ords().first_vals(docs, ords);
        for (state, ord) in states.iter_mut().zip(ords.iter()) {
            *state = state_of(*ord, *disk, *tape);
        }
    }

    /// The state of an ordinal of the state column.
    pub(crate) fn state_of(&self, ord: Option<u64>) -> Option<State> {
        let (_, disk, tape) = self.state.as_ref()?;
        state_of(ord, *disk, *tape)
    }
}

/// The state of an ordinal of a state column whose `disk` and `tape` ordinals are given.
fn state_of(ord: Option<u64>, disk: Option<u64>, tape: Option<u64>) -> Option<State> {
    match ord {
        Some(ord) if Some(ord) == disk => Some(State::Disk),
        Some(ord) if Some(ord) == tape => Some(State::Tape),
        _ => None,
    }
}

/// What a collector reads of every match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The totals, and no match.
    Totals,
    /// The totals, and each match with all its facts, its modification time only with `mtime`.
    Everything { mtime: bool },
    /// The number of matches, and each match with the fact it sorts by and no other.
    SortKey(SortKey),
}

/// Gathers what `reading` says of every match.
struct HitCollector<'a> {
    columns: &'a [Columns],
    reading: Reading,
}

struct SegmentHits {
    segment: SegmentOrdinal,
    columns: Columns,
    /// The modification times, if the reading asks for them.
    mtimes: Option<Column<tantivy::DateTime>>,
    reading: Reading,
    hits: Vec<Hit>,
    summary: Summary,
}

impl Collector for HitCollector<'_> {
    type Fruit = (Vec<Hit>, Summary);
    type Child = SegmentHits;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        _reader: &SegmentReader,
    ) -> tantivy::Result<SegmentHits> {
        let columns = &self.columns[segment as usize];
        let mtimes = match self.reading {
            Reading::Everything { mtime: true } => Some(columns.mtime()?.clone()),
            _ => None,
        };
        Ok(SegmentHits {
            segment,
            columns: columns.clone(),
            mtimes,
            reading: self.reading,
            hits: Vec::new(),
            summary: Summary::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<(Vec<Hit>, Summary)>,
    ) -> tantivy::Result<(Vec<Hit>, Summary)> {
        let mut hits = Vec::with_capacity(fruits.iter().map(|(hits, _)| hits.len()).sum());
        let mut summary = Summary::default();
        for (segment_hits, segment_summary) in fruits {
            hits.extend_from_slice(&segment_hits);
            summary = summary.merge(segment_summary);
        }
        Ok((hits, summary))
    }
}

impl SegmentCollector for SegmentHits {
    type Fruit = (Vec<Hit>, Summary);

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    /// Reads each column for a block of documents at once: a year's count at 1.5×10^8
    /// documents spent a third of its time reading sizes and states one document at a time.
    fn collect_block(&mut self, docs: &[DocId]) {
        const BLOCK: usize = COLLECT_BLOCK_BUFFER_LEN;
        let (columns, reading) = (&self.columns, self.reading);
        let everything = matches!(reading, Reading::Everything { .. });
        let totals = everything || reading == Reading::Totals;
        let read_size = totals || reading == Reading::SortKey(SortKey::Size);
        let read_date = everything || reading == Reading::SortKey(SortKey::Date);
        let seconds =
            |t: Option<tantivy::DateTime>| t.map_or(NO_INSTANT, |t| t.into_timestamp_secs());
        for docs in docs.chunks(BLOCK) {
            let mut sizes = [None; BLOCK];
            let sizes = &mut sizes[..docs.len()];
            if read_size {
                columns.size.first_vals(docs, sizes);
            }
            let mut states = [None; BLOCK];
            let states = &mut states[..docs.len()];
            if totals {
                columns.states(docs, states);
                for (size, state) in sizes.iter().zip(states.iter()) {
                    self.summary.add(*size, *state);
                }
            } else {
                self.summary.files += docs.len() as u64;
            }
            if reading == Reading::Totals {
                continue;
            }
            let mut dates = [None; BLOCK];
            let dates = &mut dates[..docs.len()];
            if read_date {
                columns.date.first_vals(docs, dates);
            }
            let mut mtimes = [None; BLOCK];
            let mtimes = &mut mtimes[..docs.len()];
            if let Some(column) = &self.mtimes {
                column.first_vals(docs, mtimes);
            }
            for (i, &doc) in docs.iter().enumerate() {
                self.hits.push(Hit {
                    segment: self.segment,
                    doc,
                    date: seconds(dates[i]),
                    size: sizes[i].unwrap_or(NO_SIZE),
                    mtime: seconds(mtimes[i]),
                    state: states[i],
                });
            }
        }
    }

    fn harvest(self) -> (Vec<Hit>, Summary) {
        (self.hits, self.summary)
    }
}
