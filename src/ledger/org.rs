//! An org as the log stood at one position: its events and its timeline.

use std::cell::OnceCell;
use std::collections::HashMap;

use uuid::Uuid;

use super::LedgerError;
use crate::error::Result;
use crate::model::envelope::Recorded;
use crate::model::event::Event;
use crate::model::id::OrgId;
use crate::model::read::{RecordedView, Scratch};
use crate::store::{Packed, decode_copy};
use crate::timeline::{Step, Timeline, counting, counting_steps};

/// An org as the log stood at one position.
///
/// Its timeline is read straight from the org copies' canonical bytes
/// (`RecordedView::read`); each event is decoded whole only when asked
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
    /// For each copy, the event it retracts or supersedes.
    targets: Vec<Option<Uuid>>,
}

impl OrgRecord {
    pub(crate) fn new(org: OrgId, upto: u64, copies: Packed) -> Result<OrgRecord> {
        let decoded: Vec<OnceCell<Recorded>> = copies.iter().map(|_| OnceCell::new()).collect();
        let mut scratch = Scratch::default();
        let mut fast = Vec::with_capacity(copies.len());
        for (seq, bytes) in &copies {
            match RecordedView::read(bytes, &mut scratch) {
                Some(s) if s.seq == *seq && s.org == org.as_str() => fast.push((s.id, s.target, s.step)),
                _ => break,
            }
        }
        let (ids, targets, steps): (Vec<Uuid>, Vec<Option<Uuid>>, Vec<Step>) = if fast.len() == copies.len() {
            let ids = fast.iter().map(|(id, _, _)| *id).collect();
            let targets = fast.iter().map(|(_, t, _)| *t).collect();
            (ids, targets, counting(fast.into_iter().map(|(_, t, s)| (t, s))))
        } else {
            // Not in the form accord writes: the general way, which says what is wrong.
            let records: Vec<Recorded> =
                copies.iter().map(|(seq, bytes)| decode_copy(&org, *seq, bytes)).collect::<Result<_>>()?;
            let steps = counting_steps(records.iter().map(|r| (r.seq, &r.event)));
            let ids = records.iter().map(|r| r.event.id).collect();
            let targets = records.iter().map(|r| r.event.target()).collect();
            for (cell, record) in decoded.iter().zip(records) {
                let _ = cell.set(record);
            }
            (ids, targets, steps)
        };
        let timeline = recorded_timeline(&org, steps)?;
        let by_id = ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect();
        Ok(OrgRecord { org, upto, timeline, copies, decoded, by_id, targets })
    }

    /// Whether the org had no event as of `upto`.
    pub fn is_empty(&self) -> bool {
        self.copies.is_empty()
    }

    /// The `source` of the event with this id, if it is the org's and has
    /// one: read from its stored bytes, without decoding the whole event.
    pub fn source(&self, id: &Uuid) -> Option<serde_json::Value> {
        let &i = self.by_id.get(id)?;
        if let Some(recorded) = self.decoded[i].get() {
            return recorded.event.source().cloned();
        }
        let (_, bytes) = &self.copies[i];
        match crate::model::read::member_value(bytes, "source") {
            Some(Some(value)) => serde_json::from_slice(value).ok(),
            Some(None) => None,
            // Not read by the light reader: the whole event says.
            None => self.event(id)?.event.source().cloned(),
        }
    }

    /// The event with this id, if it is the org's, decoded on first use.
    pub fn event(&self, id: &Uuid) -> Option<&Recorded> {
        self.at(*self.by_id.get(id)?)
    }

    /// Every event of the org up to `upto`, in log order, corrections included.
    pub fn events(&self) -> impl Iterator<Item = &Recorded> + '_ {
        (0..self.decoded.len()).filter_map(|i| self.at(i))
    }

    /// The org's events that retract or supersede the event `id`, in log order.
    pub fn corrections_of(&self, id: &Uuid) -> Vec<&Recorded> {
        let named = self.targets.iter().enumerate().filter(|(_, t)| t.as_ref() == Some(id));
        named.filter_map(|(i, _)| self.at(i)).collect()
    }

    /// The `i`th event in log order, decoded on first use.
    fn at(&self, i: usize) -> Option<&Recorded> {
        if let Some(recorded) = self.decoded[i].get() {
            return Some(recorded);
        }
        // The fast reader accepted these bytes, so the general way does too.
        let (seq, bytes) = &self.copies[i];
        let recorded = decode_copy(&self.org, *seq, bytes).ok()?;
        Some(self.decoded[i].get_or_init(|| recorded))
    }
}

/// The timeline of an org's events, given in log order, which must keep the rules.
pub(super) fn timeline_of<'a>(org: &OrgId, events: impl Iterator<Item = (u64, &'a Event)>) -> Result<Timeline> {
    recorded_timeline(org, counting_steps(events))
}

/// The timeline of steps read from the store, which must keep the rules.
fn recorded_timeline(org: &OrgId, steps: Vec<Step>) -> Result<Timeline> {
    Timeline::build(steps).map_err(|why| LedgerError::DamagedTimeline { org: org.clone(), why: Box::new(why) }.into())
}
