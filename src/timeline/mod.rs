//! An org's timeline, which events count, and the rules of SPEC §3.

mod error;
pub use error::{Cited, Place, Refusal, RuleError};

use std::fmt::Write as _;

use foldhash::HashMap;

use uuid::Uuid;

use crate::model::date::{Day, EffectiveDate};
use crate::model::event::{Event, EventKind, Status};
use crate::model::id::{PartyId, natural_cmp};
use crate::model::step::ACTION_NAMES;
pub use crate::model::step::{Action, Step};
use crate::model::summary::{OrgSummary, Roster, RosterEntry};

/// An event a message may name: what it did, when, where it is in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cause {
    seq: u64,
    id: Uuid,
    date: EffectiveDate,
    /// [`Action::number`]: a party's standing keeps its cause, so it is small.
    action: u8,
}

impl Cause {
    fn of(step: &Step) -> Cause {
        Cause { seq: step.seq, id: step.id, date: step.date, action: step.action.number() }
    }

    /// How a message names the event. Only a recorded event is named by its
    /// seq. The step being checked, and the steps after `naming.recorded` (the
    /// earlier events of the same command, not committed yet), are not in the
    /// log: their `seq` is only where they would go, so they are named by
    /// their date (the checked one as the caller's message names it).
    fn cite(&self, naming: Naming) -> Box<Cited> {
        let place = if naming.checked == Some(self.id) {
            Place::Checked
        } else if self.seq > naming.recorded {
            Place::EarlierInThisImport
        } else {
            Place::Logged(self.seq)
        };
        Box::new(Cited { action: ACTION_NAMES[usize::from(self.action)], id: self.id, date: self.date, place })
    }
}

/// What a message may name by seq: the events up to `recorded`, the last
/// seq in the log, except `checked`, the id of the step being checked.
#[derive(Clone, Copy, Debug)]
struct Naming {
    checked: Option<Uuid>,
    recorded: u64,
}

/// A party's standing in an org; a suspension remembers the status it interrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Standing {
    #[default]
    None,
    Member(Status),
    Suspended(Status),
}

impl Standing {
    pub fn is_member(self) -> bool {
        self != Standing::None
    }

    /// The status name of SPEC §1: full, associate, observer, suspended or none.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::None => "none",
            Standing::Member(s) => s.as_str(),
            Standing::Suspended(_) => "suspended",
        }
    }

    /// The order in which possible statuses are listed (SPEC §5 example: none first).
    pub(crate) fn rank(self) -> u8 {
        match self {
            Standing::None => 0,
            Standing::Member(Status::Full) => 1,
            Standing::Member(Status::Associate) => 2,
            Standing::Member(Status::Observer) => 3,
            Standing::Suspended(_) => 4,
        }
    }

    /// A party's standing after `action`, or why the action is not allowed.
    pub fn after(self, action: &Action) -> Result<Standing, Refusal> {
        use Standing::*;
        match (action, self) {
            (Action::Found(_), _) => Ok(Member(Status::Full)),
            (Action::Launch(_), None) => Ok(Member(Status::Full)),
            (Action::Launch(_), s) => Ok(s),
            (Action::Admit(_, status), None) => Ok(Member(*status)),
            (Action::Admit(..), s) => Err(Refusal::AlreadyMember(s)),
            (Action::ChangeStatus(_, status), Member(_)) => Ok(Member(*status)),
            (Action::ChangeStatus(_, status), Suspended(_)) => Ok(Suspended(*status)),
            (Action::Suspend(_), Member(s)) => Ok(Suspended(s)),
            (Action::Suspend(_), Suspended(_)) => Err(Refusal::AlreadySuspended),
            (Action::Reinstate(_), Suspended(s)) => Ok(Member(s)),
            (Action::Reinstate(_), s @ Member(_)) => Err(Refusal::NotSuspended(s)),
            (Action::Withdraw(_) | Action::Expel(_), Member(_) | Suspended(_)) => Ok(None),
            (Action::Activity, s) => Ok(s),
            (Action::Dissolve, _) => Ok(None),
            (_, None) => Err(Refusal::NotMember),
        }
    }
}

