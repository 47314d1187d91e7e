//! Building and updating the index from a crawl or a list.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::iter::{IntoParallelIterator, ParallelIterator};
use rustc_hash::FxHashSet;
use tantivy::indexer::UserOperation;
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{DateTime, Index, IndexWriter, TantivyDocument};

use crate::crawl::{
    check_root, count_io, crawl_root, inspect_path, io_pool, is_product_dir, CrawlErrors,
    CrawlOptions, Found, Visit,
};
use crate::directory::BuildDirectory;
use crate::dirs::{DirStamp, DirStates};
use crate::error::{CatalogError, Result};
use crate::fields::{Facts, FieldValue};
use crate::fingerprints::FingerprintSet;
use crate::layout::{BuildInfo, BuildLock, Freshness, IndexDir, RootCount};
use crate::list::{ListError, ListReader};
use crate::record::{collection_of, path_hash, FileRecord};
use crate::schema::{calendar_term, CatalogSchema, Period, SCHEMA_VERSION};
use crate::search::{is_below, is_within, Catalog, IndexedFile};
use crate::sentinel::parse_name;
use crate::time::now_rfc3339;

/// Where the files to index come from.
pub enum Source {
    /// Walk these root directories; with [`BuildOptions::update`], these subtrees of the
    /// indexed roots.
    Roots(Vec<PathBuf>),
    /// Read a policy-scan list; `name` identifies it in reports and shrink checks. With
    /// [`BuildOptions::update`], a list of changed paths.
    List {
        /// How the list is named in reports (a file path, or `-`).
        name: String,
        /// The list's lines.
        reader: Box<dyn BufRead + Send>,
    },
}

/// How a build runs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Rebuild from scratch into a new generation instead of updating in place.
    pub full: bool,
    /// Commit even when a root is empty or shrank below half its previous count, when the
    /// whole index would, or when the roots leave out indexed files (which are then removed).
    pub allow_shrink: bool,
    /// Memory for the index writer, in bytes; it flushes segments when this is used.
    pub memory_bytes: usize,
    /// Directory listings and `stat`s of a crawl in flight at once; `None` picks by
    /// measuring (see [`crate::crawl::io_threads_for`]).
    pub io_threads: Option<usize>,
    /// List every directory and `stat` every file again, as a first crawl does, instead of
    /// skipping directories unchanged since the last crawl.
    pub restat: bool,
    /// Touch only what the source names: the subtrees of [`Source::Roots`] (each inside an
    /// indexed root), or the paths of [`Source::List`] (present ones added or updated, absent
    /// ones removed). Everything else stays as indexed.
    pub update: bool,
}

impl BuildOptions {
    /// Writer memory when none is asked for.
    pub const DEFAULT_MEMORY_BYTES: usize = 128 << 20;
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            full: false,
            allow_shrink: false,
            memory_bytes: BuildOptions::DEFAULT_MEMORY_BYTES,
            io_threads: None,
            restat: false,
            update: false,
        }
    }
}

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildReport {
    /// The facts committed with the index.
    pub info: BuildInfo,
    /// Whether it built a new generation (first build, `--full`, or a schema migration).
    pub full: bool,
    /// Files seen by the crawl or list.
    pub files: u64,
    /// Files whose names parsed as Sentinel products.
    pub products: u64,
    /// Documents written (new or changed files).
    pub added: u64,
    /// Documents removed (vanished or changed files).
    pub removed: u64,
    /// Files already indexed as they are.
    pub unchanged: u64,
    /// Directories listed.
    pub dirs_listed: u64,
    /// Directories not listed because they had not changed since the last crawl.
    pub dirs_unchanged: u64,
}

/// Turns a record into the document indexed for it, with every field of the table that has a
/// value; `true` beside it when the name is a Sentinel product's.
pub fn document(schema: &CatalogSchema, record: &FileRecord) -> (TantivyDocument, bool) {
    let mut doc = TantivyDocument::default();
    let name = record.name();
    let product = parse_name(name);
    let facts = Facts {
        record,
        name,
        collection: collection_of(&record.path),
        product: product.as_ref(),
    };
    for (field, handle) in schema.fields() {
        match field.value(&facts) {
            Some(FieldValue::Text(text)) => doc.add_text(handle, text),
            Some(FieldValue::Number(number)) => doc.add_u64(handle, number),
            Some(FieldValue::Date(seconds)) => {
                doc.add_date(handle, DateTime::from_timestamp_secs(seconds));
                let calendar = schema.calendar(field.name);
                let date = time::OffsetDateTime::from_unix_timestamp(seconds).ok();
                if let (Some(calendar), Some(date)) = (calendar, date) {
                    for period in [Period::Year, Period::Month, Period::Day] {
                        doc.add_text(calendar, calendar_term(date.date(), period));
                    }
                }
            }
            None => {}
        }
    }
    (doc, product.is_some())
}

