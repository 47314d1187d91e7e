//! Building and updating the index from a crawl or a list.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use tantivy::{DateTime, Index, IndexWriter, TantivyDocument};

use crate::crawl::{check_root, crawl_root, CrawlErrors};
use crate::error::{CatalogError, Result};
use crate::layout::{BuildInfo, IndexDir, RootCount};
use crate::list::ListReader;
use crate::record::{collection_of, FileRecord};
use crate::schema::{CatalogSchema, SCHEMA_VERSION};
use rustc_hash::FxHashMap;

use crate::search::{Catalog, IndexedFile};
use crate::sentinel::parse_name;

/// Where the files to index come from.
pub enum Source {
    /// Walk these root directories.
    Roots(Vec<PathBuf>),
    /// Read a policy-scan list; `name` identifies it in reports and shrink checks.
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
    /// Commit even when a root is empty or shrank below half its previous count.
    pub allow_shrink: bool,
    /// Memory for the index writer, in bytes; it flushes segments when this is used.
    pub memory_bytes: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            full: false,
            allow_shrink: false,
            memory_bytes: 256 << 20,
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
}

/// Turns a record into the document indexed for it.
pub fn document(schema: &CatalogSchema, record: &FileRecord) -> (TantivyDocument, bool) {
    let mut doc = TantivyDocument::default();
    let name = record.name();
    doc.add_text(schema.path, &record.path);
    doc.add_text(schema.name, name);
    let text = |doc: &mut TantivyDocument, field: &str, value: &str| {
        doc.add_text(schema.field(field).expect("schema field"), value)
    };
    let number = |doc: &mut TantivyDocument, field: &str, value: u64| {
        doc.add_u64(schema.field(field).expect("schema field"), value)
    };
    let date = |doc: &mut TantivyDocument, field: &str, secs: i64| {
        doc.add_date(
            schema.field(field).expect("schema field"),
            DateTime::from_timestamp_secs(secs),
        )
    };
    if let Some(collection) = collection_of(&record.path) {
        text(&mut doc, "collection", collection);
    }
    let product = parse_name(name);
    if let Some(p) = &product {
        for (field, value) in [
            ("mission", &p.mission),
            ("sat", &p.sat),
            ("product", &p.product),
            ("level", &p.level),
            ("mode", &p.mode),
            ("tile", &p.tile),
            ("baseline", &p.baseline),
        ] {
            if let Some(value) = value {
                text(&mut doc, field, value);
            }
        }
        for (field, value) in [("orbit", p.orbit), ("absorbit", p.absorbit)] {
            if let Some(value) = value {
                number(&mut doc, field, value);
            }
        }
        for (field, value) in [("date", p.date), ("end", p.end)] {
            if let Some(value) = value {
                date(&mut doc, field, value.unix_timestamp());
            }
        }
    }
    if let Some(size) = record.size {
        number(&mut doc, "size", size);
    }
    if let Some(mtime) = record.mtime {
        date(&mut doc, "mtime", mtime);
    }
    if let Some(state) = record.state {
        text(&mut doc, "state", state.as_str());
    }
    (doc, product.is_some())
}

/// What the index holds and the build has not seen yet, by fingerprint.
struct Known {
    unseen: FxHashMap<u64, IndexedFile>,
}

impl Known {
    fn load(catalog: &Catalog) -> Result<Known> {
        let files = catalog.indexed_files()?;
        Ok(Known {
            unseen: files.into_iter().map(|f| (f.fingerprint, f)).collect(),
        })
    }

    /// Marks a fingerprint seen; false when the index does not hold it.
    fn see(&mut self, fingerprint: u64) -> bool {
        self.unseen.remove(&fingerprint).is_some()
    }

    fn unseen(&self) -> Vec<IndexedFile> {
        self.unseen.values().copied().collect()
    }
}

/// Counts what goes into the writer.
struct Feed<'a> {
    writer: &'a IndexWriter,
    schema: &'a CatalogSchema,
    known: Option<Known>,
    report: BuildReport,
    progress: &'a (dyn Fn(u64) + Sync),
    error: Option<CatalogError>,
}

impl Feed<'_> {
    fn add(&mut self, record: FileRecord) {
        self.report.files += 1;
        if self.report.files.is_multiple_of(4096) {
            (self.progress)(self.report.files);
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
        if let Err(error) = self.writer.add_document(doc) {
            self.error.get_or_insert(error.into());
        }
        self.report.added += 1;
    }
}

