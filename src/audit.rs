//! Verification: the hash chain, the indexes and the rules, re-checked from
//! the bytes, streaming, for a ledger or for an export with no ledger.

use std::collections::HashMap;
use std::io::BufRead;

use serde_json::Value;

use crate::canonical;
use crate::envelope::{Envelope, Head};
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::id::OrgId;
use crate::store::{Store, org_key};
use crate::timeline::{Change, OrgState, Step, Timeline};

/// What a successful verification saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub head: Head,
    pub events: u64,
}

/// Checks one envelope after another: sequence, chain, hash, decoding, rules.
pub struct Verifier {
    head: Head,
    last_time: String,
    checkpoint: Option<Head>,
    checkpoint_seen: bool,
    timelines: HashMap<OrgId, Timeline>,
}

impl Verifier {
    pub fn new(checkpoint: Option<Head>) -> Verifier {
        Verifier {
            head: Head::empty(),
            last_time: String::new(),
            checkpoint,
            checkpoint_seen: false,
            timelines: HashMap::new(),
        }
    }

    /// Checks the next envelope, given as its raw JSON bytes. Errors say what
    /// is wrong; the caller says where.
    pub fn check(&mut self, bytes: &[u8]) -> Result<Envelope> {
        let expected = self.head.seq + 1;
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| Error::integrity(format!("seq {expected}: the envelope is not valid JSON")))?;
        let Value::Object(mut map) = value else {
            return Err(Error::integrity(format!("seq {expected}: the envelope is not a JSON object")));
        };
        // The hash is checked over the bytes as given, before any parsing
        // could normalize them.
        let Some(Value::String(hash)) = map.remove("hash") else {
            return Err(Error::integrity(format!("seq {expected}: the envelope has no `hash`")));
        };
        let mut out = Vec::with_capacity(bytes.len());
        canonical::write_canonical_map(&map, &mut out);
        if canonical::sha256_hex_bytes(&out) != hash {
            return Err(Error::integrity(format!(
                "seq {expected}: the hash does not match the content: the event was altered"
            )));
        }
        map.insert("hash".into(), Value::String(hash));
        let env = Envelope::from_value(Value::Object(map))
            .map_err(|e| Error::integrity(format!("seq {expected}: the envelope does not decode: {e}")))?;
        if env.seq != expected {
            return Err(Error::integrity(format!(
                "seq {expected}: found seq {} instead: the log has a gap, a duplicate or a swap",
                env.seq
            )));
        }
        if env.prev != self.head.hash {
            return Err(Error::integrity(format!(
                "seq {expected}: `prev` is not the hash of seq {}: the chain is broken",
                self.head.seq
            )));
        }
        if env.recorded_at < self.last_time {
            return Err(Error::integrity(format!("seq {expected}: recorded_at goes back in time")));
        }
        self.check_rules(&env).map_err(|why| {
            Error::integrity(format!("seq {expected}: {} breaks a rule: {why}", env.event.describe()))
        })?;
        if let Some(cp) = &self.checkpoint
            && cp.seq == expected
        {
            self.checkpoint_seen = true;
            if cp.hash != env.hash {
                return Err(Error::integrity(format!(
                    "seq {expected}: the checkpoint says hash {}, the log has {}: history up to seq {expected} was rewritten",
                    cp.hash, env.hash
                )));
            }
        }
        self.head = Head { seq: env.seq, hash: env.hash.clone() };
        self.last_time.clone_from(&env.recorded_at);
        Ok(env)
    }

    fn check_rules(&mut self, env: &Envelope) -> std::result::Result<(), String> {
        let event = &env.event;
        let timeline = self.timelines.entry(event.org.clone()).or_default();
        let target = match &event.kind {
            EventKind::Retraction { retracts, .. } => Some(*retracts),
            _ => event.supersedes,
        };
        if let Some(t) = &target
            && !timeline.contains(t)
        {
            return Err(format!("it corrects event {t}, which is not an event of the org that still counts"));
        }
        let step = Step::of(env.seq, event);
        let change = match (&target, step) {
            (Some(t), None) => Change::Remove(t),
            (Some(t), Some(s)) => Change::Replace(t, s),
            (None, Some(s)) => Change::Add(s),
            (None, None) => return Err("it has no date".to_owned()),
        };
        timeline.apply(change)
    }

    /// Ends the check: the head, or an error if a checkpoint was never reached.
    pub fn finish(self) -> Result<Report> {
        if let Some(cp) = &self.checkpoint
            && !self.checkpoint_seen
        {
            return Err(Error::integrity(format!(
                "the checkpoint names seq {}, but the log ends at seq {}: it lost events",
                cp.seq, self.head.seq
            )));
        }
        Ok(Report { events: self.head.seq, head: self.head })
    }
}

