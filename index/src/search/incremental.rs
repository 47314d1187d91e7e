//! What an incremental rebuild asks of the index it updates: the documents it holds with
//! their fingerprints, which lie below which roots, and queries that delete exactly the
//! versions of files a rebuild replaces.

use std::collections::HashMap;
use std::ops::{Bound, RangeBounds};

use tantivy::columnar::StrColumn;
use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::Query;
use tantivy::{DocId, SegmentOrdinal, SegmentReader};

use super::{path_text, Catalog, Columns};
use crate::dirs::parent_dir;
use crate::error::Result;
use crate::fields;
use crate::record::{fingerprint, path_hash};

impl Catalog {
    /// The live documents an incremental rebuild compares with what it finds: each with its
    /// fingerprint, computed from its path and `stat` columns as [`crate::FileRecord::fingerprint`]
    /// computes it from a crawl, its parent directory and which of `roots` it lies below.
    /// With `within`, only the documents below those directories.
    pub fn indexed_files(
        &self,
        roots: &[String],
        within: Option<&[String]>,
    ) -> Result<Vec<IndexedFile>> {
        let searcher = &self.searcher;
        let mut files = Vec::new();
        for (segment_ord, (segment, columns)) in searcher
            .segment_readers()
            .iter()
            .zip(&self.columns)
            .enumerate()
        {
            let Some(path) = &columns.path else { continue };
            let dictionary = path.dictionary();
            let mut terms: Vec<(u64, PathFacts)> = Vec::new();
            let mut add = |ord: u64, key: &[u8]| {
                let text = std::str::from_utf8(key).unwrap_or_default();
                terms.push((
                    ord,
                    PathFacts {
                        hash: path_hash(text),
                        parent: path_hash(parent_dir(text).unwrap_or_default()),
                        root: root_of(text, roots).map_or(IndexedFile::OUTSIDE, |r| r as u32),
                    },
                ));
            };
            match within {
                None => {
                    let mut stream = dictionary.stream()?;
                    while stream.advance() {
                        add(stream.term_ord(), stream.key());
                    }
                }
                Some(dirs) => {
                    for dir in dirs {
                        let (low, high) = below_bounds(dir);
                        let mut stream = dictionary.range().ge(low).lt(high).into_stream()?;
                        while stream.advance() {
                            add(stream.term_ord(), stream.key());
                        }
                    }
                    terms.sort_unstable_by_key(|(ord, _)| *ord);
                    terms.dedup_by_key(|(ord, _)| *ord);
                }
            }
            let dense = terms.len() == dictionary.num_terms();
            for (doc, ord) in live_path_ords(segment, path) {
                let facts = if dense {
                    &terms[ord as usize].1
                } else {
                    match terms.binary_search_by_key(&ord, |(ord, _)| *ord) {
                        Ok(i) => &terms[i].1,
                        Err(_) => continue,
                    }
                };
                files.push(IndexedFile {
                    fingerprint: columns.fingerprint(facts.hash, doc),
                    parent: facts.parent,
                    path_ord: ord,
                    segment: segment_ord as SegmentOrdinal,
                    root: facts.root,
                });
            }
        }
        Ok(files)
    }

    /// How many documents lie below none of `roots`.
    pub fn count_outside(&self, roots: &[String]) -> Result<u64> {
        let mut outside = 0;
        for (segment, columns) in self.searcher.segment_readers().iter().zip(&self.columns) {
            let Some(path) = &columns.path else { continue };
            let mut ranges = Vec::new();
            for root in roots {
                let (low, high) = below_bounds(root);
                let (low, high) = path
                    .dictionary()
                    .term_bounds_to_ord(Bound::Included(low), Bound::Excluded(high))?;
                ranges.push((low, high));
            }
            for (_, ord) in live_path_ords(segment, path) {
                if !ranges.iter().any(|range| range.contains(&ord)) {
                    outside += 1;
                }
            }
        }
        Ok(outside)
    }

    /// A query matching every document whose path is one of `paths`.
    pub fn paths_query(&self, paths: &[String]) -> Box<dyn Query> {
        let paths = std::sync::Arc::new(paths.to_vec());
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
        Box::new(DocPredicateQuery::from(predicate))
    }

    /// A query matching exactly the indexed versions of `files`: the same path with the same
    /// `stat` facts. Deleting it removes those documents even after segments have merged, and
    /// spares a newer document of the same path.
    pub fn files_query(&self, files: &[IndexedFile]) -> Result<Box<dyn Query>> {
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
            Ok(move |doc: DocId| {
                let Some(ord) = columns.path.as_ref().and_then(|p| p.term_ords(doc).next()) else {
                    return false;
                };
                by_ord.get(&ord).is_some_and(|(hash, fingerprints)| {
                    fingerprints.contains(&columns.fingerprint(*hash, doc))
                })
            })
        });
        Ok(Box::new(DocPredicateQuery::from(predicate)))
    }
}

/// A document as an incremental rebuild knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedFile {
    /// Hash of the path and `stat` facts; see [`crate::FileRecord::fingerprint`].
    pub fingerprint: u64,
    /// Hash of its parent directory's path, as [`path_hash`] computes it.
    pub parent: u64,
    path_ord: u64,
    segment: SegmentOrdinal,
    /// The position of the root it lies below, or [`IndexedFile::OUTSIDE`].
    pub root: u32,
}

impl IndexedFile {
    /// The root of a document below none of the roots asked about.
    pub const OUTSIDE: u32 = u32::MAX;
}

/// What an incremental rebuild needs of one indexed path.
struct PathFacts {
    hash: u64,
    parent: u64,
    root: u32,
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

/// The first of `roots` that `path` lies below.
pub fn root_of(path: &str, roots: &[String]) -> Option<usize> {
    roots.iter().position(|root| is_below(path, root))
}

/// Dictionary bounds of the paths below `dir`: from `dir/` up to `dir0`, since `0` follows `/`.
fn below_bounds(dir: &str) -> (String, String) {
    let dir = dir.trim_end_matches('/');
    (format!("{dir}/"), format!("{dir}0"))
}

impl Columns {
    fn fingerprint(&self, path_hash: u64, doc: DocId) -> u64 {
        fingerprint(
            path_hash,
            self.size.first(doc),
            self.mtime(doc),
            self.state(doc),
        )
    }
}
