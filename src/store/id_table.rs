//! The id index summed up in memory, for a command that looks up many ids (an import): a 64-bit fingerprint of
//! each indexed id in sorted runs, behind a filter, which say at once that an id is not indexed; the index itself
//! says where one that may be is.

use uuid::Uuid;

/// Every indexed id's fingerprint ([`fingerprint`]), as sorted runs whose
/// lengths at least halve from one to the next (a binary counter): adding a
/// batch costs its share of O(n log n) over a whole import, a lookup a
/// binary search per run, O(log² n). 8 bytes an id: the ids with their seqs
/// took 24 (and 55 MB of a 1M-event import's peak, with the merges).
#[derive(Default)]
pub(super) struct IdTable {
    runs: Vec<Run>,
    /// Every fingerprint of the runs, as a filter: an id it does not hold
    /// is in no run. An import looks up each new id, which is absent, and
    /// searching every run for it was a tenth of the recording thread's
    /// time at 3M to 4M ids.
    filter: Filter,
}

/// An id's 64-bit fingerprint: its 16 bytes mixed (splitmix64's
/// finaliser), since ids may be chosen by people, not at random. Two ids
/// may share one (about one pair in 2^64): a fingerprint found says only
/// that the id may be indexed.
fn fingerprint(id: &Uuid) -> u64 {
    let n = id.as_u128();
    let mut h = (n as u64) ^ ((n >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A blocked Bloom filter of fingerprints: each sets [`PROBES`] bits in one
/// 512-bit block (a cache line), both chosen from the fingerprint, so a
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

    /// The block of a fingerprint and its bits there: the bits from its top
    /// 36 bits, the block from the low ones.
    fn probes(&self, h: u64) -> Option<(usize, [usize; PROBES])> {
        let block = (h as usize) & self.blocks.len().checked_sub(1)?;
        let mut bits = [0; PROBES];
        for (i, bit) in bits.iter_mut().enumerate() {
            *bit = ((h >> (28 + 9 * i)) & 511) as usize;
        }
        Some((block, bits))
    }

    fn insert(&mut self, h: u64) {
        if let Some((block, bits)) = self.probes(h) {
            for bit in bits {
                self.blocks[block][bit / 64] |= 1 << (bit % 64);
            }
        }
    }

    /// False if `h` was never inserted; true if it was (and for a few
    /// percent of the others).
    fn may_hold(&self, h: u64) -> bool {
        self.probes(h)
            .is_some_and(|(block, bits)| bits.iter().all(|&bit| self.blocks[block][bit / 64] & 1 << (bit % 64) != 0))
    }
}

/// A sorted run and, once it is long, where each value of its
/// fingerprints' top 16 bits begins in it: a lookup then searches a few
/// entries, not the whole run (fingerprints spread evenly).
struct Run {
    entries: Vec<u64>,
    /// `starts[b]`: the first entry whose top 16 bits are `b` or more, for
    /// `b` from 0 to 65536; empty for a short run.
    starts: Vec<u32>,
}

/// A run this long or longer gets its `starts` (256 KiB).
const DIRECTED: usize = 1 << 16;

impl Run {
    fn new(entries: Vec<u64>) -> Run {
        let mut starts = Vec::new();
        if entries.len() >= DIRECTED && u32::try_from(entries.len()).is_ok() {
            starts.reserve_exact(BUCKETS + 1);
            let mut at = 0;
            for bucket in 0..=BUCKETS {
                while at < entries.len() && bucket_of(entries[at]) < bucket {
                    at += 1;
                }
                starts.push(at as u32);
            }
        }
        Run { entries, starts }
    }

    fn holds(&self, h: u64) -> bool {
        let part = match self.starts.as_slice() {
            [] => &self.entries[..],
            starts => {
                let b = bucket_of(h);
                &self.entries[starts[b] as usize..starts[b + 1] as usize]
            }
        };
        part.binary_search(&h).is_ok()
    }
}

/// The values of a fingerprint's top 16 bits.
const BUCKETS: usize = 1 << 16;

fn bucket_of(h: u64) -> usize {
    (h >> 48) as usize
}

impl IdTable {
    /// Adds the ids of newly indexed events.
    pub(super) fn add<'a>(&mut self, ids: impl IntoIterator<Item = &'a Uuid>) {
        let mut run: Vec<u64> = ids.into_iter().map(fingerprint).collect();
        if run.is_empty() {
            return;
        }
        run.sort_unstable();
        let len = self.len() + run.len();
        if len > self.filter.room() {
            // Twice the room needed, filled again from every fingerprint.
            self.filter = Filter::with_room(2 * len);
            for &h in self.runs.iter().flat_map(|r| &r.entries) {
                self.filter.insert(h);
            }
        }
        for &h in &run {
            self.filter.insert(h);
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

    /// Whether `id` may be indexed: false only if it certainly is not.
    pub(super) fn may_hold(&self, id: &Uuid) -> bool {
        let h = fingerprint(id);
        self.filter.may_hold(h) && self.runs.iter().any(|run| run.holds(h))
    }

    /// How many ids the table holds (a sum over a few dozen runs at most).
    fn len(&self) -> usize {
        self.runs.iter().map(|r| r.entries.len()).sum()
    }
}

fn merge(a: Vec<u64>, b: Vec<u64>) -> Vec<u64> {
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
    fn holds_every_id_added_in_batches_and_almost_no_other() {
        let mut table = IdTable::default();
        table.add(&(0..1000).map(id).collect::<Vec<_>>());
        let mut next = 1000;
        for batch in [1, 7, 500, 3, 2048, 64, 1, 1] {
            table.add(&(next..next + batch).map(id).collect::<Vec<_>>());
            next += batch;
        }
        assert_eq!(table.len(), next as usize);
        for n in 0..next {
            assert!(table.may_hold(&id(n)), "id {n}");
        }
        // A fingerprint shared by two of a few thousand ids: never seen.
        for n in next..next + 1000 {
            assert!(!table.may_hold(&id(n)), "id {n}");
        }
        // Runs stay few: at most one per halving.
        assert!(table.runs.len() <= 14, "{} runs", table.runs.len());
        assert!(table.runs.windows(2).all(|w| w[0].entries.len() > w[1].entries.len()));
    }

    /// A long run is searched within its fingerprints' top 16 bits: ids
    /// spread evenly, ids numbered by a program, and the first and last
    /// possible ids are all found, and no other.
    #[test]
    fn a_long_run_finds_every_id_whatever_its_bytes() {
        let spread = (1..=DIRECTED as u64).map(id);
        let packed = (0..DIRECTED as u64).map(|n| Uuid::from_u128(u128::from(n) + 1));
        let ends = [Uuid::nil(), Uuid::max()];
        let ids: Vec<Uuid> = spread.chain(packed).chain(ends).collect();
        let mut table = IdTable::default();
        table.add(&ids);
        assert!(table.runs.iter().any(|r| !r.starts.is_empty()), "no run has its starts");
        for id in &ids {
            assert!(table.may_hold(id), "{id}");
        }
        for n in [DIRECTED as u64 + 5, 1 << 40] {
            assert!(!table.may_hold(&Uuid::from_u128(u128::from(n))));
            assert!(!table.may_hold(&id(n * 3)));
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
                table.add(&(next..next + batch).map(make).collect::<Vec<_>>());
                next += batch;
                assert!(table.filter.room() >= table.len(), "the filter is too small for its ids");
            }
            for n in 0..next {
                assert!(table.may_hold(&make(n)), "id {n}");
            }
            let absent = (next..next + 10_000).filter(|&n| table.filter.may_hold(fingerprint(&make(n)))).count();
            assert!(absent < 1_000, "the filter let {absent} of 10,000 absent ids through");
            for n in next..next + 10_000 {
                assert!(!table.may_hold(&make(n)));
            }
        }
    }
}
