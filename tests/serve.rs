//! `catalog serve` over a sample archive, driven with reqwest: its router served in the test
//! process on 127.0.0.1 port 0, and the real binary for what its flags set (the token, the
//! Chiller it stages through). Its STAC API is tested in stac_client.rs and stac_conformance.rs.

mod chiller_support;
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use catalog::serve::ServeConfig;
use common::server::{InProcess, Server};
use common::TestEnv;
use serde_json::Value;

fn sample(files: u32) -> TestEnv {
    let env = TestEnv::new();
    env.sample(&env.root().join("s"), files);
    env.index_archive();
    env
}

fn cli_lines(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let output = env.catalog().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The configuration of `catalog serve` over `env` with limits changed by `change`.
fn limits(env: &TestEnv, change: impl FnOnce(&mut catalog_http::Limits)) -> ServeConfig {
    let mut config = InProcess::config(env);
    change(&mut config.limits);
    config
}

const TILE: &str = "tile:T60WWV AND sat:S2A";
const TILE_URL: &str = "tile:T60WWV%20AND%20sat:S2A";

#[test]
fn serve_answers_like_the_cli() {
    let env = sample(2000);
    let server = InProcess::start(&env);
    let cli = env.query(TILE);
    assert!(!cli.is_empty());

    let search = server.json(&format!("/search?q={TILE_URL}"));
    assert_eq!(search["total"], cli.len());
    let paths: Vec<&str> = search["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, cli);
    assert_eq!(search["items"][0]["tile"], "T60WWV");
    let page = server.json(&format!("/search?q={TILE_URL}&limit=1&offset=1"));
    assert_eq!(page["items"][0]["path"], cli[1]);

    let (code, text) = server.get(&format!("/filelist?q={TILE_URL}"));
    assert_eq!(code, 200);
    assert_eq!(text.lines().collect::<Vec<_>>(), cli);

    let count = server.json("/count?q=state:tape");
    let cli_count: u64 = cli_lines(&env, &["query", "state:tape", "--count", "-q"])[0]
        .parse()
        .unwrap();
    assert_eq!(count["files"], cli_count);
    assert_eq!(count["tape_files"], cli_count);

    let fields = server.json("/fields");
    let sat = fields["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "sat")
        .unwrap();
    assert_eq!(sat["type"], "keyword");
    assert!(sat["values"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["value"] == "s2a" && v["count"].as_u64().unwrap() > 0));
    let orbit = fields["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "orbit")
        .unwrap();
    assert_eq!(orbit["type"], "integer");

    let stats = server.json("/stats");
    let documents = cli_lines(&env, &["query", "*", "--count", "-q"])[0]
        .parse::<u64>()
        .unwrap();
    assert_eq!(stats["documents"], documents);
    assert!(stats["build"]["built_at"]
        .as_str()
        .unwrap()
        .starts_with("20"));
    assert_eq!(server.json("/health")["status"], "ok");

    let (code, metrics) = server.get("/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("catalog_requests_total{endpoint=\"/search\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("catalog_request_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("catalog_index_documents {documents}")),
        "{metrics}"
    );

    let openapi = server.json("/openapi.json");
    for path in [
        "/search",
        "/filelist",
        "/count",
        "/stage",
        "/jobs/{id}",
        "/fields",
        "/stats",
        "/health",
        "/metrics",
        "/stac/search",
        "/stac/collections/{id}/items/{itemId}",
        "/stac/queryables",
        "/stac/collections/{id}/queryables",
        "/stac/api",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
    let documented: Vec<&str> = openapi["paths"]["/stac/search"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for parameter in [
        "intersects",
        "filter",
        "filter-lang",
        "sortby",
        "fields",
        "q",
    ] {
        assert!(
            documented.contains(&parameter),
            "{parameter}: {documented:?}"
        );
    }
    let body = &openapi["paths"]["/stac/search"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["properties"];
    for member in [
        "intersects",
        "filter",
        "filter-lang",
        "sortby",
        "fields",
        "catalog:q",
    ] {
        assert!(body[member].is_object(), "{member}: {body}");
    }
    let schema = |path: &str| {
        openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["properties"]
            .clone()
    };
    for (path, member) in [
        ("/search", "indexed_at"),
        ("/search", "crawled_at"),
        ("/count", "indexed_at"),
        ("/count", "crawled_at"),
        ("/health", "crawled_at"),
        ("/health", "age_seconds"),
        ("/stats", "age_seconds"),
    ] {
        assert!(
            schema(path)[member].is_object(),
            "{path} documents {member}"
        );
    }
}

#[test]
fn serve_answers_bad_requests_with_400_and_a_named_problem() {
    let env = sample(300);
    let server = InProcess::start(&env);
    for (path, needle) in [
        ("/search?q=tiel:T60WWV", "unknown field 'tiel'"),
        ("/search?q=(sat:S2A", "never closed"),
        ("/search", "q parameter"),
        ("/search?q=sat:S2A&limit=1000000", "limit is at most"),
        ("/filelist?q=orbit:abc", "whole number"),
        ("/count?q=date:2023-13", "takes a date"),
        ("/stac/search?bbox=1,2,3", "bbox takes 4"),
        ("/stac/search?limit=0", "limit is between"),
        ("/stac/search?query=%7B", "bad query parameter"),
        ("/search?q=sat:S2A&limit=-1", "limit: invalid digit"),
        (
            "/filelist?q=sat:S2A&sort=colour",
            "unknown variant `colour`",
        ),
        (
            "/stac/search?query=%7B%22color%22:%7B%22eq%22:1%7D%7D",
            "cannot filter on property 'color'",
        ),
    ] {
        let (code, body) = server.get(path);
        assert_eq!(code, 400, "{path}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
    }
    let (code, _) = server.post(
        "/stac/search",
        "application/x-www-form-urlencoded",
        "not json",
    );
    assert_eq!(code, 400);
    let (code, _) = server.get("/stac/collections/nothing");
    assert_eq!(code, 404);
}

#[test]
fn serve_streams_a_large_file_list() {
    let env = sample(6000);
    let server = InProcess::start(&env);
    let answer = server.send(|http, url| http.get(url), "/filelist?q=*&sort=path");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer
            .headers
            .get("transfer-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"chunked"[..]),
        "streamed, not sized up front: {:?}",
        answer.headers
    );
    assert!(answer.headers.get("content-length").is_none());
    let cli = cli_lines(&env, &["query", "*", "--sort", "path"]);
    assert!(cli.len() > 5000);
    assert_eq!(answer.body.lines().collect::<Vec<_>>(), cli);
}

#[test]
fn serve_follows_a_rebuild_without_a_restart() {
    let env = sample(300);
    let server = InProcess::start(&env);
    let before = server.json("/count?q=tile:T01CCC")["files"]
        .as_u64()
        .unwrap();
    assert_eq!(before, 0);
    for day in 1..=3 {
        env.disk_file(&format!("copernicus.eu/s2a_prd_msil1c/2024/01/0{day}/S2A_MSIL1C_2024010{day}T100000_N0510_R001_T01CCC_2024010{day}T110000.zip"), 10);
    }
    let rebuild = Command::new(assert_cmd::cargo::cargo_bin("catalog"))
        .env("CATALOG_INDEX", env.index())
        .args(["index", "--root"])
        .arg(env.root())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Queries keep being answered during the rebuild.
    let mut rebuild = rebuild;
    while rebuild.try_wait().unwrap().is_none() {
        assert_eq!(server.get("/health").0, 200);
    }
    server.wait_for_count("tile:T01CCC", 3, "the server did not pick up the rebuild");

    env.disk_file("copernicus.eu/s2a_prd_msil1c/2024/01/04/S2A_MSIL1C_20240104T100000_N0510_R001_T01CCC_20240104T110000.zip", 10);
    let full = env
        .catalog()
        .args(["index", "--full", "--root"])
        .arg(env.root())
        .output()
        .unwrap();
    assert!(full.status.success());
    server.wait_for_count("tile:T01CCC", 4, "a new generation is not followed");
}

/// An RFC 3339 time of an answer, asserted to be within the last ten minutes.
fn recent(value: &Value, what: &str) -> time::OffsetDateTime {
    let text = value.as_str().unwrap_or_else(|| panic!("{what}: {value}"));
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    let age = (time::OffsetDateTime::now_utc() - at).as_seconds_f64();
    assert!(
        (-5.0..600.0).contains(&age),
        "{what}: {text} is {age} s old"
    );
    at
}

/// A small, non-negative age in seconds.
fn small_age(value: &Value, what: &str) -> f64 {
    let age = value.as_f64().unwrap_or_else(|| panic!("{what}: {value}"));
    assert!((0.0..600.0).contains(&age), "{what}: {age}");
    age
}

#[test]
fn serve_says_how_fresh_its_answers_are() {
    let env = sample(300);
    let server = InProcess::start(&env);
    let stats = server.json("/stats");
    let built_at = stats["build"]["built_at"].clone();
    recent(&built_at, "build.built_at");
    let crawled_at = stats["crawled_at"].clone();
    recent(&crawled_at, "/stats crawled_at");
    small_age(&stats["age_seconds"], "/stats age_seconds");
    assert!(
        stats["collections"][0]["documents"].as_u64().unwrap() > 0,
        "{stats}"
    );

    // /stats shows what `catalog stats --json` does.
    let cli = env.catalog().args(["stats", "--json"]).output().unwrap();
    assert!(cli.status.success());
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&cli), keys(&stats));
    for key in ["documents", "collections", "build", "crawled_at"] {
        assert_eq!(cli[key], stats[key], "{key}");
    }

    let health = server.json("/health");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["indexed_at"], built_at);
    assert_eq!(health["crawled_at"], crawled_at);
    small_age(&health["age_seconds"], "/health age_seconds");

    let search = server.json(&format!("/search?q={TILE_URL}&limit=1"));
    assert_eq!(search["indexed_at"], built_at, "{search}");
    assert_eq!(search["crawled_at"], crawled_at, "{search}");
    assert!(search["total"].as_u64().unwrap() > 0);
    let again = server.json(&format!("/search?q={TILE_URL}&limit=1"));
    assert_eq!(again["items"], search["items"]);
    assert_eq!(search["items"].as_array().unwrap().len(), 1);
    let count = server.json(&format!("/count?q={TILE_URL}"));
    assert_eq!(count["indexed_at"], built_at, "{count}");
    assert_eq!(count["crawled_at"], crawled_at, "{count}");
    assert_eq!(count["files"], search["total"]);

    let (code, metrics) = server.get("/metrics");
    assert_eq!(code, 200);
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name}: {metrics}"))
            .parse()
            .unwrap()
    };
    // The first search decompressed the blocks of the paths it read, and the same search again
    // found each of them decompressed.
    let misses = gauge("catalog_path_cache_misses");
    assert!(misses >= 1.0, "{metrics}");
    assert_eq!(gauge("catalog_path_cache_hits"), misses, "{metrics}");
    assert!(gauge("catalog_path_cache_bytes") > 0.0);
    small_age(
        &Value::from(gauge("catalog_index_age_seconds")),
        "catalog_index_age_seconds",
    );
    let crawled = recent(&crawled_at, "crawled_at");
    let stamp = gauge("catalog_index_crawled_timestamp_seconds");
    assert!(
        (stamp - crawled.unix_timestamp_nanos() as f64 / 1e9).abs() < 0.001,
        "{stamp} is {crawled}"
    );

    // The age is computed when asked: it grows between scrapes of an unchanged index.
    let first = small_age(&server.json("/health")["age_seconds"], "age");
    let deadline = Instant::now() + Duration::from_secs(20);
    while small_age(&server.json("/health")["age_seconds"], "age") <= first {
        assert!(Instant::now() < deadline, "the age does not grow");
        std::thread::sleep(Duration::from_millis(50));
    }

    // After a rebuild, answers say they read the new state.
    env.disk_file("copernicus.eu/s2a_prd_msil1c/2024/01/05/S2A_MSIL1C_20240105T100000_N0510_R001_T01CCC_20240105T110000.zip", 10);
    env.index_archive();
    server.wait_for_count("tile:T01CCC", 1, "the server did not pick up the rebuild");
    let count = server.json("/count?q=tile:T01CCC");
    let rebuilt = server.json("/stats")["build"]["built_at"].clone();
    assert_ne!(rebuilt, built_at);
    assert_eq!(count["indexed_at"], rebuilt, "{count}");
    assert!(recent(&count["crawled_at"], "crawled_at after the rebuild") >= crawled);
}

#[test]
fn serve_requires_its_token_when_set() {
    let env = sample(300);
    let server = Server::start(&env, &["--api-token", "letmein"]);
    let (code, body) = server.get("/health");
    assert_eq!(code, 401, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("bearer token"),
        "{body}"
    );
    let with = |token: &'static str| {
        server
            .send(
                |http, url| http.get(url).bearer_auth(token),
                "/search?q=sat:S2A",
            )
            .status
    };
    assert_eq!(with("wrong"), 401);
    assert_eq!(with("letmei"), 401);
    assert_eq!(with("letmein"), 200);
}

#[test]
fn serve_stages_through_chiller() {
    let env = sample(2000);
    let chiller = chiller_support::Server::start_with_delay(&env, 10, &["--drive-rate", "100000"]);
    let server = Server::start(&env, &["--chiller", &chiller.url]);
    let (code, body) = server.post(&format!("/stage?q={TILE_URL}"), "text/plain", "");
    assert_eq!(code, 200, "{body}");
    let staged: Value = serde_json::from_str(&body).unwrap();
    let id = staged["jobs"][0].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = server.json(&format!("/jobs/{id}"));
        if status["Finished"] == "true" {
            assert_eq!(status["Failed"], 0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the job did not finish: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, _) = server.get("/jobs/999");
    assert_eq!(code, 404);
    let (code, body) = server.get("/jobs/a%20b");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("no job id"), "{body}");
}

#[test]
fn serve_survives_malformed_http_and_half_open_connections() {
    use common::hostile;
    let env = sample(20);
    let server = InProcess::with(limits(&env, |l| l.header_timeout = Duration::from_secs(2)));
    let address = hostile::address(&server.url);
    hostile::malformed(address, "/health", "200");

    let mut waiting = hostile::half_open(address, 300);
    let opened = Instant::now();
    let started = Instant::now();
    assert_eq!(hostile::get(address, "/health"), "200");
    let took = started.elapsed();
    eprintln!("/health with 300 half-open connections: {took:?}");
    assert!(took < Duration::from_secs(1), "/health took {took:?}");
    // The server holds them until its header timeout, then closes every one.
    assert!(hostile::still_open(
        &mut waiting[0],
        Duration::from_millis(500)
    ));
    hostile::all_closed(waiting, opened + Duration::from_secs(6));
    let closed_after = opened.elapsed();
    eprintln!("300 half-open connections closed after {closed_after:?}");
    assert!(closed_after >= Duration::from_secs(2), "{closed_after:?}");

    // A kept-alive connection left idle is closed after the same timeout.
    let idle = hostile::idle_after_answer(address, "/health");
    hostile::all_closed(vec![idle], Instant::now() + Duration::from_secs(5));
    assert_eq!(hostile::get(address, "/health"), "200");
}

#[test]
fn serve_holds_connections_beyond_its_limit_until_one_closes() {
    use common::hostile;
    let env = sample(20);
    let server = InProcess::with(limits(&env, |l| {
        l.header_timeout = Duration::from_secs(1);
        l.max_connections = 4;
    }));
    let address = hostile::address(&server.url);
    let _waiting = hostile::half_open(address, 4);
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(hostile::get(address, "/health"), "200");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(5),
        "/health beyond the limit took {took:?}"
    );
}

#[test]
fn serve_bounds_what_a_stac_search_may_ask() {
    use common::hostile;
    let env = sample(20);
    let server = InProcess::with(limits(&env, |l| l.request_timeout = Duration::from_secs(2)));
    let post = |body: &str| server.post("/stac/search", "application/json", body);
    let ids = |n: usize| {
        (0..n)
            .map(|i| format!("\"S2A_{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (code, body) = post(&format!("{{\"ids\": [{}]}}", ids(50)));
    assert_eq!(code, 200, "{body}");
    for (search, needle) in [
        (
            format!("{{\"ids\": [{}]}}", ids(5000)),
            "at most 50 ids (5000 given)",
        ),
        (
            format!("{{\"collections\": [{}]}}", ids(101)),
            "at most 100 collections (101 given)",
        ),
    ] {
        let (code, body) = post(&search);
        assert_eq!(code, 400, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
    let many: Vec<String> = (0..51).map(|i| format!("S2A_{i}")).collect();
    let (code, body) = server.get(&format!("/stac/search?ids={}", many.join(",")));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("at most 50 ids"), "{body}");

    // A body over 1 MiB is refused, in JSON.
    let big = format!("{{\"catalog:q\": \"{}\"}}", "a".repeat(2 << 20));
    let (code, body) = post(&big);
    assert_eq!(code, 413, "{body}");
    assert!(serde_json::from_str::<Value>(&body).is_ok(), "{body}");

    // A body that never arrives is cut at the time budget.
    let started = Instant::now();
    let (code, answer) = hostile::exchange(
        hostile::address(&server.url),
        b"POST /stac/search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ids\":",
    );
    let took = started.elapsed();
    assert_eq!(code, "503", "{answer}");
    assert!(answer.contains("--request-timeout"), "{answer}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(server.get("/health").0, 200);
}
