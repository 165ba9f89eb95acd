//! The Merkle tree of RFC 6962 §2.1 (kept by RFC 9162): hashes, stored complete subtrees, proofs and their checks.
//!
//! Storage follows Go's `golang.org/x/mod/sumdb/tlog`: the hash of every
//! complete subtree (a node whose leaves are all present, which never
//! changes) gets one place in a dense sequence, [`stored_hash_index`]. An
//! append of leaf `n` writes at most `1 + log2(n)` of them (just under two on
//! average), at consecutive indexes from `stored_hash_index(0, n)`; a tree
//! hash or a proof reads at most `2 * log2(n)` of them, in one batch
//! ([`HashReader`]). The checks ([`check_inclusion`], [`check_consistency`])
//! are the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 and need nothing
//! but the proof.

use crate::sha_many::{Message, sha256, sha256_each};

use super::base64;
use super::error::{Error, ProofKind};

/// A SHA-256 hash: of a leaf, a node or a whole tree.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || bytes)`: the hash of the leaf `bytes`.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    sha256(&leaf_pieces(bytes))
}

/// What [`leaf_hash`] hashes, in pieces: `0x00`, then `bytes`.
pub(crate) fn leaf_pieces(bytes: &[u8]) -> Message<'_> {
    [&[0x00], bytes]
}

/// [`leaf_hash`] of each of `leaves`, in order, appended to `out`: many at
/// a time ([`sha256_each`]), which takes less time than one after the other.
pub(crate) fn leaf_hashes<'a>(leaves: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<Hash>) {
    let messages: Vec<Message<'_>> = leaves.into_iter().map(leaf_pieces).collect();
    sha256_each(&messages, out);
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// The padded base64 of a hash, as checkpoints and proofs write it.
pub fn hash_to_base64(hash: &Hash) -> String {
    base64::encode(hash)
}

/// The lowercase hex of a hash, as proofs in JSON write it.
pub fn hash_to_hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash written as 64 hex digits in `text`.
pub fn hash_from_hex(text: &str) -> Result<Hash, Error> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect();
    bytes.and_then(|b| Hash::try_from(b).ok()).ok_or_else(|| Error::BadHexHash(text.to_owned()))
}

/// The hash written as padded base64 in `text`.
pub fn hash_from_base64(text: &str) -> Result<Hash, Error> {
    base64::decode(text).and_then(|bytes| Hash::try_from(bytes).ok()).ok_or_else(|| Error::BadHash(text.to_owned()))
}

/// Where the hash of the complete subtree `n` at `level` (its leaves
/// `n << level .. (n + 1) << level`) is in the dense sequence of stored
/// hashes. Level 0 is the leaves.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    // The hashes of leaf n's appends come after those of the first n leaves
    // (2n minus the ones in n), and a subtree's hash is written by the
    // append of its last leaf, `level` hashes after that leaf's own.
    let last = ((n + 1) << level) - 1;
    2 * last - u64::from(last.count_ones()) + u64::from(level)
}

/// The level and number of the subtree whose hash is stored at `index`:
/// the inverse of [`stored_hash_index`] (for the indexes of trees of at most
/// [`MAX_TREE_SIZE`] leaves; larger ones are answered, wrongly, without panic).
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // Find the last leaf n whose own hash is at or before index: the first
    // hash of leaf n is at 2n - popcount(n), which grows with n.
    let mut n = (index / 2).min(MAX_TREE_SIZE);
    while n > 0 && stored_hash_index(0, n) > index {
        n -= 1;
    }
    while n < MAX_TREE_SIZE && stored_hash_index(0, n + 1) <= index {
        n += 1;
    }
    let level = u32::try_from(index - stored_hash_index(0, n)).unwrap_or(u32::MAX);
    (level, n.checked_shr(level).unwrap_or(0))
}

/// How many hashes are stored for a tree of `size` leaves; the next append
/// writes from there.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 { 0 } else { stored_hash_index(0, size - 1) + 1 + u64::from((size - 1).trailing_ones()) }
}

/// The largest tree this module stores or proves: 2^62 leaves, so that
/// stored hash indexes fit in a `u64`. The checks take any size.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

fn within(size: u64) -> Result<(), Error> {
    if size > MAX_TREE_SIZE { Err(Error::TooLarge { size }) } else { Ok(()) }
}

/// Reads stored hashes by their indexes in the dense sequence
/// ([`stored_hash_index`]), all in one call so that a store can batch them.
///
/// Its error must take a [`ProofError`](Error): a reader that answers the
/// wrong number of hashes is reported as one.
pub trait HashReader {
    type Error: From<Error>;
    /// The hashes stored at `indexes`, in the same order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

/// All the stored hashes of a tree in memory, at their indexes.
impl HashReader for [Hash] {
    type Error = Error;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|&i| usize::try_from(i).ok().and_then(|i| self.get(i)).copied().ok_or(Error::MissingHash { index: i }))
            .collect()
    }
}

