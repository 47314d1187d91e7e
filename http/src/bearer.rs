//! The bearer-token check of both servers: a server given a token answers 401 to every call
//! that does not carry it as `Authorization: Bearer <token>`. The token is compared in a time
//! that does not tell how much of a guess was right.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::Response;
use subtle::ConstantTimeEq;
use tower_http::validate_request::{ValidateRequest, ValidateRequestHeaderLayer};

/// The token every call must carry; without one, every call is admitted.
#[derive(Clone)]
pub struct RequireBearer {
    token: Option<Arc<[u8]>>,
    /// The body of a refusal, in the server's own form (text or JSON).
    refusal: fn() -> Response,
}

impl RequireBearer {
    /// Requires `token`, if given. A call without it gets `refusal()` with status 401 and
    /// `WWW-Authenticate: Bearer`.
    pub fn new(token: Option<&str>, refusal: fn() -> Response) -> RequireBearer {
        RequireBearer {
            token: token.map(|token| Arc::from(token.as_bytes())),
            refusal,
        }
    }

    /// The layer that checks every request of a router.
    pub fn layer(self) -> ValidateRequestHeaderLayer<RequireBearer> {
        ValidateRequestHeaderLayer::custom(self)
    }

    /// Whether a request with these headers may go on.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
            .is_some_and(|given| bool::from(given.ct_eq(token)))
    }
}

impl<B> ValidateRequest<B> for RequireBearer {
    type ResponseBody = Body;

    fn validate(&mut self, request: &mut Request<B>) -> Result<(), Response> {
        if self.admits(request.headers()) {
            return Ok(());
        }
        let mut refusal = (self.refusal)();
        *refusal.status_mut() = StatusCode::UNAUTHORIZED;
        refusal
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Err(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;

    fn refusal() -> Response {
        "a valid bearer token is required\n".into_response()
    }

    fn with(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        headers
    }

    #[test]
    fn only_the_whole_token_is_admitted() {
        let bearer = RequireBearer::new(Some("s3cret"), refusal);
        assert!(bearer.admits(&with("Bearer s3cret")));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3creT",
            "Bearer s3cret2",
            "Bearer ",
            "s3cret",
            "Basic s3cret",
        ] {
            assert!(!bearer.admits(&with(wrong)), "{wrong}");
        }
        assert!(!bearer.admits(&HeaderMap::new()));
        let open = RequireBearer::new(None, refusal);
        assert!(open.admits(&HeaderMap::new()) && open.admits(&with("Bearer x")));
    }

    #[tokio::test]
    async fn a_router_refuses_calls_without_the_token() {
        let router = Router::new()
            .route("/", get(|| async { "in" }))
            .layer(RequireBearer::new(Some("s3cret"), refusal).layer());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            crate::serve(listener, router, &crate::Limits::default(), async {
                let _ = stopped.await;
            })
            .await
        });
        let client = reqwest::Client::new();
        let refused = client.get(&url).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(refused.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            refused.text().await.unwrap(),
            "a valid bearer token is required\n"
        );
        let admitted = client.get(&url).bearer_auth("s3cret").send().await.unwrap();
        assert_eq!(admitted.status(), 200);
        assert_eq!(admitted.text().await.unwrap(), "in");
        stop.send(()).unwrap();
        serving.await.unwrap();
    }
}
