//! Searching through the library: a query by each kind of field, in text and as a tree built
//! directly, sorting and paging, totals split between disk and tape.

mod common;

use std::ops::Bound::{Excluded, Included, Unbounded};

use catalog_index::build::BuildOptions;
use catalog_index::query::{escape_glob, Node};
use catalog_index::search::SortKey;
use catalog_index::time::parse_rfc3339;
use common::{product_path, Archive, PRODUCTS};

/// The archive of [`PRODUCTS`] plus two odd names, crawled.
fn archive() -> Archive {
    let archive = Archive::with_products();
    archive.disk_file("copernicus.eu/README.txt", 10);
    archive.disk_file("copernicus.eu/odd/a*b?[c].txt", 20);
    archive.crawl();
    archive
}

/// The paths of the products whose names pass `wanted`, sorted.
fn products(archive: &Archive, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let mut paths: Vec<String> = PRODUCTS
        .iter()
        .filter(|(_, name)| wanted(name))
        .map(|(collection, name)| archive.path(&product_path(collection, name)))
        .collect();
    paths.sort();
    paths
}

fn text(value: &str) -> String {
    value.to_string()
}

#[test]
fn a_query_on_each_kind_of_field_in_text_and_as_a_tree() {
    let archive = archive();
    let s2_2017 = products(&archive, |n| n.contains("_20170101T"));
    let s1 = products(&archive, |n| n.starts_with("S1"));
    let odd = vec![archive.path("copernicus.eu/odd/a*b?[c].txt")];
    let mut cases: Vec<(&str, Node, Vec<String>)> = vec![
        // Path: exact and glob.
        (
            "path exact",
            Node::exact("path", s2_2017[0].as_str()),
            s2_2017.clone(),
        ),
        (
            "path:*/s1?_csar_*",
            Node::glob("path", "*/s1?_csar_*"),
            s1.clone(),
        ),
        // Name: tokens and glob, and a glob of an escaped literal.
        (
            "name:T31NFF",
            Node::exact("name", "T31NFF"),
            s2_2017.clone(),
        ),
        ("name:S1*.zip", Node::glob("name", "S1*.zip"), s1.clone()),
        (
            "escaped",
            Node::glob("name", escape_glob("a*b?[c].txt")),
            odd.clone(),
        ),
        // Keywords: case, the letters users leave out, globs, any value.
        ("tile:t31nff", Node::exact("tile", "31NFF"), s2_2017.clone()),
        (
            "baseline:0204",
            Node::exact("baseline", "N0204"),
            s2_2017.clone(),
        ),
        ("sat:s1*", Node::glob("sat", "S1*"), s1.clone()),
        (
            "sat:(S1A OR S1B)",
            Node::any_of("sat", ["S1A", "S1B"]),
            s1.clone(),
        ),
        (
            "tile:*",
            Node::exists("tile"),
            products(&archive, |n| n.starts_with("S2")),
        ),
        // Numbers: exact with the letter of names, ranges, comparisons, units, any value.
        ("orbit:R122", Node::exact("orbit", "R122"), s2_2017.clone()),
        (
            "orbit:[100 TO 122}",
            Node::range("orbit", Included(text("100")), Excluded(text("122"))),
            vec![],
        ),
        (
            "size:>=1GB",
            Node::range("size", Included(text("1GB")), Unbounded),
            s1.clone(),
        ),
        (
            "absorbit:*",
            Node::exists("absorbit"),
            products(&archive, |n| n.starts_with("S1") || n.starts_with("S5P")),
        ),
        // Dates: a day, a month, ranges open at one end, an instant.
        (
            "date:2017-01-01",
            Node::exact("date", "2017-01-01"),
            s2_2017.clone(),
        ),
        (
            "date:<2020",
            Node::range("date", Unbounded, Excluded(text("2020"))),
            products(&archive, |n| n.contains("_2017") || n.contains("_2019")),
        ),
        (
            "date:{2023-06-15T10:15:58Z TO *]",
            Node::range("date", Excluded(text("2023-06-15T10:15:58Z")), Unbounded),
            products(&archive, |n| {
                ["_20230615T230131", "_20230615T101559", "_20230615T103524"]
                    .iter()
                    .any(|start| n.contains(start))
            }),
        ),
        (
            "end:*",
            Node::exists("end"),
            products(&archive, |n| !n.starts_with("S2")),
        ),
        // The state column.
        ("state:tape", Node::exact("state", "tape"), s1.clone()),
        // And, or, not.
        (
            "mission:S2 -tile:T31NFF",
            Node::And(vec![
                Node::exact("mission", "S2"),
                !Node::exact("tile", "T31NFF"),
            ]),
            products(&archive, |n| n.starts_with("S2") && !n.contains("T31NFF")),
        ),
        ("NOT name:*.zip", !Node::glob("name", "*.zip"), {
            let mut paths = products(&archive, |n| !n.ends_with(".zip"));
            paths.push(archive.path("copernicus.eu/README.txt"));
            paths.extend(odd.clone());
            paths.sort();
            paths
        }),
    ];
    // An or of several globs on paths and names (read as one pattern) beside another clause.
    cases.push((
        "name:S1*.zip OR path:*/s3?_* OR name:*_T31NFF_* OR name:a[*]b* OR state:tape",
        Node::Or(vec![
            Node::glob("name", "S1*.zip"),
            Node::glob("path", "*/s3?_*"),
            Node::glob("name", "*_T31NFF_*"),
            Node::glob("name", format!("{}*", escape_glob("a*b"))),
            Node::exact("state", "tape"),
        ]),
        {
            let mut paths = products(&archive, |n| {
                n.starts_with("S1") || n.starts_with("S3") || n.contains("_T31NFF_")
            });
            paths.extend(odd.clone());
            paths.sort();
            paths
        },
    ));
    let everything = {
        let mut paths = products(&archive, |_| true);
        paths.push(archive.path("copernicus.eu/README.txt"));
        paths.extend(odd.clone());
        paths.sort();
        paths
    };
    cases.push(("an empty and", Node::And(vec![]), everything));
    cases.push((
        "an empty or",
        Node::any_of("sat", Vec::<String>::new()),
        vec![],
    ));
    for (label, node, expected) in cases {
        assert_eq!(archive.paths_of(&node), expected, "{label}: {node:?}");
        // Cases labelled with their text say the same in the query language.
        if label.contains(':') {
            assert_eq!(archive.paths(label), expected, "{label}");
        }
    }
}

