//! Hostile query texts (deep nesting, long NOT chains, many globs, over-long text) are refused
//! with one line by `catalog query` (exit 2) and with a 400 by `catalog serve`, which lives on.

mod common;

use std::time::{Duration, Instant};

use common::server::InProcess;
use common::TestEnv;
use serde_json::Value;

fn sample() -> TestEnv {
    let env = TestEnv::new();
    env.sample(&env.root().join("s"), 200);
    env.index_archive();
    env
}

fn globs(n: usize) -> String {
    (0..n)
        .map(|i| format!("path:*/{i}_*"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[test]
fn the_cli_refuses_hostile_queries_with_one_line() {
    let env = sample();
    for (query, needle) in [
        // 100,000 levels: past the length limit (an argument holds at most 128 KiB).
        ("(".repeat(100_000), "longer than 65536 bytes"),
        // Within the length limit, the depth limit stops the parser.
        ("(".repeat(30_000) + "sat:S2A", "deeper than 64 levels"),
        ("NOT ".repeat(10_000) + "sat:S2A", "deeper than 64 levels"),
        ("-".repeat(60_000) + "sat:S2A", "deeper than 64 levels"),
        (globs(2_000), "more than 128 globs"),
        (vec!["orbit:1"; 5_000].join(" "), "more than 4096 clauses"),
    ] {
        let started = Instant::now();
        let output = env
            .catalog()
            .args(["query", "--", &query])
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{needle}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert!(output.stdout.is_empty());
        assert!(started.elapsed() < Duration::from_secs(10), "{needle}");
    }
}

#[test]
fn the_server_answers_hostile_queries_with_400_and_lives_on() {
    let env = sample();
    let server = InProcess::start(&env);
    let bad = |code: u16, body: &str, needle: &str| {
        assert_eq!(code, 400, "{needle}: {body}");
        let body: Value = serde_json::from_str(body).unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
        assert!(!message.contains('\n'));
    };
    let nested = |n: usize| format!("{}sat:S2A{}", "(".repeat(n), ")".repeat(n));
    for (q, needle) in [
        (nested(2_500), "deeper than 64 levels"),
        ("(".repeat(30_000) + "sat:S2A", "deeper than 64 levels"),
        ("-".repeat(10_000) + "sat:S2A", "deeper than 64 levels"),
    ] {
        for endpoint in ["/count", "/search", "/stac/search"] {
            // Parentheses and `-` stand in a URL as they are.
            let (code, body) = server.get(&format!("{endpoint}?q={q}"));
            bad(code, &body, needle);
        }
    }
    let ids: Vec<String> = (0..5_000).map(|i| format!("S2A_MSIL1C_{i:015}")).collect();
    for (search, needle) in [
        (
            serde_json::json!({ "catalog:q": "(".repeat(100_000) }),
            "longer than 65536 bytes",
        ),
        (
            serde_json::json!({ "catalog:q": "NOT ".repeat(10_000) + "sat:S2A" }),
            "deeper than 64 levels",
        ),
        (
            serde_json::json!({ "catalog:q": globs(2_000) }),
            "more than 128 globs",
        ),
        // Each id is two globs; whichever limit refuses 5,000 of them, the answer is a 400.
        (serde_json::json!({ "ids": ids }), ""),
    ] {
        let started = Instant::now();
        let (code, answer) = server.post("/stac/search", "application/json", search.to_string());
        bad(code, &answer, needle);
        assert!(started.elapsed() < Duration::from_secs(10), "{needle}");
    }
    let (code, _) = server.get("/health");
    assert_eq!(code, 200);
    let count = server.json("/count?q=*");
    assert!(count["files"].as_u64().unwrap() > 0, "{count}");
}