/// What the index holds and the build has not seen yet: the fingerprints only, and how the
/// index was read, so that it is read again for the documents some are of, if any are unseen.
struct Known {
    fingerprints: FingerprintSet,
    roots: Vec<String>,
    within: Option<Vec<String>>,
    /// Indexed files below each root of the build.
    per_root: Vec<u64>,
    /// Indexed files below none of them.
    outside: u64,
}

impl Known {
    fn load(catalog: &Catalog, roots: &[String], within: Option<&[String]>) -> Result<Known> {
        // Exactly as many as the index holds, since doubling a vector of 10^8 would not fit.
        let mut fingerprints =
            Vec::with_capacity(within.map_or(catalog.documents() as usize, |_| 0));
        let mut per_root = vec![0; roots.len()];
        let mut outside = 0;
        catalog.indexed_files(roots, within, false, |file| {
            match per_root.get_mut(file.root as usize) {
                Some(count) => *count += 1,
                None => outside += 1,
            }
            fingerprints.push(file.fingerprint);
        })?;
        Ok(Known {
            fingerprints: FingerprintSet::new(fingerprints),
            roots: roots.to_vec(),
            within: within.map(<[String]>::to_vec),
            per_root,
            outside,
        })
    }

    /// Marks a fingerprint seen; false when the index does not hold it.
    fn see(&mut self, fingerprint: u64) -> bool {
        self.fingerprints.see(fingerprint)
    }

    /// The unseen files for which `doomed` is true, one for each fingerprint; `parents` when
    /// `doomed` asks of their parent directories.
    fn doomed(
        &self,
        catalog: &Catalog,
        parents: bool,
        mut doomed: impl FnMut(&IndexedFile) -> bool,
    ) -> Result<Vec<IndexedFile>> {
        let mut files = Vec::new();
        if self.fingerprints.unseen() > 0 {
            catalog.indexed_files(&self.roots, self.within.as_deref(), parents, |file| {
                if self.fingerprints.is_unseen(file.fingerprint) && doomed(&file) {
                    files.push(file);
                }
            })?;
        }
        files.sort_unstable_by_key(|file| file.fingerprint);
        files.dedup_by_key(|file| file.fingerprint);
        Ok(files)
    }
}

/// Counts what goes into the writer, and hands it over [`Feed::BATCH`] documents at a time.
struct Feed<'a> {
    writer: &'a IndexWriter,
    batch: Vec<UserOperation>,
    schema: &'a CatalogSchema,
    known: Option<Known>,
    report: BuildReport,
    progress: &'a (dyn Fn(Progress) + Sync),
    error: Option<CatalogError>,
    /// Documents written per root of the build, for the root being fed at `root`.
    added_per_root: Vec<u64>,
    root: usize,
    /// The collections of what a list fed, which a crawl learns from its directories instead.
    collections: Option<BTreeSet<String>>,
    /// Directories met so far, and by the roots crawled before this one.
    dirs: u64,
    dirs_before: u64,
}

/// How far a build has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files and product directories seen.
    pub files: u64,
    /// Directories met by a crawl.
    pub dirs: u64,
}

impl Feed<'_> {
    /// Documents handed to the writer at once. Handed one at a time, the reading thread and
    /// tantivy's indexing threads woke each other through its channel for every document: at
    /// 1.5×10^8 documents a third of the reading thread's time went to sending and switching,
    /// on the two cores the indexing needs. Batches took a fifth off a full build of 10^7
    /// documents, 2.4% off one of 1.5×10^8. The channel holds 10,000 hand-overs, so what
    /// waits in it is at most 160,000 documents.
    const BATCH: usize = 16;

    fn write(&mut self, doc: TantivyDocument) {
        self.batch.push(UserOperation::Add(doc));
        if self.batch.len() == Self::BATCH {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        if let Err(error) = self.writer.run(self.batch.drain(..)) {
            self.error.get_or_insert(error.into());
        }
    }

    /// Hands over the documents still held; the first error of writing any.
    fn end(&mut self) -> Result<()> {
        if !self.batch.is_empty() {
            self.hand_over();
        }
        self.error.take().map_or(Ok(()), Err)
    }

    fn show_progress(&self) {
        (self.progress)(Progress {
            files: self.report.files,
            dirs: self.dirs,
        });
    }

    fn found(&mut self, found: Found) {
        match found {
            Found::File(record) => self.add(record),
            Found::Dirs(dirs) => {
                self.dirs = self.dirs_before + dirs;
                self.show_progress();
            }
        }
    }

    fn add(&mut self, record: FileRecord) {
        self.report.files += 1;
        if self.report.files.is_multiple_of(4096) {
            self.show_progress();
        }
        if let Some(collections) = &mut self.collections {
            if let Some(collection) = collection_of(&record.path) {
                if !collections.contains(collection) {
                    collections.insert(collection.to_string());
                }
            }
        }
        if self
            .known
            .as_mut()
            .is_some_and(|known| known.see(record.fingerprint()))
        {
            self.report.unchanged += 1;
            self.report.products += u64::from(parse_name(record.name()).is_some());
            return;
        }
        let (doc, parsed) = document(self.schema, &record);
        self.report.products += u64::from(parsed);
        self.write(doc);
        self.report.added += 1;
        if let Some(count) = self.added_per_root.get_mut(self.root) {
            *count += 1;
        }
    }
}

