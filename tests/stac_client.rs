//! `catalog serve`'s STAC API as its users reach it: the real pystac-client (offline, through
//! tests/stac/client.py) and raw requests (reqwest) against a server on 127.0.0.1 over a sample archive, its
//! answers compared with `catalog query`'s. Searches ask what the CLI can also answer, so that
//! a search that ignored part of its question would be caught.

mod chiller_support;
mod common;
mod pyenv;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use common::server::{Answer, InProcess, Server};
use common::TestEnv;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    CONTENT_TYPE,
};
use reqwest::Method;
use serde_json::{json, Value};

fn sample(files: u32) -> TestEnv {
    let env = TestEnv::new();
    env.sample(&env.root().join("s"), files);
    env.index_archive();
    env
}

/// The STAC ids of the files a CLI query finds: their names.
fn cli_ids(env: &TestEnv, query: &str) -> BTreeSet<String> {
    env.query(query)
        .iter()
        .map(|path| file_name(path))
        .collect()
}

/// The last component of a path: an item's id.
fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap().to_string()
}

/// What tests/stac/client.py answers for one check, as JSON.
fn client(server: &Server, check: &str, arguments: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stac/client.py");
    let output = Command::new(pyenv::python())
        .arg(&script)
        .arg(format!("{}/stac", server.url))
        .arg(check)
        .args(arguments)
        .output()
        .expect("the venv's python runs");
    assert!(
        output.status.success(),
        "client.py {check} {arguments:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("client.py prints JSON")
}

/// The ids of every item pystac-client finds for the arguments of its `Client.search`.
fn search_ids(server: &Server, parameters: &Value) -> BTreeSet<String> {
    let found = client(server, "search", &[&parameters.to_string()]);
    strings(&found["ids"]).into_iter().collect()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|value| value.as_str().unwrap_or_default().to_string())
        .collect()
}

/// A small square of `half` degrees around a point, as GeoJSON.
fn square(lon: f64, lat: f64, half: f64) -> Value {
    let (w, e, s, n) = (lon - half, lon + half, lat - half, lat + half);
    json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
}

/// The centre of an item's bbox, as the server gives it.
fn centre(server: &Server, id: &str) -> (f64, f64) {
    let found = server.json(&format!("/stac/search?ids={id}"));
    let bbox = &found["features"][0]["bbox"];
    let at = |i: usize| {
        bbox[i]
            .as_f64()
            .unwrap_or_else(|| panic!("{id} has no bbox: {found}"))
    };
    ((at(0) + at(2)) / 2.0, (at(1) + at(3)) / 2.0)
}

fn post_search(server: &Server, body: &str) -> (u16, String) {
    server.post("/stac/search", "application/json", body)
}

#[test]
fn intersects_finds_the_tile_under_a_polygon_and_nothing_else() {
    let env = sample(3000);
    let server = Server::start(&env, &[]);
    let tile = cli_ids(&env, "tile:T60WWV");
    assert!(!tile.is_empty());
    let (lon, lat) = centre(&server, tile.first().unwrap());
    let found = search_ids(
        &server,
        &json!({"intersects": square(lon, lat, 0.01), "limit": 100}),
    );
    assert_eq!(found, tile);

    // A polygon in the middle of the South Pacific, where no tile of the sample lies.
    let nothing = search_ids(
        &server,
        &json!({"intersects": square(-130.0, -55.0, 0.5), "limit": 100}),
    );
    assert!(nothing.is_empty(), "{nothing:?}");
}

