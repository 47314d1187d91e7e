//! Reruns through the library: what a rerun finds after files and directories come and go,
//! `restat`, an update of one subtree, a list of changed paths, readers that learn of it, and
//! the index pages a rebuild's reads give back.

mod common;

use std::fs;

use catalog_index::build::{BuildOptions, Source};
use common::{resident_kib_below, Archive};

const DAY: &str = "copernicus.eu/s2a_prd_msil1c/2023/06/15";
const OTHER_DAY: &str = "copernicus.eu/s2b_prd_msil2a/2023/06/16";

fn name(tile: &str, n: usize) -> String {
    let (minute, second) = (n / 60, n % 60);
    format!("S2A_MSIL1C_20230615T10{minute:02}{second:02}_N0509_R029_{tile}_20230616T000937.zip")
}

/// Waits until every change so far is more than a second old: a crawl lists a directory
/// changed within a second of its start again on the next run, in case a coarse file system
/// clock hid a later change, so tests of what a rerun skips wait first.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

/// Two day directories of ten files each, crawled.
fn two_days() -> Archive {
    let archive = Archive::new();
    for n in 0..10 {
        archive.disk_file(&format!("{DAY}/{}", name("T31NFF", n)), 100);
        archive.disk_file(&format!("{OTHER_DAY}/{}", name("T32TQM", n)), 100);
    }
    settle();
    let first = archive.crawl();
    assert_eq!((first.files, first.added), (20, 20));
    archive
}

fn documents(archive: &Archive) -> u64 {
    archive.catalog().documents()
}

#[test]
fn a_rerun_finds_added_and_removed_files_and_directories() {
    let archive = two_days();
    let unchanged = archive.crawl();
    assert_eq!(
        (unchanged.added, unchanged.removed, unchanged.unchanged),
        (0, 0, 20)
    );
    assert_eq!(
        (unchanged.dirs_listed, unchanged.files),
        (0, 0),
        "nothing listed or stat'ed"
    );
    assert_eq!(
        unchanged.dirs_unchanged, 10,
        "root, provider, 2 x collection/year/month/day"
    );
    assert!(!unchanged.full, "a rerun updates in place");

    let added = archive.disk_file(&format!("{DAY}/{}", name("T60WWV", 50)), 100);
    archive.remove(&format!("{DAY}/{}", name("T31NFF", 0)));
    let report = archive.crawl();
    assert_eq!(
        (report.added, report.removed, report.files),
        (1, 1, 10),
        "only the changed day's files are stat'ed"
    );
    assert!(
        report.dirs_listed < 10 && report.dirs_unchanged > 0,
        "unchanged directories are not listed again: {report:?}"
    );
    assert_eq!(archive.paths("tile:T60WWV"), [added]);
    assert_eq!(archive.paths("tile:T31NFF").len(), 9);

    let new_day = "copernicus.eu/s2a_prd_msil1c/2023/06/17";
    archive.disk_file(&format!("{new_day}/{}", name("T01CCV", 1)), 100);
    archive.disk_file(&format!("{new_day}/deeper/{}", name("T01CCV", 2)), 100);
    archive.remove(OTHER_DAY);
    let report = archive.crawl();
    assert_eq!((report.added, report.removed), (2, 10));
    assert_eq!(documents(&archive), 12);
    assert!(archive.paths("tile:T32TQM").is_empty());
    assert_eq!(archive.paths("tile:T01CCV").len(), 2);
}

#[test]
fn restat_finds_a_file_changed_in_place() {
    let archive = two_days();
    let path = archive.path(&format!("{DAY}/{}", name("T31NFF", 3)));
    // Same size, so that only the modification time tells; the directory's stamp is unchanged.
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400))
        .unwrap();
    drop(file);
    let plain = archive.crawl();
    assert_eq!((plain.added, plain.dirs_listed), (0, 0));
    let restat = archive
        .crawl_with(&BuildOptions {
            restat: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (restat.added, restat.removed, restat.dirs_listed),
        (1, 1, 10)
    );
    assert_eq!(archive.paths("mtime:1970-01-02"), [path]);
}

#[test]
fn an_update_touches_only_its_subtree() {
    let archive = two_days();
    let added = archive.disk_file(&format!("{DAY}/{}", name("T60WWV", 60)), 100);
    archive.remove(&format!("{OTHER_DAY}/{}", name("T32TQM", 1)));
    let update = BuildOptions {
        update: true,
        ..Default::default()
    };
    let report = archive
        .build(Source::Roots(vec![archive.root().join(DAY)]), &update)
        .unwrap();
    assert_eq!((report.added, report.removed), (1, 0));
    assert_eq!(archive.paths("tile:T60WWV"), [added]);
    assert_eq!(
        archive.paths("tile:T32TQM").len(),
        10,
        "the other day stays as indexed"
    );
    let outside = tempfile::tempdir().unwrap();
    let refused = archive
        .build(Source::Roots(vec![outside.path().to_path_buf()]), &update)
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("inside none of the indexed roots"),
        "{refused}"
    );
}

