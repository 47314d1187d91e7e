//! The STAC API over the catalog: landing page, conformance, one collection per archive
//! collection with its items (`/stac/collections/{id}/items[/{itemId}]`), item search
//! (`/stac/search`, GET and POST) with the query, sort, fields and filter (CQL2 text and JSON)
//! extensions, queryables, and the OpenAPI document as service description.
//!
//! An item is a file whose name is a Sentinel product and which lies in a collection (other
//! files, such as a collection's `README.txt`, are no items); its id is its file name. Requests
//! are read whole and checked ([`request`]), translated into one query tree ([`translate`]),
//! and answered as GeoJSON ([`render`]). Links are built from `X-Forwarded-Proto` and
//! `X-Forwarded-Host` when a proxy sets them, else from `Host`.
//!
//! rustac's `stac-api` (0.8.2, the latest) is not used for the request and response types: it
//! depends on cql2 0.4 and geo 0.31, while CQL2 filters here need cql2 0.6 (and its geo 0.33),
//! so the build would carry two versions of each; its `Search` also keeps unknown members in a
//! catch-all map, where this API refuses them. Items are rendered with `serde_json` instead.

mod render;
mod request;
mod translate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use catalog_index::fields::{FieldKind, FIELDS, STAC_PREFIX};
use catalog_index::query::Node;
use catalog_index::{Catalog, CatalogError, Entry};
use serde_json::{json, Map, Value};

use self::render::{CollectionSummary, STAC_VERSION};
use self::request::Search;
use self::translate::{Tree, Vocabulary};
use super::error::blocking;
use super::{ApiError, Params, Shared};

const GEOJSON: &str = "application/geo+json";
const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";
const JSON_SCHEMA: &str = "application/schema+json";
const QUERYABLES_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";

const CONFORMANCE: &[&str] = &[
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
];

/// The URL of the STAC root as the client reached it, behind a proxy or not.
fn base(headers: &HeaderMap) -> String {
    format!("{}/stac", origin(headers))
}

fn origin(headers: &HeaderMap) -> String {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = first("x-forwarded-proto").unwrap_or("http");
    let host = first("x-forwarded-host")
        .or_else(|| first("host"))
        .unwrap_or("127.0.0.1");
    format!("{scheme}://{host}")
}

/// A JSON answer with its media type.
fn answer(media_type: &'static str, body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    response
}

/// `GET /stac`: the landing page.
pub async fn landing(headers: HeaderMap) -> Json<Value> {
    let base = base(&headers);
    Json(json!({
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "catalog",
        "title": "Archive catalog",
        "description": "Every Sentinel product of the archive, with the fields parsed from its name",
        "conformsTo": CONFORMANCE,
        "links": [
            {"rel": "self", "type": "application/json", "href": base},
            {"rel": "root", "type": "application/json", "href": base},
            {"rel": "conformance", "type": "application/json", "href": format!("{base}/conformance")},
            {"rel": "data", "type": "application/json", "href": format!("{base}/collections")},
            {"rel": "search", "type": GEOJSON, "href": format!("{base}/search"), "method": "GET"},
            {"rel": "search", "type": GEOJSON, "href": format!("{base}/search"), "method": "POST"},
            {"rel": QUERYABLES_REL, "type": JSON_SCHEMA, "href": format!("{base}/queryables")},
            {"rel": "service-desc", "type": OPENAPI, "href": format!("{base}/api")},
        ],
    }))
}

/// `GET /stac/conformance`.
pub async fn conformance() -> Json<Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

/// `GET /stac/api`: the OpenAPI document, with the media type the landing page announces.
pub async fn service_desc() -> Response {
    let Json(document) = super::openapi::document().await;
    answer(OPENAPI, document)
}

