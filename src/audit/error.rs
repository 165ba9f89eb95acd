//! What the audit finds wrong in a log, its indexes or an export.

use std::{fmt, io};

use uuid::Uuid;

use crate::error::ErrorKind;
use crate::model::event::Event;
use crate::model::id::{OrgId, PartyId};
use crate::store::HEAD_FILE;

/// What a commit stores of an org beside its events, from the end of its
/// timeline, and the audit checks against them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgFact {
    /// Its summary, for `accord orgs`.
    Summary,
    /// Its roster, for `accord members`.
    Roster,
}

impl OrgFact {
    fn name(self) -> &'static str {
        match self {
            OrgFact::Summary => "summary",
            OrgFact::Roster => "roster",
        }
    }

    /// What it says of the org, for a sentence on one that differs.
    fn holds(self) -> &'static str {
        match self {
            OrgFact::Summary => "founding, members or dates",
            OrgFact::Roster => "members, statuses, founders or the events that gave them",
        }
    }
}

/// A problem found by verification or replay. Most name the seq of the
/// first envelope that is wrong, or that an index entry is wrong about.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The envelope found where `seq` should be says it is `says`.
    OutOfSequence { seq: u64, says: u64 },
    /// The `prev` of `seq` is not the hash of the envelope before.
    BrokenChain { seq: u64 },
    /// `seq` was recorded before the envelope before it (`before`).
    BackInTime { seq: u64, recorded_at: String, before: String },
    /// The id of the event at `seq` is already recorded at `first`.
    IdTwice { seq: u64, id: Uuid, first: u64 },
    /// The event at `seq` breaks a rule of its org.
    BreaksRule { seq: u64, event: Box<Event>, why: Breach },
    /// A checkpoint holds another hash for `seq` than the log.
    Rewritten { seq: u64, by: Witness, expected: String, found: String },
    /// A checkpoint names `seq`, past the end of the log (`end`).
    NotReached { by: Witness, seq: u64, end: u64 },
    /// The log goes on at `next` where `seq` should be.
    Gap { seq: u64, next: u64 },
    /// The log holds an event at seq 0.
    SeqZero,
    /// The id index holds an event that is not in the log.
    IdEntryWithoutEvent { id: Uuid },
    /// The id index points the event at `seq` to `points`.
    IdEntryMisplaced { seq: u64, id: Uuid, points: u64 },
    /// The id index files the event at `seq` in the wrong bucket.
    IdEntryInWrongBucket { seq: u64, id: Uuid },
    /// The id index holds the event at `seq` twice.
    IdEntryTwice { seq: u64, id: Uuid },
    /// The id index lacks the event at `seq`.
    IdEntryMissing { seq: u64, id: Uuid },
    /// An org index names a seq that is not in the log.
    OrgEntryWithoutEvent { org: OrgId, seq: u64 },
    /// An org index files the event at `seq` under another org.
    OrgEntryUnderOtherOrg { seq: u64, filed: OrgId, actual: OrgId },
    /// The org index holds the event at `seq` twice.
    OrgEntryTwice { seq: u64, org: OrgId },
    /// The org index holds a copy of the event at `seq` that differs from the log.
    OrgCopyDiffers { seq: u64, org: OrgId },
    /// The org index lacks the event at `seq`.
    OrgEntryMissing { seq: u64, org: OrgId },
    /// An index entry the store cannot read (the store's sentence).
    DamagedIndex(String),
    /// A log block stored among the indexes.
    BlockAmongIndexes { first: u64 },
    /// The indexes say they hold the events up to `indexed`; the log ends at `end`.
    IndexedUpTo { indexed: u64, end: u64 },
    /// A summary or roster of an org the log has no event of.
    FactWithoutOrg { fact: OrgFact, org: OrgId },
    /// A summary or roster that says the org's last event is `says`, past
    /// its last (`last`).
    FactAhead { fact: OrgFact, org: OrgId, says: u64, last: u64 },
    /// A current summary or roster that is not what the org's events give.
    FactDiffers { fact: OrgFact, org: OrgId },
    /// The summaries' watermark is past the log's end.
    SummariesAhead { says: u64, end: u64 },
    /// The summaries' watermark vouches for the summary of `org` up to
    /// `upto`, but the org's last event up to it, `last`, is past the
    /// summary's (`says`; `None`: the org has no summary).
    SummaryBehind { org: OrgId, upto: u64, last: u64, says: Option<u64> },
    /// The Merkle tree's marker does not say it covers the whole log.
    TreeCovers { leaves: Option<u64>, head: u64 },
    /// A stored Merkle subtree hash that differs from the log's (or is
    /// missing, `stored` false; or is one the log does not call for).
    TreeDiffers { level: u8, index: u64, stored: bool },
    /// The party index names `party` in `org`, which has no event in the log.
    PartyEntryWithoutOrg { party: PartyId, org: OrgId },
    /// The party index names `party` in `org`, but no event of `org` up to its watermark names the party.
    PartyEntryUnnamed { party: PartyId, org: OrgId, upto: u64 },
    /// The party index holds `party` in `org` twice.
    PartyEntryTwice { party: PartyId, org: OrgId },
    /// The party index lacks `party` in `org`, which an event of `org` up to its watermark names.
    PartyEntryMissing { party: PartyId, org: OrgId, upto: u64 },
    /// The party index says it holds the events up to `indexed`; the log ends at `end`.
    PartiesIndexedUpTo { indexed: u64, end: u64 },
    /// `audit replay --org` of an org with no event in the log.
    NoEventOfOrg(OrgId),
    /// An export could not be read.
    CannotRead { label: String, error: io::Error },
}

