//! Why an event breaks a rule of its org's timeline.

use std::fmt;

use uuid::Uuid;

use super::Standing;
use crate::model::date::{Day, EffectiveDate};
use crate::model::id::PartyId;

/// Which rule of SPEC §3 a step breaks, with the events it involves (boxed:
/// a refusal is rare, and a small error keeps every `Result` small).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleError {
    /// A party's standing does not allow the step; `since` is the event that
    /// gave the standing, when the party has one.
    Standing { party: PartyId, refusal: Refusal, since: Option<Box<Cited>> },
    /// The step comes after the org's dissolution, `by`.
    AfterDissolution { by: Box<Cited> },
    /// A second founding: the org is already founded, `by`.
    AlreadyFounded { by: Box<Cited> },
    /// A step before the org's founding, which nothing may precede.
    BeforeFounding,
    /// A step whose whole date range is before the founding's first day;
    /// `step` is `None` when it is the step being checked ("it").
    DatedBeforeFounding { step: Option<Box<Cited>>, founded: Day },
    /// Steps, but no founding among them.
    NoFounding,
    /// A change makes a step further along the timeline, `step`, break a rule.
    At { step: Box<Cited>, error: Box<RuleError> },
}

/// Why a party's standing does not allow a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An accession of a party that is a member, with this standing.
    AlreadyMember(Standing),
    /// A suspension of a suspended party.
    AlreadySuspended,
    /// A reinstatement of a party that is not suspended: it has this standing.
    NotSuspended(Standing),
    /// A step that needs a member, of a party that is none.
    NotMember,
}

/// An event as a refusal names it: what it did, its id, its date, and
/// where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cited {
    /// The event's type, in words: `founding`, `status change`…
    pub action: &'static str,
    pub id: Uuid,
    pub date: EffectiveDate,
    pub place: Place,
}

/// Where a cited event is, which says how it is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// In the log, at this seq: named by it.
    Logged(u64),
    /// The event being checked, not in the log: named by its date.
    Checked,
    /// Given earlier by the same command, not in the log yet: named by its date.
    EarlierInThisImport,
}

impl fmt::Display for Cited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (action, id) = (self.action, self.id);
        match self.place {
            Place::Logged(seq) => write!(f, "the {action} at seq {seq} (event {id})"),
            Place::Checked => write!(f, "the {action} dated {} (event {id})", self.date),
            Place::EarlierInThisImport => {
                write!(f, "the {action} dated {} (event {id}), earlier in this import", self.date)
            }
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Standing { party, refusal, since } => {
                match refusal {
                    Refusal::AlreadyMember(standing) => {
                        write!(f, "{party} is already a member ({})", standing.as_str())
                    }
                    Refusal::AlreadySuspended => write!(f, "{party} is already suspended"),
                    Refusal::NotSuspended(_) => write!(f, "{party} is not suspended"),
                    Refusal::NotMember => write!(f, "{party} is not a member"),
                }?;
                match (refusal, since) {
                    (_, None) => Ok(()),
                    (Refusal::NotSuspended(standing), Some(since)) => {
                        write!(f, ": it has been {} since {since}", standing.as_str())
                    }
                    (_, Some(since)) => write!(f, ", since {since}"),
                }
            }
            RuleError::AfterDissolution { by } => write!(f, "it comes after {by}"),
            RuleError::AlreadyFounded { by } => write!(f, "the org is already founded, by {by}"),
            RuleError::BeforeFounding => f.write_str("it comes before the org's founding"),
            RuleError::DatedBeforeFounding { step, founded } => {
                match step {
                    Some(step) => write!(f, "{step}")?,
                    None => f.write_str("it")?,
                }
                write!(f, " is dated before the org's founding (from {founded})")
            }
            RuleError::NoFounding => f.write_str("the org has no founding: record its founding first"),
            RuleError::At { step, error } => write!(f, "at {step}: {error}"),
        }
    }
}

impl std::error::Error for RuleError {}
