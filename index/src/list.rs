//! Reading file lists from policy scans instead of walking the tree.
//!
//! Large parallel file systems list their files far faster with their policy engines than any
//! walk. Three line formats are accepted, recognised line by line:
//!
//! - a plain absolute path: size, mtime and state stay unknown (never invented);
//! - `find ROOT -type f -printf '%s %T@ %b %p\n'`: size in bytes, mtime in seconds (with a
//!   fraction), allocated 512-byte blocks, then the path (which may hold spaces);
//! - the LIST file of a GPFS `mmapplypolicy` run: `inode generation snapshot [show] -- path`.
//!   The free-form SHOW() text may carry `size=` (or `file_size=`) bytes, `kb=` (or
//!   `kb_allocated=`) allocated KiB and `mtime=` (or `modification_time=`) as Unix seconds or
//!   `YYYY-MM-DD HH:MM:SS[.ffffff]` UTC; a value runs to the next ` key=`. A rule that writes
//!   them:
//!
//!   ```text
//!   RULE EXTERNAL LIST 'catalog' EXEC ''
//!   RULE 'all' LIST 'catalog' SHOW('size=' || VARCHAR(FILE_SIZE) || ' kb=' ||
//!       VARCHAR(KB_ALLOCATED) || ' mtime=' || VARCHAR(MODIFICATION_TIME))
//!   ```
//!
//!   Paths escaped by the policy's `ESCAPE '%'` (`%20` for a space) are decoded.
//!
//! Blank lines and lines starting with `#` are skipped; anything else that does not parse is
//! reported as a [`MalformedLine`] and skipped, and the lines around it are read as usual. So is
//! a path longer than `PATH_MAX` (4,096 bytes), and a line longer than [`MAX_LINE`], of which
//! no more than that is held in memory.

use std::io::BufRead;

/// The longest path a list may name, in bytes: Linux's `PATH_MAX`.
pub const PATH_MAX: usize = 4096;

/// The longest line a list may hold, in bytes without its line end: room for a path of
/// `PATH_MAX` bytes written with `%XX` escapes, and the fields before it.
pub const MAX_LINE: usize = 4 * PATH_MAX;

use crate::record::{FileRecord, State};

/// A line of a list that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct MalformedLine {
    /// Its 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a list yields no record for a line.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The line is not understood: it is skipped, and reading goes on.
    #[error(transparent)]
    Malformed(#[from] MalformedLine),
    /// The list cannot be read on: whatever follows is unknown.
    #[error("line {line}: cannot read on: {source}")]
    Read {
        /// The 1-based number of the line that could not be read.
        line: u64,
        /// The error reading it.
        source: std::io::Error,
    },
}

/// Reads a list line by line, yielding a record per file. Lines are read as bytes, so a line
/// that is not UTF-8 is reported rather than ending the read; an I/O error ends the iteration
/// after one last [`ListError::Read`].
pub struct ListReader<R: BufRead> {
    reader: R,
    line: u64,
    buffer: Vec<u8>,
    done: bool,
}

impl<R: BufRead> ListReader<R> {
    /// Reads records from `reader`.
    pub fn new(reader: R) -> Self {
        ListReader {
            reader,
            line: 0,
            buffer: Vec::with_capacity(512),
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for ListReader<R> {
    type Item = Result<FileRecord, ListError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buffer.clear();
            match read_line(&mut self.reader, &mut self.buffer, MAX_LINE) {
                Ok(None) => self.done = true,
                Ok(Some(length)) => {
                    self.line += 1;
                    let malformed = |reason: String| MalformedLine {
                        line: self.line,
                        reason,
                    };
                    if length > MAX_LINE {
                        return Some(Err(malformed(format!(
                            "the line is {length} bytes long, longer than any path \
                             (PATH_MAX is {PATH_MAX} bytes)"
                        ))
                        .into()));
                    }
                    let Ok(text) = std::str::from_utf8(&self.buffer) else {
                        return Some(Err(malformed("not UTF-8".into()).into()));
                    };
                    match parse_line(text) {
                        Ok(Some(record)) => return Some(Ok(record)),
                        Ok(None) => {}
                        Err(reason) => return Some(Err(malformed(reason).into())),
                    }
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(ListError::Read {
                        line: self.line + 1,
                        source: error,
                    }));
                }
            }
        }
        None
    }
}

