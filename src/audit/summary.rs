//! The org summaries and rosters checked against the log: each one that is still current must be what the org's events give.

use std::borrow::Cow;

use foldhash::{HashMap, HashMapExt};

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
    stored_facts_problem(store, org, Some(summary), None, tail)
}

/// What is wrong with the stored roster of `org`, as [`summary_problem`]
/// says of its summary.
pub(super) fn roster_problem(
    store: &Store,
    org: &OrgId,
    roster: &Roster,
    tail: Option<&Tail>,
) -> Result<Option<AuditError>> {
    stored_facts_problem(store, org, None, Some(roster), tail)
}

/// [`facts_problem`], the org's last event and its founding read from the store.
fn stored_facts_problem(
    store: &Store,
    org: &OrgId,
    summary: Option<&OrgSummary>,
    roster: Option<&Roster>,
    tail: Option<&Tail>,
) -> Result<Option<AuditError>> {
    let end = match tail {
        Some(tail) => store.org_last(org)?.map(|last| (tail, last)),
        None => None,
    };
    facts_problem(org, summary, roster, end, |tail| Ok(founding(store, tail)?.map(Cow::Owned)))
}

/// What is wrong with the stored summary and roster of `org` (those given),
/// as [`summary_problem`] says of one, given the end of the org's timeline
/// and the seq of its last event in the log (`end`: `None` if the log has
/// no event of the org), and a way to its founding's event
/// ([`Tail::founding_at`]), asked for at most once, and only if a summary
/// or roster is current.
pub(super) fn facts_problem<'e>(
    org: &OrgId,
    summary: Option<&OrgSummary>,
    roster: Option<&Roster>,
    end: Option<(&Tail, u64)>,
    founding: impl FnOnce(&Tail) -> Result<Option<Cow<'e, Event>>>,
) -> Result<Option<AuditError>> {
    let says = [summary.map(|s| (OrgFact::Summary, s.last)), roster.map(|r| (OrgFact::Roster, r.last))];
    let says = says.into_iter().flatten();
    let Some((tail, last)) = end else {
        return Ok(says.map(|(fact, _)| AuditError::FactWithoutOrg { fact, org: org.clone() }).next());
    };
    if let Some((fact, says)) = says.clone().find(|(_, says)| *says > last) {
        return Ok(Some(AuditError::FactAhead { fact, org: org.clone(), says, last }));
    }
    // Only one written at the org's last event is current, and must be what its timeline gives.
    let summary = summary.filter(|s| s.last == last);
    let roster = roster.filter(|r| r.last == last);
    if summary.is_none() && roster.is_none() {
        return Ok(None);
    }
    let founding = founding(tail)?;
    let founding = founding.as_deref();
    let differs = if summary.is_some_and(|s| tail.summary(last, founding) != *s) {
        Some(OrgFact::Summary)
    } else if roster.is_some_and(|r| !tail.holds_roster(r, last, founding)) {
        Some(OrgFact::Roster)
    } else {
        None
    };
    Ok(differs.map(|fact| AuditError::FactDiffers { fact, org: org.clone() }))
}

/// The founding's event, at the position its step names: looking its id
/// up instead made the audit load the whole id index into memory (about
/// 0.27 s of CPU, after the fast pass's other threads were done, for the
/// 1000 orgs of the 1M-event ledger). An event there of another id is no
/// founding (a summary or roster then differs, as it would if the founding
/// were missing).
pub(super) fn founding(store: &Store, tail: &Tail) -> Result<Option<Event>> {
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
        if !self.vouches_for(seq) {
            return;
        }
        match self.last.get_mut(org) {
            Some(last) => *last = seq,
            None => {
                self.last.insert(org.to_owned(), seq);
            }
        }
    }

    /// Whether the watermark vouches for the event at `seq`: if not,
    /// [`WatermarkCheck::event`] passes it by.
    pub(super) fn vouches_for(&self, seq: u64) -> bool {
        self.upto.is_some_and(|upto| seq <= upto)
    }

    /// An org's last event that the watermark vouches for, given at once
    /// by a caller that followed the log itself: as if that event (and
    /// any before it) had been given to [`WatermarkCheck::event`].
    pub(super) fn last_event(&mut self, org: &str, seq: u64) {
        let last = self.last.entry(org.to_owned()).or_default();
        *last = seq.max(*last);
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
