//! The ledger: recording events under the rules, and reading the log back.
//!
//! [`Recorder`] is the only writer. It checks each event against its org's
//! timeline (loaded through the by-org index, then kept in memory), seals it
//! into the hash chain, and writes batches of envelopes. Nothing is reported
//! as recorded before [`Recorder::commit`] has made it durable, and
//! [`Recorder::abort`] removes whatever batches it had already written. A
//! recorder that is dropped (or a process killed) before its commit leaves
//! batches that nothing reads: the next open of the ledger removes them
//! ([`Store::commit`] has the protocol).

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::envelope::{
    Envelope, GENESIS, Head, Recorded, Scratch, Sealed, format_time, looks_like_envelope, parse_time,
};
use crate::model::event::{Event, EventKind, parse_json};
use crate::model::id::OrgId;
use crate::store::{HEAD_FILE, Options, Packed, Store, decode_copy};
use crate::timeline::{Change, Step, Tail, Timeline};

/// Envelopes handed to the store at a time: one log block
/// ([`crate::store::BLOCK`]), so that an import writes each block once.
pub const BATCH: usize = crate::store::BLOCK;

/// The largest event accepted, in bytes of JSON: real events are a few KB,
/// and keeping values small keeps them out of sled's unsynced blob files.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// The `prev` and `hash` of the stored envelope of `seq`, once its bytes
/// are found to be an envelope of that seq whose hash matches its content.
fn chain_of(seq: u64, bytes: &[u8], scratch: &mut Scratch) -> Result<(String, String)> {
    if let Some(sealed) = Sealed::read(bytes, scratch)
        && sealed.seq == seq
    {
        return Ok((sealed.prev.to_owned(), sealed.hash.to_owned()));
    }
    // Not in the form the fast reader takes: the general way, which says what is wrong.
    let env = crate::store::decode(seq, bytes)?;
    if !env.hash_is_valid() {
        return Err(Error::integrity(format!(
            "seq {seq}: the log is damaged: the stored event's hash does not match its content"
        )));
    }
    Ok((env.prev, env.hash))
}

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

/// Which state of the log a query reads (transaction time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Now,
    Seq(u64),
    Time(DateTime<Utc>),
}

pub struct Ledger {
    store: Store,
}

/// What recording one event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Recorded(u64),
    AlreadyRecorded(u64),
}

impl Ledger {
    pub fn open(dir: &Path, options: &Options) -> Result<Ledger> {
        Ok(Ledger { store: Store::open(dir, options)? })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// See [`Store::close_discarding_if_new`].
    pub fn close_discarding_if_new(self) -> Result<()> {
        self.store.close_discarding_if_new()
    }

    pub fn head(&self) -> Result<Head> {
        self.store.head()
    }

    /// Starts recording; `actor` becomes `recorded_by`.
    pub fn recorder(&self, actor: &str) -> Result<Recorder<'_>> {
        let last = self.store.last()?;
        let (head, last_time) = match &last {
            None => (Head::empty(), DateTime::<Utc>::MIN_UTC),
            Some(env) => (
                Head { seq: env.seq, hash: env.hash.clone() },
                parse_time(&env.recorded_at).unwrap_or(DateTime::<Utc>::MIN_UTC),
            ),
        };
        Ok(Recorder {
            store: &self.store,
            actor: actor.to_owned(),
            start: head.clone(),
            head,
            last_time,
            pending: Vec::new(),
            pending_ids: HashMap::new(),
            tails: HashMap::new(),
        })
    }

    /// The event with this id.
    pub fn find(&self, id: &Uuid) -> Result<Option<Envelope>> {
        let Some(seq) = self.store.seq_of(id)? else { return Ok(None) };
        let env = self.checked(seq)?.ok_or_else(|| {
            Error::integrity(format!("the id index names seq {seq} for event {id}, which is not in the log"))
        })?;
        if env.event.id != *id {
            return Err(Error::integrity(format!(
                "the id index names seq {seq} for event {id}, which holds another event"
            )));
        }
        Ok(Some(env))
    }

