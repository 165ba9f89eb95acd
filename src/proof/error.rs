//! What the proofs room finds wrong: a proof, a key, a signed note or a checkpoint that does not check or parse.

use std::{fmt, io};

use crate::error::{ErrorKind, quote};

/// A proof that does not check, or text (a key, a note, a checkpoint, a
/// hash) that is not what it must be. Checks that fail are integrity errors
/// (exit 3); text that does not parse and questions that cannot be asked
/// (a leaf past the tree's end) are invalid input (exit 1).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An inclusion proof asked or checked for leaf `index` of a tree of only `size` leaves.
    IndexBeyondSize { index: u64, size: u64 },
    /// A tree past [`MAX_TREE_SIZE`](super::merkle::MAX_TREE_SIZE) leaves, too large to store or prove.
    TooLarge { size: u64 },
    /// A consistency proof asked or checked from a tree larger than the one it is to grow into.
    SizesOutOfOrder { size1: u64, size2: u64 },
    /// A consistency proof from the empty tree: it would prove nothing.
    FromEmptyTree,
    /// A proof with `got` hashes where its sizes call for `want`.
    ProofLength { what: ProofKind, got: usize, want: usize },
    /// The proof does not lead to the root it is checked against.
    RootMismatch { what: ProofKind },
    /// A reader of stored hashes answered `got` hashes for `asked` indexes.
    ReaderCount { asked: usize, got: usize },
    /// A stored hash the tree needs is missing (`index` in the dense order of stored hashes).
    MissingHash { index: u64 },
    /// Text that should be the base64 of a 32-byte hash.
    BadHash(String),
    /// Text that should be the 64 hex digits of a 32-byte hash.
    BadHexHash(String),
    /// A key string (verifier or private) that does not parse; `why` says how.
    BadKey { why: &'static str },
    /// A key of an algorithm other than Ed25519 (`algorithm` is its first byte).
    UnknownAlgorithm { algorithm: u8 },
    /// A key string whose key ID is not the one its name and key give.
    KeyIdMismatch { name: String },
    /// A key name that is empty, holds white space or a '+'.
    BadKeyName(String),
    /// Text to sign that does not end in a newline or holds control characters.
    BadText { why: &'static str },
    /// A signed note that is not in the signed-note format; `why` says how.
    MalformedNote { why: &'static str },
    /// A signature by a known key that does not verify.
    BadSignature { name: String, key_id: u32 },
    /// Two known keys with the same name and key ID: which one signed is ambiguous.
    AmbiguousKey { name: String, key_id: u32 },
    /// A note none of whose signatures is by a known key.
    NotSigned,
    /// A checkpoint that is not in the tlog-checkpoint format; `why` says how.
    MalformedCheckpoint { why: &'static str },
    /// The system's random source could not be read for a new key.
    Random(io::Error),
}

/// Which kind of proof, for the error's sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofKind {
    Inclusion,
    Consistency,
}

impl fmt::Display for ProofKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofKind::Inclusion => "inclusion proof",
            ProofKind::Consistency => "consistency proof",
        })
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::ProofLength { .. }
            | Error::RootMismatch { .. }
            | Error::ReaderCount { .. }
            | Error::MissingHash { .. }
            | Error::BadSignature { .. }
            | Error::NotSigned => ErrorKind::Integrity,
            Error::Random(_) => ErrorKind::Io,
            Error::IndexBeyondSize { .. }
            | Error::SizesOutOfOrder { .. }
            | Error::TooLarge { .. }
            | Error::FromEmptyTree
            | Error::BadHash(_)
            | Error::BadHexHash(_)
            | Error::BadKey { .. }
            | Error::UnknownAlgorithm { .. }
            | Error::KeyIdMismatch { .. }
            | Error::BadKeyName(_)
            | Error::BadText { .. }
            | Error::MalformedNote { .. }
            | Error::AmbiguousKey { .. }
            | Error::MalformedCheckpoint { .. } => ErrorKind::Invalid,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::IndexBeyondSize { index, size } => {
                write!(f, "leaf {index} is not in a tree of {size} leaves (leaves are numbered from 0)")
            }
            Error::TooLarge { size } => {
                write!(f, "a tree of {size} leaves is too large: at most 2^62 are stored or proved")
            }
            Error::SizesOutOfOrder { size1, size2 } => {
                write!(
                    f,
                    "a tree of {size1} leaves cannot grow into one of {size2}: the first size must not exceed the second"
                )
            }
            Error::FromEmptyTree => {
                f.write_str("a consistency proof from the empty tree proves nothing: start from size 1 or more")
            }
            Error::ProofLength { what, got, want } => {
                write!(f, "the {what} has {got} hashes where its sizes call for {want}: it does not verify")
            }
            Error::RootMismatch { what } => {
                write!(f, "the {what} does not lead to the root hash it is checked against: it does not verify")
            }
            Error::ReaderCount { asked, got } => {
                write!(f, "asked for {asked} stored tree hashes, got {got}: the stored tree is damaged")
            }
            Error::MissingHash { index } => {
                write!(f, "stored tree hash {index} is missing: the stored tree is damaged or incomplete")
            }
            Error::BadHash(text) => write!(f, "{} is not the base64 of a 32-byte hash", quote(text)),
            Error::BadHexHash(text) => write!(f, "{} is not the 64 hex digits of a 32-byte hash", quote(text)),
            Error::BadKey { why } => write!(f, "not a key string: {why}"),
            Error::UnknownAlgorithm { algorithm } => {
                write!(f, "the key is of algorithm {algorithm}; only Ed25519 (1) is known")
            }
            Error::KeyIdMismatch { name } => write!(
                f,
                "the key string of {} holds a key ID that is not the one of its name and key: it was altered",
                quote(name)
            ),
            Error::BadKeyName(name) => {
                write!(f, "{} is not a key name: it must be non-empty, without white space or '+'", quote(name))
            }
            Error::BadText { why } => write!(f, "the text cannot be signed: {why}"),
            Error::MalformedNote { why } => write!(f, "not a signed note: {why}"),
            Error::BadSignature { name, key_id } => {
                write!(f, "the signature by key {name}+{key_id:08x} does not verify: the note was altered")
            }
            Error::AmbiguousKey { name, key_id } => {
                write!(f, "two known keys are named {name}+{key_id:08x}: which one signed is ambiguous")
            }
            Error::NotSigned => f.write_str("the note bears no signature by a known key"),
            Error::MalformedCheckpoint { why } => write!(f, "not a checkpoint: {why}"),
            Error::Random(error) => write!(f, "cannot read the system's random source for a new key: {error}"),
        }
    }
}

impl std::error::Error for Error {}