#[test]
fn filter_in_cql2_text_and_json_answers_like_the_cli() {
    let env = sample(3000);
    let server = Server::start(&env, &[]);
    let tile = cli_ids(&env, "tile:T60WWV AND sat:S2A");
    assert!(!tile.is_empty());
    let year = cli_ids(&env, "collection:s2a_prd_msil1c AND date:2019");
    assert!(!year.is_empty());
    let like = cli_ids(&env, "tile:T60W* AND sat:S2A");
    let orbits = cli_ids(
        &env,
        "collection:s2a_prd_msil1c AND orbit:[10 TO 20] AND sat:S2A",
    );
    assert!(!orbits.is_empty());
    for (filter, expected) in [
        (
            json!({"filter_lang": "cql2-text", "filter": "\"grid:code\" = 'MGRS-60WWV' AND platform = 'sentinel-2a'"}),
            &tile,
        ),
        (
            json!({"filter_lang": "cql2-json", "filter": {"op": "and", "args": [
                {"op": "=", "args": [{"property": "grid:code"}, "MGRS-60WWV"]},
                {"op": "=", "args": [{"property": "platform"}, "sentinel-2a"]},
            ]}}),
            &tile,
        ),
        (
            json!({"filter_lang": "cql2-text", "filter": "collection = 's2a_prd_msil1c' AND datetime >= TIMESTAMP('2019-01-01T00:00:00Z') AND datetime < TIMESTAMP('2020-01-01T00:00:00Z')"}),
            &year,
        ),
        (
            json!({"filter_lang": "cql2-json", "filter": {"op": "and", "args": [
                {"op": "=", "args": [{"property": "collection"}, "s2a_prd_msil1c"]},
                {"op": "t_intersects", "args": [{"property": "datetime"},
                    {"interval": ["2019-01-01T00:00:00Z", "2019-12-31T23:59:59.999Z"]}]},
            ]}}),
            &year,
        ),
        (
            json!({"filter_lang": "cql2-text", "filter": "\"grid:code\" LIKE 'MGRS-60W%' AND platform IN ('sentinel-2a')"}),
            &like,
        ),
        (
            json!({"filter_lang": "cql2-json", "filter": {"op": "and", "args": [
                {"op": "=", "args": [{"property": "collection"}, "s2a_prd_msil1c"]},
                {"op": "between", "args": [{"property": "sat:relative_orbit"}, 10, 20]},
                {"op": "not", "args": [{"op": "isNull", "args": [{"property": "platform"}]}]},
            ]}}),
            &orbits,
        ),
    ] {
        let mut parameters = filter.clone();
        parameters["limit"] = json!(200);
        assert_eq!(&search_ids(&server, &parameters), expected, "{filter}");
    }

    // A filter nothing can match finds nothing (it once found every item).
    let none = search_ids(
        &server,
        &json!({"filter_lang": "cql2-text", "filter": "\"sat:relative_orbit\" = 9999"}),
    );
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn sortby_orders_the_items_the_cli_finds() {
    let env = sample(3000);
    let server = Server::start(&env, &[]);
    let expected = cli_ids(&env, "collection:s2a_prd_msil1c AND date:2019");
    for (sortby, descending) in [
        ("-properties.datetime", true),
        ("properties.datetime", false),
    ] {
        let found = client(
            &server,
            "search",
            &[&json!({
                "collections": ["s2a_prd_msil1c"],
                "datetime": "2019-01-01T00:00:00Z/2019-12-31T23:59:59Z",
                "sortby": sortby,
                "limit": 50,
            })
            .to_string()],
        );
        let ids: BTreeSet<String> = strings(&found["ids"]).into_iter().collect();
        assert_eq!(ids, expected, "{sortby}");
        let dates = strings(&found["datetimes"]);
        let mut sorted = dates.clone();
        sorted.sort();
        if descending {
            sorted.reverse();
        }
        assert_eq!(dates, sorted, "{sortby}");
    }
}

#[test]
fn fields_returns_only_what_was_asked() {
    let env = sample(1000);
    let server = Server::start(&env, &[]);
    let found = client(
        &server,
        "search",
        &[&json!({
            "collections": ["s2a_prd_msil1c"],
            "fields": {"include": ["id", "properties.datetime"], "exclude": ["assets", "links"]},
            "limit": 10,
        })
        .to_string()],
    );
    let items = found["first"].as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        assert!(item["id"].is_string(), "{item}");
        assert!(item.get("assets").is_none(), "{item}");
        assert!(item.get("links").is_none(), "{item}");
        let properties: Vec<&String> = item["properties"].as_object().unwrap().keys().collect();
        assert_eq!(properties, ["datetime"], "{item}");
    }
}

