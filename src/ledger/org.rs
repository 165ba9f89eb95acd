//! An org as the log stood at one position: its events and its timeline.

use foldhash::HashMap;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use serde_json::value::RawValue;
use uuid::Uuid;

use super::LedgerError;
use crate::error::Result;
use crate::model::envelope::Recorded;
use crate::model::event::Event;
use crate::model::id::OrgId;
use crate::model::read::{RecordedView, Scratch, SourceAt};
use crate::projection::panel::{self, Track};
use crate::store::{Store, Unpacked, decode_copy};
use crate::timeline::{Step, Timeline, counted, counting, counting_steps};

/// An org as the log stood at one position.
///
/// Its timeline is read straight from the org copies' canonical bytes
/// (`RecordedView::read`); each event is decoded whole only when asked
/// for ([`OrgRecord::event`]). `members` needs the timeline and the
/// events' sources alone.
pub struct OrgRecord {
    pub org: OrgId,
    pub upto: u64,
    /// What the org's copies say, shared with a server's cache of orgs
    /// ([`super::cache`]) when it came from there.
    core: Arc<OrgCore>,
    /// The org's copies: in hand when the record was read whole, else read
    /// from the store on first use ([`super::Ledger::org_without_events`]).
    copies: OnceCell<Option<Unpacked>>,
    store: Store,
    /// Each event, once decoded: this record's own, so that what a command
    /// asks for is not kept in the cache.
    decoded: Vec<OnceCell<Box<Recorded>>>,
}

/// What an org's events up to a position say, without the events: all
/// that depends only on which events the log held then, so it serves every
/// position at which the org had the same events.
pub(crate) struct OrgCore {
    timeline: Timeline,
    /// The number of the org's events (corrections included) and the last one's seq.
    len: usize,
    last: Option<u64>,
    /// Each event's place in log order, by id.
    by_id: HashMap<Uuid, usize>,
    /// For each event, the event it retracts or supersedes.
    targets: Vec<Option<Uuid>>,
    /// For each event, where its `source` is: a span of `sources`.
    source_at: Vec<SourceAt>,
    sources: String,
    /// Each party's steps folded ([`panel::tracks`]), once asked for.
    tracks: OnceLock<Vec<Track>>,
}

impl OrgCore {
    /// Whether reading a source may need its event's copy: some source is
    /// not kept as bytes.
    pub(crate) fn needs_copies(&self) -> bool {
        self.source_at.contains(&SourceAt::Other)
    }

    /// Whether `copies` are the events it was made of: as many, the same last.
    fn made_of(&self, copies: &Unpacked) -> bool {
        copies.len() == self.len && copies.last_seq() == self.last
    }

    /// The seq of the org's last event in it; `None` if it has none.
    pub(crate) fn last(&self) -> Option<u64> {
        self.last
    }

    /// About how many bytes of memory it holds.
    pub(crate) fn weight(&self) -> usize {
        use std::mem::size_of;
        let steps = self.timeline.weight();
        let by_id = self.by_id.capacity() * (size_of::<(Uuid, usize)>() + 1);
        let each = size_of::<Option<Uuid>>() + size_of::<SourceAt>();
        // The tracks, counted whether made yet or not.
        let named: usize = self.timeline.steps().iter().map(|s| s.action.parties().len()).sum();
        let tracks = panel::tracks_weight(named, self.timeline.state().len());
        steps + by_id + self.len * each + self.sources.capacity() + tracks
    }
}

