//! What an incremental rebuild asks of the index it updates: the documents it holds with
//! their fingerprints, which lie below which roots, and queries that delete exactly the
//! versions of files a rebuild replaces.

use std::collections::HashMap;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use tantivy::columnar::{Column, Dictionary, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{
    BitSetDocSet, ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{BitSet, DateTime, DocId, Score, SegmentOrdinal, SegmentReader, TantivyError};

use super::{path_text, Catalog, Columns};
use crate::directory::ReadOnlyDirectory;
use crate::dirs::parent_dir;
use crate::error::Result;
use crate::fields;
use crate::record::{fingerprint, path_hash};

impl Catalog {
    /// Hands `visit` the live documents an incremental rebuild compares with what it finds:
    /// each with its fingerprint, computed from its path and `stat` columns as
    /// [`crate::FileRecord::fingerprint`] computes it from a crawl, and which of `roots` it
    /// lies below; with `parents`, its parent directory too. With `within`, only the documents
    /// below those directories. Handed, not collected: an archive holds 10^8 documents, and
    /// what a segment's paths need while it is read (8 bytes a path, 16 with `parents`) is
    /// all this keeps.
    pub fn indexed_files(
        &self,
        roots: &[String],
        within: Option<&[String]>,
        parents: bool,
        mut visit: impl FnMut(IndexedFile),
    ) -> Result<()> {
        let mut pages = PageRelease::new(&self.directory);
        for (segment_ord, (segment, columns)) in self
            .searcher
            .segment_readers()
            .iter()
            .zip(&self.columns)
            .enumerate()
        {
            let Some(path) = &columns.path else { continue };
            let dictionary = path.dictionary();
            let root_ords = roots
                .iter()
                .map(|root| ords_below(dictionary, root))
                .collect::<Result<Vec<_>>>()?;
            let paths = PathHashes::read(dictionary, within, parents, &mut pages)?;
            let mtimes = columns.mtime()?;
            for (doc, ord) in live_path_ords(segment, path) {
                pages.read_one();
                let Some(i) = paths.position(ord) else {
                    continue;
                };
                visit(IndexedFile {
                    fingerprint: columns.fingerprint(mtimes, paths.hashes[i], doc),
                    parent: paths.parents.get(i).copied(),
                    path_ord: ord,
                    segment: segment_ord as SegmentOrdinal,
                    doc,
                    root: root_ords
                        .iter()
                        .position(|ords| ords.contains(&ord))
                        .map_or(IndexedFile::OUTSIDE, |r| r as u32),
                });
            }
            pages.release();
        }
        Ok(())
    }

    /// How many documents lie below none of `roots`.
    pub fn count_outside(&self, roots: &[String]) -> Result<u64> {
        let mut outside = 0;
        let mut pages = PageRelease::new(&self.directory);
        for (segment, columns) in self.searcher.segment_readers().iter().zip(&self.columns) {
            let Some(path) = &columns.path else { continue };
            let ranges = roots
                .iter()
                .map(|root| ords_below(path.dictionary(), root))
                .collect::<Result<Vec<_>>>()?;
            for (_, ord) in live_path_ords(segment, path) {
                pages.read_one();
                if !ranges.iter().any(|range| range.contains(&ord)) {
                    outside += 1;
                }
            }
            pages.release();
        }
        Ok(outside)
    }

    /// The live documents whose path is one of `paths`: each path looked up once in each
    /// segment, and a segment's path column read only when one of them is there.
    pub fn find_paths(&self, paths: &[String]) -> Result<FoundPaths> {
        let mut positions = Vec::new();
        let mut docs = HashMap::new();
        let mut pages = PageRelease::new(&self.directory);
        for (segment, columns) in self.searcher.segment_readers().iter().zip(&self.columns) {
            // Every segment searched is named, with what it holds of `paths` or nothing, so
            // that the writer does not look them up in it again.
            let found = docs.entry(segment.segment_id()).or_insert_with(Vec::new);
            let Some(column) = &columns.path else {
                continue;
            };
            let mut by_ord = rustc_hash::FxHashMap::default();
            for (i, path) in paths.iter().enumerate() {
                pages.read_one();
                if let Some(ord) = column.dictionary().term_ord(path)? {
                    by_ord.insert(ord, i);
                }
            }
            if !by_ord.is_empty() {
                for (doc, ord) in live_path_ords(segment, column) {
                    pages.read_one();
                    if let Some(&i) = by_ord.get(&ord) {
                        found.push(doc);
                        positions.push(i);
                    }
                }
            }
            pages.release();
        }
        let paths = Arc::new(paths.to_vec());
        let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
            let column = segment.fast_fields().str(fields::PATH.name)?;
            let mut ords = rustc_hash::FxHashSet::default();
            if let Some(column) = &column {
                for path in paths.iter() {
                    if let Some(ord) = column.dictionary().term_ord(path)? {
                        ords.insert(ord);
                    }
                }
            }
            Ok(move |doc: DocId| {
                column
                    .as_ref()
                    .and_then(|c| c.term_ords(doc).next())
                    .is_some_and(|ord| ords.contains(&ord))
            })
        });
        Ok(FoundPaths {
            positions,
            deletion: found_query(docs, Box::new(DocPredicateQuery::from(predicate))),
        })
    }

    /// A query matching exactly the indexed versions of `files`: the same path with the same
    /// `stat` facts. Deleting it removes those documents even after segments have merged, and
    /// spares a newer document of the same path.
    pub fn files_query(&self, files: &[IndexedFile]) -> Result<Box<dyn Query>> {
        let segments = self.searcher.segment_readers();
        let mut docs: HashMap<SegmentId, Vec<DocId>> = HashMap::new();
        for file in files {
            let segment = segments[file.segment as usize].segment_id();
            docs.entry(segment).or_default().push(file.doc);
        }
        let mut targets: HashMap<String, (u64, Vec<u64>)> = HashMap::new();
        for (segment_ord, columns) in self.columns.iter().enumerate() {
            let Some(column) = &columns.path else {
                continue;
            };
            let mut wanted: Vec<&IndexedFile> = files
                .iter()
                .filter(|f| f.segment as usize == segment_ord)
                .collect();
            wanted.sort_unstable_by_key(|f| f.path_ord);
            let ords: Vec<u64> = wanted.iter().map(|f| f.path_ord).collect();
            let mut wanted = wanted.into_iter();
            column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
                let file = wanted.next().expect("one path per ordinal");
                let path = path_text(bytes);
                let hash = path_hash(&path);
                targets
                    .entry(path)
                    .or_insert_with(|| (hash, Vec::new()))
                    .1
                    .push(file.fingerprint);
            })?;
        }
        let targets = std::sync::Arc::new(targets);
        let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
            let columns = Columns::open(segment)?;
            let mut by_ord: HashMap<u64, (u64, Vec<u64>)> = HashMap::new();
            if let Some(path) = &columns.path {
                for (target, found) in targets.iter() {
                    if let Some(ord) = path.dictionary().term_ord(target)? {
                        by_ord.insert(ord, found.clone());
                    }
                }
            }
            let mtimes = columns.mtime()?.clone();
            Ok(move |doc: DocId| {
                let Some(ord) = columns.path.as_ref().and_then(|p| p.term_ords(doc).next()) else {
                    return false;
                };
                by_ord.get(&ord).is_some_and(|(hash, fingerprints)| {
                    fingerprints.contains(&columns.fingerprint(&mtimes, *hash, doc))
                })
            })
        });
        Ok(found_query(
            docs,
            Box::new(DocPredicateQuery::from(predicate)),
        ))
    }
}

