//! What the store finds wrong or cannot do: one variant per sentence, with the values it names.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::format::HEAD_FILE;
use crate::error::ErrorKind;
use crate::model::id::{OrgId, PartyId};

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// There is no ledger at the path, and the command may not create one.
    NoLedger { dir: PathBuf },
    /// Another accord process held the ledger for all of `waited`.
    Busy { dir: PathBuf, waited: Duration },
    /// The operating system refused `doing`.
    Io { doing: Doing, error: io::Error },
    /// The empty ledger a refused first command created could not be removed.
    Discard { dir: PathBuf, error: io::Error },
    /// sled could not read or write the ledger, or found its files damaged.
    Sled { dir: PathBuf, error: sled::Error },
    /// zstd could not start.
    ZstdStart,
    /// A view of the ledger as a commit left it (`Store::committed`)
    /// was asked to record.
    View { seq: u64 },
    /// zstd could not compress a block.
    Compress(io::Error),
    /// An envelope, or a block of them, too large for its length field.
    TooLarge(Oversized),
    /// The format marker names another format.
    OtherFormat { dir: PathBuf },
    /// The tree has entries but no format marker.
    NoFormatMarker { dir: PathBuf },
    /// A problem with the head marker ([`HEAD_FILE`]).
    Head(HeadProblem),
    /// A command stopped while recording, and the recording marker does not decode.
    RecordingMarker { dir: PathBuf },
    /// A command stopped while recording from `start`, and the head marker
    /// names neither that head nor the log's last event (`last`).
    Unrecoverable { dir: PathBuf, start: u64, last: u64 },
    /// Finishing a command that stopped while recording failed (`error`, a failure of the system).
    Unfinished { dir: PathBuf, error: Box<crate::Error> },
    /// Envelopes handed to the log that do not continue it.
    Discontinuous { seq: u64, last: u64 },
    /// The thread that writes the log's batches (`Store::write_behind`) is gone.
    WriterGone,
    /// Stored bytes that are not what accord wrote.
    Damaged(Damage),
}

