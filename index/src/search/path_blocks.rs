//! Decompressed blocks of the path dictionary, kept between answers by a reader that lives
//! long (`catalog serve`). Each path of an answer lies in a block of its own unless the answer
//! is large, and tantivy-sstable decompresses the block for every lookup, keeping nothing: 60%
//! of `catalog serve`'s time answering tile searches went to zstd, by `perf`. The blocks a
//! search decompresses serve the next search of the same answer, its next page, and other
//! answers whose paths lie in the same directories. At 1.5×10^8 documents the tile search
//! went from 1,070 to 2,198 answers a second, while searches that each ask for other blocks
//! (a random tile and year each) answer as fast as without the cache.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;
use tantivy::columnar::Dictionary;
use tantivy::directory::OwnedBytes;
use tantivy::SegmentOrdinal;
use tantivy_sstable::{BlockReader, SSTable, VoidSSTable};

/// Facts about the cache, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathCacheStats {
    /// Blocks found decompressed.
    pub hits: u64,
    /// Blocks decompressed.
    pub misses: u64,
    /// Bytes the decompressed blocks take.
    pub bytes: u64,
}

/// A bounded cache of decompressed path dictionary blocks, by segment and first ordinal.
pub(crate) struct PathBlocks {
    cache: Cache<(SegmentOrdinal, u64), Arc<Block>, ByBytes>,
    /// Blocks asked for, and of those decompressed.
    wanted: AtomicU64,
    decompressed: AtomicU64,
}

impl PathBlocks {
    /// A cache of at most about `bytes` of decompressed blocks.
    pub(crate) fn new(bytes: u64) -> PathBlocks {
        // A decompressed block is some 4 KB.
        let blocks = usize::try_from(bytes / 4_000).unwrap_or(usize::MAX).max(16);
        PathBlocks {
            cache: Cache::with_weighter(blocks, bytes, ByBytes),
            wanted: AtomicU64::new(0),
            decompressed: AtomicU64::new(0),
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
        // The block being read, its reader, and the ordinal of the path in `path`.
        let mut reading: Option<(Arc<Block>, PathReader, u64)> = None;
        let mut path = Vec::new();
        for ord in ords {
            let address = dictionary.sstable_index.get_block_with_ord(ord);
            let (block, mut reader, mut at) = match reading.take() {
                Some((block, reader, at))
                    if block.first_ordinal == address.first_ordinal && at <= ord =>
                {
                    (block, reader, at)
                }
                _ => {
                    self.wanted.fetch_add(1, Ordering::Relaxed);
                    let block =
                        self.cache
                            .get_or_insert_with(&(segment, address.first_ordinal), || {
                                self.decompressed.fetch_add(1, Ordering::Relaxed);
                                let bytes = dictionary
                                    .sstable_slice
                                    .read_bytes_slice(address.byte_range.clone())?;
                                Block::decompress(address.first_ordinal, bytes).map(Arc::new)
                            })?;
                    let reader = VoidSSTable::delta_reader(block.framed.clone());
                    path.clear();
                    // One before the first: the block's first path is not read yet.
                    let before = block.first_ordinal.wrapping_sub(1);
                    (block, reader, before)
                }
            };
            while at != ord {
                if !reader.advance()? {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("path ordinal {ord} is past the end of its block"),
                    ));
                }
                path.truncate(reader.common_prefix_len());
                path.extend_from_slice(reader.suffix());
                at = at.wrapping_add(1);
            }
            found(&path);
            reading = Some((block, reader, at));
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> PathCacheStats {
        let decompressed = self.decompressed.load(Ordering::Relaxed);
        PathCacheStats {
            hits: self
                .wanted
                .load(Ordering::Relaxed)
                .saturating_sub(decompressed),
            misses: decompressed,
            bytes: self.cache.weight(),
        }
    }
}

type PathReader = tantivy_sstable::DeltaReader<<VoidSSTable as SSTable>::ValueReader>;

/// One block of a path dictionary, decompressed and framed as an uncompressed block, so that
/// tantivy-sstable's reader reads it as it reads any block: the paths are delta-coded, some
/// 4 KB a block. Kept so rather than as the paths themselves, three times the size, the
/// cache holds three times the blocks, and a block decompressed for one path costs no more than
/// tantivy-sstable's own lookup, which decodes up to that path.
struct Block {
    first_ordinal: u64,
    framed: OwnedBytes,
}

impl Block {
    /// Decompresses a block as the dictionary stores it, with tantivy-sstable's own block
    /// reader, and frames it again as an uncompressed block: its length with the flag byte as
    /// a little-endian u32, the flag (0), then the delta-coded paths.
    fn decompress(first_ordinal: u64, stored: OwnedBytes) -> io::Result<Block> {
        let mut reader = BlockReader::new(stored);
        if !reader.read_block()? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "empty path dictionary block",
            ));
        }
        let plain = reader.buffer();
        let length = u32::try_from(plain.len() + 1)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "oversized path block"))?;
        let mut framed = Vec::with_capacity(plain.len() + 5);
        framed.extend_from_slice(&length.to_le_bytes());
        framed.push(0);
        framed.extend_from_slice(plain);
        Ok(Block {
            first_ordinal,
            framed: OwnedBytes::new(framed),
        })
    }
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<(SegmentOrdinal, u64), Arc<Block>> for ByBytes {
    fn weight(&self, _: &(SegmentOrdinal, u64), block: &Arc<Block>) -> u64 {
        (block.framed.len() + std::mem::size_of::<Block>()) as u64
    }
}
