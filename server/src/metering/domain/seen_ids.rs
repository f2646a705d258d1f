//! The event ids this instance has stored lately, as a Bloom filter: "not seen" is certain, "seen"
//! may be wrong about 1 time in 100. Ingestion looks up in the database only the ids the filter
//! has seen; the others are stored as new, and the unique index still refuses any it was wrong
//! about (an id stored by another instance, or before a restart). Looking every id up was 37% of
//! SQLite's ingestion writer's time.
use std::hash::{DefaultHasher, Hash, Hasher};

/// Bits per remembered id and bits set per id: about 1% of unseen ids are taken as seen.
const BITS_PER_ID: usize = 12;
const PROBES: u32 = 7;
/// The bits of an id all fall in one block of 512 bits (one cache line), so a check costs one
/// memory access however large the filter.
const BLOCK_WORDS: usize = 8;

/// Two generations of `ids_per_generation` ids each: when the newer one is full, the older one is
/// dropped, so the memory is fixed (1.5 bytes per id) and the last ids stay remembered.
pub struct SeenIds {
    newer: Bloom,
    older: Option<Bloom>,
    ids_per_generation: usize,
}

impl SeenIds {
    pub fn new(ids_per_generation: usize) -> Self {
        Self { newer: Bloom::new(ids_per_generation), older: None, ids_per_generation }
    }

    pub fn may_contain(&self, IdHash(hash): IdHash) -> bool {
        self.newer.may_contain(hash) || self.older.as_ref().is_some_and(|older| older.may_contain(hash))
    }

    pub fn insert(&mut self, IdHash(hash): IdHash) {
        if self.newer.inserted >= self.ids_per_generation {
            let full = std::mem::replace(&mut self.newer, Bloom::new(self.ids_per_generation));
            self.older = Some(full);
        }
        self.newer.insert(hash);
    }
}

/// An event id within its organization, hashed once for the filter and for ingestion's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdHash(u64);

impl IdHash {
    pub fn of(organization_id: &str, event_id: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        (organization_id, event_id).hash(&mut hasher);
        Self(hasher.finish())
    }
}

struct Bloom {
    words: Vec<u64>,
    inserted: usize,
}

impl Bloom {
    fn new(ids: usize) -> Self {
        let blocks = (ids * BITS_PER_ID).div_ceil(BLOCK_WORDS * 64).max(1);
        Self { words: vec![0; blocks * BLOCK_WORDS], inserted: 0 }
    }

    /// The id's block from the hash's high half, and its bits in the block from nine-bit slices of
    /// the hash mixed again.
    fn bits(&self, hash: u64) -> impl Iterator<Item = (usize, u64)> {
        let blocks = (self.words.len() / BLOCK_WORDS) as u64;
        let block = ((hash >> 32) % blocks) as usize * BLOCK_WORDS;
        let mixed = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..PROBES).map(move |probe| {
            let bit = (mixed >> (probe * 9)) as usize % (BLOCK_WORDS * 64);
            (block + bit / 64, 1 << (bit % 64))
        })
    }

    fn may_contain(&self, hash: u64) -> bool {
        self.bits(hash).all(|(word, mask)| self.words[word] & mask != 0)
    }

    fn insert(&mut self, hash: u64) {
        let bits: Vec<(usize, u64)> = self.bits(hash).collect();
        for (word, mask) in bits {
            self.words[word] |= mask;
        }
        self.inserted += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(organization_id: &str, event_id: &str) -> IdHash {
        IdHash::of(organization_id, event_id)
    }

    #[test]
    fn an_inserted_id_is_always_seen_and_few_others_are() {
        let mut seen = SeenIds::new(10_000);
        for n in 0..10_000 {
            seen.insert(id("org_a", &format!("e{n}")));
        }
        assert!((0..10_000).all(|n| seen.may_contain(id("org_a", &format!("e{n}")))));
        let wrong = (0..10_000).filter(|n| seen.may_contain(id("org_a", &format!("other{n}")))).count();
        assert!(wrong < 200, "{wrong} of 10,000 unseen ids taken as seen");
        // The same id in another organization is another event.
        let other_org = (0..10_000).filter(|n| seen.may_contain(id("org_b", &format!("e{n}")))).count();
        assert!(other_org < 200, "{other_org}");
    }

    #[test]
    fn the_last_generation_stays_remembered_and_older_ones_are_forgotten() {
        let mut seen = SeenIds::new(1_000);
        for n in 0..3_000 {
            seen.insert(id("org", &format!("e{n}")));
        }
        // Ids 2000..3000 fill the newer generation, 1000..2000 the older; 0..1000 were dropped.
        assert!((1_000..3_000).all(|n| seen.may_contain(id("org", &format!("e{n}")))));
        let remembered = (0..1_000).filter(|n| seen.may_contain(id("org", &format!("e{n}")))).count();
        assert!(remembered < 50, "{remembered} of 1,000 dropped ids still seen");
    }
}