/// Why an event breaks a rule of its org, as the audit words it.
#[derive(Debug)]
pub enum Breach {
    /// It corrects an event that is not one of the org's that still count.
    NotCounting(Uuid),
    /// It has no date and corrects nothing.
    NoDate,
    /// A rule of the org's timeline, in the timeline's words.
    Rule(crate::timeline::RuleError),
}

/// Who vouches for a hash at a seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Witness {
    /// `--checkpoint SEQ:HASH`.
    Checkpoint,
    /// The head marker ([`HEAD_FILE`]) written at the last commit.
    HeadMarker,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoEventOfOrg(_) => ErrorKind::NotFound,
            Error::CannotRead { .. } => ErrorKind::Io,
            _ => ErrorKind::Integrity,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OutOfSequence { seq, says } => {
                write!(
                    f,
                    "seq {seq}: the envelope says it is seq {says}: the log has a gap, a duplicate or a swap here"
                )
            }
            Error::BrokenChain { seq } => write!(
                f,
                "seq {seq}: its `prev` is not the hash of seq {}: the chain is broken (an event was replaced, removed or re-sealed)",
                seq.saturating_sub(1)
            ),
            Error::BackInTime { seq, recorded_at, before } => write!(
                f,
                "seq {seq}: it was recorded at {recorded_at}, before seq {} ({before}): recorded_at goes back in time",
                seq.saturating_sub(1)
            ),
            Error::IdTwice { seq, id, first } => {
                write!(f, "seq {seq}: event {id} is already recorded at seq {first}: an id is recorded twice")
            }
            Error::BreaksRule { seq, event, why } => {
                write!(f, "seq {seq}: {} breaks a rule of org `{}`: {why}", event.describe(), event.org)
            }
            Error::Rewritten { seq, by, expected, found } => {
                write!(
                    f,
                    "seq {seq}: {by} says hash {expected}, the log has {found}: history up to seq {seq} was rewritten"
                )
            }
            Error::NotReached { by, seq, end } => write!(
                f,
                "{by} names seq {seq}, but the log ends at seq {end}: it lost events, or the checkpoint is of another log"
            ),
            Error::Gap { seq, next } => write!(f, "seq {seq}: the log has a gap: the next event stored is seq {next}"),
            Error::SeqZero => f.write_str("the log holds an event at seq 0, where none may be: it was altered"),
            Error::IdEntryWithoutEvent { id } => {
                write!(f, "the id index holds event {id}, which is not in the log: an index entry has no event")
            }
            Error::IdEntryMisplaced { seq, id, points } => {
                write!(f, "seq {seq}: the id index points event {id} to seq {points}")
            }
            Error::IdEntryInWrongBucket { seq, id } => {
                write!(f, "seq {seq}: the id index files event {id} in the wrong bucket")
            }
            Error::IdEntryTwice { seq, id } => write!(f, "seq {seq}: the id index holds event {id} twice"),
            Error::IdEntryMissing { seq, id } => write!(f, "seq {seq}: the id index lacks event {id}"),
            Error::OrgEntryWithoutEvent { org, seq } => write!(
                f,
                "the org index of `{org}` names seq {seq}, which is not in the log: an index entry has no event"
            ),
            Error::OrgEntryUnderOtherOrg { seq, filed, actual } => {
                write!(f, "seq {seq}: the org index files it under `{filed}`, but it is an event of `{actual}`")
            }
            Error::OrgEntryTwice { seq, org } => {
                write!(f, "seq {seq}: the org index of `{org}` holds this event twice")
            }
            Error::OrgCopyDiffers { seq, org } => {
                write!(f, "seq {seq}: the org index of `{org}` holds a copy of this event that differs from the log")
            }
            Error::OrgEntryMissing { seq, org } => write!(f, "seq {seq}: the org index of `{org}` lacks this event"),
            Error::DamagedIndex(what) => f.write_str(what),
            Error::BlockAmongIndexes { first } => {
                write!(f, "the ledger holds a log block (seq {first}) among its indexes")
            }
            Error::IndexedUpTo { indexed, end } => {
                write!(f, "the indexes say they hold the events up to seq {indexed}, but the log ends at seq {end}")
            }
            Error::FactWithoutOrg { fact, org } => {
                write!(f, "the ledger holds a {} of org `{org}`, which has no event in the log", fact.name())
            }
            Error::FactAhead { fact, org, says, last } => write!(
                f,
                "the {} of org `{org}` says its last event is seq {says}, but the org's last event is seq {last}",
                fact.name()
            ),
            Error::FactDiffers { fact, org } => {
                write!(f, "the {} of org `{org}` differs from what its events give ({})", fact.name(), fact.holds())
            }
            Error::SummariesAhead { says, end } => {
                write!(f, "the org summaries say they are current up to seq {says}, but the log ends at seq {end}")
            }
            Error::SummaryBehind { org, upto, last, says: Some(says) } => write!(
                f,
                "the org summaries say they are current up to seq {upto}, but the summary of org `{org}` ends at seq {says} and the org has an event at seq {last}"
            ),
            Error::SummaryBehind { org, upto, last, says: None } => write!(
                f,
                "the org summaries say they are current up to seq {upto}, but org `{org}` has no summary and has an event at seq {last}"
            ),
            Error::TreeCovers { leaves: Some(leaves), head } => {
                write!(f, "the Merkle tree says it covers {leaves} events, but the log holds {head}")
            }
            Error::TreeCovers { leaves: None, head } => {
                write!(f, "the log holds {head} events but the ledger has no Merkle tree")
            }
            Error::TreeDiffers { level, index, stored } => {
                let (from, to) = (index << level, (index + 1) << level);
                let what = if *stored { "differs from what the log gives" } else { "is missing" };
                write!(f, "the Merkle tree's hash of seqs {}..={to} {what}", from + 1)
            }
            Error::PartyEntryWithoutOrg { party, org } => write!(
                f,
                "the party index names party `{party}` in org `{org}`, which has no event in the log: an index entry has no event"
            ),
            Error::PartyEntryUnnamed { party, org, upto } => write!(
                f,
                "the party index names party `{party}` in org `{org}`, but no event of `{org}` up to seq {upto} names it"
            ),
            Error::PartyEntryTwice { party, org } => {
                write!(f, "the party index holds party `{party}` in org `{org}` twice")
            }
            Error::PartyEntryMissing { party, org, upto } => write!(
                f,
                "the party index lacks party `{party}` in org `{org}`, which an event of `{org}` up to seq {upto} names"
            ),
            Error::PartiesIndexedUpTo { indexed, end } => {
                write!(f, "the party index says it holds the events up to seq {indexed}, but the log ends at seq {end}")
            }
            Error::NoEventOfOrg(org) => write!(f, "the log has no event of org `{org}`"),
            Error::CannotRead { label, error } => write!(f, "cannot read {label}: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::CannotRead { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::NotCounting(id) => {
                write!(f, "it corrects event {id}, which is not an event of the org that still counts")
            }
            Breach::NoDate => f.write_str("it has no date"),
            Breach::Rule(why) => why.fmt(f),
        }
    }
}