    /// Hands `each` every envelope from `from_seq` on, in log order, as its
    /// stored bytes (one line of `accord export`), checking as it reads that
    /// nothing is missing or altered: seqs follow each other with no gap,
    /// each hash matches its envelope, each `prev` is the hash before, and
    /// the log ends at the head its last commit recorded. Anything else is
    /// an integrity error naming the first missing or bad seq, so a reader
    /// never gives a short or altered answer as if it were whole.
    pub fn read_log(&self, from_seq: u64, mut each: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let from_seq = from_seq.max(1);
        let head = self.store.head()?;
        let mut next: Option<u64> = None;
        let mut prev = String::new();
        let mut scratch = Scratch::default();
        let gap = |seq: u64, found: u64| {
            Error::integrity(format!(
                "seq {seq}: the log is damaged: the event at seq {seq} is missing (the next one stored is seq {found})"
            ))
        };
        for block in self.store.block_spans(from_seq) {
            let (first, block) = block?;
            match next {
                None if first > from_seq => return Err(gap(from_seq, first)),
                None if first == 1 => prev.push_str(GENESIS),
                Some(seq) if seq != first => return Err(gap(seq, first)),
                _ => {}
            }
            for (seq, span) in &block.spans {
                let bytes = &block.payload[span.clone()];
                let (env_prev, hash) = chain_of(*seq, bytes, &mut scratch)?;
                if !prev.is_empty() && env_prev != prev {
                    return Err(Error::integrity(format!(
                        "seq {seq}: the log is damaged: its `prev` is not the hash of seq {}",
                        seq - 1
                    )));
                }
                prev = hash;
                if *seq >= from_seq {
                    each(*seq, bytes)?;
                }
                next = Some(seq + 1);
            }
        }
        let end = next.map_or(0, |n| n - 1);
        if head.seq >= from_seq && (end != head.seq || prev != head.hash) {
            return Err(Error::integrity(format!(
                "seq {}: the log is damaged: it ends at seq {end}, but its head is seq {}",
                end + 1,
                head.seq
            )));
        }
        Ok(())
    }

    /// The envelope at `seq`, its hash checked against its content.
    pub fn checked(&self, seq: u64) -> Result<Option<Envelope>> {
        let Some(bytes) = self.store.raw(seq)? else { return Ok(None) };
        chain_of(seq, &bytes, &mut Scratch::default())?;
        crate::store::decode(seq, &bytes).map(Some)
    }

    /// Hands `each` every envelope of `org`, in log order, as stored in the
    /// log; each is checked to be the envelope of its seq, its hash intact.
    pub fn read_org_log(&self, org: &OrgId, mut each: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let mut scratch = Scratch::default();
        for (seq, bytes) in self.store.org_raw(org, u64::MAX)? {
            chain_of(seq, &bytes, &mut scratch)?;
            each(seq, &bytes)?;
        }
        Ok(())
    }

    /// After `audit verify` found the log whole up to `head`: checks that the
    /// head marker names that head. A marker that is missing is restored
    /// when a checkpoint the user kept vouched for the log (returned);
    /// without one, or with a marker that names another head, the ledger
    /// is reported damaged.
    pub fn settle_head_marker(&self, head: &Head, checkpoint: Option<&Head>) -> Result<Option<Head>> {
        match self.store.head_marker()? {
            Some(marker) if marker == *head => Ok(None),
            None if head.seq == 0 => Ok(None),
            None => match checkpoint {
                Some(checkpoint) => {
                    self.store.write_head_marker(head)?;
                    Ok(Some(checkpoint.clone()))
                }
                None => Err(Error::integrity(format!(
                    "the log verifies up to seq {}, but {HEAD_FILE} (the head its last commit recorded) is missing, \
                     so a log cut short cannot be told from a whole one: check it against a checkpoint you kept \
                     (`accord audit verify --checkpoint SEQ:HASH`), which restores the marker",
                    head.seq
                ))),
            },
            Some(marker) => Err(Error::integrity(format!(
                "the log verifies up to seq {}, but its last commit recorded seq {} as the head ({HEAD_FILE}): \
                 events were added to the log outside accord, or the marker was replaced",
                head.seq, marker.seq
            ))),
        }
    }

