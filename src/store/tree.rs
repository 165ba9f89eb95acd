//! The Merkle tree over the log (RFC 6962): hashes of complete subtrees of 256 leaves and more, written with the indexes.
//!
//! Leaf *i* is the envelope of seq *i* + 1 exactly as stored (one line of
//! `accord export`): its hash is SHA-256(0x00 ‖ bytes), a node's
//! SHA-256(0x01 ‖ left ‖ right). The hash of each complete subtree of
//! 2^level leaves, level ≥ [`TREE_LOW`], is stored under [`tree_key`] once
//! its last leaf is indexed; they never change. Smaller subtrees are hashed
//! from the log's blocks (at most 256 envelopes, four blocks) when a proof
//! needs them. An append of 2^k × 256 leaves writes about 2^k + 2^(k-1) + …
//! hashes: fewer than two per 256 events.

use super::Store;
use super::error::Damage;
use super::format::{ORIGIN_KEY, TREE_KEY, TREE_LOW, seq_from, tree_key};
use super::pending::Pending;
use crate::error::Result;
use crate::proof::merkle::leaf_hashes;

pub use crate::proof::merkle::{Hash, leaf_hash, node_hash};

/// Leaves under one stored hash of the lowest stored level.
const GROUP: u64 = 1 << TREE_LOW;

/// Consecutive leaves' hashes, and the hashes of the complete groups among them.
struct HashedLeaves {
    leaves: Vec<Hash>,
    /// How many leaves come before the first group's start.
    ahead: usize,
    /// The [`perfect_root`] of each complete group from there on, in order.
    roots: Vec<Hash>,
}

/// The root of a complete subtree given its leaves' hashes (a power of two of them).
pub(crate) fn perfect_root(leaves: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| if p.len() == 2 { node_hash(&p[0], &p[1]) } else { p[0] }).collect();
    }
    level.first().copied().unwrap_or_else(crate::proof::merkle::empty_root)
}

/// The right edge of the tree as the store extends it: how many leaves it
/// covers, the hashes of the leaves after the last complete group, and for
/// each stored level the complete subtree still waiting for its right
/// sibling (at an even index), if one is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TreeTail {
    pub(crate) leaves: u64,
    pub(crate) group: Vec<Hash>,
    /// Indexed by level − [`TREE_LOW`].
    frontier: Vec<Option<Hash>>,
}

impl TreeTail {
    /// Adds the next leaf; each subtree it completes (of [`GROUP`] leaves
    /// or more) is handed to `put` as (level, index, hash), the smallest
    /// first.
    pub(crate) fn push(&mut self, leaf: Hash, put: &mut (impl FnMut(u8, u64, Hash) + ?Sized)) {
        self.group.push(leaf);
        self.leaves += 1;
        if self.group.len() as u64 != GROUP {
            return;
        }
        let root = perfect_root(&self.group);
        self.group.clear();
        self.group_done(root, put);
    }

    /// [`TreeTail::push`] of each of `leaves`, given `root`, their
    /// [`perfect_root`] if they are a group's [`GROUP`]: taken as that
    /// group's hash when they start one, not hashed again.
    pub(crate) fn push_group(&mut self, leaves: &[Hash], root: Hash, put: &mut (impl FnMut(u8, u64, Hash) + ?Sized)) {
        // The group holds the leaves past the last complete one: empty at a group's start.
        if !self.group.is_empty() || leaves.len() as u64 != GROUP {
            for leaf in leaves {
                self.push(*leaf, put);
            }
            return;
        }
        self.leaves += GROUP;
        self.group_done(root, put);
    }