/// Builds or updates the index in `dir` from `source`.
///
/// An existing index of the current schema is updated in place unless `options.full`: new and
/// changed files are written, vanished ones removed, unchanged ones left alone; a crawl lists
/// again only the directories that changed since the last one (all with `options.restat`).
/// Otherwise a new generation is built and switched to atomically. Nothing is committed when
/// a root is missing, unreadable or empty, when a root or the whole index would shrink under
/// half its previous count, or when the roots leave out indexed files (unless
/// `options.allow_shrink`), or when a list cannot be read to its end.
pub fn build(
    dir: &IndexDir,
    source: Source,
    options: &BuildOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BuildReport> {
    let lock = dir.lock()?;
    let existing = match Catalog::open(dir.path()) {
        Ok(catalog) => Some(catalog),
        Err(CatalogError::NoIndex(_) | CatalogError::SchemaMismatch { .. }) => None,
        // A full build replaces whatever is there, readable or not.
        Err(_) if options.full => None,
        Err(error) => return Err(error),
    };
    if options.update && existing.is_none() {
        return Err(CatalogError::NoIndex(dir.path().to_path_buf()));
    }
    dir.remove_stale(&lock)?;
    let run = Run {
        dir,
        lock: &lock,
        existing: existing.as_ref(),
        options,
        progress,
        started: Instant::now(),
        now: now_rfc3339(),
        schema: CatalogSchema::new(),
    };
    let built = match source {
        Source::Roots(paths) => run.crawl(&paths),
        Source::List { name, reader } if options.update => run.list_update(&name, reader),
        Source::List { name, reader } => run.list(&name, reader),
    };
    // An error of the index library says nothing of where: a full disk must name the index.
    built.map_err(|error| match error {
        CatalogError::Index(error) => CatalogError::Build {
            dir: dir.path().to_path_buf(),
            error,
        },
        other => other,
    })
}

/// One build, with what every kind of build needs.
struct Run<'a> {
    dir: &'a IndexDir,
    lock: &'a BuildLock,
    existing: Option<&'a Catalog>,
    options: &'a BuildOptions,
    progress: &'a (dyn Fn(Progress) + Sync),
    started: Instant,
    now: String,
    schema: CatalogSchema,
}

/// A full build of at most this many documents merges its segments into one. Each segment
/// costs every query its own opening and lookups, which a small index's answers of a few
/// milliseconds feel (a tile query at 10^6 documents: 6.4 ms in one segment, 7.5 ms in the
/// eight a full build writes), while the merge costs some 2 µs a document (1.9 s at 10^6, a
/// fifth of the build). A large index's answers are dominated by their hits, and its merge
/// would take minutes.
const MERGED_FULL_BUILD: u64 = 1 << 21;

/// The index a build writes to: the current one, or a new generation being staged.
struct Target {
    index: Index,
    staging: Option<PathBuf>,
    generation: PathBuf,
}