#[test]
fn get_item_reads_one_item_with_its_links() {
    let env = sample(1000);
    let server = Server::start(&env, &[]);
    let id = cli_ids(&env, "collection:s2a_prd_msil1c AND sat:S2A")
        .into_iter()
        .next()
        .unwrap();
    let item = client(&server, "get_item", &["s2a_prd_msil1c", &id]);
    assert_eq!(item["id"], id);
    assert_eq!(item["collection"], "s2a_prd_msil1c");
    let base = format!("{}/stac", server.url);
    assert_eq!(
        item["self"],
        format!("{base}/collections/s2a_prd_msil1c/items/{id}")
    );
    for (rel, href) in [
        ("root", base.clone()),
        ("parent", format!("{base}/collections/s2a_prd_msil1c")),
        ("collection", format!("{base}/collections/s2a_prd_msil1c")),
    ] {
        assert_eq!(item["links"][rel], href, "{rel}: {item}");
    }
}

#[test]
fn pystac_client_pages_through_more_than_a_thousand_items() {
    let env = sample(5000);
    let server = Server::start(&env, &[]);
    let expected = cli_ids(&env, "collection:s2a_prd_msil1c AND sat:S2A");
    assert!(expected.len() > 1000, "{} products", expected.len());
    let found = client(
        &server,
        "search",
        &[&json!({"collections": ["s2a_prd_msil1c"], "limit": 100}).to_string()],
    );
    let ids = strings(&found["ids"]);
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "an item came twice");
    assert_eq!(unique, expected);
    assert_eq!(found["matched"], ids.len());
    assert!(found["pages"].as_u64().unwrap() > 10, "{}", found["pages"]);
}

/// Requests the API cannot answer as asked, each with what its error must name.
const UNSUPPORTED_GETS: &[(&str, &str)] = &[
    ("/stac/search?colour=red", "colour"),
    ("/stac/collections/s2a_prd_msil1c/items?colour=red", "colour"),
    ("/stac/search?sortby=-properties.colour", "colour"),
    ("/stac/search?fields=properties.colour", "colour"),
    ("/stac/search?filter=colour%20%3D%20'red'", "colour"),
    // CQL2 arithmetic is not supported.
    (
        "/stac/search?filter=%22sat:relative_orbit%22%20%2B%201%20%3D%205",
        "+",
    ),
    (
        "/stac/search?bbox=0,0,1,1&intersects=%7B%22type%22:%22Point%22,%22coordinates%22:[0.5,0.5]%7D",
        "intersects",
    ),
    ("/stac/search?datetime=../..", "datetime"),
    ("/stac/search?datetime=/", "datetime"),
    (
        "/stac/search?datetime=2020-01-01T00:00:00Z/2019-01-01T00:00:00Z",
        "datetime",
    ),
    ("/stac/search?datetime=yesterday", "datetime"),
];

