//! A realistic archive in the EODC layout, generated for tests, benchmarks and the demo
//! (`catalog sample`, `catalog demo`), since no machine here has `/eodc`.
//!
//! `DIR/copernicus.eu/<collection>/YYYY/MM/DD/<name>` for all four missions, with Sentinel-2
//! names of both layouts, thousands of MGRS tiles (`T60WWV` among them), a few `.SAFE`/`.SEN3`
//! product directories and a few non-product files. Files on tape are sparse, with realistic
//! apparent sizes and no allocated blocks, as an HSM leaves them; files on disk are small and
//! allocated. The same seed gives the same tree.
//!
//! By default products fall on any day of their satellite's life, so a small archive holds about
//! one file per day directory. `--per-day N` puts products only on every k-th day, with k chosen
//! so that a day directory holds N files on average (the real archive's hold hundreds to
//! thousands).

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// What was generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleSummary {
    /// Files created (those inside product directories included).
    pub files: u64,
    /// Products (files or product directories) among them.
    pub products: u64,
    /// Products on tape.
    pub products_on_tape: u64,
    /// Sum of the apparent sizes.
    pub apparent_bytes: u64,
    /// Day directories (`<collection>/YYYY/MM/DD`).
    pub day_directories: u64,
    /// Files below day directories (all but the collections' README files).
    pub files_in_days: u64,
}

/// The provider directory of the EODC layout.
const PROVIDER: &str = "copernicus.eu";
/// The demo's tile: the first products at every `T60WWV_EVERY` are S2A products of it, so that
/// `tile:T60WWV AND sat:S2A` has answers in any archive of a thousand files or more, and one
/// in `T60WWV_SHARE` of the rest keeps it about as common as a real tile.
const T60WWV: &str = "T60WWV";
const T60WWV_EVERY: u64 = 400;
const T60WWV_SHARE: u64 = 4000;

/// The end of the generated archive's time span: no product falls on this day or later.
const END: OffsetDateTime = time::macros::datetime!(2026-01-01 0:00 UTC);
/// The beginning of it: the first Sentinel-1A day.
const BEGIN: OffsetDateTime = time::macros::datetime!(2014-10-01 0:00 UTC);

/// The days products fall on: every `stride`th day since the Unix epoch, so that fewer days hold
/// more products each. A stride of 1, the default, leaves every date as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Days {
    stride: i64,
}

impl Days {
    const EVERY: Days = Days { stride: 1 };

    /// `date` moved to the closest permitted day at or before it, keeping its time of day, inside
    /// the span `[from, until)` (a satellite's life): to the next one if none is before it in the
    /// span, to the span's first day if none is in the span at all.
    fn place(
        self,
        date: OffsetDateTime,
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> OffsetDateTime {
        if self.stride == 1 {
            return date;
        }
        let day = |d: OffsetDateTime| d.unix_timestamp().div_euclid(86_400);
        let (drawn, first, last) = (day(date), day(from), day(until - Duration::seconds(1)));
        let mut placed = drawn - drawn.rem_euclid(self.stride);
        if placed < first {
            placed += self.stride;
        }
        if placed > last {
            placed = first;
        }
        date + Duration::days(placed - drawn)
    }
}

/// One file to create.
struct Plan {
    path: String,
    size: u64,
    on_tape: bool,
}

/// Creates the archive in `dir` (which must be new or empty); `progress` hears of the number of
/// files written so far, from any thread. `per_day` asks for that many files per day directory
/// on average (see [`spread`]); `None` lets products fall on any day.
pub fn generate(
    dir: &Path,
    files: u64,
    seed: u64,
    tape_fraction: f64,
    per_day: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<SampleSummary> {
    if !(0.0..=1.0).contains(&tape_fraction) {
        bail!("--tape-fraction must be between 0 and 1, not {tape_fraction}");
    }
    if files == 0 {
        bail!("--files must be at least 1");
    }
    if per_day == Some(0) {
        bail!("--per-day must be at least 1");
    }
    if fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{} is not empty: choose a new directory", dir.display());
    }
    let days = match per_day {
        None => Days::EVERY,
        Some(n) => spread(files, seed, tape_fraction, n),
    };
    let (plans, summary) = plan(files, seed, tape_fraction, days);
    let directories: BTreeSet<&str> = plans
        .iter()
        .filter_map(|p| p.path.rsplit_once('/').map(|(d, _)| d))
        .collect();
    for directory in directories {
        let path = dir.join(directory);
        fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
    }
    let written = AtomicU64::new(0);
    plans.par_iter().try_for_each(|plan| {
        let path = dir.join(&plan.path);
        create(&path, plan).with_context(|| format!("cannot create {}", path.display()))?;
        let done = written.fetch_add(1, Ordering::Relaxed) + 1;
        if done.is_multiple_of(1024) {
            progress(done);
        }
        anyhow::Ok(())
    })?;
    progress(summary.files);
    Ok(summary)
}

/// A sparse file for tape, an allocated one of a few KiB for disk.
fn create(path: &Path, plan: &Plan) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    if plan.on_tape {
        file.set_len(plan.size)
    } else {
        file.write_all(&vec![b'0'; plan.size as usize])
    }
}