fn read<R: HashReader + ?Sized>(reader: &R, indexes: &[u64]) -> Result<Vec<Hash>, R::Error> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::ReaderCount { asked: indexes.len(), got: hashes.len() }.into());
    }
    Ok(hashes)
}

/// The hashes that the append of leaf `n` (numbered from 0), whose hash is
/// `leaf_hash`, adds to the stored ones: the leaf's own, then those of the
/// complete subtrees it completes, at indexes `stored_hash_index(0, n)`,
/// `+ 1`, … It reads the hashes of the subtrees to their left (which the
/// appends before it stored).
pub fn stored_hashes_for_record<R: HashReader + ?Sized>(
    n: u64,
    leaf_hash: Hash,
    reader: &R,
) -> Result<Vec<Hash>, R::Error> {
    within(n.saturating_add(1))?;
    let m = n.trailing_ones();
    // The left siblings, from the top down, as tlog reads them.
    let indexes: Vec<u64> = (0..m).rev().map(|level| stored_hash_index(level, (n >> level) - 1)).collect();
    let left = read(reader, &indexes)?;
    let mut hashes = Vec::with_capacity(1 + m as usize);
    let mut h = leaf_hash;
    hashes.push(h);
    for sibling in left.iter().rev() {
        h = node_hash(sibling, &h);
        hashes.push(h);
    }
    Ok(hashes)
}

/// The stored indexes of the complete subtrees that make up leaves
/// `lo..hi`, left to right (each as large as it can be).
fn subtree_indexes(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let level = 63 - (hi - lo).leading_zeros();
        debug_assert_eq!(lo % (1 << level), 0, "a range of the tree is aligned on its largest subtree");
        need.push(stored_hash_index(level, lo >> level));
        lo += 1 << level;
    }
}

/// The hash of leaves `lo..hi` from the hashes of its complete subtrees, left to right.
fn fold_subtrees(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |h, left| node_hash(left, &h)))
}

/// Reads the hashes of the ranges of leaves `ranges` (each `lo..hi`) in one batch.
fn range_hashes<R: HashReader + ?Sized>(ranges: &[(u64, u64)], reader: &R) -> Result<Vec<Hash>, R::Error> {
    let mut indexes = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let before = indexes.len();
        subtree_indexes(lo, hi, &mut indexes);
        counts.push(indexes.len() - before);
    }
    let hashes = read(reader, &indexes)?;
    let mut out = Vec::with_capacity(ranges.len());
    let mut at = 0;
    for count in counts {
        let hash = fold_subtrees(&hashes[at..at + count]).ok_or(Error::ReaderCount { asked: 0, got: 0 })?;
        out.push(hash);
        at += count;
    }
    Ok(out)
}

/// The largest power of two strictly less than `n` (n ≥ 2): where RFC 6962 splits a tree.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The root hash of the tree of the first `size` leaves.
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, R::Error> {
    within(size)?;
    if size == 0 {
        return Ok(empty_root());
    }
    let mut hash = range_hashes(&[(0, size)], reader)?;
    Ok(hash.pop().unwrap_or_else(empty_root))
}

/// The inclusion proof (RFC 6962 §2.1.1 `PATH`, the audit path) of leaf
/// `index` in the tree of the first `size` leaves: sibling hashes from the
/// leaf up.
pub fn prove_record<R: HashReader + ?Sized>(size: u64, index: u64, reader: &R) -> Result<Vec<Hash>, R::Error> {
    within(size)?;
    if index >= size {
        return Err(Error::IndexBeyondSize { index, size }.into());
    }
    // Top down: at each split, the other side is a node of the path.
    let mut ranges = Vec::new();
    let (mut lo, mut hi) = (0, size);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    range_hashes(&ranges, reader)
}

