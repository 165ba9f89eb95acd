//! The party index checked against the log: exactly the (party, org) pairs that the events up to its watermark name.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::AuditError;
use crate::model::id::{OrgId, PartyId};

/// The pairs the log calls for and those the index holds, orgs by number.
pub(super) struct PartyCheck {
    /// The party watermark: the events up to it are in the index.
    upto: u64,
    /// Every org with an event in the log, by number.
    orgs: HashMap<String, u32>,
    names: Vec<String>,
    /// The orgs whose events up to `upto` name each party.
    wanted: HashMap<PartyId, OrgSet>,
    /// The orgs the index holds for each party.
    found: HashMap<PartyId, HashSet<u32>>,
    /// The first problem found in the index's entries.
    problem: Option<AuditError>,
}

impl PartyCheck {
    /// A check of a party index whose watermark is `upto`.
    pub(super) fn new(upto: u64) -> PartyCheck {
        PartyCheck {
            upto,
            orgs: HashMap::new(),
            names: Vec::new(),
            wanted: HashMap::new(),
            found: HashMap::new(),
            problem: None,
        }
    }

    /// The number of `org`, given to it when it is first seen: orgs are
    /// numbered 0, 1, 2, … in the order of their first events.
    pub(super) fn number(&mut self, org: &str) -> u32 {
        if let Some(&n) = self.orgs.get(org) {
            return n;
        }
        let n = self.names.len() as u32;
        self.orgs.insert(org.to_owned(), n);
        self.names.push(org.to_owned());
        n
    }

    /// The number of `org`, if it has been seen.
    pub(super) fn number_of(&self, org: &str) -> Option<u32> {
        self.orgs.get(org).copied()
    }

    /// The org numbered `n`.
    pub(super) fn name(&self, n: u32) -> Option<&str> {
        self.names.get(n as usize).map(String::as_str)
    }

    /// The next event of the log: its seq, org and the parties it names.
    pub(super) fn event(&mut self, seq: u64, org: &str, parties: &[PartyId]) {
        let n = self.number(org);
        self.numbered_event(seq, n, parties);
    }

    /// [`PartyCheck::event`] of an org numbered `n` by [`PartyCheck::number`].
    pub(super) fn numbered_event(&mut self, seq: u64, n: u32, parties: &[PartyId]) {
        if seq > self.upto {
            return;
        }
        let numbered = self.names.len();
        for party in parties {
            match self.wanted.get_mut(party) {
                Some(orgs) => orgs.insert(n, numbered),
                None => {
                    let mut orgs = OrgSet::default();
                    orgs.insert(n, numbered);
                    self.wanted.insert(party.clone(), orgs);
                }
            }
        }
    }

    /// A chunk of the index: the orgs it holds for `party`.
    pub(super) fn entry(&mut self, party: &PartyId, orgs: &[OrgId]) {
        // The party's sets, looked up once per chunk, not once per org.
        let wanted = self.wanted.get(party);
        let found = self.found.entry(party.clone()).or_default();
        let mut problems = Vec::new();
        for org in orgs {
            let Some(&n) = self.orgs.get(org.as_str()) else {
                problems.push(AuditError::PartyEntryWithoutOrg { party: party.clone(), org: org.clone() });
                continue;
            };
            if !found.insert(n) {
                problems.push(AuditError::PartyEntryTwice { party: party.clone(), org: org.clone() });
            } else if !wanted.is_some_and(|w| w.contains(n)) {
                let upto = self.upto;
                problems.push(AuditError::PartyEntryUnnamed { party: party.clone(), org: org.clone(), upto });
            }
        }
        for problem in problems {
            self.note(problem);
        }
    }

    fn note(&mut self, problem: AuditError) {
        self.problem.get_or_insert(problem);
    }

    /// The first problem: an entry found wrong, then the first pair (by
    /// party, then org) the log names and the index lacks; `end` is the
    /// log's last seq, which the watermark may not pass.
    pub(super) fn finish(mut self, end: u64) -> Option<AuditError> {
        if self.upto > end {
            return Some(AuditError::PartiesIndexedUpTo { indexed: self.upto, end });
        }
        if let Some(problem) = self.problem.take() {
            return Some(problem);
        }
        let mut missing: Option<(&PartyId, &str)> = None;
        for (party, orgs) in &self.wanted {
            let found = self.found.get(party);
            for n in orgs.iter() {
                if !found.is_some_and(|f| f.contains(&n)) {
                    let pair = (party, self.names[n as usize].as_str());
                    if missing.is_none_or(|m| pair < m) {
                        missing = Some(pair);
                    }
                }
            }
        }
        let (party, org) = missing?;
        let org = OrgId::parse(org).ok()?;
        Some(AuditError::PartyEntryMissing { party: party.clone(), org, upto: self.upto })
    }
}

/// A set of org numbers: a hash set while it is sparse, bits once it holds
/// at least one in 32 of the orgs numbered so far. Every event adds its
/// parties' org to their sets; as bits, that is a word in a cache line where
/// a hash set's probes missed the cache (a party named by most of the 1000
/// orgs of the bench's log has 128 bytes of bits). The bits never take more
/// than 16 bytes a member: they go back to a hash set when they would.
enum OrgSet {
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
    fn insert(&mut self, n: u32, numbered: usize) {
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

    fn contains(&self, n: u32) -> bool {
        match self {
            OrgSet::Sparse(set) => set.contains(&n),
            OrgSet::Dense(words, _) => words.get(n as usize / 64).is_some_and(|w| w & (1 << (n % 64)) != 0),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
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