/// A party's standing, and the event that gave it (to name in a refusal):
/// a [`Cause`]'s fields with the standing beside them, not a `Cause` and a
/// standing, so that the standing takes the cause's padding. An org's
/// table of parties holds one for each party with a standing, 72 bytes
/// with the party's id (80 as a standing and a `Cause`): at 1M bench events
/// those tables were 83 MB of an import's 200 MB heap peak.
#[derive(Clone, Copy, Debug)]
struct Held {
    seq: u64,
    id: Uuid,
    date: EffectiveDate,
    action: u8,
    standing: Standing,
}

impl Held {
    fn new(standing: Standing, since: Cause) -> Held {
        let Cause { seq, id, date, action } = since;
        Held { seq, id, date, action, standing }
    }

    /// The event that gave the standing.
    fn since(&self) -> Cause {
        Cause { seq: self.seq, id: self.id, date: self.date, action: self.action }
    }

    fn set_since(&mut self, since: Cause) {
        *self = Held::new(self.standing, since);
    }
}

/// The state of an org after a prefix of its timeline.
#[derive(Clone, Debug, Default)]
pub struct OrgState {
    founded: Option<Cause>,
    dissolved: Option<Cause>,
    parties: HashMap<PartyId, Held>,
}

impl OrgState {
    pub fn standing(&self, party: &PartyId) -> Standing {
        self.parties.get(party).map(|h| h.standing).unwrap_or_default()
    }

    /// How many parties it has seen, whatever their standing now.
    pub fn len(&self) -> usize {
        self.parties.len()
    }

    /// Whether it has seen no party.
    pub fn is_empty(&self) -> bool {
        self.parties.is_empty()
    }

    /// Parties with a standing other than none, unordered.
    pub fn members(&self) -> impl Iterator<Item = (&PartyId, Standing)> {
        self.parties.iter().filter(|(_, h)| h.standing.is_member()).map(|(p, h)| (p, h.standing))
    }

    /// Applies one step, the event being checked, or says which rule it
    /// breaks (and changes nothing). The message names the events involved
    /// up to seq `recorded` (the log's head before the command) by seq; this
    /// step, and any after `recorded`, by date: they are not in the log.
    fn apply(&mut self, step: &Step, recorded: u64) -> Result<(), RuleError> {
        self.fold(step, Naming { checked: Some(step.id), recorded })
    }

    /// [`OrgState::apply`] for a step of a timeline being folded; `naming`
    /// says which steps messages may name by seq.
    fn fold(&mut self, step: &Step, naming: Naming) -> Result<(), RuleError> {
        if let Some(by) = &self.dissolved {
            return Err(RuleError::AfterDissolution { by: by.cite(naming) });
        }
        match (&step.action, &self.founded) {
            (Action::Found(_), Some(by)) => return Err(RuleError::AlreadyFounded { by: by.cite(naming) }),
            (Action::Found(_), None) => {}
            (_, None) => return Err(RuleError::BeforeFounding),
            (_, Some(_)) => {}
        }
        // Every party is checked before any changes: a refused step changes nothing.
        let parties = step.action.parties();
        let (mut few, mut many) = ([Standing::None; 4], Vec::new());
        let changes = match few.get_mut(..parties.len()) {
            Some(few) => few,
            None => {
                many.resize(parties.len(), Standing::None);
                &mut many[..]
            }
        };
        for (party, change) in parties.iter().zip(changes.iter_mut()) {
            let held = self.parties.get(party);
            let standing = held.map_or(Standing::None, |h| h.standing);
            // A refusal names the event that gave the standing that forbids the step.
            *change = standing.after(&step.action).map_err(|refusal| RuleError::Standing {
                party: party.clone(),
                refusal,
                since: held.map(|h| h.since().cite(naming)),
            })?;
        }
        let cause = Cause::of(step);
        for (party, &standing) in parties.iter().zip(changes.iter()) {
            // A party with no standing is not kept: memory follows the members.
            match (self.parties.get_mut(party), standing) {
                (_, Standing::None) => {
                    self.parties.remove(party);
                }
                (Some(held), _) => {
                    // Compared by status name, as `members` gives `since`: a
                    // status change while suspended leaves it suspended since
                    // the suspension.
                    if held.standing.as_str() != standing.as_str() {
                        held.set_since(cause);
                    }
                    held.standing = standing;
                }
                (None, _) => {
                    self.parties.insert(party.clone(), Held::new(standing, cause));
                }
            }
        }
        match step.action {
            Action::Found(_) => self.founded = Some(cause),
            Action::Dissolve => {
                self.dissolved = Some(cause);
                self.parties.clear();
            }
            _ => {}
        }
        Ok(())
    }
}

