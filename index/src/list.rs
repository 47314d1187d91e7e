//! PLACEHOLDER until the list parser lands (helper writing list.rs overwrites this file).
use crate::record::FileRecord;
use std::io::BufRead;
/// Placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct MalformedLine {
    pub line: u64,
    pub reason: String,
}
/// Placeholder.
pub struct ListReader<R: BufRead> {
    _reader: R,
}
impl<R: BufRead> ListReader<R> {
    /// Placeholder.
    pub fn new(reader: R) -> Self {
        ListReader { _reader: reader }
    }
}
impl<R: BufRead> Iterator for ListReader<R> {
    type Item = Result<FileRecord, MalformedLine>;
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}
