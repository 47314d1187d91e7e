//! What a Chiller client and server exchange, in Chiller's own form, written once for both:
//! `POST /upload` takes a list (one absolute path a line) and answers a job id as a line of
//! text; `GET /jobs/<id>` answers the job's status as a JSON object of capitalised fields, of
//! which `Finished`, `Files`, `Done` and `Failed` are read.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest job id taken from a server or a user.
pub const MAX_JOB_ID: usize = 64;

const FINISHED: &str = "Finished";
const FILES: &str = "Files";
const DONE: &str = "Done";
const FAILED: &str = "Failed";

/// Something given as a job id that is none (see [`check_job_id`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{shown}' is no job id: a job id is 1 to {MAX_JOB_ID} of A-Z a-z 0-9 . _ -")]
pub struct BadJobId {
    /// The text, escaped and cut short.
    shown: String,
}

/// Whether `id` is a job id: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, and neither `.`
/// nor `..`. Ids come from a server or a user and end up in URLs, ledger file names and
/// terminals, so nothing else is taken.
pub fn check_job_id(id: &str) -> Result<(), BadJobId> {
    let fine = !id.is_empty()
        && id.len() <= MAX_JOB_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && id != "."
        && id != "..";
    if fine {
        Ok(())
    } else {
        Err(BadJobId {
            shown: excerpt(id, false),
        })
    }
}

/// The upload's answer: the job id on a line.
pub fn upload_answer(id: u64) -> String {
    format!("{id}\n")
}

/// Why an upload's answer (at most what was read of it; `cut` if there was more) holds no job id.
pub fn job_id_of_upload_answer(answer: &str, cut: bool) -> Result<&str, String> {
    let id = answer.trim();
    if id.is_empty() && !cut {
        return Err("an empty job id".into());
    }
    if cut || check_job_id(id).is_err() {
        return Err(format!(
            "no job id (at most {MAX_JOB_ID} of A-Z a-z 0-9 . _ -) but: {}",
            excerpt(id, cut)
        ));
    }
    Ok(id)
}

/// A job's status as `GET /jobs/<id>` answers it. A client reads `Finished` as a string or a
/// boolean and the counts as numbers or numeric strings, and keeps every other field; this
/// crate's server writes `Finished` as Chiller does, `"true"` or `"false"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>", into = "Map<String, Value>")]
pub struct JobStatus {
    /// Whether the recall is over.
    pub finished: bool,
    /// Files in the job, where the server says.
    pub files: Option<u64>,
    /// Files recalled so far, where the server says.
    pub done: Option<u64>,
    /// Files that could not be recalled, where the server says.
    pub failed: Option<u64>,
    /// Every field as the server sent it.
    pub raw: Map<String, Value>,
}

/// A status answer without a readable `Finished`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadStatus(String);

impl JobStatus {
    /// The status a server gives: the counts, and `details` (times, errors, output) beside
    /// them.
    pub fn new(
        finished: bool,
        files: u64,
        done: u64,
        failed: u64,
        details: Map<String, Value>,
    ) -> JobStatus {
        let mut raw = details;
        raw.insert(
            FINISHED.into(),
            Value::from(if finished { "true" } else { "false" }),
        );
        raw.insert(FILES.into(), files.into());
        raw.insert(DONE.into(), done.into());
        raw.insert(FAILED.into(), failed.into());
        JobStatus {
            finished,
            files: Some(files),
            done: Some(done),
            failed: Some(failed),
            raw,
        }
    }
}

impl TryFrom<Map<String, Value>> for JobStatus {
    type Error = BadStatus;

    fn try_from(raw: Map<String, Value>) -> Result<JobStatus, BadStatus> {
        let finished = match raw.get(FINISHED) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
            Some(other) => {
                return Err(BadStatus(format!(
                    "the status answer has an unreadable \"{FINISHED}\": {other}"
                )))
            }
            None => {
                return Err(BadStatus(format!(
                    "the status answer has no \"{FINISHED}\" field"
                )))
            }
        };
        let number = |key: &str| match raw.get(key) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Ok(JobStatus {
            finished,
            files: number(FILES),
            done: number(DONE),
            failed: number(FAILED),
            raw,
        })
    }
}

impl From<JobStatus> for Map<String, Value> {
    fn from(status: JobStatus) -> Map<String, Value> {
        status.raw
    }
}

/// A server's answer as [`excerpt`] shows it, `(empty body)` if it says nothing.
pub(crate) fn body_excerpt(body: &str, cut: bool) -> String {
    if body.trim().is_empty() && !cut {
        return "(empty body)".into();
    }
    excerpt(body, cut)
}