/// The days that give about `per_day` files per day directory: the smallest stride whose
/// archive holds at least that many on average, or the one just below it if that comes closer.
/// Found by planning the archive (names only, no files) for a binary search of strides, so the
/// same arguments give the same archive. The average grows with the stride until each
/// collection is down to a day or two; a `per_day` beyond that gets the largest stride.
fn spread(files: u64, seed: u64, tape_fraction: f64, per_day: u64) -> Days {
    let average = |stride: i64| {
        let (_, summary) = plan(files, seed, tape_fraction, Days { stride });
        summary.files_in_days as f64 / summary.day_directories.max(1) as f64
    };
    let target = per_day as f64;
    let (mut low, mut high) = (1, (END - BEGIN).whole_days());
    if average(low) >= target {
        return Days { stride: low };
    }
    // average(low) < target throughout; average(high) >= target, or high is the largest stride.
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if average(middle) >= target {
            high = middle;
        } else {
            low = middle;
        }
    }
    let stride = if target - average(low) < average(high) - target {
        low
    } else {
        high
    };
    Days { stride }
}

/// The day directory (`PROVIDER/<collection>/YYYY/MM/DD`) a planned path lies below, if any.
fn day_directory(path: &str) -> Option<&str> {
    let (end, _) = path.match_indices('/').nth(4)?;
    Some(&path[..end])
}

/// Decides every file, in order, from the seed alone.
fn plan(files: u64, seed: u64, tape_fraction: f64, days: Days) -> (Vec<Plan>, SampleSummary) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tiles = tiles(&mut rng);
    let mut plans = Vec::with_capacity(files as usize);
    let mut summary = SampleSummary::default();
    let mut collections = BTreeSet::new();
    while (plans.len() as u64) < files {
        let number = summary.products;
        let demo_tile =
            number % T60WWV_EVERY == 0 && (number < 3 * T60WWV_EVERY || number % T60WWV_SHARE == 0);
        let product = if demo_tile {
            sentinel2(&mut rng, days, &tiles, true)
        } else {
            match rng.random_range(0..100) {
                0..60 => sentinel2(&mut rng, days, &tiles, false),
                60..82 => sentinel1(&mut rng, days),
                82..93 => sentinel3(&mut rng, days),
                _ => sentinel5p(&mut rng, days),
            }
        };
        let on_tape = rng.random_bool(tape_fraction);
        let directory = format!(
            "{PROVIDER}/{}/{}",
            product.collection,
            product
                .date
                .format(format_description!("[year]/[month]/[day]"))
                .expect("dates format")
        );
        if collections.insert(product.collection.clone()) {
            plans.push(Plan {
                path: format!("{PROVIDER}/{}/README.txt", product.collection),
                size: 64,
                on_tape: false,
            });
        }
        let size = |rng: &mut ChaCha8Rng, apparent: u64| {
            if on_tape {
                apparent
            } else {
                rng.random_range(1024..8192)
            }
        };
        match product.directory {
            Some(contents) if rng.random_range(0..50) == 0 => {
                for (inner, share) in contents {
                    let apparent = product.size * share / 100;
                    let size = size(&mut rng, apparent.max(1));
                    plans.push(Plan {
                        path: format!(
                            "{directory}/{}.{}/{inner}",
                            product.stem, product.directory_suffix
                        ),
                        size,
                        on_tape,
                    });
                    summary.apparent_bytes += size;
                }
            }
            _ => {
                let size = size(&mut rng, product.size);
                plans.push(Plan {
                    path: format!("{directory}/{}.{}", product.stem, product.extension),
                    size,
                    on_tape,
                });
                summary.apparent_bytes += size;
            }
        }
        summary.products += 1;
        summary.products_on_tape += u64::from(on_tape);
    }
    plans.truncate(files as usize);
    summary.files = plans.len() as u64;
    let day_directories: HashSet<&str> = plans
        .iter()
        .filter_map(|p| day_directory(&p.path))
        .collect();
    summary.day_directories = day_directories.len() as u64;
    summary.files_in_days = plans
        .iter()
        .filter(|p| day_directory(&p.path).is_some())
        .count() as u64;
    (plans, summary)
}

