//! Fuzzing of the query language: random texts made of its tokens (fields, values, operators,
//! parentheses, ranges, globs, quotes), of garbage and of long repeats compile without a panic
//! or a stack overflow, within a time bound, and any error is one line naming the problem.
//!
//! Bounded for CI: `PROPTEST_CASES` cases (by default [`CASES`], about 10 s in a debug build).

use std::time::{Duration, Instant};

use catalog_index::query::compile;
use catalog_index::schema::CatalogSchema;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases run when `PROPTEST_CASES` does not say.
const CASES: u32 = 15_000;

/// The longest any one text may take to compile, even in a debug build on a busy machine.
const TIME_BOUND: Duration = Duration::from_secs(2);

const TOKENS: &[&str] = &[
    // Fields, known and not.
    "path:",
    "name:",
    "collection:",
    "mission:",
    "sat:",
    "product:",
    "level:",
    "mode:",
    "tile:",
    "orbit:",
    "absorbit:",
    "baseline:",
    "date:",
    "end:",
    "size:",
    "mtime:",
    "state:",
    "tiel:",
    "_:",
    ":",
    "a:b:c",
    // Values, globs and comparisons.
    "S2A",
    "T60WWV",
    "60WWV",
    "0509",
    "L2A",
    "disk",
    "tape",
    "lost",
    "R122",
    "1G",
    "5KiB",
    "99999999999999999999",
    "2023",
    "2023-06",
    "2023-06-15",
    "2023-06-15T10:00:00Z",
    "2023-13",
    "*",
    "?",
    "*_N0500_*",
    "*/S2A_*",
    "[a-z]*",
    "[!ab]x",
    "[",
    "]",
    "{",
    "}",
    "[x",
    "*.zip",
    ">",
    ">=",
    "<",
    "<=",
    ">1000",
    "<=2023-06",
    "é",
    "日本",
    "\u{0}",
    "\n",
    "\t",
    // Operators and punctuation.
    "AND",
    "OR",
    "NOT",
    "&&",
    "||",
    "TO",
    "-",
    "+",
    "!",
    "(",
    ")",
    "\"",
    "\\",
    "'",
];

/// One piece of a query: a token, garbage, or a long repeat of a nesting token.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(TOKENS).prop_map(str::to_string),
        1 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
        1 => prop::collection::vec(any::<u8>(), 0..12)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => (
            prop::sample::select(&["(", "-", "!", "NOT ", "+", "(-", "sat:(", "*", "a OR "][..]),
            1usize..20_000,
        )
            .prop_map(|(token, n)| token.repeat(n)),
    ]
}

/// A query: pieces joined by nothing or by white space.
fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            piece(),
            prop::sample::select(&["", " ", " ", "  ", "\t"][..]),
        ),
        0..40,
    )
    .prop_map(|parts| parts.into_iter().map(|(p, sep)| p + sep).collect())
}

#[test]
fn random_queries_compile_or_fail_in_one_line_in_bounded_time() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let schema = CatalogSchema::new();
    TestRunner::new(config)
        .run(&query(), |text| {
            let started = Instant::now();
            let compiled = compile(&text, &schema);
            let took = started.elapsed();
            prop_assert!(took < TIME_BOUND, "{took:?} for {} bytes", text.len());
            if let Err(e) = compiled {
                let message = e.to_string();
                prop_assert!(message.starts_with("bad query: "), "{message}");
                prop_assert!(!message.contains(['\n', '\r']), "{message:?}");
            }
            Ok(())
        })
        .unwrap();
}
