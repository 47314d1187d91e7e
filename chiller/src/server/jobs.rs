//! The server's jobs: persisted one JSON file each in the state directory, queued, and recalled
//! by a bounded number of workers that never recall a file twice at once.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use catalog_index::atomic::{write_file, AtomicFile};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::ledger::now;
use crate::recall::{resident_beneath, Recaller, Spawned};
use crate::wire::JobStatus;

/// A job as persisted and as the status call shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    id: u64,
    files: Vec<String>,
    submitted: String,
    started: Option<String>,
    completed: Option<String>,
    done: u64,
    failed: u64,
    errors: BTreeMap<String, String>,
    output: Option<String>,
    /// The recall command running for the job, if any: a server that starts after a crash
    /// ends it before resuming the job, so that a batch never runs twice at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recall: Option<Spawned>,
}

impl Job {
    /// The status answer: the counts, and the times, errors and output beside them.
    fn status(&self) -> JobStatus {
        let details = [
            ("ID", json!(self.id)),
            ("Submitted", json!(self.submitted)),
            ("Started", json!(self.started)),
            ("Completed", json!(self.completed)),
            ("Errors", json!(self.errors)),
            ("Output", json!(self.output)),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        JobStatus::new(
            self.completed.is_some(),
            self.files.len() as u64,
            self.done,
            self.failed,
            details,
        )
    }
}

/// Every job of a server, its queue, and the files being recalled now.
pub struct Jobs {
    dir: PathBuf,
    jobs: Mutex<BTreeMap<u64, Job>>,
    /// The next job's id; `None` once a job of id `u64::MAX` exists.
    next_id: Mutex<Option<u64>>,
    queue: mpsc::UnboundedSender<u64>,
    /// Files some worker is recalling: another job wanting one waits for it rather than
    /// recalling it again.
    claimed: Mutex<HashSet<String>>,
    /// Told whenever claimed files are released.
    released: Notify,
    /// Recall commands running now, by job.
    recalls: Mutex<BTreeMap<u64, Spawned>>,
    /// Cancelled when the server shuts down: the workers stop, and the running jobs stay
    /// unfinished, to resume.
    stop: CancellationToken,
    /// Held for the server's life: a second server on the same state directory would hand out
    /// the same job ids.
    _lock: fs::File,
}

/// How long a recall command has to stop on SIGTERM before its group is killed.
const GRACE: Duration = Duration::from_secs(3);

/// The queue the workers take job ids from.
pub type Queue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<u64>>>;

impl Jobs {
    /// Loads the jobs persisted in `state_dir` and queues the unfinished ones again, so that a
    /// job running at a crash or shutdown resumes. Answers the queue and the resumed job ids.
    pub fn load(state_dir: &Path) -> anyhow::Result<(Jobs, Queue, Vec<u64>)> {
        let dir = state_dir.join("jobs");
        fs::create_dir_all(&dir).with_context(|| {
            format!(
                "cannot create the state directory {}: give a writable --state-dir",
                dir.display()
            )
        })?;
        let lock = fs::File::create(state_dir.join("lock"))?;
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            bail!(
                "another chiller-server uses the state directory {}: stop it or give another --state-dir",
                state_dir.display()
            );
        }
        let mut jobs = BTreeMap::new();
        // The largest id any job file's name or content holds: new ids go above it, so that no
        // job file, even one skipped here, is ever written over.
        let mut largest = 0u64;
        let mut skipped = Vec::new();
        let mut names: Vec<_> = fs::read_dir(&dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        names.sort();
        for path in names {
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let named = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(named) = named {
                largest = largest.max(named);
            }
            let job = fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str::<Job>(&text).map_err(|e| e.to_string()));
            match (named, job) {
                (None, _) => skipped.push(format!("{name} (its name is no job id)")),
                (Some(_), Err(error)) => skipped.push(format!("{name} (unreadable: {error})")),
                (Some(named), Ok(job)) if job.id != named => {
                    largest = largest.max(job.id);
                    skipped.push(format!("{name} (it holds job {})", job.id));
                }
                (Some(_), Ok(job)) => {
                    jobs.insert(job.id, job);
                }
            }
        }
        if !skipped.is_empty() {
            tracing::warn!(
                "skipped job state files in {} (move them away): {}",
                dir.display(),
                skipped.join(", ")
            );
        }
        // None when the ids are used up: submissions then fail, saying so.
        let next_id = largest.checked_add(1);
        // A recall command a killed server left running is ended before its job resumes.
        for job in jobs.values_mut() {
            let Some(recall) = job.recall.take() else {
                continue;
            };
            if let Some(group) = recall.running_group().filter(|_| job.completed.is_none()) {
                tracing::warn!(
                    job = job.id,
                    group,
                    "ending the recall command an earlier server left running"
                );
                Spawned::end_group(group, GRACE);
            }
        }
        let unfinished: Vec<u64> = jobs
            .values()
            .filter(|j| j.completed.is_none())
            .map(|j| j.id)
            .collect();
        let (sender, receiver) = mpsc::unbounded_channel();
        for id in &unfinished {
            sender.send(*id).expect("the receiver is here");
        }
        let jobs = Jobs {
            dir,
            jobs: Mutex::new(jobs),
            next_id: Mutex::new(next_id),
            queue: sender,
            claimed: Mutex::new(HashSet::new()),
            released: Notify::new(),
            recalls: Mutex::new(BTreeMap::new()),
            stop: CancellationToken::new(),
            _lock: lock,
        };
        Ok((
            jobs,
            Arc::new(tokio::sync::Mutex::new(receiver)),
            unfinished,
        ))
    }

