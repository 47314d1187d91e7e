//! Crawling a tree of Sentinel names through the library: every field parsed from a name is
//! indexed under its own name, product directories are one file, problems are counted.

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use catalog_index::query::Node;
use catalog_index::record::{Entry, FileRecord};
use catalog_index::schema::FIELDS;
use catalog_index::State;
use common::{product_path, Archive, PRODUCTS};

/// The query that holds a file to every value its entry shows and to no value where the
/// entry has none: if the index held any field differently, the file would not match.
fn every_field_of(entry: &Entry) -> Node {
    let shown = serde_json::to_value(entry).unwrap();
    let clauses = FIELDS
        .iter()
        .map(|(field, _)| match &shown[*field] {
            serde_json::Value::Null => !Node::exists(field),
            serde_json::Value::String(text) => Node::exact(field, text.as_str()),
            number => Node::exact(field, number.to_string()),
        })
        .collect();
    Node::And(clauses)
}

#[test]
fn every_field_parsed_from_a_name_is_indexed_under_its_name() {
    let archive = Archive::with_products();
    archive.disk_file("copernicus.eu/README.txt", 10);
    let report = archive.crawl();
    assert_eq!(report.files, PRODUCTS.len() as u64 + 1);
    assert_eq!(report.products, PRODUCTS.len() as u64);
    assert!(report.full);
    for (collection, name) in PRODUCTS {
        let path = archive.path(&product_path(collection, name));
        let stat = fs::metadata(&path).unwrap();
        let entry = Entry::from_record(&FileRecord {
            path: path.clone(),
            size: Some(stat.len()),
            mtime: Some(stat.mtime()),
            state: Some(if name.starts_with("S1") {
                State::Tape
            } else {
                State::Disk
            }),
        });
        assert!(entry.product.sat.is_some(), "{name} parses");
        assert_eq!(archive.paths_of(&every_field_of(&entry)), [path], "{name}");
    }
}

#[test]
fn fields_are_found_by_the_values_users_give() {
    let archive = Archive::with_products();
    archive.crawl();
    let names = |query: &str| -> Vec<String> {
        archive
            .paths(query)
            .iter()
            .map(|path| path.rsplit('/').next().unwrap().to_string())
            .collect()
    };
    let products = |wanted: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut found: Vec<String> = PRODUCTS
            .iter()
            .map(|(_, name)| name.to_string())
            .filter(|name| wanted(name))
            .collect();
        found.sort();
        found
    };
    let product = |prefix: &str| products(&|name| name.starts_with(prefix));
    assert_eq!(names("tile:31nff"), product("S2A_MSIL1C_2017"));
    assert_eq!(names("orbit:R122"), product("S2A_MSIL1C_2017"));
    assert_eq!(names("baseline:0509 level:L2A"), product("S2B"));
    assert_eq!(names("mode:ew"), product("S1B"));
    assert_eq!(names("absorbit:29310"), product("S5P"));
    assert_eq!(names("state:tape"), product("S1"));
    assert_eq!(names("collection:s3a_ol_1_efr"), product("S3A"));
    assert_eq!(
        names("mission:S2 date:2023-06"),
        products(&|name| name.starts_with("S2") && name.contains("_2023"))
    );
    assert_eq!(names("size:>1G"), product("S1"));
}

#[test]
fn product_directories_are_one_file_with_the_size_of_their_files() {
    let archive = Archive::new();
    let product = "copernicus.eu/s2b_prd_msil2a/2023/06/15/S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.SAFE";
    archive.disk_file(&format!("{product}/manifest.safe"), 1000);
    archive.disk_file(&format!("{product}/GRANULE/L2A/IMG_DATA/B02.jp2"), 3000);
    let report = archive.crawl();
    assert_eq!((report.files, report.products), (1, 1));
    let catalog = archive.catalog();
    let query = catalog.parse("tile:T32TQM").unwrap();
    let hits = catalog
        .search(query.as_ref(), Default::default(), 0, None)
        .unwrap();
    assert_eq!(hits.matches.len(), 1);
    assert_eq!(hits.matches[0].path, archive.path(product));
    assert_eq!(hits.matches[0].size, Some(4000));
    assert_eq!(catalog.count(query.as_ref()).unwrap().disk_bytes, 4000);
}

#[test]
fn problems_are_counted_and_skipped() {
    let archive = Archive::with_products();
    let odd = archive.root().join("copernicus.eu/odd");
    fs::create_dir_all(&odd).unwrap();
    std::os::unix::fs::symlink("..", odd.join("loop")).unwrap();
    std::os::unix::fs::symlink(odd.join("gone"), odd.join("vanished.zip")).unwrap();
    fs::write(odd.join(std::ffi::OsStr::from_bytes(b"S2A_\xff.zip")), b"x").unwrap();
    let report = archive.crawl();
    assert_eq!(report.files, PRODUCTS.len() as u64);
    let errors = &report.info.errors;
    assert_eq!((errors.vanished, errors.not_utf8), (1, 1), "{errors:?}");
    assert!(errors.symlink_loops > 0, "{errors:?}");
    assert_eq!(archive.paths("name:*").len(), PRODUCTS.len());
}

#[test]
fn a_missing_root_is_an_error_and_builds_nothing() {
    let archive = Archive::new();
    let missing = archive.root().join("not-mounted");
    let error = archive
        .build(
            catalog_index::build::Source::Roots(vec![missing.clone()]),
            &Default::default(),
        )
        .unwrap_err();
    assert!(
        error.to_string().contains(missing.to_str().unwrap()),
        "{error}"
    );
    assert!(archive.index().current().is_none());
}
