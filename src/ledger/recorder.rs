//! The only writer: checks each event under the rules, seals it into the
//! hash chain and hands it to the store.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::org::timeline_of;
use super::{MAX_EVENT_BYTES, Outcome};
use crate::error::{Error, Result};
use crate::model::envelope::{Envelope, Head, format_time, looks_like_envelope, parse_time};
use crate::model::event::{Event, EventKind, parse_json};
use crate::model::id::OrgId;
use crate::store::Store;
use crate::timeline::{Change, Step, Tail, Timeline};

/// Refuses an event whose recorded bytes (its envelope, one line of
/// `accord export`) would pass [`MAX_EVENT_BYTES`], whatever made it, so
/// that every export imports again.
fn check_size(len: usize) -> Result<()> {
    if len > MAX_EVENT_BYTES {
        return Err(Error::rejected(format!(
            "the event would be recorded as {len} bytes (with its seq, time, recorder and hashes), more than the {MAX_EVENT_BYTES} bytes an event may take"
        )));
    }
    Ok(())
}

pub struct Recorder<'a> {
    store: &'a Store,
    actor: String,
    /// The head before this recorder wrote anything, to undo a failed import.
    start: Head,
    head: Head,
    last_time: DateTime<Utc>,
    /// The final state of each org touched, to check events that sort last.
    tails: HashMap<OrgId, Tail>,
}

