//! The plain endpoints: search, file lists, counts, staging, fields, stats and health.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use catalog_index::schema::FieldKind;
use catalog_index::search::{SortKey, Summary};
use catalog_index::{Catalog, CatalogError, Entry};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::error::{blocking, ApiError};
use super::{Params, Shared, MAX_LIMIT};
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

/// The query of a request, which must be there and not blank.
fn required(q: Option<String>) -> Result<String, ApiError> {
    q.filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("the q parameter (a catalog query) is required"))
}

/// `GET /search`: `{"total": N, "indexed_at": T, "crawled_at": T, "items": [...]}` with every
/// field of each match.
pub async fn search(
    State(shared): State<Arc<Shared>>,
    Params(params): Params<QueryParams>,
) -> Result<Json<SearchAnswer>, ApiError> {
    let q = required(params.q)?;
    let limit = params.limit.unwrap_or(100);
    if limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit is at most {MAX_LIMIT}; use /filelist for whole lists"
        )));
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
            total: hits.total,
            state: AnswerState::of(&catalog),
            items: hits.matches.iter().map(|m| m.entry()).collect(),
        })
    })
    .await?;
    Ok(Json(answer))
}

/// The body of a `/search` answer, serialized straight from its entries.
#[derive(Serialize)]
pub struct SearchAnswer {
    total: u64,
    /// `indexed_at` and `crawled_at`: the state the answer reads.
    #[serde(flatten)]
    state: AnswerState,
    items: Vec<Entry>,
}

/// The body of a `/count` answer: the totals and the state they were counted from.
#[derive(Serialize)]
pub struct CountAnswer {
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
) -> Result<Response, ApiError> {
    let q = required(params.q)?;
    let catalog = shared.catalog();
    let query = {
        let catalog = catalog.clone();
        blocking(move || catalog.parse(&q)).await?
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
            false,
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
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

/// `GET /count`: matches, bytes, their split between disk and tape, and the state counted.
pub async fn count(
    State(shared): State<Arc<Shared>>,
    Params(params): Params<QueryParams>,
) -> Result<Json<CountAnswer>, ApiError> {
    let q = required(params.q)?;
    let catalog = shared.catalog();
    let answer = blocking(move || {
        catalog
            .parse(&q)
            .and_then(|query| catalog.count(query.as_ref()))
            .map(|summary| CountAnswer {
                summary,
                state: AnswerState::of(&catalog),
            })
    })
    .await?;
    Ok(Json(answer))
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
) -> Result<Json<Value>, ApiError> {
    // A list in the body is read as `catalog stage` reads one: absolute paths only.
    let listed = match params.q {
        Some(_) => Vec::new(),
        None => read_list(body.as_bytes(), "in the body")
            .map_err(|failure| ApiError::bad_request(format!("{failure:#}")))?,
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
    .await?;
    let prepared = blocking(move || Ok::<_, ApiError>(prepare(paths, false))).await?;
    if prepared.paths.is_empty() {
        return Err(ApiError::bad_request(format!(
            "nothing to stage: {}",
            prepared.summary()
        )));
    }
    let client = ChillerClient::new(&shared.config.chiller)?;
    let ledger = Ledger::at(&shared.config.ledger);
    let jobs: Vec<String> = submit(
        &ledger,
        &client,
        &prepared,
        params.q.as_deref(),
        None,
        |_| {},
    )
    .await
    .map_err(|failure| ApiError::bad_gateway(format!("{failure:#}")))?
    .into_iter()
    .map(|entry| entry.id)
    .collect();
    Ok(Json(json!({
        "jobs": jobs,
        "chiller": client.base_url(),
        "files": prepared.paths.len(),
        "bytes": prepared.bytes,
        "missing": prepared.missing,
        "on_disk": prepared.on_disk,
    })))
}

/// `GET /jobs/<id>`: the job's status as Chiller reports it.
pub async fn job(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let client = ChillerClient::new(&shared.config.chiller)?;
    catalog_chiller::wire::check_job_id(&id).map_err(ClientError::BadJobId)?;
    let status = client.status(&id).await?;
    Ok(Json(Value::Object(status.raw)))
}

/// `GET /fields`: every field with its type, and the values of keyword fields with counts.
pub async fn fields(State(shared): State<Arc<Shared>>) -> Result<Json<Value>, ApiError> {
    let catalog = shared.catalog();
    let fields = blocking(move || -> Result<Vec<Value>, CatalogError> {
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
    .await?;
    Ok(Json(json!({ "fields": fields })))
}

/// `GET /stats`: what `catalog stats --json` prints: documents, index size, collections, how
/// fresh the index is, and the last build with its errors and roots.
pub async fn stats(State(shared): State<Arc<Shared>>) -> Result<Json<Value>, ApiError> {
    let catalog = shared.catalog();
    let stats = blocking(move || {
        catalog.collections().map(|collections| {
            freshness::stats_json(&catalog, &collections, OffsetDateTime::now_utc())
        })
    })
    .await?;
    Ok(Json(stats))
}

/// `GET /health`: liveness, and how fresh the index is.
pub async fn health(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let catalog = shared.catalog();
    let info = catalog.info();
    Json(json!({
        "status": "ok",
        "documents": catalog.documents(),
        "indexed_at": info.built_at,
        "crawled_at": freshness::crawled_at(info),
        "age_seconds": freshness::age_seconds(info, OffsetDateTime::now_utc()),
    }))
}
