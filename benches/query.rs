//! Query latency on a built index of 200,000 documents (paths made from Sentinel-2 and
//! Sentinel-1 name templates, indexed from a list so no files are needed).

use std::fmt::Write;
use std::io::Cursor;

use catalog_index::build::{build, BuildOptions, Source};
use catalog_index::layout::IndexDir;
use catalog_index::search::SortKey;
use catalog_index::Catalog;
use criterion::{criterion_group, criterion_main, Criterion};

const DOCUMENTS: usize = 200_000;

/// A deterministic list of `find -printf '%s %T@ %b %p'` lines over 2,000 tiles and 2015-2025.
fn list() -> String {
    let mut list = String::new();
    let letters = b"CDEFGHJKLMNPQRSTUVWX";
    for i in 0..DOCUMENTS {
        let year = 2015 + (i % 11);
        let (month, day) = (1 + (i / 11) % 12, 1 + (i / 132) % 28);
        let sat = ["S2A", "S2B"][i % 2];
        let tile = format!(
            "T{:02}{}{}{}",
            1 + (i / 7) % 60,
            letters[(i / 3) % 20] as char,
            letters[(i / 5) % 20] as char,
            letters[(i / 13) % 20] as char
        );
        let stamp = format!(
            "{year}{month:02}{day:02}T{:02}{:02}{:02}",
            i % 24,
            i % 60,
            (i / 60) % 60
        );
        let name = format!(
            "{sat}_MSIL1C_{stamp}_N0500_R{:03}_{tile}_{stamp}.zip",
            1 + i % 143
        );
        let collection = format!("{}_prd_msil1c", sat.to_lowercase());
        writeln!(
            list,
            "{} 1700000000.0 0 /eodc/products/copernicus.eu/{collection}/{year}/{month:02}/{day:02}/{name}",
            600_000_000 + i
        )
        .unwrap();
    }
    list
}

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let index = IndexDir::new(dir.path().join("index"));
    let source = Source::List {
        name: "bench".into(),
        reader: Box::new(Cursor::new(list())),
    };
    build(&index, source, &BuildOptions::default(), &|_| {}).unwrap();
    let catalog = Catalog::open(index.path()).unwrap();
    let mut group = c.benchmark_group("query");
    for (label, text) in [
        ("tile", "tile:T01CCC AND sat:S2A"),
        ("year of one satellite", "sat:S2A AND date:2019"),
        ("orbit range", "orbit:[100 TO 120] AND date:2020-06"),
        ("name glob", "name:*_R122_T01*"),
    ] {
        let query = catalog.parse(text).unwrap();
        group.bench_function(label, |b| {
            b.iter(|| {
                catalog
                    .search(query.as_ref(), SortKey::Date, 0, None)
                    .unwrap()
                    .matches
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
