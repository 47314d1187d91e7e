//! The plain endpoints: search, file lists, counts, staging, fields, stats and health.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use catalog_index::schema::FieldKind;
use catalog_index::search::{SortKey, Summary};
use catalog_index::{Catalog, CatalogError, Entry};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{blocking, error, Params, Shared, MAX_LIMIT};
use crate::freshness::{self, AnswerState};
use catalog_chiller::ledger::Ledger;
use catalog_chiller::list::read_list;
use catalog_chiller::{prepare, submit, ChillerClient, ClientError};

/// Parameters of `/search`, `/filelist` and `/count`.
#[derive(Debug, Deserialize)]
pub struct QueryParams {
    q: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    sort: Option<SortKey>,
}

/// A bad query is the client's error (400); anything else is the server's.
pub fn query_error(failure: CatalogError) -> Response {
    match failure {
        CatalogError::Query(problem) => error(StatusCode::BAD_REQUEST, problem),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, other),
    }
}

/// The query of a request, unless it is missing or blank.
fn required(q: Option<String>) -> Option<String> {
    q.filter(|q| !q.trim().is_empty())
}

fn missing_query() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "the q parameter (a catalog query) is required",
    )
}

/// `GET /search`: `{"total": N, "indexed_at": T, "crawled_at": T, "items": [...]}` with every
/// field of each match.
pub async fn search(
    State(shared): State<Arc<Shared>>,
    Params(params): Params<QueryParams>,
) -> Response {
    let Some(q) = required(params.q) else {
        return missing_query();
    };
    let limit = params.limit.unwrap_or(100);
    if limit > MAX_LIMIT {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit is at most {MAX_LIMIT}; use /filelist for whole lists"),
        );
    }
    let catalog = shared.catalog();
    let answer = blocking(move || {
        let query = catalog.parse(&q)?;
        let hits = catalog.search(
            query.as_ref(),
            params.sort.unwrap_or_default(),
            params.offset.unwrap_or(0),
            Some(limit),
        )?;
        Ok::<_, CatalogError>(SearchAnswer {
            total: hits.summary.files,
            state: AnswerState::of(&catalog),
            items: hits.matches.iter().map(|m| m.entry()).collect(),
        })
    })
    .await;
    match answer {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(failure)) => query_error(failure),
        Err(response) => response,
    }
}

/// The body of a `/search` answer, serialized straight from its entries.
#[derive(Serialize)]
struct SearchAnswer {
    total: u64,
    /// `indexed_at` and `crawled_at`: the state the answer reads.
    #[serde(flatten)]
    state: AnswerState,
    items: Vec<Entry>,
}

/// The body of a `/count` answer: the totals and the state they were counted from.
#[derive(Serialize)]
struct CountAnswer {
    #[serde(flatten)]
    summary: Summary,
    #[serde(flatten)]
    state: AnswerState,
}

/// `GET /filelist`: every matching path, one per line, streamed as it is read: a slow client
/// holds back the reader rather than filling the server's memory.
pub async fn filelist(
    State(shared): State<Arc<Shared>>,
    Params(params): Params<QueryParams>,
) -> Response {
    let Some(q) = required(params.q) else {
        return missing_query();
    };
    let catalog = shared.catalog();
    let parsed = {
        let catalog = catalog.clone();
        blocking(move || catalog.parse(&q)).await
    };
    let query = match parsed {
        Ok(Ok(query)) => query,
        Ok(Err(failure)) => return query_error(failure),
        Err(response) => return response,
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(1 << 16);
        let sort = params.sort.unwrap_or_default();
        let streamed = catalog.for_each_match(
            query.as_ref(),
            sort,
            params.offset.unwrap_or(0),
            params.limit,
            |m| {
                chunk.extend_from_slice(m.path.as_bytes());
                chunk.push(b'\n');
                if chunk.len() >= 1 << 16 {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(1 << 16));
                    sender
                        .blocking_send(Ok(Bytes::from(full)))
                        .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
                }
                Ok(())
            },
        );
        let last = match streamed {
            Ok(_) => Ok(Bytes::from(chunk)),
            Err(failure) => Err(std::io::Error::other(failure.to_string())),
        };
        let _ = sender.blocking_send(last);
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// `GET /count`: matches, bytes, their split between disk and tape, and the state counted.
pub async fn count(
    State(shared): State<Arc<Shared>>,
    Params(params): Params<QueryParams>,
) -> Response {
    let Some(q) = required(params.q) else {
        return missing_query();
    };
    let catalog = shared.catalog();
    match blocking(move || {
        catalog
            .parse(&q)
            .and_then(|query| catalog.count(query.as_ref()))
            .map(|summary| CountAnswer {
                summary,
                state: AnswerState::of(&catalog),
            })
    })
    .await
    {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(failure)) => query_error(failure),
        Err(response) => response,
    }
}

/// Parameters of `/stage`.
#[derive(Debug, Deserialize)]
pub struct StageParams {
    q: Option<String>,
}

