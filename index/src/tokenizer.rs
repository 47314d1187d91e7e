//! The tokenizer of file names: alphanumeric runs, lowercased, with Sentinel timestamps split
//! into their day and their time.
//!
//! A name such as `S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip` yields
//! `s2a msil1c 20170101 t100412 n0204 r122 t31nff 20170101 t101120 zip`. Whole timestamps are
//! nearly unique per file: as terms they would fill the dictionary with one-document entries.
//! Split, a day or a time of day is shared by many files, and a query for the whole timestamp
//! (tokenized the same way) still finds its file, while `20170101` alone finds the whole day.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Tokenizer of the `name` field.
#[derive(Clone, Default)]
pub struct NameTokenizer {
    token: Token,
}

/// The tokens of one name.
pub struct NameTokenStream<'a> {
    text: &'a str,
    offset: usize,
    /// The time half of a timestamp whose day was just returned.
    pending_time: Option<usize>,
    token: &'a mut Token,
}

impl Tokenizer for NameTokenizer {
    type TokenStream<'a> = NameTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> NameTokenStream<'a> {
        self.token.reset();
        NameTokenStream {
            text,
            offset: 0,
            pending_time: None,
            token: &mut self.token,
        }
    }
}

/// Whether a token is a Sentinel timestamp `YYYYMMDDTHHMMSS`.
fn is_timestamp(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.len() == 15
        && bytes[8].eq_ignore_ascii_case(&b'T')
        && bytes[..8].iter().chain(&bytes[9..]).all(u8::is_ascii_digit)
}

impl NameTokenStream<'_> {
    fn emit(&mut self, from: usize, to: usize) -> bool {
        self.token.position = self.token.position.wrapping_add(1);
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.text.clear();
        self.token.text.push_str(&self.text[from..to]);
        self.token.text.make_ascii_lowercase();
        if !self.text[from..to].is_ascii() {
            self.token.text = self.token.text.to_lowercase();
        }
        true
    }
}

impl TokenStream for NameTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if let Some(start) = self.pending_time.take() {
            return self.emit(start, start + 7);
        }
        let rest = &self.text[self.offset..];
        let Some(start) = rest.find(char::is_alphanumeric).map(|i| self.offset + i) else {
            self.offset = self.text.len();
            return false;
        };
        let end = self.text[start..]
            .find(|c: char| !c.is_alphanumeric())
            .map_or(self.text.len(), |i| start + i);
        self.offset = end;
        if is_timestamp(&self.text[start..end]) {
            self.pending_time = Some(start + 8);
            return self.emit(start, start + 8);
        }
        self.emit(start, end)
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut tokenizer = NameTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    #[test]
    fn names_split_on_separators_and_timestamps() {
        assert_eq!(
            tokens("S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip"),
            [
                "s2a", "msil1c", "20170101", "t100412", "n0204", "r122", "t31nff", "20170101",
                "t101120", "zip"
            ]
        );
        assert_eq!(tokens("a-b.c__D"), ["a", "b", "c", "d"]);
        assert_eq!(tokens("20170101T1004"), ["20170101t1004"]);
        assert_eq!(tokens("Ünïcode_ÄB"), ["ünïcode", "äb"]);
        assert!(tokens("__..--").is_empty());
        assert!(tokens("").is_empty());
    }
}
