//! What the ledger refuses to record or read, or finds damaged.

use std::fmt;
use std::path::Path;

use uuid::Uuid;

use super::MAX_EVENT_BYTES;
use crate::error::ErrorKind;
use crate::model::id::{OrgId, PartyId};
use crate::store::HEAD_FILE;
use crate::timeline::RuleError;

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    // An event that clashes with the log.
    /// An event id already recorded, with other content.
    AlreadyRecorded { id: Uuid, seq: u64 },
    /// An event id given earlier by the same command, with other content.
    GivenTwice { id: Uuid },
    /// An export's envelope that differs from the one recorded at its seq.
    OtherLog { seq: u64 },
    /// An envelope whose seq does not follow the log's head.
    NotNext { seq: u64, head: u64 },
    /// An envelope whose `prev` is not the hash of the log's head.
    NotChained { seq: u64, head: u64 },
    /// An envelope recorded before the log's head was.
    RecordedEarlier { seq: u64, head: u64 },
    /// An envelope whose event id is already recorded, at seq `other`.
    IdRecorded { id: Uuid, seq: u64, other: u64 },
    /// An envelope whose event id was given earlier in this import, as seq `other`.
    IdGivenEarlier { id: Uuid, seq: u64, other: u64 },

    // Input that cannot be recorded.
    /// An envelope whose `hash` does not match its content.
    HashMismatch { seq: u64 },
    /// An event whose envelope would take `len` bytes, more than [`MAX_EVENT_BYTES`].
    EventTooLarge { len: usize },
    /// A line of `len` bytes, more than [`MAX_EVENT_BYTES`].
    LineTooLong { len: usize },
    /// Input longer than [`MAX_EVENT_BYTES`]: `what` is `the line`, `the event on stdin`…
    TooLong { what: &'static str },
    /// Input that is not UTF-8.
    NotUtf8 { what: &'static str },
    /// Input with no event.
    Empty { what: &'static str },
    /// An event that is not a correction and has no date (`event` describes it).
    NoDate { event: String },
    /// A `--known-at` that is neither a time nor a day.
    KnownAt { text: String },
    /// A `--known-at` day whose end is not a time.
    KnownAtOutOfRange,

    // Asked for, and not there.
    /// `show` of an event id the log does not hold.
    EventNotFound { id: Uuid },
    /// An org with no event in the log at `seq`.
    OrgNotFound { org: OrgId, seq: u64 },
    /// A party that no event of any org names at `seq`.
    PartyNotFound { party: PartyId, seq: u64 },
    /// A view of the log at a seq past its head.
    NoSeq { seq: u64, head: u64 },
    /// A write that expected the log's head at `expected` (`--expect-head`,
    /// `expected_head=`) found it at `head`.
    HeadMoved { expected: u64, head: u64 },
    /// A proof asked of seq `seq` (or from size `seq`) in a tree of `size` events.
    NotInTree { seq: u64, size: u64 },
    /// A tree too large for a proof (2^256 leaves: never).
    TreeTooLarge,
    /// An origin asked for a log that has another.
    OriginSet { set: String, asked: String },
    /// An origin that is not a C2SP log name.
    BadOrigin { origin: String },
    /// A claim file that does not check.
    BadClaim { why: String },
    /// A checkpoint of another log.
    CheckpointOrigin { ours: String, theirs: String },
    /// A checkpoint of more events than the log (or export) holds.
    CheckpointAhead { size: u64, head: u64 },
    /// A checkpoint whose root is not the root of the log's first `size` events.
    CheckpointRoot { origin: String, size: u64 },
    /// An export that could not be read while its tree was hashed.
    ExportUnreadable { error: std::io::Error },
    /// `history --member` of a party that no event of the org names, as of `seq`.
    PartyNotNamed { party: PartyId, org: OrgId, seq: u64 },
    /// `show` of an id prefix that starts no event id.
    NoIdWithPrefix { prefix: String },
    /// `show` of an id prefix that starts several event ids: each described.
    AmbiguousPrefix { prefix: String, candidates: Vec<String>, more: usize },

    // Against the rules.
    /// An event breaks a rule of its org's timeline.
    RuleBroken(Box<Broken>),
    /// A retraction or a correction that cannot be recorded.
    Correction(Box<Correction>),

    // Damage.
    /// The stored envelope of `seq` does not match its hash.
    StoredHashMismatch { seq: u64 },
    /// The log skips from before `seq` to `next`.
    Missing { seq: u64, next: u64 },
    /// The `prev` of `seq` is not the hash of the seq before.
    BrokenChain { seq: u64 },
    /// The log ends at `end`, short of the `head` its last commit recorded.
    CutShort { end: u64, head: u64 },
    /// The log has no event at `seq`, which it must hold.
    Gap { seq: u64 },
    /// The stored `recorded_at` of `seq` is not a time.
    DamagedTime { seq: u64 },
    /// The id index names `seq` for an event the log does not hold there.
    IdIndexDangling { id: Uuid, seq: u64 },
    /// The id index names `seq` for an event, and the log holds another there.
    IdIndexWrong { id: Uuid, seq: u64 },
    /// The org index names `seq`, which is not in the log.
    OrgIndexDangling { seq: u64 },
    /// The roster of `org` names seq `seq` for a member's event, and the
    /// org index holds no event of the org there.
    RosterDangling { org: OrgId, seq: u64 },
    /// An org's recorded events break a rule of its timeline.
    DamagedTimeline { org: OrgId, why: Box<RuleError> },
    /// The org index no longer holds the events of `org` up to `seq` that
    /// it held when this process read them.
    OrgIndexChanged { org: OrgId, seq: u64 },
    /// The log verifies up to `head`, and the head marker is missing.
    HeadMarkerMissing { head: u64 },
    /// The log verifies up to `head`, and the head marker names `marker`.
    HeadMarkerMoved { head: u64, marker: u64 },
    /// Reading the ledger at `dir` failed in a way that only damage explains
    /// (a panic in the database, with its message).
    Unreadable { dir: Box<Path>, panic: Option<Box<str>> },

    /// A command that records failed, and what it wrote was undone
    /// (`undone`: at once; else when the ledger is next opened).
    NothingRecorded { error: Box<crate::Error>, undone: bool },
}

/// An event that breaks a rule of its org's timeline.
#[derive(Debug)]
pub struct Broken {
    /// The event, as [`crate::model::event::Event::describe`] says it.
    pub event: String,
    pub org: OrgId,
    pub why: RuleError,
}

/// A retraction or correction that cannot be recorded.
#[derive(Debug)]
pub struct Correction {
    /// The event, as [`crate::model::event::Event::describe`] says it.
    pub event: String,
    /// `retracts` or `supersedes`.
    pub verb: &'static str,
    /// The event it names.
    pub target: Uuid,
    pub problem: Uncorrectable,
}

/// Why the event a retraction or correction names cannot be corrected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uncorrectable {
    /// The event it names is not in the log.
    NotInLog,
    /// The event it names is of org `org`, not of `not`.
    OtherOrg { org: OrgId, not: OrgId },
    /// The event it names is a retraction.
    OfRetraction,
    /// The event it names was already retracted or superseded.
    NoLongerCounts,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        use Error::*;
        match self {
            AlreadyRecorded { .. }
            | GivenTwice { .. }
            | OtherLog { .. }
            | NotNext { .. }
            | NotChained { .. }
            | RecordedEarlier { .. }
            | IdRecorded { .. }
            | IdGivenEarlier { .. }
            | HeadMoved { .. } => ErrorKind::Conflict,
            HashMismatch { .. }
            | EventTooLarge { .. }
            | LineTooLong { .. }
            | TooLong { .. }
            | NotUtf8 { .. }
            | Empty { .. }
            | NoDate { .. }
            | AmbiguousPrefix { .. }
            | TreeTooLarge
            | OriginSet { .. }
            | BadOrigin { .. }
            | CheckpointOrigin { .. } => ErrorKind::Invalid,
            CheckpointAhead { .. } | CheckpointRoot { .. } | BadClaim { .. } => ErrorKind::Integrity,
            ExportUnreadable { .. } => ErrorKind::Io,
            // Only the command line gives a --known-at.
            KnownAt { .. } | KnownAtOutOfRange => ErrorKind::Usage,
            EventNotFound { .. }
            | OrgNotFound { .. }
            | PartyNotFound { .. }
            | NoSeq { .. }
            | NotInTree { .. }
            | PartyNotNamed { .. }
            | NoIdWithPrefix { .. } => ErrorKind::NotFound,
            Error::Correction(c) if c.problem == Uncorrectable::NotInLog => ErrorKind::NotFound,
            RuleBroken(_) | Error::Correction(_) => ErrorKind::RuleBroken,
            StoredHashMismatch { .. }
            | Missing { .. }
            | BrokenChain { .. }
            | CutShort { .. }
            | Gap { .. }
            | DamagedTime { .. }
            | IdIndexDangling { .. }
            | IdIndexWrong { .. }
            | OrgIndexDangling { .. }
            | RosterDangling { .. }
            | DamagedTimeline { .. }
            | OrgIndexChanged { .. }
            | HeadMarkerMissing { .. }
            | HeadMarkerMoved { .. }
            | Unreadable { .. } => ErrorKind::Integrity,
            NothingRecorded { error, .. } => error.kind(),
        }
    }
}