/// What [`Catalog::find_paths`] found.
pub struct FoundPaths {
    /// For each document found, the position of its path among those looked for.
    pub positions: Vec<usize>,
    /// A query matching exactly the documents found.
    pub deletion: Box<dyn Query>,
}

/// A query matching `docs`, found by a catalog in the segments it holds, by segment; in any
/// other segment (one a merge has written since), what `elsewhere` matches, which must find
/// the same files. tantivy's writer applies a delete query to every segment through its own
/// directory, which keeps every page it touched mapped: a query that looked each path up in
/// every segment again mapped 4 GiB at 1.5×10^8 documents to delete 10^5 paths, where the
/// documents found read nothing.
fn found_query(
    mut docs: HashMap<SegmentId, Vec<DocId>>,
    elsewhere: Box<dyn Query>,
) -> Box<dyn Query> {
    for found in docs.values_mut() {
        found.sort_unstable();
        found.dedup();
    }
    Box::new(FoundQuery {
        docs: Arc::new(docs),
        elsewhere: Arc::from(elsewhere),
    })
}

#[derive(Debug, Clone)]
struct FoundQuery {
    docs: Arc<HashMap<SegmentId, Vec<DocId>>>,
    elsewhere: Arc<dyn Query>,
}

impl Query for FoundQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(FoundWeight {
            docs: Arc::clone(&self.docs),
            elsewhere: self.elsewhere.weight(enable_scoring)?,
        }))
    }
}

