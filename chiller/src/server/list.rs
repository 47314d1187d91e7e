//! The check of an uploaded file list: only existing files and product directories under the
//! served roots may be recalled.

use std::fs;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, OFlags};

use crate::list::ListLines;
use crate::recall::{open_beneath, product_files};

/// Bad lines named in a refusal; the rest are counted.
const BAD_LINES_SHOWN: usize = 100;

/// The roots a list's paths must be under: as given, then with links resolved.
#[derive(Debug, Clone)]
pub struct Roots {
    prefixes: Vec<PathBuf>,
}

impl Roots {
    /// Checks that each root is a directory and resolves its links.
    pub fn new(roots: &[PathBuf]) -> anyhow::Result<Roots> {
        let mut given = Vec::new();
        let mut real = Vec::new();
        for root in roots {
            let resolved = fs::canonicalize(root)
                .ok()
                .filter(|r| r.is_dir())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "root {} is not a directory: give an existing directory with --root",
                        root.display()
                    )
                })?;
            given.push(std::path::absolute(root)?);
            real.push(resolved);
        }
        given.append(&mut real);
        Ok(Roots { prefixes: given })
    }

    /// The roots as given and as resolved: what a listed path may start with.
    pub fn prefixes(&self) -> &[PathBuf] {
        &self.prefixes
    }

    fn lexically_under(&self, path: &Path) -> bool {
        self.prefixes.iter().any(|root| path.starts_with(root))
    }
}

/// Checks an uploaded list line by line: each an absolute path under a root, without `..` or
/// NUL, naming an existing regular file or product directory that does not lead out of the
/// roots by a link. Blank lines are skipped and repeated paths kept once. Returns the paths,
/// or the bad lines.
pub fn check_list(body: &[u8], roots: &Roots) -> Result<Vec<String>, Vec<String>> {
    let mut paths = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut bad = Vec::new();
    let mut bad_count = 0usize;
    // Reading from memory cannot fail.
    for line in ListLines::new(body).map_while(Result::ok) {
        let problem = match line.path {
            Ok(path) => match check_path(&path, roots) {
                None => {
                    if seen.insert(path.clone()) {
                        paths.push(path);
                    }
                    continue;
                }
                Some(problem) => format!("{path} {problem}"),
            },
            Err((shown, problem)) => format!("{shown} {problem}"),
        };
        bad_count += 1;
        if bad.len() < BAD_LINES_SHOWN {
            bad.push(format!("line {}: {problem}", line.number));
        }
    }
    if bad_count > bad.len() {
        bad.push(format!("and {} more bad lines", bad_count - bad.len()));
    }
    if bad.is_empty() && paths.is_empty() {
        bad.push("the list is empty".to_string());
    }
    if bad.is_empty() {
        Ok(paths)
    } else {
        Err(bad)
    }
}

/// What is wrong with one absolute path, if anything.
fn check_path(line: &str, roots: &Roots) -> Option<String> {
    let path = Path::new(line);
    if path.components().any(|c| c == Component::ParentDir) {
        return Some("holds '..'".into());
    }
    if !roots.lexically_under(path) {
        return Some("is outside the served roots".into());
    }
    let prefixes = roots.prefixes();
    let top = match open_beneath(prefixes, path, OFlags::PATH) {
        Ok(top) => top,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Some("does not exist".into())
        }
        Err(error) if error.raw_os_error().is_none() => {
            // Our own message names the path: say what is wrong with it.
            let text = error.to_string();
            return Some(text.strip_prefix(line).unwrap_or(&text).trim_start().into());
        }
        Err(error) => return Some(format!("cannot be opened: {error}")),
    };
    let kind = match rustix::fs::fstat(&top) {
        Ok(stat) => FileType::from_raw_mode(stat.st_mode),
        Err(error) => return Some(format!("cannot be opened: {error}")),
    };
    let product_dir = kind == FileType::Directory
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(catalog_index::crawl::is_product_dir);
    if kind == FileType::Directory && !product_dir {
        return Some("is a directory but no product (.SAFE, .SEN3)".into());
    }
    if kind != FileType::RegularFile && !product_dir {
        return Some("is not a regular file or product directory".into());
    }
    if product_dir {
        if let Err(error) = product_files(prefixes, path) {
            let text = error.to_string();
            return Some(text.strip_prefix(line).unwrap_or(&text).trim_start().into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_checked_line_by_line() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a.zip");
        fs::write(&file, b"x").unwrap();
        fs::create_dir(root.path().join("b.SAFE")).unwrap();
        fs::create_dir(root.path().join("2023")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("link.zip")).unwrap();
        let roots = Roots::new(&[root.path().to_path_buf()]).unwrap();
        let good = file.to_str().unwrap();
        let dir = root.path().display();
        assert_eq!(
            check_list(
                format!("{good}\n\n{dir}/b.SAFE\r\n{good}\n").as_bytes(),
                &roots
            )
            .unwrap(),
            [good.to_string(), format!("{dir}/b.SAFE")],
            "blank lines skipped, repeats kept once"
        );
        let bad = check_list(
            format!(
                "relative.zip\n{good}\n/etc/passwd\n{dir}/../x\n{dir}/missing\n{dir}/2023\n{dir}/link.zip\n{good}\0\n"
            )
            .as_bytes(),
            &roots,
        )
        .unwrap_err();
        assert_eq!(
            bad,
            [
                "line 1: relative.zip is not an absolute path".to_string(),
                "line 3: /etc/passwd is outside the served roots".to_string(),
                format!("line 4: {dir}/../x holds '..'"),
                format!("line 5: {dir}/missing does not exist"),
                format!("line 6: {dir}/2023 is a directory but no product (.SAFE, .SEN3)"),
                format!("line 7: {dir}/link.zip is a symbolic link or passes through one, which is not followed"),
                format!("line 8: {good}\\0 holds a NUL byte"),
            ]
        );
        // A link inside a product is not followed: the product is refused.
        fs::create_dir_all(root.path().join("c.SEN3/sub")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("c.SEN3/sub/x.nc")).unwrap();
        assert_eq!(
            check_list(format!("{dir}/c.SEN3\n{dir}/c.SEN3/sub/x.nc").as_bytes(), &roots).unwrap_err(),
            [
                format!("line 1: {dir}/c.SEN3 holds a symbolic link, which is not followed: {dir}/c.SEN3/sub/x.nc"),
                format!("line 2: {dir}/c.SEN3/sub/x.nc is a symbolic link or passes through one, which is not followed"),
            ]
        );
        assert_eq!(
            check_list(b"\n \n", &roots).unwrap_err(),
            ["the list is empty"]
        );
        assert_eq!(
            check_list(b"/\xff\n", &roots).unwrap_err(),
            ["line 1: /\u{fffd} is not UTF-8"]
        );
        let many = check_list("x\n".repeat(150).as_bytes(), &roots).unwrap_err();
        assert_eq!(many.len(), 101);
        assert_eq!(many[100], "and 50 more bad lines");
    }

    #[test]
    fn a_root_must_be_a_directory() {
        let error = Roots::new(&[PathBuf::from("/no/such/root")]).unwrap_err();
        assert!(error
            .to_string()
            .contains("/no/such/root is not a directory"));
    }
}
