//! The one error of the HTTP API: a status and a message, rendered once as `{"error": "..."}`.
//! Handlers return `Result<_, ApiError>` and use `?`; a bad query is the client's error (400),
//! anything else of the index the server's (500); of Chiller's errors, a bad job id is 400, a
//! job it does not know 404, a bad `--chiller` URL 500 and the rest a failure upstream (502).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use catalog_chiller::ClientError;
use catalog_index::CatalogError;

/// An answer that is no success: its status and a one-line message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl std::fmt::Display) -> ApiError {
        ApiError {
            status,
            message: message.to_string(),
        }
    }

    /// 400: the request cannot be understood.
    pub fn bad_request(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: there is no such thing.
    pub fn not_found(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 500: the server failed.
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 502: the server the request depends on (Chiller) failed.
    pub fn bad_gateway(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_GATEWAY, message)
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        (self.status, Json(body)).into_response()
    }
}

impl From<CatalogError> for ApiError {
    fn from(failure: CatalogError) -> ApiError {
        match failure {
            CatalogError::Query(problem) => ApiError::bad_request(problem),
            other => ApiError::internal(other),
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(failure: ClientError) -> ApiError {
        let status = match failure {
            ClientError::BadJobId(_) => StatusCode::BAD_REQUEST,
            ClientError::NotFound { .. } => StatusCode::NOT_FOUND,
            ClientError::BadUrl { .. } | ClientError::Setup(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError::new(status, failure)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(failure: tokio::task::JoinError) -> ApiError {
        ApiError::internal(failure)
    }
}

/// Runs blocking work (an index's) off the async threads; its error and a panic both become
/// the answer.
pub async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await?.map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use catalog_chiller::ClientError;
    use catalog_index::query::QueryError;
    use catalog_index::CatalogError;

    use super::ApiError;

    async fn rendered(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn an_error_renders_its_status_and_a_json_body() {
        let (status, body) = rendered(ApiError::not_found("no collection x")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, serde_json::json!({ "error": "no collection x" }));
        let query = CatalogError::Query(QueryError {
            problem: "bad".into(),
        });
        let (status, _) = rendered(query.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = rendered(CatalogError::NoIndex("/idx".into()).into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn chiller_errors_answer_by_whose_fault_they_are() {
        let unknown = ClientError::NotFound {
            server: "http://127.0.0.1:9".into(),
            id: "77".into(),
            body: "no job 77".into(),
        };
        let (status, body) = rendered(unknown.into()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body["error"].as_str().unwrap().contains("knows no job 77"),
            "{body}"
        );
        let bad_id = catalog_chiller::wire::check_job_id("a b").unwrap_err();
        let (status, _) = rendered(ClientError::BadJobId(bad_id).into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let gone = ClientError::BadAnswer {
            server: "http://127.0.0.1:9".into(),
            what: "nonsense".into(),
        };
        let (status, _) = rendered(gone.into()).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
    }

    #[tokio::test]
    async fn a_panic_in_blocking_work_is_a_500() {
        let failed = super::blocking(|| -> Result<(), ApiError> { panic!("boom") }).await;
        assert_eq!(
            failed.unwrap_err().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