struct FoundWeight {
    docs: Arc<HashMap<SegmentId, Vec<DocId>>>,
    elsewhere: Box<dyn Weight>,
}

impl Weight for FoundWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        match self.docs.get(&reader.segment_id()) {
            Some(docs) if docs.is_empty() => Ok(Box::new(EmptyScorer)),
            Some(docs) => {
                let mut found = BitSet::with_max_value(reader.max_doc());
                for &doc in docs {
                    found.insert(doc);
                }
                Ok(Box::new(ConstScorer::new(BitSetDocSet::from(found), boost)))
            }
            None => self.elsewhere.scorer(reader, boost),
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        match self.docs.get(&reader.segment_id()) {
            Some(docs) if docs.binary_search(&doc).is_ok() => {
                Ok(Explanation::new("found by the catalog", 1.0))
            }
            Some(_) => Err(TantivyError::InvalidArgument(format!(
                "document {doc} was not found"
            ))),
            None => self.elsewhere.explain(reader, doc),
        }
    }
}

/// A document as an incremental rebuild knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedFile {
    /// Hash of the path and `stat` facts; see [`crate::FileRecord::fingerprint`].
    pub fingerprint: u64,
    /// Hash of its parent directory's path, as [`path_hash`] computes it, when asked for.
    pub parent: Option<u64>,
    path_ord: u64,
    segment: SegmentOrdinal,
    doc: DocId,
    /// The position of the root it lies below, or [`IndexedFile::OUTSIDE`].
    pub root: u32,
}

impl IndexedFile {
    /// The root of a document below none of the roots asked about.
    pub const OUTSIDE: u32 = u32::MAX;
}

/// The hashes of a segment's paths, and of their parent directories when asked for.
struct PathHashes {
    /// The ordinal of each path, in order; empty when every path of the segment is held, so
    /// that the ordinal is the position.
    ords: Vec<u64>,
    hashes: Vec<u64>,
    parents: Vec<u64>,
}

