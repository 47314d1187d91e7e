//! `GET /openapi.json`: an OpenAPI 3 description of every endpoint.

use axum::Json;
use serde_json::{json, Value};

fn query_parameter(name: &str, description: &str, required: bool, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema})
}

fn json_answer(description: &str) -> Value {
    json_answer_of(description, json!({"type": "object"}))
}

fn json_answer_of(description: &str, schema: Value) -> Value {
    json!({
        "200": {"description": description, "content": {"application/json": {"schema": schema}}},
        "400": {"description": "a bad query or parameter, named in the body", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    })
}

/// An object with these properties, each `(name, type, description)`; a type ending in `?`
/// may be null.
fn object(properties: &[(&str, &str, &str)]) -> Value {
    let properties: serde_json::Map<String, Value> = properties
        .iter()
        .map(|(name, kind, description)| {
            let mut schema =
                json!({"type": kind.trim_end_matches('?'), "description": description});
            if kind.ends_with('?') {
                schema["nullable"] = json!(true);
            }
            (name.to_string(), schema)
        })
        .collect();
    json!({"type": "object", "properties": properties})
}

/// `indexed_at` and `crawled_at`, the state an answer reads.
const ANSWER_STATE: [(&str, &str, &str); 2] = [
    (
        "indexed_at",
        "string",
        "RFC 3339 time of the index commit the answer reads (the last build)",
    ),
    (
        "crawled_at",
        "string?",
        "RFC 3339 time the index was last crawled whole (its oldest root's last crawl)",
    ),
];

/// `crawled_at` and `age_seconds`, how fresh the index is.
const INDEX_AGE: [(&str, &str, &str); 2] = [
    (
        "crawled_at",
        "string?",
        "RFC 3339 time the index was last crawled whole (its oldest root's last crawl)",
    ),
    ("age_seconds", "number?", "seconds since crawled_at"),
];

/// The document.
pub async fn document() -> Json<Value> {
    let q = query_parameter(
        "q",
        "a catalog query, e.g. tile:T60WWV AND sat:S2A",
        true,
        json!({"type": "string"}),
    );
    let paging = [
        query_parameter(
            "limit",
            "at most this many items (1-10000, default 100)",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": 10000}),
        ),
        query_parameter(
            "offset",
            "skip this many items",
            false,
            json!({"type": "integer", "minimum": 0}),
        ),
        query_parameter(
            "sort",
            "order of the answer",
            false,
            json!({"type": "string", "enum": ["date", "path", "size"]}),
        ),
    ];
    let stac_search = json!({"type": "object", "properties": {
        "collections": {"type": "array", "items": {"type": "string"}, "maxItems": super::MAX_COLLECTIONS},
        "ids": {"type": "array", "items": {"type": "string"}, "maxItems": super::MAX_IDS},
        "datetime": {"type": "string"},
        "bbox": {"type": "array", "items": {"type": "number"}},
        "limit": {"type": "integer"},
        "token": {"type": "string"},
        "query": {"type": "object"},
        "intersects": {"type": "object", "description": "a GeoJSON geometry (not with bbox)"},
        "filter": {"description": "a CQL2 filter: text, or JSON with filter-lang cql2-json"},
        "filter-lang": {"type": "string", "enum": ["cql2-text", "cql2-json"]},
        "filter-crs": {"type": "string"},
        "sortby": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "direction": {"type": "string", "enum": ["asc", "desc"]}}}},
        "fields": {"type": "object", "properties": {"include": {"type": "array", "items": {"type": "string"}}, "exclude": {"type": "array", "items": {"type": "string"}}}},
        "catalog:q": {"type": "string"},
    }, "additionalProperties": false});
    let search = object(
        &[
            &[(
                "total",
                "integer",
                "every match, however many items are shown",
            )][..],
            &ANSWER_STATE,
            &[("items", "array", "the matches, with every field")],
        ]
        .concat(),
    );
    let count = object(
        &[
            &[
                ("files", "integer", "matching files"),
                ("bytes", "integer", "their total size"),
                ("disk_files", "integer", "files on disk"),
                ("disk_bytes", "integer", "bytes on disk"),
                ("tape_files", "integer", "files on tape"),
                ("tape_bytes", "integer", "bytes on tape"),
            ][..],
            &ANSWER_STATE,
        ]
        .concat(),
    );
    let health = object(
        &[
            &[
                ("status", "string", "ok"),
                ("documents", "integer", "documents in the index"),
                (
                    "indexed_at",
                    "string",
                    "RFC 3339 time of the last build's commit",
                ),
            ][..],
            &INDEX_AGE,
        ]
        .concat(),
    );
    let stats = object(
        &[
            &[
                ("index", "string", "the index directory"),
                ("documents", "integer", "documents in the index"),
                ("bytes", "integer", "the index's size on disk"),
                ("collections", "array", "{collection, documents, crawled_at, updated_at, restat_at}; a time is left out when unknown"),
                ("build", "object", "the last build: built_at, seconds, roots (each with files, crawled_at, updated_at, restat_at), errors, collections' times"),
            ][..],
            &INDEX_AGE,
        ]
        .concat(),
    );
    Json(json!({
        "openapi": "3.0.3",
        "info": {"title": "catalog", "version": env!("CARGO_PKG_VERSION"), "description": "Query an archive's file catalog, get complete file lists, stage them through Chiller, and search it as a STAC API."},
        "paths": {
            "/search": {"get": {"summary": "Matches with every field", "parameters": [q, paging[0], paging[1], paging[2]], "responses": json_answer_of("{total, indexed_at, crawled_at, items}", search)}},
            "/filelist": {"get": {"summary": "Every matching path, one per line, streamed", "parameters": [q, paging[2]], "responses": {
                "200": {"description": "the list", "content": {"text/plain": {"schema": {"type": "string"}}}},
                "400": {"description": "a bad query", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
            "/count": {"get": {"summary": "Files, bytes, on disk and on tape", "parameters": [q], "responses": json_answer_of("the totals, and the state they were counted from", count)}},
            "/stage": {"post": {"summary": "Submit the matches of q, or the list in the body, to Chiller", "parameters": [query_parameter("q", "a catalog query", false, json!({"type": "string"}))],
                "requestBody": {"required": false, "content": {"text/plain": {"schema": {"type": "string"}}}},
                "responses": {"200": {"description": "{jobs, files, bytes, missing, on_disk}"}, "400": {"description": "a bad query or nothing to stage"}, "502": {"description": "Chiller failed"}}}},
            "/jobs/{id}": {"get": {"summary": "A job's status as Chiller reports it", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the status"}, "404": {"description": "no such job"}, "502": {"description": "Chiller failed"}}}},
            "/fields": {"get": {"summary": "Fields, their types, and keyword values with counts", "responses": json_answer("{fields}")}},
            "/stats": {"get": {"summary": "Documents, index size, collections, index age, last build, errors, roots (as catalog stats --json)", "responses": json_answer_of("the statistics", stats)}},
            "/health": {"get": {"summary": "Liveness and the index's age", "responses": json_answer_of("{status, documents, indexed_at, crawled_at, age_seconds}", health)}},
            "/metrics": {"get": {"summary": "Prometheus metrics, among them catalog_index_age_seconds and catalog_index_crawled_timestamp_seconds", "responses": {"200": {"description": "text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
            "/stac": {"get": {"summary": "STAC landing page", "responses": json_answer("the landing page")}},
            "/stac/conformance": {"get": {"summary": "STAC conformance classes", "responses": json_answer("{conformsTo}")}},
            "/stac/collections": {"get": {"summary": "One collection per archive collection", "responses": json_answer("{collections}")}},
            "/stac/collections/{id}": {"get": {"summary": "One collection", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": json_answer("the collection")}},
            "/stac/collections/{id}/items": {"get": {"summary": "Items of a collection", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": json_answer("an ItemCollection")}},
            "/stac/collections/{id}/items/{itemId}": {"get": {"summary": "One item; its id is its file name", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "itemId", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "the item (application/geo+json)"}, "404": {"description": "no such item"}}}},
            "/stac/queryables": {"get": {"summary": "What filters may name (JSON Schema)", "responses": json_answer("the queryables")}},
            "/stac/collections/{id}/queryables": {"get": {"summary": "What filters may name in one collection", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": json_answer("the queryables")}},
            "/stac/api": {"get": {"summary": "This document, as the STAC service description (application/vnd.oai.openapi+json;version=3.0)", "responses": {"200": {"description": "OpenAPI 3"}}}},
            "/stac/search": {
                "get": {"summary": "STAC item search", "parameters": [
                    query_parameter("collections", "comma-separated", false, json!({"type": "string"})),
                    query_parameter("ids", "comma-separated", false, json!({"type": "string"})),
                    query_parameter("datetime", "an instant or an interval a/b, open ends ..", false, json!({"type": "string"})),
                    query_parameter("bbox", "west,south,east,north", false, json!({"type": "string"})),
                    query_parameter("limit", "page size (default 10)", false, json!({"type": "integer"})),
                    query_parameter("token", "paging token from a next link", false, json!({"type": "string"})),
                    query_parameter("query", "the query extension, as JSON", false, json!({"type": "string"})),
                    query_parameter("intersects", "a GeoJSON geometry, as JSON (not with bbox)", false, json!({"type": "string"})),
                    query_parameter("filter", "a CQL2 filter", false, json!({"type": "string"})),
                    query_parameter("filter-lang", "cql2-text (default) or cql2-json", false, json!({"type": "string"})),
                    query_parameter("filter-crs", "only http://www.opengis.net/def/crs/OGC/1.3/CRS84", false, json!({"type": "string"})),
                    query_parameter("sortby", "comma-separated fields, each with an optional + or -", false, json!({"type": "string"})),
                    query_parameter("fields", "comma-separated properties to include, - to exclude", false, json!({"type": "string"})),
                    query_parameter("q", "a catalog query, as the CLI's", false, json!({"type": "string"}))],
                    "responses": json_answer("an ItemCollection")},
                "post": {"summary": "STAC item search", "requestBody": {"content": {"application/json": {"schema": stac_search}}}, "responses": json_answer("an ItemCollection")},
            },
        },
        "components": {"schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}},
    }))
}