/// What a failed system call was doing.
#[derive(Debug)]
pub enum Doing {
    CreateDir(PathBuf),
    OpenLock(PathBuf),
    Lock(PathBuf),
    Sync(PathBuf),
    WriteHead(PathBuf),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oversized {
    Envelope,
    Block,
}

/// What is wrong with the head marker, or between it and the log.
#[derive(Debug)]
pub enum HeadProblem {
    /// The log has events but there is no marker.
    Missing { dir: PathBuf },
    /// The log ends before the marked head: events were lost.
    Lost { dir: PathBuf, log: u64, marker: u64 },
    /// The log goes on past the marked head.
    Beyond { dir: PathBuf, log: u64, marker: u64 },
    /// The last event's hash is not the marked one.
    OtherHash { dir: PathBuf, seq: u64, log: String, marker: String },
    /// The marker file cannot be read.
    Unreadable { path: PathBuf, error: io::Error },
    /// The marker file does not hold a head.
    Garbled { path: PathBuf },
}

/// Which stored bytes are damaged, and how.
#[derive(Debug)]
pub enum Damage {
    /// A `B` key that is not `B` + a seq.
    LogKey { key: Vec<u8> },
    /// The log block from `first` on does not decode.
    Block { first: u64 },
    /// The event stored after `seq - 1` is `next`, not `seq`.
    LogGap { seq: u64, next: u64 },
    /// An id-index chunk that does not decode.
    IdChunk { key: Vec<u8> },
    /// An `I` key of the wrong length.
    IdKey { key: Vec<u8> },
    /// An org chunk that does not decode.
    OrgChunk { org: OrgId, first: u64 },
    /// An `O` key that does not name an org and a seq.
    OrgKey { key: Vec<u8> },
    /// A key of no known family.
    UnknownKey { key: Vec<u8> },
    /// An `S` key that does not name an org, or a summary that does not decode.
    Summary { key: Vec<u8> },
    /// An `R` key that does not name an org, or a roster that does not decode.
    Roster { key: Vec<u8> },
    /// A stored Merkle subtree hash (level ≥ 8) or a leaf's envelope
    /// (level 0) that the tree covers is missing or not 32 bytes.
    Tree { level: u8, index: u64 },
    /// The Merkle tree's marker says it covers more leaves than the indexes.
    TreeAhead { leaves: u64, indexed: u64 },
    /// The Merkle tree covers fewer leaves than the events being indexed continue.
    TreeBehind { leaves: u64, first: u64 },
    /// A key or value met where another family was expected.
    Entry { key: Vec<u8> },
    /// An org's copies out of order.
    OrgOrder { org: OrgId },
    /// The org index names a seq the log lacks.
    OrgNamesAbsent { org: OrgId, seq: u64 },
    /// An org copy that does not decode as that org's event at that seq.
    Copy { org: OrgId, seq: u64, why: Fault },
    /// An envelope in the log that does not decode.
    Event { seq: u64, why: Fault },
    /// An envelope in the log that says it is another seq.
    EventSeq { seq: u64, says: u64 },
    /// The index watermark (`Mindexed`) does not decode.
    Watermark { dir: PathBuf },
    /// The index watermark is past the log's end.
    IndexAhead { dir: PathBuf, indexed: u64, last: u64 },
    /// A `P` key that does not name a party and a chunk number.
    PartyKey { key: Vec<u8> },
    /// A party-index chunk that is not a sorted list of org ids.
    PartyChunk { party: PartyId, chunk: u32 },
    /// The party watermark (`Mparties`) does not decode.
    PartyWatermark { dir: PathBuf },
    /// The party watermark is past the log's end.
    PartiesAhead { dir: PathBuf, indexed: u64, last: u64 },
    /// The summaries' watermark (`Msummaries`) does not decode.
    SummariesWatermark { dir: PathBuf },
    /// The summaries' watermark is past the log's end.
    SummariesAhead { dir: PathBuf, says: u64, last: u64 },
}

/// Why stored JSON does not decode.
#[derive(Debug)]
pub enum Fault {
    NotJson,
    /// Valid JSON, not a valid envelope or recorded event.
    Invalid(Box<crate::model::ModelError>),
    /// A copy of another event: its seq and org.
    OtherEvent {
        seq: u64,
        org: OrgId,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoLedger { .. } => ErrorKind::NotFound,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::Io { .. } | Error::Discard { .. } | Error::ZstdStart | Error::Compress(_) => ErrorKind::Io,
            Error::Sled { error: sled::Error::Io(io), .. } if !is_damage(io) => ErrorKind::Io,
            Error::Unfinished { error, .. } => error.kind(),
            Error::TooLarge(_) => ErrorKind::Invalid,
            Error::View { .. } => ErrorKind::Usage,
            Error::WriterGone => ErrorKind::Io,
            Error::Sled { .. }
            | Error::OtherFormat { .. }
            | Error::NoFormatMarker { .. }
            | Error::Head(_)
            | Error::RecordingMarker { .. }
            | Error::Unrecoverable { .. }
            | Error::Discontinuous { .. }
            | Error::Damaged(_) => ErrorKind::Integrity,
        }
    }
}