impl PathHashes {
    /// Reads the paths of `dictionary`, or only those below the directories `within`.
    fn read(
        dictionary: &Dictionary,
        within: Option<&[String]>,
        parents: bool,
        pages: &mut PageRelease,
    ) -> Result<Self> {
        let facts = |key: &[u8]| {
            let text = std::str::from_utf8(key).unwrap_or_default();
            let parent = parents.then(|| path_hash(parent_dir(text).unwrap_or_default()));
            (path_hash(text), parent)
        };
        let mut paths = PathHashes {
            ords: Vec::new(),
            hashes: Vec::with_capacity(if within.is_none() {
                dictionary.num_terms()
            } else {
                0
            }),
            parents: Vec::new(),
        };
        let mut add = |(hash, parent): (u64, Option<u64>)| {
            paths.hashes.push(hash);
            paths.parents.extend(parent);
        };
        match within {
            None => {
                let mut stream = dictionary.stream()?;
                while stream.advance() {
                    pages.read_one();
                    add(facts(stream.key()));
                }
            }
            Some(dirs) => {
                let mut found = Vec::new();
                for dir in dirs {
                    let (low, high) = below_bounds(dir);
                    let mut stream = dictionary.range().ge(low).lt(high).into_stream()?;
                    while stream.advance() {
                        pages.read_one();
                        found.push((stream.term_ord(), facts(stream.key())));
                    }
                }
                // Directories inside one another find the same paths.
                found.sort_unstable_by_key(|(ord, _)| *ord);
                found.dedup_by_key(|(ord, _)| *ord);
                for (ord, facts) in found {
                    paths.ords.push(ord);
                    add(facts);
                }
            }
        }
        Ok(paths)
    }

    /// Where the path of ordinal `ord` is held, if it is.
    fn position(&self, ord: u64) -> Option<usize> {
        if self.ords.is_empty() {
            Some(ord as usize).filter(|&i| i < self.hashes.len())
        } else {
            self.ords.binary_search(&ord).ok()
        }
    }
}

/// Gives back the index pages a read through every path or document has mapped, every
/// [`PageRelease::EVERY`] of them and at the end of each segment: an unchanged rebuild at
/// 1.5×10^8 documents held 3.7 GiB of them resident, where this keeps about a hundred
/// megabytes.
struct PageRelease<'a> {
    directory: &'a ReadOnlyDirectory,
    reads: usize,
}

impl<'a> PageRelease<'a> {
    /// Paths or documents read between two releases: about 100 MB of path dictionary, 40 MB
    /// of columns.
    const EVERY: usize = 1 << 22;

    fn new(directory: &'a ReadOnlyDirectory) -> Self {
        PageRelease {
            directory,
            reads: 0,
        }
    }

    fn read_one(&mut self) {
        self.reads += 1;
        if self.reads == Self::EVERY {
            self.release();
        }
    }

    fn release(&mut self) {
        self.directory.release_pages();
        self.reads = 0;
    }
}

/// Every live document of a segment with the ordinal of its path.
fn live_path_ords<'a>(
    segment: &'a SegmentReader,
    path: &'a StrColumn,
) -> impl Iterator<Item = (DocId, u64)> + 'a {
    let alive = segment.alive_bitset();
    (0..segment.max_doc())
        .filter(move |&doc| alive.is_none_or(|a| a.is_alive(doc)))
        .filter_map(|doc| Some((doc, path.term_ords(doc).next()?)))
}

/// Whether `path` lies below the directory `dir`.
pub fn is_below(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.len() > dir.len() + 1 && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// Whether `path` is the directory `dir` or lies below it.
pub fn is_within(path: &str, dir: &str) -> bool {
    path == dir || is_below(path, dir)
}

/// The ordinals of the paths below `dir` in `dictionary`.
fn ords_below(dictionary: &Dictionary, dir: &str) -> Result<(Bound<u64>, Bound<u64>)> {
    let (low, high) = below_bounds(dir);
    Ok(dictionary.term_bounds_to_ord(Bound::Included(low), Bound::Excluded(high))?)
}

/// Dictionary bounds of the paths below `dir`: from `dir/` up to `dir0`, since `0` follows `/`.
fn below_bounds(dir: &str) -> (String, String) {
    let dir = dir.trim_end_matches('/');
    (format!("{dir}/"), format!("{dir}0"))
}

impl Columns {
    /// The fingerprint of `doc`, whose modification times are `mtimes` (see [`Columns::mtime`]).
    fn fingerprint(&self, mtimes: &Column<DateTime>, path_hash: u64, doc: DocId) -> u64 {
        fingerprint(
            path_hash,
            self.size.first(doc),
            mtimes.first(doc).map(|d| d.into_timestamp_secs()),
            self.state(doc),
        )
    }
}