/// The end of a timeline: its final state and last order key. Enough to
/// check an event that sorts after every other, without keeping the steps.
#[derive(Clone, Debug, Default)]
pub struct Tail {
    state: OrgState,
    founded: Option<Day>,
    last: Option<(Day, bool, u64)>,
    /// The latest last day of any step.
    settled: Option<Day>,
}

impl Tail {
    /// An empty tail with room for `parties` parties, a hint: an org's
    /// table of parties, grown one doubling at a time, was rehashed about
    /// ten times.
    pub fn with_room(parties: usize) -> Tail {
        let mut tail = Tail::default();
        tail.state.parties.reserve(parties);
        tail
    }

    pub fn of(timeline: &Timeline) -> Tail {
        let founded = timeline.founded();
        Tail {
            state: timeline.state.clone(),
            founded,
            last: founded.and_then(|f| timeline.steps.last().map(|s| s.order_key(f))),
            settled: timeline.steps.iter().map(|s| s.last).max(),
        }
    }

    /// The org's summary for `accord orgs`, its last event being `last`;
    /// `founding` is the event of [`Tail::founding`].
    pub fn summary(&self, last: u64, founding: Option<&Event>) -> OrgSummary {
        let founding = founding.filter(|e| Some(e.id) == self.founding());
        OrgSummary {
            last,
            founded: founding.and_then(|e| e.date).map(|d| d.to_string()),
            name: founding.and_then(|e| match &e.kind {
                EventKind::Founding { name, .. } => name.clone(),
                _ => None,
            }),
            members: self.state.members().count() as u64,
            settled: self.settled.map(|d| d.to_string()),
        }
    }

    /// The org's roster, its last event being `last`; `founding` is the
    /// event of [`Tail::founding`], whose parties are its founders.
    pub fn roster(&self, last: u64, founding: Option<&Event>) -> Roster {
        let founders = self.founders(founding);
        let mut members: Vec<RosterEntry> = self
            .state
            .parties
            .iter()
            .filter(|(_, held)| held.standing.is_member())
            .map(|(party, held)| RosterEntry {
                party: party.clone(),
                status: held.standing.as_str(),
                founder: founders.contains(party),
                since_seq: held.seq,
                since_date: held.date.to_string(),
            })
            .collect();
        members.sort_unstable_by(|a, b| natural_cmp(a.party.as_str(), b.party.as_str()));
        Roster { last, settled: self.settled, members }
    }

    /// The parties `founding` names, if it is this tail's founding (else none).
    fn founders<'e>(&self, founding: Option<&'e Event>) -> &'e [PartyId] {
        match founding.filter(|e| Some(e.id) == self.founding()).map(|e| &e.kind) {
            Some(EventKind::Founding { members, .. }) => members.as_slice(),
            _ => &[],
        }
    }

    /// Whether `roster` is [`Tail::roster`]`(last, founding)`, found without
    /// making that roster: its members in order, each one this tail's, with
    /// its status, founder flag and `since`, and as many as the tail has.
    /// `audit verify` checks every org's stored roster: making and sorting
    /// them again took more than comparing them.
    pub fn holds_roster(&self, roster: &Roster, last: u64, founding: Option<&Event>) -> bool {
        let founders = self.founders(founding);
        let mut date = String::new();
        roster.last == last
            && roster.settled == self.settled
            && roster.members.len() == self.state.members().count()
            && roster.members.windows(2).all(|w| natural_cmp(w[0].party.as_str(), w[1].party.as_str()).is_lt())
            && roster.members.iter().all(|entry| {
                self.state.parties.get(&entry.party).is_some_and(|held| {
                    date.clear();
                    let _ = write!(date, "{}", held.date);
                    held.standing.is_member()
                        && entry.status == held.standing.as_str()
                        && entry.founder == founders.contains(&entry.party)
                        && entry.since_seq == held.seq
                        && entry.since_date == date
                })
            })
    }

    /// The id of the founding, if the timeline starts with one.
    pub fn founding(&self) -> Option<Uuid> {
        self.state.founded.map(|c| c.id)
    }

    /// [`Tail::founding`], and the log position its step was given.
    pub fn founding_at(&self) -> Option<(Uuid, u64)> {
        self.state.founded.map(|c| (c.id, c.seq))
    }

    /// Whether the timeline is empty: with no founding, nothing else can count.
    pub fn is_empty(&self) -> bool {
        self.founded.is_none()
    }

    /// Applies a step if it sorts after every step so far; `None` when it
    /// does not (or the org has no founding yet), and the caller must
    /// re-fold the whole timeline. `recorded` is as for [`Timeline::apply`].
    pub fn try_append(&mut self, step: &Step, recorded: u64) -> Option<Result<(), RuleError>> {
        let founded = self.founded?;
        if !step.is_founding() && step.last < founded {
            return Some(Err(RuleError::DatedBeforeFounding { step: None, founded }));
        }
        let key = step.order_key(founded);
        if self.last.is_some_and(|last| last >= key) {
            return None;
        }
        Some(self.state.apply(step, recorded).map(|()| {
            self.last = Some(key);
            self.settled = self.settled.max(Some(step.last));
        }))
    }
}

