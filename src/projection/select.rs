//! Which events of the log a reader asks for: by type, party and effective-date range (`accord log`'s filters).

use foldhash::{HashSet, HashSetExt};

use uuid::Uuid;

use crate::model::date::Day;
use crate::model::event::{Event, EventKind};
use crate::model::id::PartyId;

/// Whether `event` names `party`: as one whose membership it changes, or as
/// a participant of an exercise.
pub fn names(event: &Event, party: &PartyId) -> bool {
    match &event.kind {
        EventKind::Exercise { participants, .. } => participants.contains(party),
        kind => kind.members().contains(party),
    }
}

/// The filters of `accord log`, all of which an event must pass. Events are
/// given in log order: a correction comes after the event it names, so the
/// party filter can keep the corrections of the events it kept.
#[derive(Debug, Default)]
pub struct Selection {
    /// Event types; empty for all.
    pub types: Vec<String>,
    /// Events that name this party, and the retractions and corrections of those.
    pub party: Option<PartyId>,
    /// Events whose effective date may fall on or after this day (its range
    /// ends on or after it).
    pub since: Option<Day>,
    /// Events whose effective date may fall on or before this day (its range
    /// starts on or before it).
    pub until: Option<Day>,
    /// The events kept by the party filter so far.
    naming: HashSet<Uuid>,
}

impl Selection {
    pub fn new(types: Vec<String>, party: Option<PartyId>, since: Option<Day>, until: Option<Day>) -> Selection {
        Selection { types, party, since, until, naming: HashSet::new() }
    }

    /// Whether no filter is set: every event passes.
    pub fn is_all(&self) -> bool {
        self.types.is_empty() && self.party.is_none() && self.since.is_none() && self.until.is_none()
    }

    /// Whether `event`, the next in log order, passes every filter. An event
    /// with no effective date (a retraction that gives none) passes no date filter.
    pub fn keeps(&mut self, event: &Event) -> bool {
        if let Some(party) = &self.party {
            let named = names(event, party) || event.target().is_some_and(|t| self.naming.contains(&t));
            if !named {
                return false;
            }
            self.naming.insert(event.id);
        }
        if !self.types.is_empty() && !self.types.iter().any(|t| t == event.type_name()) {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(date) = event.date else { return false };
            if self.since.is_some_and(|d| date.last_day() < d) || self.until.is_some_and(|d| date.first_day() > d) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        Event::parse_str(json).unwrap()
    }

    #[test]
    fn dates_overlap_and_corrections_follow_their_party() {
        let day = |d: &str| Day::parse(d).unwrap();
        let c = event(r#"{"type":"accession","org":"o","date":"2017-02/2018-03","members":["C"]}"#);
        let fix = format!(r#"{{"type":"retraction","org":"o","retracts":"{}","reason":"no"}}"#, c.id);
        let fix = event(&fix);
        let d = event(r#"{"type":"accession","org":"o","date":"2019","members":["D"]}"#);
        let mut by_party = Selection { party: Some(PartyId::parse("C").unwrap()), ..Selection::default() };
        assert_eq!([&c, &fix, &d].map(|e| by_party.keeps(e)), [true, true, false]);
        // A range that may fall on the day counts; an undated retraction passes no date filter.
        let mut since = Selection { since: Some(day("2018-03-31")), ..Selection::default() };
        assert_eq!([&c, &fix, &d].map(|e| since.keeps(e)), [true, false, true]);
        let mut until = Selection { until: Some(day("2017-01-31")), ..Selection::default() };
        assert_eq!([&c, &fix, &d].map(|e| until.keeps(e)), [false, false, false]);
        let mut types = Selection { types: vec!["retraction".into()], ..Selection::default() };
        assert_eq!([&c, &fix, &d].map(|e| types.keeps(e)), [false, true, false]);
    }
}