/// Reads a line into `buffer`, keeping no more than `limit` bytes of it and its line end, and
/// skipping the rest up to the next newline. `None` at the end of the input, else the line's
/// whole length without its line end.
fn read_line(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Option<usize>> {
    let mut read = 0usize;
    let mut ended = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            break;
        }
        let (used, end) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        // `\r\n` ends a line too: room for both beyond the limit.
        let room = (limit + 2).saturating_sub(buffer.len());
        buffer.extend_from_slice(&available[..used.min(room)]);
        reader.consume(used);
        read += used;
        if end {
            ended = true;
            break;
        }
    }
    if read == 0 {
        return Ok(None);
    }
    let mut length = read - usize::from(ended);
    if ended && buffer.len() == read && read >= 2 && buffer[read - 2] == b'\r' {
        length -= 1;
    }
    Ok(Some(length))
}

/// Parses one line: `Ok(None)` for blank and comment lines.
pub fn parse_line(line: &str) -> Result<Option<FileRecord>, String> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let record = if line.starts_with('/') {
        FileRecord {
            path: line.to_string(),
            size: None,
            mtime: None,
            state: None,
        }
    } else if let Some((head, path)) = line.split_once(" -- ") {
        parse_policy(head, path)?
    } else {
        parse_find(line)?
    };
    check_path(&record.path)?;
    Ok(Some(record))
}

/// `%s %T@ %b %p`.
fn parse_find(line: &str) -> Result<FileRecord, String> {
    let mut fields = line.splitn(4, ' ');
    let (Some(size), Some(mtime), Some(blocks), Some(path)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(
            "expected an absolute path, `find -printf '%s %T@ %b %p'` fields or a GPFS list line"
                .into(),
        );
    };
    let size = number(size, "size")?;
    let blocks = number(blocks, "blocks")?;
    Ok(FileRecord {
        path: path.to_string(),
        size: Some(size),
        mtime: Some(seconds(mtime).ok_or_else(|| format!("bad mtime '{mtime}'"))?),
        state: Some(State::from_blocks(size, blocks)),
    })
}

/// `inode generation snapshot [show] -- path`.
fn parse_policy(head: &str, path: &str) -> Result<FileRecord, String> {
    let mut fields = head.trim_start().splitn(4, ' ');
    for name in ["inode", "generation", "snapshot id"] {
        number(fields.next().unwrap_or(""), name)?;
    }
    let show = fields.next().unwrap_or("");
    let (mut size, mut kib, mut mtime) = (None, None, None);
    for (key, value) in show_fields(show) {
        match key.to_ascii_lowercase().as_str() {
            "size" | "file_size" => size = Some(number(value, "size")?),
            "kb" | "kb_allocated" => kib = Some(number(value, "kb")?),
            "mtime" | "modification_time" => {
                mtime = Some(
                    seconds(value)
                        .or_else(|| timestamp(value))
                        .ok_or_else(|| format!("bad mtime '{value}'"))?,
                )
            }
            _ => {}
        }
    }
    let state = match (size, kib) {
        (Some(size), Some(kib)) => Some(State::from_blocks(size, kib.saturating_mul(2))),
        _ => None,
    };
    Ok(FileRecord {
        path: unescape(path)?,
        size,
        mtime,
        state,
    })
}

/// Splits `a=1 b=two words c=3` into its pairs: a value runs to the next ` key=`.
fn show_fields(show: &str) -> Vec<(&str, &str)> {
    let mut starts: Vec<(usize, usize)> = Vec::new();
    let bytes = show.as_bytes();
    let mut word_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b' ' {
            word_start = i + 1;
        } else if b == b'='
            && i > word_start
            && bytes[word_start..i]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            starts.push((word_start, i));
            word_start = usize::MAX;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, &(key_start, eq))| {
            let end = starts.get(n + 1).map_or(show.len(), |&(next, _)| next);
            (&show[key_start..eq], show[eq + 1..end].trim())
        })
        .collect()
}