    /// The log position a view reads up to.
    pub fn resolve(&self, as_of: AsOf) -> Result<u64> {
        let head = self.store.head()?.seq;
        match as_of {
            AsOf::Now => Ok(head),
            AsOf::Seq(n) if n <= head => Ok(n),
            AsOf::Seq(n) => Err(Error::rejected(format!("the log has no seq {n}: its head is seq {head}"))),
            AsOf::Time(t) => {
                // recorded_at never decreases: binary search for the last seq at or before t.
                let (mut lo, mut hi) = (0u64, head);
                while lo < hi {
                    let mid = lo + (hi - lo).div_ceil(2);
                    let env = self
                        .store
                        .get(mid)?
                        .ok_or_else(|| Error::integrity(format!("the log has a gap at seq {mid}")))?;
                    let at = parse_time(&env.recorded_at).ok_or_else(|| {
                        Error::integrity(format!("the stored event at seq {mid} has a damaged recorded_at"))
                    })?;
                    if at <= t { lo = mid } else { hi = mid - 1 }
                }
                Ok(lo)
            }
        }
    }

    /// An org's events up to `upto`, in log order, and the timeline of those
    /// that count then (corrections applied as of `upto`).
    pub fn org(&self, org: &OrgId, upto: u64) -> Result<OrgRecord> {
        OrgRecord::new(org.clone(), upto, self.store.org_copies(org, upto)?)
    }
}

/// An org as the log stood at one position.
///
/// Its timeline is read straight from the org copies' canonical bytes
/// ([`Sealed::read_recorded`]); each event is decoded whole only when asked
/// for ([`OrgRecord::event`]). `members` needs the timeline alone.
pub struct OrgRecord {
    pub org: OrgId,
    pub upto: u64,
    pub timeline: Timeline,
    /// Every event of the org up to `upto`, in log order, corrections
    /// included, as the org index keeps them: seq and canonical JSON.
    copies: Packed,
    decoded: Vec<OnceCell<Recorded>>,
    by_id: HashMap<Uuid, usize>,
}

impl OrgRecord {
    pub(crate) fn new(org: OrgId, upto: u64, copies: Packed) -> Result<OrgRecord> {
        let decoded: Vec<OnceCell<Recorded>> = copies.iter().map(|_| OnceCell::new()).collect();
        let mut scratch = Scratch::default();
        let mut fast = Vec::with_capacity(copies.len());
        for (seq, bytes) in &copies {
            match Sealed::read_recorded(bytes, &mut scratch) {
                Some(s) if s.seq == *seq && s.org == org.as_str() => fast.push((s.id, s.target, s.step)),
                _ => break,
            }
        }
        let (ids, steps): (Vec<Uuid>, Vec<Step>) = if fast.len() == copies.len() {
            (fast.iter().map(|(id, _, _)| *id).collect(), counting(fast.into_iter().map(|(_, t, s)| (t, s))))
        } else {
            // Not in the form accord writes: the general way, which says what is wrong.
            let records: Vec<Recorded> =
                copies.iter().map(|(seq, bytes)| decode_copy(&org, *seq, bytes)).collect::<Result<_>>()?;
            let steps = counting_steps(records.iter().map(|r| (r.seq, &r.event)));
            let ids = records.iter().map(|r| r.event.id).collect();
            for (cell, record) in decoded.iter().zip(records) {
                let _ = cell.set(record);
            }
            (ids, steps)
        };
        let timeline = recorded_timeline(&org, steps)?;
        let by_id = ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect();
        Ok(OrgRecord { org, upto, timeline, copies, decoded, by_id })
    }

    /// Whether the org had no event as of `upto`.
    pub fn is_empty(&self) -> bool {
        self.copies.is_empty()
    }

    /// The event with this id, if it is the org's, decoded on first use.
    pub fn event(&self, id: &Uuid) -> Option<&Recorded> {
        let &i = self.by_id.get(id)?;
        if let Some(recorded) = self.decoded[i].get() {
            return Some(recorded);
        }
        // The fast reader accepted these bytes, so the general way does too.
        let (seq, bytes) = &self.copies[i];
        let recorded = decode_copy(&self.org, *seq, bytes).ok()?;
        Some(self.decoded[i].get_or_init(|| recorded))
    }
}

