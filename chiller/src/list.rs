//! The one reader of staging lists, for `catalog stage`, `POST /stage` of `catalog serve` and
//! the upload of the Chiller-compatible server: one absolute path a line, blank lines skipped,
//! a `\r` before the newline dropped. Lines are read with a limit, since a path is at most
//! `PATH_MAX` bytes: a longer line is never held whole.

use std::fmt;
use std::io::{self, BufRead, Read};

use anyhow::{bail, Context};
use catalog_index::list::PATH_MAX;

use crate::wire::excerpt;

/// What is wrong with a line of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    /// It is not UTF-8.
    NotUtf8,
    /// It is longer than any path.
    TooLong,
    /// It holds a NUL byte, which no path does.
    HoldsNul,
    /// It is a relative path: Chiller takes absolute ones only.
    NotAbsolute,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineProblem::NotUtf8 => "is not UTF-8",
            LineProblem::TooLong => "is longer than any path (PATH_MAX is 4096 bytes)",
            LineProblem::HoldsNul => "holds a NUL byte",
            LineProblem::NotAbsolute => "is not an absolute path",
        })
    }
}

/// A line of a list that is not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListLine {
    /// Its 1-based number.
    pub number: u64,
    /// Its path, or the line as it can be shown (escaped, cut short if too long) and what is
    /// wrong with it.
    pub path: Result<String, (String, LineProblem)>,
}

/// The lines of a list that are not blank, in order.
pub struct ListLines<R> {
    reader: R,
    number: u64,
    bytes: Vec<u8>,
}

impl<R: BufRead> ListLines<R> {
    /// Reads the lines of `reader`.
    pub fn new(reader: R) -> ListLines<R> {
        ListLines {
            reader,
            number: 0,
            bytes: Vec::new(),
        }
    }

    /// Reads the rest of an over-long line, holding none of it.
    fn skip_line(&mut self) -> io::Result<()> {
        let mut rest = Vec::new();
        loop {
            rest.clear();
            let read = (&mut self.reader)
                .take(PATH_MAX as u64)
                .read_until(b'\n', &mut rest)?;
            if read == 0 || rest.ends_with(b"\n") {
                return Ok(());
            }
        }
    }
}

impl<R: BufRead> Iterator for ListLines<R> {
    type Item = io::Result<ListLine>;

    fn next(&mut self) -> Option<io::Result<ListLine>> {
        loop {
            self.bytes.clear();
            // Room for a path of PATH_MAX bytes and its `\r\n`.
            let limit = PATH_MAX as u64 + 2;
            let read = match (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.bytes)
            {
                Ok(0) => return None,
                Ok(read) => read,
                Err(error) => return Some(Err(error)),
            };
            self.number += 1;
            let ended = self.bytes.ends_with(b"\n");
            let line = self.bytes.strip_suffix(b"\n").unwrap_or(&self.bytes);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let number = self.number;
            let problem = |shown: String, problem| ListLine {
                number,
                path: Err((shown, problem)),
            };
            if line.len() > PATH_MAX || (read as u64 == limit && !ended) {
                let shown = excerpt(&String::from_utf8_lossy(line), true);
                if !ended {
                    if let Err(error) = self.skip_line() {
                        return Some(Err(error));
                    }
                }
                return Some(Ok(problem(shown, LineProblem::TooLong)));
            }
            let Ok(text) = std::str::from_utf8(line) else {
                let shown = String::from_utf8_lossy(line).into_owned();
                return Some(Ok(problem(shown, LineProblem::NotUtf8)));
            };
            let line = if text.contains('\0') {
                problem(text.replace('\0', "\\0"), LineProblem::HoldsNul)
            } else if !text.starts_with('/') {
                problem(text.to_string(), LineProblem::NotAbsolute)
            } else {
                ListLine {
                    number,
                    path: Ok(text.to_string()),
                }
            };
            return Some(Ok(line));
        }
    }
}

