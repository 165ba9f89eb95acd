//! A keyed multiset fingerprint of index entries, to compare the indexes with the log without keeping either.

use std::hash::{BuildHasher, Hasher, RandomState};

/// A keyed hash (SipHash, key drawn at random for each verification) of a
/// seq and the bytes of an org copy (the canonical JSON of the recorded
/// event): what the org index must share with the log, for the exact
/// pass's entry-by-entry check.
pub(super) fn copy_hash(key: &RandomState, seq: u64, bytes: &[u8]) -> u64 {
    let mut h = key.build_hasher();
    h.write_u64(seq);
    h.write(bytes);
    h.finish()
}

/// A fingerprint of a multiset of index entries, id (id, seq) and org copy
/// (org, seq, the copy's bytes): counts, and the sum of a keyed hash
/// (SipHash, with a key drawn at random for each verification) of each
/// entry.
///
/// Two tallies of the same entries are equal, in any order. Tallies of
/// different entries (one missing, added, changed, or an id given to two
/// events) differ except with a probability of about 2^-64, which no one
/// can raise without knowing the key: the sums of two different multisets
/// of entries are equal only if the keyed hashes of the entries they do not
/// share happen to add up alike. Checked entry by entry, the indexes would
/// need every id of the log kept in memory.
///
/// One sum, not two: 2^-64 is chance enough, and a second (another 2^-64)
/// would double the SipHash of every entry on both sides, which was about
/// 3% of `audit verify`'s CPU.
pub(super) struct Tally {
    key: RandomState,
    ids: u64,
    orgs: u64,
    sum: u64,
    /// An org entry's bytes, put together to be hashed.
    joined: Vec<u8>,
}

impl Tally {
    pub(super) fn new(key: RandomState) -> Tally {
        Tally { key, ids: 0, orgs: 0, sum: 0, joined: Vec::new() }
    }

    /// Adds the id-index entry id → seq.
    ///
    /// Hashed in one write: `I`, 16 (the id's length), the id, the seq.
    #[inline]
    pub(super) fn id(&mut self, id: &[u8; 16], seq: u64) {
        self.ids += 1;
        let mut entry = [0u8; 2 + 16 + 8];
        entry[..2].copy_from_slice(&[b'I', 16]);
        entry[2..18].copy_from_slice(id);
        entry[18..].copy_from_slice(&seq.to_le_bytes());
        self.sum = self.sum.wrapping_add(keyed(&self.key, &entry));
    }

    /// Adds the org copy of seq, `copy` (its bytes), under `org`.
    ///
    /// Hashed in one pass: `O`, the org's length (8 bytes), the org, the
    /// seq, the copy. The copy went through a hash of its own first, and
    /// that hash then into the entry's: two SipHashes an org copy on each
    /// side, where one will do (`audit verify` of a 50k-event ledger under
    /// callgrind: 3,735.5M instructions against 3,752.4M, 337 an event).
    #[inline]
    pub(super) fn org(&mut self, org: &str, seq: u64, copy: &[u8]) {
        self.org_pieces(org, seq, [copy, &[], &[]]);
    }

    /// [`Tally::org`] of the org copy of stored envelope bytes: the bytes
    /// with their `hash` and `prev` members cut out (`chain`, from
    /// [`Sealed`](crate::model::envelope::Sealed)). `None` if `chain` does
    /// not lie in `bytes`.
    #[inline]
    pub(super) fn org_of_envelope(
        &mut self,
        org: &str,
        seq: u64,
        bytes: &[u8],
        chain: [(usize, usize); 2],
    ) -> Option<()> {
        let [(h0, h1), (p0, p1)] = chain;
        self.org_pieces(org, seq, [bytes.get(..h0)?, bytes.get(h1..p0)?, bytes.get(p1..)?]);
        Some(())
    }

    /// [`Tally::org`] of the copy that is `pieces` end to end, put
    /// together with the rest of the entry and hashed in one write: each
    /// of SipHash's writes costs more than a copy of these bytes.
    #[inline]
    fn org_pieces(&mut self, org: &str, seq: u64, pieces: [&[u8]; 3]) {
        self.orgs += 1;
        let joined = &mut self.joined;
        joined.clear();
        joined.push(b'O');
        joined.extend_from_slice(&(org.len() as u64).to_le_bytes());
        joined.extend_from_slice(org.as_bytes());
        joined.extend_from_slice(&seq.to_le_bytes());
        for piece in pieces {
            joined.extend_from_slice(piece);
        }
        self.sum = self.sum.wrapping_add(keyed(&self.key, joined));
    }
}

