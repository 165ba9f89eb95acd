//! The org summaries and rosters checked against the log: each one that is still current must be what the org's events give.

use std::collections::HashMap;

use super::AuditError;
use super::error::OrgFact;
use crate::error::Result;
use crate::model::event::Event;
use crate::model::id::OrgId;
use crate::model::summary::{OrgSummary, Roster};
use crate::store::Store;
use crate::timeline::Tail;

/// What is wrong with the stored summary of `org`, given the end of the
/// org's timeline as the log gives it (`None`: the log has no event of the
/// org). A summary older than the org's last event is not used, and not
/// wrong (a command that died after its commit leaves one).
pub(super) fn summary_problem(
    store: &Store,
    org: &OrgId,
    summary: &OrgSummary,
    tail: Option<&Tail>,
) -> Result<Option<AuditError>> {
    fact_problem(store, org, OrgFact::Summary, summary.last, tail, |tail, last, founding| {
        tail.summary(last, founding) == *summary
    })
}

/// What is wrong with the stored roster of `org`, as [`summary_problem`]
/// says of its summary.
pub(super) fn roster_problem(
    store: &Store,
    org: &OrgId,
    roster: &Roster,
    tail: Option<&Tail>,
) -> Result<Option<AuditError>> {
    fact_problem(store, org, OrgFact::Roster, roster.last, tail, |tail, last, founding| {
        tail.roster(last, founding) == *roster
    })
}

/// What is wrong with a stored `fact` of `org` that says the org's last
/// event is `says`: `holds` says whether it is what the end of the org's
/// timeline gives with its last event at `last` and `founding`.
fn fact_problem(
    store: &Store,
    org: &OrgId,
    fact: OrgFact,
    says: u64,
    tail: Option<&Tail>,
    holds: impl FnOnce(&Tail, u64, Option<&Event>) -> bool,
) -> Result<Option<AuditError>> {
    let (Some(tail), Some(last)) = (tail, store.org_last(org)?) else {
        return Ok(Some(AuditError::FactWithoutOrg { fact, org: org.clone() }));
    };
    if says > last {
        return Ok(Some(AuditError::FactAhead { fact, org: org.clone(), says, last }));
    }
    if says < last || holds(tail, last, founding(store, tail)?.as_ref()) {
        return Ok(None);
    }
    Ok(Some(AuditError::FactDiffers { fact, org: org.clone() }))
}

/// The founding's event, at the position its step names: looking its id
/// up instead made the audit load the whole id index into memory (about
/// 0.27 s of CPU, after the fast pass's other threads were done, for the
/// 1000 orgs of the 1M-event ledger). An event there of another id is no
/// founding (a summary or roster then differs, as it would if the founding
/// were missing).
fn founding(store: &Store, tail: &Tail) -> Result<Option<Event>> {
    Ok(match tail.founding_at() {
        Some((id, seq)) => store.get(seq)?.map(|env| env.event).filter(|event| event.id == id),
        None => None,
    })
}

/// The summaries' watermark checked against the log
/// ([`Store::summaries_current`]): every org with an event up to it must
/// have a summary whose `last` is at or past the org's last event up to it,
/// or `accord orgs` would read a summary that misses events.
pub(super) struct WatermarkCheck {
    /// The watermark, if the ledger keeps one.
    upto: Option<u64>,
    /// Each org's last event up to the watermark.
    last: HashMap<String, u64>,
    /// Each summary's `last`.
    says: HashMap<OrgId, u64>,
}

impl WatermarkCheck {
    pub(super) fn new(upto: Option<u64>) -> WatermarkCheck {
        WatermarkCheck { upto, last: HashMap::new(), says: HashMap::new() }
    }

    /// The next event of the log: its seq and org.
    pub(super) fn event(&mut self, seq: u64, org: &str) {
        if self.upto.is_none_or(|upto| seq > upto) {
            return;
        }
        match self.last.get_mut(org) {
            Some(last) => *last = seq,
            None => {
                self.last.insert(org.to_owned(), seq);
            }
        }
    }

    /// A stored summary.
    pub(super) fn summary(&mut self, org: &OrgId, summary: &OrgSummary) {
        self.says.insert(org.clone(), summary.last);
    }

    /// The first problem, once the whole log (ending at `end`) and every
    /// summary have been seen; orgs in id order.
    pub(super) fn finish(self, end: u64) -> Option<AuditError> {
        let upto = self.upto?;
        if upto > end {
            return Some(AuditError::SummariesAhead { says: upto, end });
        }
        let mut behind: Vec<(&String, &u64)> = self.last.iter().collect();
        behind.sort_unstable();
        behind.into_iter().find_map(|(org, &last)| {
            let org = OrgId::parse(org).ok()?;
            let says = self.says.get(&org).copied();
            (says.is_none_or(|says| says < last)).then_some(AuditError::SummaryBehind { org, upto, last, says })
        })
    }
}