/// `POST /stage?q=QUERY`, or a file list as the body: submits to Chiller as
/// `catalog query --stage` does, and answers the job ids.
pub async fn stage(
    State(shared): State<Arc<Shared>>,
    Params(params): Params<StageParams>,
    body: String,
) -> Response {
    // A list in the body is read as `catalog stage` reads one: absolute paths only.
    let listed = match params.q {
        Some(_) => Vec::new(),
        None => match read_list(body.as_bytes(), "in the body") {
            Ok(listed) => listed,
            Err(failure) => return error(StatusCode::BAD_REQUEST, format!("{failure:#}")),
        },
    };
    let catalog = shared.catalog();
    let query = params.q.clone();
    let paths = blocking(move || -> Result<Vec<String>, CatalogError> {
        match &query {
            Some(q) => {
                let query = catalog.parse(q)?;
                Ok(catalog
                    .search(query.as_ref(), SortKey::Date, 0, None)?
                    .matches
                    .into_iter()
                    .map(|m| m.path)
                    .collect())
            }
            None => Ok(listed),
        }
    })
    .await;
    let paths = match paths {
        Ok(Ok(paths)) => paths,
        Ok(Err(failure)) => return query_error(failure),
        Err(response) => return response,
    };
    let prepared = match blocking(move || prepare(paths, false)).await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    if prepared.paths.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("nothing to stage: {}", prepared.summary()),
        );
    }
    let client = match ChillerClient::new(&shared.config.chiller) {
        Ok(client) => client,
        Err(failure) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("{failure:#}")),
    };
    let ledger = Ledger::at(&shared.config.ledger);
    match submit(
        &ledger,
        &client,
        &prepared,
        params.q.as_deref(),
        None,
        |_| {},
    )
    .await
    {
        Ok(entries) => Json(json!({
            "jobs": entries.into_iter().map(|entry| entry.id).collect::<Vec<_>>(),
            "chiller": client.base_url(),
            "files": prepared.paths.len(),
            "bytes": prepared.bytes,
            "missing": prepared.missing,
            "on_disk": prepared.on_disk,
        }))
        .into_response(),
        Err(failure) => error(StatusCode::BAD_GATEWAY, format!("{failure:#}")),
    }
}

/// `GET /jobs/<id>`: the job's status as Chiller reports it.
pub async fn job(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let client = match ChillerClient::new(&shared.config.chiller) {
        Ok(client) => client,
        Err(failure) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("{failure:#}")),
    };
    if let Err(failure) = catalog_chiller::wire::check_job_id(&id) {
        return error(StatusCode::BAD_REQUEST, format!("{failure:#}"));
    }
    match client.status(&id).await {
        Ok(status) => Json(Value::Object(status.raw)).into_response(),
        Err(failure @ ClientError::NotFound { .. }) => {
            error(StatusCode::NOT_FOUND, format!("{failure:#}"))
        }
        Err(failure) => error(StatusCode::BAD_GATEWAY, format!("{failure:#}")),
    }
}

/// `GET /fields`: every field with its type, and the values of keyword fields with counts.
pub async fn fields(State(shared): State<Arc<Shared>>) -> Response {
    let catalog = shared.catalog();
    let answer = blocking(move || -> Result<Vec<Value>, CatalogError> {
        Catalog::fields()
            .iter()
            .map(|(name, kind)| {
                let kind_name = match kind {
                    FieldKind::Path => "path",
                    FieldKind::Name => "text",
                    FieldKind::Keyword => "keyword",
                    FieldKind::Number => "integer",
                    FieldKind::Date => "date",
                };
                let mut field = json!({ "name": name, "type": kind_name });
                if *kind == FieldKind::Keyword {
                    let values = catalog.values(name)?;
                    field["values"] = values
                        .into_iter()
                        .map(|(value, count)| json!({"value": value, "count": count}))
                        .collect();
                }
                Ok(field)
            })
            .collect()
    })
    .await;
    match answer {
        Ok(Ok(fields)) => Json(json!({ "fields": fields })).into_response(),
        Ok(Err(failure)) => error(StatusCode::INTERNAL_SERVER_ERROR, failure),
        Err(response) => response,
    }
}

/// `GET /stats`: what `catalog stats --json` prints: documents, index size, collections, how
/// fresh the index is, and the last build with its errors and roots.
pub async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let catalog = shared.catalog();
    let answer = blocking(move || {
        catalog.collections().map(|collections| {
            freshness::stats_json(&catalog, &collections, OffsetDateTime::now_utc())
        })
    })
    .await;
    match answer {
        Ok(Ok(stats)) => Json(stats).into_response(),
        Ok(Err(failure)) => error(StatusCode::INTERNAL_SERVER_ERROR, failure),
        Err(response) => response,
    }
}

/// `GET /health`: liveness, and how fresh the index is.
pub async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let catalog = shared.catalog();
    let info = catalog.info();
    Json(json!({
        "status": "ok",
        "documents": catalog.documents(),
        "indexed_at": info.built_at,
        "crawled_at": freshness::crawled_at(info),
        "age_seconds": freshness::age_seconds(info, OffsetDateTime::now_utc()),
    }))
    .into_response()
}