/// The keyed hash of a tally's entry, whole, in one write.
#[inline]
fn keyed(key: &RandomState, entry: &[u8]) -> u64 {
    let mut h = key.build_hasher();
    h.write(entry);
    h.finish()
}

impl Tally {
    /// Adds the entries another tally (of the same key) counted: tallies
    /// of parts of the log, made on other threads, add up to the whole's.
    pub(super) fn absorb(&mut self, other: &Tally) {
        self.ids += other.ids;
        self.orgs += other.orgs;
        self.sum = self.sum.wrapping_add(other.sum);
    }
}

impl PartialEq for Tally {
    fn eq(&self, other: &Tally) -> bool {
        (self.ids, self.orgs, self.sum) == (other.ids, other.orgs, other.sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(key: &RandomState, ids: &[(u128, u64)], orgs: &[(&str, u64, &[u8])]) -> Tally {
        let mut t = Tally::new(key.clone());
        for &(id, seq) in ids {
            t.id(&id.to_le_bytes(), seq);
        }
        for &(org, seq, bytes) in orgs {
            t.org(org, seq, bytes);
        }
        t
    }

    #[test]
    fn tallies_of_the_same_entries_are_equal_in_any_order_and_of_others_differ() {
        let key = RandomState::new();
        let long = "o".repeat(100);
        let base = tally(&key, &[(1, 1), (2, 2)], &[("isa", 1, b"{a}"), (&long, 2, b"{b}")]);
        assert!(base == tally(&key, &[(2, 2), (1, 1)], &[(&long, 2, b"{b}"), ("isa", 1, b"{a}")]));
        for other in [
            tally(&key, &[(1, 1)], &[("isa", 1, b"{a}"), (&long, 2, b"{b}")]),
            tally(&key, &[(1, 1), (2, 1)], &[("isa", 1, b"{a}"), (&long, 2, b"{b}")]),
            tally(&key, &[(1, 1), (2, 2)], &[("isa", 1, b"{a}"), (&long, 2, b"{c}")]),
            tally(&key, &[(1, 1), (2, 2)], &[("nato", 1, b"{a}"), (&long, 2, b"{b}")]),
            tally(&key, &[(1, 1), (2, 2), (2, 2)], &[("isa", 1, b"{a}"), (&long, 2, b"{b}")]),
        ] {
            assert!(base != other);
        }
        // The copy's bytes are cut from a stored envelope (its `hash` and
        // `prev` left out), whole in an org copy: the same bytes count the
        // same, and the cut is where `chain` says.
        let mut cut = Tally::new(key.clone());
        assert_eq!(cut.org_of_envelope("isa", 7, b"ab<hash>c<prev>", [(2, 8), (9, 15)]), Some(()));
        assert!(cut == tally(&key, &[], &[("isa", 7, b"abc")]));
        let mut elsewhere = Tally::new(key.clone());
        elsewhere.org_of_envelope("isa", 7, b"ab<hash>c<prev>", [(1, 8), (9, 15)]);
        assert!(elsewhere != cut, "a copy cut elsewhere counted as the same");
        assert_eq!(Tally::new(key.clone()).org_of_envelope("isa", 7, b"ab", [(2, 8), (9, 15)]), None);
        // The org and the copy meet without a gap: lengths keep them apart.
        assert!(tally(&key, &[], &[("isa", 7, b"{a}")]) != tally(&key, &[], &[("is", 7, b"a{a}")]));
    }

    #[test]
    fn tallies_of_parts_add_up_to_the_tally_of_the_whole() {
        let key = RandomState::new();
        let whole = tally(&key, &[(1, 1), (2, 2), (3, 3)], &[("isa", 1, b"{a}"), ("isa", 2, b"{b}")]);
        let mut parts = tally(&key, &[(2, 2)], &[("isa", 2, b"{b}")]);
        parts.absorb(&tally(&key, &[(1, 1), (3, 3)], &[("isa", 1, b"{a}")]));
        assert!(parts == whole);
        parts.absorb(&tally(&key, &[], &[("isa", 1, b"{a}")]));
        assert!(parts != whole, "an entry counted twice went unseen");
    }
}