/// A product's name and place.
struct Product {
    collection: String,
    stem: String,
    extension: &'static str,
    date: OffsetDateTime,
    size: u64,
    /// The files of the product as a directory, with their share of its size in percent.
    directory: Option<&'static [(&'static str, u64)]>,
    directory_suffix: &'static str,
}

const SAFE_S2: &[(&str, u64)] = &[
    ("manifest.safe", 1),
    ("GRANULE/IMG_DATA/B02.jp2", 49),
    ("GRANULE/IMG_DATA/B04.jp2", 50),
];
const SAFE_S1: &[(&str, u64)] = &[
    ("manifest.safe", 1),
    ("measurement/vv.tiff", 50),
    ("measurement/vh.tiff", 49),
];
const SEN3: &[(&str, u64)] = &[
    ("xfdumanifest.xml", 1),
    ("Oa01_radiance.nc", 50),
    ("Oa02_radiance.nc", 49),
];

fn stamp(date: OffsetDateTime) -> String {
    date.format(format_description!(
        "[year][month][day]T[hour][minute][second]"
    ))
    .expect("dates format")
}

/// A random instant between the start of `from` and the end of 2025, on one of `days`.
fn date_between(rng: &mut ChaCha8Rng, days: Days, from: OffsetDateTime) -> OffsetDateTime {
    let date = from + Duration::seconds(rng.random_range(0..(END - from).whole_seconds()));
    days.place(date, from, END)
}

/// A few thousand MGRS tiles: the 100 km squares under random points of Sentinel-2's coverage
/// (56 S to 84 N), so that every tile is one the MGRS grid has.
fn tiles(rng: &mut ChaCha8Rng) -> Vec<String> {
    let mut tiles = BTreeSet::from([T60WWV.to_string()]);
    while tiles.len() < 3000 {
        let (lat, lon) = (
            rng.random_range(-56.0..84.0),
            rng.random_range(-180.0..180.0),
        );
        if let Ok(point) = geoconvert::LatLon::create(lat, lon) {
            tiles.insert(format!("T{}", point.to_mgrs(0)));
        }
    }
    tiles.into_iter().collect()
}