/// Reads a whole list to stage: its paths in order, or one line of error naming the list
/// (`name`) and the lines at fault.
pub fn read_list(reader: impl BufRead, name: &str) -> anyhow::Result<Vec<String>> {
    let mut paths = Vec::new();
    let mut relative = Vec::new();
    for line in ListLines::new(reader) {
        let line = line.with_context(|| format!("cannot read the list {name}"))?;
        let number = line.number;
        match line.path {
            Ok(path) => paths.push(path),
            Err((shown, LineProblem::NotAbsolute)) => {
                relative.push(format!("line {number}: {}", excerpt(&shown, false)))
            }
            Err((_, LineProblem::NotUtf8)) => {
                bail!("the list {name} holds no text at line {number}")
            }
            Err((_, LineProblem::TooLong)) => bail!(
                "the list {name} has a line longer than any path at line {number} (PATH_MAX is {PATH_MAX} bytes)"
            ),
            Err((_, LineProblem::HoldsNul)) => {
                bail!("the list {name} holds a NUL byte at line {number}")
            }
        }
    }
    if !relative.is_empty() {
        let more = match relative.len() {
            0..=3 => String::new(),
            n => format!(" and {} more", n - 3),
        };
        bail!(
            "the list {name} holds relative paths ({}{more}): Chiller takes absolute paths only",
            relative[..relative.len().min(3)].join(", ")
        );
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8]) -> Vec<ListLine> {
        ListLines::new(text).map(Result::unwrap).collect()
    }

    #[test]
    fn lines_are_paths_or_say_what_is_wrong() {
        let long = format!("/{}", "y".repeat(10 << 20));
        let text = format!("/a b.zip\r\n\n  \nrelative.zip\n/x\0y\n{long}\n/\u{e9}\n");
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"/\xff\n/last");
        let read = lines(&bytes);
        let numbers: Vec<u64> = read.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [1, 4, 5, 6, 7, 8, 9]);
        assert_eq!(read[0].path, Ok("/a b.zip".to_string()));
        assert_eq!(
            read[1].path,
            Err(("relative.zip".into(), LineProblem::NotAbsolute))
        );
        assert_eq!(read[2].path, Err(("/x\\0y".into(), LineProblem::HoldsNul)));
        let (shown, problem) = read[3].path.clone().unwrap_err();
        assert_eq!(problem, LineProblem::TooLong);
        assert!(shown.len() < 120 && shown.ends_with("..."), "{shown}");
        assert_eq!(read[4].path, Ok("/\u{e9}".to_string()));
        assert_eq!(
            read[5].path,
            Err(("/\u{fffd}".into(), LineProblem::NotUtf8))
        );
        assert_eq!(
            read[6].path,
            Ok("/last".to_string()),
            "the last line needs no newline"
        );
        let exactly = format!("/{}\n", "p".repeat(PATH_MAX - 1));
        assert!(
            lines(exactly.as_bytes())[0].path.is_ok(),
            "PATH_MAX bytes are a path"
        );
    }

    #[test]
    fn a_list_to_stage_holds_absolute_paths_only() {
        assert_eq!(
            read_list(&b"/a\r\n\n/b\n"[..], "l.txt").unwrap(),
            ["/a", "/b"]
        );
        let relative = read_list(&b"a\n/b\n./c\n../d\ne\nf\n"[..], "l.txt").unwrap_err();
        assert_eq!(
            relative.to_string(),
            "the list l.txt holds relative paths (line 1: a, line 3: ./c, line 4: ../d and 2 more): \
             Chiller takes absolute paths only"
        );
        let long = format!("/a\n/{}\n", "y".repeat(PATH_MAX));
        assert_eq!(
            read_list(long.as_bytes(), "-").unwrap_err().to_string(),
            "the list - has a line longer than any path at line 2 (PATH_MAX is 4096 bytes)"
        );
        assert_eq!(
            read_list(&b"/a\n/\xff\n"[..], "-").unwrap_err().to_string(),
            "the list - holds no text at line 2"
        );
        assert!(read_list(&b"\n"[..], "-").unwrap().is_empty());
    }
}