/// Verifies a whole ledger: the log, its indexes, the rules, a checkpoint.
pub fn verify_ledger(store: &Store, checkpoint: Option<Head>) -> Result<Report> {
    let mut verifier = Verifier::new(checkpoint);
    for item in store.scan_raw(1) {
        let (seq, bytes) = item?;
        let expected = verifier.head.seq + 1;
        if seq != expected {
            return Err(Error::integrity(format!("seq {expected}: the log has a gap (the next event is seq {seq})")));
        }
        let env = verifier.check(&bytes)?;
        match store.seq_of(&env.event.id) {
            Ok(Some(s)) if s == seq => {}
            Ok(_) => {
                return Err(Error::integrity(format!(
                    "seq {seq}: the id index does not point to event {}",
                    env.event.id
                )));
            }
            Err(e) => return Err(Error::integrity(format!("seq {seq}: {e}"))),
        }
        if !store.contains(&org_key(&env.event.org, seq))? {
            return Err(Error::integrity(format!("seq {seq}: the org index of `{}` lacks this event", env.event.org)));
        }
    }
    let report = verifier.finish()?;
    // Every event has its two index entries (checked above); equal counts
    // mean there is no entry without its event.
    let ids = store.id_index().count() as u64;
    let orgs = store.org_index().count() as u64;
    if ids != report.events || orgs != report.events {
        return Err(Error::integrity(format!(
            "the indexes hold {ids} id entries and {orgs} org entries for {} events: an index entry has no event",
            report.events
        )));
    }
    if let Some(key) = store.stray_keys().next() {
        let key = key?;
        return Err(Error::integrity(format!(
            "the ledger holds a key of no known kind ({}): it was altered",
            String::from_utf8_lossy(&key).escape_debug()
        )));
    }
    Ok(report)
}

/// Verifies an export (NDJSON of envelopes) with no ledger; errors name the line.
pub fn verify_export(label: &str, reader: impl BufRead, checkpoint: Option<Head>) -> Result<Report> {
    let mut verifier = Verifier::new(checkpoint);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| Error::io(format!("cannot read {label}: {e}")))?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        verifier.check(line).map_err(|e| e.at(format!("{label} line {}", i + 1)))?;
    }
    verifier.finish()
}

/// What one event did to membership, for `audit replay`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Replayed {
    pub seq: u64,
    pub id: uuid::Uuid,
    pub org: OrgId,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub date: Option<String>,
    pub joined: Vec<(crate::id::PartyId, &'static str)>,
    pub left: Vec<crate::id::PartyId>,
    pub changed: Vec<(crate::id::PartyId, &'static str, &'static str)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retracted: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded: Option<uuid::Uuid>,
}

/// Replays the log in order (one org's events with `org`), checking it as
/// it goes, and hands each event with the change it made to the org's
/// membership as the timeline stands after it (back-dated events included).
pub fn replay(
    store: &Store,
    org: Option<&OrgId>,
    mut each: impl FnMut(&Envelope, &Replayed) -> Result<()>,
) -> Result<Head> {
    let mut verifier = Verifier::new(None);
    // Each org's state after its previous event, to compare with the state after this one.
    let mut states: HashMap<OrgId, OrgState> = HashMap::new();
    for item in store.scan_raw(1) {
        let (_, bytes) = item?;
        let env = verifier.check(&bytes)?;
        if org.is_some_and(|o| *o != env.event.org) {
            continue;
        }
        let after = verifier.timelines.get(&env.event.org).map(|t| t.state()).cloned().unwrap_or_default();
        let before = states.insert(env.event.org.clone(), after.clone()).unwrap_or_default();
        let mut r = Replayed {
            seq: env.seq,
            id: env.event.id,
            org: env.event.org.clone(),
            kind: env.event.type_name(),
            date: env.event.date.map(|d| d.to_string()),
            joined: vec![],
            left: vec![],
            changed: vec![],
            retracted: None,
            superseded: env.event.supersedes,
        };
        if let EventKind::Retraction { retracts, .. } = &env.event.kind {
            r.retracted = Some(*retracts);
        }
        let mut parties: Vec<&crate::id::PartyId> =
            before.members().map(|(p, _)| p).chain(after.members().map(|(p, _)| p)).collect();
        parties.sort();
        parties.dedup();
        for p in parties {
            let (a, b) = (before.standing(p), after.standing(p));
            match (a.is_member(), b.is_member()) {
                (false, true) => r.joined.push((p.clone(), b.as_str())),
                (true, false) => r.left.push(p.clone()),
                (true, true) if a.as_str() != b.as_str() => r.changed.push((p.clone(), a.as_str(), b.as_str())),
                _ => {}
            }
        }
        each(&env, &r)?;
    }
    Ok(verifier.finish()?.head)
}
