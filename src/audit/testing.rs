//! Random logs for the audit's tests: two orgs, rules kept or broken, back-dated events and corrections.

use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

use super::verifier::Verifier;
use crate::model::envelope::{Envelope, Head};
use crate::model::event::Event;
use crate::store::{Options, Store};

const ORGS: [&str; 2] = ["isa", "nato"];
const PARTIES: [&str; 4] = ["A", "B", "C", "D"];
const DATES: [&str; 9] = ["2000", "2000-06", "2001-01-01", "2001~", "1999/2001", "2002-03", "2003", "1998", "2005?"];

/// One event of a random log: its org, type, date, parties, and which
/// earlier event (by position) it corrects, if any.
pub(super) type Plan = (usize, usize, usize, Vec<usize>, Option<prop::sample::Index>);

fn event_of(plan: &Plan, i: usize, ids: &[Uuid]) -> Value {
    let (org, kind, date, parties, target) = plan;
    let kind = crate::model::event::TYPES[*kind];
    let mut members: Vec<&str> = parties.iter().map(|&p| PARTIES[p]).collect();
    members.dedup();
    if members.is_empty() {
        members.push("A");
    }
    let mut e = json!({"type": kind, "org": ORGS[*org], "date": DATES[*date],
                       "id": Uuid::from_u128(i as u128 + 1).to_string()});
    let map = e.as_object_mut().unwrap();
    match kind {
        "exercise" => {
            map.insert("name".into(), json!("X"));
        }
        "dissolution" => {}
        "retraction" => {
            map.insert("reason".into(), json!("r"));
        }
        "status_change" => {
            map.insert("members".into(), json!(members));
            map.insert("status".into(), json!("observer"));
        }
        _ => {
            map.insert("members".into(), json!(members));
        }
    }
    // A correction of any earlier event (of another org, it is refused).
    let target = target.as_ref().filter(|_| !ids.is_empty()).map(|t| ids[t.index(ids.len())]);
    match (kind, target) {
        ("retraction", Some(t)) => map.insert("retracts".into(), json!(t.to_string())),
        ("retraction", None) => map.insert("retracts".into(), json!(Uuid::from_u128(999).to_string())),
        (_, Some(t)) => map.insert("supersedes".into(), json!(t.to_string())),
        _ => None,
    };
    e
}

/// A ledger holding `events` as a hash chain, whatever the rules say.
pub(super) fn raw_ledger(events: &[Value]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l");
    let store = Store::open(&path, &Options::new(Duration::from_secs(5), true)).unwrap();
    let mut prev = crate::model::envelope::GENESIS.to_owned();
    let mut envs = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let event = Event::from_value(e.clone()).unwrap();
        let env = Envelope::seal(event, i as u64 + 1, "2024-01-01T00:00:00.000000Z".into(), "t".into(), prev);
        prev = env.hash.clone();
        envs.push(env);
    }
    store.write(&Head::empty(), &envs).unwrap();
    store.commit().unwrap();
    (dir, store)
}

pub(super) fn plans() -> impl Strategy<Value = Vec<Plan>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![0, 0, 0, 1]),
            prop::sample::select(vec![0, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 7, 8, 9, 10, 10, 10]),
            0..DATES.len(),
            prop::collection::vec(0..PARTIES.len(), 1..3),
            prop::option::weighted(0.2, any::<prop::sample::Index>()),
        ),
        1..40,
    )
}

/// For [`random_log`]: which refused events to keep (rarely).
pub(super) fn keep_refused() -> impl Strategy<Value = Vec<bool>> {
    prop::collection::vec(prop::bool::weighted(0.04), 42)
}

/// Random logs of two orgs, rules kept or broken, with back-dated
/// events, retractions and supersessions. Each event that the rules
/// refuse is dropped with a probability, so that most logs verify.
pub(super) fn random_log(plans: &[Plan], keep_refused: &[bool]) -> Vec<Value> {
    let mut events = Vec::new();
    let mut ids: Vec<Uuid> = Vec::new();
    let mut checker = Verifier::new(None);
    // Both orgs founded first, mostly.
    let foundings: Vec<Plan> = vec![(0, 0, 1, vec![0], None), (1, 0, 4, vec![0, 1], None)];
    let skip = usize::from(keep_refused.first().copied().unwrap_or(false));
    for (i, plan) in foundings[skip..].iter().chain(plans).enumerate() {
        let e = event_of(plan, i + 100, &ids);
        let event = Event::from_value(e.clone()).unwrap();
        let env = Envelope::seal(
            event,
            checker.head().seq + 1,
            "2024-01-01T00:00:00.000000Z".into(),
            "t".into(),
            checker.head().hash.clone(),
        );
        let mut trial = checker.trial();
        let ok = trial.follow(env.clone()).is_ok();
        if ok || keep_refused.get(i).copied().unwrap_or(false) {
            checker = trial;
            if !ok {
                // Keep the log going past the broken event.
                checker.skip_to(Head { seq: env.seq, hash: env.hash.clone() });
            }
            ids.push(env.event.id);
            events.push(e);
        }
    }
    events
}