/// A file cut short or holding nonsense is damage, not a refusal of the system.
fn is_damage(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoLedger { dir } => {
                write!(f, "there is no ledger at {}: `accord import` or `accord append` creates one", dir.display())
            }
            Error::Busy { dir, waited } => write!(
                f,
                "the ledger at {} is held by another accord process and was not released within {} s (see --wait)",
                dir.display(),
                waited.as_secs_f64()
            ),
            Error::Io { doing, error } => write!(f, "{doing}: {}", os_reason(error)),
            Error::Discard { dir, error } => write!(f, "cannot remove the empty ledger {}: {error}", dir.display()),
            Error::View { seq } => {
                write!(f, "a view of the ledger as of seq {seq} cannot record: record through the ledger itself")
            }
            Error::Sled { dir, error } => {
                let dir = dir.display();
                match error {
                    sled::Error::Io(io) if is_damage(io) => {
                        write!(f, "the ledger at {dir} is damaged: sled could not read it: {io}")
                    }
                    sled::Error::Io(io) => {
                        write!(f, "the ledger at {dir} could not be read or written: {}", os_reason(io))
                    }
                    sled::Error::Corruption { at: Some(at), .. } => write!(
                        f,
                        "the ledger at {dir} is damaged: sled found corrupted data at offset {} of its log",
                        at.lid()
                    ),
                    sled::Error::Corruption { at: None, .. } => {
                        write!(f, "the ledger at {dir} is damaged: sled found corrupted data")
                    }
                    other => write!(f, "the ledger at {dir} could not be used: {other}"),
                }
            }
            Error::ZstdStart => f.write_str("cannot start zstd"),
            Error::Compress(e) => write!(f, "zstd could not compress a block: {e}"),
            Error::TooLarge(Oversized::Envelope) => f.write_str("an envelope is too large to store"),
            Error::TooLarge(Oversized::Block) => f.write_str("a block is too large to store"),
            Error::OtherFormat { dir } => write!(
                f,
                "{} holds a ledger of another format than {}",
                dir.display(),
                String::from_utf8_lossy(super::format::FORMAT)
            ),
            Error::NoFormatMarker { dir } => {
                write!(f, "{} is not an accord ledger, or it is damaged: its format marker is missing", dir.display())
            }
            Error::Head(problem) => problem.fmt(f),
            Error::RecordingMarker { dir } => write!(
                f,
                "the ledger at {} is damaged: its marker of an unfinished command does not decode",
                dir.display()
            ),
            Error::Unrecoverable { dir, start, last } => write!(
                f,
                "the ledger at {} is damaged: a command was recording from seq {start} when it stopped, and {HEAD_FILE} names neither \
                 the head before it nor the log's last event (seq {last})",
                dir.display()
            ),
            Error::Unfinished { dir, error } => write!(
                f,
                "{error}, while finishing a command (import or append) that stopped while recording in the ledger at {}: \
                 the ledger cannot be used until an accord process can write there",
                dir.display()
            ),
            Error::Discontinuous { seq, last } => {
                write!(f, "seq {seq} does not continue the log, which ends at seq {last}")
            }
            Error::WriterGone => f.write_str("the thread writing the log stopped before the command's end"),
            Error::Damaged(damage) => damage.fmt(f),
        }
    }
}

impl fmt::Display for Doing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Doing::CreateDir(dir) => write!(f, "cannot create the ledger directory {}", dir.display()),
            Doing::OpenLock(path) => write!(f, "cannot open the lock file {}", path.display()),
            Doing::Lock(dir) => write!(f, "cannot lock the ledger at {}", dir.display()),
            Doing::Sync(path) => write!(f, "cannot sync {}", path.display()),
            Doing::WriteHead(path) => write!(f, "cannot write {}", path.display()),
        }
    }
}

/// What to do about a head marker that does not match the log.
const CHECK: &str = "check the log against a checkpoint you kept (`accord audit verify --checkpoint SEQ:HASH`, \
                     which restores the marker if the log verifies)";