/// The consistency proof (RFC 6962 §2.1.2 `PROOF`) that the tree of the
/// first `size1` leaves is a prefix of the tree of the first `size2`:
/// `1 <= size1 <= size2`; empty when the sizes are equal.
pub fn prove_tree<R: HashReader + ?Sized>(size2: u64, size1: u64, reader: &R) -> Result<Vec<Hash>, R::Error> {
    within(size2)?;
    if size1 == 0 {
        return Err(Error::FromEmptyTree.into());
    }
    if size1 > size2 {
        return Err(Error::SizesOutOfOrder { size1, size2 }.into());
    }
    // RFC 6962 SUBPROOF(m, D[lo:hi], b), top down; b is "lo == 0".
    let mut ranges = Vec::new();
    let (mut lo, mut hi) = (0, size2);
    loop {
        if size1 == hi {
            if lo != 0 {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split(hi - lo);
        if size1 <= lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    range_hashes(&ranges, reader)
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash
/// `leaf_hash` is leaf `index` of the tree of `size` leaves whose root is
/// `root`.
pub fn check_inclusion(index: u64, size: u64, leaf_hash: &Hash, proof: &[Hash], root: &Hash) -> Result<(), Error> {
    if index >= size {
        return Err(Error::IndexBeyondSize { index, size });
    }
    // The path has a node for each level below where the paths to `index`
    // and to the last leaf part, and one for each left turn above.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let want = inner as usize + index.checked_shr(inner).unwrap_or(0).count_ones() as usize;
    if proof.len() != want {
        return Err(Error::ProofLength { what: ProofKind::Inclusion, got: proof.len(), want });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(Error::ProofLength { what: ProofKind::Inclusion, got: proof.len(), want });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 || r != *root {
        return Err(Error::RootMismatch { what: ProofKind::Inclusion });
    }
    Ok(())
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `size1`
/// leaves with root `root1` is a prefix of the tree of `size2` leaves with
/// root `root2`. Equal sizes need equal roots and an empty proof; a proof
/// from the empty tree is refused, as it would prove nothing.
pub fn check_consistency(size1: u64, size2: u64, root1: &Hash, root2: &Hash, proof: &[Hash]) -> Result<(), Error> {
    if size1 > size2 {
        return Err(Error::SizesOutOfOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(Error::FromEmptyTree);
    }
    let what = ProofKind::Consistency;
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(Error::ProofLength { what, got: proof.len(), want: 0 });
        }
        if root1 != root2 {
            return Err(Error::RootMismatch { what });
        }
        return Ok(());
    }
    // Below the largest complete subtree ending at size1 (`shift` levels)
    // the proof has nothing; it starts there with that subtree's hash,
    // unless it is the whole old tree (known: root1).
    let shift = size1.trailing_zeros();
    let inner = 64 - ((size1 - 1) ^ (size2 - 1)).leading_zeros();
    let border = (size1 - 1).checked_shr(inner).unwrap_or(0).count_ones() as usize;
    let power_of_two = size1.is_power_of_two();
    let want = usize::from(!power_of_two) + (inner - shift) as usize + border;
    if proof.len() != want {
        return Err(Error::ProofLength { what, got: proof.len(), want });
    }
    let (seed, path) = if power_of_two { (root1, proof) } else { (&proof[0], &proof[1..]) };
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in path {
        if snode == 0 {
            return Err(Error::ProofLength { what, got: proof.len(), want });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 || fr != *root1 || sr != *root2 {
        return Err(Error::RootMismatch { what });
    }
    Ok(())
}

/// The right edge of a tree (the hashes of its largest complete subtrees,
/// left to right: one per set bit of its size), enough to append leaves and
/// to compute its root without reading anything. For building or re-checking
/// the stored hashes of a whole log in one pass, in memory bounded by
/// `log2(n)` hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeBuilder {
    size: u64,
    edge: Vec<Hash>,
}

impl TreeBuilder {
    /// The empty tree.
    pub fn new() -> TreeBuilder {
        TreeBuilder::default()
    }

    /// The tree of the first `size` leaves, from its stored hashes (at most
    /// `1 + log2(size)` reads in one batch).
    pub fn from_reader<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<TreeBuilder, R::Error> {
        within(size)?;
        let mut indexes = Vec::new();
        subtree_indexes(0, size, &mut indexes);
        let edge = read(reader, &indexes)?;
        Ok(TreeBuilder { size, edge })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the leaf whose hash is `leaf_hash`, and appends to `out` the
    /// hashes this stores, each with its index: the same as
    /// [`stored_hashes_for_record`] of the leaf, at consecutive indexes from
    /// `stored_hash_index(0, n)`.
    pub fn push(&mut self, leaf_hash: Hash, out: &mut Vec<(u64, Hash)>) {
        let n = self.size;
        let mut index = stored_hash_index(0, n);
        let mut h = leaf_hash;
        out.push((index, h));
        for _ in 0..n.trailing_ones() {
            let Some(left) = self.edge.pop() else { break };
            h = node_hash(&left, &h);
            index += 1;
            out.push((index, h));
        }
        self.edge.push(h);
        self.size += 1;
    }

    /// The root hash of the tree as it stands.
    pub fn root(&self) -> Hash {
        fold_subtrees(&self.edge).unwrap_or_else(empty_root)
    }
}

#[cfg(test)]
mod tests;
