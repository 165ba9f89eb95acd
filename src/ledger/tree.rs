//! The log's Merkle tree as proofs read it: roots, inclusion and consistency proofs (RFC 6962), and the log's origin for checkpoints.

use std::io::BufRead;

use super::{Ledger, LedgerError};
use crate::error::Result;
use crate::proof::Checkpoint;
use crate::proof::merkle::{self, Hash, HashReader, split_stored_hash_index};
use crate::store::Store;

/// The store's tree as the proof room reads it: a stored hash index is a
/// subtree, stored or hashed from the log.
struct StoreTree<'s>(&'s Store);

impl HashReader for StoreTree<'_> {
    type Error = crate::Error;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>> {
        indexes
            .iter()
            .map(|&i| {
                let (level, n) = split_stored_hash_index(i);
                let level = u8::try_from(level).map_err(|_| LedgerError::TreeTooLarge)?;
                self.0.subtree_hash(level, n)
            })
            .collect()
    }
}

/// That the event at `seq` is leaf `seq − 1` of the tree of `size` leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inclusion {
    pub seq: u64,
    pub size: u64,
    /// The envelope as stored: one line of `accord export`, the leaf's bytes.
    pub leaf: Vec<u8>,
    pub path: Vec<Hash>,
    pub root: Hash,
}

/// That the tree of `to` leaves extends the tree of `from` leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consistency {
    pub from: u64,
    pub to: u64,
    pub from_root: Hash,
    pub to_root: Hash,
    pub path: Vec<Hash>,
}

impl Ledger {
    /// The size asked, or the head's; a size past the head is not found.
    fn tree_size(&self, size: Option<u64>) -> Result<u64> {
        let head = self.head()?.seq;
        match size {
            None => Ok(head),
            Some(size) if size <= head => Ok(size),
            Some(size) => Err(LedgerError::NoSeq { seq: size, head }.into()),
        }
    }

    /// The root of the tree of the first `size` events (default: all).
    pub fn tree_root(&self, size: Option<u64>) -> Result<(u64, Hash)> {
        let size = self.tree_size(size)?;
        Ok((size, merkle::tree_hash(size, &StoreTree(&self.store))?))
    }

    /// The inclusion proof of the event at `seq` in the tree of `size`
    /// events (default: all); `size` must be `seq` or more.
    pub fn prove_inclusion(&self, seq: u64, size: Option<u64>) -> Result<Inclusion> {
        let (size, root) = self.tree_root(size)?;
        self.inclusion_in(seq, size, root)
    }

    /// The inclusion proof of `seq` in the tree of `size` events, whose root
    /// (`root`, from [`Ledger::tree_root`]) the caller read once for all.
    pub(super) fn inclusion_in(&self, seq: u64, size: u64, root: Hash) -> Result<Inclusion> {
        if seq == 0 || seq > size {
            return Err(LedgerError::NotInTree { seq, size }.into());
        }
        let leaf = self.store.raw(seq)?.ok_or(LedgerError::NoSeq { seq, head: size })?;
        let path = merkle::prove_record(size, seq - 1, &StoreTree(&self.store))?;
        // What is handed out is checked: a damaged store gives no proof.
        merkle::check_inclusion(seq - 1, size, &merkle::leaf_hash(&leaf), &path, &root)?;
        Ok(Inclusion { seq, size, leaf, path, root })
    }

    /// The consistency proof from the tree of `from` events to that of
    /// `to` (default: all); 1 ≤ `from` ≤ `to`.
    pub fn prove_consistency(&self, from: u64, to: Option<u64>) -> Result<Consistency> {
        let to = self.tree_size(to)?;
        if from == 0 || from > to {
            return Err(LedgerError::NotInTree { seq: from, size: to }.into());
        }
        let tree = StoreTree(&self.store);
        let path = merkle::prove_tree(to, from, &tree)?;
        let (from_root, to_root) = (merkle::tree_hash(from, &tree)?, merkle::tree_hash(to, &tree)?);
        merkle::check_consistency(from, to, &from_root, &to_root, &path)?;
        Ok(Consistency { from, to, from_root, to_root, path })
    }

    /// The log's origin, the first line of its checkpoints, once set.
    pub fn origin(&self) -> Result<Option<String>> {
        self.store.origin()
    }

    /// Sets the log's origin: once, for good (a log keeps its name).
    pub fn set_origin(&self, origin: &str) -> Result<()> {
        match self.store.origin()? {
            Some(set) if set == origin => Ok(()),
            Some(set) => Err(LedgerError::OriginSet { set, asked: origin.to_owned() }.into()),
            None if crate::proof::checkpoint::is_valid_origin(origin) => self.store.set_origin(origin),
            None => Err(LedgerError::BadOrigin { origin: origin.to_owned() }.into()),
        }
    }
}

impl Ledger {
    /// Checks that the log is consistent with `checkpoint` (one this log
    /// signed earlier): the tree of its first `size` events has its root,
    /// so none of them was changed, removed or reordered since. A
    /// checkpoint of another origin than the log's is refused.
    pub fn check_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        if let Some(ours) = self.origin()?
            && ours != checkpoint.origin
        {
            return Err(LedgerError::CheckpointOrigin { ours, theirs: checkpoint.origin.clone() }.into());
        }
        let head = self.head()?.seq;
        if checkpoint.size > head {
            return Err(LedgerError::CheckpointAhead { size: checkpoint.size, head }.into());
        }
        let (_, root) = self.tree_root(Some(checkpoint.size))?;
        if root != checkpoint.root {
            return Err(LedgerError::CheckpointRoot { origin: checkpoint.origin.clone(), size: checkpoint.size }.into());
        }
        Ok(())
    }
}

/// Checks that the first lines of an export are the tree `checkpoint`
/// names: its first `size` lines (each an envelope, as exported) hash to
/// the checkpoint's root. The export itself is verified on its own
/// ([`crate::ledger::verify_export`]).
pub fn check_export_checkpoint(export: impl BufRead, checkpoint: &Checkpoint) -> Result<()> {
    let mut builder = merkle::TreeBuilder::new();
    let mut stored = Vec::new();
    for line in export.split(b'\n') {
        if builder.size() == checkpoint.size {
            break;
        }
        let line = line.map_err(|error| LedgerError::ExportUnreadable { error })?;
        builder.push(merkle::leaf_hash(&line), &mut stored);
        stored.clear();
    }
    if builder.size() < checkpoint.size {
        return Err(LedgerError::CheckpointAhead { size: checkpoint.size, head: builder.size() }.into());
    }
    if builder.root() != checkpoint.root {
        return Err(LedgerError::CheckpointRoot { origin: checkpoint.origin.clone(), size: checkpoint.size }.into());
    }
    Ok(())
}