impl OrgRecord {
    pub(crate) fn new(org: OrgId, upto: u64, copies: Unpacked, store: &Store) -> Result<OrgRecord> {
        let mut records = Vec::new();
        let mut source_at: Vec<SourceAt>;
        let mut sources = Vec::new();
        let (ids, targets, steps): (Vec<Uuid>, Vec<Option<Uuid>>, Vec<Step>) =
            if let Some((fast, read)) = read_all_fast(&org, &copies) {
                sources = read;
                let ids = fast.iter().map(|(id, ..)| *id).collect();
                let targets = fast.iter().map(|(_, t, ..)| *t).collect();
                source_at = fast.iter().map(|(.., at)| *at).collect();
                (ids, targets, counting(fast.into_iter().map(|(_, t, s, _)| (t, s))))
            } else {
                // Not in the form accord writes: the general way, which says what is wrong.
                records = copies.iter().map(|(seq, bytes)| decode_copy(&org, seq, bytes)).collect::<Result<_>>()?;
                let steps = counting_steps(records.iter().map(|r| (r.seq, &r.event)));
                let ids = records.iter().map(|r| r.event.id).collect();
                let targets = records.iter().map(|r| r.event.target()).collect();
                source_at = records.iter().map(|_| SourceAt::Other).collect();
                (ids, targets, steps)
            };
        let timeline = recorded_timeline(&org, steps)?;
        let by_id = ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect();
        let (len, last) = (copies.len(), copies.last_seq());
        // The canonical reader read each source as UTF-8, so the whole is.
        let sources = String::from_utf8(sources).unwrap_or_else(|_| {
            source_at.iter_mut().filter(|at| matches!(at, SourceAt::Bytes(..))).for_each(|at| *at = SourceAt::Other);
            String::new()
        });
        let core = OrgCore { timeline, len, last, by_id, targets, source_at, sources, tracks: OnceLock::new() };
        let record = OrgRecord::of(org, upto, Arc::new(core), store);
        let _ = record.copies.set(Some(copies));
        for (cell, recorded) in record.decoded.iter().zip(records) {
            let _ = cell.set(Box::new(recorded));
        }
        Ok(record)
    }

    /// The record at `upto` of an org whose events then are the ones
    /// `core` was made of; its copies are read from `store` on first use.
    pub(crate) fn of(org: OrgId, upto: u64, core: Arc<OrgCore>, store: &Store) -> OrgRecord {
        let decoded = (0..core.len).map(|_| OnceCell::new()).collect();
        OrgRecord { org, upto, core, copies: OnceCell::new(), store: store.clone(), decoded }
    }

    /// [`OrgRecord::of`] with its copies read now, and found to be the ones
    /// the core was made of: a failure is an error here, not an event
    /// missing later.
    pub(crate) fn whole(org: OrgId, upto: u64, core: Arc<OrgCore>, store: &Store) -> Result<OrgRecord> {
        let record = OrgRecord::of(org, upto, core, store);
        let copies = store.org_copies(&record.org, upto)?;
        if !record.core.made_of(&copies) {
            return Err(LedgerError::OrgIndexChanged { org: record.org, seq: upto }.into());
        }
        let _ = record.copies.set(Some(copies));
        Ok(record)
    }

    /// What it shares with a cache of orgs.
    pub(crate) fn core(&self) -> &Arc<OrgCore> {
        &self.core
    }

    /// The timeline of the org's events that count as of `upto`.
    pub fn timeline(&self) -> &Timeline {
        &self.core.timeline
    }

    /// Each party's steps on the timeline, folded ([`panel::tracks`]): made
    /// once, and kept with the org where a cache of orgs keeps it.
    pub fn tracks(&self) -> &[Track] {
        self.core.tracks.get_or_init(|| panel::tracks(self.core.timeline.steps()))
    }

    /// Whether the org had no event as of `upto`.
    pub fn is_empty(&self) -> bool {
        self.core.len == 0
    }