/// The steps of the events that count, given an org's events in log order.
pub fn counting_steps<'a>(events: impl Iterator<Item = (u64, &'a Event)>) -> Vec<Step> {
    counting(events.map(|(seq, event)| {
        let target = match &event.kind {
            EventKind::Retraction { retracts, .. } => Some(*retracts),
            _ => event.supersedes,
        };
        (target, Step::of(seq, event))
    }))
}

/// The steps that count, given each event's target (the event it retracts
/// or supersedes) and step, in log order.
fn counting(events: impl Iterator<Item = (Option<Uuid>, Option<Step>)>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for (target, step) in events {
        if let Some(target) = target {
            steps.retain(|s| s.id != target);
        }
        steps.extend(step);
    }
    steps
}

fn timeline_of<'a>(org: &OrgId, events: impl Iterator<Item = (u64, &'a Event)>) -> Result<Timeline> {
    recorded_timeline(org, counting_steps(events))
}

/// The timeline of steps read from the store, which must keep the rules.
fn recorded_timeline(org: &OrgId, steps: Vec<Step>) -> Result<Timeline> {
    Timeline::build(steps).map_err(|why| {
        Error::integrity(format!("the recorded timeline of org `{org}` breaks a rule ({why}): the log was altered"))
    })
}

pub struct Recorder<'a> {
    store: &'a Store,
    actor: String,
    /// The head before this recorder wrote anything, to undo a failed import.
    start: Head,
    head: Head,
    last_time: DateTime<Utc>,
    /// Sealed but not yet written to sled.
    pending: Vec<Envelope>,
    pending_ids: HashMap<Uuid, usize>,
    /// The final state of each org touched, to check events that sort last.
    tails: HashMap<OrgId, Tail>,
}

impl Recorder<'_> {
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
        if let Some(other) = self.seq_of(&env.event.id)? {
            let place = if other > self.start.seq { "earlier in this import, as" } else { "already recorded at" };
            return Err(Error::rejected(format!("event {} of seq {seq} is {place} seq {other}", env.event.id)));
        }
        check_size(env.to_json().len())?;
        self.check_rules(&env.event)?;
        self.last_time = at;
        self.push(env)
    }

    fn push(&mut self, env: Envelope) -> Result<Outcome> {
        let seq = env.seq;
        self.head = Head { seq, hash: env.hash.clone() };
        self.pending_ids.insert(env.event.id, self.pending.len());
        self.pending.push(env);
        if self.pending.len() >= BATCH {
            self.write_pending()?;
        }
        Ok(Outcome::Recorded(seq))
    }

    fn write_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.store.write(&self.start, &self.pending)?;
        self.pending.clear();
        self.pending_ids.clear();
        Ok(())
    }

    /// Writes what is pending and makes it durable and visible
    /// ([`Store::commit`]). Only after this returns may the events be
    /// reported as recorded. If it fails, [`Recorder::abort`] undoes the
    /// writes (or, if the process dies first, the next open does).
    pub fn commit(&mut self) -> Result<Head> {
        self.write_pending()?;
        self.store.commit()?;
        Ok(self.head.clone())
    }

    /// Undoes everything this recorder wrote: the log is as it was before.
    pub fn abort(self) -> Result<()> {
        self.store.abort()
    }

    fn seq_of(&self, id: &Uuid) -> Result<Option<u64>> {
        if let Some(&i) = self.pending_ids.get(id) {
            return Ok(Some(self.pending[i].seq));
        }
        self.store.seq_of(id)
    }

    fn envelope_at(&self, seq: u64) -> Result<Envelope> {
        if let Some(first) = self.pending.first()
            && seq >= first.seq
        {
            return Ok(self.pending[(seq - first.seq) as usize].clone());
        }
        self.store.get(seq)?.ok_or_else(|| Error::integrity(format!("the log has a gap at seq {seq}")))
    }

    fn event_by_id(&self, id: &Uuid) -> Result<Option<Envelope>> {
        match self.seq_of(id)? {
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

    /// The org's whole timeline: its events in the store and those pending.
    fn timeline(&self, org: &OrgId) -> Result<Timeline> {
        let stored = self.store.org_records(org, u64::MAX)?;
        let pending = self.pending.iter().filter(|e| e.event.org == *org);
        timeline_of(org, stored.iter().map(|e| (e.seq, &e.event)).chain(pending.map(|e| (e.seq, &e.event))))
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
