//! Test fixtures of the projections: steps and party ids from text.

use uuid::Uuid;

use crate::model::date::EffectiveDate;
use crate::model::id::PartyId;
use crate::timeline::{Action, Step};

/// The step of event `seq` (its id made of the seq) on `date`.
pub(super) fn step(seq: u64, date: &str, action: Action) -> Step {
    let d = EffectiveDate::parse(date).unwrap();
    Step { seq, id: Uuid::from_u128(seq as u128), date: d, first: d.first_day(), last: d.last_day(), action }
}

pub(super) fn party(id: &str) -> PartyId {
    PartyId::parse(id).unwrap()
}