    /// The `source` of the event with this id, if it is the org's and has
    /// one, as JSON: the bytes stored for it where they are what
    /// `serde_json` writes for it, without decoding the event.
    pub fn source(&self, id: &Uuid) -> Option<Cow<'_, RawValue>> {
        let &i = self.core.by_id.get(id)?;
        match self.core.source_at[i] {
            SourceAt::None => return None,
            SourceAt::Bytes(from, to) => {
                let raw = self.core.sources.get(from as usize..to as usize).map(serde_json::from_str::<&RawValue>);
                if let Some(Ok(raw)) = raw {
                    return Some(Cow::Borrowed(raw));
                }
            }
            SourceAt::Other => {}
        }
        // Not kept as bytes (or, never, not JSON): the event says.
        let value = self.event(id)?.event.source()?;
        serde_json::value::to_raw_value(value).ok().map(Cow::Owned)
    }

    /// The event with this id, if it is the org's, decoded on first use.
    pub fn event(&self, id: &Uuid) -> Option<&Recorded> {
        self.at(*self.core.by_id.get(id)?)
    }

    /// Every event of the org up to `upto`, in log order, corrections included.
    pub fn events(&self) -> impl Iterator<Item = &Recorded> + '_ {
        (0..self.decoded.len()).filter_map(|i| self.at(i))
    }

    /// The org's events that retract or supersede the event `id`, in log order.
    pub fn corrections_of(&self, id: &Uuid) -> Vec<&Recorded> {
        let named = self.core.targets.iter().enumerate().filter(|(_, t)| t.as_ref() == Some(id));
        named.filter_map(|(i, _)| self.at(i)).collect()
    }

    /// The org's copies: in hand, or read now for a record read without
    /// them; `None` if they cannot be read or are not the ones the core was
    /// made of (a record without its copies is for answers that need no
    /// event, [`super::Ledger::org_without_events`]).
    fn copies(&self) -> Option<&Unpacked> {
        self.copies
            .get_or_init(|| {
                let copies = self.store.org_copies(&self.org, self.upto).ok()?;
                self.core.made_of(&copies).then_some(copies)
            })
            .as_ref()
    }

    /// The `i`th event in log order, decoded on first use.
    fn at(&self, i: usize) -> Option<&Recorded> {
        if let Some(recorded) = self.decoded[i].get() {
            return Some(recorded);
        }
        // The core was made of these bytes, so the general way reads them.
        let (seq, bytes) = self.copies()?.get(i)?;
        let recorded = decode_copy(&self.org, seq, bytes).ok()?;
        Some(self.decoded[i].get_or_init(|| Box::new(recorded)))
    }
}

/// An org with at least this many copies is read on two cores: reading a
/// copy took about 1.8 µs on the bench's VM, and starting a thread 0.1 to
/// 0.4 ms. At 1000 copies, `members` took 17.34 ms against 17.76 on one
/// core (medians of 151 interleaved runs).
const PARALLEL_READ: usize = 512;

/// What the fast reader reads of a copy: its event's id, target and step,
/// and where its source is in the sources read with it.
type Fast = (Uuid, Option<Uuid>, Option<Step>, SourceAt);

/// Every one of `copies` of `org` read the fast way ([`read_fast`]; many
/// on two cores, a half each), with their sources' bytes; `None` if one is
/// not in the form accord writes.
fn read_all_fast(org: &OrgId, copies: &Unpacked) -> Option<(Vec<Fast>, Vec<u8>)> {
    let mut fast = Vec::with_capacity(copies.len());
    let mut sources = Vec::new();
    let read = |part: &[(u64, Range<usize>)]| read_fast(org, &copies.payload, part);
    for part in crate::halves::halves(&copies.spans, PARALLEL_READ, read) {
        if !part.whole {
            return None;
        }
        let shift = sources.len();
        fast.extend(part.read.into_iter().map(|(id, target, step, at)| (id, target, step, span(at, shift))));
        sources.extend_from_slice(&part.sources);
    }
    Some((fast, sources))
}

/// What the fast reader read of some of an org's copies, in order.
struct FastRead {
    /// Each copy's id, target, step and where its source is in `sources`.
    read: Vec<Fast>,
    sources: Vec<u8>,
    /// Whether every copy was read; otherwise `read` stops before the first
    /// the fast reader did not take.
    whole: bool,
}

/// Reads `copies` of `org` (each a seq and its bytes in `payload`) the
/// fast way (`RecordedView::read`), each source's bytes kept apart from
/// the rest of its event.
fn read_fast(org: &OrgId, payload: &[u8], copies: &[(u64, Range<usize>)]) -> FastRead {
    let mut scratch = Scratch::default();
    let mut read = Vec::with_capacity(copies.len());
    let mut sources = Vec::new();
    for (seq, span) in copies {
        let bytes = payload.get(span.clone()).unwrap_or_default();
        match RecordedView::read(bytes, &mut scratch) {
            Some(s) if s.seq == *seq && s.org == org.as_str() => {
                let at = match s.source {
                    SourceAt::Bytes(from, to) => {
                        // The source's bytes, kept apart from the rest of the event.
                        let start = sources.len();
                        sources.extend_from_slice(bytes.get(from as usize..to as usize).unwrap_or_default());
                        bytes_at(start, sources.len())
                    }
                    other => other,
                };
                read.push((s.id, s.target, s.step, at))
            }
            _ => return FastRead { read, sources, whole: false },
        }
    }
    FastRead { read, sources, whole: true }
}