const UNSUPPORTED_POSTS: &[(&str, &str)] = &[
    (r#"{"colour": "red"}"#, "colour"),
    (
        r#"{"sortby": [{"field": "properties.colour", "direction": "asc"}]}"#,
        "colour",
    ),
    (
        r#"{"fields": {"include": ["properties.colour"]}}"#,
        "colour",
    ),
    (
        r#"{"filter-lang": "cql2-json", "filter": {"op": "=", "args": [{"property": "colour"}, "red"]}}"#,
        "colour",
    ),
    (
        r#"{"filter-lang": "cql2-json", "filter": {"op": "a_contains", "args": [{"property": "platform"}, ["sentinel-2a"]]}}"#,
        "a_contains",
    ),
    (
        r#"{"bbox": [0, 0, 1, 1], "intersects": {"type": "Point", "coordinates": [0.5, 0.5]}}"#,
        "intersects",
    ),
    (r#"{"datetime": "../.."}"#, "datetime"),
];

#[test]
fn every_unsupported_request_answers_400_naming_the_problem() {
    let env = sample(300);
    let server = Server::start(&env, &[]);
    let mut answers = Vec::new();
    for (path, needle) in UNSUPPORTED_GETS {
        let (code, body) = server.get(path);
        answers.push((format!("GET {path}"), code, body, *needle));
    }
    for (body, needle) in UNSUPPORTED_POSTS {
        let (code, answer) = post_search(&server, body);
        answers.push((format!("POST {body}"), code, answer, *needle));
    }
    let wrong: Vec<String> = answers
        .iter()
        .filter(|(_, code, body, needle)| {
            *code != 400 || serde_json::from_str::<Value>(body).is_err() || !body.contains(needle)
        })
        .map(|(request, code, body, needle)| {
            format!("{request}: {code} {body:.200} (should be 400 naming {needle})")
        })
        .collect();
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));

    // pystac-client hands the refusal to its user.
    for parameters in [
        json!({"sortby": "-properties.colour"}),
        json!({"filter_lang": "cql2-text", "filter": "colour = 'red'"}),
    ] {
        let answer = client(&server, "error", &[&parameters.to_string()]);
        assert_eq!(answer["status"], 400, "{parameters}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains("colour"),
            "{answer}"
        );
    }
}

#[test]
fn every_item_validates_against_core_and_its_extensions() {
    let env = sample(800);
    let server = Server::start(&env, &[]);
    let report = client(&server, "validate_items", &["1000"]);
    let items = report["items"].as_object().unwrap();
    eprintln!(
        "{} items of {} collections validated; extensions declared: {}",
        items.values().filter_map(Value::as_u64).sum::<u64>(),
        items.len(),
        report["extensions"]
    );
    assert_eq!(report["duplicates"], json!([]), "ids twice in a collection");
    assert_eq!(report["invalid"], json!({}), "invalid items");
    // Every mission was seen, and each mission's own extension: sar for Sentinel-1, grid for
    // Sentinel-2 tiles.
    for mission in ["s1", "s2", "s3", "s5p"] {
        assert!(
            items
                .iter()
                .any(|(id, n)| id.starts_with(mission) && n.as_u64() > Some(0)),
            "no {mission} items: {report}"
        );
    }
    for extension in ["sar", "sat", "grid", "file"] {
        assert!(
            report["extensions"]
                .as_object()
                .unwrap()
                .keys()
                .any(|uri| uri.contains(&format!("/{extension}/"))),
            "no item declares {extension}: {report}"
        );
    }
}

/// An archive of one product per mission (common::PRODUCTS) and a Sentinel-2 tile that
/// crosses the antimeridian at 41-42 N.
const ACROSS: &str = "S2B_MSIL1C_20230615T231539_N0509_R030_T60TYM_20230616T002014";

fn antimeridian_archive() -> TestEnv {
    let env = TestEnv::with_products();
    let name = format!("{ACROSS}.zip");
    env.disk_file(&env.product_path("s2b_prd_msil1c", &name), 100);
    env.index_archive();
    env
}

