//! The only writer: checks each event under the rules, seals it into the
//! hash chain and hands it to the store.

use foldhash::{HashMap, HashMapExt};
use std::cell::RefCell;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::org::timeline_of;
use super::{Broken, Correction, LedgerError, MAX_EVENT_BYTES, Outcome, Uncorrectable};
use crate::error::Result;
use crate::model::envelope::{
    Envelope, EnvelopeJson, EnvelopeTemplate, Head, format_time, looks_like_envelope, parse_time,
};
use crate::model::event::{Event, EventKind, parse_json};
use crate::model::id::OrgId;
use crate::model::read::{Scratch, Sealed, event_of_envelope};
use crate::store::{Packed, Store, decode};
use crate::timeline::{Change, Step, Tail, Timeline};

/// Refuses an event whose recorded bytes (its envelope, one line of
/// `accord export`) would pass [`MAX_EVENT_BYTES`], whatever made it, so
/// that every export imports again.
fn check_size(len: usize) -> Result<()> {
    if len > MAX_EVENT_BYTES {
        return Err(LedgerError::EventTooLarge { len }.into());
    }
    Ok(())
}

/// One line of NDJSON read for [`Recorder::record_parsed`]: reading needs
/// no ledger, so an import can read its next lines while it records.
pub enum Line {
    /// A bare event, to be sealed at the end of the log, and its envelope's
    /// template if reading it wrote one ([`Line::parse`] does for an event
    /// without an id; a template of another event is not used).
    Event(Event, Option<EnvelopeTemplate>),
    /// An envelope of an export, to be restored verbatim.
    Envelope(Envelope),
}

impl Line {
    /// Reads a line (without its newline): an event or an export's envelope.
    pub fn parse(line: &str) -> Result<Line> {
        LineReader::default().parse(line)
    }
}

/// Reads lines for [`Recorder::record_parsed`] ([`Line::parse`]), keeping
/// its scratch space from one line to the next.
#[derive(Default)]
pub struct LineReader {
    scratch: Scratch,
}

impl LineReader {
    /// [`Line::parse`]. A line that is the canonical JSON of an event (as
    /// `accord export` writes events, and as generated logs often are) is
    /// read the fast way (by the fast reader of canonical bytes), without building its JSON
    /// as a map; any other is read the general way, which also says what is
    /// wrong with a line.
    pub fn parse(&mut self, line: &str) -> Result<Line> {
        if line.len() > MAX_EVENT_BYTES {
            return Err(LedgerError::LineTooLong { len: line.len() }.into());
        }
        if let Some((event, template)) = crate::model::read::event_line(line, &mut self.scratch) {
            return Ok(Line::Event(event, Some(template)));
        }
        let value = parse_json(line)?;
        Ok(match &value {
            Value::Object(map) if looks_like_envelope(map) => Line::Envelope(Envelope::from_value(value)?),
            _ => {
                let (event, template) = Event::from_value_templated(value)?;
                Line::Event(event, template)
            }
        })
    }
}