    /// Creates a job of checked paths, persisted before its id is given out, and queues it.
    pub fn submit(&self, files: Vec<String>) -> anyhow::Result<u64> {
        let mut next_id = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
        let mut job = Job {
            id: 0,
            files,
            submitted: now(),
            started: None,
            completed: None,
            done: 0,
            failed: 0,
            errors: BTreeMap::new(),
            output: None,
            recall: None,
        };
        // A job file that appeared since the start is stepped over, never written over.
        let id = loop {
            let Some(id) = *next_id else {
                bail!(
                    "no job id is left: {} holds a job of id {}; move the job files away to take new jobs",
                    self.dir.display(),
                    u64::MAX
                );
            };
            job.id = id;
            *next_id = id.checked_add(1);
            match self.persist_new(&job) {
                Ok(()) => break id,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    tracing::warn!(job = id, "a job file of this id appeared: stepped over");
                }
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!(
                            "cannot write the job state {}",
                            self.dir.join(format!("{id}.json")).display()
                        )
                    })
                }
            }
        };
        drop(next_id);
        tracing::info!(job = id, files = job.files.len(), "job submitted");
        self.lock().insert(id, job);
        // The workers live as long as the server; if they are gone, it is shutting down and
        // the job is picked up at the next start.
        let _ = self.queue.send(id);
        Ok(id)
    }

    /// A job's status answer.
    pub fn status(&self, id: u64) -> Option<JobStatus> {
        self.lock().get(&id).map(Job::status)
    }

    /// Jobs started and not completed: those a shutdown interrupts.
    pub fn running(&self) -> Vec<u64> {
        self.lock()
            .values()
            .filter(|j| j.started.is_some() && j.completed.is_none())
            .map(|j| j.id)
            .collect()
    }

    /// Tells the workers to stop, and ends the running recall commands' process groups; their
    /// jobs stay unfinished, to resume at the next start. Blocks up to the grace time.
    pub fn stop(&self) {
        self.stop.cancel();
        let recalls: Vec<Spawned> = self
            .recalls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for recall in recalls {
            tracing::info!(group = recall.pgid, "ending a running recall command");
            Spawned::end_group(recall.pgid, GRACE);
        }
    }

    fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Notes the recall command a job runs (or that it ended), in memory and in its state.
    fn note_recall(&self, id: u64, recall: Option<Spawned>) {
        {
            let mut recalls = self.recalls.lock().unwrap_or_else(|e| e.into_inner());
            match &recall {
                Some(recall) => recalls.insert(id, recall.clone()),
                None => recalls.remove(&id),
            };
        }
        let started = recall.clone();
        self.update(id, true, |job| job.recall = recall);
        if let Some(started) = started.filter(|_| self.stopping()) {
            // Started as the server shut down, after the others were ended.
            Spawned::end_group(started.pgid, GRACE);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a new job's state atomically and durably, failing with `AlreadyExists` rather
    /// than writing over a job file of the same id.
    fn persist_new(&self, job: &Job) -> std::io::Result<()> {
        let mut file = AtomicFile::create(&self.dir.join(format!("{}.json", job.id)))?;
        serde_json::to_writer(&mut file, job)?;
        file.write_all(b"\n")?;
        file.commit_new()
    }

    /// Writes a job's state atomically and durably.
    fn persist(&self, job: &Job) -> anyhow::Result<()> {
        let path = self.dir.join(format!("{}.json", job.id));
        let mut text = serde_json::to_vec(job)?;
        text.push(b'\n');
        write_file(&path, &text)
            .with_context(|| format!("cannot write the job state {}", path.display()))
    }

    /// Changes a job in memory; with `persist`, also on disk (a failure is logged: the job
    /// goes on, and at worst is recalled again after a restart).
    fn update(&self, id: u64, persist: bool, change: impl FnOnce(&mut Job)) {
        let job = {
            let mut jobs = self.lock();
            let Some(job) = jobs.get_mut(&id) else { return };
            change(job);
            persist.then(|| job.clone())
        };
        if let Some(job) = job {
            if let Err(error) = self.persist(&job) {
                tracing::error!(job = id, "{error:#}");
            }
        }
    }

    /// Claims the files no worker is recalling; answers them and the others.
    fn claim(&self, files: Vec<String>) -> (Vec<String>, Vec<String>) {
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        files.into_iter().partition(|f| claimed.insert(f.clone()))
    }

    fn release(&self, file: &str) {
        self.claimed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(file);
        self.released.notify_waiters();
    }

    fn record_outcome(&self, id: u64, file: &str, outcome: Result<(), String>) {
        self.update(id, false, |job| match outcome {
            Ok(()) => job.done += 1,
            Err(error) => {
                job.failed += 1;
                job.errors.insert(file.to_string(), error);
            }
        });
    }
}

/// Takes jobs from the queue one after another until [`Jobs::stop`]. Files are opened beneath
/// their root in `roots` (given and resolved), following no link.
pub async fn work(jobs: Arc<Jobs>, recaller: Arc<Recaller>, roots: Arc<[PathBuf]>, queue: Queue) {
    loop {
        let next = async { queue.lock().await.recv().await };
        let id = tokio::select! {
            next = next => match next {
                Some(id) => id,
                None => return,
            },
            () = jobs.stop.cancelled() => return,
        };
        run_job(&jobs, &recaller, &roots, id).await;
        if jobs.stopping() {
            return;
        }
    }
}

/// Recalls a job's files in path order. Files other jobs are recalling are waited for, then
/// taken as recalled if they are on disk; files already on disk are not recalled again.
async fn run_job(jobs: &Arc<Jobs>, recaller: &Recaller, roots: &Arc<[PathBuf]>, id: u64) {
    let started = Instant::now();
    let mut files = {
        let mut all = jobs.lock();
        let Some(job) = all.get_mut(&id) else { return };
        job.files.clone()
    };
    files.sort();
    let resumed = jobs.lock().get(&id).is_some_and(|j| j.started.is_some());
    let store = jobs.clone();
    let _ = tokio::task::spawn_blocking(move || {
        store.update(id, true, |job| {
            job.started.get_or_insert_with(now);
            (job.done, job.failed) = (0, 0);
            job.errors.clear();
            job.output = None;
        })
    })
    .await;
    tracing::info!(job = id, files = files.len(), resumed, "job started");

    let mut outputs = Vec::new();
    let mut pending = files;
    while !pending.is_empty() {
        let released = jobs.released.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        let (mine, busy) = jobs.claim(pending);
        let beneath = roots.clone();
        let (on_disk, batch): (Vec<String>, Vec<String>) = tokio::task::spawn_blocking(move || {
            mine.into_iter()
                .partition(|f| resident_beneath(&beneath, Path::new(f)))
        })
        .await
        .unwrap_or_default();
        for file in on_disk {
            jobs.record_outcome(id, &file, Ok(()));
            jobs.release(&file);
        }
        if !batch.is_empty() {
            let output = recaller
                .recall(
                    roots,
                    &batch,
                    &mut |file, outcome| {
                        jobs.record_outcome(id, file, outcome);
                        jobs.release(file);
                    },
                    &mut |recall| jobs.note_recall(id, recall),
                    &jobs.stop,
                )
                .await;
            outputs.extend(output);
        }
        if busy.is_empty() || jobs.stopping() {
            break;
        }
        tokio::select! {
            () = released => {}
            () = jobs.stop.cancelled() => break,
        }
        pending = busy;
    }

    if jobs.stopping() {
        // Its recall was ended by the shutdown: the job resumes at the next start.
        return;
    }
    let store = jobs.clone();
    let _ = tokio::task::spawn_blocking(move || {
        store.update(id, true, |job| {
            job.completed = Some(now());
            job.output = (!outputs.is_empty()).then(|| outputs.join("\n"));
        })
    })
    .await;
    let (done, failed, first_error) = jobs.lock().get(&id).map_or((0, 0, None), |j| {
        (
            j.done,
            j.failed,
            j.errors.iter().next().map(|(f, e)| format!("{f}: {e}")),
        )
    });
    let seconds = started.elapsed().as_secs_f64();
    match first_error {
        None => tracing::info!(job = id, done, failed, seconds, "job finished"),
        Some(first_error) => {
            tracing::warn!(
                job = id,
                done,
                failed,
                seconds,
                first_error,
                "job finished with failures"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::recall::RecallCommand;

    #[tokio::test]
    async fn a_file_wanted_by_two_jobs_is_recalled_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("recalled.log");
        let mut files = Vec::new();
        for name in ["c.zip", "a.zip", "b.zip"] {
            let path = dir.path().join(name);
            fs::File::create(&path).unwrap().set_len(1 << 20).unwrap();
            files.push(path.to_str().unwrap().to_string());
        }
        // A recall tool that logs its batch and then makes each file resident.
        let command = format!(
            "cat {{list}} >> '{}'; while IFS= read -r f; do fallocate -l $(stat -c %s \"$f\") \"$f\"; done < {{list}}",
            log.display()
        );
        let recaller = Arc::new(Recaller::Command(RecallCommand::new(&command).unwrap()));
        let (jobs, queue, resumed) = Jobs::load(&dir.path().join("state")).unwrap();
        assert!(resumed.is_empty());
        let jobs = Arc::new(jobs);
        let first = jobs.submit(files[..2].to_vec()).unwrap();
        let second = jobs.submit(files.clone()).unwrap();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                tokio::spawn(work(
                    jobs.clone(),
                    recaller.clone(),
                    Arc::from([dir.path().to_path_buf()]),
                    queue.clone(),
                ))
            })
            .collect();
        let finished = |id| jobs.status(id).unwrap().finished;
        for _ in 0..200 {
            if finished(first) && finished(second) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        jobs.stop();
        for worker in workers {
            tokio::time::timeout(Duration::from_secs(5), worker)
                .await
                .expect("a stopped worker ends")
                .unwrap();
        }
        let status = jobs.status(second).unwrap();
        assert!(status.finished, "{status:?}");
        assert_eq!((status.done, status.failed), (Some(3), Some(0)));
        let mut recalled: Vec<String> = fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let batches = recalled.clone();
        recalled.sort();
        let mut expected = files.clone();
        expected.sort();
        assert_eq!(recalled, expected, "each file recalled once: {batches:?}");
        let position = |file: &String| batches.iter().position(|b| b == file).unwrap();
        assert!(
            position(&files[1]) < position(&files[0]),
            "the first job's batch in path order: {batches:?}"
        );
    }

    #[tokio::test]
    async fn unfinished_jobs_are_resumed_and_ids_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let (jobs, _queue, _) = Jobs::load(dir.path()).unwrap();
        assert_eq!(jobs.submit(vec!["/x".into()]).unwrap(), 1);
        assert_eq!(jobs.submit(vec!["/y".into()]).unwrap(), 2);
        jobs.update(1, true, |job| job.completed = Some(now()));
        assert!(
            Jobs::load(dir.path()).is_err(),
            "the state directory is locked"
        );
        drop(jobs);
        let (jobs, _queue, resumed) = Jobs::load(dir.path()).unwrap();
        assert_eq!(resumed, [2]);
        assert!(jobs.status(1).unwrap().finished);
        assert!(!jobs.status(2).unwrap().finished);
        assert_eq!(jobs.submit(vec!["/z".into()]).unwrap(), 3);
    }

    fn job_file(dir: &Path, name: &str, id: u64, files: usize) {
        let job = Job {
            id,
            files: (0..files).map(|i| format!("/f{i}")).collect(),
            submitted: now(),
            started: None,
            completed: Some(now()),
            done: files as u64,
            failed: 0,
            errors: BTreeMap::new(),
            output: None,
            recall: None,
        };
        fs::write(dir.join(name), serde_json::to_string(&job).unwrap()).unwrap();
    }

    #[tokio::test]
    async fn job_files_are_never_written_over() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("jobs");
        fs::create_dir_all(&dir).unwrap();
        job_file(&dir, "1.json", 1, 12);
        job_file(&dir, "9.json", 2, 1);
        fs::write(dir.join("5.json"), "{").unwrap();
        let (jobs, _queue, _) = Jobs::load(state.path()).unwrap();
        assert!(
            jobs.status(2).is_none(),
            "a job under another's name is skipped"
        );
        assert_eq!(jobs.status(1).unwrap().files, Some(12));
        assert_eq!(
            jobs.submit(vec!["/x".into()]).unwrap(),
            10,
            "above every name and content"
        );
        // A file that appears under the next id is stepped over.
        job_file(&dir, "11.json", 11, 3);
        assert_eq!(jobs.submit(vec!["/y".into()]).unwrap(), 12);
        assert!(fs::read_to_string(dir.join("11.json"))
            .unwrap()
            .contains("/f2"));
        assert_eq!(fs::read_to_string(dir.join("5.json")).unwrap(), "{");
        drop(jobs);

        job_file(&dir, &format!("{}.json", u64::MAX), u64::MAX, 1);
        let (jobs, _queue, _) = Jobs::load(state.path()).unwrap();
        let error = jobs.submit(vec!["/z".into()]).unwrap_err().to_string();
        assert!(error.starts_with("no job id is left"), "{error}");
        assert_eq!(jobs.status(1).unwrap().files, Some(12), "job 1 kept");
        assert!(fs::read_to_string(dir.join("1.json"))
            .unwrap()
            .contains("/f11"));
        assert!(!dir.join("0.json").exists());
    }
}
