//! STAC API item search over the catalog: landing page, conformance, one collection per
//! archive collection, and `/stac/search` (GET and POST) with `collections`, `ids`, `datetime`,
//! `bbox` (for Sentinel-2 tiles, whose footprints are known), `limit` with `next` links, and the
//! query extension on the parsed properties. Every filter becomes a catalog query: one parser.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use catalog_index::search::SortKey;
use catalog_index::{Catalog, CatalogError, Entry};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::api::query_error;
use super::footprint::footprint;
use super::{blocking, error, Params, Shared, MAX_COLLECTIONS, MAX_IDS, MAX_LIMIT};

const STAC_VERSION: &str = "1.0.0";
const CONFORMANCE: &[&str] = &[
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
];
const EXTENSIONS: &[&str] = &[
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
    "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
];

/// The server's own address, from the request, for links.
fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}/stac")
}

/// `GET /stac`: the landing page.
pub async fn landing(headers: HeaderMap) -> Json<Value> {
    let base = base(&headers);
    Json(json!({
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "catalog",
        "title": "Archive catalog",
        "description": "Every file of the archive, with the fields parsed from Sentinel product names",
        "conformsTo": CONFORMANCE,
        "links": [
            {"rel": "self", "type": "application/json", "href": base},
            {"rel": "root", "type": "application/json", "href": base},
            {"rel": "conformance", "type": "application/json", "href": format!("{base}/conformance")},
            {"rel": "data", "type": "application/json", "href": format!("{base}/collections")},
            {"rel": "search", "type": "application/geo+json", "href": format!("{base}/search"), "method": "GET"},
            {"rel": "search", "type": "application/geo+json", "href": format!("{base}/search"), "method": "POST"},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "href": base.replace("/stac", "/openapi.json")},
        ],
    }))
}

/// `GET /stac/conformance`.
pub async fn conformance() -> Json<Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

/// A collection: its id, its files and the span of their sensing dates.
type CollectionSummary = (String, u64, Option<(i64, i64)>);

/// The collections with their temporal extents, computed once per index build.
fn collection_list(catalog: &Catalog) -> Result<Vec<CollectionSummary>, CatalogError> {
    static CACHE: OnceLock<Mutex<(String, Vec<CollectionSummary>)>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let built = catalog.info().built_at.clone();
    if let Some((at, list)) = cache.lock().ok().as_deref() {
        if *at == built && !built.is_empty() {
            return Ok(list.clone());
        }
    }
    let mut list = Vec::new();
    for (name, count) in catalog.collections()? {
        let query = catalog.parse(&format!("collection:\"{name}\""))?;
        list.push((name, count, catalog.date_extent(query.as_ref())?));
    }
    if let Ok(mut cached) = cache.lock() {
        *cached = (built, list.clone());
    }
    Ok(list)
}

