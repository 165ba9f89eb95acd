//! The id index held in memory, for a command that looks up many ids (an import): sorted runs, binary searched
//! (a long run first narrowed by its ids' first two bytes), behind a filter that answers most absent ids at once.

use uuid::Uuid;

/// One id and its seq, 24 bytes (a `(u128, u64)` would take 32).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    id: [u8; 16],
    seq: u64,
}

/// Every indexed id with its seq, as sorted runs whose lengths at least
/// halve from one to the next (a binary counter): adding a batch costs its
/// share of O(n log n) over a whole import, a lookup a binary search per run,
/// O(log² n).
#[derive(Default)]
pub(super) struct IdTable {
    runs: Vec<Run>,
    /// Every id of the runs, as a filter: an id it does not hold is in no
    /// run. An import looks up each new id, which is absent, and searching
    /// every run for it was a tenth of the recording thread's time at 3M to 4M ids.
    filter: Filter,
}

/// A blocked Bloom filter of ids: each id sets [`PROBES`] bits in one
/// 512-bit block (a cache line), both chosen by a hash of the id, so a
/// lookup reads one line. Made again, larger, when the ids outgrow it: it
/// keeps 8 to 16 bits an id, and lets through a few percent of absent ids.
#[derive(Default)]
struct Filter {
    blocks: Vec<[u64; 8]>,
}

/// Bits an id sets in its block.
const PROBES: usize = 4;

impl Filter {
    /// An empty filter with room for `ids` ids (8 bits each).
    fn with_room(ids: usize) -> Filter {
        Filter { blocks: vec![[0; 8]; (ids * 8).div_ceil(512).max(1).next_power_of_two()] }
    }

    /// How many ids it has room for.
    fn room(&self) -> usize {
        self.blocks.len() * 512 / 8
    }