/// `at`, a span of one part's sources, as a span of all the sources, where
/// `shift` bytes come before that part's.
fn span(at: SourceAt, shift: usize) -> SourceAt {
    match at {
        SourceAt::Bytes(from, to) => bytes_at(from as usize + shift, to as usize + shift),
        other => other,
    }
}

/// The sources' bytes `from..to`; `Other` past what a u32 holds.
fn bytes_at(from: usize, to: usize) -> SourceAt {
    match (u32::try_from(from), u32::try_from(to)) {
        (Ok(from), Ok(to)) => SourceAt::Bytes(from, to),
        _ => SourceAt::Other,
    }
}

/// The timeline of an org's events in log order, which must keep the rules:
/// its `copies`, read the fast way as [`OrgRecord::new`] reads them (a
/// copy in another form sends them all the general way, which says what is
/// wrong), then `more`, the events not in them yet.
pub(super) fn timeline_of<'a>(
    org: &OrgId,
    copies: &Unpacked,
    more: impl Iterator<Item = (u64, &'a Event)>,
) -> Result<Timeline> {
    let stored: Vec<(Option<Uuid>, Option<Step>)> = match read_all_fast(org, copies) {
        Some((fast, _)) => fast.into_iter().map(|(_, target, step, _)| (target, step)).collect(),
        // Not in the form accord writes: the general way, which says what is wrong.
        None => copies
            .iter()
            .map(|(seq, bytes)| decode_copy(org, seq, bytes).map(|r| counted(r.seq, &r.event)))
            .collect::<Result<_>>()?,
    };
    recorded_timeline(org, counting(stored.into_iter().chain(more.map(|(seq, event)| counted(seq, event)))))
}