pub struct Recorder<'a> {
    store: &'a Store,
    actor: String,
    /// The head before this recorder wrote anything since it started or
    /// last committed, to undo a failed import.
    start: Head,
    head: Head,
    last_time: DateTime<Utc>,
    /// The final state of each org touched, to check events that sort last.
    tails: HashMap<OrgId, Tail>,
    /// The seq of the last event recorded of each org, for its summary.
    last_of: HashMap<OrgId, u64>,
    /// The log block last read for an event recorded before this recorder
    /// started (those never change while it records): a re-import reads
    /// them in log order, so most reads need no block unpacked.
    committed_block: RefCell<Option<(u64, Packed)>>,
    /// For reading those the fast way ([`Recorder::holds_exactly`]).
    scratch: RefCell<(Scratch, Vec<u8>)>,
    /// The seq after the last event found already recorded, while the
    /// lines follow the log (an import given again): the next line's event
    /// is looked for there first, in the block in hand, not in the id
    /// index. 0 when there is no guess.
    next_recorded: std::cell::Cell<u64>,
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
        Ok(Recorder {
            store,
            actor: actor.to_owned(),
            start: head.clone(),
            head,
            last_time,
            tails: HashMap::new(),
            last_of: HashMap::new(),
            committed_block: RefCell::new(None),
            scratch: RefCell::default(),
            next_recorded: std::cell::Cell::new(0),
        })
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Hands this recorder's events to `tx` once they are in the log, to
    /// be dropped by the thread that receives them: the thread that read
    /// them, whose memory they are, frees them at a fraction of what they
    /// cost this one (the members sealing added are freed here, where
    /// they were made). Batches that do not fit in `tx` are dropped here.
    pub fn hand_back_written(&self, tx: std::sync::mpsc::SyncSender<Vec<Event>>) {
        self.store.hand_back_written(tx);
    }

    /// Has the store write full batches to the log and indexes on a
    /// thread of its own from now on (`Store::write_behind`), while this
    /// one goes on checking and sealing events, until the next commit or
    /// abort.
    pub fn write_behind(&self) {
        self.store.write_behind();
    }

    /// Records one line of NDJSON: a bare event, or an export's envelope.
    pub fn record_line(&mut self, line: &str) -> Result<Outcome> {
        self.record_parsed(Line::parse(line)?)
    }

    /// Records a line read by [`Line::parse`] (perhaps on another thread).
    pub fn record_parsed(&mut self, line: Line) -> Result<Outcome> {
        match line {
            Line::Event(event, template) => self.record_templated(event, template.as_ref()),
            Line::Envelope(env) => self.record_envelope(env),
        }
    }

    /// Records a new event at the end of the log.
    pub fn record(&mut self, event: Event) -> Result<Outcome> {
        self.record_templated(event, None)
    }

    /// [`Recorder::record`], its envelope's JSON copied from `template` if
    /// given (the template of this event).
    fn record_templated(&mut self, event: Event, template: Option<&EnvelopeTemplate>) -> Result<Outcome> {
        if let Some(outcome) = self.already_recorded(&event)? {
            return Ok(outcome);
        }
        self.check_rules(&event)?;
        let now = Utc::now().max(self.last_time);
        let (seq, at, by, prev) = (self.head.seq + 1, format_time(now), self.actor.clone(), self.head.hash.clone());
        let (env, json) = Envelope::seal_template(event, template, seq, at, by, prev);
        check_size(json.json.len())?;
        self.last_time = now;
        self.push(env, json)
    }

    /// Restores an envelope of an export verbatim, if it continues the log exactly.
    pub fn record_envelope(&mut self, env: Envelope) -> Result<Outcome> {
        let seq = env.seq;
        if seq <= self.head.seq {
            let recorded = self.envelope_at(seq)?;
            return if recorded.hash == env.hash {
                Ok(Outcome::AlreadyRecorded(seq))
            } else {
                Err(LedgerError::OtherLog { seq }.into())
            };
        }
        if seq != self.head.seq + 1 {
            return Err(LedgerError::NotNext { seq, head: self.head.seq }.into());
        }
        if env.prev != self.head.hash {
            return Err(LedgerError::NotChained { seq, head: self.head.seq }.into());
        }
        // Its bytes, written once: the hash is checked over them, and the
        // store keeps them.
        let Some(json) = env.json_if_valid() else {
            return Err(LedgerError::HashMismatch { seq }.into());
        };
        let at = parse_time(&env.recorded_at).unwrap_or(DateTime::<Utc>::MIN_UTC);
        if at < self.last_time {
            return Err(LedgerError::RecordedEarlier { seq, head: self.head.seq }.into());
        }
        if let Some(other) = self.store.seq_of(&env.event.id)? {
            let id = env.event.id;
            return Err(if other > self.start.seq {
                LedgerError::IdGivenEarlier { id, seq, other }
            } else {
                LedgerError::IdRecorded { id, seq, other }
            }
            .into());
        }
        check_size(json.json.len())?;
        self.check_rules(&env.event)?;
        self.last_time = at;
        self.push(env, json)
    }

    /// Hands a sealed envelope and its canonical JSON to the store, which
    /// holds it until it is durable; every read of the store sees it at once.
    fn push(&mut self, env: Envelope, json: EnvelopeJson) -> Result<Outcome> {
        let seq = env.seq;
        match self.last_of.get_mut(&env.event.org) {
            Some(last) => *last = seq,
            None => {
                self.last_of.insert(env.event.org.clone(), seq);
            }
        }
        self.head = Head { seq, hash: env.hash.clone() };
        self.store.push(&self.start, env, json)?;
        Ok(Outcome::Recorded(seq))
    }

    /// Makes what was recorded durable and visible (`Store::commit`).
    /// Only after this returns may the events be reported as recorded. If
    /// it fails, [`Recorder::abort`] undoes the writes (or, if the process
    /// dies first, the next open does).
    pub fn commit(&mut self) -> Result<Head> {
        let summaries = self.summaries()?;
        let complete = summaries.len() == self.last_of.len();
        self.store.commit_with(&summaries, complete)?;
        // What comes next is a command of its own: what it records starts
        // here (an abort, or the open after a crash, undoes it to here, and
        // its commit moves the summaries' watermark on from here), and its
        // commit writes the summaries of the orgs recorded after this one.
        self.start = self.head.clone();
        self.last_of.clear();
        Ok(self.head.clone())
    }

    /// The summaries and rosters of the orgs this recorder recorded events
    /// of, as stored. The tails go with them: they are a cache of the orgs'
    /// timelines, read again from the store when needed, and an import's
    /// are most of its memory at the end (a 1M-event import's peak RSS was
    /// 27 MB higher with the rosters written while they were kept).
    fn summaries(&mut self) -> Result<Vec<crate::store::OrgFacts>> {
        let tails = std::mem::take(&mut self.tails);
        let mut orgs = Vec::with_capacity(self.last_of.len());
        for (org, &last) in &self.last_of {
            let Some(tail) = tails.get(org) else { continue };
            let founding = match tail.founding() {
                Some(id) => self.event_by_id(&id)?.map(|env| env.event),
                None => None,
            };
            orgs.push((org, last, tail, founding));
        }
        // The facts of many orgs are made on two cores: the rosters of an import's 1000 orgs
        // (560,000 members) took 0.45 s on one.
        let facts = crate::halves::halves(&orgs, 64, |part| {
            let facts = part.iter().map(|(org, last, tail, founding)| {
                super::roster::org_facts((*org).clone(), tail, *last, founding.as_ref())
            });
            facts.collect::<Vec<_>>()
        });
        Ok(facts.into_iter().flatten().collect())
    }

    /// Undoes everything this recorder wrote: the log is as it was before.
    pub fn abort(self) -> Result<()> {
        self.store.abort()
    }

    fn envelope_at(&self, seq: u64) -> Result<Envelope> {
        if seq > self.start.seq {
            return Ok(self.store.get(seq)?.ok_or(LedgerError::Gap { seq })?);
        }
        self.committed_bytes(seq, |bytes| decode(seq, bytes))?
    }

    /// `read` of the stored bytes of `seq`, an envelope recorded before this
    /// recorder started.
    fn committed_bytes<T>(&self, seq: u64, read: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let mut cached = self.committed_block.borrow_mut();
        let holds = |(first, events): &(u64, Packed)| *first <= seq && seq < first + events.len() as u64;
        if !cached.as_ref().is_some_and(holds) {
            *cached = self.store.block_of(seq)?;
        }
        match cached.as_ref().and_then(|(first, events)| events.get((seq - first) as usize)) {
            Some((_, bytes)) => Ok(read(bytes)),
            None => Err(LedgerError::Gap { seq }.into()),
        }
    }

    /// Whether the envelope of `seq`, recorded before this recorder
    /// started, holds `event` exactly: its stored bytes, read the fast way
    /// (canonical, of that seq, its hash matching, the event's id), less
    /// what recording added, are the event's canonical JSON. `false` when
    /// that cannot be told so: the general way decides.
    fn holds_exactly(&self, seq: u64, event: &Event) -> Result<bool> {
        let mut scratch = self.scratch.borrow_mut();
        let (scratch, part) = &mut *scratch;
        self.committed_bytes(seq, |bytes| {
            Sealed::read(bytes, scratch).is_some_and(|sealed| sealed.seq == seq && sealed.id == event.id)
                && event_of_envelope(bytes, part).is_some()
                && *part == event.canonical().as_bytes()
        })
    }

    fn event_by_id(&self, id: &Uuid) -> Result<Option<Envelope>> {
        match self.store.seq_of(id)? {
            None => Ok(None),
            Some(seq) => self.envelope_at(seq).map(Some),
        }
    }

    fn already_recorded(&self, event: &Event) -> Result<Option<Outcome>> {
        // An import given again follows the log: after an event found
        // recorded, the next is most likely the one after it, in the same
        // block. Found there (its id and bytes), the id index is not read.
        // Ids are unique in the log, so that is where the index would say.
        let guess = self.next_recorded.replace(0);
        if guess != 0 && guess <= self.start.seq && self.holds_exactly(guess, event)? {
            self.next_recorded.set(guess + 1);
            return Ok(Some(Outcome::AlreadyRecorded(guess)));
        }
        let Some(seq) = self.store.seq_of(&event.id)? else { return Ok(None) };
        // An import given again: most events are found here, without
        // decoding what is stored.
        if seq <= self.start.seq && self.holds_exactly(seq, event)? {
            self.next_recorded.set(seq + 1);
            return Ok(Some(Outcome::AlreadyRecorded(seq)));
        }
        let recorded = self.envelope_at(seq)?;
        if recorded.event.canonical() == event.canonical() {
            Ok(Some(Outcome::AlreadyRecorded(recorded.seq)))
        } else if recorded.seq > self.start.seq {
            // Not in the log: given earlier by the same command, which is not recorded yet.
            Err(LedgerError::GivenTwice { id: event.id }.into())
        } else {
            Err(LedgerError::AlreadyRecorded { id: event.id, seq: recorded.seq }.into())
        }
    }

    /// The org's whole timeline: its events in the store, those of this
    /// command (not durable yet) included.
    fn timeline(&self, org: &OrgId) -> Result<Timeline> {
        self.store.with_org_copies(org, |copies, unwritten| timeline_of(org, copies, unwritten))?
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
            |why| LedgerError::RuleBroken(Box::new(Broken { event: event.describe(), org: event.org.clone(), why }));
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
                return Ok(outcome.map_err(broken)?);
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
            (None, None) => return Err(LedgerError::NoDate { event: event.describe() }.into()),
        };
        timeline.apply(change, self.start.seq).map_err(broken)?;
        self.tails.insert(event.org.clone(), Tail::of(&timeline));
        Ok(())
    }

    fn check_target(&self, event: &Event, target: &Uuid, timeline: &Timeline) -> Result<()> {
        let what = if event.supersedes.is_some() { "supersedes" } else { "retracts" };
        let refuse = |problem| {
            let correction = Correction { event: event.describe(), verb: what, target: *target, problem };
            Err(LedgerError::Correction(Box::new(correction)).into())
        };
        let Some(recorded) = self.event_by_id(target)? else {
            return refuse(Uncorrectable::NotInLog);
        };
        if recorded.event.org != event.org {
            return refuse(Uncorrectable::OtherOrg { org: recorded.event.org, not: event.org.clone() });
        }
        if matches!(recorded.event.kind, EventKind::Retraction { .. }) {
            return refuse(Uncorrectable::OfRetraction);
        }
        if !timeline.contains(target) {
            return refuse(Uncorrectable::NoLongerCounts);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::ledger::{Ledger, Options};
    use crate::model::date::Day;
    use crate::model::id::OrgId;

    /// A recorder goes on after a commit (which drops what it kept of the
    /// orgs' timelines): the rules still hold against what it recorded
    /// before, and its next commit writes the summaries and rosters of the
    /// orgs it recorded since, which answer and which the audit finds right.
    #[test]
    fn a_recorder_goes_on_after_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l"), &Options::new(Duration::from_secs(5), true)).unwrap();
        let mut recorder = ledger.recorder("tester").unwrap();
        let line = |kind: &str, org: &str, date: &str, party: &str| {
            format!(r#"{{"type":"{kind}","org":"{org}","date":"{date}","members":["{party}"]}}"#)
        };
        for org in ["a", "b"] {
            recorder.record_line(&line("founding", org, "2000", "F")).unwrap();
            recorder.record_line(&line("accession", org, "2001", "X")).unwrap();
        }
        recorder.commit().unwrap();
        assert!(recorder.record_line(&line("accession", "a", "2002", "X")).is_err(), "X is a member of a already");
        recorder.record_line(&line("withdrawal", "a", "2003", "X")).unwrap();
        recorder.commit().unwrap();
        drop(recorder);
        let head = ledger.head().unwrap().seq;
        let day = Day::parse("2999-01-01").unwrap();
        let names = |org: &str| {
            let settled = ledger.settled_members(&OrgId::parse(org).unwrap(), head, day).unwrap().unwrap();
            settled.members.members.iter().map(|m| m.id.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(names("a"), ["F"]);
        assert_eq!(names("b"), ["F", "X"]);
        // The second commit vouched for every summary, as the first did.
        assert_eq!(ledger.store.summaries_current().unwrap(), Some(head));
        crate::audit::verify_ledger(&ledger.store, None, &()).unwrap();
    }

    /// What a recorder committed stays when it goes on and what it records
    /// next is undone, or is left unfinished by a process that dies: a
    /// commit is where the next command of the same recorder starts.
    #[test]
    fn what_a_recorder_committed_outlives_what_it_undoes_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let options = Options::new(Duration::from_secs(5), true);
        let line = |kind: &str, date: &str, party: &str| {
            format!(r#"{{"type":"{kind}","org":"a","date":"{date}","members":["{party}"]}}"#)
        };
        let ledger = Ledger::open(&path, &options).unwrap();
        let mut recorder = ledger.recorder("tester").unwrap();
        recorder.record_line(&line("founding", "2000", "F")).unwrap();
        let committed = recorder.commit().unwrap();
        // Enough events that some reach the log before any commit.
        let many = 3 * crate::store::format::BLOCK;
        for i in 0..many {
            recorder.record_line(&line("accession", "2001", &format!("P{i}"))).unwrap();
        }
        assert!(ledger.store.last_seq().unwrap() > committed.seq, "some reached the log");
        recorder.abort().unwrap();
        assert_eq!(ledger.head().unwrap(), committed, "the abort undid only what came after the commit");
        let mut recorder = ledger.recorder("tester").unwrap();
        recorder.record_line(&line("accession", "2001", "X")).unwrap();
        let committed = recorder.commit().unwrap();
        // Again, then the process dies: the next open undoes them, and only them.
        for i in 0..many {
            recorder.record_line(&line("accession", "2002", &format!("P{i}"))).unwrap();
        }
        assert!(ledger.store.last_seq().unwrap() > committed.seq, "some reached the log");
        // Dropped uncommitted, as if its process had died there.
        drop(recorder);
        drop(ledger);
        let ledger = Ledger::open(&path, &options).unwrap();
        assert_eq!(ledger.head().unwrap(), committed);
        crate::audit::verify_ledger(&ledger.store, None, &()).unwrap();
    }
}