/// Builds or updates the index in `dir` from `source`.
///
/// An existing index of the current schema is updated in place unless `options.full`: new and
/// changed files are written, vanished ones removed, unchanged ones left alone. Otherwise a new
/// generation is built and switched to atomically. A missing, unreadable or empty root, or one
/// that shrank under half its previous count, commits nothing.
pub fn build(
    dir: &IndexDir,
    source: Source,
    options: &BuildOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BuildReport> {
    let started = Instant::now();
    let lock = dir.lock()?;
    let source = match source {
        Source::Roots(roots) => Source::Roots(
            roots
                .iter()
                .map(|root| check_root(root))
                .collect::<std::result::Result<_, _>>()?,
        ),
        list => list,
    };
    let existing = if options.full {
        None
    } else {
        match Catalog::open(dir.path()) {
            Ok(catalog) => Some(catalog),
            Err(CatalogError::NoIndex(_) | CatalogError::SchemaMismatch { .. }) => None,
            Err(error) => return Err(error),
        }
    };
    dir.remove_stale(&lock)?;
    let schema = CatalogSchema::new();
    let (index, staging, known, previous) = match &existing {
        Some(catalog) => (
            catalog.index().clone(),
            None,
            Some(Known::load(catalog)?),
            catalog.info().clone(),
        ),
        None => {
            let staging = dir.staging(&lock)?;
            let index = Index::create_in_dir(&staging, schema.schema.clone())?;
            (index, Some(staging), None, BuildInfo::default())
        }
    };
    CatalogSchema::register_tokenizers(&index);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let per_thread = (options.memory_bytes / threads).max(15 << 20);
    let mut writer: IndexWriter = index.writer_with_num_threads(threads, per_thread * threads)?;
    let report = BuildReport {
        info: BuildInfo::default(),
        full: staging.is_some(),
        files: 0,
        products: 0,
        added: 0,
        removed: 0,
        unchanged: 0,
    };
    let mut feed = Feed {
        writer: &writer,
        schema: &schema,
        known,
        report,
        progress,
        error: None,
    };
    let mut counts = Vec::new();
    let mut errors = CrawlErrors::default();
    let mut malformed_lines = 0;
    let outcome = (|| -> Result<()> {
        match source {
            Source::Roots(roots) => {
                for root in roots {
                    let before = feed.report.files;
                    errors.add(&crawl_root(&root, |record| feed.add(record))?);
                    counts.push(RootCount {
                        root: root.to_string_lossy().into_owned(),
                        files: feed.report.files - before,
                        freshness: Default::default(),
                    });
                }
            }
            Source::List { name, reader } => {
                for line in ListReader::new(reader) {
                    match line {
                        Ok(record) => feed.add(record),
                        Err(_) => malformed_lines += 1,
                    }
                }
                counts.push(RootCount {
                    root: format!("list:{name}"),
                    files: feed.report.files,
                    freshness: Default::default(),
                });
            }
        }
        if let Some(error) = feed.error.take() {
            return Err(error);
        }
        if !options.allow_shrink {
            check_shrink(&counts, &previous)?;
        }
        Ok(())
    })();
    let Feed {
        known, mut report, ..
    } = feed;
    if let Err(error) = outcome {
        drop(writer);
        if let Some(staging) = staging {
            let _ = std::fs::remove_dir_all(staging);
        }
        return Err(error);
    }
    if let (Some(known), Some(catalog)) = (&known, &existing) {
        let unseen = known.unseen();
        if !unseen.is_empty() {
            report.removed = unseen.len() as u64;
            writer.delete_query(catalog.files_query(&unseen)?)?;
        }
    }
    let documents = report.unchanged + report.added;
    report.info = BuildInfo {
        schema_version: SCHEMA_VERSION,
        built_at: now_rfc3339(),
        seconds: started.elapsed().as_secs_f64(),
        roots: counts,
        errors,
        malformed_lines,
        documents,
        collections: Default::default(),
        dir_states: None,
    };
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&serde_json::to_string(&report.info).expect("build info serializes"));
    commit.commit()?;
    writer.wait_merging_threads()?;
    if let Some(staging) = staging {
        dir.publish(&staging, &lock)?;
    }
    report.info.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn check_shrink(counts: &[RootCount], previous: &BuildInfo) -> Result<()> {
    for count in counts {
        if count.files == 0 {
            return Err(CatalogError::EmptyRoot(count.root.clone()));
        }
        let before = previous
            .roots
            .iter()
            .find(|r| r.root == count.root)
            .map_or(0, |r| r.files);
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

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("the current time formats")
}
