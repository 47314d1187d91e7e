//! Counts of exact keywords and whole months come from each segment's totals; they agree with
//! counting the matches one by one, after a full build and after an update that deletes, and
//! queries the totals cannot answer are counted as before.

mod common;

use catalog_index::build::BuildOptions;
use catalog_index::search::{SortKey, Summary};
use catalog_index::Catalog;
use common::Archive;

/// A file of the generated list.
struct Product {
    path: String,
    sat: &'static str,
    product: &'static str,
    year: i32,
    month: u32,
    day: u32,
    size: u64,
    tape: bool,
}

/// Enough files of few kinds (2 satellites, 2 products, 4 months, 2 states) that every
/// segment's totals are far smaller than its documents, and so are written.
fn products() -> Vec<Product> {
    (0..8000u32)
        .map(|i| {
            let sat = ["S2A", "S2B"][i as usize % 2];
            let product = ["MSIL1C", "MSIL2A"][i as usize / 2 % 2];
            let year = 2018 + (i / 4 % 2) as i32;
            let month = 1 + i / 8 % 2;
            let day = 1 + i / 16 % 28;
            let (hour, minute, second) = (i / 3600 % 24, i / 60 % 60, i % 60);
            let stamp = format!("{year}{month:02}{day:02}T{hour:02}{minute:02}{second:02}");
            let name = format!("{sat}_{product}_{stamp}_N0509_R122_T31NFF_{stamp}.zip");
            let collection = format!("{}_prd_{}", sat.to_lowercase(), product.to_lowercase());
            Product {
                path: format!("/eodc/{collection}/{year}/{month:02}/{day:02}/{name}"),
                sat,
                product,
                year,
                month,
                day,
                size: 1_000 + u64::from(i),
                tape: i % 3 == 0,
            }
        })
        .collect()
}

/// The list line of `product`: `find -printf '%s %T@ %b %p'`, no blocks for a file on tape.
fn line(product: &Product) -> String {
    let blocks = if product.tape {
        0
    } else {
        product.size / 512 + 1
    };
    format!("{} 1700000000 {blocks} {}\n", product.size, product.path)
}

/// The totals of `products` that `matches` takes.
fn expected(products: &[&Product], matches: impl Fn(&Product) -> bool) -> Summary {
    let mut summary = Summary::default();
    for product in products.iter().filter(|p| matches(p)) {
        summary.files += 1;
        summary.bytes += product.size;
        if product.tape {
            summary.tape_files += 1;
            summary.tape_bytes += product.size;
        } else {
            summary.disk_files += 1;
            summary.disk_bytes += product.size;
        }
    }
    summary
}

type Predicate = fn(&Product) -> bool;

/// Queries the totals answer, and some they cannot, with what each takes.
const QUERIES: &[(&str, Predicate)] = &[
    ("sat:S2A AND product:MSIL1C AND date:2019", |p| {
        p.sat == "S2A" && p.product == "MSIL1C" && p.year == 2019
    }),
    ("date:2019-02", |p| (p.year, p.month) == (2019, 2)),
    ("state:tape AND date:[2018-02 TO 2019-01]", |p| {
        p.tape && (p.year, p.month) >= (2018, 2) && (p.year, p.month) <= (2019, 1)
    }),
    ("sat:s2b", |p| p.sat == "S2B"),
    ("product:MSIL2A AND date:<2019-02 AND date:>=2018-02", |p| {
        p.product == "MSIL2A" && (p.year, p.month) < (2019, 2) && (p.year, p.month) >= (2018, 2)
    }),
    ("sat:S2A AND sat:S2B", |_| false),
    ("date:*", |_| true),
    ("date:2017", |_| false),
    // Not whole months, or not keyword columns: counted match by match.
    ("date:2019-02-03", |p| {
        (p.year, p.month, p.day) == (2019, 2, 3)
    }),
    ("tile:T31NFF AND date:2018", |p| p.year == 2018),
    ("sat:S2A OR date:2019-01", |p| {
        p.sat == "S2A" || (p.year, p.month) == (2019, 1)
    }),
];

/// Checks every query of [`QUERIES`] against `products`, and against counting match by match.
fn check_counts(catalog: &Catalog, products: &[&Product]) {
    for (text, matches) in QUERIES {
        let query = catalog.parse(text).unwrap();
        let counted = catalog.count(query.as_ref()).unwrap();
        let one_by_one = catalog
            .for_each_match(query.as_ref(), SortKey::Path, 0, None, false, |_| Ok(()))
            .unwrap();
        assert_eq!(counted, expected(products, matches), "{text}");
        assert_eq!(counted, one_by_one, "{text}");
    }
}

/// The totals files of the current generation.
fn totals_files(catalog: &Catalog) -> Vec<String> {
    std::fs::read_dir(catalog.generation())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("totals-"))
        .collect()
}

/// An index of [`products`], built from their list.
fn built() -> (Archive, Vec<Product>) {
    let archive = Archive::new();
    let products = products();
    let list: String = products.iter().map(line).collect();
    archive.build_list(&list, &BuildOptions::default()).unwrap();
    (archive, products)
}

#[test]
fn counts_from_the_totals_agree_with_counting_every_match() {
    let (archive, products) = built();
    let catalog = archive.catalog();
    let segments = catalog.index().searchable_segment_ids().unwrap();
    let files = totals_files(&catalog);
    assert_eq!(files.len(), segments.len(), "{files:?}");
    for segment in &segments {
        let name = format!("totals-{}.bin", segment.uuid_string());
        assert!(files.contains(&name), "{name} in {files:?}");
    }
    let all: Vec<&Product> = products.iter().collect();
    check_counts(&catalog, &all);
}

#[test]
fn counts_from_the_totals_leave_out_deleted_files() {
    let (archive, products) = built();
    // None of the listed files exists, so an update naming them removes them.
    let removed: String = products
        .iter()
        .step_by(7)
        .map(|p| format!("{}\n", p.path))
        .collect();
    let update = BuildOptions {
        update: true,
        ..Default::default()
    };
    let report = archive.build_list(&removed, &update).unwrap();
    assert_eq!(report.removed, products.len().div_ceil(7) as u64);
    let catalog = archive.catalog();
    let left: Vec<&Product> = products
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 != 0)
        .map(|(_, p)| p)
        .collect();
    check_counts(&catalog, &left);
    let segments = catalog.index().searchable_segment_ids().unwrap();
    let files = totals_files(&catalog);
    for file in &files {
        assert!(
            segments
                .iter()
                .any(|s| file.starts_with(&format!("totals-{}", s.uuid_string()))),
            "{file} is of a segment of the index"
        );
    }
    // Without the totals of the deletions, the deleted files are read one by one.
    let deletions: Vec<&String> = files.iter().filter(|f| f.contains("-deleted-")).collect();
    assert!(!deletions.is_empty(), "{files:?}");
    for file in deletions {
        std::fs::remove_file(catalog.generation().join(file)).unwrap();
    }
    check_counts(&archive.catalog(), &left);
}

#[test]
fn an_index_without_totals_counts_every_match() {
    let (archive, products) = built();
    let generation = archive.catalog().generation().to_path_buf();
    for file in totals_files(&archive.catalog()) {
        std::fs::remove_file(generation.join(file)).unwrap();
    }
    let all: Vec<&Product> = products.iter().collect();
    check_counts(&archive.catalog(), &all);
}
