//! The party index checked against the log: exactly the (party, org) pairs that the events up to its watermark name.

use foldhash::{HashMap, HashMapExt};

use super::AuditError;
use crate::model::id::{OrgId, PartyId};
use crate::store::OrgSet;

/// The pairs the log calls for and those the index holds, orgs by number.
pub(super) struct PartyCheck {
    /// The party watermark: the events up to it are in the index.
    upto: u64,
    /// Every org with an event in the log, by number.
    orgs: HashMap<String, u32>,
    names: Vec<String>,
    /// The orgs whose events up to `upto` name each party.
    wanted: HashMap<PartyId, OrgSet>,
    /// The orgs the index holds for each party: a set like `wanted`'s, so
    /// that `finish` compares their sizes, not every pair (0.6M pairs for
    /// the bench's 1M-event log: with `entry`, 35 ms of `perf record`
    /// samples, alone at the end of the pass).
    found: HashMap<PartyId, OrgSet>,
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
        let numbered = self.names.len();
        let mut problems = Vec::new();
        for org in orgs {
            let Some(&n) = self.orgs.get(org.as_str()) else {
                problems.push(AuditError::PartyEntryWithoutOrg { party: party.clone(), org: org.clone() });
                continue;
            };
            if found.contains(n) {
                problems.push(AuditError::PartyEntryTwice { party: party.clone(), org: org.clone() });
                continue;
            }
            found.insert(n, numbered);
            if !wanted.is_some_and(|w| w.contains(n)) {
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
            // With no problem noted, what was found is among what is wanted
            // (`entry`): as many is all of it.
            if found.is_some_and(|f| f.len() == orgs.len()) {
                continue;
            }
            for n in orgs.iter() {
                if !found.is_some_and(|f| f.contains(n)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn party(p: &str) -> PartyId {
        PartyId::parse(p).expect("party id")
    }

    fn orgs(names: &[&str]) -> Vec<OrgId> {
        names.iter().map(|o| OrgId::parse(o).expect("org id")).collect()
    }

    /// Party P named by events of three orgs, its index chunks holding
    /// some of them; six other parties named once each, indexed right.
    fn check(chunks: &[&[&str]]) -> Option<AuditError> {
        let mut check = PartyCheck::new(10);
        let names = ["a", "b", "c"];
        for (seq, org) in (1..).zip(names.iter().cycle().take(6)) {
            check.event(seq, org, &[party("P"), party(&format!("Q{seq}"))]);
        }
        for chunk in chunks {
            check.entry(&party("P"), &orgs(chunk));
        }
        for (seq, org) in (1..).zip(names.iter().cycle().take(6)) {
            check.entry(&party(&format!("Q{seq}")), &orgs(&[org]));
        }
        check.finish(10)
    }

    #[test]
    fn a_party_index_holding_some_of_a_partys_orgs_lacks_the_others() {
        assert!(check(&[&["a", "b", "c"]]).is_none());
        assert!(check(&[&["c"], &["a", "b"]]).is_none(), "one party's orgs in two chunks");
        for (chunks, lacks) in [(&[&["a", "c"][..]][..], "b"), (&[&["b"], &["c"]], "a"), (&[&["a", "b"]], "c")] {
            match check(chunks) {
                Some(AuditError::PartyEntryMissing { party, org, upto: 10 }) => {
                    assert_eq!((party.as_str(), org.as_str()), ("P", lacks), "{chunks:?}");
                }
                other => panic!("{chunks:?}: {other:?}"),
            }
        }
        assert!(matches!(check(&[&["a", "b", "c", "a"]]), Some(AuditError::PartyEntryTwice { .. })));
        assert!(matches!(check(&[&["a", "b"], &["b", "c"]]), Some(AuditError::PartyEntryTwice { .. })));
    }
}
