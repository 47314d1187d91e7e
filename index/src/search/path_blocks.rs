//! Decoded blocks of the path dictionary, kept between answers by a reader that lives long
//! (`catalog serve`). Each path of an answer lies in a block of its own unless the answer is
//! large, and tantivy-sstable decompresses the block for every lookup, keeping nothing: 60%
//! of `catalog serve`'s time answering tile searches went to zstd, by `perf`. The blocks a
//! search decodes serve the next search of the same answer, its next page, and other
//! answers whose paths lie in the same directories.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;
use tantivy::columnar::Dictionary;
use tantivy::SegmentOrdinal;
use tantivy_sstable::{SSTable, VoidSSTable};

/// Facts about the cache, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathCacheStats {
    /// Blocks found decoded.
    pub hits: u64,
    /// Blocks decoded.
    pub misses: u64,
    /// Bytes the decoded blocks take.
    pub bytes: u64,
}

/// A bounded cache of decoded path dictionary blocks, by segment and first ordinal.
pub(crate) struct PathBlocks {
    cache: Cache<(SegmentOrdinal, u64), Arc<Block>, ByBytes>,
    /// Blocks asked for, and of those decoded.
    wanted: AtomicU64,
    decoded: AtomicU64,
}

impl PathBlocks {
    /// A cache of at most about `bytes` of decoded blocks.
    pub(crate) fn new(bytes: u64) -> PathBlocks {
        // A decoded block holds some 100 paths, about 10 KB.
        let blocks = usize::try_from(bytes / 10_000)
            .unwrap_or(usize::MAX)
            .max(16);
        PathBlocks {
            cache: Cache::with_weighter(blocks, bytes, ByBytes),
            wanted: AtomicU64::new(0),
            decoded: AtomicU64::new(0),
        }
    }

    /// Hands `found` the path of each ordinal of `ords`, in order; `ords` are sorted and of
    /// segment `segment`, whose path dictionary is `dictionary`.
    pub(crate) fn resolve(
        &self,
        segment: SegmentOrdinal,
        dictionary: &Dictionary,
        ords: impl Iterator<Item = u64>,
        mut found: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        let mut block: Option<Arc<Block>> = None;
        for ord in ords {
            let current = match block.take() {
                Some(held) if held.holds(ord) => held,
                _ => {
                    let address = dictionary.sstable_index.get_block_with_ord(ord);
                    self.wanted.fetch_add(1, Ordering::Relaxed);
                    self.cache
                        .get_or_insert_with(&(segment, address.first_ordinal), || {
                            self.decoded.fetch_add(1, Ordering::Relaxed);
                            let bytes = dictionary
                                .sstable_slice
                                .read_bytes_slice(address.byte_range.clone())?;
                            Block::decode(address.first_ordinal, VoidSSTable::delta_reader(bytes))
                                .map(Arc::new)
                        })?
                }
            };
            let path = current.path(ord).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("path ordinal {ord} is past the end of its dictionary"),
                )
            })?;
            found(path);
            block = Some(current);
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> PathCacheStats {
        let decoded = self.decoded.load(Ordering::Relaxed);
        PathCacheStats {
            hits: self.wanted.load(Ordering::Relaxed).saturating_sub(decoded),
            misses: decoded,
            bytes: self.cache.weight(),
        }
    }
}

/// The paths of one block, one after another, with where each ends.
struct Block {
    first_ordinal: u64,
    text: Vec<u8>,
    ends: Vec<u32>,
}

impl Block {
    fn decode(
        first_ordinal: u64,
        mut reader: tantivy_sstable::DeltaReader<<VoidSSTable as SSTable>::ValueReader>,
    ) -> io::Result<Block> {
        let mut block = Block {
            first_ordinal,
            text: Vec::new(),
            ends: Vec::new(),
        };
        let mut path = Vec::new();
        while reader.advance()? {
            path.truncate(reader.common_prefix_len());
            path.extend_from_slice(reader.suffix());
            block.text.extend_from_slice(&path);
            let end = u32::try_from(block.text.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "oversized block"))?;
            block.ends.push(end);
        }
        Ok(block)
    }

    fn holds(&self, ord: u64) -> bool {
        ord.checked_sub(self.first_ordinal)
            .is_some_and(|i| i < self.ends.len() as u64)
    }

    fn path(&self, ord: u64) -> Option<&[u8]> {
        let i = usize::try_from(ord.checked_sub(self.first_ordinal)?).ok()?;
        let end = *self.ends.get(i)? as usize;
        let start = i
            .checked_sub(1)
            .map_or(0, |before| self.ends[before] as usize);
        Some(&self.text[start..end])
    }
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<(SegmentOrdinal, u64), Arc<Block>> for ByBytes {
    fn weight(&self, _: &(SegmentOrdinal, u64), block: &Arc<Block>) -> u64 {
        (block.text.capacity() + 4 * block.ends.capacity() + std::mem::size_of::<Block>()) as u64
    }
}