#[test]
fn a_list_update_applies_only_the_paths_it_names() {
    let archive = two_days();
    let added = archive.disk_file(&format!("{DAY}/{}", name("T60WWV", 80)), 100);
    let grown = archive.disk_file(&format!("{DAY}/{}", name("T31NFF", 2)), 9000);
    let removed = archive.path(&format!("{DAY}/{}", name("T31NFF", 3)));
    let unlisted = archive.path(&format!("{OTHER_DAY}/{}", name("T32TQM", 4)));
    fs::remove_file(&removed).unwrap();
    fs::remove_file(&unlisted).unwrap();
    let update = BuildOptions {
        update: true,
        ..Default::default()
    };
    let list = format!("{added}\n{grown}\n{removed}\nnot a path\n");
    let report = archive.build_list(&list, &update).unwrap();
    assert_eq!(report.info.malformed_lines, 1);
    assert_eq!(archive.paths("tile:T60WWV"), [added]);
    assert_eq!(archive.paths("size:9000"), [grown]);
    assert!(archive.paths(&format!("path:\"{removed}\"")).is_empty());
    assert_eq!(
        archive.paths(&format!("path:\"{unlisted}\"")),
        [unlisted],
        "a path the list does not name stays as indexed"
    );
    assert_eq!(documents(&archive), 20);
}

#[test]
fn an_open_catalog_answers_from_its_commit_and_knows_it_is_outdated() {
    let archive = two_days();
    let before = archive.catalog();
    assert!(!before.is_outdated());
    archive.disk_file(&format!("{DAY}/{}", name("T60WWV", 70)), 100);
    archive.crawl();
    assert!(before.is_outdated());
    assert_eq!(before.documents(), 20);
    assert_eq!(archive.catalog().documents(), 21);
    assert!(!archive.catalog().is_outdated());
}

#[test]
fn reading_every_indexed_file_gives_back_the_pages_it_read() {
    let archive = two_days();
    let catalog = archive.catalog();
    assert!(
        resident_kib_below(catalog.generation()) > 0,
        "opening the index reads some of it"
    );
    let roots = [archive.root().to_str().unwrap().to_string()];
    let mut files = 0;
    catalog
        .indexed_files(&roots, None, true, |_| files += 1)
        .unwrap();
    assert_eq!(files, 20);
    assert_eq!(resident_kib_below(catalog.generation()), 0);
    assert_eq!(catalog.count_outside(&[]).unwrap(), 20);
    assert_eq!(resident_kib_below(catalog.generation()), 0);
    assert_eq!(documents(&archive), 20, "the index reads the same after");
}

#[test]
fn pages_read_are_given_back_and_read_again_unchanged() {
    use catalog_index::directory::ReadOnlyDirectory;
    use std::path::Path;
    use tantivy::directory::error::OpenReadError;
    use tantivy::Directory;

    let temp = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    fs::write(temp.path().join("segment"), &bytes).unwrap();
    fs::write(temp.path().join("empty"), b"").unwrap();
    let dir = ReadOnlyDirectory::open(temp.path()).unwrap();
    let handle = dir.get_file_handle(Path::new("segment")).unwrap();
    let read = || handle.read_bytes(0..bytes.len()).unwrap();
    assert_eq!(read().as_slice(), bytes);
    assert_eq!(resident_kib_below(temp.path()), 4096);
    dir.release_pages();
    assert_eq!(resident_kib_below(temp.path()), 0);
    assert_eq!(read().as_slice(), bytes);
    let empty = dir.get_file_handle(Path::new("empty")).unwrap();
    assert!(empty.read_bytes(0..0).unwrap().is_empty());
    assert!(matches!(
        dir.get_file_handle(Path::new("missing")),
        Err(OpenReadError::FileDoesNotExist(_))
    ));
}

#[test]
fn documents_found_are_deleted_even_after_their_segments_merged() {
    let archive = two_days();
    let added = archive.disk_file(&format!("{DAY}/{}", name("T60WWV", 80)), 100);
    let update = BuildOptions {
        update: true,
        ..Default::default()
    };
    archive.build_list(&format!("{added}\n"), &update).unwrap();
    let crawled = archive.path(&format!("{OTHER_DAY}/{}", name("T32TQM", 4)));
    let absent = archive.path(&format!("{DAY}/{}", name("T60WWV", 81)));
    let catalog = archive.catalog();
    let segments = catalog.index().searchable_segment_ids().unwrap();
    assert!(segments.len() >= 2, "the update wrote a segment of its own");
    let looked_for = [absent, added.clone(), crawled.clone()];
    let mut found = catalog.find_paths(&looked_for).unwrap();
    found.positions.sort_unstable();
    assert_eq!(
        found.positions,
        [1, 2],
        "one document each of the paths indexed"
    );

    // The segments the documents were found in are gone once merged: the deletion finds the
    // same files in the merged segment by their paths.
    let index = tantivy::Index::open_in_dir(catalog.generation()).unwrap();
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
    writer.merge(&segments).wait().unwrap();
    writer.delete_query(found.deletion).unwrap();
    let payload = index.load_metas().unwrap().payload.unwrap();
    let mut commit = writer.prepare_commit().unwrap();
    commit.set_payload(&payload);
    commit.commit().unwrap();
    writer.wait_merging_threads().unwrap();
    let merged = archive.catalog();
    assert_eq!(merged.index().searchable_segment_ids().unwrap().len(), 1);
    assert_eq!(merged.documents(), 19);
    let left = |path: &str| {
        let query = merged.parse(&format!("path:\"{path}\"")).unwrap();
        merged.count(query.as_ref()).unwrap().files
    };
    assert_eq!((left(&added), left(&crawled)), (0, 0));
    assert_eq!(
        left(&archive.path(&format!("{DAY}/{}", name("T31NFF", 3)))),
        1
    );
}