/// Decodes `%XX` escapes.
fn unescape(path: &str) -> Result<String, String> {
    if !path.contains('%') {
        return Ok(path.to_string());
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| format!("bad escape in '{path}'"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("escapes in '{path}' do not decode to UTF-8"))
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    text.parse().map_err(|_| format!("bad {what} '{text}'"))
}

/// Whole seconds of `1700000000` or `1700000000.123`.
fn seconds(text: &str) -> Option<i64> {
    let whole = text.split_once('.').map_or(text, |(whole, fraction)| {
        if fraction.bytes().all(|b| b.is_ascii_digit()) {
            whole
        } else {
            ""
        }
    });
    whole.parse().ok()
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, taken as UTC.
fn timestamp(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let whole = text.split_once('.').map_or(text, |(whole, _)| whole);
    time::PrimitiveDateTime::parse(whole, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// Rejects paths that are not plain absolute paths, and paths longer than `PATH_MAX`.
fn check_path(path: &str) -> Result<(), String> {
    if path.len() > PATH_MAX {
        return Err(format!(
            "the path is {} bytes long, longer than PATH_MAX ({PATH_MAX} bytes)",
            path.len()
        ));
    }
    if !path.starts_with('/') {
        return Err(format!("'{path}' is not an absolute path"));
    }
    if path.contains('\0') {
        return Err("the path holds a NUL byte".into());
    }
    if path.split('/').any(|part| part == "..") {
        return Err(format!("'{path}' holds '..'"));
    }
    Ok(())
}

/// Gives its bytes, then fails as a broken device or a dropped mount would.
#[cfg(test)]
pub(crate) struct FailingReader(std::io::Cursor<Vec<u8>>);

#[cfg(test)]
impl FailingReader {
    pub(crate) fn new(bytes: Vec<u8>) -> FailingReader {
        FailingReader(std::io::Cursor::new(bytes))
    }
}

#[cfg(test)]
impl std::io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

#[cfg(test)]
impl BufRead for FailingReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.0.position() == self.0.get_ref().len() as u64 {
            return Err(std::io::Error::other("device gone"));
        }
        self.0.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.0.consume(amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const S2: &str = "/eodc/products/copernicus.eu/s2a_prd_msil1c/2023/06/15/S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip";

    fn record(line: &str) -> FileRecord {
        parse_line(line).unwrap().unwrap()
    }

    #[test]
    fn plain_paths_know_nothing_else() {
        assert_eq!(
            record(S2),
            FileRecord {
                path: S2.into(),
                size: None,
                mtime: None,
                state: None
            }
        );
        assert_eq!(record("/a b/c d.zip\r\n").path, "/a b/c d.zip");
    }

    #[test]
    fn find_printf_lines() {
        let r = record(&format!("843000000 1686790000.1234567890 0 {S2}"));
        assert_eq!(
            (r.size, r.mtime, r.state),
            (Some(843_000_000), Some(1_686_790_000), Some(State::Tape))
        );
        let r = record("4096 1686790000.5 8 /data/with space/x.zip");
        assert_eq!(
            (r.path.as_str(), r.state),
            ("/data/with space/x.zip", Some(State::Disk))
        );
    }

    #[test]
    fn gpfs_lines() {
        let r = record(&format!("1234567 65538 0  -- {S2}"));
        assert_eq!((r.path.as_str(), r.size, r.state), (S2, None, None));
        let r = record(&format!(
            "1 2 0 size=843000000 kb=0 mtime=2023-06-16 01:02:03.000000 -- {S2}"
        ));
        assert_eq!((r.size, r.state), (Some(843_000_000), Some(State::Tape)));
        assert_eq!(r.mtime, Some(1_686_877_323));
        let r = record("1 2 0 FILE_SIZE=4096 KB_ALLOCATED=4 MODIFICATION_TIME=1686790000 other=x y -- /a%20b/c%25d.zip");
        assert_eq!(
            (r.path.as_str(), r.size, r.mtime, r.state),
            (
                "/a b/c%d.zip",
                Some(4096),
                Some(1_686_790_000),
                Some(State::Disk)
            )
        );
    }

    #[test]
    fn malformed_lines_say_why() {
        for (line, needle) in [
            ("relative/path.zip", "expected an absolute path"),
            ("abc 1.0 8 /x", "bad size"),
            ("1 abc 8 /x", "bad mtime"),
            ("1 1.0 -8 /x", "bad blocks"),
            ("1 2 -- /x", "bad snapshot id"),
            ("x 2 3 -- /x", "bad inode"),
            ("1 2 3 -- relative", "not an absolute path"),
            ("1 2 3 -- /a%zz", "bad escape"),
            ("1 2 3 size=big -- /x", "bad size"),
            ("/a/../b", "'..'"),
            ("/a/\0b", "NUL"),
        ] {
            let reason = parse_line(line).expect_err(line);
            assert!(reason.contains(needle), "{line}: {reason}");
        }
    }

    #[test]
    fn a_reader_reports_bad_lines_and_keeps_the_rest() {
        let mut list = Vec::new();
        list.extend_from_slice(format!("{S2}\n\n# comment\nbad line\n").as_bytes());
        list.extend_from_slice(b"/x/\xff.zip\n");
        list.extend_from_slice(b"5 1.0 0 /y.zip\r\n");
        let items: Vec<_> = ListReader::new(Cursor::new(list)).collect();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].as_ref().unwrap().path, S2);
        let malformed = |item: &Result<FileRecord, ListError>| match item {
            Err(ListError::Malformed(line)) => line.clone(),
            other => panic!("not a malformed line: {other:?}"),
        };
        assert_eq!(malformed(&items[1]).line, 4);
        assert_eq!(
            malformed(&items[2]),
            MalformedLine {
                line: 5,
                reason: "not UTF-8".into()
            }
        );
        assert_eq!(items[3].as_ref().unwrap().path, "/y.zip");
    }

    #[test]
    fn over_long_lines_are_malformed_and_never_held_whole() {
        let long_path = format!("/{}", "a".repeat(PATH_MAX));
        let reason = parse_line(&long_path).unwrap_err();
        assert!(
            reason.contains("longer than PATH_MAX (4096 bytes)"),
            "{reason}"
        );
        let longest = format!("/{}", "a".repeat(PATH_MAX - 1));
        assert_eq!(record(&longest).path, longest);
        let reason = parse_line(&format!("5 1.0 0 {long_path}")).unwrap_err();
        assert!(reason.contains("longer than PATH_MAX"), "{reason}");

        let mut list = Vec::new();
        list.extend_from_slice(format!("{S2}\n{long_path}\r\n").as_bytes());
        list.extend_from_slice(&vec![b'/'; 10 << 20]);
        list.extend_from_slice(format!("\n{longest}\n/last.zip").as_bytes());
        let mut reader = ListReader::new(Cursor::new(list));
        assert_eq!(reader.next().unwrap().unwrap().path, S2);
        let malformed = |item: Option<Result<FileRecord, ListError>>| match item {
            Some(Err(ListError::Malformed(line))) => line,
            other => panic!("not a malformed line: {other:?}"),
        };
        let line = malformed(reader.next());
        assert_eq!(line.line, 2);
        assert!(line.reason.contains("longer than PATH_MAX"), "{line}");
        let line = malformed(reader.next());
        assert_eq!(
            line,
            MalformedLine {
                line: 3,
                reason: format!(
                    "the line is {} bytes long, longer than any path (PATH_MAX is 4096 bytes)",
                    10 << 20
                )
            }
        );
        assert!(
            reader.buffer.capacity() < 4 * MAX_LINE,
            "the line was not held whole: {}",
            reader.buffer.capacity()
        );
        assert_eq!(reader.next().unwrap().unwrap().path, longest);
        assert_eq!(reader.next().unwrap().unwrap().path, "/last.zip");
        assert!(reader.next().is_none());

        // A line of exactly MAX_LINE bytes is read whole, with either line end.
        for end in ["\n", "\r\n", ""] {
            let line = format!("1 2 0 x={} -- /a.zip{end}", "y".repeat(MAX_LINE - 20));
            let mut buffer = Vec::new();
            let length = read_line(&mut Cursor::new(line.as_bytes()), &mut buffer, MAX_LINE)
                .unwrap()
                .unwrap();
            assert_eq!(length, line.trim_end().len());
            assert_eq!(buffer, line.as_bytes());
        }
    }

    #[test]
    fn a_read_error_ends_the_list_as_a_read_error() {
        let reader = FailingReader::new(format!("{S2}\n{S2}\n").into_bytes());
        let items: Vec<_> = ListReader::new(reader).collect();
        assert_eq!(items.len(), 3);
        assert!(items[1].is_ok());
        assert!(
            matches!(&items[2], Err(ListError::Read { line: 3, .. })),
            "{:?}",
            items[2]
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bytes: Vec<u8> = (0..(state % 40))
                .map(|i| b" -%/.0123456789abc=\x00\xff"[((state >> (i % 60)) % 18) as usize])
                .collect();
            let _ = ListReader::new(Cursor::new(bytes)).count();
        }
        let line = format!("1 2 0 size=1 kb=0 mtime=2023-06-16 01:02:03 -- {S2}");
        for end in 0..=line.len() {
            if let Some(prefix) = line.get(..end) {
                let _ = parse_line(prefix);
            }
        }
    }
}
