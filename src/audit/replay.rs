//! `audit replay`: the log checked in order, each event with the change it made to its org's membership.

use foldhash::{HashMap, HashMapExt};

use uuid::Uuid;

use super::AuditError;
use super::error::Witness;
use super::verifier::Verifier;
use crate::error::Result;
use crate::model::envelope::{Envelope, Head};
use crate::model::event::EventKind;
use crate::model::id::{OrgId, PartyId};
use crate::progress::{EVERY, Progress};
use crate::store::Store;
use crate::timeline::{OrgState, Standing};

/// An earlier event that one corrects, as replay names it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Target {
    pub seq: u64,
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub date: Option<String>,
}

/// A party that became a member, with its status.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Joined {
    pub id: PartyId,
    pub status: &'static str,
}

/// A member whose status changed (and who stayed a member).
#[derive(Clone, Debug, serde::Serialize)]
pub struct StatusChange {
    pub id: PartyId,
    pub from: &'static str,
    pub to: &'static str,
}

/// What one event did to membership, for `audit replay`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Replayed {
    pub seq: u64,
    pub id: Uuid,
    pub org: OrgId,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub date: Option<String>,
    /// Parties that became members, with their status.
    pub joined: Vec<Joined>,
    /// Parties that stopped being members.
    pub left: Vec<PartyId>,
    /// Members whose status changed.
    pub changed: Vec<StatusChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retracted: Option<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded: Option<Target>,
}

/// Replays the log in order (one org's events with `org`), checking it as
/// it goes, and hands each event with the change it made to the org's
/// membership as the timeline stands after it (back-dated events included).
/// Tells `progress` how far it has got every [`EVERY`] events.
pub fn replay(
    store: &Store,
    org: Option<&OrgId>,
    progress: &dyn Progress,
    each: impl FnMut(&Envelope, &Replayed) -> Result<()>,
) -> Result<Head> {
    replay_comparing(store, org, progress, Compare::Named, each)
}

/// Which parties an event's change is looked for among.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// The parties the event names, unless it is a correction, a retraction
    /// or a dissolution (then every member before or after): a party's
    /// standing depends only on its own steps and the org-wide ones, so no
    /// other can change. Cost: the event's size, not the org's.
    Named,
    /// Every member before or after, always (the tests' reference).
    #[cfg(test)]
    All,
}

