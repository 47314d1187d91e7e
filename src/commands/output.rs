//! Writing answers of `catalog query`: to stdout, or atomically to a file, in the formats users
//! ask for.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use catalog_index::atomic::AtomicFile;
use catalog_index::schema::FIELDS;
use catalog_index::search::{Match, Summary};
use indicatif::HumanBytes;

/// Output formats of `catalog query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Absolute paths, one per line: the file list Chiller takes.
    #[default]
    Paths,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
}

/// Where an answer goes: stdout, or a temporary file renamed over the target when complete, so
/// that a reader never sees half a list. A target that is no regular file (a device such as
/// `/dev/null`, a named pipe) is written in place: renaming over it would replace it.
pub enum Sink {
    /// Standard output.
    Stdout(BufWriter<io::StdoutLock<'static>>),
    /// A temporary file beside the target.
    File(AtomicFile),
    /// A target that is no regular file, written in place.
    Special(BufWriter<std::fs::File>, PathBuf),
}

impl Sink {
    /// Opens standard output, or a temporary file beside `path`.
    pub fn open(path: Option<&Path>) -> anyhow::Result<Sink> {
        Ok(match path {
            None => Sink::Stdout(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
            Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Sink::Special(BufWriter::with_capacity(1 << 16, file), path.to_path_buf())
            }
            Some(path) => Sink::File(
                AtomicFile::create(path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            ),
        })
    }

    /// Flushes, and for a file renames it into place.
    pub fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Stdout(mut out) => Ok(out.flush()?),
            Sink::File(file) => {
                let path = file.path().to_path_buf();
                file.commit()
                    .with_context(|| format!("cannot write {}", path.display()))
            }
            Sink::Special(mut out, path) => out
                .flush()
                .with_context(|| format!("cannot write {}", path.display())),
        }
    }
}

/// A write error of a file, naming it; its kind is kept, so a closed pipe is still one.
fn naming(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |error| {
        io::Error::new(
            error.kind(),
            format!("cannot write {}: {error}", path.display()),
        )
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(out) => out.write(buf),
            Sink::File(file) => file.write(buf).map_err(naming(file.path())),
            Sink::Special(out, path) => out.write(buf).map_err(naming(path)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => out.flush(),
            Sink::File(file) => file.flush().map_err(naming(file.path())),
            Sink::Special(out, path) => out.flush().map_err(naming(path)),
        }
    }
}

/// Hands each match to a callback, returning the totals: the shape of
/// [`catalog_index::Catalog::for_each_match`] with its query and order fixed.
pub trait Matches:
    FnOnce(&mut dyn FnMut(Match) -> io::Result<()>) -> anyhow::Result<Summary>
{
}

impl<F: FnOnce(&mut dyn FnMut(Match) -> io::Result<()>) -> anyhow::Result<Summary>> Matches for F {}

/// Streams matches in a format as they come, so that no answer is held whole in memory.
pub fn write_matches(
    out: &mut impl Write,
    format: Format,
    matches: impl Matches,
) -> anyhow::Result<Summary> {
    match format {
        Format::Paths => write_paths(out, b'\n', matches),
        Format::Ndjson => matches(&mut |m| {
            serde_json::to_writer(&mut *out, &m.entry())?;
            out.write_all(b"\n")
        }),
        Format::Json => {
            out.write_all(b"[")?;
            let mut first = true;
            let summary = matches(&mut |m| {
                out.write_all(if first { b"\n" } else { b",\n" })?;
                first = false;
                serde_json::to_writer(&mut *out, &m.entry()).map_err(io::Error::from)
            })?;
            out.write_all(b"\n]\n")?;
            Ok(summary)
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(FIELDS.iter().map(|(name, _)| *name))?;
            let summary = matches(&mut |m| {
                let value = serde_json::to_value(m.entry())?;
                csv.write_record(FIELDS.iter().map(|(name, _)| match &value[*name] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }))
                .map_err(io::Error::other)
            })?;
            csv.flush()?;
            Ok(summary)
        }
    }
}

/// Streams the matches' paths, each ended by `end`: a newline, or NUL for `--print0`, which
/// keeps a name holding a newline one record.
pub fn write_paths(
    out: &mut impl Write,
    end: u8,
    matches: impl Matches,
) -> anyhow::Result<Summary> {
    matches(&mut |m| {
        out.write_all(m.path.as_bytes())?;
        out.write_all(&[end])
    })
}

/// `1234 files, 1.2 TiB (on disk: 10 files, 40 KiB; on tape: 1224 files, 1.2 TiB)`.
pub fn summary_line(summary: &catalog_index::search::Summary) -> String {
    format!(
        "{} files, {} (on disk: {} files, {}; on tape: {} files, {})",
        summary.files,
        HumanBytes(summary.bytes),
        summary.disk_files,
        HumanBytes(summary.disk_bytes),
        summary.tape_files,
        HumanBytes(summary.tape_bytes)
    )
}