const CANNOT_CHANGE: &str = "an event cannot be changed, record a correction (supersedes) instead";

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        const MAX: usize = MAX_EVENT_BYTES;
        match self {
            AlreadyRecorded { id, seq } => {
                write!(f, "event {id} is already recorded at seq {seq} with other content: {CANNOT_CHANGE}")
            }
            GivenTwice { id } => {
                write!(f, "event {id} is given twice in this import, with other content: {CANNOT_CHANGE}")
            }
            OtherLog { seq } => write!(
                f,
                "the envelope of seq {seq} differs from the event recorded at seq {seq}: the export is of another log"
            ),
            NotNext { seq, head } => {
                write!(f, "the envelope of seq {seq} does not continue the log, whose head is seq {head}")
            }
            NotChained { seq, head } => {
                write!(f, "the envelope of seq {seq} has a `prev` that is not the hash of seq {head}")
            }
            RecordedEarlier { seq, head } => write!(f, "the envelope of seq {seq} was recorded before seq {head}"),
            IdRecorded { id, seq, other } => write!(f, "event {id} of seq {seq} is already recorded at seq {other}"),
            IdGivenEarlier { id, seq, other } => {
                write!(f, "event {id} of seq {seq} is earlier in this import, as seq {other}")
            }
            HashMismatch { seq } => write!(f, "the envelope of seq {seq} has a `hash` that does not match its content"),
            EventTooLarge { len } => write!(
                f,
                "the event would be recorded as {len} bytes (with its seq, time, recorder and hashes), more than the {MAX} bytes an event may take"
            ),
            LineTooLong { len } => {
                write!(f, "the line is {len} bytes long, more than the {MAX} bytes an event may take")
            }
            TooLong { what } => write!(f, "{what} is longer than the {MAX} bytes an event may take"),
            NotUtf8 { what } => write!(f, "{what} is not valid UTF-8"),
            Empty { what } => write!(f, "{what} is empty: give one event as a JSON object"),
            NoDate { event } => write!(f, "{event} has no date"),
            KnownAt { text } => {
                write!(f, "--known-at {} is neither an RFC 3339 time nor a day (YYYY-MM-DD)", crate::error::quote(text))
            }
            KnownAtOutOfRange => f.write_str("--known-at is out of range"),
            EventNotFound { id } => write!(f, "there is no event {id} in the log"),
            OrgNotFound { org, seq } => write!(f, "there is no org `{org}` in the log at seq {seq}"),
            PartyNotFound { party, seq } => write!(f, "no org of the log names party `{party}` at seq {seq}"),
            NoSeq { seq, head } => write!(f, "the log has no seq {seq}: its head is seq {head}"),
            HeadMoved { expected, head } => write!(
                f,
                "the log's head is seq {head}, not seq {expected} as expected: another write came first; nothing recorded"
            ),
            NotInTree { seq, size } => {
                write!(f, "seq {seq} is not in the tree of the first {size} events: give a seq from 1 to {size}")
            }
            BadOrigin { origin } => write!(
                f,
                "`{origin}` cannot be a log's origin: give a name without spaces or '+', like example.org/isa-ledger"
            ),
            CheckpointOrigin { ours, theirs } => {
                write!(f, "the checkpoint is of the log `{theirs}`, not of this one (`{ours}`)")
            }
            CheckpointAhead { size, head } => write!(
                f,
                "the checkpoint names {size} events, but the log holds {head}: events it vouched for are gone, or it is another log"
            ),
            CheckpointRoot { origin, size } => write!(
                f,
                "the first {size} events do not hash to the root of the checkpoint of `{origin}`: history up to seq {size} was rewritten, or it is another log"
            ),
            ExportUnreadable { error } => write!(f, "cannot read the export: {error}"),
            BadClaim { why } => write!(f, "the claim does not check: {why}"),
            TreeTooLarge => write!(f, "the tree is too large for a proof"),
            OriginSet { set, asked } => {
                write!(
                    f,
                    "the log's origin is already `{set}`, not `{asked}`: a log keeps the name its checkpoints carry"
                )
            }
            PartyNotNamed { party, org, seq } => {
                write!(
                    f,
                    "party `{party}` is not found in org `{org}`: none of its events names the party (log at seq {seq})"
                )
            }
            NoIdWithPrefix { prefix } => write!(f, "no event id starts with `{prefix}`"),
            AmbiguousPrefix { prefix, candidates, more } => {
                write!(
                    f,
                    "`{prefix}` is ambiguous: it starts {} event ids: {}",
                    candidates.len() + more,
                    candidates.join(", ")
                )?;
                if *more > 0 {
                    write!(f, " and {more} more")?;
                }
                f.write_str("; give more digits")
            }
            RuleBroken(b) => write!(f, "{} breaks a rule of org `{}`: {}", b.event, b.org, b.why),
            Error::Correction(c) => write!(f, "{} {} event {}, {}", c.event, c.verb, c.target, c.problem),
            StoredHashMismatch { seq } => {
                write!(f, "seq {seq}: the log is damaged: the stored event's hash does not match its content")
            }
            Missing { seq, next } => write!(
                f,
                "seq {seq}: the log is damaged: the event at seq {seq} is missing (the next one stored is seq {next})"
            ),
            BrokenChain { seq } => {
                write!(f, "seq {seq}: the log is damaged: its `prev` is not the hash of seq {}", seq.saturating_sub(1))
            }
            CutShort { end, head } => {
                write!(f, "seq {}: the log is damaged: it ends at seq {end}, but its head is seq {head}", end + 1)
            }
            Gap { seq } => write!(f, "the log has a gap at seq {seq}"),
            DamagedTime { seq } => write!(f, "the stored event at seq {seq} has a damaged recorded_at"),
            IdIndexDangling { id, seq } => {
                write!(f, "the id index names seq {seq} for event {id}, which is not in the log")
            }
            IdIndexWrong { id, seq } => {
                write!(f, "the id index names seq {seq} for event {id}, which holds another event")
            }
            OrgIndexDangling { seq } => write!(f, "the org index names seq {seq}, which is not in the log"),
            RosterDangling { org, seq } => write!(
                f,
                "the roster of org `{org}` names seq {seq} for a member's event, but the org index holds no event \
                 of the org there: the ledger is damaged; run `accord audit verify`"
            ),
            DamagedTimeline { org, why } => {
                write!(f, "the recorded timeline of org `{org}` breaks a rule ({why}): the log was altered")
            }
            OrgIndexChanged { org, seq } => write!(
                f,
                "the org index no longer holds the events of org `{org}` up to seq {seq} that it held when read: \
                 the ledger was altered while open; run `accord audit verify`"
            ),
            HeadMarkerMissing { head } => write!(
                f,
                "the log verifies up to seq {head}, but {HEAD_FILE} (the head its last commit recorded) is missing, \
                 so a log cut short cannot be told from a whole one: check it against a checkpoint you kept \
                 (`accord audit verify --checkpoint SEQ:HASH`), which restores the marker"
            ),
            HeadMarkerMoved { head, marker } => write!(
                f,
                "the log verifies up to seq {head}, but its last commit recorded seq {marker} as the head ({HEAD_FILE}): \
                 events were added to the log outside accord, or the marker was replaced"
            ),
            Unreadable { dir, panic } => write!(
                f,
                "the ledger at {} could not be read: it is damaged ({})",
                dir.display(),
                panic.as_deref().unwrap_or("a panic with no message")
            ),
            NothingRecorded { error, .. } if error.kind() == ErrorKind::Interrupted => {
                f.write_str("interrupted: nothing recorded")
            }
            NothingRecorded { error, undone: true } => write!(f, "{error}: nothing was recorded"),
            NothingRecorded { error, undone: false } => {
                write!(f, "{error}: nothing was recorded (its writes are undone when the ledger is next opened)")
            }
        }
    }
}

