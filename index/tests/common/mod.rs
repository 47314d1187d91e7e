//! A small archive in a temporary directory, built and searched through the library.

#![allow(dead_code)] // Each test file uses its own part of this.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use catalog_index::build::{build, BuildOptions, BuildReport, Source};
use catalog_index::layout::IndexDir;
use catalog_index::query::Node;
use catalog_index::search::SortKey;
use catalog_index::{Catalog, Result};

/// Sentinel products of every mission, by collection, as the EODC archive holds them.
pub const PRODUCTS: &[(&str, &str)] = &[
    ("s2a_prd_msil1c", "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip"),
    ("s2a_prd_msil1c", "S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip"),
    ("s2b_prd_msil2a", "S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.zip"),
    ("s1a_csar_grdh_iw", "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip"),
    ("s1b_csar_slc__ew", "S1B_EW_SLC__1SDH_20190305T060001_20190305T060101_015211_01C6F2_ABCD.zip"),
    ("s3a_ol_1_efr", "S3A_OL_1_EFR____20230615T095417_20230615T095717_20230616T115314_0179_100_079_2160_PS1_O_NT_003.zip"),
    ("s5p_offl_l2__no2", "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507.nc"),
];

/// An archive root and an index directory in one temporary directory.
pub struct Archive {
    temp: tempfile::TempDir,
    root: PathBuf,
}

impl Archive {
    /// An empty archive.
    pub fn new() -> Archive {
        let temp = tempfile::Builder::new()
            .prefix("catalog-index-test")
            .tempdir()
            .unwrap();
        let root = fs::canonicalize(temp.path()).unwrap().join("archive");
        fs::create_dir(&root).unwrap();
        Archive { temp, root }
    }

    /// An archive holding [`PRODUCTS`] in the EODC layout; the Sentinel-1 files are on tape.
    pub fn with_products() -> Archive {
        let archive = Archive::new();
        for (collection, name) in PRODUCTS {
            let path = product_path(collection, name);
            if name.starts_with("S1") {
                archive.tape_file(&path, 1_700_000_000);
            } else {
                archive.disk_file(&path, 4096);
            }
        }
        archive
    }

    /// The archive root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The index directory.
    pub fn index(&self) -> IndexDir {
        IndexDir::new(self.root.parent().unwrap().join("index"))
    }

    /// The absolute path of `relative` in the archive.
    pub fn path(&self, relative: &str) -> String {
        self.root.join(relative).to_str().unwrap().to_string()
    }

    /// A file of `size` bytes on disk, with its parents; returns its absolute path.
    pub fn disk_file(&self, relative: &str, size: usize) -> String {
        let path = self.root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, vec![b'x'; size]).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// A file of `size` bytes holding no blocks, as an HSM leaves a migrated file.
    pub fn tape_file(&self, relative: &str, size: u64) -> String {
        let path = self.root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        File::create(&path).unwrap().set_len(size).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Removes a file or a directory tree.
    pub fn remove(&self, relative: &str) {
        let path = self.root.join(relative);
        if path.is_dir() {
            fs::remove_dir_all(path).unwrap();
        } else {
            fs::remove_file(path).unwrap();
        }
    }

    /// Builds from `source` with `options`.
    pub fn build(&self, source: Source, options: &BuildOptions) -> Result<BuildReport> {
        build(&self.index(), source, options, &|_| {})
    }

    /// Crawls the whole root with `options`.
    pub fn crawl_with(&self, options: &BuildOptions) -> Result<BuildReport> {
        self.build(Source::Roots(vec![self.root.clone()]), options)
    }

    /// Crawls the whole root, as a plain rerun does.
    pub fn crawl(&self) -> BuildReport {
        self.crawl_with(&BuildOptions::default()).unwrap()
    }

    /// Builds from a list given as text.
    pub fn build_list(&self, text: &str, options: &BuildOptions) -> Result<BuildReport> {
        let source = Source::List {
            name: "list".into(),
            reader: Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        };
        self.build(source, options)
    }

    /// The current index, freshly opened.
    pub fn catalog(&self) -> Catalog {
        Catalog::open(self.index().path()).unwrap()
    }

    /// The paths matching query text, sorted.
    pub fn paths(&self, text: &str) -> Vec<String> {
        self.matching(&text, |catalog| catalog.parse(text))
    }

    /// The paths matching a query tree, sorted.
    pub fn paths_of(&self, node: &Node) -> Vec<String> {
        self.matching(node, |catalog| catalog.compile(node))
    }

    fn matching(
        &self,
        asked: &dyn std::fmt::Debug,
        compile: impl FnOnce(&Catalog) -> Result<Box<dyn catalog_index::Query>>,
    ) -> Vec<String> {
        let catalog = self.catalog();
        let query = compile(&catalog).unwrap_or_else(|e| panic!("{asked:?}: {e}"));
        catalog
            .search(query.as_ref(), SortKey::Path, 0, None)
            .unwrap()
            .matches
            .into_iter()
            .map(|m| m.path)
            .collect()
    }
}

/// Where a product of a collection lives in the EODC layout, from the first date in its name.
pub fn product_path(collection: &str, name: &str) -> String {
    let stamp = name
        .split('_')
        .find(|part| part.len() == 15 && part.as_bytes()[8] == b'T')
        .unwrap();
    format!(
        "copernicus.eu/{collection}/{}/{}/{}/{name}",
        &stamp[..4],
        &stamp[4..6],
        &stamp[6..8]
    )
}

/// The resident kilobytes of this process's mappings of the files in `dir`, from
/// `/proc/self/smaps`.
pub fn resident_kib_below(dir: &Path) -> u64 {
    let smaps = fs::read_to_string("/proc/self/smaps").unwrap();
    let dir = format!("{}/", dir.display());
    let mut inside = false;
    let mut kib = 0;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            ["Rss:", value, "kB"] if inside => kib += value.parse::<u64>().unwrap(),
            // A mapping's header: address, permissions, offset, device, inode, path.
            [first, ..] if !first.ends_with(':') => {
                inside = fields.get(5).is_some_and(|path| path.starts_with(&dir))
            }
            _ => {}
        }
    }
    kib
}