    /// The block of `id` and its bits there. Ids may be chosen by people,
    /// not at random, so they are hashed first (splitmix64's finaliser).
    fn probes(&self, id: &[u8; 16]) -> Option<(usize, [usize; PROBES])> {
        let n = u128::from_le_bytes(*id);
        let mut h = (n as u64) ^ ((n >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        let block = (h as usize) & self.blocks.len().checked_sub(1)?;
        // The bits from the top 36 bits of the hash, the block from the low ones.
        let mut bits = [0; PROBES];
        for (i, bit) in bits.iter_mut().enumerate() {
            *bit = ((h >> (28 + 9 * i)) & 511) as usize;
        }
        Some((block, bits))
    }

    fn insert(&mut self, id: &[u8; 16]) {
        if let Some((block, bits)) = self.probes(id) {
            for bit in bits {
                self.blocks[block][bit / 64] |= 1 << (bit % 64);
            }
        }
    }

    /// False if `id` was never inserted; true if it was (and for a few
    /// percent of the others).
    fn may_hold(&self, id: &[u8; 16]) -> bool {
        self.probes(id)
            .is_some_and(|(block, bits)| bits.iter().all(|&bit| self.blocks[block][bit / 64] & 1 << (bit % 64) != 0))
    }
}

/// A sorted run and, once it is long, where each value of its ids' first
/// two bytes begins in it: a lookup then searches a few entries, not the
/// whole run (ids are random, so they spread evenly over the first bytes).
struct Run {
    entries: Vec<Entry>,
    /// `starts[b]`: the first entry whose id's first two bytes are `b` or
    /// more, for `b` from 0 to 65536; empty for a short run.
    starts: Vec<u32>,
}

/// A run this long or longer gets its `starts` (256 KiB).
const DIRECTED: usize = 1 << 16;

impl Run {
    fn new(entries: Vec<Entry>) -> Run {
        let mut starts = Vec::new();
        if entries.len() >= DIRECTED && u32::try_from(entries.len()).is_ok() {
            starts.reserve_exact(BUCKETS + 1);
            let mut at = 0;
            for bucket in 0..=BUCKETS {
                while at < entries.len() && bucket_of(&entries[at].id) < bucket {
                    at += 1;
                }
                starts.push(at as u32);
            }
        }
        Run { entries, starts }
    }

    fn get(&self, id: &[u8; 16]) -> Option<u64> {
        let part = match self.starts.as_slice() {
            [] => &self.entries[..],
            starts => {
                let b = bucket_of(id);
                &self.entries[starts[b] as usize..starts[b + 1] as usize]
            }
        };
        part.binary_search_by(|e| e.id.cmp(id)).ok().map(|i| part[i].seq)
    }
}

/// The values of an id's first two bytes.
const BUCKETS: usize = 1 << 16;

fn bucket_of(id: &[u8; 16]) -> usize {
    usize::from(u16::from_be_bytes([id[0], id[1]]))
}

impl IdTable {
    /// Adds the entries of newly indexed events.
    pub(super) fn add(&mut self, entries: impl IntoIterator<Item = (Uuid, u64)>) {
        let mut run: Vec<Entry> = entries.into_iter().map(|(id, seq)| Entry { id: *id.as_bytes(), seq }).collect();
        if run.is_empty() {
            return;
        }
        run.sort_unstable();
        let len = self.len() + run.len();
        if len > self.filter.room() {
            // Twice the room needed, filled again from every id.
            self.filter = Filter::with_room(2 * len);
            for e in self.runs.iter().flat_map(|r| &r.entries) {
                self.filter.insert(&e.id);
            }
        }
        for e in &run {
            self.filter.insert(&e.id);
        }
        while let Some(last) = self.runs.last() {
            if last.entries.len() > 2 * run.len() {
                break;
            }
            let last = self.runs.pop().map(|r| r.entries).unwrap_or_default();
            run = merge(last, run);
        }
        self.runs.push(Run::new(run));
    }

    /// The seq of `id`, if the table holds it.
    pub(super) fn get(&self, id: &Uuid) -> Option<u64> {
        let id = id.as_bytes();
        if !self.filter.may_hold(id) {
            return None;
        }
        self.runs.iter().find_map(|run| run.get(id))
    }

    /// How many entries the table holds (a sum over a few dozen runs at most).
    fn len(&self) -> usize {
        self.runs.iter().map(|r| r.entries.len()).sum()
    }
}

fn merge(a: Vec<Entry>, b: Vec<Entry>) -> Vec<Entry> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x <= y => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(e) => out.push(e),
            None => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Uuid {
        // Spread over the id space, as random ids are.
        Uuid::from_u128(u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
    }

    #[test]
    fn finds_every_id_added_in_batches_and_no_other() {
        let mut table = IdTable::default();
        table.add((0..1000).map(|n| (id(n), n + 1)));
        let mut next = 1000;
        for batch in [1, 7, 500, 3, 2048, 64, 1, 1] {
            table.add((next..next + batch).map(|n| (id(n), n + 1)));
            next += batch;
        }
        assert_eq!(table.len(), next as usize);
        for n in 0..next {
            assert_eq!(table.get(&id(n)), Some(n + 1), "id {n}");
        }
        for n in next..next + 1000 {
            assert_eq!(table.get(&id(n)), None, "id {n}");
        }
        // Runs stay few: at most one per halving.
        assert!(table.runs.len() <= 14, "{} runs", table.runs.len());
        assert!(table.runs.windows(2).all(|w| w[0].entries.len() > w[1].entries.len()));
    }

    /// A long run is searched within its ids' first two bytes: ids spread
    /// evenly, ids that all share them (made by a program, not at random),
    /// and the first and last possible ids are all found, and no other.
    #[test]
    fn a_long_run_finds_every_id_whatever_its_first_bytes() {
        let spread = (1..=DIRECTED as u64).map(id);
        let packed = (0..DIRECTED as u64).map(|n| Uuid::from_u128(u128::from(n) + 1));
        let ends = [Uuid::nil(), Uuid::max()];
        let ids: Vec<Uuid> = spread.chain(packed).chain(ends).collect();
        let mut table = IdTable::default();
        table.add(ids.iter().enumerate().map(|(i, id)| (*id, i as u64)));
        assert!(table.runs.iter().any(|r| !r.starts.is_empty()), "no run has its starts");
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(table.get(id), Some(i as u64), "{id}");
        }
        for n in [DIRECTED as u64 + 5, 1 << 40] {
            assert_eq!(table.get(&Uuid::from_u128(u128::from(n))), None);
            assert_eq!(table.get(&id(n * 3)), None);
        }
    }

    /// The filter in front of the runs never hides an id it holds, through
    /// the times it is made again as ids are added, whether ids are random
    /// or numbered; and it answers most absent ids itself.
    #[test]
    fn the_filter_hides_no_id_and_answers_most_absent_ones() {
        for numbered in [false, true] {
            let make = |n: u64| if numbered { Uuid::from_u128(u128::from(n)) } else { id(n) };
            let mut table = IdTable::default();
            let mut next = 0;
            for batch in [100, 3000, 40_000, 1, 70_000, 5] {
                table.add((next..next + batch).map(|n| (make(n), n + 1)));
                next += batch;
                assert!(table.filter.room() >= table.len(), "the filter is too small for its ids");
            }
            for n in 0..next {
                assert_eq!(table.get(&make(n)), Some(n + 1), "id {n}");
            }
            let absent = (next..next + 10_000).filter(|&n| table.filter.may_hold(make(n).as_bytes())).count();
            assert!(absent < 1_000, "the filter let {absent} of 10,000 absent ids through");
            for n in next..next + 10_000 {
                assert_eq!(table.get(&make(n)), None);
            }
        }
    }
}