/// The steps of the events that count, given an org's events in log order:
/// a retraction takes out the event it names, a correction (`supersedes`)
/// takes its place, and an event with no date is not on the timeline.
pub fn counting_steps<'a>(events: impl Iterator<Item = (u64, &'a Event)>) -> Vec<Step> {
    counting(events.map(|(seq, event)| counted(seq, event)))
}

/// What [`counting`] takes of the event at `seq`: its target (the event it
/// retracts or supersedes) and its step.
pub(crate) fn counted(seq: u64, event: &Event) -> (Option<Uuid>, Option<Step>) {
    (event.target(), Step::of(seq, event))
}

/// [`counting_steps`], given each event's target (the event it retracts or
/// supersedes) and step, in log order.
pub(crate) fn counting(events: impl Iterator<Item = (Option<Uuid>, Option<Step>)>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for (target, step) in events {
        if let Some(target) = target {
            steps.retain(|s| s.id != target);
        }
        steps.extend(step);
    }
    steps
}

/// A change to the set of events that count.
pub enum Change<'a> {
    Add(Step),
    Remove(&'a Uuid),
    Replace(&'a Uuid, Step),
}

/// The steps of one org in timeline order, and the state they lead to.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    steps: Vec<Step>,
    state: OrgState,
}

impl Timeline {
    /// Orders and folds steps; fails with the first rule broken.
    pub fn build(steps: Vec<Step>) -> Result<Timeline, RuleError> {
        let mut timeline = Timeline::default();
        timeline.rebuild(steps, Naming { checked: None, recorded: u64::MAX })?;
        Ok(timeline)
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// About how many bytes of memory it holds: its steps, the parties
    /// they name, and its state's table of parties.
    pub fn weight(&self) -> usize {
        use std::mem::size_of;
        let party = |p: &PartyId| size_of::<PartyId>() + p.heap_bytes();
        let steps: usize =
            self.steps.iter().map(|s| size_of::<Step>() + s.action.parties().iter().map(party).sum::<usize>()).sum();
        let held = self.state.parties.capacity() * (size_of::<(PartyId, Held)>() + 1);
        steps + held + self.state.parties.keys().map(PartyId::heap_bytes).sum::<usize>()
    }

    pub fn state(&self) -> &OrgState {
        &self.state
    }

    /// The founding's first day, which clips every other step's range.
    pub fn founded(&self) -> Option<Day> {
        self.steps.first().filter(|s| s.is_founding()).map(|s| s.first)
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.steps.iter().any(|s| &s.id == id)
    }

    /// Applies a change if the timeline that results keeps every rule;
    /// otherwise says which rule breaks where, and leaves the timeline as it was.
    ///
    /// The step a change adds is the event being checked: it is not in the
    /// log yet (its `seq` is only where it would go), so the message names it
    /// by its date. So are the steps after seq `recorded`, the log's head
    /// before the command (use `u64::MAX` when every other step is in the
    /// log); the others by their seq.
    pub fn apply(&mut self, change: Change<'_>, recorded: u64) -> Result<(), RuleError> {
        if let (Change::Add(step), Some(founded)) = (&change, self.founded()) {
            if !step.is_founding() && step.last < founded {
                return Err(RuleError::DatedBeforeFounding { step: None, founded });
            }
            if self.steps.last().is_none_or(|last| last.order_key(founded) < step.order_key(founded)) {
                // The common case: appending at the end only needs the last state.
                self.state.apply(step, recorded)?;
                if let Change::Add(step) = change {
                    self.steps.push(step);
                }
                return Ok(());
            }
        }
        let mut steps = self.steps.clone();
        let checked = match change {
            Change::Add(step) => {
                steps.push(step);
                steps.last().map(|s| s.id)
            }
            Change::Remove(id) => {
                steps.retain(|s| &s.id != id);
                None
            }
            Change::Replace(id, step) => {
                steps.retain(|s| &s.id != id);
                steps.push(step);
                steps.last().map(|s| s.id)
            }
        };
        self.rebuild(steps, Naming { checked, recorded })
    }

    /// Orders and folds `steps`; `naming` says which of them messages may
    /// name by seq.
    fn rebuild(&mut self, mut steps: Vec<Step>, naming: Naming) -> Result<(), RuleError> {
        let founded = steps.iter().filter(|s| s.is_founding()).map(|s| s.first).min();
        let Some(founded) = founded else {
            return match steps.first() {
                Some(_) => Err(RuleError::NoFounding),
                None => {
                    *self = Timeline::default();
                    Ok(())
                }
            };
        };
        // A step that breaks a rule is named unless it is the one being
        // checked, which the caller's message names.
        if let Some(early) = steps.iter().find(|s| !s.is_founding() && s.last < founded) {
            let step = (naming.checked != Some(early.id)).then(|| Cause::of(early).cite(naming));
            return Err(RuleError::DatedBeforeFounding { step, founded });
        }
        steps.sort_by_key(|s| s.order_key(founded));
        let mut state = OrgState::default();
        for step in &steps {
            state.fold(step, naming).map_err(|error| match naming.checked {
                Some(id) if id == step.id => error,
                _ => RuleError::At { step: Cause::of(step).cite(naming), error: Box::new(error) },
            })?;
        }
        self.steps = steps;
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log's head for checks where every other step is recorded.
    const LOG: u64 = u64::MAX;

    fn step(seq: u64, date: &str, action: Action) -> Step {
        let d = crate::model::date::EffectiveDate::parse(date).unwrap();
        Step { seq, id: Uuid::from_u128(seq as u128), date: d, first: d.first_day(), last: d.last_day(), action }
    }
    fn p(ids: &[&str]) -> Vec<PartyId> {
        ids.iter().map(|s| PartyId::parse(s).unwrap()).collect()
    }
    /// The refusal of a step for a party with no standing (so none cited).
    fn refused(party: &str, refusal: Refusal) -> RuleError {
        RuleError::Standing { party: p(&[party]).remove(0), refusal, since: None }
    }

    #[test]
    fn a_retraction_takes_out_the_event_it_names_and_a_correction_takes_its_place() {
        let id = |n: u128| Uuid::from_u128(n).to_string();
        let events: Vec<Event> = [
            format!(r#"{{"id":"{}","type":"founding","org":"o","date":"2000","members":["A"]}}"#, id(1)),
            format!(r#"{{"id":"{}","type":"accession","org":"o","date":"2001","members":["B"]}}"#, id(2)),
            format!(r#"{{"id":"{}","type":"accession","org":"o","date":"2002","members":["C"]}}"#, id(3)),
            format!(r#"{{"id":"{}","type":"retraction","org":"o","retracts":"{}","reason":"r"}}"#, id(4), id(2)),
            format!(
                r#"{{"id":"{}","type":"accession","org":"o","date":"2003","members":["C"],"supersedes":"{}"}}"#,
                id(5),
                id(3)
            ),
        ]
        .iter()
        .map(|text| Event::parse_str(text).unwrap())
        .collect();
        let steps = counting_steps(events.iter().enumerate().map(|(i, e)| (i as u64 + 1, e)));
        assert_eq!(steps.iter().map(|s| (s.seq, s.id)).collect::<Vec<_>>(), [(1, events[0].id), (5, events[4].id)]);
    }

    /// A roster is held exactly when it is the one the tail makes: any
    /// change to it (order, a member more or less, a status, a founder
    /// flag, a `since`, its `last` or `settled`) is seen.
    #[test]
    fn a_tail_holds_exactly_its_own_roster() {
        let founding = Event::parse_str(&format!(
            r#"{{"id":"{}","type":"founding","org":"o","date":"2000","members":["P10","P9"]}}"#,
            Uuid::from_u128(1)
        ))
        .unwrap();
        let mut t = Timeline::default();
        t.apply(Change::Add(step(1, "2000", Action::Found(p(&["P10", "P9"])))), LOG).unwrap();
        t.apply(Change::Add(step(2, "2001-03", Action::Admit(p(&["A", "P11"]), Status::Associate))), LOG).unwrap();
        t.apply(Change::Add(step(3, "2002", Action::Suspend(p(&["P9"])))), LOG).unwrap();
        t.apply(Change::Add(step(4, "2003/2004", Action::Withdraw(p(&["A"])))), LOG).unwrap();
        let tail = Tail::of(&t);
        let own = tail.roster(4, Some(&founding));
        assert_eq!(own.members.len(), 3);
        assert!(tail.holds_roster(&own, 4, Some(&founding)));
        type Alter = fn(&mut Roster);
        let changes: [(&str, Alter); 9] = [
            ("order", |r| r.members.swap(0, 1)),
            ("a member less", |r| drop(r.members.pop())),
            ("a member twice", |r| r.members.push(r.members[2].clone())),
            ("a status", |r| r.members[0].status = "observer"),
            ("a founder flag", |r| r.members[1].founder = !r.members[1].founder),
            ("a since seq", |r| r.members[0].since_seq += 1),
            ("a since date", |r| r.members[2].since_date = "2001-03-01".into()),
            ("last", |r| r.last += 1),
            ("settled", |r| r.settled = None),
        ];
        for (what, change) in changes {
            let mut other = own.clone();
            change(&mut other);
            assert_ne!(other, own, "{what}");
            assert!(!tail.holds_roster(&other, 4, Some(&founding)), "{what} went unseen");
        }
        // Another member in place of one, and the founders read from no founding.
        let mut other = own.clone();
        other.members[0].party = p(&["B"]).remove(0);
        assert!(!tail.holds_roster(&other, 4, Some(&founding)));
        assert!(!tail.holds_roster(&own, 4, None));
        assert!(tail.holds_roster(&tail.roster(4, None), 4, None));
    }

    #[test]
    fn back_dated_accession_before_an_existing_one_is_refused() {
        let mut t = Timeline::default();
        t.apply(Change::Add(step(1, "2017-02", Action::Found(p(&["ARE"])))), LOG).unwrap();
        t.apply(Change::Add(step(2, "2020-12-09", Action::Admit(p(&["ISR"]), Status::Full))), LOG).unwrap();
        // Withdrawal before the accession: ISR is not yet a member then.
        let err = t.apply(Change::Add(step(3, "2019", Action::Withdraw(p(&["ISR"])))), LOG).unwrap_err();
        assert_eq!(err, refused("ISR", Refusal::NotMember));
        // A second, earlier accession makes the later one name a member.
        let err = t.apply(Change::Add(step(4, "2018", Action::Admit(p(&["ISR"]), Status::Full))), LOG).unwrap_err();
        let RuleError::At { step: at, error } = err else { panic!("{err:?}") };
        assert_eq!(at.place, Place::Logged(2));
        assert!(matches!(*error, RuleError::Standing { refusal: Refusal::AlreadyMember(_), .. }), "{error:?}");
        assert_eq!(t.steps().len(), 2);
    }

    #[test]
    fn clipping_and_founding_first_among_equals() {
        let mut t = Timeline::default();
        t.apply(Change::Add(step(1, "2017-02", Action::Found(p(&["ARE"])))), LOG).unwrap();
        // Starts before the founding but may end after it: clipped, allowed.
        t.apply(Change::Add(step(2, "2016/2019-07-02", Action::Admit(p(&["SVK"]), Status::Full))), LOG).unwrap();
        // Entirely before the founding: refused.
        let err = t.apply(Change::Add(step(3, "2016", Action::Admit(p(&["X"]), Status::Full))), LOG).unwrap_err();
        assert!(matches!(err, RuleError::DatedBeforeFounding { step: None, .. }), "{err:?}");
        assert_eq!(t.steps()[1].start(t.founded().unwrap()).to_string(), "2017-02-01");
    }

    #[test]
    fn suspension_remembers_and_dissolution_ends() {
        let mut t = Timeline::default();
        t.apply(Change::Add(step(1, "2000", Action::Found(p(&["A", "B"])))), LOG).unwrap();
        t.apply(Change::Add(step(2, "2001", Action::ChangeStatus(p(&["B"]), Status::Observer))), LOG).unwrap();
        t.apply(Change::Add(step(3, "2002", Action::Suspend(p(&["B"])))), LOG).unwrap();
        assert!(t.apply(Change::Add(step(4, "2002", Action::Suspend(p(&["B"])))), LOG).is_err());
        t.apply(Change::Add(step(5, "2003", Action::Reinstate(p(&["B"])))), LOG).unwrap();
        assert_eq!(t.state().standing(&p(&["B"])[0]), Standing::Member(Status::Observer));
        assert!(t.apply(Change::Add(step(6, "2004", Action::Reinstate(p(&["B"])))), LOG).is_err());
        t.apply(Change::Add(step(7, "2005", Action::Dissolve)), LOG).unwrap();
        let err = t.apply(Change::Add(step(8, "2006", Action::Withdraw(p(&["A"])))), LOG).unwrap_err();
        assert!(matches!(&err, RuleError::AfterDissolution { by } if by.place == Place::Logged(7)), "{err:?}");
        let err = t.apply(Change::Add(step(9, "2007", Action::Activity)), LOG).unwrap_err();
        assert!(matches!(&err, RuleError::AfterDissolution { by } if by.action == "dissolution"), "{err:?}");
        // A back-dated activity from before the dissolution is fine.
        t.apply(Change::Add(step(10, "2004", Action::Activity)), LOG).unwrap();
    }

    #[test]
    fn removing_an_accession_that_later_events_need_is_refused() {
        let mut t = Timeline::default();
        t.apply(Change::Add(step(1, "2000", Action::Found(p(&["A"])))), LOG).unwrap();
        t.apply(Change::Add(step(2, "2001", Action::Admit(p(&["B"]), Status::Full))), LOG).unwrap();
        t.apply(Change::Add(step(3, "2002", Action::Withdraw(p(&["B"])))), LOG).unwrap();
        let id2 = Uuid::from_u128(2);
        let err = t.apply(Change::Remove(&id2), LOG).unwrap_err();
        let RuleError::At { step: at, error } = err else { panic!("{err:?}") };
        assert_eq!((at.id, at.place), (Uuid::from_u128(3), Place::Logged(3)));
        assert_eq!(*error, refused("B", Refusal::NotMember));
        // Replacing it with an earlier accession is fine.
        t.apply(Change::Replace(&id2, step(4, "2000-06", Action::Admit(p(&["B"]), Status::Full))), LOG).unwrap();
        assert_eq!(t.steps().iter().map(|s| s.seq).collect::<Vec<_>>(), [1, 4, 3]);
        assert!(t.apply(Change::Add(step(5, "1999", Action::Found(p(&["Z"])))), LOG).is_err());
    }

    #[test]
    fn refusals_name_recorded_steps_by_seq_and_the_checked_one_by_date() {
        let mut t = Timeline::default();
        t.apply(Change::Add(step(1, "2000", Action::Found(p(&["A"])))), LOG).unwrap();
        t.apply(Change::Add(step(2, "2003", Action::Admit(p(&["B"]), Status::Full))), LOG).unwrap();
        t.apply(Change::Add(step(3, "2004", Action::Suspend(p(&["B"])))), LOG).unwrap();
        let id = |n: u128| Uuid::from_u128(n);
        // Seq 9 is where each checked step would go: no message names it.
        let cases = [
            // Sorts last: the founding that made A a member.
            (
                step(9, "2010", Action::Admit(p(&["A"]), Status::Full)),
                format!("A is already a member (full), since the founding at seq 1 (event {})", id(1)),
            ),
            // Sorts before seq 2, which it breaks: B became a member by the checked step.
            (
                step(9, "2001", Action::Admit(p(&["B"]), Status::Full)),
                format!(
                    "at the accession at seq 2 (event {}): B is already a member (full), since the accession dated 2001 (event {})",
                    id(2),
                    id(9)
                ),
            ),
            (
                step(9, "2005", Action::Suspend(p(&["B"]))),
                format!("B is already suspended, since the suspension at seq 3 (event {})", id(3)),
            ),
            (
                step(9, "2005", Action::Reinstate(p(&["A"]))),
                format!("A is not suspended: it has been full since the founding at seq 1 (event {})", id(1)),
            ),
            (
                step(9, "1999", Action::Found(p(&["Z"]))),
                format!(
                    "at the founding at seq 1 (event {}): the org is already founded, by the founding dated 1999 (event {})",
                    id(1),
                    id(9)
                ),
            ),
        ];
        for (checked, expected) in cases {
            assert_eq!(t.apply(Change::Add(checked), LOG).unwrap_err().to_string(), expected);
        }
        // With only seqs 1 and 2 recorded, seq 3 is an earlier event of the
        // same command, not in the log: it is named by its date too.
        let suspended = format!("B is already suspended, since the suspension dated 2004 (event {})", id(3));
        let last = step(9, "2005", Action::Suspend(p(&["B"])));
        let expected = format!("{suspended}, earlier in this import");
        assert_eq!(t.apply(Change::Add(last.clone()), 2).unwrap_err().to_string(), expected);
        let tail = Tail::of(&t).try_append(&last, 2);
        assert_eq!(tail.map(|r| r.map_err(|e| e.to_string())), Some(Err(expected)));
        let err = t.apply(Change::Add(step(9, "2003-06", Action::Suspend(p(&["B"])))), 2).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "at the suspension dated 2004 (event {}), earlier in this import: \
                 B is already suspended, since the suspension dated 2003-06 (event {})",
                id(3),
                id(9)
            )
        );
        assert_eq!(t.steps().len(), 3);
        // A recorded timeline (no step checked) names every step by seq.
        let err = Timeline::build(vec![
            step(1, "2000", Action::Found(p(&["A"]))),
            step(2, "2001", Action::Dissolve),
            step(3, "2002", Action::Activity),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            format!(
                "at the exercise at seq 3 (event {}): it comes after the dissolution at seq 2 (event {})",
                id(3),
                id(2)
            )
        );
    }

    #[test]
    fn a_refused_step_of_many_parties_changes_nothing_and_leavers_are_forgotten() {
        let mut state = OrgState::default();
        state.apply(&step(1, "2000", Action::Found(p(&["A", "B", "C", "D", "E", "F"]))), LOG).unwrap();
        // Five parties, the last no member: refused, and no one has left.
        let err = state.apply(&step(2, "2001", Action::Withdraw(p(&["A", "B", "C", "D", "X"]))), LOG).unwrap_err();
        assert_eq!(err, refused("X", Refusal::NotMember));
        assert_eq!(state.members().count(), 6);
        state.apply(&step(3, "2001", Action::Withdraw(p(&["A", "B", "C", "D", "E"]))), LOG).unwrap();
        assert_eq!(state.members().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["F"]);
        assert_eq!(state.parties.len(), 1);
        assert_eq!(state.standing(&p(&["A"])[0]), Standing::None);
        state.apply(&step(4, "2002", Action::Admit(p(&["A"]), Status::Observer)), LOG).unwrap();
        assert_eq!(state.standing(&p(&["A"])[0]), Standing::Member(Status::Observer));
    }

    /// An org's table of parties is most of an import's memory (83 MB of
    /// a 200 MB heap peak at 1M bench events): its entries keep the
    /// standing in the cause's padding, 72 bytes with the party's id, not 80.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn a_party_table_entry_keeps_the_standing_in_the_causes_padding() {
        assert!(std::mem::size_of::<(PartyId, Held)>() <= 72);
    }
}