#[test]
fn bad_trees_are_refused_with_the_errors_of_text() {
    let archive = archive();
    let catalog = archive.catalog();
    for node in [
        Node::exact("tiel", "T31NFF"),
        Node::exact("orbit", "abc"),
        Node::exact("state", "lost"),
        Node::glob("date", "2023*"),
    ] {
        let message = catalog.compile(&node).err().unwrap().to_string();
        assert!(message.starts_with("bad query: "), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn answers_are_sorted_paged_and_totalled() {
    let archive = archive();
    let catalog = archive.catalog();
    let all = catalog.compile(&Node::exists("path")).unwrap();
    let by_date = catalog
        .search(all.as_ref(), SortKey::Date, 0, None)
        .unwrap();
    let dates: Vec<Option<i64>> = by_date.matches.iter().map(|m| m.date).collect();
    let dated = dates.iter().take_while(|d| d.is_some()).count();
    assert_eq!(dated, PRODUCTS.len(), "files without a date come last");
    assert!(dates[..dated].windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
    let by_size = catalog
        .search(all.as_ref(), SortKey::Size, 0, None)
        .unwrap();
    let sizes: Vec<u64> = by_size.matches.iter().map(|m| m.size.unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    let by_path = catalog
        .search(all.as_ref(), SortKey::Path, 0, None)
        .unwrap();
    let page = catalog
        .search(all.as_ref(), SortKey::Path, 2, Some(3))
        .unwrap();
    assert_eq!(page.matches, by_path.matches[2..5]);
    assert_eq!(page.total, by_path.total, "the total counts every match");
    // A page selects its hits rather than sorting all: every page of every order, those
    // that end among tied keys (the files without a date) included, is the whole answer's slice.
    for (sort, whole) in [(SortKey::Date, &by_date), (SortKey::Size, &by_size)] {
        let n = whole.matches.len();
        for offset in 0..=n {
            for limit in 0..=n - offset + 1 {
                let page = catalog
                    .search(all.as_ref(), sort, offset, Some(limit))
                    .unwrap();
                let end = (offset + limit).min(n);
                assert_eq!(
                    page.matches,
                    whole.matches[offset..end],
                    "{sort:?} {offset} {limit}"
                );
            }
        }
    }
    let summary = catalog.count(all.as_ref()).unwrap();
    let streamed = catalog
        .for_each_match(all.as_ref(), SortKey::Path, 1, Some(2), false, |_| Ok(()))
        .unwrap();
    assert_eq!(summary, streamed, "totals count every match, not the page");
    // Streamed with modification times, an answer is the whole one; without, it lacks only them.
    for with_mtime in [true, false] {
        let mut streamed = Vec::new();
        catalog
            .for_each_match(all.as_ref(), SortKey::Path, 0, None, with_mtime, |m| {
                streamed.push(m);
                Ok(())
            })
            .unwrap();
        let mut expected = by_path.matches.clone();
        assert!(expected.iter().all(|m| m.mtime.is_some()));
        if !with_mtime {
            expected.iter_mut().for_each(|m| m.mtime = None);
        }
        assert_eq!(streamed, expected, "with_mtime {with_mtime}");
    }
    assert_eq!(summary.files, by_path.total);
    assert_eq!(summary.files, PRODUCTS.len() as u64 + 2);
    assert_eq!((summary.tape_files, summary.tape_bytes), (2, 3_400_000_000));
    assert_eq!(summary.disk_files, PRODUCTS.len() as u64);
    assert_eq!(summary.bytes, summary.disk_bytes + summary.tape_bytes);
}

#[test]
fn values_collections_and_date_extents() {
    let archive = archive();
    let catalog = archive.catalog();
    let sats: Vec<String> = catalog
        .values("sat")
        .unwrap()
        .into_iter()
        .map(|(value, _)| value)
        .collect();
    assert_eq!(sats[0], "s2a", "the most frequent first: {sats:?}");
    assert_eq!(sats.len(), 6, "{sats:?}");
    assert!(
        catalog.values("orbit").unwrap().is_empty(),
        "numbers have no values"
    );
    let collections = catalog.collections().unwrap();
    assert_eq!(collections[0], ("s2a_prd_msil1c".to_string(), 2));
    assert_eq!(collections.len(), 6);
    let s2a = catalog.compile(&Node::exact("sat", "S2A")).unwrap();
    let (first, last) = catalog.date_extent(s2a.as_ref()).unwrap().unwrap();
    let seconds = |text: &str| parse_rfc3339(text).unwrap().unix_timestamp();
    assert_eq!(
        (first, last),
        (
            seconds("2017-01-01T10:04:12Z"),
            seconds("2023-06-15T23:01:31Z")
        )
    );
    let none = catalog.compile(&Node::exact("sat", "S3B")).unwrap();
    assert_eq!(catalog.date_extent(none.as_ref()).unwrap(), None);
}

/// Date ranges read the calendar terms of whole years, months and days and the column for
/// partial days: every kind of range is checked against the sensing times themselves.
#[test]
fn date_ranges_through_the_calendar_match_exactly_the_instants_inside() {
    let stamps = [
        "2018-12-31T23:59:59Z",
        "2019-01-01T00:00:00Z",
        "2019-01-01T00:00:01Z",
        "2019-02-28T12:00:00Z",
        "2019-03-01T00:00:00Z",
        "2019-03-01T10:10:10Z",
        "2019-03-04T23:59:59Z",
        "2019-03-05T00:00:00Z",
        "2019-12-31T23:59:59Z",
        "2020-01-01T00:00:00Z",
        "2020-02-29T06:00:00Z",
        "2021-06-15T12:00:00Z",
    ];
    let archive = Archive::new();
    let mut list = String::new();
    let mut products = Vec::new();
    for stamp in stamps {
        let compact: String = stamp
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let compact = compact.trim_end_matches('Z');
        let name = format!("S2A_MSIL1C_{compact}_N0204_R122_T31NFF_{compact}.zip");
        let path = format!("/archive/{}", product_path("s2a_prd_msil1c", &name));
        list.push_str(&format!("4096 1686823200.5 0 {path}\n"));
        products.push((parse_rfc3339(stamp).unwrap(), path));
    }
    archive.build_list(&list, &Default::default()).unwrap();
    let cases = [
        ("date:2019", "2019-01-01T00:00:00Z", "2020-01-01T00:00:00Z"),
        (
            "date:2019-03",
            "2019-03-01T00:00:00Z",
            "2019-04-01T00:00:00Z",
        ),
        (
            "date:2019-03-01",
            "2019-03-01T00:00:00Z",
            "2019-03-02T00:00:00Z",
        ),
        (
            "date:[2019-03-01 TO 2019-03-04]",
            "2019-03-01T00:00:00Z",
            "2019-03-05T00:00:00Z",
        ),
        (
            "date:[2015 TO 2025]",
            "2015-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        ),
        (
            "date:[2018-12-31T23:59:59Z TO 2019-03-01T10:10:10Z]",
            "2018-12-31T23:59:59Z",
            "2019-03-01T10:10:11Z",
        ),
        (
            "date:[2019-01-01T00:00:01Z TO 2019-01-01T00:00:01Z]",
            "2019-01-01T00:00:01Z",
            "2019-01-01T00:00:02Z",
        ),
        (
            "date:[2019-02-28T12:00:00Z TO 2019-03-01T00:00:00Z]",
            "2019-02-28T12:00:00Z",
            "2019-03-01T00:00:01Z",
        ),
        (
            "date:[2019-03-04T23:59:59Z TO 2020-02-29]",
            "2019-03-04T23:59:59Z",
            "2020-03-01T00:00:00Z",
        ),
        (
            "date:>=2019-03-05",
            "2019-03-05T00:00:00Z",
            "9999-01-01T00:00:00Z",
        ),
        (
            "date:<2019-03",
            "0001-01-01T00:00:00Z",
            "2019-03-01T00:00:00Z",
        ),
    ];
    for (query, low, high) in cases {
        let (low, high) = (parse_rfc3339(low).unwrap(), parse_rfc3339(high).unwrap());
        let mut expected: Vec<String> = products
            .iter()
            .filter(|(instant, _)| low <= *instant && *instant < high)
            .map(|(_, path)| path.clone())
            .collect();
        expected.sort();
        assert!(!expected.is_empty(), "{query} should match some product");
        assert_eq!(archive.paths(query), expected, "{query}");
        let negated = format!("sat:S2A AND NOT {query}");
        assert_eq!(
            archive.paths(&negated).len(),
            stamps.len() - expected.len(),
            "{negated}"
        );
    }
}

#[test]
fn conjunctions_answer_the_same_whether_keywords_lead_or_are_checked_in_their_columns() {
    // Skewed like the archive: most files are of one satellite and product, a tile is rare,
    // and one collection directory is spelled in capitals (its column keeps the spelling,
    // its terms do not).
    struct File {
        path: String,
        sat: &'static str,
        product: &'static str,
        tile: &'static str,
        year: u32,
        collection: String,
        tape: bool,
    }
    let mut files = Vec::new();
    for i in 0..600u32 {
        let sat = if i % 10 < 8 { "S2A" } else { "S2B" };
        let product = if i % 3 == 0 { "MSIL2A" } else { "MSIL1C" };
        let tile = if i % 7 == 0 { "T60WWV" } else { "T31NFF" };
        let year = 2018 + i % 2;
        let collection = format!("{}_prd_{}", sat.to_lowercase(), product.to_lowercase());
        let collection = if i % 5 == 0 {
            collection.to_uppercase()
        } else {
            collection
        };
        let stamp = format!(
            "{year}0{}0{}T10{:02}{:02}",
            1 + i % 9,
            1 + i % 8,
            i / 60,
            i % 60
        );
        let name = format!("{sat}_{product}_{stamp}_N0204_R122_{tile}_{stamp}.zip");
        files.push(File {
            path: format!("/archive/{}", product_path(&collection, &name)),
            sat,
            product,
            tile,
            year,
            collection: collection.to_lowercase(),
            tape: i % 4 == 0,
        });
    }
    let line = |f: &File| {
        format!(
            "1000 1686823200 {} {}\n",
            if f.tape { 0 } else { 8 },
            f.path
        )
    };
    let archive = Archive::new();
    // Two segments and a deletion: an update adds the S2B files of 2019, which it finds on
    // disk, and removes a file of the first build, which it does not.
    let (mut later, mut files): (Vec<File>, Vec<File>) = files
        .into_iter()
        .partition(|f| f.sat == "S2B" && f.year == 2019);
    let first: String = files.iter().map(line).collect();
    archive.build_list(&first, &Default::default()).unwrap();
    let gone = files.remove(0);
    for file in &mut later {
        let relative = file.path.trim_start_matches("/archive/").to_string();
        file.path = archive.disk_file(&relative, 1000);
        file.tape = false;
    }
    let update: String = later.iter().chain([&gone]).map(line).collect();
    let options = BuildOptions {
        update: true,
        ..Default::default()
    };
    archive.build_list(&update, &options).unwrap();
    files.extend(later);
    type Wanted = fn(&File) -> bool;
    let cases: Vec<(&str, Wanted)> = vec![
        ("tile:T60WWV AND sat:S2A", |f| {
            f.tile == "T60WWV" && f.sat == "S2A"
        }),
        ("sat:S2B AND product:MSIL1C", |f| {
            f.sat == "S2B" && f.product == "MSIL1C"
        }),
        ("product:msil1c AND sat:s2b", |f| {
            f.sat == "S2B" && f.product == "MSIL1C"
        }),
        ("sat:S2A AND date:2019", |f| {
            f.sat == "S2A" && f.year == 2019
        }),
        ("sat:S2A AND state:tape", |f| f.sat == "S2A" && f.tape),
        (
            "collection:S2A_PRD_MSIL1C AND tile:T60WWV AND NOT state:tape",
            |f| f.collection == "s2a_prd_msil1c" && f.tile == "T60WWV" && !f.tape,
        ),
        ("mission:S2 AND sat:S2A AND product:MSIL2A", |f| {
            f.sat == "S2A" && f.product == "MSIL2A"
        }),
        ("sat:S2C AND tile:T60WWV", |_| false),
        (
            "(tile:T60WWV AND sat:S2A) OR (sat:S2B AND date:2019)",
            |f| (f.tile == "T60WWV" && f.sat == "S2A") || (f.sat == "S2B" && f.year == 2019),
        ),
        ("date:2019 AND NOT (sat:S2A AND product:MSIL1C)", |f| {
            f.year == 2019 && !(f.sat == "S2A" && f.product == "MSIL1C")
        }),
        ("tile:T60WWV AND sat:S2B AND date:2019", |f| {
            f.tile == "T60WWV" && f.sat == "S2B" && f.year == 2019
        }),
    ];
    for (query, wanted) in cases {
        let mut expected: Vec<String> = files
            .iter()
            .filter(|f| wanted(f))
            .map(|f| f.path.clone())
            .collect();
        expected.sort();
        assert!(!expected.is_empty() || query.contains("S2C"), "{query}");
        assert_eq!(archive.paths(query), expected, "{query}");
    }
    // A state the field does not take is refused inside a conjunction as alone.
    let message = archive
        .catalog()
        .parse("sat:S2A AND state:lost")
        .err()
        .unwrap();
    assert!(
        message.to_string().contains("'disk' or 'tape'"),
        "{message}"
    );
}

#[test]
fn a_catalog_keeping_path_blocks_answers_as_one_that_does_not() {
    // Long, varied paths over hundreds of dictionary blocks, in two segments.
    let line = |i: u32| {
        let name = format!(
            "S2A_MSIL1C_2019{:02}{:02}T{:02}{:02}{:02}_N0204_R122_T{:02}WWV_20190101T101120.zip",
            1 + i % 12,
            1 + i % 28,
            i / 3600,
            i / 60 % 60,
            i % 60,
            1 + i % 59
        );
        format!(
            "{} 1686823200 8 /archive/{}\n",
            1000 + i,
            product_path("s2a_prd_msil1c", &name)
        )
    };
    let archive = Archive::new();
    let first: String = (0..6000).map(line).collect();
    archive
        .build_list(&first, &BuildOptions::default())
        .unwrap();
    let both: String = (0..9000).map(line).collect();
    archive.build_list(&both, &BuildOptions::default()).unwrap();
    let plain = archive.catalog();
    assert_eq!(plain.documents(), 9000);
    assert!(plain.index().searchable_segment_ids().unwrap().len() >= 2);
    // Room for a few blocks only, so that blocks are evicted and decompressed again.
    let cached = archive.catalog().with_path_cache(40_000);
    let answer = |catalog: &catalog_index::Catalog, text: &str, offset, limit| {
        let query = catalog.parse(text).unwrap();
        catalog
            .search(query.as_ref(), SortKey::Date, offset, limit)
            .unwrap()
            .matches
    };
    for _ in 0..2 {
        for text in [
            "tile:T07WWV",
            "tile:T33WWV OR tile:T34WWV",
            "size:[1000 TO 9000]",
        ] {
            for (offset, limit) in [(0, Some(100)), (100, Some(100)), (0, None)] {
                let expected = answer(&plain, text, offset, limit);
                assert!(!expected.is_empty(), "{text}");
                assert_eq!(answer(&cached, text, offset, limit), expected, "{text}");
            }
        }
    }
    assert_eq!(plain.path_cache_stats(), None);
    let stats = cached.path_cache_stats().unwrap();
    assert!(stats.hits > 0 && stats.misses > 0, "{stats:?}");
    assert!(stats.bytes <= 40_000, "{stats:?}");
}
