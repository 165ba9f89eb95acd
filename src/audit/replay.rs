//! `audit replay`: the log checked in order, each event with the change it made to its org's membership.

use std::collections::HashMap;

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
use crate::timeline::OrgState;

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
    mut each: impl FnMut(&Envelope, &Replayed) -> Result<()>,
) -> Result<Head> {
    let mut verifier = Verifier::new(None);
    if let Some(marker) = store.head_marker()?
        && marker.seq > 0
    {
        verifier.require(marker, Witness::HeadMarker);
    }
    // Each org's state after its previous event, to compare with the state after this one.
    let mut states: HashMap<OrgId, OrgState> = HashMap::new();
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
        let after = verifier.state(env.event.org.as_str()).cloned().unwrap_or_default();
        let before = states.insert(env.event.org.clone(), after.clone()).unwrap_or_default();
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
        let mut parties: Vec<&PartyId> =
            before.members().map(|(p, _)| p).chain(after.members().map(|(p, _)| p)).collect();
        parties.sort();
        parties.dedup();
        for p in parties {
            let (a, b) = (before.standing(p), after.standing(p));
            match (a.is_member(), b.is_member()) {
                (false, true) => r.joined.push(Joined { id: p.clone(), status: b.as_str() }),
                (true, false) => r.left.push(p.clone()),
                (true, true) if a.as_str() != b.as_str() => {
                    r.changed.push(StatusChange { id: p.clone(), from: a.as_str(), to: b.as_str() })
                }
                _ => {}
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

    #[test]
    fn replay_of_an_org_with_no_event_is_not_found() {
        let (_dir, store) = raw_ledger(&[json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"]})]);
        let err = replay(&store, Some(&OrgId::parse("nato").unwrap()), &(), |_, _| Ok(())).unwrap_err();
        assert!(matches!(&err, Error::Audit(AuditError::NoEventOfOrg(org)) if org.as_str() == "nato"), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.to_string(), "the log has no event of org `nato`");
    }
}