/// `GET /stac/queryables` and `/stac/collections/{id}/queryables`: what filters may name.
pub async fn queryables(headers: HeaderMap, uri: Uri) -> Response {
    let id = format!("{}{}", origin(&headers), uri.path());
    let text = json!({"type": "string"});
    let instant = json!({"type": "string", "format": "date-time"});
    let mut properties = Map::new();
    // Every field of the table: under its STAC property, and as `catalog:NAME`.
    for field in FIELDS {
        let schema = match field.kind {
            FieldKind::Number => json!({"type": "integer", "minimum": 0}),
            FieldKind::Date => instant.clone(),
            FieldKind::Keyword => text.clone(),
            // Paths and names are asked through `id`.
            FieldKind::Path | FieldKind::Name => continue,
        };
        if let Some(property) = field.stac_property {
            properties.insert(property.to_string(), schema.clone());
        }
        properties.insert(format!("{STAC_PREFIX}{}", field.name), schema);
    }
    for (name, schema) in [
        (
            "id",
            json!({"type": "string", "description": "the file name"}),
        ),
        (
            "collection",
            json!({"type": "string", "description": "the archive collection"}),
        ),
        (
            "geometry",
            json!({"$ref": "https://geojson.org/schema/Geometry.json", "description": "the footprint: Sentinel-2 tiles only; items without one never match a spatial test"}),
        ),
        ("start_datetime", instant.clone()),
        ("mission", text.clone()),
        (
            "instruments",
            json!({"type": "array", "items": {"type": "string"}, "description": "= asks whether the list holds a value"}),
        ),
        (
            "eo:cloud_cover",
            json!({"type": "null", "description": "not in product names: null on every item"}),
        ),
    ] {
        properties.insert(name.to_string(), schema);
    }
    answer(
        JSON_SCHEMA,
        json!({
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": id,
            "type": "object",
            "title": "Queryables of the archive catalog",
            "properties": properties,
            "additionalProperties": false,
        }),
    )
}

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
    for (id, files) in catalog.collections()? {
        let query = catalog.compile(&Node::exact("collection", id.clone()))?;
        let extent = catalog.date_extent(query.as_ref())?;
        list.push(CollectionSummary { id, files, extent });
    }
    if let Ok(mut cached) = cache.lock() {
        *cached = (built, list.clone());
    }
    Ok(list)
}

/// The distinct values of the index's keyword fields, read once per index build.
struct Values<'a>(&'a Catalog);

impl Vocabulary for Values<'_> {
    fn values(&self, field: &str) -> Result<Vec<String>, String> {
        type Cache = HashMap<(String, String), Arc<Vec<String>>>;
        static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let key = (self.0.info().built_at.clone(), field.to_string());
        if let Some(found) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(found.to_vec());
        }
        let values: Vec<String> = self
            .0
            .values(field)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(value, _)| value)
            .collect();
        if let Ok(mut cached) = cache.lock() {
            cached.retain(|(built, _), _| *built == key.0);
            cached.insert(key, Arc::new(values.clone()));
        }
        Ok(values)
    }
}

async fn collections_of(shared: &Shared) -> Result<Vec<CollectionSummary>, ApiError> {
    let catalog = shared.catalog();
    blocking(move || collection_list(&catalog)).await
}

fn no_collection(id: &str) -> ApiError {
    ApiError::not_found(format!("no collection {id}"))
}

/// `GET /stac/collections`.
pub async fn collections(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let base = base(&headers);
    let list = collections_of(&shared).await?;
    Ok(Json(json!({
        "collections": list.iter().map(|c| render::collection(&base, c)).collect::<Vec<_>>(),
        "links": [
            {"rel": "self", "type": "application/json", "href": format!("{base}/collections")},
            {"rel": "root", "type": "application/json", "href": base},
            {"rel": "parent", "type": "application/json", "href": base},
        ],
    })))
}

/// `GET /stac/collections/{id}`.
pub async fn collection(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = collections_of(&shared).await?;
    let found = list
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| no_collection(&id))?;
    Ok(Json(render::collection(&base(&headers), found)))
}

/// How the next page of an answer is asked: the same request with another token.
enum Asked {
    Get {
        path: String,
        params: HashMap<String, String>,
    },
    Post(Map<String, Value>),
}

/// What every item is: a product file in a collection.
fn items() -> Tree {
    Tree::all([
        Tree::Node(Node::exists("collection")),
        Tree::Node(Node::exists("mission")),
    ])
}

/// The query tree of a search.
fn search_tree(search: &Search, vocabulary: &dyn Vocabulary) -> Result<Tree, ApiError> {
    let bad = ApiError::bad_request;
    let mut parts = vec![items()];
    if let Some(collections) = &search.collections {
        parts.push(translate::collections_tree(collections));
    }
    if let Some(ids) = &search.ids {
        parts.push(translate::ids_tree(ids));
    }
    if let Some((low, high)) = search.datetime {
        parts.push(translate::datetime_tree(low, high));
    }
    if let Some(area) = &search.area {
        parts.push(translate::spatial_tree(area, vocabulary).map_err(bad)?);
    }
    if let Some(query) = &search.query {
        parts.push(translate::query_tree(query, vocabulary).map_err(bad)?);
    }
    if let Some(filter) = &search.filter {
        parts.push(translate::filter_tree(filter, vocabulary).map_err(bad)?);
    }
    if let Some(text) = &search.catalog_query {
        let node = catalog_index::query::parse(text).map_err(ApiError::bad_request)?;
        parts.push(Tree::Node(node));
    }
    Ok(Tree::all(parts))
}

