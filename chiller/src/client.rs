//! The Chiller HTTP client: an upload exactly as `curl --data-binary @list` sends it, and status
//! calls that ride out network faults. Its errors are a [`ClientError`], so that a caller can
//! tell an unknown job from a server that failed.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::wire::{body_excerpt, check_job_id, job_id_of_upload_answer, BadJobId, JobStatus};

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
/// The most of an upload's answer that is read: a job id is short, and anything longer is
/// no job id, whatever follows.
const MAX_UPLOAD_ANSWER: usize = 4096;
/// The most of a status answer that is read.
const MAX_STATUS_ANSWER: usize = 1 << 20;

/// Which Chiller to talk to, and how long to wait for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// The server's URL.
    pub url: String,
    /// Bearer token for the server, if it wants one.
    pub token: Option<String>,
    /// How long each request waits for its answer (the upload a second more per MiB of list).
    pub http_timeout: Duration,
}

impl ClientOptions {
    /// The server at `url`, without a token, with the default timeout.
    pub fn at(url: &str) -> ClientOptions {
        ClientOptions {
            url: url.to_string(),
            token: None,
            http_timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// What went wrong talking to Chiller.
#[derive(Debug)]
pub enum ClientError {
    /// The URL is no http(s) URL.
    BadUrl { url: String, reason: String },
    /// The HTTP client could not be set up.
    Setup(reqwest::Error),
    /// What was given as a job id is none.
    BadJobId(BadJobId),
    /// The server knows no such job.
    NotFound {
        server: String,
        id: String,
        body: String,
    },
    /// The server refused a call with a client error.
    Refused {
        server: String,
        call: &'static str,
        status: StatusCode,
        body: String,
    },
    /// No connection to the server could be made for an upload: it surely made no job.
    UploadUnreachable { server: String, cause: String },
    /// The upload may have reached the server, but its answer did not come back whole: a job
    /// may exist.
    UploadUncertain {
        server: String,
        uncertainty: Uncertainty,
    },
    /// A status call kept failing (no connection, no answer in time, or a server error).
    StatusUnavailable {
        server: String,
        id: String,
        last: String,
    },
    /// The server answered something that is no Chiller answer.
    BadAnswer { server: String, what: String },
}

/// How an upload's answer went missing.
#[derive(Debug)]
pub enum Uncertainty {
    /// No answer within the time budget.
    TimedOut(Duration),
    /// The connection failed before the answer came.
    NoAnswer(String),
    /// The answer stopped halfway.
    CutOff(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::BadUrl { url, reason } => write!(
                f,
                "bad Chiller URL '{url}': {reason}; give an http or https URL like {DEFAULT_URL}"
            ),
            ClientError::Setup(error) => write!(f, "cannot set up the HTTP client: {error}"),
            ClientError::BadJobId(error) => error.fmt(f),
            ClientError::NotFound { server, id, body } => {
                write!(f, "Chiller at {server} knows no job {id}: {body}")
            }
            ClientError::Refused { server, call, status, body } => {
                write!(f, "Chiller at {server} refused the {call} ({status}): {body}")
            }
            ClientError::UploadUnreachable { server, cause } => {
                write!(f, "cannot upload to Chiller at {server} ({TRIES} tries): {cause}")
            }
            ClientError::UploadUncertain { server, uncertainty } => match uncertainty {
                Uncertainty::TimedOut(timeout) => write!(
                    f,
                    "Chiller at {server} did not answer the upload within {} (--http-timeout); \
                     it may have accepted it: check the server before uploading again",
                    seconds(*timeout)
                ),
                Uncertainty::NoAnswer(cause) => write!(
                    f,
                    "Chiller at {server} may have accepted the upload but did not answer \
                     ({cause}); check the server before uploading again"
                ),
                Uncertainty::CutOff(cause) => write!(
                    f,
                    "Chiller at {server} may have accepted the upload but its answer was cut \
                     off ({cause}); check the server before uploading again"
                ),
            },
            ClientError::StatusUnavailable { server, id, last } => write!(
                f,
                "cannot get the status of job {id} from Chiller at {server} after {TRIES} tries: {last}"
            ),
            ClientError::BadAnswer { server, what } => write!(f, "Chiller at {server} answered {what}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<BadJobId> for ClientError {
    fn from(error: BadJobId) -> ClientError {
        ClientError::BadJobId(error)
    }
}

/// A client of one Chiller server.
#[derive(Debug, Clone)]
pub struct ChillerClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
    timeout: Duration,
}

impl ChillerClient {
    /// A client of the server `options` name, each request waiting at most their timeout for
    /// its answer and connecting within at most 10 s.
    pub fn new(options: &ClientOptions) -> Result<ChillerClient, ClientError> {
        let base_url = options.url.trim_end_matches('/').to_string();
        let bad = |reason: String| ClientError::BadUrl {
            url: base_url.clone(),
            reason,
        };
        let url = reqwest::Url::parse(&base_url).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(bad(format!("{} is no http(s) scheme", url.scheme())));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(options.http_timeout))
            .user_agent(concat!("catalog/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Setup)?;
        Ok(ChillerClient {
            http,
            base_url,
            token: options.token.clone(),
            timeout: options.http_timeout,
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
    pub async fn upload(&self, list: &str) -> Result<String, ClientError> {
        let mut pause = Duration::from_millis(300);
        let mut attempt = 1;
        // A large list takes a while to send: a second more per MiB.
        let timeout = self.timeout + Duration::from_secs((list.len() >> 20) as u64);
        let uncertain = |uncertainty| ClientError::UploadUncertain {
            server: self.base_url.clone(),
            uncertainty,
        };
        let unanswered = |error: &reqwest::Error| {
            uncertain(if error.is_timeout() {
                Uncertainty::TimedOut(timeout)
            } else {
                Uncertainty::NoAnswer(describe(error))
            })
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
                Err(error) if error.is_connect() => {
                    return Err(ClientError::UploadUnreachable {
                        server: self.base_url.clone(),
                        cause: describe(&error),
                    })
                }
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
                    uncertain(Uncertainty::CutOff(describe(&e)))
                }
            })?;
        let body = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(ClientError::Refused {
                server: self.base_url.clone(),
                call: "upload",
                status,
                body: body_excerpt(&body, cut),
            });
        }
        match job_id_of_upload_answer(&body, cut) {
            Ok(id) => Ok(id.to_string()),
            Err(what) => Err(ClientError::BadAnswer {
                server: self.base_url.clone(),
                what: format!("the upload with {what}"),
            }),
        }
    }

    /// The status of a job. Connection errors, timeouts and 5xx answers are retried with a
    /// growing pause; a 4xx answer is final and shown with the server's body.
    pub async fn status(&self, id: &str) -> Result<JobStatus, ClientError> {
        check_job_id(id)?;
        let url = self.url(&["jobs", id]);
        let server = || self.base_url.clone();
        let mut pause = Duration::from_millis(300);
        let mut last = String::new();
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
                    last = failed(&error);
                    continue;
                }
            };
            let status = response.status();
            let body = match read_limited(response, MAX_STATUS_ANSWER).await {
                Ok((body, false)) => String::from_utf8_lossy(&body).into_owned(),
                Ok((_, true)) => {
                    return Err(ClientError::BadAnswer {
                        server: server(),
                        what: format!("job {id} with more than {MAX_STATUS_ANSWER} bytes"),
                    })
                }
                Err(error) => {
                    last = failed(&error);
                    continue;
                }
            };
            if status.is_server_error() {
                last = format!("{status}: {}", body_excerpt(&body, false));
                continue;
            }
            if status == StatusCode::NOT_FOUND {
                return Err(ClientError::NotFound {
                    server: server(),
                    id: id.to_string(),
                    body: body_excerpt(&body, false),
                });
            }
            if !status.is_success() {
                return Err(ClientError::Refused {
                    server: server(),
                    call: "status call",
                    status,
                    body: body_excerpt(&body, false),
                });
            }
            let raw: Map<String, Value> =
                serde_json::from_str(&body).map_err(|_| ClientError::BadAnswer {
                    server: server(),
                    what: format!(
                        "job {id} with no JSON object: {}",
                        body_excerpt(&body, false)
                    ),
                })?;
            return JobStatus::try_from(raw).map_err(|odd| ClientError::BadAnswer {
                server: server(),
                what: format!("job {id} oddly: {odd}"),
            });
        }
        Err(ClientError::StatusUnavailable {
            server: server(),
            id: id.to_string(),
            last,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_taken() {
        for url in ["chiller.eodc.eu", "ftp://x", "mailto:a@b"] {
            let error = ChillerClient::new(&ClientOptions::at(url)).unwrap_err();
            assert!(
                matches!(error, ClientError::BadUrl { .. }),
                "{url}: {error}"
            );
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("bad Chiller URL '{url}'")),
                "{error}"
            );
        }
        let client = ChillerClient::new(&ClientOptions::at("http://127.0.0.1:9/base/")).unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9/base");
        assert_eq!(
            client.url(&["jobs", "a b"]).as_str(),
            "http://127.0.0.1:9/base/jobs/a%20b"
        );
    }
}
