//! The Chiller HTTP client: an upload exactly as `curl --data-binary @list` sends it, and status
//! calls that ride out network faults.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

/// EODC's Chiller.
pub const DEFAULT_URL: &str = "https://chiller.eodc.eu";
/// `curl --data-binary` sends this content type, and the real service is known to take it.
const CURL_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// Tries of a status call, or of connecting for an upload, before giving up.
const TRIES: u32 = 5;
/// How long a request may wait for its answer by default (`--http-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take, at most.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest job id taken from a server or a user.
pub const MAX_JOB_ID: usize = 64;
/// The most of an upload's answer that is read: a job id is short, and anything longer is
/// no job id, whatever follows.
const MAX_UPLOAD_ANSWER: usize = 4096;
/// The most of a status answer that is read.
const MAX_STATUS_ANSWER: usize = 1 << 20;

/// A client of one Chiller server.
#[derive(Debug, Clone)]
pub struct ChillerClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
    timeout: Duration,
}

/// A job's status as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobStatus {
    /// Whether the recall is over (`"Finished": "true"` or `true`).
    pub finished: bool,
    /// Files in the job, where the server says.
    pub files: Option<u64>,
    /// Files recalled so far, where the server says.
    pub done: Option<u64>,
    /// Files that could not be recalled, where the server says.
    pub failed: Option<u64>,
    /// Every field the server sent.
    pub raw: Map<String, Value>,
}

impl JobStatus {
    /// Reads a status answer, accepting `Finished` as a string or a boolean and numbers as
    /// numbers or numeric strings; unknown fields are kept, never refused.
    pub fn from_json(raw: Map<String, Value>) -> anyhow::Result<JobStatus> {
        let finished = match raw.get("Finished") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
            Some(other) => bail!("the status answer has an unreadable \"Finished\": {other}"),
            None => bail!("the status answer has no \"Finished\" field"),
        };
        let number = |key: &str| match raw.get(key) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Ok(JobStatus {
            finished,
            files: number("Files"),
            done: number("Done"),
            failed: number("Failed"),
            raw,
        })
    }
}

impl ChillerClient {
    /// A client of the server at `base_url`, sending `token` as a bearer token if given.
    pub fn new(base_url: &str, token: Option<String>) -> anyhow::Result<Self> {
        Self::with_timeout(base_url, token, DEFAULT_TIMEOUT)
    }

