//! The local ledger of submitted jobs: one JSON file per job, written atomically, so that
//! `catalog jobs` shows history and the last known status after a restart.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use catalog_index::atomic::write_file;
use catalog_index::time::rfc3339;
use serde::{Deserialize, Serialize};

use crate::wire::{check_job_id, JobStatus};

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
    /// What the server last said of the job, if anyone asked since the upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<LastStatus>,
    /// The file holding this entry, so that a status can be noted in it.
    #[serde(skip)]
    file: PathBuf,
}

/// A job's status as last seen, kept so that history shows it without asking the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastStatus {
    /// When the server was asked, RFC 3339 UTC.
    pub checked: String,
    /// Whether the recall was over.
    pub finished: bool,
    /// Files recalled, where the server said.
    pub done: Option<u64>,
    /// Files that failed, where the server said.
    pub failed: Option<u64>,
}

impl LedgerEntry {
    /// A new entry for a job just submitted.
    pub fn new(
        id: String,
        server: String,
        query: Option<String>,
        list: Vec<String>,
        bytes: u64,
    ) -> LedgerEntry {
        LedgerEntry {
            id,
            server,
            submitted: now(),
            query,
            files: list.len() as u64,
            bytes,
            list,
            last_status: None,
            file: PathBuf::new(),
        }
    }

    /// `finished`, `failed 2 of 10`, `running 3 of 10`, or `unknown` when nobody has asked.
    pub fn status_text(&self) -> String {
        let Some(status) = &self.last_status else {
            return "unknown".into();
        };
        let of = |n: Option<u64>| match n {
            Some(n) => format!(" {n} of {}", self.files),
            None => String::new(),
        };
        match (status.finished, status.failed) {
            (true, Some(failed)) if failed > 0 => format!("failed{}", of(Some(failed))),
            (true, _) => "finished".into(),
            (false, _) => format!("running{}", of(status.done)),
        }
    }
}

/// The ledger directory.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
}

impl Ledger {
    /// The ledger in `dir`.
    pub fn at(dir: &Path) -> Ledger {
        Ledger {
            dir: dir.to_path_buf(),
        }
    }

    /// Creates the ledger directory if need be, so that a job can be recorded.
    pub fn ready(&self) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir).with_context(|| {
            format!(
                "cannot create the job ledger {}: give a writable directory with --ledger or CATALOG_LEDGER",
                self.dir.display()
            )
        })
    }

    /// Records a new job; its file appears whole or not at all. Its id must be a job id (see
    /// [`check_job_id`]), and is part of the file's name.
    pub fn record(&self, entry: &mut LedgerEntry) -> anyhow::Result<()> {
        check_job_id(&entry.id)?;
        self.ready()?;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        // Checked above; the name is made of safe characters all the same.
        let safe_id: String = entry
            .id
            .chars()
            .take(64)
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        // The time stamp first: names sort in the order jobs were submitted.
        entry.file = self.dir.join(format!("{stamp:020}-{safe_id}.json"));
        self.write(entry)
    }

    /// Notes what the server said of a job, replacing what was noted before.
    pub fn note_status(&self, entry: &mut LedgerEntry, status: &JobStatus) -> anyhow::Result<()> {
        entry.last_status = Some(LastStatus {
            checked: now(),
            finished: status.finished,
            done: status.done,
            failed: status.failed,
        });
        self.write(entry)
    }

    fn write(&self, entry: &LedgerEntry) -> anyhow::Result<()> {
        let mut text = serde_json::to_vec_pretty(entry)?;
        text.push(b'\n');
        write_file(&entry.file, &text)
            .with_context(|| format!("cannot write the job ledger entry {}", entry.file.display()))
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
            .into_iter()
            .map(|path| {
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let mut entry: LedgerEntry = serde_json::from_str(&text).with_context(|| {
                    format!(
                        "unreadable ledger entry {}: move it away to go on",
                        path.display()
                    )
                })?;
                check_job_id(&entry.id).with_context(|| {
                    format!(
                        "unusable ledger entry {}: move it away to go on",
                        path.display()
                    )
                })?;
                entry.file = path;
                Ok(entry)
            })
            .collect()
    }

    /// The latest job recorded with this id.
    pub fn find(&self, id: &str) -> anyhow::Result<Option<LedgerEntry>> {
        Ok(self.entries()?.into_iter().rev().find(|e| e.id == id))
    }
}

/// The time now to the second, RFC 3339 UTC, as Chiller writes its times.
pub fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    rfc3339(now.replace_nanosecond(0).unwrap_or(now))
        .expect("the current year is one RFC 3339 writes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_reopen_with_their_noted_status() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path());
        let mut first = LedgerEntry::new(
            "17".into(),
            "http://x".into(),
            Some("tile:T60WWV".into()),
            vec!["/a".into(), "/b".into()],
            10,
        );
        ledger.record(&mut first).unwrap();
        let mut second = LedgerEntry::new("a-b.1".into(), "http://y".into(), None, vec![], 0);
        ledger.record(&mut second).unwrap();
        assert_eq!(first.status_text(), "unknown");

        let status: JobStatus =
            serde_json::from_str(r#"{"Finished":"false","Files":2,"Done":1}"#).unwrap();
        ledger.note_status(&mut first, &status).unwrap();

        let reopened = Ledger::at(dir.path()).entries().unwrap();
        assert_eq!(reopened.len(), 2, "a status note adds no entry");
        assert_eq!(reopened[0].id, "17");
        assert_eq!(reopened[0].list, ["/a", "/b"]);
        assert_eq!(reopened[0].status_text(), "running 1 of 2");
        assert_eq!(reopened[1].id, "a-b.1");
        assert_eq!(ledger.find("a-b.1").unwrap().unwrap().server, "http://y");
        assert!(ledger.find("18").unwrap().is_none());
    }

    #[test]
    fn ids_that_are_no_job_ids_are_neither_recorded_nor_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path());
        for id in ["../../../../tmp/x", "..", "", &"9".repeat(10_000)] {
            let mut entry = LedgerEntry::new(id.into(), "http://x".into(), None, vec![], 0);
            let error = ledger.record(&mut entry).unwrap_err().to_string();
            assert!(error.contains("is no job id"), "{error}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let mut entry = LedgerEntry::new("5".into(), "http://x".into(), None, vec![], 0);
        ledger.record(&mut entry).unwrap();
        let text = std::fs::read_to_string(&entry.file).unwrap();
        std::fs::write(&entry.file, text.replace("\"5\"", "\"../x\"")).unwrap();
        let error = format!("{:#}", ledger.entries().unwrap_err());
        assert!(
            error.starts_with(&format!("unusable ledger entry {}", entry.file.display()))
                && error.contains("'../x' is no job id"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_ledger_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Ledger::at(&dir.path().join("none"))
            .entries()
            .unwrap()
            .is_empty());
    }
}
