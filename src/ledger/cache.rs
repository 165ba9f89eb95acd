//! A cache of orgs for a process that answers many queries on one ledger
//! (`accord serve`): what each org's events say (its timeline, tracks and
//! sources; not the events), read once and shared by the queries at every
//! position where the org had the same events.
//!
//! An entry is the org's [`OrgCore`] as of some position, with the seq of
//! its last event (`last`) and a position (`through`) up to which the org
//! is known to have had no later event. It serves a query at `upto` when
//! `last <= upto <= through`; past `through`, the summaries' watermark may
//! vouch that the org's last event is still `last`
//! ([`super::Ledger::org`]), and `through` moves up. Only committed
//! positions are cached: what a commit recorded is never undone, so an
//! entry never goes stale; it only stops covering the newest positions.
//!
//! The cache holds at most about `budget` bytes ([`OrgCore::weight`]); past
//! that it drops entries by the clock rule (an entry used since the hand
//! last passed it gets another turn).

use std::collections::VecDeque;

use foldhash::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::org::OrgCore;
use crate::model::id::OrgId;

pub(crate) struct OrgCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<OrgId, Slot>,
    /// Each org with a slot, once, in the clock's order.
    ring: VecDeque<OrgId>,
    weight: usize,
}

struct Slot {
    core: Arc<OrgCore>,
    last: u64,
    through: u64,
    weight: usize,
    used: bool,
}

/// An entry as a query finds it.
pub(crate) struct Hit {
    pub core: Arc<OrgCore>,
    pub last: u64,
    pub through: u64,
}

