//! A set of org numbers that stays small: what the party index and its check hold for each party.

use foldhash::{HashSet, HashSetExt};

/// A set of org numbers: a hash set while it is sparse, bits once it holds
/// at least one in 32 of the orgs numbered so far. Every event adds its
/// parties' org to their sets; as bits, that is a word in a cache line where
/// a hash set's probes missed the cache (a party named by most of the 1000
/// orgs of the bench's log has 128 bytes of bits). The bits never take more
/// than 16 bytes a member: they go back to a hash set when they would.
///
/// The import holds the party index's pairs so, and `audit verify` the
/// pairs the log calls for.
pub(crate) enum OrgSet {
    Sparse(HashSet<u32>),
    /// Bit `n % 64` of word `n / 64` for org `n`, and how many are set.
    Dense(Vec<u64>, usize),
}

impl Default for OrgSet {
    fn default() -> OrgSet {
        OrgSet::Sparse(HashSet::new())
    }
}

impl OrgSet {
    /// Adds org `n`, `numbered` orgs having numbers (`n` among them).
    pub(crate) fn insert(&mut self, n: u32, numbered: usize) {
        debug_assert!((n as usize) < numbered);
        let (word, bit) = (n as usize / 64, 1u64 << (n % 64));
        match self {
            OrgSet::Dense(words, len) if word < words.len() => {
                if words[word] & bit == 0 {
                    words[word] |= bit;
                    *len += 1;
                }
            }
            OrgSet::Dense(words, len) if *len * 128 >= (word + 1) * 64 => {
                // Exactly: a doubled capacity would break the bound.
                words.reserve_exact(word + 1 - words.len());
                words.resize(word + 1, 0);
                words[word] |= bit;
                *len += 1;
            }
            OrgSet::Dense(..) => {
                let mut sparse: HashSet<u32> = self.iter().collect();
                sparse.insert(n);
                *self = OrgSet::Sparse(sparse);
            }
            OrgSet::Sparse(set) => {
                set.insert(n);
                if set.len() * 32 >= numbered {
                    let mut words = vec![0u64; numbered.div_ceil(64).max(word + 1)];
                    for &m in set.iter() {
                        if let Some(w) = words.get_mut(m as usize / 64) {
                            *w |= 1 << (m % 64);
                        }
                    }
                    *self = OrgSet::Dense(words, set.len());
                }
            }
        }
    }

    /// How many orgs it holds.
    pub(crate) fn len(&self) -> usize {
        match self {
            OrgSet::Sparse(set) => set.len(),
            OrgSet::Dense(_, len) => *len,
        }
    }

    /// Whether it holds org `n`.
    pub(crate) fn contains(&self, n: u32) -> bool {
        match self {
            OrgSet::Sparse(set) => set.contains(&n),
            OrgSet::Dense(words, _) => words.get(n as usize / 64).is_some_and(|w| w & (1 << (n % 64)) != 0),
        }
    }

    /// The orgs it holds, in no particular order.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            OrgSet::Sparse(set) => Box::new(set.iter().copied()),
            OrgSet::Dense(words, _) => Box::new(
                (0u32..)
                    .step_by(64)
                    .zip(words)
                    .flat_map(|(base, &w)| (0..64).filter(move |b| w & (1 << b) != 0).map(move |b| base + b)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Whether sparse, dense, or gone back and forth, a set holds
        /// exactly the orgs added, in a memory bounded by its members.
        #[test]
        fn an_org_set_holds_what_was_added(adds in prop::collection::vec((0u32..3000, 0usize..4), 0..400)) {
            let (mut set, mut model, mut numbered) = (OrgSet::default(), BTreeSet::new(), 0usize);
            for (n, more) in adds {
                // Orgs are numbered as they come: a later number now and then.
                numbered = numbered.max(n as usize + 1) + more;
                set.insert(n, numbered);
                model.insert(n);
                if let OrgSet::Dense(words, len) = &set {
                    prop_assert_eq!(*len, model.len());
                    prop_assert!(words.len() * 8 <= 16 * model.len() + 8, "{} words for {} orgs", words.len(), model.len());
                }
            }
            let held: BTreeSet<u32> = set.iter().collect();
            prop_assert_eq!(&held, &model);
            prop_assert_eq!(set.len(), model.len());
            for n in 0..3100 {
                prop_assert_eq!(set.contains(n), model.contains(&n));
            }
        }
    }

    #[test]
    fn a_party_named_by_many_orgs_is_held_as_bits_and_one_named_by_few_as_a_set() {
        let (mut many, mut few) = (OrgSet::default(), OrgSet::default());
        for n in 0..1000 {
            many.insert(n, n as usize + 1);
            if n % 200 == 0 {
                few.insert(n, n as usize + 1);
            }
        }
        assert!(matches!(many, OrgSet::Dense(ref words, 1000) if words.len() == 16));
        // 5 orgs of 1000: bits would take 25 bytes a member.
        assert!(matches!(few, OrgSet::Sparse(ref set) if set.len() == 5));
        assert_eq!(few.iter().count(), 5);
    }
}