/// The timeline of steps read from the store, which must keep the rules.
fn recorded_timeline(org: &OrgId, steps: Vec<Step>) -> Result<Timeline> {
    Timeline::build(steps).map_err(|why| LedgerError::DamagedTimeline { org: org.clone(), why: Box::new(why) }.into())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{OrgRecord, PARALLEL_READ, counting_steps, recorded_timeline, timeline_of};
    use crate::ledger::{Ledger, Options};
    use crate::model::id::OrgId;

    /// A ledger with one org of `n` events: a founding, then accessions
    /// whose sources are a string, an object of strings, or none in turn.
    fn big_org(n: usize) -> (tempfile::TempDir, Ledger, OrgId) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l"), &Options::new(Duration::from_secs(5), true)).unwrap();
        let mut recorder = ledger.recorder("tester").unwrap();
        recorder
            .record_line(r#"{"type":"founding","org":"big","date":"1900","members":["F"],"source":"charter"}"#)
            .unwrap();
        for i in 1..n {
            let source = match i % 3 {
                0 => format!(r#","source":"note {i}""#),
                1 => format!(r#","source":{{"title":"record {i}","url":"https://example.org/{i}"}}"#),
                _ => String::new(),
            };
            let line = format!(
                r#"{{"type":"accession","org":"big","date":"19{:02}-01-{:02}","members":["P{i}"]{source}}}"#,
                i % 100,
                i % 28 + 1
            );
            recorder.record_line(&line).unwrap();
        }
        recorder.commit().unwrap();
        (dir, ledger, OrgId::parse("big").unwrap())
    }

    /// An org read on two cores has every event's source where its event
    /// says, and the timeline its events give, as read on one.
    #[test]
    fn an_org_read_in_two_halves_is_the_org_read_whole() {
        let n = PARALLEL_READ * 2 + 7;
        let (_dir, ledger, org) = big_org(n);
        let upto = ledger.head().unwrap().seq;
        let record = ledger.org(&org, upto).unwrap();
        let events: Vec<_> = record.events().cloned().collect();
        assert_eq!(events.len(), n);
        for e in &events {
            let expected = e.event.source().map(|v| serde_json::to_string(v).unwrap());
            let got = record.source(&e.event.id);
            // Each source as kept from the copies' bytes, not read back from its event.
            assert!(got.as_ref().is_none_or(|raw| matches!(raw, std::borrow::Cow::Borrowed(_))), "seq {}", e.seq);
            assert_eq!(got.map(|raw| raw.get().to_owned()), expected, "the source of seq {}", e.seq);
        }
        let whole = recorded_timeline(&org, counting_steps(events.iter().map(|e| (e.seq, &e.event)))).unwrap();
        assert_eq!(record.timeline().steps(), whole.steps());
    }

    /// The recorder's view of an org (`timeline_of`: its copies read the
    /// fast way, on two cores, then the events not written yet) has the
    /// timeline its events decoded the general way give; a copy the fast
    /// reader does not take sends them the general way, which names it.
    #[test]
    fn the_recorders_timeline_of_copies_is_its_events_timeline() {
        let n = PARALLEL_READ * 2 + 7;
        let (_dir, ledger, org) = big_org(n);
        let upto = ledger.head().unwrap().seq;
        let copies = ledger.store.org_copies(&org, upto).unwrap();
        let events: Vec<_> = ledger.org(&org, upto).unwrap().events().cloned().collect();
        let whole = recorded_timeline(&org, counting_steps(events.iter().map(|e| (e.seq, &e.event)))).unwrap();
        for unwritten in [0, 1, 10] {
            let mut written = copies.clone();
            written.spans.truncate(n - unwritten);
            let more = events[n - unwritten..].iter().map(|e| (e.seq, &e.event));
            let timeline = timeline_of(&org, &written, more).unwrap();
            assert_eq!(timeline.steps(), whole.steps(), "{unwritten} not written");
            assert_eq!(timeline.steps().len(), n);
        }
        let at = n / 2 + 3;
        let mut damaged = copies.clone();
        let span = damaged.spans[at].1.clone();
        let text = String::from_utf8(damaged.payload[span.clone()].to_vec()).unwrap();
        damaged.payload[span].copy_from_slice(text.replacen(r#""org":"big""#, r#""org":"bog""#, 1).as_bytes());
        let seq = damaged.spans[at].0;
        let error = timeline_of(&org, &damaged, std::iter::empty()).unwrap_err().to_string();
        assert_eq!(
            error,
            format!("the org index of `big` holds a damaged copy of seq {seq}: it is seq {seq} of `bog`")
        );
    }

    /// A copy the fast reader does not take, in either half, sends the
    /// whole org the general way, which names the damage: no half is kept.
    #[test]
    fn a_copy_off_in_either_half_is_found() {
        let n = PARALLEL_READ * 2;
        let (_dir, ledger, org) = big_org(n);
        let upto = ledger.head().unwrap().seq;
        let copies = ledger.store.org_copies(&org, upto).unwrap();
        assert!(OrgRecord::new(org.clone(), upto, copies.clone(), &ledger.store).is_ok());
        for at in [3, n / 2 + 3, n - 1] {
            // The same copies, but the one at `at` names another org
            // (`bog`: as long, so the spans after it hold).
            let mut damaged = copies.clone();
            let span = damaged.spans[at].1.clone();
            let text = String::from_utf8(damaged.payload[span.clone()].to_vec()).unwrap();
            let other = text.replacen(r#""org":"big""#, r#""org":"bog""#, 1);
            damaged.payload[span].copy_from_slice(other.as_bytes());
            assert_ne!(damaged.get(at), copies.get(at));
            assert_eq!(damaged.get(at + 1).or(damaged.get(at - 1)), copies.get(at + 1).or(copies.get(at - 1)));
            let read = OrgRecord::new(org.clone(), upto, damaged, &ledger.store);
            assert!(read.is_err(), "a copy of another org at {at} of {n} went unnoticed");
        }
    }
}