impl OrgCache {
    pub(crate) fn new(budget: usize) -> OrgCache {
        OrgCache { budget, inner: Mutex::new(Inner::default()) }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The cache's state is whole between any two statements that take
        // the lock, so one a panicking thread held is still good.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The org's entry, if there is one.
    pub(crate) fn get(&self, org: &OrgId) -> Option<Hit> {
        let mut inner = self.inner();
        let slot = inner.slots.get_mut(org)?;
        slot.used = true;
        Some(Hit { core: Arc::clone(&slot.core), last: slot.last, through: slot.through })
    }

    /// The org had no event after `last` up to `through`.
    pub(crate) fn extend(&self, org: &OrgId, last: u64, through: u64) {
        if let Some(slot) = self.inner().slots.get_mut(org)
            && slot.last == last
        {
            slot.through = slot.through.max(through);
        }
    }

    /// Whether it holds as much as it may.
    pub(crate) fn is_full(&self) -> bool {
        self.inner().weight >= self.budget
    }

    /// Keeps `core`, the org's events up to `through`, unless an entry as
    /// new is held or it alone weighs more than the budget.
    pub(crate) fn put(&self, org: &OrgId, core: &Arc<OrgCore>, through: u64) {
        let Some(last) = core.last() else { return };
        let weight = core.weight();
        if weight > self.budget {
            return;
        }
        let mut inner = self.inner();
        let slot = Slot { core: Arc::clone(core), last, through, weight, used: false };
        match inner.slots.get_mut(org) {
            Some(held) if held.last > last || (held.last == last && held.through >= through) => return,
            Some(held) => {
                let old = std::mem::replace(held, slot);
                inner.weight = inner.weight - old.weight + weight;
            }
            None => {
                inner.slots.insert(org.clone(), slot);
                inner.ring.push_back(org.clone());
                inner.weight += weight;
            }
        }
        while inner.weight > self.budget {
            let Some(victim) = inner.ring.pop_front() else { break };
            let Some(slot) = inner.slots.get_mut(&victim) else { continue };
            if std::mem::take(&mut slot.used) {
                inner.ring.push_back(victim);
            } else if let Some(gone) = inner.slots.remove(&victim) {
                inner.weight -= gone.weight;
            }
        }
    }

    /// How many orgs and about how many bytes it holds.
    #[cfg(test)]
    pub(crate) fn held(&self) -> (usize, usize) {
        let inner = self.inner();
        (inner.slots.len(), inner.weight)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Ledger, Options};
    use crate::model::date::Day;
    use crate::model::id::OrgId;
    use crate::projection;

    /// What `members` rests on, for an org at `upto` on `day` (the members
    /// and their sources, the uncertain parties) and the org's events, read
    /// whole ([`Ledger::org`]) and without its events
    /// ([`Ledger::org_without_events`]), which must say the same.
    fn answer(ledger: &Ledger, org: &OrgId, upto: u64, day: &str) -> String {
        let day = Day::parse(day).unwrap();
        let [whole, light] = [ledger.org(org, upto).unwrap(), ledger.org_without_events(org, upto).unwrap()].map(|r| {
            let m = projection::members_on(org, upto, r.timeline().steps(), r.tracks(), day);
            let sources: Vec<String> = m.members.iter().map(|x| format!("{:?}", r.source(&x.since_event))).collect();
            let events: Vec<u64> = r.events().map(|e| e.seq).collect();
            format!("{} {:?} {sources:?} {:?} {events:?}", m.count, m.members, m.uncertain)
        });
        assert_eq!(whole, light, "{org} at {upto}: read whole and without its events");
        whole
    }

    fn record(ledger: &Ledger, lines: &[String]) {
        let mut recorder = ledger.recorder("tester").unwrap();
        for line in lines {
            recorder.record_line(line).unwrap();
        }
        recorder.commit().unwrap();
    }

    fn accession(org: &str, party: &str, date: &str) -> String {
        format!(
            r#"{{"type":"accession","org":"{org}","date":"{date}","members":["{party}"],"source":{{"title":"{party} joins"}}}}"#
        )
    }

    /// A server's ledger answers from its cache of orgs exactly as a
    /// ledger without one, at the head and at earlier positions, after
    /// commits to the org and to others, and with a budget that holds
    /// about one org (entries come and go).
    #[test]
    fn a_cached_org_answers_as_the_log_does_at_every_position() {
        for budget in [64 << 20, 6_000] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("l");
            let mut cached = Ledger::open(&path, &Options::new(Duration::from_secs(5), true)).unwrap();
            cached.cache_orgs(budget);
            let (a, b) = (OrgId::parse("a").unwrap(), OrgId::parse("b").unwrap());
            record(
                &cached,
                &[
                    r#"{"type":"founding","org":"a","date":"2000","members":["X","Y"],"source":"charter"}"#.into(),
                    r#"{"type":"founding","org":"b","date":"2001-02","members":["Z"]}"#.into(),
                ],
            );
            let mut heads = vec![cached.head().unwrap().seq];
            for round in 0..6 {
                // A view taken now, read after later commits: its own position.
                let view = cached.committed();
                let seen = view.head().unwrap().seq;
                let before = answer(&view, &a, seen, "2030-01-01");
                let org = if round % 3 == 2 { "b" } else { "a" };
                record(&cached, &[accession(org, &format!("P{round}"), &format!("200{round}-0{}", round + 1))]);
                heads.push(cached.head().unwrap().seq);
                assert_eq!(answer(&view, &a, seen, "2030-01-01"), before, "a view's answer moved");
                let plain = Ledger::uncached_for_tests(&cached);
                for &upto in &heads {
                    for org in [&a, &b] {
                        for day in ["2000-06-01", "2003-03-15", "2030-01-01"] {
                            let expected = answer(&plain, org, upto, day);
                            assert_eq!(answer(&cached, org, upto, day), expected, "{org} at {upto} on {day}");
                            assert_eq!(
                                answer(&cached.committed(), org, upto, day),
                                expected,
                                "{org} at {upto}, a view"
                            );
                        }
                    }
                }
                let (_, weight) = cached.cache.as_ref().unwrap().held();
                assert!(weight <= budget, "the cache holds {weight} bytes, over its budget of {budget}");
            }
        }
    }
}