/// Text from elsewhere as a short excerpt on one line: whitespace runs become one space,
/// other control characters are escaped, and it is cut after 100 characters (`...` marks a
/// cut, also when `cut` says the text was cut before).
pub(crate) fn excerpt(text: &str, cut: bool) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown = String::new();
    let mut chars = line.chars();
    for c in chars.by_ref().take(100) {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    if cut || chars.next().is_some() {
        shown.push_str("...");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: &str) -> Result<JobStatus, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn finished_is_read_as_string_or_boolean() {
        assert!(status(r#"{"Finished":"true"}"#).unwrap().finished);
        assert!(
            !status(r#"{"Finished":"false","Files":"3"}"#)
                .unwrap()
                .finished
        );
        let s = status(r#"{"Finished":true,"Files":3,"Done":2,"Failed":0,"Tape":"T1"}"#).unwrap();
        assert_eq!(
            (s.finished, s.files, s.done, s.failed),
            (true, Some(3), Some(2), Some(0))
        );
        assert_eq!(s.raw["Tape"], "T1");
        let odd = status(r#"{"Finished":"maybe"}"#).unwrap_err().to_string();
        assert!(odd.contains("unreadable \"Finished\": \"maybe\""), "{odd}");
        assert!(status(r#"{"ID":"1"}"#)
            .unwrap_err()
            .to_string()
            .contains("no \"Finished\""));
        assert!(status("[1]").is_err());
    }

    #[test]
    fn a_servers_status_reads_back_the_same() {
        let mut details = Map::new();
        details.insert("ID".into(), 7.into());
        details.insert("Errors".into(), serde_json::json!({"/a": "gone"}));
        let sent = JobStatus::new(true, 3, 2, 1, details);
        let text = serde_json::to_string(&sent).unwrap();
        let wire: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(wire["Finished"], "true", "Chiller's own form: {wire}");
        assert_eq!(
            (wire["Files"].as_u64(), wire["Failed"].as_u64()),
            (Some(3), Some(1))
        );
        let read: JobStatus = serde_json::from_str(&text).unwrap();
        assert_eq!(read, sent);
        assert_eq!(read.raw["Errors"]["/a"], "gone");
        let running: JobStatus = serde_json::from_value(
            serde_json::to_value(JobStatus::new(false, 1, 0, 0, Map::new())).unwrap(),
        )
        .unwrap();
        assert_eq!((running.finished, running.done), (false, Some(0)));
    }

    #[test]
    fn an_upload_answer_is_a_job_id_on_a_line() {
        assert_eq!(upload_answer(42), "42\n");
        assert_eq!(job_id_of_upload_answer(&upload_answer(42), false), Ok("42"));
        assert_eq!(job_id_of_upload_answer(" a-1.b\r\n", false), Ok("a-1.b"));
        assert_eq!(
            job_id_of_upload_answer(" \n", false).unwrap_err(),
            "an empty job id"
        );
        let garbage = job_id_of_upload_answer("<html>\n<b>x</b>", false).unwrap_err();
        assert_eq!(
            garbage,
            "no job id (at most 64 of A-Z a-z 0-9 . _ -) but: <html> <b>x</b>"
        );
        assert!(job_id_of_upload_answer("7", true)
            .unwrap_err()
            .ends_with("but: 7..."));
    }

    #[test]
    fn job_ids_are_short_and_printable() {
        for id in ["1", "42", "job-7.a_b", &"9".repeat(64)] {
            assert!(check_job_id(id).is_ok(), "{id}");
        }
        for id in [
            "",
            ".",
            "..",
            "../../../../tmp/x",
            "a/b",
            "a b",
            "1\n2",
            "\u{1b}[31m",
            "caf\u{e9}",
            &"9".repeat(65),
        ] {
            let error = check_job_id(id).unwrap_err().to_string();
            assert!(error.contains("is no job id"), "{id}: {error}");
            assert!(
                !error.contains('\n') && !error.contains('\u{1b}'),
                "{error}"
            );
        }
        let long = check_job_id(&"9".repeat(10_000)).unwrap_err().to_string();
        assert!(long.len() < 200, "{long}");
    }

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt("\u{1}\u{2}garbage", false), "\\u{1}\\u{2}garbage");
        assert_eq!(excerpt("a\n b", false), "a b");
        assert_eq!(excerpt("12", true), "12...");
        assert_eq!(body_excerpt(" \n", false), "(empty body)");
        assert_eq!(
            excerpt(&"7".repeat(500), false),
            format!("{}...", "7".repeat(100))
        );
    }
}