/// The matches of a search and the page of entries asked.
fn run_search(catalog: &Catalog, search: &Search) -> Result<(u64, Vec<Entry>), ApiError> {
    let node = match search_tree(search, &Values(catalog))? {
        Tree::Nothing => return Ok((0, Vec::new())),
        Tree::Everything => Node::And(Vec::new()),
        Tree::Node(node) => node,
    };
    let query = catalog.compile(&node)?;
    let (offset, limit) = (search.offset, search.limit);
    if !search.sort.descending {
        let hits = catalog.search(query.as_ref(), search.sort.key, offset, Some(limit))?;
        let entries = hits.matches.iter().map(|m| m.entry()).collect();
        return Ok((hits.total, entries));
    }
    // Descending is ascending read from the end: the page ending `offset` before the last.
    let total = catalog.count(query.as_ref())?.files;
    let end = usize::try_from(total)
        .unwrap_or(usize::MAX)
        .saturating_sub(offset);
    let start = end.saturating_sub(limit);
    let hits = catalog.search(query.as_ref(), search.sort.key, start, Some(end - start))?;
    let entries = hits.matches.iter().rev().map(|m| m.entry()).collect();
    Ok((total, entries))
}

/// Runs a search and answers it as a GeoJSON feature collection.
async fn run(
    shared: Arc<Shared>,
    headers: HeaderMap,
    search: Search,
    asked: Asked,
) -> Result<Response, ApiError> {
    let base = base(&headers);
    let origin = origin(&headers);
    let catalog = shared.catalog();
    let search = Arc::new(search);
    let running = search.clone();
    let (matched, entries) = blocking(move || run_search(&catalog, &running)).await?;
    let features: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let item = render::item(entry, &base);
            match &search.fields {
                Some(fields) => fields.apply(item),
                None => item,
            }
        })
        .collect();
    let mut links = vec![json!({"rel": "root", "type": "application/json", "href": base})];
    let following = search.offset + entries.len();
    let next_token = (following < usize::try_from(matched).unwrap_or(usize::MAX))
        .then(|| request::token(following));
    match asked {
        Asked::Get { path, mut params } => {
            let url = |params: &HashMap<String, String>| {
                let mut pairs: Vec<(&String, &String)> = params.iter().collect();
                pairs.sort();
                let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
                if query.is_empty() {
                    format!("{origin}{path}")
                } else {
                    format!("{origin}{path}?{query}")
                }
            };
            links.push(json!({"rel": "self", "type": GEOJSON, "href": url(&params)}));
            if let Some(token) = next_token {
                params.insert("token".into(), token);
                links.push(
                    json!({"rel": "next", "type": GEOJSON, "method": "GET", "href": url(&params)}),
                );
            }
        }
        Asked::Post(mut body) => {
            if let Some(token) = next_token {
                body.insert("token".into(), json!(token));
                links.push(json!({"rel": "next", "type": GEOJSON, "method": "POST", "href": format!("{base}/search"), "body": body, "merge": false}));
            }
        }
    }
    Ok(answer(
        GEOJSON,
        json!({
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": matched,
            "numberReturned": entries.len(),
            "links": links,
        }),
    ))
}

/// `GET /stac/search`.
pub async fn search_get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Params(pairs): Params<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = request::unique(pairs).map_err(ApiError::bad_request)?;
    let search = Search::from_params(&params, None).map_err(ApiError::bad_request)?;
    let asked = Asked::Get {
        path: uri.path().to_string(),
        params,
    };
    run(shared, headers, search, asked).await
}

/// `POST /stac/search`.
pub async fn search_post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Too large a body (413) is answered in JSON like every other refusal.
    let body =
        body.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    let (search, members) = Search::from_body(&body).map_err(ApiError::bad_request)?;
    run(shared, headers, search, Asked::Post(members)).await
}

/// `GET /stac/collections/{id}/items`.
pub async fn collection_items(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Params(pairs): Params<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = request::unique(pairs).map_err(ApiError::bad_request)?;
    let search = Search::from_params(&params, Some(&id)).map_err(ApiError::bad_request)?;
    if !collections_of(&shared).await?.iter().any(|c| c.id == id) {
        return Err(no_collection(&id));
    }
    let asked = Asked::Get {
        path: uri.path().to_string(),
        params,
    };
    run(shared, headers, search, asked).await
}

/// `GET /stac/collections/{id}/items/{itemId}`.
pub async fn item(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let search = Search {
        collections: Some(vec![collection.clone()]),
        ids: Some(vec![id.clone()]),
        limit: 1,
        ..Search::default()
    };
    let catalog = shared.catalog();
    let (_, entries) = blocking(move || run_search(&catalog, &search)).await?;
    let entry = entries
        .first()
        .ok_or_else(|| ApiError::not_found(format!("no item {id} in collection {collection}")))?;
    Ok(answer(GEOJSON, render::item(entry, &base(&headers))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_proxy_in_front() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(base(&headers), "http://127.0.0.1:8080/stac");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("stac.example.org, proxy.internal"),
        );
        assert_eq!(base(&headers), "https://stac.example.org/stac");
    }
}