    /// The group that ends at leaf `self.leaves` is complete, its hash
    /// `root`: it and each subtree it completes go to `put`.
    fn group_done(&mut self, root: Hash, put: &mut (impl FnMut(u8, u64, Hash) + ?Sized)) {
        let (mut level, mut index, mut hash) = (TREE_LOW, self.leaves / GROUP - 1, root);
        loop {
            put(level, index, hash);
            let slot = usize::from(level - TREE_LOW);
            if self.frontier.len() <= slot {
                self.frontier.resize(slot + 1, None);
            }
            // An odd index's left sibling completed before it, at an even
            // index, and has waited in the frontier since.
            match self.frontier[slot].take() {
                Some(left) if index % 2 == 1 => hash = node_hash(&left, &hash),
                _ => {
                    self.frontier[slot] = Some(hash);
                    return;
                }
            }
            (level, index) = (level + 1, index / 2);
        }
    }
}

impl Store {
    /// How many leaves the stored tree covers; `None` for a ledger recorded
    /// before the tree existed.
    pub(crate) fn tree_leaves(&self) -> Result<Option<u64>> {
        match self.db.get(TREE_KEY).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(v) => {
                let leaves = seq_from(&v).ok_or_else(|| Damage::Entry { key: TREE_KEY.to_vec() })?;
                Ok(Some(leaves.min(self.ceiling())))
            }
        }
    }

    /// The log's origin, if set.
    pub(crate) fn origin(&self) -> Result<Option<String>> {
        match self.db.get(ORIGIN_KEY).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(v) => Ok(Some(String::from_utf8(v.to_vec()).map_err(|_| Damage::Entry { key: ORIGIN_KEY.to_vec() })?)),
        }
    }

    /// Sets the log's origin, durably.
    pub(crate) fn set_origin(&self, origin: &str) -> Result<()> {
        self.writable()?;
        let mut batch = sled::Batch::default();
        batch.insert(ORIGIN_KEY, origin.as_bytes());
        self.apply(batch).map_err(|e| self.err(e))?;
        self.sync_files()
    }

    /// A stored subtree hash; its absence is damage (the tree says it covers it).
    pub(crate) fn stored_subtree(&self, level: u8, index: u64) -> Result<Hash> {
        let key = tree_key(level, index);
        let value = self.db.get(key).map_err(|e| self.err(e))?;
        value.and_then(|v| Hash::try_from(v.as_ref()).ok()).ok_or_else(|| Damage::Tree { level, index }.into())
    }

    /// The hashes of the leaves `from..to` (leaf i is seq i + 1), read from the log.
    pub(crate) fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        let mut out = Vec::with_capacity((to - from) as usize);
        for block in self.block_spans(from + 1) {
            let (_, block) = block?;
            let wanted = block.spans.iter().filter(|(seq, _)| (from + 1..=to).contains(seq));
            leaf_hashes(wanted.map(|(_, span)| &block.payload[span.clone()]), &mut out);
            if block.spans.last().is_some_and(|(seq, _)| *seq >= to) {
                return Ok(out);
            }
        }
        if (out.len() as u64) < to - from {
            return Err(Damage::Tree { level: 0, index: from + out.len() as u64 }.into());
        }
        Ok(out)
    }

    /// The hash of the complete subtree of 2^`level` leaves starting at
    /// leaf `index` × 2^`level`: stored, or hashed from the log below
    /// [`TREE_LOW`].
    pub(crate) fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash> {
        if level >= TREE_LOW {
            return self.stored_subtree(level, index);
        }
        let first = index << level;
        Ok(perfect_root(&self.leaf_hashes(first, first + (1 << level))?))
    }

    /// The right edge of the stored tree, from its marker and the log.
    fn tree_tail(&self) -> Result<TreeTail> {
        let leaves = self.tree_leaves()?.unwrap_or(0);
        let start = leaves - leaves % GROUP;
        let mut frontier = Vec::new();
        for level in TREE_LOW..64 {
            let complete = leaves >> level;
            frontier.push(if complete % 2 == 1 { Some(self.stored_subtree(level, complete - 1)?) } else { None });
        }
        Ok(TreeTail { leaves, group: self.leaf_hashes(start, leaves)?, frontier })
    }

    /// Adds the leaves of `hashes`, from leaf `first` on (the next after
    /// those the tree covers), to `batch` with the tree's new marker.
    pub(super) fn extend_tree(
        &self,
        pending: &mut Pending,
        first: u64,
        hashes: impl IntoIterator<Item = Hash>,
        batch: &mut sled::Batch,
    ) -> Result<()> {
        self.extend_tree_with(pending, first, batch, |tail, put| {
            for hash in hashes {
                tail.push(hash, put);
            }
        })
    }

    /// [`Store::extend_tree`], the leaves hashed, and their groups'
    /// hashes found, on two cores ([`HashedLeaves`]).
    fn extend_tree_hashed(
        &self,
        pending: &mut Pending,
        first: u64,
        parts: &[HashedLeaves],
        batch: &mut sled::Batch,
    ) -> Result<()> {
        self.extend_tree_with(pending, first, batch, |tail, put| {
            for part in parts {
                let (head, groups) = part.leaves.split_at(part.ahead.min(part.leaves.len()));
                let groups = groups.chunks(GROUP as usize);
                for leaf in head {
                    tail.push(*leaf, put);
                }
                for (i, leaves) in groups.enumerate() {
                    match part.roots.get(i) {
                        Some(root) => tail.push_group(leaves, *root, put),
                        None => leaves.iter().for_each(|leaf| tail.push(*leaf, put)),
                    }
                }
            }
        })
    }

    /// [`Store::extend_tree`], the tree's tail extended by `extend`, each
    /// subtree it completes written to `batch`.
    fn extend_tree_with(
        &self,
        pending: &mut Pending,
        first: u64,
        batch: &mut sled::Batch,
        extend: impl FnOnce(&mut TreeTail, &mut dyn FnMut(u8, u64, Hash)),
    ) -> Result<()> {
        let mut tail = match pending.tree.take() {
            Some(tail) => tail,
            None => self.tree_tail()?,
        };
        if tail.leaves != first {
            return Err(Damage::TreeBehind { leaves: tail.leaves, first }.into());
        }
        extend(&mut tail, &mut |level, index, hash| batch.insert(&tree_key(level, index), &hash));
        batch.insert(TREE_KEY, &tail.leaves.to_be_bytes());
        pending.tree = Some(tail);
        Ok(())
    }

    /// The hashes of the leaves `from..to` ([`Store::leaf_hashes`]) and the
    /// [`perfect_root`] of each complete group among them.
    fn hashed_leaves(&self, from: u64, to: u64) -> Result<HashedLeaves> {
        let leaves = self.leaf_hashes(from, to)?;
        let ahead = ((GROUP - from % GROUP) % GROUP) as usize;
        let roots = leaves.get(ahead..).unwrap_or_default().chunks_exact(GROUP as usize).map(perfect_root).collect();
        Ok(HashedLeaves { leaves, ahead, roots })
    }

    /// Builds the tree of a ledger recorded before it existed (or extends
    /// one that lags the indexes), from the log, a batch every
    /// [`super::pending::INDEX_BATCH`] leaves: memory is bounded by a batch.
    pub(super) fn catch_up_tree(&self, indexed: u64) -> Result<()> {
        let leaves = self.tree_leaves()?;
        if leaves == Some(indexed) || (leaves.is_none() && indexed == 0) {
            return Ok(());
        }
        let from = leaves.unwrap_or(0);
        if from > indexed {
            return Err(Damage::TreeAhead { leaves: from, indexed }.into());
        }
        let mut pending = self.pending();
        let mut at = from;
        while at < indexed {
            let to = (at + super::pending::INDEX_BATCH as u64).min(indexed);
            // Read and hashed on two cores, a half each: the tree of the
            // 1M-event bench ledger took 0.87–0.92 s to build on one core,
            // 0.57–0.65 s on two. Its groups' hashes too (a node hash for
            // each leaf, two of SHA-256's blocks to a leaf's six or so, on
            // the bench's envelopes): hashed on this thread after
            // the halves, the other core idle meanwhile, the build took
            // 0.56–0.57 s; in the halves, 0.50–0.51 (five runs each, `accord
            // head` after `accord-bench remove-tree`).
            let mid = (at + (to - at) / 2).next_multiple_of(GROUP).min(to);
            let halves = crate::halves::halves(&[at..mid, mid..to], 2, |part| {
                part.iter().map(|range| self.hashed_leaves(range.start, range.end)).collect::<Result<Vec<_>>>()
            });
            let parts: Vec<HashedLeaves> =
                halves.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
            let mut batch = sled::Batch::default();
            self.extend_tree_hashed(&mut pending, at, &parts, &mut batch)?;
            self.apply(batch).map_err(|e| self.err(e))?;
            at = to;
        }
        pending.tree = None;
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Removes from `batch`'s view the subtrees that cover leaves past
    /// `leaves`, and sets the marker to it: undoing a command.
    pub(super) fn truncate_tree(&self, leaves: u64, batch: &mut sled::Batch) -> Result<()> {
        for level in TREE_LOW..64 {
            let keep = leaves >> level;
            for item in self.db.range(tree_key(level, keep)..=tree_key(level, u64::MAX)).keys() {
                batch.remove(item.map_err(|e| self.err(e))?);
            }
        }
        if self.tree_leaves()?.is_some() {
            batch.insert(TREE_KEY, &leaves.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// RFC 6962's MTH, recursively, straight from the definition.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => crate::proof::merkle::empty_root(),
            1 => leaves[0],
            n => {
                let k = (n - 1).next_power_of_two() / 2;
                let k = if k == 0 { 1 } else { k };
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn stored_subtrees_are_the_hashes_of_their_leaves_whatever_the_pushes() {
        let leaves: Vec<Hash> = (0..GROUP * 5 + 7).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut stored: HashMap<(u8, u64), Hash> = HashMap::new();
        let mut tail = TreeTail::default();
        for leaf in &leaves {
            tail.push(*leaf, &mut |l, i, h| assert!(stored.insert((l, i), h).is_none()));
        }
        assert_eq!(tail.leaves, GROUP * 5 + 7);
        assert_eq!(tail.group.len(), 7);
        let mut want = HashMap::new();
        for level in TREE_LOW..12 {
            let size = 1usize << level;
            for (i, chunk) in leaves.chunks_exact(size).enumerate() {
                want.insert((level, i as u64), mth(chunk));
            }
        }
        assert_eq!(stored, want);
        assert_eq!(perfect_root(&leaves[..GROUP as usize]), mth(&leaves[..GROUP as usize]));
    }

    #[test]
    fn a_group_pushed_whole_is_its_leaves_pushed_one_by_one() {
        let leaves: Vec<Hash> = (0..GROUP * 6 + 9).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut one_by_one = (TreeTail::default(), HashMap::new());
        for leaf in &leaves {
            one_by_one.0.push(*leaf, &mut |l, i, h| assert!(one_by_one.1.insert((l, i), h).is_none()));
        }
        // From a group's start (each group's root taken), and from inside a
        // group (each group's leaves pushed: the roots given start none).
        for lead in [0, 7] {
            let (mut tail, mut stored) = (TreeTail::default(), HashMap::new());
            let mut put = |l, i, h| assert!(stored.insert((l, i), h).is_none());
            for leaf in &leaves[..lead] {
                tail.push(*leaf, &mut put);
            }
            for group in leaves[lead..].chunks(GROUP as usize) {
                tail.push_group(group, perfect_root(group), &mut put);
            }
            assert_eq!((tail, stored), one_by_one, "from leaf {lead}");
        }
        // At a group's start, the root given is the group's hash.
        let (mut tail, mut stored) = (TreeTail::default(), HashMap::new());
        tail.push_group(&leaves[..GROUP as usize], [7; 32], &mut |l, i, h| {
            stored.insert((l, i), h);
        });
        assert_eq!(stored, HashMap::from([((TREE_LOW, 0), [7; 32])]));
    }

    /// Every stored subtree hash and the marker, as sled holds them.
    fn stored(store: &Store) -> (Option<u64>, HashMap<(u8, u64), Hash>) {
        let hashes = (store.db().scan_prefix(b"H"))
            .map(|item| {
                let (k, v) = item.unwrap();
                ((k[1], seq_from(&k[2..]).unwrap()), Hash::try_from(v.as_ref()).unwrap())
            })
            .collect();
        (store.tree_leaves().unwrap(), hashes)
    }

    /// The tree RFC 6962 gives for the log: every complete subtree of 256
    /// leaves or more, hashed from the envelopes' bytes.
    fn naive(store: &Store) -> (Option<u64>, HashMap<(u8, u64), Hash>) {
        let leaves: Vec<Hash> = store.scan_raw(1).map(|item| leaf_hash(&item.unwrap().1)).collect();
        let mut want = HashMap::new();
        for level in TREE_LOW..20 {
            for (i, chunk) in leaves.chunks_exact(1 << level).enumerate() {
                want.insert((level, i as u64), mth(chunk));
            }
        }
        (Some(leaves.len() as u64), want)
    }

    #[test]
    fn the_stored_tree_is_the_logs_after_commits_an_abort_and_a_rebuild() {
        use crate::ledger::{Ledger, Options};
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let options = Options::new(Duration::from_secs(5), true);
        let mut n = 0;
        let mut line = |org: &str| {
            n += 1;
            match n {
                1 | 2 => format!(r#"{{"type":"founding","org":"{org}","date":"2000","members":["A"]}}"#),
                _ => format!(r#"{{"type":"exercise","org":"{org}","date":"2001","name":"x{n}"}}"#),
            }
        };
        let ledger = Ledger::open(&path, &options).unwrap();
        // Commits that end inside groups, on their edges, and span several.
        for (size, abort) in [(300, false), (1, false), (211, false), (33_000, true), (44, false), (1000, false)] {
            let mut recorder = ledger.recorder("t").unwrap();
            for i in 0..size {
                recorder.record_line(&line(if i % 3 == 1 { "b" } else { "a" })).unwrap();
            }
            if abort {
                recorder.abort().unwrap()
            } else {
                recorder.commit().map(drop).unwrap()
            }
            assert_eq!(stored(ledger.store()), naive(ledger.store()), "after {size} events (abort: {abort})");
        }
        assert!(stored(ledger.store()).1.contains_key(&(10, 0)), "1556 events hold a subtree of 1024");
        // A ledger recorded before the tree existed gains it on open.
        for key in ledger.store().db().scan_prefix(b"H").keys() {
            ledger.store().db().remove(key.unwrap()).unwrap();
        }
        ledger.store().db().remove(TREE_KEY).unwrap();
        drop(ledger);
        let ledger = Ledger::open(&path, &options).unwrap();
        assert_eq!(stored(ledger.store()), naive(ledger.store()));
        // One that lags the log, inside a group, catches up on open (the
        // first half hashed from inside a group, the second from a group's start).
        let mut batch = sled::Batch::default();
        ledger.store().truncate_tree(300, &mut batch).unwrap();
        ledger.store().apply(batch).unwrap();
        assert_eq!(stored(ledger.store()).0, Some(300));
        drop(ledger);
        let ledger = Ledger::open(&path, &options).unwrap();
        assert_eq!(stored(ledger.store()), naive(ledger.store()));
        // The hashes proofs read agree, stored or hashed from the log.
        let leaves = naive(ledger.store()).1;
        assert_eq!(ledger.store().subtree_hash(9, 2).unwrap(), leaves[&(9, 2)]);
        let first: Vec<Hash> = ledger.store().leaf_hashes(512, 544).unwrap();
        assert_eq!(ledger.store().subtree_hash(5, 16).unwrap(), mth(&first));
    }
}