#[test]
fn a_tile_across_the_antimeridian_matches_only_on_its_side() {
    let env = antimeridian_archive();
    let server = Server::start(&env, &[]);
    let bbox = |bbox: &str| -> BTreeSet<String> {
        let found = server.json(&format!("/stac/search?bbox={bbox}&limit=100"));
        found["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_string())
            .collect()
    };
    let across = BTreeSet::from([format!("{ACROSS}.zip")]);
    // Its western part, its eastern part, and a box that itself crosses the antimeridian.
    assert_eq!(bbox("179.3,41.3,179.7,41.7"), across);
    assert_eq!(bbox("-179.9,41.3,-179.8,41.7"), across);
    assert_eq!(bbox("179.5,41.3,-179.5,41.7"), across);
    // The other side of the world, at the same latitudes (where no product of the archive lies).
    assert_eq!(bbox("0,41.3,1,41.7"), BTreeSet::new());
    let far = search_ids(
        &server,
        &json!({"intersects": square(0.5, 41.5, 0.4), "limit": 100}),
    );
    assert!(far.is_empty(), "{far:?}");
    let near = search_ids(
        &server,
        &json!({"intersects": square(179.5, 41.5, 0.1), "limit": 100}),
    );
    assert_eq!(near, across);
}

#[test]
fn items_without_a_footprint_never_match_a_spatial_filter() {
    let env = antimeridian_archive();
    let server = Server::start(&env, &[]);
    let without: BTreeSet<String> = cli_ids(&env, "mission:S1 OR mission:S3 OR mission:S5P");
    assert_eq!(without.len(), 4, "{without:?}");
    let tiles = cli_ids(&env, "tile:*");
    let world = json!({"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]});
    for parameters in [
        json!({"bbox": [-180, -90, 180, 90], "limit": 100}),
        json!({"intersects": world, "limit": 100}),
        json!({"filter_lang": "cql2-json", "limit": 100,
            "filter": {"op": "s_intersects", "args": [{"property": "geometry"}, world]}}),
    ] {
        let found = search_ids(&server, &parameters);
        assert_eq!(found, tiles, "{parameters}");
        assert!(found.is_disjoint(&without), "{parameters}");
    }
    // Without a spatial filter they are found.
    let all = search_ids(&server, &json!({"limit": 100}));
    assert!(all.is_superset(&without), "{all:?}");
}

/// The answer to the CORS preflight a browser sends before a POST to `path` from another
/// origin, with its `headers`.
fn preflight(server: &Server, path: &str, headers: &[(&str, &str)]) -> Answer {
    let headers = [&[("Access-Control-Request-Method", "POST")], headers].concat();
    server.request(Method::OPTIONS, path, &headers, "")
}

/// The values of a header of an answer, lowercased.
fn header_values(answer: &Answer, name: impl reqwest::header::AsHeaderName) -> Vec<String> {
    answer
        .headers
        .get_all(name)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase())
        .collect()
}

#[test]
fn browsers_may_read_across_origins() {
    let env = sample(100);
    let server = Server::start(&env, &[]);
    let origin = ("Origin", "https://radiantearth.github.io");
    let answer = preflight(
        &server,
        "/stac/search",
        &[origin, ("Access-Control-Request-Headers", "content-type")],
    );
    let head = format!("{} {:?}", answer.status, answer.headers);
    assert!((200..300).contains(&answer.status), "{head}");
    assert!(
        answer.headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN),
        "{head}"
    );
    assert!(
        answer.headers.contains_key(ACCESS_CONTROL_ALLOW_METHODS),
        "{head}"
    );
    assert!(
        header_values(&answer, ACCESS_CONTROL_ALLOW_HEADERS)
            .iter()
            .any(|allowed| allowed.contains("content-type")),
        "{head}"
    );

    let answer = server.request(Method::GET, "/stac/collections", &[origin], "");
    assert_eq!(answer.status, 200);
}

#[test]
fn a_web_page_on_another_origin_cannot_stage() {
    let env = sample(300);
    let chiller = chiller_support::Server::start(&env, &[]);
    let server = Server::start(&env, &["--chiller", &chiller.url]);
    let stage = "/stage?q=sat:S2A";
    // What a page's form or fetch() can send without a preflight: a simple POST.
    for headers in [
        [
            ("Origin", "https://evil.example"),
            ("Content-Type", "text/plain"),
        ],
        [
            ("Sec-Fetch-Site", "cross-site"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
    ] {
        let answer = server.request(Method::POST, stage, &headers, "");
        assert!(
            (400..500).contains(&answer.status),
            "{headers:?}: {} {}",
            answer.status,
            answer.body
        );
        assert!(
            serde_json::from_str::<Value>(&answer.body).is_ok(),
            "{}",
            answer.body
        );
    }
    // The preflight that a cross-site JSON POST needs does not allow it either.
    let answer = preflight(&server, stage, &[("Origin", "https://evil.example")]);
    let allowed = header_values(&answer, ACCESS_CONTROL_ALLOW_ORIGIN);
    assert!(
        !allowed
            .iter()
            .any(|origin| origin.starts_with('*') || origin.starts_with("https://evil.example")),
        "{:?}",
        answer.headers
    );
    // The command line and same-origin clients still stage: an empty POST as
    // `curl -X POST --data-binary ''` sends it.
    let (code, body) = server.post(stage, "application/x-www-form-urlencoded", "");
    assert_eq!(code, 200, "{body}");
}

/// The content type and JSON body of a GET of a path (or whole URL), with extra request
/// headers.
fn get_with_headers(server: &Server, path: &str, headers: &[(&str, &str)]) -> (String, Value) {
    let answer = server.request(Method::GET, path, headers, "");
    let body = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", answer.body));
    (header_values(&answer, CONTENT_TYPE).concat(), body)
}

fn link<'a>(links: &'a Value, rel: &str) -> Option<&'a str> {
    links
        .as_array()?
        .iter()
        .find(|link| link["rel"] == rel)
        .and_then(|link| link["href"].as_str())
}

#[test]
fn links_stay_on_the_endpoint_asked_and_follow_a_proxy() {
    let env = sample(1000);
    let server = Server::start(&env, &[]);
    let items = format!("{}/stac/collections/s2b_prd_msil1c/items", server.url);
    let (content_type, page) = get_with_headers(&server, &format!("{items}?limit=2"), &[]);
    assert!(
        content_type.starts_with("application/geo+json"),
        "{content_type}"
    );
    let next = link(&page["links"], "next").expect("a next link");
    assert!(next.starts_with(&format!("{items}?")), "{next}");
    let (_, second) = get_with_headers(&server, next, &[]);
    assert_ne!(second["features"][0]["id"], page["features"][0]["id"]);

    let (content_type, _) = get_with_headers(&server, "/stac/search?limit=1", &[]);
    assert!(
        content_type.starts_with("application/geo+json"),
        "{content_type}"
    );

    // Behind a proxy, links name the address the client used.
    let proxy = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "catalog.example.org"),
    ];
    let (_, landing) = get_with_headers(&server, "/stac", &proxy);
    assert_eq!(
        link(&landing["links"], "self"),
        Some("https://catalog.example.org/stac")
    );
    let (_, page) = get_with_headers(&server, &format!("{items}?limit=2"), &proxy);
    let next = link(&page["links"], "next").expect("a next link");
    assert!(
        next.starts_with("https://catalog.example.org/stac/collections/s2b_prd_msil1c/items?"),
        "{next}"
    );
    let item_self = link(&page["features"][0]["links"], "self").unwrap();
    assert!(
        item_self.starts_with("https://catalog.example.org/stac/collections/s2b_prd_msil1c/items/"),
        "{item_self}"
    );
}