fn replay_comparing(
    store: &Store,
    org: Option<&OrgId>,
    progress: &dyn Progress,
    compare: Compare,
    mut each: impl FnMut(&Envelope, &Replayed) -> Result<()>,
) -> Result<Head> {
    let mut verifier = Verifier::new(None);
    if let Some(marker) = store.head_marker()?
        && marker.seq > 0
    {
        verifier.require(marker, Witness::HeadMarker);
    }
    // Each org's members (standing other than none) after its previous
    // event, to compare with the standings after this one.
    let mut members: HashMap<OrgId, HashMap<PartyId, Standing>> = HashMap::new();
    let nobody = OrgState::default();
    // What each event of the org was, to name the ones a correction removes.
    let mut targets: HashMap<Uuid, Target> = HashMap::new();
    let mut any = false;
    for item in store.scan_raw(1) {
        let (seq, bytes) = item?;
        let expected = verifier.head().seq + 1;
        if seq != expected {
            return Err(AuditError::Gap { seq: expected, next: seq }.into());
        }
        let env = verifier.check(&bytes)?;
        if seq % EVERY == 0 {
            progress.done(seq);
        }
        if org.is_some_and(|o| *o != env.event.org) {
            continue;
        }
        any = true;
        let target = |id: Option<Uuid>| id.and_then(|id| targets.get(&id).cloned());
        let corrected = match &env.event.kind {
            EventKind::Retraction { retracts, .. } => (target(Some(*retracts)), None),
            _ => (None, target(env.event.supersedes)),
        };
        let date = env.event.date.map(|d| d.to_string());
        targets.insert(env.event.id, Target { seq, id: env.event.id, kind: env.event.type_name(), date: date.clone() });
        let after = verifier.state(env.event.org.as_str()).unwrap_or(&nobody);
        let before = members.entry(env.event.org.clone()).or_default();
        let org_wide = env.event.supersedes.is_some()
            || matches!(env.event.kind, EventKind::Retraction { .. } | EventKind::Dissolution);
        let mut parties: Vec<PartyId> = if org_wide || compare != Compare::Named {
            before.keys().cloned().chain(after.members().map(|(p, _)| p.clone())).collect()
        } else {
            env.event.kind.members().to_vec()
        };
        parties.sort();
        parties.dedup();
        let mut r = Replayed {
            seq,
            id: env.event.id,
            org: env.event.org.clone(),
            kind: env.event.type_name(),
            date,
            joined: vec![],
            left: vec![],
            changed: vec![],
            retracted: corrected.0,
            superseded: corrected.1,
        };
        for p in parties {
            let (a, b) = (before.get(&p).copied().unwrap_or_default(), after.standing(&p));
            match (a.is_member(), b.is_member()) {
                (false, true) => r.joined.push(Joined { id: p.clone(), status: b.as_str() }),
                (true, false) => r.left.push(p.clone()),
                (true, true) if a.as_str() != b.as_str() => {
                    r.changed.push(StatusChange { id: p.clone(), from: a.as_str(), to: b.as_str() })
                }
                _ => {}
            }
            if b.is_member() {
                before.insert(p, b);
            } else {
                before.remove(&p);
            }
        }
        each(&env, &r)?;
    }
    if let Some(org) = org
        && !any
    {
        return Err(AuditError::NoEventOfOrg(org.clone()).into());
    }
    Ok(verifier.finish()?.head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::testing::raw_ledger;
    use crate::error::{Error, ErrorKind};
    use serde_json::json;

    #[test]
    fn replay_says_who_joined_left_and_changed_status() {
        let (_dir, store) = raw_ledger(&[
            json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A", "B"]}),
            json!({"type": "status_change", "org": "isa", "date": "2001", "members": ["A"], "status": "observer"}),
            json!({"type": "withdrawal", "org": "isa", "date": "2002", "members": ["B"]}),
            json!({"type": "founding", "org": "nato", "date": "2000", "members": ["C"]}),
        ]);
        let mut seen = Vec::new();
        let head = replay(&store, Some(&OrgId::parse("isa").unwrap()), &(), |env, r| {
            assert_eq!(env.seq, r.seq);
            let joined: Vec<String> = r.joined.iter().map(|j| format!("{}:{}", j.id, j.status)).collect();
            let left: Vec<String> = r.left.iter().map(|p| p.to_string()).collect();
            let changed: Vec<String> = r.changed.iter().map(|c| format!("{}:{}>{}", c.id, c.from, c.to)).collect();
            seen.push((r.seq, joined, left, changed));
            Ok(())
        })
        .unwrap();
        assert_eq!(head.seq, 4);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].1.len(), 2);
        assert!(seen[1].1.is_empty() && seen[1].2.is_empty() && seen[1].3.len() == 1, "{seen:?}");
        assert_eq!(seen[2].2, ["B"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Looking among the parties an event names finds exactly the
        /// changes that comparing every member before and after finds, on
        /// random logs with corrections, retractions, back-dated events and
        /// dissolutions.
        #[test]
        fn the_named_parties_give_the_changes_all_members_give(
            plans in crate::audit::testing::plans(),
            keep_refused in crate::audit::testing::keep_refused(),
        ) {
            let events = crate::audit::testing::random_log(&plans, &keep_refused);
            proptest::prop_assume!(!events.is_empty());
            let (_dir, store) = raw_ledger(&events);
            let run = |compare| {
                let mut seen = Vec::new();
                let head = replay_comparing(&store, None, &(), compare, |_, r| {
                    seen.push(serde_json::to_string(r).unwrap());
                    Ok(())
                });
                (head.map_err(|e| e.to_string()), seen)
            };
            proptest::prop_assert_eq!(run(Compare::Named), run(Compare::All));
        }
    }

    #[test]
    fn replay_of_an_org_with_no_event_is_not_found() {
        let (_dir, store) = raw_ledger(&[json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"]})]);
        let err = replay(&store, Some(&OrgId::parse("nato").unwrap()), &(), |_, _| Ok(())).unwrap_err();
        assert!(matches!(&err, Error::Audit(AuditError::NoEventOfOrg(org)) if org.as_str() == "nato"), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.to_string(), "the log has no event of org `nato`");
    }
}
