//! The index directory through the library: generations, switching to a new one with a full
//! build while readers keep the old, and what killed builds leave behind.

mod common;

use std::fs;
use std::path::PathBuf;

use catalog_index::build::BuildOptions;
use catalog_index::Catalog;
use common::Archive;

fn full() -> BuildOptions {
    BuildOptions {
        full: true,
        ..Default::default()
    }
}

/// The entries of the index directory, sorted.
fn entries(archive: &Archive) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(archive.index().path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn generations(archive: &Archive) -> Vec<String> {
    entries(archive)
        .into_iter()
        .filter(|name| name.starts_with("gen-"))
        .collect()
}

#[test]
fn a_full_build_switches_generations_and_readers_keep_theirs() {
    let archive = Archive::with_products();
    assert!(archive.index().current().is_none());
    let first = archive.crawl();
    assert!(first.full, "a first build is a full one");
    let current: PathBuf = archive.index().current().unwrap();
    assert_eq!(generations(&archive).len(), 1);

    archive.disk_file("copernicus.eu/new.txt", 5);
    let rerun = archive.crawl();
    assert!(!rerun.full);
    assert_eq!(
        archive.index().current().unwrap(),
        current,
        "a rerun updates the generation in place"
    );

    let reader = archive.catalog();
    let documents = reader.documents();
    archive.disk_file("copernicus.eu/newer.txt", 5);
    let rebuilt = archive.crawl_with(&full()).unwrap();
    assert!(rebuilt.full);
    let switched = archive.index().current().unwrap();
    assert_ne!(switched, current);
    assert_eq!(
        generations(&archive).len(),
        1,
        "the old generation is removed"
    );
    assert!(!current.exists());
    // The reader opened before still answers from its own generation, whole.
    assert!(reader.is_outdated());
    assert_eq!(reader.documents(), documents);
    let all = reader.parse("name:*").unwrap();
    assert_eq!(reader.count(all.as_ref()).unwrap().files, documents);
    assert_eq!(archive.catalog().documents(), documents + 1);
}

#[test]
fn what_killed_builds_leave_is_removed_by_the_next() {
    let archive = Archive::with_products();
    archive.crawl();
    let index = archive.index();
    let current = index.current().unwrap();
    let staging = index.path().join("gen-1.tmp");
    let orphan = index.path().join("gen-2");
    fs::create_dir(&staging).unwrap();
    fs::create_dir(&orphan).unwrap();
    fs::write(staging.join("half-written"), b"x").unwrap();
    assert_eq!(generations(&archive).len(), 3);
    // A reader opens the current generation, whatever lies beside it.
    assert_eq!(
        Catalog::open(index.path()).unwrap().generation(),
        current.as_path()
    );
    archive.crawl();
    assert_eq!(
        generations(&archive),
        [current.file_name().unwrap().to_str().unwrap()]
    );
}

#[test]
fn no_index_is_an_error_naming_the_directory() {
    let archive = Archive::new();
    let error = Catalog::open(archive.index().path()).err().unwrap();
    let message = error.to_string();
    assert!(
        message.contains(archive.index().path().to_str().unwrap()),
        "{message}"
    );
    assert!(message.contains("build one"), "{message}");
}
