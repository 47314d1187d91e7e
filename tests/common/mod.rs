//! A temporary archive and index, and the real `catalog` binary run over them (after fd's
//! `tests/testenv`).

#![allow(dead_code)] // Each test binary uses its own share of these helpers.

pub mod hostile;
pub mod server;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// Products named as in the real archive, one per mission and layout, placed by
/// `TestEnv::with_products` under `copernicus.eu/<collection>/YYYY/MM/DD/`.
pub const PRODUCTS: &[(&str, &str)] = &[
    ("s2a_prd_msil1c", "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip"),
    ("s2a_prd_msil1c", "S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip"),
    ("s2b_prd_msil2a", "S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.zip"),
    ("s2a_prd_msil1c", "S2A_OPER_PRD_MSIL1C_PDMC_20160111T064012_R008_V20151229T101025_20151229T101025.zip"),
    ("s1a_csar_grdh_iw", "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip"),
    ("s1b_csar_slc__ew", "S1B_EW_SLC__1SDH_20190305T060001_20190305T060101_015211_01C6F2_ABCD.zip"),
    ("s3a_ol_1_efr", "S3A_OL_1_EFR____20230615T095417_20230615T095717_20230616T115314_0179_100_079_2160_PS1_O_NT_003.zip"),
    ("s5p_offl_l2__no2", "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507.nc"),
];

/// A temporary directory holding an archive root and an index directory.
pub struct TestEnv {
    temp: tempfile::TempDir,
}

impl TestEnv {
    /// An empty archive root.
    pub fn new() -> TestEnv {
        let temp = tempfile::Builder::new()
            .prefix("catalog-test")
            .tempdir()
            .expect("temp dir");
        fs::create_dir(temp.path().join("archive")).expect("archive root");
        TestEnv { temp }
    }

    /// An archive holding [`PRODUCTS`]; the Sentinel-1 files are on tape.
    pub fn with_products() -> TestEnv {
        let env = TestEnv::new();
        for (collection, name) in PRODUCTS {
            let path = env.product_path(collection, name);
            if name.starts_with("S1") {
                env.tape_file(&path, 1_700_000_000);
            } else {
                env.disk_file(&path, 4096);
            }
        }
        env
    }

    /// Where a product of a collection lives in the EODC layout, from the date in its name.
    pub fn product_path(&self, collection: &str, name: &str) -> String {
        let stamp = name
            .split('_')
            .find(|part| part.len() >= 15 && part.as_bytes()[8] == b'T')
            .expect("a timestamp");
        let stamp = stamp.trim_start_matches('V');
        format!(
            "copernicus.eu/{collection}/{}/{}/{}/{name}",
            &stamp[..4],
            &stamp[4..6],
            &stamp[6..8]
        )
    }

    /// Generates a sample archive of `files` files in `archive` with `catalog sample`,
    /// asserting success.
    pub fn sample(&self, archive: &Path, files: u32) {
        let output = self
            .catalog()
            .arg("sample")
            .arg(archive)
            .args(["--files", &files.to_string()])
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "catalog sample failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The archive root.
    pub fn root(&self) -> PathBuf {
        self.temp.path().join("archive")
    }

    /// The index directory.
    pub fn index(&self) -> PathBuf {
        self.temp.path().join("index")
    }

    /// The temporary directory itself.
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// The absolute path of a file below the root.
    pub fn abs(&self, relative: &str) -> String {
        self.root()
            .join(relative)
            .to_str()
            .expect("utf-8 temp path")
            .to_string()
    }

    /// Waits until every change made so far is more than a second old. A crawl lists a
    /// directory changed within a second of its start again on the next run, in case a
    /// coarse file system clock hid a later change; tests of what a rerun skips wait first.
    pub fn settle(&self) {
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }

    /// A file with its blocks allocated.
    pub fn disk_file(&self, relative: &str, size: usize) {
        let path = self.root().join(relative);
        fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        fs::File::create(&path)
            .and_then(|mut f| f.write_all(&vec![b'x'; size]))
            .expect("file");
    }

    /// A sparse file of `size` bytes with no blocks: what an HSM leaves of a migrated file.
    pub fn tape_file(&self, relative: &str, size: u64) {
        let path = self.root().join(relative);
        fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        fs::File::create(&path)
            .and_then(|f| f.set_len(size))
            .expect("sparse file");
    }

    /// `catalog` with the index directory set.
    pub fn catalog(&self) -> Command {
        let mut cmd = Command::cargo_bin("catalog").expect("the catalog binary");
        cmd.env("CATALOG_INDEX", self.index())
            .env_remove("CHILLER_URL");
        cmd
    }

    /// Builds (or updates) the index over the root, asserting success.
    pub fn index_archive(&self) -> Output {
        let output = self
            .catalog()
            .arg("index")
            .arg("--root")
            .arg(self.root())
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "catalog index failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Runs a query, asserting success, and returns its stdout lines.
    pub fn query(&self, query: &str) -> Vec<String> {
        let output = self.catalog().args(["query", query]).output().expect("run");
        assert!(
            output.status.success(),
            "query {query:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .lines()
            .map(str::to_string)
            .collect()
    }
}
