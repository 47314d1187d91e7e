//! Conjunctions that check broad keyword terms in their columns.
//!
//! tantivy intersects postings by seeking each list to the next candidate of the shortest, and
//! its skip list is read entry by entry: `tile:T60WWV AND sat:S2A` at 1.5×10^8 documents walks
//! the 3×10^5 skip entries of `sat:S2A` (4×10^7 documents) and decodes a block of it for each
//! of the tile's few thousand candidates. `catalog serve` spent half its time there at 10^7
//! documents. Keywords of few values are also columns (see `fields::FieldDef::column`), and a
//! term broader than what leads the conjunction is checked there instead: one column read per
//! candidate, whatever the term's size: `/count` of that query at 10^7 documents went from
//! 7,178 to 14,919 answers a second. The choice is made per segment, from the term's document
//! frequency against the lead's.

use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    intersect_scorers, EmptyScorer, EnableScoring, Explanation, Query, Scorer, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocId, DocSet, Score, SegmentReader, TantivyError, Term, COLLECT_BLOCK_BUFFER_LEN, TERMINATED,
};

/// A keyword field's exact value, lowercased as its terms are.
#[derive(Debug, Clone)]
pub(super) struct KeywordCheck {
    /// The field, which is also a column of the same name.
    pub name: &'static str,
    pub handle: Field,
    pub value: String,
}

/// Documents matching every one of `leads` and every one of `checks`.
#[derive(Debug)]
pub(super) struct Conjunction {
    pub leads: Vec<Box<dyn Query>>,
    pub checks: Vec<KeywordCheck>,
}

impl Clone for Conjunction {
    fn clone(&self) -> Self {
        Conjunction {
            leads: self.leads.iter().map(|lead| lead.box_clone()).collect(),
            checks: self.checks.clone(),
        }
    }
}

impl Query for Conjunction {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let leads = self
            .leads
            .iter()
            .map(|lead| lead.weight(enable_scoring))
            .collect::<tantivy::Result<_>>()?;
        let checks = self
            .checks
            .iter()
            .map(|check| {
                let postings = TermQuery::new(check.term(), IndexRecordOption::Basic);
                Ok((check.clone(), postings.weight(enable_scoring)?))
            })
            .collect::<tantivy::Result<_>>()?;
        Ok(Box::new(ConjunctionWeight { leads, checks }))
    }
}

impl KeywordCheck {
    fn term(&self) -> Term {
        Term::from_field_text(self.handle, &self.value)
    }
}

struct ConjunctionWeight {
    leads: Vec<Box<dyn Weight>>,
    /// Each check with the weight of its term's postings.
    checks: Vec<(KeywordCheck, Box<dyn Weight>)>,
}

/// The column ordinals of a segment that hold a keyword's value, in any case.
struct ColumnCheck {
    ords: Column<u64>,
    accepted: Vec<u64>,
}

impl ColumnCheck {
    fn matches(&self, doc: DocId) -> bool {
        self.ords
            .first(doc)
            .is_some_and(|ord| self.accepted.contains(&ord))
    }

    /// Keeps those of `docs` that match, in order; returns how many.
    fn retain(&self, docs: &mut [DocId]) -> usize {
        let mut ords = [None; COLLECT_BLOCK_BUFFER_LEN];
        let ords = &mut ords[..docs.len()];
        self.ords.first_vals(docs, ords);
        let mut kept = 0;
        for (i, ord) in ords.iter().enumerate() {
            if ord.is_some_and(|ord| self.accepted.contains(&ord)) {
                docs[kept] = docs[i];
                kept += 1;
            }
        }
        kept
    }
}

impl ConjunctionWeight {
    /// The column check of `check` in `reader`; `None` when the segment has no such column.
    fn column_check(
        reader: &SegmentReader,
        check: &KeywordCheck,
    ) -> tantivy::Result<Option<ColumnCheck>> {
        let Some(column) = reader.fast_fields().str(check.name)? else {
            return Ok(None);
        };
        Ok(Some(ColumnCheck {
            ords: column.ords().clone(),
            accepted: keyword_ords(&column, &check.value)?,
        }))
    }
}

