//! The real stac-api-validator against `catalog serve` on 127.0.0.1 over a sample archive: every
//! conformance class the landing page claims passes with no error. The validator runs offline,
//! its schemas answered from tests/stac/schemas and pystac's bundled copies (tests/stac/offline.py).

mod common;
mod pyenv;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use common::server::Server;
use common::TestEnv;
use serde_json::Value;

/// The validator's name for a STAC API conformance class of the landing page
/// (`https://api.stacspec.org/<version>/<class>`), if it has one.
fn validator_class(uri: &str) -> Option<&'static str> {
    let class = uri
        .strip_prefix("https://api.stacspec.org/")?
        .split_once('/')?
        .1;
    Some(match class {
        "core" => "core",
        "collections" => "collections",
        "ogcapi-features" => "features",
        "item-search" => "item-search",
        "item-search#query" => "item-search#query",
        "item-search#sort" => "item-search#sort",
        "item-search#fields" => "item-search#fields",
        "item-search#filter" => "filter",
        _ => return None,
    })
}

/// The collection the validator searches in: Sentinel-2B tiles, which all have footprints (the
/// validator takes an item without geometry or bbox for one that lost them to `fields`).
const COLLECTION: &str = "s2b_prd_msil1c";

fn sample(files: u32) -> TestEnv {
    let env = TestEnv::new();
    env.sample(&env.root().join("s"), files);
    env.index_archive();
    env
}

/// The validator's options for the query and fields extensions and for intersects, taken
/// from the items the server holds: a middle orbit number for the comparisons, an MGRS code
/// for the substring operators, the instrument for `in`, and a small square inside a tile for
/// the spatial tests.
fn options_from_items(server: &Server) -> Vec<String> {
    let page = server.json(&format!("/stac/collections/{COLLECTION}/items?limit=1000"));
    let items = page["features"].as_array().expect("features");
    let tiled = items
        .iter()
        .find(|item| {
            item["properties"]["grid:code"].is_string()
                && item["bbox"][0].as_f64() < item["bbox"][2].as_f64()
        })
        .unwrap_or_else(|| panic!("no tile item in {COLLECTION}: {page}"));
    let code = tiled["properties"]["grid:code"].as_str().unwrap();
    let bbox: Vec<f64> = (0..4).map(|i| tiled["bbox"][i].as_f64().unwrap()).collect();
    let (west, south, east, north) = (bbox[0], bbox[1], bbox[2], bbox[3]);
    let at = |low: f64, high: f64, share: f64| low + (high - low) * share;
    let (w, e) = (at(west, east, 0.45), at(west, east, 0.55));
    let (s, n) = (at(south, north, 0.45), at(south, north, 0.55));
    let geometry = format!(
        r#"{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}"#
    );
    let mut orbits: Vec<i64> = items
        .iter()
        .filter_map(|item| item["properties"]["sat:relative_orbit"].as_i64())
        .collect();
    orbits.sort_unstable();
    orbits.dedup();
    assert!(orbits.len() >= 3, "orbits in {COLLECTION}: {orbits:?}");
    let orbit = orbits[orbits.len() / 2].to_string();
    let mut options: Vec<String> = [
        "--validate-pagination",
        "--collection",
        COLLECTION,
        "--geometry",
        &geometry,
        "--fields-nested-property",
        "properties.sat:relative_orbit",
        "--query-comparison-field",
        "sat:relative_orbit",
        "--query-substring-field",
        "grid:code",
        "--query-starts-with-value",
        &code[..6],
        "--query-ends-with-value",
        &code[code.len() - 3..],
        "--query-contains-value",
        &code[4..8],
        // The validator reads the property of an `in` as a list.
        "--query-in-field",
        "instruments",
        "--query-in-values",
        "msi",
    ]
    .map(str::to_string)
    .to_vec();
    for comparison in ["eq", "neq", "lt", "lte", "gt", "gte"] {
        options.push(format!("--query-{comparison}-value"));
        options.push(orbit.clone());
    }
    options
}

/// One validator run: its exit status and its report, errors and warnings as it prints them.
fn validate(server: &Server, class: &str, options: &[String]) -> (bool, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stac/api_validator.py");
    // stac-api-validator 0.6.8 runs its filter checks only within item search.
    let classes: &[&str] = match class {
        "filter" => &["--conformance", "item-search", "--conformance", "filter"],
        _ => &["--conformance", class],
    };
    let output = Command::new(pyenv::python())
        .arg(&script)
        .args(["--root-url", &format!("{}/stac", server.url)])
        .args(classes)
        .args(["--log-level", "WARNING"])
        .args(options)
        .output()
        .expect("the venv's python runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

/// The number of errors a validator report lists (a crashed run lists none: it says Failed).
fn error_count(report: &str) -> usize {
    report
        .lines()
        .skip_while(|line| !line.starts_with("Errors:"))
        .filter(|line| line.starts_with("- "))
        .count()
}

#[test]
fn every_claimed_conformance_class_passes_stac_api_validator() {
    let env = sample(3000);
    let server = Server::start(&env, &[]);
    let landing = server.json("/stac");
    let claimed: Vec<&str> = landing["conformsTo"]
        .as_array()
        .expect("conformsTo")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let classes: BTreeSet<&str> = claimed
        .iter()
        .filter_map(|uri| validator_class(uri))
        .collect();

    let options = options_from_items(&server);
    let mut failures = Vec::new();
    for class in &classes {
        let (passed, report) = validate(&server, class, &options);
        eprintln!("{class}: {} errors", error_count(&report));
        if !passed {
            failures.push(format!("==== {class}\n{report}"));
        }
    }
    for wanted in [
        "core",
        "collections",
        "features",
        "item-search",
        "item-search#query",
        "item-search#sort",
        "item-search#fields",
        "filter",
    ] {
        if !classes.contains(wanted) {
            failures.push(format!("==== {wanted}: not claimed by the landing page"));
        }
    }
    assert!(
        failures.is_empty(),
        "stac-api-validator failed:\n{}",
        failures.join("\n")
    );
}