    /// Like [`ChillerClient::new`], each request waiting at most `timeout` for its answer
    /// (the upload a second more per MiB of list) and connecting within at most 10 s.
    pub fn with_timeout(
        base_url: &str,
        token: Option<String>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let base_url = base_url.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base_url).with_context(|| {
            format!("bad Chiller URL '{base_url}': give one like {DEFAULT_URL}")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            bail!("bad Chiller URL '{base_url}': give an http or https URL like {DEFAULT_URL}");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .user_agent(concat!("catalog/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ChillerClient {
            http,
            base_url,
            token,
            timeout,
        })
    }

    /// The server's URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `<base URL>/<segments...>`, each segment escaped: a job id is the server's text.
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = reqwest::Url::parse(&self.base_url).expect("checked in ChillerClient::new");
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// Uploads a file list and returns the job id. Only a connection that could not be made is
    /// tried again: once the request may have reached the server, a second try could create a
    /// duplicate job. The answer must be a job id (see [`check_job_id`]); at most a few KiB of
    /// it are read.
    pub async fn upload(&self, list: &str) -> anyhow::Result<String> {
        let mut pause = Duration::from_millis(300);
        let mut attempt = 1;
        // A large list takes a while to send: a second more per MiB.
        let timeout = self.timeout + Duration::from_secs((list.len() >> 20) as u64);
        let unanswered = |error: &reqwest::Error| {
            if error.is_timeout() {
                anyhow!(
                    "Chiller at {} did not answer the upload within {} (--http-timeout); \
                     it may have accepted it: check the server before uploading again",
                    self.base_url,
                    seconds(timeout)
                )
            } else {
                anyhow!(
                    "Chiller at {} may have accepted the upload but did not answer ({}); \
                     check the server before uploading again",
                    self.base_url,
                    describe(error)
                )
            }
        };
        let response = loop {
            let request = self
                .http
                .post(self.url(&["upload"]))
                .timeout(timeout)
                .header(reqwest::header::CONTENT_TYPE, CURL_CONTENT_TYPE)
                .body(list.to_string());
            match self.authorized(request).send().await {
                Ok(response) => break response,
                Err(error) if error.is_connect() && attempt < TRIES => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(error) if error.is_connect() => bail!(
                    "cannot upload to Chiller at {} ({TRIES} tries): {}",
                    self.base_url,
                    describe(&error)
                ),
                Err(error) => return Err(unanswered(&error)),
            }
        };
        let status = response.status();
        let (body, cut) = read_limited(response, MAX_UPLOAD_ANSWER)
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    unanswered(&e)
                } else {
                    anyhow!(
                        "Chiller at {} may have accepted the upload but its answer was cut off \
                         ({}); check the server before uploading again",
                        self.base_url,
                        describe(&e)
                    )
                }
            })?;
        let body = String::from_utf8_lossy(&body);
        if !status.is_success() {
            bail!(
                "Chiller at {} refused the upload ({status}): {}",
                self.base_url,
                excerpt(&body, cut)
            );
        }
        let id = body.trim();
        if id.is_empty() && !cut {
            bail!(
                "Chiller at {} answered the upload with an empty job id",
                self.base_url
            );
        }
        if cut || check_job_id(id).is_err() {
            bail!(
                "Chiller at {} answered the upload with no job id (at most {MAX_JOB_ID} of \
                 A-Z a-z 0-9 . _ -) but: {}",
                self.base_url,
                excerpt(id, cut)
            );
        }
        Ok(id.to_string())
    }

    /// The status of a job. Connection errors, timeouts and 5xx answers are retried with a
    /// growing pause; a 4xx answer is final and shown with the server's body.
    pub async fn status(&self, id: &str) -> anyhow::Result<JobStatus> {
        check_job_id(id)?;
        let url = self.url(&["jobs", id]);
        let mut pause = Duration::from_millis(300);
        let mut last_error = String::new();
        for attempt in 1..=TRIES {
            if attempt > 1 {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            let request = self.http.get(url.clone()).timeout(self.timeout);
            let failed = |error: &reqwest::Error| {
                if error.is_timeout() && !error.is_connect() {
                    format!(
                        "no answer within {} (--http-timeout)",
                        seconds(self.timeout)
                    )
                } else {
                    describe(error)
                }
            };
            let response = match self.authorized(request).send().await {
                Ok(response) => response,
                Err(error) => {
                    last_error = failed(&error);
                    continue;
                }
            };
            let status = response.status();
            let body = match read_limited(response, MAX_STATUS_ANSWER).await {
                Ok((body, false)) => String::from_utf8_lossy(&body).into_owned(),
                Ok((_, true)) => bail!(
                    "Chiller at {} answered job {id} with more than {} bytes",
                    self.base_url,
                    MAX_STATUS_ANSWER
                ),
                Err(error) => {
                    last_error = failed(&error);
                    continue;
                }
            };
            if status.is_server_error() {
                last_error = format!("{status}: {}", excerpt(&body, false));
                continue;
            }
            if status == StatusCode::NOT_FOUND {
                bail!(
                    "Chiller at {} knows no job {id}: {}",
                    self.base_url,
                    excerpt(&body, false)
                );
            }
            if !status.is_success() {
                bail!(
                    "Chiller at {} refused the status call ({status}): {}",
                    self.base_url,
                    excerpt(&body, false)
                );
            }
            let raw: Map<String, Value> = serde_json::from_str(&body).map_err(|_| {
                anyhow!(
                    "Chiller at {} answered job {id} with no JSON object: {}",
                    self.base_url,
                    excerpt(&body, false)
                )
            })?;
            return JobStatus::from_json(raw)
                .with_context(|| format!("Chiller at {} answered job {id} oddly", self.base_url));
        }
        bail!(
            "cannot get the status of job {id} from Chiller at {} after {TRIES} tries: {last_error}",
            self.base_url
        )
    }
}

/// Whether `id` is a job id: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, and neither `.`
/// nor `..`. Ids come from a server or a user and end up in URLs, ledger file names and
/// terminals, so nothing else is taken.
pub fn check_job_id(id: &str) -> anyhow::Result<()> {
    let fine = !id.is_empty()
        && id.len() <= MAX_JOB_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && id != "."
        && id != "..";
    if !fine {
        bail!(
            "'{}' is no job id: a job id is 1 to {MAX_JOB_ID} of A-Z a-z 0-9 . _ -",
            excerpt(id, false)
        );
    }
    Ok(())
}

/// Reads at most `limit` bytes of a body; `true` if there was more, which is left unread.
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// `30 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// Text from elsewhere as a short excerpt on one line: whitespace runs become one space,
/// other control characters are escaped, and it is cut after 100 characters (`...` marks a
/// cut, also when `cut` says the text was cut before).
fn excerpt(text: &str, cut: bool) -> String {
    let line = one_line(text);
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

/// The root cause of a request error, which is what tells a user what went wrong.
fn describe(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    if error.is_connect() && error.is_timeout() {
        "connection failed (timed out connecting)".into()
    } else if error.is_timeout() {
        "the server did not answer in time".into()
    } else if error.is_connect() {
        format!("connection failed ({source})")
    } else {
        source.to_string()
    }
}

/// A server's body on one line, cut to a readable length.
fn one_line(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None if line.is_empty() => "(empty body)".into(),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: &str) -> anyhow::Result<JobStatus> {
        JobStatus::from_json(serde_json::from_str(json).unwrap())
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
        assert!(status(r#"{"Finished":"maybe"}"#).is_err());
        assert!(status(r#"{"ID":"1"}"#).is_err());
    }

    #[test]
    fn bodies_are_shown_on_one_line() {
        assert_eq!(
            one_line("line 1: bad\nline 2: worse\n"),
            "line 1: bad line 2: worse"
        );
        assert_eq!(one_line(""), "(empty body)");
        assert!(one_line(&"x ".repeat(400)).ends_with("..."));
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
        assert_eq!(
            excerpt(&"7".repeat(500), false),
            format!("{}...", "7".repeat(100))
        );
    }
}