fn rfc3339(seconds: i64) -> Value {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

fn collection_json(base: &str, (id, count, extent): &CollectionSummary) -> Value {
    let interval = match extent {
        Some((low, high)) => json!([[rfc3339(*low), rfc3339(*high)]]),
        None => json!([[null, null]]),
    };
    json!({
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "id": id,
        "title": id,
        "description": format!("The archive collection {id} ({count} files)"),
        "license": "proprietary",
        "extent": {"spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]}, "temporal": {"interval": interval}},
        "summaries": {"catalog:files": count},
        "links": [
            {"rel": "self", "type": "application/json", "href": format!("{base}/collections/{id}")},
            {"rel": "root", "type": "application/json", "href": base},
            {"rel": "parent", "type": "application/json", "href": base},
            {"rel": "items", "type": "application/geo+json", "href": format!("{base}/collections/{id}/items")},
        ],
    })
}

/// `GET /stac/collections`.
pub async fn collections(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let base = base(&headers);
    let catalog = shared.catalog();
    match blocking(move || collection_list(&catalog)).await {
        Ok(Ok(list)) => Json(json!({
            "collections": list.iter().map(|c| collection_json(&base, c)).collect::<Vec<_>>(),
            "links": [
                {"rel": "self", "type": "application/json", "href": format!("{base}/collections")},
                {"rel": "root", "type": "application/json", "href": base},
            ],
        }))
        .into_response(),
        Ok(Err(failure)) => error(StatusCode::INTERNAL_SERVER_ERROR, failure),
        Err(response) => response,
    }
}

/// `GET /stac/collections/{id}`.
pub async fn collection(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let base = base(&headers);
    let catalog = shared.catalog();
    match blocking(move || collection_list(&catalog)).await {
        Ok(Ok(list)) => match list.iter().find(|c| c.0 == id) {
            Some(found) => Json(collection_json(&base, found)).into_response(),
            None => error(StatusCode::NOT_FOUND, format!("no collection {id}")),
        },
        Ok(Err(failure)) => error(StatusCode::INTERNAL_SERVER_ERROR, failure),
        Err(response) => response,
    }
}

/// An item search, as a POST body or from GET parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Search {
    #[serde(skip_serializing_if = "Option::is_none")]
    collections: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    datetime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bbox: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// The query extension: `{"property": {"op": value}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<Map<String, Value>>,
    /// A catalog query, for anything the STAC filters cannot say.
    #[serde(rename = "catalog:q", skip_serializing_if = "Option::is_none")]
    q: Option<String>,
}

impl Search {
    fn from_params(params: &HashMap<String, String>) -> Result<Search, String> {
        let list = |key: &str| {
            params.get(key).map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
        };
        let bbox = match params.get("bbox") {
            Some(text) => Some(
                text.split(',')
                    .map(|n| {
                        n.trim()
                            .parse::<f64>()
                            .map_err(|_| format!("bad bbox '{text}'"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let limit = match params.get("limit") {
            Some(text) => Some(text.parse().map_err(|_| format!("bad limit '{text}'"))?),
            None => None,
        };
        let query = match params.get("query") {
            Some(text) => {
                Some(serde_json::from_str(text).map_err(|e| format!("bad query parameter: {e}"))?)
            }
            None => None,
        };
        Ok(Search {
            collections: list("collections"),
            ids: list("ids"),
            datetime: params.get("datetime").cloned(),
            bbox,
            limit,
            token: params.get("token").cloned(),
            query,
            q: params.get("catalog:q").or_else(|| params.get("q")).cloned(),
        })
    }

    fn to_params(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        let join = |v: &Vec<String>| v.join(",");
        if let Some(v) = &self.collections {
            params.push(("collections".into(), join(v)));
        }
        if let Some(v) = &self.ids {
            params.push(("ids".into(), join(v)));
        }
        if let Some(v) = &self.datetime {
            params.push(("datetime".into(), v.clone()));
        }
        if let Some(v) = &self.bbox {
            params.push((
                "bbox".into(),
                v.iter().map(f64::to_string).collect::<Vec<_>>().join(","),
            ));
        }
        if let Some(v) = &self.query {
            params.push(("query".into(), Value::Object(v.clone()).to_string()));
        }
        if let Some(v) = &self.q {
            params.push(("catalog:q".into(), v.clone()));
        }
        params
    }
}

/// A value in the catalog's query syntax, quoted.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The catalog field of a STAC property, with the value mapping it needs.
fn property_field(name: &str, value: &Value) -> Result<(String, String), String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("unsupported value {other} for {name}")),
    };
    let (field, value) = match name {
        "platform" => ("sat", text.to_uppercase().replace("SENTINEL-", "S")),
        "constellation" => ("mission", text.to_uppercase().replace("SENTINEL-", "S")),
        "sat:relative_orbit" => ("orbit", text),
        "sat:absolute_orbit" => ("absorbit", text),
        "grid:code" => ("tile", text.trim_start_matches("MGRS-").to_string()),
        "processing:level" => ("level", text),
        "product:type" => ("product", text),
        "sar:instrument_mode" => ("mode", text),
        "file:size" => ("size", text),
        other => match other.strip_prefix("catalog:") {
            Some(field) if catalog_index::schema::field_kind(field).is_some() => (field, text),
            _ => return Err(format!("cannot filter on property '{other}'")),
        },
    };
    Ok((field.to_string(), value))
}

/// Turns the query extension into catalog clauses.
fn property_clauses(query: &Map<String, Value>) -> Result<Vec<String>, String> {
    let mut clauses = Vec::new();
    for (property, ops) in query {
        let Value::Object(ops) = ops else {
            return Err(format!(
                "the query on '{property}' must be an object of operators"
            ));
        };
        for (op, value) in ops {
            if op == "in" {
                let Value::Array(values) = value else {
                    return Err(format!("'in' on '{property}' takes a list"));
                };
                let any = values
                    .iter()
                    .map(|v| {
                        property_field(property, v).map(|(f, v)| format!("{f}:{}", quoted(&v)))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                clauses.push(format!("({})", any.join(" OR ")));
                continue;
            }
            let (field, value) = property_field(property, value)?;
            clauses.push(match op.as_str() {
                "eq" => format!("{field}:{}", quoted(&value)),
                "neq" => format!("NOT {field}:{}", quoted(&value)),
                "lt" => format!("{field}:<{value}"),
                "lte" => format!("{field}:<={value}"),
                "gt" => format!("{field}:>{value}"),
                "gte" => format!("{field}:>={value}"),
                other => return Err(format!("unsupported operator '{other}' on '{property}'")),
            });
        }
    }
    Ok(clauses)
}

/// The catalog query of a search; `Ok(None)` when nothing can match (a bbox no tile meets).
fn catalog_query(search: &Search, catalog: &Catalog) -> Result<Option<String>, String> {
    let mut clauses = Vec::new();
    if let Some(collections) = &search.collections {
        let any: Vec<String> = collections
            .iter()
            .map(|c| format!("collection:{}", quoted(c)))
            .collect();
        clauses.push(format!("({})", any.join(" OR ")));
    }
    if let Some(ids) = &search.ids {
        // An item id is its file name without extensions.
        let any: Vec<String> = ids
            .iter()
            .filter(|id| !id.contains(['*', '?', '[', '/', '"', ' ']))
            .flat_map(|id| [format!("name:{id}.*"), format!("path:*/{id}")])
            .collect();
        if any.is_empty() {
            return Ok(None);
        }
        clauses.push(format!("({})", any.join(" OR ")));
    }
    if let Some(datetime) = &search.datetime {
        let (low, high) = datetime.split_once('/').unwrap_or((datetime, datetime));
        let end = |v: &str| {
            if v.is_empty() || v == ".." {
                "*".to_string()
            } else {
                v.to_string()
            }
        };
        clauses.push(format!("date:[{} TO {}]", end(low), end(high)));
    }
    if let Some(bbox) = &search.bbox {
        let bbox: [f64; 4] = match bbox.as_slice() {
            [w, s, e, n] => [*w, *s, *e, *n],
            [w, s, _, e, n, _] => [*w, *s, *e, *n],
            _ => return Err("bbox takes 4 (or 6) numbers".into()),
        };
        let tiles: Vec<String> = catalog
            .values("tile")
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|(tile, _)| footprint(tile).is_some_and(|f| f.meets(&bbox)))
            .map(|(tile, _)| format!("tile:{tile}"))
            .collect();
        if tiles.is_empty() {
            return Ok(None);
        }
        clauses.push(format!("({})", tiles.join(" OR ")));
    }
    if let Some(query) = &search.query {
        clauses.extend(property_clauses(query)?);
    }
    if let Some(q) = &search.q {
        clauses.push(format!("({q})"));
    }
    if clauses.is_empty() {
        clauses.push("name:*".into());
    }
    Ok(Some(clauses.join(" AND ")))
}

/// The STAC item of a file.
pub fn item(entry: &Entry, base: &str) -> Value {
    let id = entry
        .name
        .split('.')
        .next()
        .unwrap_or(&entry.name)
        .to_string();
    let product = &entry.product;
    let geometry = product.tile.as_deref().and_then(footprint);
    let mut properties = Map::new();
    let seconds = |t: &time::OffsetDateTime| rfc3339(t.unix_timestamp());
    let start = product.date.as_ref().or(entry.mtime.as_ref());
    properties.insert("datetime".into(), start.map_or(Value::Null, seconds));
    if let (Some(date), Some(end)) = (&product.date, &product.end) {
        properties.insert("start_datetime".into(), seconds(date));
        properties.insert("end_datetime".into(), seconds(end));
    }
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            properties.insert(key.into(), value);
        }
    };
    set(
        "platform",
        product
            .sat
            .as_ref()
            .map(|s| json!(format!("sentinel-{}", s[1..].to_lowercase()))),
    );
    set(
        "constellation",
        product
            .mission
            .as_ref()
            .map(|m| json!(format!("sentinel-{}", m[1..].to_lowercase()))),
    );
    set("sat:relative_orbit", product.orbit.map(|o| json!(o)));
    set("sat:absolute_orbit", product.absorbit.map(|o| json!(o)));
    set(
        "grid:code",
        product
            .tile
            .as_ref()
            .map(|t| json!(format!("MGRS-{}", t.trim_start_matches('T')))),
    );
    set("processing:level", product.level.as_ref().map(|l| json!(l)));
    set("product:type", product.product.as_ref().map(|p| json!(p)));
    set(
        "sar:instrument_mode",
        product.mode.as_ref().map(|m| json!(m)),
    );
    set(
        "catalog:baseline",
        product.baseline.as_ref().map(|b| json!(b)),
    );
    set(
        "catalog:collection",
        entry.collection.as_ref().map(|c| json!(c)),
    );
    set("catalog:state", entry.state.map(|s| json!(s.as_str())));
    set("file:size", entry.size.map(|s| json!(s)));
    let media = match entry.name.rsplit('.').next() {
        Some("zip") => Some("application/zip"),
        Some("nc") => Some("application/x-netcdf"),
        _ => None,
    };
    let mut asset =
        json!({"href": format!("file://{}", entry.path), "roles": ["data"], "title": entry.name});
    if let Some(media) = media {
        asset["type"] = json!(media);
    }
    if let Some(size) = entry.size {
        asset["file:size"] = json!(size);
    }
    let collection = entry.collection.clone();
    let mut links = vec![json!({"rel": "root", "type": "application/json", "href": base})];
    if let Some(c) = &collection {
        links.push(json!({"rel": "collection", "type": "application/json", "href": format!("{base}/collections/{c}")}));
        links.push(json!({"rel": "parent", "type": "application/json", "href": format!("{base}/collections/{c}")}));
    }
    let mut feature = json!({
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": EXTENSIONS,
        "id": id,
        "geometry": geometry.as_ref().map(|f| f.geometry()),
        "properties": properties,
        "assets": {"data": asset},
        "links": links,
    });
    if let Some(footprint) = geometry {
        feature["bbox"] = json!(footprint.bbox);
    }
    if let Some(c) = collection {
        feature["collection"] = json!(c);
    }
    feature
}

/// Why a search has no answer: a search the catalog cannot express, or a failed query.
enum SearchError {
    Bad(String),
    Index(CatalogError),
}

/// Runs a search; `next` builds the link to the following page from its token.
async fn run(shared: Arc<Shared>, base: String, search: Search, post: bool) -> Response {
    let limit = search.limit.unwrap_or(10);
    if limit == 0 || limit > MAX_LIMIT {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit is between 1 and {MAX_LIMIT}"),
        );
    }
    for (name, list, most) in [
        ("ids", &search.ids, MAX_IDS),
        ("collections", &search.collections, MAX_COLLECTIONS),
    ] {
        let given = list.as_ref().map_or(0, Vec::len);
        if given > most {
            return error(
                StatusCode::BAD_REQUEST,
                format!("a search takes at most {most} {name} ({given} given)"),
            );
        }
    }
    let offset = match search
        .token
        .as_deref()
        .map(|t| t.trim_start_matches("next:").parse::<usize>())
    {
        Some(Ok(offset)) => offset,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "bad paging token"),
        None => 0,
    };
    let catalog = shared.catalog();
    let wanted = search.clone();
    let answer = blocking(move || -> Result<(u64, Vec<Entry>), SearchError> {
        let Some(text) = catalog_query(&wanted, &catalog).map_err(SearchError::Bad)? else {
            return Ok((0, Vec::new()));
        };
        let query = catalog.parse(&text).map_err(SearchError::Index)?;
        let hits = catalog
            .search(query.as_ref(), SortKey::Date, offset, Some(limit))
            .map_err(SearchError::Index)?;
        Ok((
            hits.summary.files,
            hits.matches.iter().map(|m| m.entry()).collect(),
        ))
    })
    .await;
    let (matched, entries) = match answer {
        Ok(Ok((matched, entries))) => (matched as usize, entries),
        Ok(Err(SearchError::Bad(problem))) => return error(StatusCode::BAD_REQUEST, problem),
        Ok(Err(SearchError::Index(failure))) => return query_error(failure),
        Err(response) => return response,
    };
    let features: Vec<Value> = entries.iter().map(|e| item(e, &base)).collect();
    let mut links = vec![json!({"rel": "root", "type": "application/json", "href": base})];
    if offset + features.len() < matched {
        let mut next = search.clone();
        next.token = Some(format!("next:{}", offset + features.len()));
        next.limit = Some(limit);
        if post {
            links.push(json!({"rel": "next", "type": "application/geo+json", "method": "POST", "href": format!("{base}/search"), "body": next, "merge": false}));
        } else {
            let mut params = next.to_params();
            params.push(("limit".into(), limit.to_string()));
            params.push(("token".into(), next.token.clone().unwrap_or_default()));
            let query = serde_urlencoded::to_string(&params).unwrap_or_default();
            links.push(json!({"rel": "next", "type": "application/geo+json", "method": "GET", "href": format!("{base}/search?{query}")}));
        }
    }
    Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": entries.len(),
        "links": links,
    }))
    .into_response()
}

/// `GET /stac/search`.
pub async fn search_get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(params): Params<HashMap<String, String>>,
) -> Response {
    match Search::from_params(&params) {
        Ok(search) => run(shared, base(&headers), search, false).await,
        Err(problem) => error(StatusCode::BAD_REQUEST, problem),
    }
}

/// `POST /stac/search`.
pub async fn search_post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    // Too large a body (413) is answered in JSON like every other refusal.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let search: Search = match serde_json::from_slice(&body) {
        Ok(search) => search,
        Err(problem) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("bad search body: {problem}"),
            )
        }
    };
    run(shared, base(&headers), search, true).await
}

/// `GET /stac/collections/{id}/items`.
pub async fn collection_items(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Params(params): Params<HashMap<String, String>>,
) -> Response {
    match Search::from_params(&params) {
        Ok(mut search) => {
            search.collections = Some(vec![id]);
            run(shared, base(&headers), search, false).await
        }
        Err(problem) => error(StatusCode::BAD_REQUEST, problem),
    }
}
