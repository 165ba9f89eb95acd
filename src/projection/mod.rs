//! Pure functions of an org's timeline: members on a day with honest uncertainty (SPEC §5), history, diff.

pub mod panel;
pub mod picture;
pub mod select;
pub mod spells;
#[cfg(test)]
mod testing;

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use crate::model::date::Day;
use crate::model::envelope::Recorded;
use crate::model::id::{OrgId, PartyId, natural_cmp};
use crate::timeline::{Action, Standing, Step, Timeline};

/// A party's status on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Every way the imprecise dates can resolve gives this standing;
    /// `since` is the step that gave it (none for `Standing::None`).
    Certain { standing: Standing, since: Option<usize> },
    /// The standings it may have, sorted (none first), and the first step
    /// whose date leaves it open.
    Uncertain { possible: Vec<Standing>, open: usize },
}

impl Reading {
    pub fn certain(&self) -> Option<Standing> {
        match self {
            Reading::Certain { standing, .. } => Some(*standing),
            Reading::Uncertain { .. } => None,
        }
    }
}

/// Every party the timeline names, with its reading on `day`.
pub fn readings(steps: &[Step], day: Day) -> BTreeMap<PartyId, Reading> {
    let founded = founded(steps);
    let (per_party, org_wide) = party_steps(steps);
    let mut out = BTreeMap::new();
    for (party, mut own) in per_party {
        own.extend(&org_wide);
        own.sort_unstable();
        out.insert(party.clone(), read_party(steps, &own, founded, day));
    }
    out
}

/// The founding's first day, which clips every other step's range.
pub(crate) fn founded(steps: &[Step]) -> Day {
    steps.first().filter(|s| s.is_founding()).map_or(Day::MIN, |s| s.first)
}

/// Each party the steps name with the indexes of its steps, in party id
/// order; and the indexes of the steps that concern every party (a
/// dissolution).
pub(crate) fn party_steps(steps: &[Step]) -> (BTreeMap<&PartyId, Vec<usize>>, Vec<usize>) {
    let mut per_party: BTreeMap<&PartyId, Vec<usize>> = BTreeMap::new();
    let mut org_wide = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if matches!(step.action, Action::Dissolve) {
            org_wide.push(i);
        }
        for party in step.action.parties() {
            per_party.entry(party).or_default().push(i);
        }
    }
    (per_party, org_wide)
}