/// A Sentinel-2 product; `demo_tile` makes it a new-layout S2A product of [`T60WWV`].
fn sentinel2(rng: &mut ChaCha8Rng, days: Days, tiles: &[String], demo_tile: bool) -> Product {
    let sat = if demo_tile || rng.random_bool(0.6) {
        "S2A"
    } else {
        ["S2B", "S2C"][usize::from(rng.random_bool(0.1))]
    };
    let since = match sat {
        "S2A" if demo_tile => time::macros::datetime!(2017-01-01 0:00 UTC),
        "S2A" => time::macros::datetime!(2015-07-01 0:00 UTC),
        "S2B" => time::macros::datetime!(2017-07-01 0:00 UTC),
        _ => time::macros::datetime!(2025-01-15 0:00 UTC),
    };
    let date = date_between(rng, days, since);
    let orbit = rng.random_range(1..=143);
    let level_1c = rng.random_bool(0.6);
    let tile = if demo_tile {
        T60WWV
    } else {
        tiles.choose(rng).expect("tiles")
    };
    let generated = date + Duration::minutes(rng.random_range(20..2880));
    if date.year() <= 2016 && level_1c && sat == "S2A" {
        let stem = format!(
            "S2A_OPER_PRD_MSIL1C_PDMC_{}_R{orbit:03}_V{}_{}",
            stamp(generated),
            stamp(date),
            stamp(date)
        );
        return Product {
            collection: "s2a_prd_msil1c".into(),
            stem,
            extension: "zip",
            date,
            size: rng.random_range(500_000_000..900_000_000),
            directory: Some(SAFE_S2),
            directory_suffix: "SAFE",
        };
    }
    let (product, size) = if level_1c {
        ("MSIL1C", 500_000_000..900_000_000)
    } else {
        ("MSIL2A", 800_000_000..1_200_000_000)
    };
    let baseline = match date.year() {
        ..=2016 => "N0204",
        2017 => "N0205",
        2018 => "N0206",
        2019 => "N0208",
        2020 => "N0209",
        2021 => "N0300",
        2022 => "N0400",
        2023 => "N0509",
        2024 => "N0510",
        _ => "N0511",
    };
    Product {
        collection: format!("{}_prd_{}", sat.to_lowercase(), product.to_lowercase()),
        stem: format!(
            "{sat}_{product}_{}_{baseline}_R{orbit:03}_{tile}_{}",
            stamp(date),
            stamp(generated)
        ),
        extension: "zip",
        date,
        size: rng.random_range(size),
        directory: Some(SAFE_S2),
        directory_suffix: "SAFE",
    }
}

fn sentinel1(rng: &mut ChaCha8Rng, days: Days) -> Product {
    let (sat, launch, until) = if rng.random_bool(0.75) {
        ("S1A", time::macros::datetime!(2014-10-01 0:00 UTC), None)
    } else {
        (
            "S1B",
            time::macros::datetime!(2016-06-01 0:00 UTC),
            Some(time::macros::datetime!(2021-12-23 0:00 UTC)),
        )
    };
    let mut date = date_between(rng, days, launch);
    if let Some(until) = until {
        let span = (until - launch).whole_seconds();
        date = launch + Duration::seconds(rng.random_range(0..span));
        date = days.place(date, launch, until);
    }
    let mode = *[
        "IW", "IW", "IW", "IW", "IW", "IW", "EW", "EW", "WV", "S1", "S3", "S6",
    ]
    .choose(rng)
    .expect("modes");
    let (kind, level, size) = match (mode, rng.random_range(0..20)) {
        ("WV", 0..12) => ("SLC_", '1', 100_000_000..300_000_000),
        ("WV", _) => ("OCN_", '2', 10_000_000..30_000_000),
        (_, 0..12) => ("GRDH", '1', 1_500_000_000..1_900_000_000),
        (_, 12..16) => ("SLC_", '1', 4_000_000_000..8_000_000_000),
        (_, 16..18) => ("RAW_", '0', 1_500_000_000..2_500_000_000),
        _ => ("OCN_", '2', 10_000_000..30_000_000),
    };
    let kind = if kind == "GRDH" && mode == "EW" && rng.random_bool(0.5) {
        "GRDM"
    } else {
        kind
    };
    // Absolute orbits advance 175 per 12-day cycle from each satellite's first orbit.
    let first = if sat == "S1A" {
        time::macros::datetime!(2014-04-03 0:00 UTC)
    } else {
        time::macros::datetime!(2016-04-25 0:00 UTC)
    };
    let absolute = 1 + (date - first).whole_seconds() * 175 / (12 * 86_400);
    let stop = date + Duration::seconds(25);
    let polarisation = *["DV", "DH", "SV", "SH"].choose(rng).expect("polarisations");
    let stem = format!(
        "{sat}_{mode}_{kind}_{level}S{polarisation}_{}_{}_{absolute:06}_{:06X}_{:04X}",
        stamp(date),
        stamp(stop),
        rng.random_range(0..0xFF_FFFF),
        rng.random_range(0..0xFFFF)
    );
    let collection_mode = if mode.starts_with('S') {
        "sm"
    } else {
        &mode.to_lowercase()
    };
    Product {
        collection: format!(
            "{}_csar_{}_{collection_mode}",
            sat.to_lowercase(),
            kind.to_lowercase()
        ),
        stem,
        extension: "zip",
        date,
        size: rng.random_range(size),
        directory: Some(SAFE_S1),
        directory_suffix: "SAFE",
    }
}