impl Run<'_> {
    /// The catalog an incremental build updates; `None` for a full one.
    fn incremental(&self) -> Option<&Catalog> {
        self.existing
            .filter(|_| !self.options.full || self.options.update)
    }

    fn previous(&self) -> BuildInfo {
        self.existing.map(|c| c.info().clone()).unwrap_or_default()
    }

    fn target(&self) -> Result<Target> {
        match self.incremental() {
            Some(catalog) => Ok(Target {
                // The catalog reads only; the writer needs the index opened for writing.
                index: Index::open(
                    BuildDirectory::open(catalog.generation())
                        .map_err(tantivy::TantivyError::from)?,
                )?,
                staging: None,
                generation: catalog.generation().to_path_buf(),
            }),
            None => {
                let staging = self.dir.staging(self.lock)?;
                let index = Index::create(
                    BuildDirectory::open(&staging).map_err(tantivy::TantivyError::from)?,
                    self.schema.schema.clone(),
                    tantivy::IndexSettings {
                        // No field is stored, yet tantivy keeps a document store: a 4-byte
                        // position a document, which lz4 leaves as it is and zstd shrinks to about
                        // 2 bytes (10^6 documents: 3.9 to 2.0 MB).
                        docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
                        ..tantivy::IndexSettings::default()
                    },
                )?;
                Ok(Target {
                    index,
                    staging: Some(staging.clone()),
                    generation: staging,
                })
            }
        }
    }

    fn writer(&self, target: &Target) -> Result<IndexWriter> {
        let index = &target.index;
        CatalogSchema::register_tokenizers(index);
        // Each indexing thread writes a segment of its own at a commit. An update in place
        // adds few documents, and one segment for them keeps the files every later reader
        // opens (and every later commit's deletes visit) few.
        let threads = match target.staging {
            Some(_) => std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(1, 8),
            None => 1,
        };
        let per_thread = (self.options.memory_bytes / threads).max(15 << 20);
        Ok(index.writer_with_num_threads(threads, per_thread * threads)?)
    }

    fn report(&self, target: &Target) -> BuildReport {
        BuildReport {
            info: BuildInfo::default(),
            full: target.staging.is_some(),
            files: 0,
            products: 0,
            added: 0,
            removed: 0,
            unchanged: 0,
            dirs_listed: 0,
            dirs_unchanged: 0,
        }
    }

    /// What feeds `writer`: records from `roots` roots, comparing them with `known`, and
    /// noting their collections with `collections`.
    fn feed<'w>(
        &'w self,
        writer: &'w IndexWriter,
        target: &Target,
        known: Option<Known>,
        roots: usize,
        collections: bool,
    ) -> Feed<'w> {
        Feed {
            writer,
            batch: Vec::with_capacity(Feed::BATCH),
            schema: &self.schema,
            known,
            report: self.report(target),
            progress: self.progress,
            error: None,
            added_per_root: vec![0; roots],
            root: 0,
            collections: collections.then(BTreeSet::new),
            dirs: 0,
            dirs_before: 0,
        }
    }

    /// Refuses a build that would leave the whole index under half its documents.
    fn check_whole_index(&self, documents: u64) -> Result<()> {
        let before = self.existing.map_or(0, Catalog::documents);
        if !self.options.allow_shrink && documents * 2 < before {
            return Err(CatalogError::Shrunk {
                root: "the whole index".into(),
                before,
                now: documents,
            });
        }
        Ok(())
    }

    /// Commits what `writer` holds with `info`, switches to a staged generation, and removes
    /// directory-state files no commit refers to any more.
    fn commit(
        &self,
        mut writer: IndexWriter,
        target: &Target,
        mut report: BuildReport,
    ) -> Result<BuildReport> {
        report.info.schema_version = SCHEMA_VERSION;
        report.info.built_at = self.now.clone();
        report.info.seconds = self.started.elapsed().as_secs_f64();
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&serde_json::to_string(&report.info).expect("build info serializes"));
        commit.commit()?;
        if target.staging.is_some() {
            let segments = target.index.searchable_segment_metas()?;
            let documents: u64 = segments.iter().map(|s| u64::from(s.num_docs())).sum();
            let ids: Vec<_> = segments.iter().map(|s| s.id()).collect();
            // A segment's metadata, while held, keeps its files from the garbage collection.
            drop(segments);
            if ids.len() > 1 && documents <= MERGED_FULL_BUILD {
                writer.merge(&ids).wait()?;
                // The merged segments' files are removed only by the next commit otherwise.
                writer.garbage_collect_files().wait()?;
            }
        }
        writer.wait_merging_threads()?;
        crate::totals::write(&target.generation)?;
        remove_unused_states(&target.generation, report.info.dir_states.as_deref());
        if let Some(staging) = &target.staging {
            self.dir.publish(staging, self.lock)?;
        }
        report.info.seconds = self.started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Crawls `paths`: the roots of the index, or with `update` subtrees of its roots. A
    /// file or product directory to update stands for its directory, which is listed again.
    fn crawl(&self, paths: &[PathBuf]) -> Result<BuildReport> {
        let options = self.options;
        let mut relist = Vec::new();
        let paths: Vec<String> = paths
            .iter()
            .map(|path| {
                let path = &std::path::absolute(path).unwrap_or_else(|_| path.clone());
                let item = options.update
                    && std::fs::metadata(path).is_ok_and(|meta| {
                        !meta.is_dir() || is_product_dir(&path.to_string_lossy())
                    });
                let path = match path.parent() {
                    Some(parent) if item => {
                        let parent = check_root(parent)?.to_string_lossy().into_owned();
                        relist.push(parent.clone());
                        return Ok(parent);
                    }
                    _ => path,
                };
                Ok(check_root(path)?.to_string_lossy().into_owned())
            })
            .collect::<Result<_>>()?;
        // A path named twice, or inside another, would be crawled twice.
        let paths: Vec<String> = paths
            .iter()
            .enumerate()
            .filter(|&(i, path)| {
                !paths[..i].contains(path) && !paths.iter().any(|other| is_below(path, other))
            })
            .map(|(_, path)| path.clone())
            .collect();
        let previous = self.previous();
        let roots: Vec<String> = if options.update {
            let indexed: Vec<String> = previous
                .roots
                .iter()
                .filter(|r| !r.root.starts_with(LIST_ROOT_PREFIX))
                .map(|r| r.root.clone())
                .collect();
            for path in &paths {
                if !indexed.iter().any(|r| is_within(path, r)) {
                    let roots = if indexed.is_empty() {
                        "it was built from a list: update it with --from-list FILE --update"
                            .to_string()
                    } else {
                        indexed.join(", ")
                    };
                    return Err(CatalogError::NotInRoots {
                        path: path.clone(),
                        roots,
                    });
                }
            }
            indexed
        } else {
            paths.clone()
        };
        let incremental = self.incremental();
        // Loaded before the crawl, so that a refused run is refused before it walks.
        let known = incremental
            .map(|catalog| Known::load(catalog, &roots, options.update.then_some(&paths[..])))
            .transpose()?;
        if let (false, false, Some(catalog)) = (options.update, options.allow_shrink, self.existing)
        {
            // Outside the roots of this run: what the loaded files say, else a scan.
            let outside = match &known {
                Some(known) => known.outside,
                None => catalog.count_outside(&paths)?,
            };
            if outside > 0 {
                let left_out: Vec<&str> = previous
                    .roots
                    .iter()
                    .map(|r| r.root.as_str())
                    .filter(|r| !paths.iter().any(|p| p == r))
                    .collect();
                return Err(CatalogError::RootsLeaveOut {
                    files: outside,
                    left_out: left_out.join(", "),
                });
            }
        }
        let states = incremental.and_then(|catalog| {
            let name = catalog.info().dir_states.as_ref()?;
            // A missing or damaged state file only costs listing every directory again.
            DirStates::read(&catalog.generation().join(name)).ok()
        });
        let target = self.target()?;
        let writer = self.writer(&target)?;
        let mut feed = self.feed(&writer, &target, known, roots.len(), false);
        let crawl_options = CrawlOptions {
            io_threads: options.io_threads,
            previous: states.as_ref(),
            restat: options.restat,
            relist: &relist,
        };
        let mut errors = CrawlErrors::default();
        let mut visits = Vec::new();
        let crawled = (|| -> Result<()> {
            for path in &paths {
                feed.root = roots
                    .iter()
                    .position(|root| is_within(path, root))
                    .unwrap_or(usize::MAX);
                feed.dirs_before = feed.dirs;
                let summary = crawl_root(Path::new(path), &crawl_options, |f| feed.found(f))?;
                errors.add(&summary.errors);
                visits.extend(summary.dirs);
            }
            feed.end()
        })();
        let Feed {
            known,
            mut report,
            added_per_root,
            ..
        } = feed;
        let outcome = crawled.and_then(|()| {
            // Files of directories not listed again keep their documents; every other file
            // the crawl did not see is gone.
            let mut keep: FxHashSet<u64> = FxHashSet::default();
            // What is known below a directory that could not be read stays known, so that
            // its documents are kept again next time.
            let mut unreadable: Vec<(String, DirStamp)> = Vec::new();
            for visit in &visits {
                match visit.visit {
                    Visit::Listed => report.dirs_listed += 1,
                    Visit::Unchanged => {
                        report.dirs_unchanged += 1;
                        keep.insert(path_hash(&visit.path));
                    }
                    Visit::Unreadable => {
                        unreadable.push((visit.path.clone(), DirStamp::RELIST));
                        if let Some(states) = &states {
                            unreadable.extend(
                                states
                                    .subtree(&visit.path)
                                    .into_iter()
                                    .skip(1)
                                    .filter_map(|dir| {
                                        states.get(&dir).map(|known| (dir, known.stamp))
                                    }),
                            );
                        }
                    }
                }
            }
            keep.extend(unreadable.iter().map(|(dir, _)| path_hash(dir)));
            let doomed = match (&known, incremental) {
                (Some(known), Some(catalog)) => known.doomed(catalog, true, |file| {
                    file.root == IndexedFile::OUTSIDE
                        || !file.parent.is_some_and(|parent| keep.contains(&parent))
                })?,
                _ => Vec::new(),
            };
            let mut removed_per_root = vec![0u64; roots.len()];
            for file in &doomed {
                if let Some(count) = removed_per_root.get_mut(file.root as usize) {
                    *count += 1;
                }
            }
            let base: Vec<u64> = if options.update {
                roots
                    .iter()
                    .map(|root| previous.root(root).map_or(0, |r| r.files))
                    .collect()
            } else {
                known
                    .as_ref()
                    .map_or(vec![0; roots.len()], |k| k.per_root.clone())
            };
            let census = options.restat || states.is_none();
            // The roots this run refreshed: all of them, or those holding a path to update.
            let touched: Vec<bool> = roots
                .iter()
                .map(|root| !options.update || paths.iter().any(|p| is_within(p, root)))
                .collect();
            let counts: Vec<RootCount> = roots
                .iter()
                .enumerate()
                .map(|(i, root)| {
                    let mut freshness = previous
                        .root(root)
                        .map(|r| r.freshness.clone())
                        .unwrap_or_default();
                    if touched[i] {
                        self.stamp(&mut freshness, options.update, census);
                    }
                    RootCount {
                        root: root.clone(),
                        files: (base[i] + added_per_root[i]).saturating_sub(removed_per_root[i]),
                        freshness,
                    }
                })
                .collect();
            let counts_to_check: Vec<RootCount> = counts
                .iter()
                .zip(&touched)
                .filter(|(_, touched)| **touched)
                .map(|(count, _)| count.clone())
                .collect();
            let documents = (incremental.map_or(0, Catalog::documents) + report.added)
                .saturating_sub(doomed.len() as u64);
            if !options.allow_shrink {
                check_shrink(&counts_to_check, &previous)?;
            }
            self.check_whole_index(documents)?;
            if let (false, Some(catalog)) = (doomed.is_empty(), incremental) {
                writer.delete_query(catalog.files_query(&doomed)?)?;
            }
            report.removed = doomed.len() as u64;
            // Files of directories not listed again are unchanged too.
            report.unchanged += known
                .as_ref()
                .map_or(0, |k| k.fingerprints.unseen() - doomed.len())
                as u64;
            let mut roots_info = counts;
            if options.update {
                // The list roots and roots not named keep their place and counts.
                let mut all = previous.roots.clone();
                for updated in roots_info {
                    if let Some(r) = all.iter_mut().find(|r| r.root == updated.root) {
                        *r = updated;
                    }
                }
                roots_info = all;
            }
            let mut collections = if incremental.is_some() {
                previous.collections.clone()
            } else {
                BTreeMap::new()
            };
            for visit in &visits {
                if let Some(collection) = collection_of(&format!("{}/-", visit.path)) {
                    let freshness = collections.entry(collection.to_string()).or_default();
                    self.stamp(freshness, options.update, census);
                }
            }
            let mut dirs: Vec<(String, DirStamp)> = visits
                .iter()
                .filter(|v| v.visit != Visit::Unreadable)
                .map(|v| (v.path.clone(), v.stamp))
                .collect();
            dirs.extend(unreadable);
            if let (true, Some(states)) = (options.update, &states) {
                dirs.extend(
                    states
                        .iter()
                        .filter(|(dir, _)| !paths.iter().any(|p| is_within(dir, p)))
                        .map(|(dir, stamp)| (dir.to_string(), stamp)),
                );
            }
            let states_name = format!(
                "{STATES_PREFIX}{}{STATES_SUFFIX}",
                time::OffsetDateTime::now_utc().unix_timestamp_nanos()
            );
            let states_path = target.generation.join(&states_name);
            DirStates::write(&states_path, dirs.iter().map(|(d, s)| (d.as_str(), *s))).map_err(
                CatalogError::io(format!("cannot write {}", states_path.display())),
            )?;
            report.info = BuildInfo {
                roots: roots_info,
                errors,
                documents,
                collections,
                dir_states: Some(states_name),
                ..BuildInfo::default()
            };
            Ok(())
        });
        self.finish(outcome, writer, target, report)
    }

    /// Commits, or on failure (before the commit or in it: a full disk) leaves the index as
    /// it was and removes a staged generation, so that it does not fill the disk.
    fn finish(
        &self,
        outcome: Result<()>,
        mut writer: IndexWriter,
        target: Target,
        report: BuildReport,
    ) -> Result<BuildReport> {
        let outcome = outcome.map_err(|error| match error {
            // A writer whose thread failed (a full disk) says only that it was killed when
            // given a document; joining its threads, as a commit starts by doing, gives the
            // thread's own error.
            CatalogError::Index(tantivy::TantivyError::ErrorInThread(_)) => {
                match writer.prepare_commit() {
                    Err(cause) => cause.into(),
                    Ok(_) => error,
                }
            }
            other => other,
        });
        let committed = outcome.and_then(|()| self.commit(writer, &target, report));
        if committed.is_err() {
            if let Some(staging) = &target.staging {
                let _ = std::fs::remove_dir_all(staging);
            }
        }
        committed
    }

    /// Sets the times a build of this kind refreshes.
    fn stamp(&self, freshness: &mut Freshness, update: bool, census: bool) {
        if update {
            freshness.updated_at = Some(self.now.clone());
        } else {
            freshness.crawled_at = Some(self.now.clone());
        }
        if census {
            freshness.restat_at = Some(self.now.clone());
        }
    }

    /// Indexes a whole policy-scan list: what it does not name is removed.
    fn list(&self, name: &str, reader: Box<dyn BufRead + Send>) -> Result<BuildReport> {
        let incremental = self.incremental();
        let known = incremental
            .map(|catalog| Known::load(catalog, &[], None))
            .transpose()?;
        let target = self.target()?;
        let writer = self.writer(&target)?;
        let mut feed = self.feed(&writer, &target, known, 0, true);
        let mut malformed_lines = 0;
        let read = read_list(name, reader, |record| feed.add(record)).and_then(|malformed| {
            malformed_lines = malformed;
            feed.end()
        });
        let Feed {
            known,
            mut report,
            collections,
            ..
        } = feed;
        let outcome = read.and_then(|()| {
            let root = format!("{LIST_ROOT_PREFIX}{name}");
            let mut freshness = Freshness::default();
            self.stamp(&mut freshness, false, true);
            let counts = vec![RootCount {
                root,
                files: report.files,
                freshness: freshness.clone(),
            }];
            if !self.options.allow_shrink {
                check_shrink(&counts, &self.previous())?;
            }
            let documents = report.unchanged + report.added;
            self.check_whole_index(documents)?;
            if let (Some(known), Some(catalog)) = (&known, incremental) {
                let unseen = known.doomed(catalog, false, |_| true)?;
                if !unseen.is_empty() {
                    report.removed = unseen.len() as u64;
                    writer.delete_query(catalog.files_query(&unseen)?)?;
                }
            }
            report.info = BuildInfo {
                roots: counts,
                malformed_lines,
                documents,
                collections: collections
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| (c, freshness.clone()))
                    .collect(),
                // A list says nothing of directories: the next crawl lists them all.
                dir_states: None,
                ..BuildInfo::default()
            };
            Ok(())
        });
        self.finish(outcome, writer, target, report)
    }

    /// Applies a list of changed paths: those that exist are added or updated, those that no
    /// longer exist are removed, nothing else is touched. Each path is `stat`ed: the list says
    /// what changed, the file system how it is now.
    fn list_update(&self, name: &str, reader: Box<dyn BufRead + Send>) -> Result<BuildReport> {
        let catalog = self.incremental().expect("an update has an index");
        let mut paths = Vec::new();
        let mut malformed_lines = read_list(name, reader, |record| paths.push(record.path))?;
        paths.sort_unstable();
        paths.dedup();
        let probe = paths
            .first()
            .and_then(|path| crate::dirs::parent_dir(path))
            .unwrap_or("/");
        let pool = io_pool(Path::new(probe), self.options.io_threads)
            .map_err(CatalogError::io("cannot start the stat threads"))?;
        let found: Vec<(String, io::Result<FileRecord>)> = pool.install(|| {
            paths
                .into_par_iter()
                .map(|path| {
                    let found = inspect_path(&path);
                    (path, found)
                })
                .collect()
        });
        let mut errors = CrawlErrors::default();
        let mut touched = Vec::new();
        let mut present = Vec::new();
        for (path, found) in found {
            match found {
                Ok(record) => {
                    touched.push(path);
                    present.push(record);
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => touched.push(path),
                Err(error) if error.kind() == io::ErrorKind::IsADirectory => malformed_lines += 1,
                // A path that cannot be `stat`ed now is left as indexed.
                Err(error) => count_io(&mut errors, &error),
            }
        }
        let previous = self.previous();
        let replaced = catalog.find_paths(&touched)?;
        let removed = replaced.positions.len() as u64;
        let mut roots = previous.roots.clone();
        for root in &mut roots {
            let mine = |path: &String| {
                is_below(path, &root.root)
                    || (root.root.starts_with(LIST_ROOT_PREFIX)
                        && !previous.roots.iter().any(|r| is_below(path, &r.root)))
            };
            if !touched.iter().any(mine) {
                continue;
            }
            let gone = replaced
                .positions
                .iter()
                .filter(|&&i| mine(&touched[i]))
                .count() as u64;
            let added = present.iter().filter(|r| mine(&r.path)).count() as u64;
            root.files = (root.files + added).saturating_sub(gone);
            self.stamp(&mut root.freshness, true, false);
        }
        let documents = (catalog.documents() + present.len() as u64).saturating_sub(removed);
        self.check_whole_index(documents)?;
        let target = self.target()?;
        let writer = self.writer(&target)?;
        let mut report = self.report(&target);
        // Deleted before the new versions are added, so the delete spares them.
        writer.delete_query(replaced.deletion)?;
        let mut collections = previous.collections.clone();
        let added = || -> Result<()> {
            for record in present {
                report.files += 1;
                if let Some(collection) = collection_of(&record.path) {
                    self.stamp(
                        collections.entry(collection.to_string()).or_default(),
                        true,
                        false,
                    );
                }
                let (doc, parsed) = document(&self.schema, &record);
                report.products += u64::from(parsed);
                writer.add_document(doc)?;
                report.added += 1;
            }
            Ok(())
        };
        let outcome = added();
        report.removed = removed;
        report.info = BuildInfo {
            roots,
            errors,
            malformed_lines,
            documents,
            collections,
            dir_states: previous.dir_states.clone(),
            ..BuildInfo::default()
        };
        self.finish(outcome, writer, target, report)
    }
}

