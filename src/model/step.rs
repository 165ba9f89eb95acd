//! What an event does to membership (`Action`) and its place on its org's timeline (`Step`).

use uuid::Uuid;

use crate::model::date::{Day, EffectiveDate};
use crate::model::event::{Event, EventKind, Status};
use crate::model::id::PartyId;

/// What an event does to membership, without its descriptive fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Found(Vec<PartyId>),
    Launch(Vec<PartyId>),
    Activity,
    Admit(Vec<PartyId>, Status),
    ChangeStatus(Vec<PartyId>, Status),
    Suspend(Vec<PartyId>),
    Reinstate(Vec<PartyId>),
    Withdraw(Vec<PartyId>),
    Expel(Vec<PartyId>),
    Dissolve,
}

/// Each action's name in words, by [`Action::number`].
pub(crate) const ACTION_NAMES: [&str; 10] = [
    "founding",
    "launch",
    "exercise",
    "accession",
    "status change",
    "suspension",
    "reinstatement",
    "withdrawal",
    "expulsion",
    "dissolution",
];

impl Action {
    pub fn parties(&self) -> &[PartyId] {
        match self {
            Action::Found(p)
            | Action::Launch(p)
            | Action::Admit(p, _)
            | Action::ChangeStatus(p, _)
            | Action::Suspend(p)
            | Action::Reinstate(p)
            | Action::Withdraw(p)
            | Action::Expel(p) => p,
            Action::Activity | Action::Dissolve => &[],
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        ACTION_NAMES[usize::from(self.number())]
    }

    /// The action's place in [`ACTION_NAMES`]: one byte where a timeline
    /// keeps, for each party, the event that gave its standing.
    pub(crate) fn number(&self) -> u8 {
        match self {
            Action::Found(_) => 0,
            Action::Launch(_) => 1,
            Action::Activity => 2,
            Action::Admit(..) => 3,
            Action::ChangeStatus(..) => 4,
            Action::Suspend(_) => 5,
            Action::Reinstate(_) => 6,
            Action::Withdraw(_) => 7,
            Action::Expel(_) => 8,
            Action::Dissolve => 9,
        }
    }
}

/// One event's place on the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub seq: u64,
    pub id: Uuid,
    /// The event's date, and its first and last day, before clipping.
    pub date: EffectiveDate,
    pub first: Day,
    pub last: Day,
    pub action: Action,
}

impl Step {
    /// The step of an event; `None` for a retraction (not on the timeline) or
    /// an event without a date.
    pub fn of(seq: u64, event: &Event) -> Option<Step> {
        Step::of_kind(seq, event.id, *event.date.as_ref()?, &event.kind, event.kind.members().to_vec())
    }

    /// The step of an event of `kind`, whose [`EventKind::members`] are
    /// `members` (handed over, so that a reader that owns them need not copy
    /// them); `None` for a retraction. The one mapping of kinds to actions.
    pub fn of_kind<T>(
        seq: u64,
        id: Uuid,
        date: EffectiveDate,
        kind: &EventKind<T>,
        members: Vec<PartyId>,
    ) -> Option<Step> {
        let action = match kind {
            EventKind::Founding { .. } => Action::Found(members),
            EventKind::Launch { .. } => Action::Launch(members),
            EventKind::Exercise { .. } => Action::Activity,
            EventKind::Accession { status, .. } => Action::Admit(members, *status),
            EventKind::StatusChange { status, .. } => Action::ChangeStatus(members, *status),
            EventKind::Suspension { .. } => Action::Suspend(members),
            EventKind::Reinstatement { .. } => Action::Reinstate(members),
            EventKind::Withdrawal { .. } => Action::Withdraw(members),
            EventKind::Expulsion { .. } => Action::Expel(members),
            EventKind::Dissolution => Action::Dissolve,
            EventKind::Retraction { .. } => return None,
        };
        Some(Step { seq, id, date, first: date.first_day(), last: date.last_day(), action })
    }

    pub fn is_founding(&self) -> bool {
        matches!(self.action, Action::Found(_))
    }

    /// The first day of the range clipped to the founding's first day.
    pub fn start(&self, founded: Day) -> Day {
        if self.is_founding() { self.first } else { self.first.max(founded) }
    }

    pub(crate) fn order_key(&self, founded: Day) -> (Day, bool, u64) {
        (self.start(founded), !self.is_founding(), self.seq)
    }
}