/// The ordinals of a keyword column that hold `value` (lowercase), in any case: the column
/// holds values as the files spell them and terms are lowercase. Keywords take few values, so
/// reading the whole dictionary costs microseconds.
pub(crate) fn keyword_ords(column: &StrColumn, value: &str) -> std::io::Result<Vec<u64>> {
    let mut accepted = Vec::new();
    let mut terms = column.dictionary().stream()?;
    while terms.advance() {
        if std::str::from_utf8(terms.key()).is_ok_and(|v| v.to_lowercase() == value) {
            accepted.push(terms.term_ord());
        }
    }
    Ok(accepted)
}

impl Weight for ConjunctionWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut scorers = self
            .leads
            .iter()
            .map(|lead| lead.scorer(reader, boost))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let mut checks = Vec::with_capacity(self.checks.len());
        for (check, postings) in &self.checks {
            let doc_freq = reader
                .inverted_index(check.handle)?
                .doc_freq(&check.term())?;
            if doc_freq == 0 {
                return Ok(Box::new(EmptyScorer));
            }
            checks.push((doc_freq, check, postings));
        }
        checks.sort_by_key(|(doc_freq, ..)| *doc_freq);
        let mut columns = Vec::new();
        for (doc_freq, check, postings) in checks {
            let lead = scorers.iter().map(|s| s.size_hint()).min();
            if lead.is_some_and(|lead| doc_freq >= lead) {
                if let Some(column) = Self::column_check(reader, check)? {
                    columns.push(column);
                    continue;
                }
            }
            scorers.push(postings.scorer(reader, boost)?);
        }
        let lead = intersect_scorers(scorers, reader.num_docs());
        Ok(if columns.is_empty() {
            lead
        } else {
            Box::new(Checked::new(lead, columns))
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("Conjunction", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )))
        }
    }
}

/// The documents of `lead` whose columns pass every check. They are checked a block at a time
/// when collected (see `fill_buffer`); `ready[next..]` holds those of a block not yet handed
/// out, and the lead stays on a document that passes (or the end).
struct Checked {
    lead: Box<dyn Scorer>,
    columns: Vec<ColumnCheck>,
    ready: [DocId; COLLECT_BLOCK_BUFFER_LEN],
    ready_len: usize,
    next: usize,
}

impl Checked {
    fn new(lead: Box<dyn Scorer>, columns: Vec<ColumnCheck>) -> Checked {
        let mut checked = Checked {
            lead,
            columns,
            ready: [0; COLLECT_BLOCK_BUFFER_LEN],
            ready_len: 0,
            next: 0,
        };
        checked.settle();
        checked
    }

    fn passes(&self, doc: DocId) -> bool {
        self.columns.iter().all(|column| column.matches(doc))
    }

    /// Moves the lead to its first document from here that passes.
    fn settle(&mut self) -> DocId {
        let mut doc = self.lead.doc();
        while doc != TERMINATED && !self.passes(doc) {
            doc = self.lead.advance();
        }
        doc
    }

    /// Checks the lead's next block of documents, keeping those that pass in `ready`.
    fn check_block(&mut self) {
        let mut block = [0; COLLECT_BLOCK_BUFFER_LEN];
        let mut len = self.lead.fill_buffer(&mut block);
        for column in &self.columns {
            len = column.retain(&mut block[..len]);
        }
        self.ready = block;
        self.ready_len = len;
        self.next = 0;
        self.settle();
    }
}

impl DocSet for Checked {
    fn advance(&mut self) -> DocId {
        if self.next < self.ready_len {
            self.next += 1;
            return self.doc();
        }
        self.lead.advance();
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        while self.next < self.ready_len && self.ready[self.next] < target {
            self.next += 1;
        }
        if self.next == self.ready_len && self.lead.doc() < target {
            self.lead.seek(target);
            self.settle();
        }
        self.doc()
    }

    fn fill_buffer(&mut self, buffer: &mut [DocId; COLLECT_BLOCK_BUFFER_LEN]) -> usize {
        let mut len = 0;
        loop {
            while self.next < self.ready_len && len < buffer.len() {
                buffer[len] = self.ready[self.next];
                len += 1;
                self.next += 1;
            }
            if len == buffer.len() || self.lead.doc() == TERMINATED {
                return len;
            }
            self.check_block();
        }
    }

    fn doc(&self) -> DocId {
        if self.next < self.ready_len {
            self.ready[self.next]
        } else {
            self.lead.doc()
        }
    }

    fn size_hint(&self) -> u32 {
        self.lead.size_hint()
    }
}

impl Scorer for Checked {
    fn score(&mut self) -> Score {
        self.lead.score()
    }
}