/// Hands each record of the list `name` to `each` and returns how many lines were malformed;
/// a list that cannot be read to its end is an error.
fn read_list(
    name: &str,
    reader: Box<dyn BufRead + Send>,
    mut each: impl FnMut(FileRecord),
) -> Result<u64> {
    let mut malformed = 0;
    for line in ListReader::new(reader) {
        match line {
            Ok(record) => each(record),
            Err(ListError::Malformed(_)) => malformed += 1,
            Err(ListError::Read { line, source }) => {
                return Err(CatalogError::ListRead {
                    list: name.to_string(),
                    line,
                    source,
                })
            }
        }
    }
    Ok(malformed)
}

/// How a list's root is named: `list:FILE`.
const LIST_ROOT_PREFIX: &str = "list:";
/// Directory-state files in a generation: `dirs-<nanoseconds>.state`.
const STATES_PREFIX: &str = "dirs-";
const STATES_SUFFIX: &str = ".state";

/// Removes the directory-state files of `generation` other than `keep`, once a commit no
/// longer refers to them.
fn remove_unused_states(generation: &Path, keep: Option<&str>) {
    let Ok(entries) = std::fs::read_dir(generation) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(STATES_PREFIX) && name.ends_with(STATES_SUFFIX) && Some(name) != keep {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn check_shrink(counts: &[RootCount], previous: &BuildInfo) -> Result<()> {
    for count in counts {
        if count.files == 0 {
            return Err(CatalogError::EmptyRoot(count.root.clone()));
        }
        let before = previous.root(&count.root).map_or(0, |r| r.files);
        if count.files * 2 < before {
            return Err(CatalogError::Shrunk {
                root: count.root.clone(),
                before,
                now: count.files,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::FailingReader;

    fn list(name: &str, bytes: Vec<u8>, reader: bool) -> Source {
        Source::List {
            name: name.into(),
            reader: if reader {
                Box::new(FailingReader::new(bytes))
            } else {
                Box::new(std::io::Cursor::new(bytes))
            },
        }
    }

    fn paths(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| {
                format!(
                    "/data/S2A_MSIL1C_20230615T1000{:02}_N0509_R029_T31NFF_20230616T000937.zip\n",
                    i % 60
                )
            })
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn a_list_that_fails_mid_way_commits_nothing() {
        let temp = tempfile::tempdir().unwrap();
        let dir = IndexDir::new(temp.path());
        let options = BuildOptions::default();
        let built = build(&dir, list("l", paths(50), false), &options, &|_| {}).unwrap();
        assert_eq!(built.info.documents, 50);
        // The first ten lines of the same list, then a read error: the forty after them
        // must not be taken for removed files.
        for update in [false, true] {
            let options = BuildOptions {
                update,
                ..BuildOptions::default()
            };
            let error = build(&dir, list("l", paths(10), true), &options, &|_| {}).unwrap_err();
            assert!(
                matches!(error, CatalogError::ListRead { line: 11, .. }),
                "{error}"
            );
            let catalog = Catalog::open(temp.path()).unwrap();
            assert_eq!(catalog.documents(), 50);
            assert_eq!(catalog.info().built_at, built.info.built_at);
        }
    }
}
