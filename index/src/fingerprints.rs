//! The fingerprints of the indexed documents an incremental rebuild compares with what it
//! finds, and which of them it has seen: 8 bytes and a bit for each, where a hash map of
//! documents took about 40 (issue 14: 1.5×10^8 documents in at most 4 GiB).

/// A set of fingerprints that remembers which have been seen. Fingerprints are hashes, so
/// their leading bits spread evenly: a table of where each value of the leading bits starts
/// in the sorted array leaves a lookup a search among a few neighbours.
pub struct FingerprintSet {
    sorted: Vec<u64>,
    seen: Vec<u64>,
    unseen: usize,
    /// `starts[b]` is the position of the first fingerprint whose leading bits are `b`.
    starts: Vec<usize>,
    leading_bits: u32,
}

impl FingerprintSet {
    /// Fingerprints per entry of the start table: few to search, and the table half a byte a
    /// fingerprint.
    const PER_START: usize = 16;

    /// The set of `fingerprints`, none of them seen; one listed twice is held once.
    pub fn new(mut fingerprints: Vec<u64>) -> FingerprintSet {
        fingerprints.sort_unstable();
        fingerprints.dedup();
        fingerprints.shrink_to_fit();
        let leading_bits = (fingerprints.len() / Self::PER_START)
            .checked_ilog2()
            .unwrap_or(0);
        let mut starts = Vec::with_capacity((1 << leading_bits) + 1);
        let mut position = 0;
        for bucket in 0..1u64 << leading_bits {
            while fingerprints
                .get(position)
                .is_some_and(|&f| leading(f, leading_bits) < bucket)
            {
                position += 1;
            }
            starts.push(position);
        }
        starts.push(fingerprints.len());
        FingerprintSet {
            seen: vec![0; fingerprints.len().div_ceil(64)],
            unseen: fingerprints.len(),
            sorted: fingerprints,
            starts,
            leading_bits,
        }
    }

    fn position(&self, fingerprint: u64) -> Option<usize> {
        let bucket = leading(fingerprint, self.leading_bits) as usize;
        let (from, to) = (self.starts[bucket], self.starts[bucket + 1]);
        self.sorted[from..to]
            .binary_search(&fingerprint)
            .ok()
            .map(|i| from + i)
    }

    fn is_seen(&self, position: usize) -> bool {
        self.seen[position / 64] & (1 << (position % 64)) != 0
    }

    /// Marks `fingerprint` seen; false when the set does not hold it or it was seen before.
    pub fn see(&mut self, fingerprint: u64) -> bool {
        match self.position(fingerprint) {
            Some(position) if !self.is_seen(position) => {
                self.seen[position / 64] |= 1 << (position % 64);
                self.unseen -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether the set holds `fingerprint` and it has not been seen.
    pub fn is_unseen(&self, fingerprint: u64) -> bool {
        self.position(fingerprint)
            .is_some_and(|position| !self.is_seen(position))
    }

    /// How many fingerprints have not been seen.
    pub fn unseen(&self) -> usize {
        self.unseen
    }
}

/// The leading `bits` bits of `fingerprint`.
fn leading(fingerprint: u64, bits: u32) -> u64 {
    fingerprint.checked_shr(64 - bits).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fingerprint_is_seen_once_and_only_those_held() {
        // Spread like hashes, with some sharing their leading bits and one listed twice.
        let held: Vec<u64> = (1..=1000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .chain([7, 7, u64::MAX, 0])
            .collect();
        let mut set = FingerprintSet::new(held.clone());
        assert_eq!(set.unseen(), 1003);
        for &fingerprint in &held[..500] {
            assert!(set.is_unseen(fingerprint));
            assert!(set.see(fingerprint));
            assert!(!set.is_unseen(fingerprint));
        }
        assert!(!set.see(held[0]), "seen twice");
        assert!(!set.see(8) && !set.is_unseen(8), "never held");
        assert_eq!(set.unseen(), 503);
        for &fingerprint in &held[500..] {
            assert!(set.is_unseen(fingerprint));
        }
        assert!(set.see(7) && !set.see(7));
        assert_eq!(set.unseen(), 502);
    }

    #[test]
    fn an_empty_set_holds_nothing() {
        let mut set = FingerprintSet::new(Vec::new());
        assert!(!set.see(0) && !set.see(u64::MAX));
        assert_eq!(set.unseen(), 0);
    }
}