/// The Sentinel-2A products of one tile, as a CLI query.
const TILE: &str = "tile:T60WWV AND sat:S2A";

fn stac_ids(collection: &Value) -> Vec<String> {
    collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn serve_speaks_stac_item_search() {
    let env = sample(2000);
    let server = InProcess::start(&env);
    let landing = server.json("/stac");
    assert_eq!(landing["type"], "Catalog");
    assert!(landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["rel"] == "search"));
    let conformance = server.json("/stac/conformance");
    assert!(conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.as_str().unwrap().ends_with("item-search")));
    let collections = server.json("/stac/collections");
    let s2 = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "s2a_prd_msil1c")
        .unwrap();
    let interval = &s2["extent"]["temporal"]["interval"][0];
    assert!(interval[0].as_str().unwrap() < interval[1].as_str().unwrap());

    // The same question as `catalog query`, paged through next links.
    let cli = env.query("collection:s2a_prd_msil1c AND date:2019");
    let mut ids = Vec::new();
    let mut next = Some(format!("{}/stac/search?collections=s2a_prd_msil1c&datetime=2019-01-01T00:00:00Z/2019-12-31T23:59:59Z&limit=7", server.url));
    while let Some(url) = next {
        let (code, body) = server.get(&url);
        assert_eq!(code, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(page["numberMatched"], cli.len());
        ids.extend(stac_ids(&page));
        next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
    }
    let expected: Vec<String> = cli.iter().map(|p| file_name(p)).collect();
    assert_eq!(ids, expected);

    // POST, the query extension, and geometry for tiles.
    let (code, body) = server.post(
        "/stac/search",
        "application/json",
        r#"{"query":{"grid:code":{"eq":"MGRS-60WWV"},"platform":{"eq":"sentinel-2a"}},"limit":100}"#,
    );
    assert_eq!(code, 200, "{body}");
    let tile: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(tile["numberMatched"], env.query(TILE).len());
    let item = &tile["features"][0];
    assert_eq!(item["type"], "Feature");
    assert_eq!(item["geometry"]["type"], "Polygon");
    assert_eq!(item["properties"]["grid:code"], "MGRS-60WWV");
    assert!(item["assets"]["data"]["href"]
        .as_str()
        .unwrap()
        .starts_with("file:///"));

    // A bbox in Chukotka finds the T60WWV items and no item without a footprint.
    let around: Value = server.json("/stac/search?bbox=178,67,179,68&limit=1000");
    let names: Vec<String> = stac_ids(&around);
    assert!(
        !names.is_empty() && names.iter().all(|n| n.contains("_T60W")),
        "{names:?}"
    );
    let nowhere: Value = server.json("/stac/search?bbox=-10,-89.9,-9,-89.8");
    assert_eq!(nowhere["numberMatched"], 0);

    let first = &ids[0];
    let by_id: Value = server.json(&format!("/stac/search?ids={first}"));
    assert_eq!(stac_ids(&by_id), std::slice::from_ref(first));
    let items = server.json("/stac/collections/s2a_prd_msil1c/items?limit=3");
    assert_eq!(items["features"].as_array().unwrap().len(), 3);
}