impl fmt::Display for Uncorrectable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uncorrectable::NotInLog => f.write_str("which is not in the log"),
            Uncorrectable::OtherOrg { org, not } => write!(f, "an event of org `{org}`, not of `{not}`"),
            Uncorrectable::OfRetraction => {
                f.write_str("a retraction: a retraction cannot be corrected, only the events it names")
            }
            Uncorrectable::NoLongerCounts => {
                f.write_str("which no longer counts: it was already retracted or superseded")
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Refusal;

    #[test]
    fn each_kind_of_refusal_has_its_kind_and_its_sentence() {
        let id = Uuid::from_u128(7);
        let org = OrgId::parse("isa").unwrap();
        let why =
            RuleError::Standing { party: PartyId::parse("ISR").unwrap(), refusal: Refusal::NotMember, since: None };
        let broken = Broken { event: format!("the withdrawal dated 2019 (event {id})"), org: org.clone(), why };
        let correction =
            |problem| Correction { event: "the retraction".to_owned(), verb: "retracts", target: id, problem };
        let cases: Vec<(Error, ErrorKind, String)> = vec![
            (
                Error::AlreadyRecorded { id, seq: 3 },
                ErrorKind::Conflict,
                format!("event {id} is already recorded at seq 3 with other content: an event cannot be changed, record a correction (supersedes) instead"),
            ),
            (
                Error::IdGivenEarlier { id, seq: 9, other: 8 },
                ErrorKind::Conflict,
                format!("event {id} of seq 9 is earlier in this import, as seq 8"),
            ),
            (
                Error::EventTooLarge { len: 70_000 },
                ErrorKind::Invalid,
                "the event would be recorded as 70000 bytes (with its seq, time, recorder and hashes), more than the 65536 bytes an event may take".to_owned(),
            ),
            (
                Error::OrgNotFound { org: org.clone(), seq: 4 },
                ErrorKind::NotFound,
                "there is no org `isa` in the log at seq 4".to_owned(),
            ),
            (
                Error::PartyNotFound { party: PartyId::parse("FRA").unwrap(), seq: 4 },
                ErrorKind::NotFound,
                "no org of the log names party `FRA` at seq 4".to_owned(),
            ),
            (
                Error::RuleBroken(Box::new(broken)),
                ErrorKind::RuleBroken,
                format!("the withdrawal dated 2019 (event {id}) breaks a rule of org `isa`: ISR is not a member"),
            ),
            (
                Error::Correction(Box::new(correction(Uncorrectable::NotInLog))),
                ErrorKind::NotFound,
                format!("the retraction retracts event {id}, which is not in the log"),
            ),
            (
                Error::Correction(Box::new(correction(Uncorrectable::OfRetraction))),
                ErrorKind::RuleBroken,
                format!("the retraction retracts event {id}, a retraction: a retraction cannot be corrected, only the events it names"),
            ),
            (
                Error::CutShort { end: 4, head: 6 },
                ErrorKind::Integrity,
                "seq 5: the log is damaged: it ends at seq 4, but its head is seq 6".to_owned(),
            ),
            (
                Error::OrgIndexChanged { org: org.clone(), seq: 9 },
                ErrorKind::Integrity,
                "the org index no longer holds the events of org `isa` up to seq 9 that it held when read: the ledger was altered while open; run `accord audit verify`".to_owned(),
            ),
            (
                Error::RosterDangling { org: org.clone(), seq: 7 },
                ErrorKind::Integrity,
                "the roster of org `isa` names seq 7 for a member's event, but the org index holds no event of the org there: the ledger is damaged; run `accord audit verify`".to_owned(),
            ),
            (
                Error::DamagedTimeline { org, why: Box::new(RuleError::NoFounding) },
                ErrorKind::Integrity,
                "the recorded timeline of org `isa` breaks a rule (the org has no founding: record its founding first): the log was altered".to_owned(),
            ),
        ];
        for (error, kind, sentence) in cases {
            assert_eq!((error.kind(), error.to_string()), (kind, sentence));
        }
    }

    #[test]
    fn a_command_undone_says_nothing_was_recorded_and_keeps_the_kind() {
        let interrupted = Error::NothingRecorded { error: Box::new(crate::Error::Interrupted), undone: true };
        assert_eq!(
            (interrupted.kind(), interrupted.to_string().as_str()),
            (ErrorKind::Interrupted, "interrupted: nothing recorded")
        );
        let full = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        let failed = |undone| Error::NothingRecorded {
            error: Box::new(crate::Error::File { message: "the disk is full".to_owned(), error: full() }),
            undone,
        };
        assert_eq!(failed(true).kind(), ErrorKind::Io);
        assert_eq!(failed(true).to_string(), "the disk is full: nothing was recorded");
        assert_eq!(
            failed(false).to_string(),
            "the disk is full: nothing was recorded (its writes are undone when the ledger is next opened)"
        );
    }
}
