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
/// How long one status call may take: it is small, so a slow answer is a fault worth retrying.
const STATUS_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the upload may take: a large list to a busy server.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// A client of one Chiller server.
#[derive(Debug, Clone)]
pub struct ChillerClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
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
        let base_url = base_url.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base_url).with_context(|| {
            format!("bad Chiller URL '{base_url}': give one like {DEFAULT_URL}")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            bail!("bad Chiller URL '{base_url}': give an http or https URL like {DEFAULT_URL}");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("catalog/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ChillerClient {
            http,
            base_url,
            token,
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
    /// duplicate job.
    pub async fn upload(&self, list: &str) -> anyhow::Result<String> {
        let mut pause = Duration::from_millis(300);
        let mut attempt = 1;
        let response = loop {
            let request = self
                .http
                .post(self.url(&["upload"]))
                .timeout(UPLOAD_TIMEOUT)
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
                Err(error) => bail!(
                    "Chiller at {} may have accepted the upload but did not answer ({}); \
                     check the server before uploading again",
                    self.base_url,
                    describe(&error)
                ),
            }
        };
        let status = response.status();
        let body = response.text().await.map_err(|e| {
            anyhow!(
                "Chiller at {} may have accepted the upload but its answer was cut off ({}); \
                 check the server before uploading again",
                self.base_url,
                describe(&e)
            )
        })?;
        if !status.is_success() {
            bail!(
                "Chiller at {} refused the upload ({status}): {}",
                self.base_url,
                one_line(&body)
            );
        }
        let id = body.trim();
        if id.is_empty() {
            bail!(
                "Chiller at {} answered the upload with an empty job id",
                self.base_url
            );
        }
        if !id.chars().all(|c| c.is_ascii_graphic()) {
            bail!(
                "Chiller at {} answered the upload with no job id but: {}",
                self.base_url,
                one_line(id)
            );
        }
        Ok(id.to_string())
    }

    /// The status of a job. Connection errors, timeouts and 5xx answers are retried with a
    /// growing pause; a 4xx answer is final and shown with the server's body.
    pub async fn status(&self, id: &str) -> anyhow::Result<JobStatus> {
        let url = self.url(&["jobs", id]);
        let mut pause = Duration::from_millis(300);
        let mut last_error = String::new();
        for attempt in 1..=TRIES {
            if attempt > 1 {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            let request = self.http.get(url.clone()).timeout(STATUS_TIMEOUT);
            let response = match self.authorized(request).send().await {
                Ok(response) => response,
                Err(error) => {
                    last_error = describe(&error);
                    continue;
                }
            };
            let status = response.status();
            let body = match response.text().await {
                Ok(body) => body,
                Err(error) => {
                    last_error = describe(&error);
                    continue;
                }
            };
            if status.is_server_error() {
                last_error = format!("{status}: {}", one_line(&body));
                continue;
            }
            if status == StatusCode::NOT_FOUND {
                bail!(
                    "Chiller at {} knows no job {id}: {}",
                    self.base_url,
                    one_line(&body)
                );
            }
            if !status.is_success() {
                bail!(
                    "Chiller at {} refused the status call ({status}): {}",
                    self.base_url,
                    one_line(&body)
                );
            }
            let raw: Map<String, Value> = serde_json::from_str(&body).map_err(|_| {
                anyhow!(
                    "Chiller at {} answered job {id} with no JSON object: {}",
                    self.base_url,
                    one_line(&body)
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

/// The root cause of a request error, which is what tells a user what went wrong.
fn describe(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    if error.is_timeout() {
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
}