#[test]
fn serve_gives_pystac_client_the_same_items_as_the_cli() {
    let env = sample(3000);
    let server = InProcess::start(&env);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/stac-check.py");
    let output = Command::new(pyenv::python())
        .arg(&script)
        .arg(format!("{}/stac", server.url))
        .args([
            "s2a_prd_msil2a",
            "2015-01-01T00:00:00Z/2025-12-31T23:59:59Z",
            "T60WWV",
        ])
        .output()
        .expect("the venv's python runs");
    assert!(
        output.status.success(),
        "stac-check.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_stac: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut from_cli = env.query("collection:s2a_prd_msil2a AND tile:T60WWV");
    from_cli.sort();
    assert!(!from_cli.is_empty());
    assert_eq!(from_stac, from_cli);
}

#[test]
fn ids_are_unique_and_files_that_are_no_products_are_no_items() {
    let env = antimeridian_archive();
    let product = format!("{ACROSS}.zip");
    let side_car = format!("{ACROSS}.zip.md5");
    env.disk_file(&env.product_path("s2b_prd_msil1c", &side_car), 32);
    env.disk_file("copernicus.eu/s2b_prd_msil1c/README.txt", 10);
    env.index_archive();
    let server = Server::start(&env, &[]);
    let items = server.json("/stac/collections/s2b_prd_msil1c/items?limit=100");
    let ids: Vec<&str> = items["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    assert!(unique.contains(product.as_str()) && unique.contains(side_car.as_str()));
    assert!(!ids.iter().any(|id| id.starts_with("README")), "{ids:?}");
    for id in [&product, &side_car] {
        let item = server.json(&format!("/stac/collections/s2b_prd_msil1c/items/{id}"));
        assert_eq!(item["id"], id.as_str(), "{item}");
    }
    let found = search_ids(&server, &json!({"ids": [product], "limit": 100}));
    assert_eq!(found, BTreeSet::from([product.clone()]));
}
