//! The Merkle tree checked against the log: every stored subtree hash is the one the log's envelopes give, and none is missing or extra.

use foldhash::HashMap;

use super::AuditError;
use crate::store::{Hash, TreeTail, leaf_hash};

/// The tree the log calls for, built leaf by leaf as the log is read.
#[derive(Default)]
pub(super) struct TreeCheck {
    tail: TreeTail,
    want: HashMap<(u8, u64), Hash>,
}

impl TreeCheck {
    /// The next envelope of the log, as stored.
    pub(super) fn envelope(&mut self, bytes: &[u8]) {
        self.leaf(leaf_hash(bytes));
    }

    /// The next leaf's hash.
    pub(super) fn leaf(&mut self, hash: Hash) {
        let want = &mut self.want;
        self.tail.push(hash, &mut |level, index, hash| {
            want.insert((level, index), hash);
        });
    }

    /// The first problem with the stored tree (`found`: its subtree hashes;
    /// `leaves`: what its marker says it covers) given the log up to
    /// `head`; `None` if it is the tree of the log.
    pub(super) fn problem(
        &self,
        found: &HashMap<(u8, u64), Hash>,
        leaves: Option<u64>,
        head: u64,
    ) -> Option<AuditError> {
        if leaves != Some(head) && !(leaves.is_none() && head == 0) {
            return Some(AuditError::TreeCovers { leaves, head });
        }
        let mut wrong: Vec<(u8, u64)> = (self.want.iter())
            .filter(|(k, h)| found.get(k) != Some(h))
            .map(|(k, _)| *k)
            .chain(found.keys().filter(|k| !self.want.contains_key(k)).copied())
            .collect();
        wrong.sort_unstable_by_key(|(level, index)| (*index << level, *level));
        let (level, index) = *wrong.first()?;
        Some(AuditError::TreeDiffers { level, index, stored: found.contains_key(&(level, index)) })
    }
}
