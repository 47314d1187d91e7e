//! The local ledger of submitted jobs: one JSON file per job, written atomically, so that
//! `catalog jobs` shows history and status after a restart.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One submitted job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The job id the server gave.
    pub id: String,
    /// The server's URL.
    pub server: String,
    /// When it was submitted, RFC 3339 UTC.
    pub submitted: String,
    /// The query that made the list, if any.
    pub query: Option<String>,
    /// Files in the job.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// The list itself.
    pub list: Vec<String>,
}

/// The ledger directory.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
}

impl Ledger {
    /// The ledger at `CATALOG_LEDGER`, else in the platform's data directory.
    pub fn open() -> anyhow::Result<Ledger> {
        let dir = match std::env::var_os("CATALOG_LEDGER") {
            Some(dir) => PathBuf::from(dir),
            None => dirs::data_dir()
                .map(|d| d.join("catalog").join("jobs"))
                .context("no data directory on this platform: set CATALOG_LEDGER")?,
        };
        Ok(Ledger { dir })
    }

    /// Records a job; the file appears whole or not at all.
    pub fn record(&self, entry: &LedgerEntry) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create the job ledger {}", self.dir.display()))?;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let safe_id: String = entry
            .id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = self.dir.join(format!("{stamp}-{safe_id}.json"));
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        serde_json::to_writer_pretty(&mut file, entry)?;
        file.write_all(b"\n")?;
        file.as_file().sync_all()?;
        file.persist(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Every recorded job, oldest first.
    pub fn entries(&self) -> anyhow::Result<Vec<LedgerEntry>> {
        let mut names = match fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect::<Vec<_>>(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read the job ledger {}", self.dir.display()))
            }
        };
        names.sort();
        names
            .iter()
            .map(|path| {
                let text = fs::read_to_string(path)?;
                serde_json::from_str(&text)
                    .with_context(|| format!("unreadable ledger entry {}", path.display()))
            })
            .collect()
    }

    /// The latest job recorded with this id.
    pub fn find(&self, id: &str) -> anyhow::Result<Option<LedgerEntry>> {
        Ok(self.entries()?.into_iter().rev().find(|e| e.id == id))
    }
}