fn read_party(steps: &[Step], own: &[usize], founded: Day, day: Day) -> Reading {
    // standings[k]: the standing after the first k of the party's steps.
    let mut standings = Vec::with_capacity(own.len() + 1);
    standings.push(Standing::None);
    for &i in own {
        let before = standings[standings.len() - 1];
        standings.push(before.after(&steps[i].action).unwrap_or(before));
    }
    // The steps that have happened by `day` are a prefix: at least up to the
    // last that certainly happened, at most up to the last that may have.
    let least = own.iter().rposition(|&i| steps[i].last <= day).map_or(0, |p| p + 1);
    let most = own.iter().rposition(|&i| steps[i].start(founded) <= day).map_or(0, |p| p + 1).max(least);
    let mut possible: Vec<Standing> = standings[least..=most].to_vec();
    possible.sort_by_key(|s| s.rank());
    possible.dedup_by_key(|s| s.as_str());
    if possible.len() == 1 {
        let standing = standings[least];
        // Compared by status name: a status change while suspended does not
        // give the status `suspended`, the suspension did.
        let since = (1..=least).rev().find(|&k| standings[k - 1].as_str() != standings[k].as_str()).map(|k| own[k - 1]);
        Reading::Certain { standing, since }
    } else {
        let open = (least..most).find(|&k| standings[k + 1].as_str() != standings[least].as_str()).unwrap_or(least);
        Reading::Uncertain { possible, open: own[open] }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Member {
    pub id: PartyId,
    pub status: &'static str,
    pub since: String,
    pub founder: bool,
    #[serde(skip)]
    pub since_event: Uuid,
}

#[derive(Clone, Debug, Serialize)]
pub struct UncertainMember {
    pub id: PartyId,
    pub possible: Vec<&'static str>,
    pub date: String,
    #[serde(skip)]
    pub event: Uuid,
}

/// `members --json`, field for field (SPEC §5); the lists in the natural
/// order of party ids ([`natural_cmp`]).
#[derive(Clone, Debug, Serialize)]
pub struct Members {
    pub org: OrgId,
    pub at: Day,
    pub seq: u64,
    pub members: Vec<Member>,
    pub uncertain: Vec<UncertainMember>,
    pub count: usize,
}

fn date_of(step: &Step) -> String {
    step.date.to_string()
}

/// Who were the members of `org` on `day`, given its timeline as the log
/// stood at `seq`.
pub fn members(org: &OrgId, seq: u64, timeline: &Timeline, day: Day) -> Members {
    let steps = timeline.steps();
    members_on(org, seq, steps, &panel::tracks(steps), day)
}

/// [`members`], given the timeline's steps and their [`panel::tracks`],
/// which do not depend on the day (a cache of orgs keeps them).
pub fn members_on(org: &OrgId, seq: u64, steps: &[Step], tracks: &[panel::Track], day: Day) -> Members {
    let founders: &[PartyId] = match steps.first().map(|s| &s.action) {
        Some(Action::Found(f)) => f,
        _ => &[],
    };
    let mut members = Vec::new();
    let mut uncertain = Vec::new();
    for track in tracks {
        let party = track.party();
        match track.on(day) {
            panel::Cell::Certain { standing: Standing::None, .. } => {}
            panel::Cell::Certain { standing, since } => {
                let step = since.map(|i| &steps[i]);
                members.push(Member {
                    founder: founders.contains(party),
                    id: party.clone(),
                    status: standing.as_str(),
                    since: step.map(date_of).unwrap_or_default(),
                    since_event: step.map(|s| s.id).unwrap_or_default(),
                });
            }
            panel::Cell::Uncertain { possible, open } => uncertain.push(UncertainMember {
                id: party.clone(),
                possible: possible.names().collect(),
                date: date_of(&steps[open]),
                event: steps[open].id,
            }),
        }
    }
    members.sort_by(|a, b| natural_cmp(a.id.as_str(), b.id.as_str()));
    uncertain.sort_by(|a, b| natural_cmp(a.id.as_str(), b.id.as_str()));
    Members { org: org.clone(), at: day, seq, count: members.len(), members, uncertain }
}

/// `diff --json` (SPEC §5), lists in the natural order of party ids
/// ([`natural_cmp`]), plus the parties whose status is uncertain on
/// either day, which cannot be said to have joined, left or changed.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    pub org: OrgId,
    pub from: Day,
    pub to: Day,
    pub joined: Vec<PartyId>,
    pub left: Vec<PartyId>,
    pub changed: Vec<Changed>,
    pub uncertain: Vec<PartyId>,
    /// For each party that joined, left or changed: the event that gave its
    /// status on `to`, so a reader can see the date and source.
    #[serde(skip)]
    pub because: BTreeMap<PartyId, Uuid>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Changed {
    pub id: PartyId,
    pub from: &'static str,
    pub to: &'static str,
}

/// Who joined, left or changed status in `org` between `from` and `to`, given its timeline.
pub fn diff(org: &OrgId, timeline: &Timeline, from: Day, to: Day) -> Diff {
    let steps = timeline.steps();
    let before = readings(steps, from);
    let after = readings(steps, to);
    let mut d = Diff {
        org: org.clone(),
        from,
        to,
        joined: vec![],
        left: vec![],
        changed: vec![],
        uncertain: vec![],
        because: BTreeMap::new(),
    };
    for (party, a) in &before {
        let b = &after[party];
        if let Reading::Certain { since: Some(i), .. } = b {
            d.because.insert(party.clone(), steps[*i].id);
        }
        match (a.certain(), b.certain()) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) if x.as_str() == y.as_str() => {}
            (Some(Standing::None), Some(_)) => d.joined.push(party.clone()),
            (Some(_), Some(Standing::None)) => d.left.push(party.clone()),
            (Some(x), Some(y)) => d.changed.push(Changed { id: party.clone(), from: x.as_str(), to: y.as_str() }),
            _ => d.uncertain.push(party.clone()),
        }
    }
    let listed: std::collections::BTreeSet<&PartyId> =
        d.joined.iter().chain(&d.left).chain(d.changed.iter().map(|c| &c.id)).collect();
    d.because.retain(|p, _| listed.contains(&p));
    for list in [&mut d.joined, &mut d.left, &mut d.uncertain] {
        list.sort_by(|a, b| natural_cmp(a.as_str(), b.as_str()));
    }
    d.changed.sort_by(|a, b| natural_cmp(a.id.as_str(), b.id.as_str()));
    d
}

/// The org's events that count, in timeline order, found by `event`; with
/// `member`, only those that name it (and the org-wide founding and dissolution).
pub fn history<'a>(
    timeline: &Timeline,
    member: Option<&PartyId>,
    event: impl Fn(&Uuid) -> Option<&'a Recorded>,
) -> Vec<&'a Recorded> {
    timeline
        .steps()
        .iter()
        .filter(|s| match member {
            None => true,
            Some(p) => s.action.parties().contains(p) || matches!(s.action, Action::Found(_) | Action::Dissolve),
        })
        .filter_map(|s| event(&s.id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::Status;

    use super::testing::{party, step};

    #[test]
    fn members_and_diff_read_the_timeline_alone() {
        let timeline = Timeline::build(vec![
            step(1, "2000", Action::Found(vec![party("A")])),
            step(2, "2001-03", Action::Admit(vec![party("B")], Status::Observer)),
            step(3, "2002-05-01", Action::Withdraw(vec![party("A")])),
        ])
        .unwrap();
        let org = OrgId::parse("o").unwrap();
        let day = |d: &str| Day::parse(d).unwrap();
        let m = members(&org, 3, &timeline, day("2001-03-10"));
        assert_eq!((m.org.as_str(), m.seq, m.count), ("o", 3, 1));
        assert_eq!((m.members[0].id.as_str(), m.members[0].founder), ("A", true));
        // B's accession is known by month only: on a day within it, B may or may not be a member.
        assert_eq!(
            m.uncertain.iter().map(|u| (u.id.as_str(), u.possible.clone())).collect::<Vec<_>>(),
            [("B", vec!["none", "observer"])]
        );
        let d = diff(&org, &timeline, day("2001-01-01"), day("2003-01-01"));
        assert_eq!((d.joined, d.left), (vec![party("B")], vec![party("A")]));
        assert_eq!(d.because[&party("B")], Uuid::from_u128(2));
    }
}
