//! Spells: the continuous stretches of an org's timeline in which a party held one status.

use std::collections::BTreeMap;

use crate::model::id::PartyId;
use crate::timeline::{Action, Standing, Step, Timeline};

/// One continuous spell of a party in a status (SPEC §1: full, associate,
/// observer or suspended), between the event that began it and the one that
/// ended it.
///
/// A spell ends whenever the party's status name changes: a suspension ends a
/// `full` spell and begins a `suspended` one, a reinstatement or a status
/// change begins a new spell in the status it gives, a withdrawal, an
/// expulsion or the dissolution ends it. A status change while suspended
/// leaves the party suspended: the spell goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spell<'a> {
    pub party: &'a PartyId,
    /// The standing the beginning event gave (for `suspended`, with the
    /// status it interrupted, as it was then).
    pub standing: Standing,
    /// The step that began the spell: its id, seq and EDTF date as written.
    pub began: &'a Step,
    /// The step that ended it; `None` while it goes on.
    pub ended: Option<&'a Step>,
}

impl Spell<'_> {
    /// The status name: `full`, `associate`, `observer` or `suspended`.
    pub fn status(&self) -> &'static str {
        self.standing.as_str()
    }
}

/// Every spell of every party of the timeline: by party id, then in
/// timeline order.
pub fn spells(timeline: &Timeline) -> Vec<Spell<'_>> {
    spells_where(timeline.steps(), |_| true)
}

/// The spells of one party, in timeline order (none for a party the
/// timeline never names).
pub fn spells_of<'a>(timeline: &'a Timeline, party: &PartyId) -> Vec<Spell<'a>> {
    spells_where(timeline.steps(), |p| p == party)
}

fn spells_where<'a>(steps: &'a [Step], wanted: impl Fn(&PartyId) -> bool) -> Vec<Spell<'a>> {
    // Per party: its spells so far, in order; the last is open while
    // `ended` is `None` and the party's standing is not none.
    let mut per_party: BTreeMap<&'a PartyId, (Standing, Vec<Spell<'a>>)> = BTreeMap::new();
    for step in steps {
        if matches!(step.action, Action::Dissolve) {
            // Every membership ends with the org.
            for (standing, list) in per_party.values_mut() {
                close(standing, list, step);
            }
            continue;
        }
        for party in step.action.parties().iter().filter(|p| wanted(p)) {
            let (standing, list) = per_party.entry(party).or_default();
            // A timeline keeps every rule, so the action is allowed; were it
            // not, the standing is left as it was, as `readings` does.
            let after = standing.after(&step.action).unwrap_or(*standing);
            if after.as_str() != standing.as_str() {
                close(standing, list, step);
                if after.is_member() {
                    list.push(Spell { party, standing: after, began: step, ended: None });
                }
            }
            *standing = after;
        }
    }
    per_party.into_values().flat_map(|(_, list)| list).collect()
}

/// Ends the open spell of a party, if it has one, at `step`.
fn close<'a>(standing: &mut Standing, list: &mut [Spell<'a>], step: &'a Step) {
    if let Some(open) = list.last_mut().filter(|s| s.ended.is_none() && standing.is_member()) {
        open.ended = Some(step);
    }
    *standing = Standing::None;
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::model::event::Status;
    use crate::projection::testing::{party as p, step};

    /// (party, status, from seq, to seq) of each spell.
    fn rows(spells: &[Spell<'_>]) -> Vec<(String, &'static str, u64, Option<u64>)> {
        spells.iter().map(|s| (s.party.to_string(), s.status(), s.began.seq, s.ended.map(|e| e.seq))).collect()
    }

    #[test]
    fn suspensions_reinstatements_and_status_changes_begin_spells_and_leaving_ends_them() {
        let timeline = Timeline::build(vec![
            step(1, "2000", Action::Found(vec![p("A"), p("B")])),
            step(2, "2001-03", Action::Admit(vec![p("C")], Status::Observer)),
            step(3, "2002", Action::Suspend(vec![p("B")])),
            // While suspended: the status it will get back changes, it stays suspended.
            step(4, "2002-06", Action::ChangeStatus(vec![p("B")], Status::Associate)),
            step(5, "2003", Action::Reinstate(vec![p("B")])),
            step(6, "2004", Action::ChangeStatus(vec![p("C")], Status::Full)),
            step(7, "2005", Action::Withdraw(vec![p("A")])),
            step(8, "2006", Action::Admit(vec![p("A")], Status::Full)),
            step(9, "2007", Action::Activity),
            step(10, "2008", Action::Dissolve),
        ])
        .unwrap();
        let s = |party: &str, status, from, to| (party.to_owned(), status, from, to);
        assert_eq!(
            rows(&spells(&timeline)),
            [
                s("A", "full", 1, Some(7)),
                s("A", "full", 8, Some(10)),
                s("B", "full", 1, Some(3)),
                s("B", "suspended", 3, Some(5)),
                s("B", "associate", 5, Some(10)),
                s("C", "observer", 2, Some(6)),
                s("C", "full", 6, Some(10)),
            ]
        );
        assert_eq!(rows(&spells_of(&timeline, &p("C"))), [s("C", "observer", 2, Some(6)), s("C", "full", 6, Some(10))]);
        assert!(spells_of(&timeline, &p("Z")).is_empty());
    }

    #[test]
    fn a_launch_admits_only_those_not_yet_members_and_open_spells_have_no_end() {
        let timeline = Timeline::build(vec![
            step(1, "2000", Action::Found(vec![p("A")])),
            step(2, "2000-06/2001-02", Action::Admit(vec![p("B")], Status::Full)),
            step(3, "2001-03", Action::Launch(vec![p("A"), p("B"), p("C")])),
        ])
        .unwrap();
        let got = spells(&timeline);
        assert_eq!(
            rows(&got),
            [("A".to_owned(), "full", 1, None), ("B".to_owned(), "full", 2, None), ("C".to_owned(), "full", 3, None)]
        );
        // The beginning keeps the event's date as written.
        assert_eq!(got[1].began.date.to_string(), "2000-06/2001-02");
    }
}
