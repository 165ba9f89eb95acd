//! The id index held in memory, for a command that looks up many ids (an import): sorted runs, binary searched.

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
    runs: Vec<Vec<Entry>>,
}

impl IdTable {
    /// Adds the entries of newly indexed events.
    pub(super) fn add(&mut self, entries: impl IntoIterator<Item = (Uuid, u64)>) {
        let mut run: Vec<Entry> = entries.into_iter().map(|(id, seq)| Entry { id: *id.as_bytes(), seq }).collect();
        if run.is_empty() {
            return;
        }
        run.sort_unstable();
        while let Some(last) = self.runs.last() {
            if last.len() > 2 * run.len() {
                break;
            }
            let last = self.runs.pop().unwrap_or_default();
            run = merge(last, run);
        }
        self.runs.push(run);
    }

    /// The seq of `id`, if the table holds it.
    pub(super) fn get(&self, id: &Uuid) -> Option<u64> {
        let id = id.as_bytes();
        self.runs.iter().find_map(|run| run.binary_search_by(|e| e.id.cmp(id)).ok().map(|i| run[i].seq))
    }

    /// How many entries the table holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
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
        assert!(table.runs.windows(2).all(|w| w[0].len() > w[1].len()));
    }
}