impl Recorder<'_> {
    pub(super) fn new<'s>(store: &'s Store, actor: &str) -> Result<Recorder<'s>> {
        let last = store.last()?;
        let (head, last_time) = match &last {
            None => (Head::empty(), DateTime::<Utc>::MIN_UTC),
            Some(env) => (
                Head { seq: env.seq, hash: env.hash.clone() },
                parse_time(&env.recorded_at).unwrap_or(DateTime::<Utc>::MIN_UTC),
            ),
        };
        Ok(Recorder { store, actor: actor.to_owned(), start: head.clone(), head, last_time, tails: HashMap::new() })
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Records one line of NDJSON: a bare event, or an export's envelope.
    pub fn record_line(&mut self, line: &str) -> Result<Outcome> {
        if line.len() > MAX_EVENT_BYTES {
            return Err(Error::rejected(format!(
                "the line is {} bytes long, more than the {MAX_EVENT_BYTES} bytes an event may take",
                line.len()
            )));
        }
        let value = parse_json(line)?;
        match &value {
            Value::Object(map) if looks_like_envelope(map) => {
                let env = Envelope::from_value(value)?;
                self.record_envelope(env)
            }
            _ => self.record(Event::from_value(value)?),
        }
    }

    /// Records a new event at the end of the log.
    pub fn record(&mut self, event: Event) -> Result<Outcome> {
        if let Some(outcome) = self.already_recorded(&event)? {
            return Ok(outcome);
        }
        self.check_rules(&event)?;
        let now = Utc::now().max(self.last_time);
        let (env, len) = Envelope::seal_measured(
            event,
            self.head.seq + 1,
            format_time(now),
            self.actor.clone(),
            self.head.hash.clone(),
        );
        check_size(len)?;
        self.last_time = now;
        self.push(env)
    }

    /// Restores an envelope of an export verbatim, if it continues the log exactly.
    pub fn record_envelope(&mut self, env: Envelope) -> Result<Outcome> {
        let seq = env.seq;
        if seq <= self.head.seq {
            let recorded = self.envelope_at(seq)?;
            return if recorded.hash == env.hash {
                Ok(Outcome::AlreadyRecorded(seq))
            } else {
                Err(Error::rejected(format!(
                    "the envelope of seq {seq} differs from the event recorded at seq {seq}: the export is of another log"
                )))
            };
        }
        if seq != self.head.seq + 1 {
            return Err(Error::rejected(format!(
                "the envelope of seq {seq} does not continue the log, whose head is seq {}",
                self.head.seq
            )));
        }
        if env.prev != self.head.hash {
            return Err(Error::rejected(format!(
                "the envelope of seq {seq} has a `prev` that is not the hash of seq {}",
                self.head.seq
            )));
        }
        if !env.hash_is_valid() {
            return Err(Error::rejected(format!(
                "the envelope of seq {seq} has a `hash` that does not match its content"
            )));
        }
        let at = parse_time(&env.recorded_at).unwrap_or(DateTime::<Utc>::MIN_UTC);
        if at < self.last_time {
            return Err(Error::rejected(format!(
                "the envelope of seq {seq} was recorded before seq {}",
                self.head.seq
            )));
        }
        if let Some(other) = self.store.seq_of(&env.event.id)? {
            let place = if other > self.start.seq { "earlier in this import, as" } else { "already recorded at" };
            return Err(Error::rejected(format!("event {} of seq {seq} is {place} seq {other}", env.event.id)));
        }
        check_size(env.to_json().len())?;
        self.check_rules(&env.event)?;
        self.last_time = at;
        self.push(env)
    }

    /// Hands a sealed envelope to the store, which holds it until it is
    /// durable; every read of the store sees it at once.
    fn push(&mut self, env: Envelope) -> Result<Outcome> {
        let seq = env.seq;
        self.head = Head { seq, hash: env.hash.clone() };
        self.store.push(&self.start, env)?;
        Ok(Outcome::Recorded(seq))
    }

    /// Makes what was recorded durable and visible (`Store::commit`).
    /// Only after this returns may the events be reported as recorded. If
    /// it fails, [`Recorder::abort`] undoes the writes (or, if the process
    /// dies first, the next open does).
    pub fn commit(&mut self) -> Result<Head> {
        self.store.commit()?;
        Ok(self.head.clone())
    }

    /// Undoes everything this recorder wrote: the log is as it was before.
    pub fn abort(self) -> Result<()> {
        self.store.abort()
    }

    fn envelope_at(&self, seq: u64) -> Result<Envelope> {
        self.store.get(seq)?.ok_or_else(|| Error::integrity(format!("the log has a gap at seq {seq}")))
    }

    fn event_by_id(&self, id: &Uuid) -> Result<Option<Envelope>> {
        match self.store.seq_of(id)? {
            None => Ok(None),
            Some(seq) => self.envelope_at(seq).map(Some),
        }
    }

    fn already_recorded(&self, event: &Event) -> Result<Option<Outcome>> {
        let Some(recorded) = self.event_by_id(&event.id)? else { return Ok(None) };
        if recorded.event.canonical() == event.canonical() {
            Ok(Some(Outcome::AlreadyRecorded(recorded.seq)))
        } else if recorded.seq > self.start.seq {
            // Not in the log: given earlier by the same command, which is not recorded yet.
            Err(Error::rejected(format!(
                "event {} is given twice in this import, with other content: an event cannot be changed, record a correction (supersedes) instead",
                event.id
            )))
        } else {
            Err(Error::rejected(format!(
                "event {} is already recorded at seq {} with other content: an event cannot be changed, record a correction (supersedes) instead",
                event.id, recorded.seq
            )))
        }
    }

    /// The org's whole timeline: its events in the store, those of this
    /// command (not durable yet) included.
    fn timeline(&self, org: &OrgId) -> Result<Timeline> {
        self.store.with_org_events(org, |events| timeline_of(org, events))?
    }

    /// Checks the event against its org's timeline and, if it keeps every
    /// rule, applies it there.
    ///
    /// Only the tail of each org's timeline (its final state) stays in
    /// memory, so an import's memory does not grow with its length. An event
    /// that sorts last is checked against the tail; a back-dated event or a
    /// correction loads the org's whole timeline and re-folds it.
    ///
    /// A refusal names the events recorded before this recorder started by
    /// their seq, and those it has recorded since (not committed, so not in
    /// the log) by their date, as it names the event checked.
    fn check_rules(&mut self, event: &Event) -> Result<()> {
        let broken =
            |why: String| Error::rejected(format!("{} breaks a rule of org `{}`: {why}", event.describe(), event.org));
        let target = match &event.kind {
            EventKind::Retraction { retracts, .. } => Some(*retracts),
            _ => event.supersedes,
        };
        let step = Step::of(self.head.seq + 1, event);
        // The org's whole timeline, once loaded (at most once per event).
        let mut loaded = None;
        if let (None, Some(step)) = (&target, &step) {
            if !self.tails.contains_key(&event.org) {
                let timeline = self.timeline(&event.org)?;
                self.tails.insert(event.org.clone(), Tail::of(&timeline));
                loaded = Some(timeline);
            }
            if let Some(tail) = self.tails.get_mut(&event.org)
                && let Some(outcome) = tail.try_append(step, self.start.seq)
            {
                return outcome.map_err(broken);
            }
        }
        let mut timeline = match loaded {
            Some(timeline) => timeline,
            None => self.timeline(&event.org)?,
        };
        if let Some(target) = &target {
            self.check_target(event, target, &timeline)?;
        }
        let change = match (&target, step) {
            (Some(target), None) => Change::Remove(target),
            (Some(target), Some(step)) => Change::Replace(target, step),
            (None, Some(step)) => Change::Add(step),
            (None, None) => return Err(Error::rejected(format!("{} has no date", event.describe()))),
        };
        timeline.apply(change, self.start.seq).map_err(broken)?;
        self.tails.insert(event.org.clone(), Tail::of(&timeline));
        Ok(())
    }

    fn check_target(&self, event: &Event, target: &Uuid, timeline: &Timeline) -> Result<()> {
        let what = if event.supersedes.is_some() { "supersedes" } else { "retracts" };
        let refuse = |why: String| Err(Error::rejected(format!("{} {what} event {target}, {why}", event.describe())));
        let Some(recorded) = self.event_by_id(target)? else {
            return refuse("which is not in the log".to_owned());
        };
        if recorded.event.org != event.org {
            return refuse(format!("an event of org `{}`, not of `{}`", recorded.event.org, event.org));
        }
        if matches!(recorded.event.kind, EventKind::Retraction { .. }) {
            return refuse("a retraction: a retraction cannot be corrected, only the events it names".to_owned());
        }
        if !timeline.contains(target) {
            return refuse("which no longer counts: it was already retracted or superseded".to_owned());
        }
        Ok(())
    }
}