fn sentinel3(rng: &mut ChaCha8Rng, days: Days) -> Product {
    let (sat, launch) = if rng.random_bool(0.6) {
        ("S3A", time::macros::datetime!(2016-06-01 0:00 UTC))
    } else {
        ("S3B", time::macros::datetime!(2018-06-01 0:00 UTC))
    };
    let kind = *[
        "OL_1_EFR___",
        "OL_1_ERR___",
        "OL_2_LFR___",
        "SL_1_RBT___",
        "SL_2_LST___",
        "SR_2_LAN___",
        "SY_2_SYN___",
    ]
    .choose(rng)
    .expect("products");
    let date = date_between(rng, days, launch);
    let stop = date + Duration::seconds(180);
    let created = date + Duration::hours(rng.random_range(2..48));
    let stem = format!(
        "{sat}_{kind}_{}_{}_{}_0179_{:03}_{:03}_{:04}_PS{}_O_NT_{:03}",
        stamp(date),
        stamp(stop),
        stamp(created),
        rng.random_range(1..120),
        rng.random_range(1..=385),
        rng.random_range(0..4000),
        &sat[2..],
        rng.random_range(2..5)
    );
    Product {
        collection: format!(
            "{}_{}",
            sat.to_lowercase(),
            kind.trim_end_matches('_').to_lowercase()
        ),
        stem,
        extension: "zip",
        date,
        size: rng.random_range(300_000_000..700_000_000),
        directory: Some(SEN3),
        directory_suffix: "SEN3",
    }
}