impl fmt::Display for HeadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadProblem::Missing { dir } => write!(
                f,
                "the ledger at {} has no {HEAD_FILE}, the head its last commit recorded, so a log cut short \
                 cannot be told from a whole one: {CHECK}",
                dir.display()
            ),
            HeadProblem::Lost { dir, log, marker } => write!(
                f,
                "the ledger at {} is damaged: its log ends at seq {log}, but seq {marker} was recorded ({HEAD_FILE}): events were lost",
                dir.display()
            ),
            HeadProblem::Beyond { dir, log, marker } => write!(
                f,
                "the ledger at {} is damaged: its log goes on to seq {log}, but its last commit recorded seq {marker} as the head ({HEAD_FILE}): {CHECK}",
                dir.display()
            ),
            HeadProblem::OtherHash { dir, seq, log, marker } => write!(
                f,
                "the ledger at {} is damaged: the event at seq {seq} has hash {log}, but the last commit recorded {marker} ({HEAD_FILE}): {CHECK}",
                dir.display()
            ),
            HeadProblem::Unreadable { path, error } => {
                write!(f, "{} cannot be read: {}", path.display(), os_reason(error))
            }
            HeadProblem::Garbled { path } => write!(f, "{} is damaged: it does not hold a head", path.display()),
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::LogKey { key } => write!(f, "the ledger holds a damaged log key {}", ShowKey(key)),
            Damage::Block { first } => {
                write!(f, "seq {first}: the stored block of the log from seq {first} on is damaged: it does not decode")
            }
            Damage::LogGap { seq, next } => {
                write!(f, "seq {seq}: the log has a gap or a swap here: the next event stored is seq {next}")
            }
            Damage::IdChunk { key } => write!(f, "the id index holds a damaged chunk under {}", ShowKey(key)),
            Damage::IdKey { key } => write!(f, "the id index holds a damaged key {}", ShowKey(key)),
            Damage::OrgChunk { org, first } => {
                write!(f, "the org index of `{org}` holds a damaged chunk (from seq {first}): it does not decode")
            }
            Damage::OrgKey { key } => write!(f, "the org index holds a damaged key {}", ShowKey(key)),
            Damage::UnknownKey { key } => write!(f, "the ledger holds a key of no known kind {}", ShowKey(key)),
            Damage::Summary { key } => write!(f, "the ledger holds a damaged org summary under {}", ShowKey(key)),
            Damage::Roster { key } => write!(f, "the ledger holds a damaged org roster under {}", ShowKey(key)),
            Damage::Tree { level: 0, index } => {
                write!(f, "the Merkle tree covers seq {} but the log does not hold it", index + 1)
            }
            Damage::Tree { level, index } => {
                write!(
                    f,
                    "the Merkle tree lacks the hash of leaves {}..{} (level {level})",
                    index << level,
                    (index + 1) << level
                )
            }
            Damage::TreeAhead { leaves, indexed } => {
                write!(f, "the Merkle tree says it covers {leaves} events but only {indexed} are indexed")
            }
            Damage::TreeBehind { leaves, first } => {
                write!(
                    f,
                    "the Merkle tree covers {leaves} events but the events being indexed start at seq {}",
                    first + 1
                )
            }
            Damage::Entry { key } => write!(f, "the ledger holds a damaged key or value under {}", ShowKey(key)),
            Damage::OrgOrder { org } => write!(f, "the org index of `{org}` holds its events out of order"),
            Damage::OrgNamesAbsent { org, seq } => {
                write!(f, "the org index of `{org}` names seq {seq}, which is not in the log")
            }
            Damage::Copy { org, seq, why } => {
                write!(f, "the org index of `{org}` holds a damaged copy of seq {seq}: ")?;
                match why {
                    Fault::NotJson => f.write_str("it is not valid JSON"),
                    Fault::Invalid(e) => e.fmt(f),
                    Fault::OtherEvent { seq, org } => write!(f, "it is seq {seq} of `{org}`"),
                }
            }
            Damage::Event { seq, why } => {
                write!(f, "the stored event at seq {seq} is damaged: ")?;
                match why {
                    Fault::NotJson => f.write_str("it is not valid JSON"),
                    Fault::Invalid(e) => e.fmt(f),
                    Fault::OtherEvent { seq, org } => write!(f, "it is seq {seq} of `{org}`"),
                }
            }
            Damage::EventSeq { seq, says } => write!(f, "the stored event at seq {seq} says it is seq {says}"),
            Damage::Watermark { dir } => {
                write!(f, "the ledger at {} is damaged: its index watermark is damaged", dir.display())
            }
            Damage::IndexAhead { dir, indexed, last } => write!(
                f,
                "the ledger at {} is damaged: its indexes hold events up to seq {indexed}, but its log ends at seq {last}",
                dir.display()
            ),
            Damage::PartyKey { key } => write!(f, "the party index holds a damaged key {}", ShowKey(key)),
            Damage::PartyChunk { party, chunk } => {
                write!(
                    f,
                    "the party index holds a damaged chunk {chunk} of party `{party}`: not a sorted list of org ids"
                )
            }
            Damage::PartyWatermark { dir } => {
                write!(f, "the ledger at {} is damaged: its party index watermark is damaged", dir.display())
            }
            Damage::PartiesAhead { dir, indexed, last } => write!(
                f,
                "the ledger at {} is damaged: its party index holds events up to seq {indexed}, but its log ends at seq {last}",
                dir.display()
            ),
            Damage::SummariesWatermark { dir } => {
                write!(f, "the ledger at {} is damaged: its org summaries' watermark is damaged", dir.display())
            }
            Damage::SummariesAhead { dir, says, last } => write!(
                f,
                "the ledger at {} is damaged: its org summaries say they are current up to seq {says}, but its log ends at seq {last}",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { error, .. } | Error::Discard { error, .. } | Error::Compress(error) => Some(error),
            Error::Head(HeadProblem::Unreadable { error, .. }) => Some(error),
            Error::Sled { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<Damage> for Error {
    fn from(damage: Damage) -> Error {
        Error::Damaged(damage)
    }
}

impl From<HeadProblem> for Error {
    fn from(problem: HeadProblem) -> Error {
        Error::Head(problem)
    }
}

impl From<Damage> for crate::Error {
    fn from(damage: Damage) -> crate::Error {
        crate::Error::Store(Error::Damaged(damage))
    }
}

/// A key, quoted and shortened, for a message.
struct ShowKey<'a>(&'a [u8]);

impl fmt::Display for ShowKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: String = String::from_utf8_lossy(self.0).escape_debug().take(60).collect();
        write!(f, "`{text}`")
    }
}