impl fmt::Display for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Witness::Checkpoint => f.write_str("the checkpoint"),
            Witness::HeadMarker => write!(f, "{HEAD_FILE}, written at the last commit,"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sentences users see, byte for byte.
    #[test]
    fn sentences() {
        let id = Uuid::from_u128(1);
        let isa = OrgId::parse("isa").unwrap();
        let cases: [(Error, &str); 8] = [
            (
                Error::OutOfSequence { seq: 3, says: 5 },
                "seq 3: the envelope says it is seq 5: the log has a gap, a duplicate or a swap here",
            ),
            (
                Error::BrokenChain { seq: 3 },
                "seq 3: its `prev` is not the hash of seq 2: the chain is broken (an event was replaced, removed or re-sealed)",
            ),
            (
                Error::BackInTime { seq: 3, recorded_at: "2024-01-01".into(), before: "2024-02-01".into() },
                "seq 3: it was recorded at 2024-01-01, before seq 2 (2024-02-01): recorded_at goes back in time",
            ),
            (
                Error::NotReached { by: Witness::HeadMarker, seq: 9, end: 4 },
                "accord.head, written at the last commit, names seq 9, but the log ends at seq 4: it lost events, or the checkpoint is of another log",
            ),
            (Error::Gap { seq: 3, next: 5 }, "seq 3: the log has a gap: the next event stored is seq 5"),
            (
                Error::IdEntryWithoutEvent { id },
                "the id index holds event 00000000-0000-0000-0000-000000000001, which is not in the log: an index entry has no event",
            ),
            (
                Error::OrgEntryUnderOtherOrg { seq: 2, filed: isa.clone(), actual: OrgId::parse("nato").unwrap() },
                "seq 2: the org index files it under `isa`, but it is an event of `nato`",
            ),
            (
                Error::IndexedUpTo { indexed: 3, end: 4 },
                "the indexes say they hold the events up to seq 3, but the log ends at seq 4",
            ),
        ];
        for (error, sentence) in cases {
            assert_eq!(error.kind(), ErrorKind::Integrity);
            assert_eq!(error.to_string(), sentence);
        }
        assert_eq!(Error::NoEventOfOrg(isa).kind(), ErrorKind::NotFound);
    }
}