fn sentinel5p(rng: &mut ChaCha8Rng, days: Days) -> Product {
    let stream = *["OFFL", "OFFL", "OFFL", "NRTI", "RPRO"]
        .choose(rng)
        .expect("streams");
    let kind = *[
        "L2__NO2___",
        "L2__O3____",
        "L2__CH4___",
        "L2__CO____",
        "L2__SO2___",
        "L2__HCHO__",
        "L2__CLOUD_",
        "L2__AER_AI",
        "L1B_RA_BD3",
    ]
    .choose(rng)
    .expect("products");
    let launch = time::macros::datetime!(2018-05-01 0:00 UTC);
    let date = date_between(rng, days, launch);
    let stop = date + Duration::minutes(101);
    let orbit = 1 + (date - launch).whole_minutes() / 101;
    let created = date + Duration::hours(rng.random_range(3..72));
    Product {
        collection: format!(
            "s5p_{}_{}",
            stream.to_lowercase(),
            kind.trim_end_matches('_').to_lowercase()
        ),
        stem: format!(
            "S5P_{stream}_{kind}_{}_{}_{orbit:05}_03_020500_{}",
            stamp(date),
            stamp(stop),
            stamp(created)
        ),
        extension: "nc",
        date,
        size: rng.random_range(50_000_000..500_000_000),
        directory: None,
        directory_suffix: "",
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use catalog_index::State;

    use super::*;

    fn listing(dir: &Path) -> Vec<(String, u64, u64)> {
        let mut found = Vec::new();
        let mut dirs = vec![dir.to_path_buf()];
        while let Some(d) = dirs.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    dirs.push(entry.path());
                } else {
                    let relative = entry
                        .path()
                        .strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    found.push((relative, meta.size(), meta.blocks()));
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn the_same_seed_gives_the_same_archive() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let summary = generate(a.path(), 1500, 9, 0.8, None, &|_| {}).unwrap();
        generate(b.path(), 1500, 9, 0.8, None, &|_| {}).unwrap();
        generate(c.path(), 1500, 10, 0.8, None, &|_| {}).unwrap();
        let names =
            |l: Vec<(String, u64, u64)>| l.into_iter().map(|(n, s, _)| (n, s)).collect::<Vec<_>>();
        assert_eq!(names(listing(a.path())), names(listing(b.path())));
        assert_ne!(names(listing(a.path())), names(listing(c.path())));
        assert_eq!(summary.files, 1500);
        assert_eq!(listing(a.path()).len(), 1500);
    }

    #[test]
    fn tape_files_are_sparse_and_disk_files_allocated() {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(dir.path(), 2000, 3, 0.5, None, &|_| {}).unwrap();
        let (mut tape, mut disk) = (0, 0);
        for (name, size, blocks) in listing(dir.path()) {
            match State::from_blocks(size, blocks) {
                State::Tape => {
                    tape += 1;
                    assert_eq!(blocks, 0, "{name}");
                    assert!(size >= 1_000_000, "{name} has a realistic apparent size");
                }
                State::Disk => {
                    disk += 1;
                    assert!(size < 10_000, "{name} is small");
                }
            }
        }
        assert!(tape > 700 && disk > 700, "{tape} on tape, {disk} on disk");
        assert!(summary.products_on_tape > 0);
    }

    #[test]
    fn the_layout_missions_and_demo_tile_are_there() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), 3000, 1, 0.8, None, &|_| {}).unwrap();
        let files = listing(dir.path());
        let names: Vec<&str> = files.iter().map(|(n, _, _)| n.as_str()).collect();
        for (needle, what) in [
            ("/S1A_", "Sentinel-1"),
            ("/S2A_MSIL1C_", "new-layout Sentinel-2"),
            ("_OPER_PRD_MSIL1C_PDMC_", "old-layout Sentinel-2"),
            ("/S3", "Sentinel-3"),
            ("/S5P_", "Sentinel-5P"),
            (".SAFE/manifest.safe", "product directories"),
            ("README.txt", "non-product files"),
        ] {
            assert!(names.iter().any(|n| n.contains(needle)), "no {what}");
        }
        let demo = names
            .iter()
            .filter(|n| n.contains("/S2A_MSI") && n.contains("_T60WWV_"))
            .count();
        assert!(demo >= 3, "{demo} S2A T60WWV products");
        for name in &names {
            let parts: Vec<&str> = name.split('/').collect();
            assert_eq!(parts[0], PROVIDER);
            if !name.ends_with("README.txt") {
                assert!(
                    parts[2].len() == 4 && parts[3].len() == 2 && parts[4].len() == 2,
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn a_directory_with_files_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("precious"), b"x").unwrap();
        let error = generate(dir.path(), 10, 1, 0.5, None, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not empty"), "{error}");
        assert!(generate(dir.path(), 10, 1, 1.5, None, &|_| {}).is_err());
        let error = generate(
            dir.path().join("new").as_path(),
            10,
            1,
            0.5,
            Some(0),
            &|_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("--per-day"), "{error}");
    }

    #[test]
    fn days_move_dates_to_permitted_days_inside_the_span() {
        use time::macros::datetime;
        let from = datetime!(2017-07-01 0:00 UTC);
        let until = datetime!(2021-12-23 0:00 UTC);
        let date = datetime!(2019-03-05 13:14:15 UTC);
        assert_eq!(Days::EVERY.place(date, from, until), date);
        let days = Days { stride: 10 };
        let placed = days.place(date, from, until);
        assert_eq!(placed.time(), date.time(), "the time of day is kept");
        assert!(placed <= date && date - placed < Duration::days(10));
        assert_eq!((placed.unix_timestamp() / 86_400) % 10, 0);
        // Before the span's first permitted day: the next one.
        let early = days.place(from + Duration::hours(5), from, until);
        assert!(early >= from && early - from < Duration::days(10));
        // No permitted day in the span at all: its first day.
        let wide = Days { stride: 100_000 };
        assert_eq!(
            wide.place(date, from, until),
            datetime!(2017-07-01 13:14:15 UTC)
        );
    }

    #[test]
    fn per_day_is_deterministic_and_fills_day_directories() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let summary = generate(a.path(), 4000, 5, 0.8, Some(40), &|_| {}).unwrap();
        generate(b.path(), 4000, 5, 0.8, Some(40), &|_| {}).unwrap();
        let names =
            |l: Vec<(String, u64, u64)>| l.into_iter().map(|(n, s, _)| (n, s)).collect::<Vec<_>>();
        assert_eq!(names(listing(a.path())), names(listing(b.path())));
        assert_eq!(listing(a.path()).len(), 4000);
        let average = summary.files_in_days as f64 / summary.day_directories as f64;
        assert!(
            (32.0..48.0).contains(&average),
            "{average} files per day directory"
        );
        let default = plan(4000, 5, 0.8, Days::EVERY).1;
        assert!(default.day_directories > 10 * summary.day_directories);
    }
}