/// Why the operating system refused, in words (never Rust's debug text,
/// which sled puts in the errors it clones, nor the error number).
pub fn os_reason(e: &io::Error) -> String {
    use io::ErrorKind as K;
    match e.kind() {
        K::StorageFull => "the disk is full".to_owned(),
        K::QuotaExceeded => "the disk quota is exceeded".to_owned(),
        K::FileTooLarge => "a file reached the largest size allowed (the file-size limit, `ulimit -f`)".to_owned(),
        K::PermissionDenied => "permission denied".to_owned(),
        K::ReadOnlyFilesystem => "the file system is read-only".to_owned(),
        kind => match e.raw_os_error() {
            // The system's own words, without the error number.
            Some(_) => e.to_string().split(" (os error").next().unwrap_or_default().to_owned(),
            None => kind.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind) -> io::Error {
        io::Error::from(kind)
    }

    #[test]
    fn each_variant_has_its_kind() {
        let dir = PathBuf::from("/l");
        let eof = sled::Error::Io(io(io::ErrorKind::UnexpectedEof));
        let denied = sled::Error::Io(io(io::ErrorKind::PermissionDenied));
        let cases = [
            (Error::NoLedger { dir: dir.clone() }, ErrorKind::NotFound),
            (Error::Busy { dir: dir.clone(), waited: Duration::ZERO }, ErrorKind::Busy),
            (Error::Io { doing: Doing::Sync(dir.clone()), error: io(io::ErrorKind::StorageFull) }, ErrorKind::Io),
            (Error::Sled { dir: dir.clone(), error: denied }, ErrorKind::Io),
            (Error::Sled { dir: dir.clone(), error: eof }, ErrorKind::Integrity),
            (Error::TooLarge(Oversized::Block), ErrorKind::Invalid),
            (Error::Head(HeadProblem::Garbled { path: dir.clone() }), ErrorKind::Integrity),
            (Error::Damaged(Damage::Block { first: 65 }), ErrorKind::Integrity),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
        }
    }

    #[test]
    fn sentences_are_as_users_see_them() {
        let dir = PathBuf::from("/l");
        let busy = Error::Busy { dir: dir.clone(), waited: Duration::from_millis(1500) };
        assert_eq!(
            busy.to_string(),
            "the ledger at /l is held by another accord process and was not released within 1.5 s (see --wait)"
        );
        let full = Error::Io { doing: Doing::Sync(dir.join("db")), error: io(io::ErrorKind::StorageFull) };
        assert_eq!(full.to_string(), "cannot sync /l/db: the disk is full");
        let denied = Error::Sled { dir: dir.clone(), error: sled::Error::Io(io(io::ErrorKind::PermissionDenied)) };
        assert_eq!(denied.to_string(), "the ledger at /l could not be read or written: permission denied");
        let lost = Error::Head(HeadProblem::Lost { dir, log: 3, marker: 5 });
        assert_eq!(
            lost.to_string(),
            "the ledger at /l is damaged: its log ends at seq 3, but seq 5 was recorded (accord.head): events were lost"
        );
        assert_eq!(
            Error::Damaged(Damage::LogGap { seq: 7, next: 9 }).to_string(),
            "seq 7: the log has a gap or a swap here: the next event stored is seq 9"
        );
        let org = OrgId::parse("o1").unwrap();
        let copy = Damage::Copy { org: org.clone(), seq: 4, why: Fault::OtherEvent { seq: 5, org } };
        assert_eq!(copy.to_string(), "the org index of `o1` holds a damaged copy of seq 4: it is seq 5 of `o1`");
    }

    #[test]
    fn keys_are_quoted_escaped_and_short() {
        let mut key = b"Oorg\0".to_vec();
        key.extend_from_slice(&[b'x'; 100]);
        let shown = Damage::OrgKey { key }.to_string();
        assert_eq!(shown, format!("the org index holds a damaged key `Oorg\\0{}`", "x".repeat(54)));
    }
}
