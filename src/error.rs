//! The library's error: an enum of the layer that found the problem, each
//! with its own typed error, and the [`ErrorKind`] (the exit code) derived
//! from the variant.
//!
//! Every error displays as one sentence (what, where, why), lowercase first
//! word, no trailing period; the command layer prints it and maps the kind
//! to an exit code. The library never prints.

use std::fmt;

/// What kind of failure, in the terms of SPEC §6: it decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Input that is not what it must be: an event, an envelope, a date, an
    /// id, a checkpoint, a line too long (exit 1).
    Invalid,
    /// A valid event that breaks a rule of its org's timeline (exit 1).
    RuleBroken,
    /// An event that clashes with one recorded or given before: same id,
    /// other content; an envelope of another log (exit 1).
    Conflict,
    /// Something asked for that is not there: an event, an org, a party (exit 1).
    NotFound,
    /// The log, an index or an export does not verify; the store is damaged (exit 3).
    Integrity,
    /// The ledger is held by another process and the wait ran out (exit 4).
    Busy,
    /// The operating system refused (permissions, disk full, …) (exit 1).
    Io,
    /// The user interrupted the command (Ctrl-C); nothing was recorded (exit 130).
    Interrupted,
    /// The command line asks for something that cannot be answered (exit 2),
    /// found after parsing: a `diff` whose `--from` is after its `--to`.
    Usage,
}

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Found by the domain's values ([`crate::model`]).
    Model(crate::model::ModelError),
    /// Found by the rules ([`crate::timeline`]).
    Rule(crate::timeline::RuleError),
    /// Found by the store ([`crate::store`]).
    Store(crate::store::StoreError),
    /// Found by the ledger ([`crate::ledger`]).
    Ledger(crate::ledger::LedgerError),
    /// Found by the audit ([`crate::audit`]).
    Audit(crate::audit::AuditError),
    /// Found by a proof, a key, a signed note or a checkpoint ([`crate::proof`]).
    Proof(crate::proof::ProofError),
    /// The user interrupted the command; nothing was recorded.
    Interrupted,
    /// The command line asks for something that cannot be answered.
    Usage(String),
    /// A file or stream of the command's own (an input to import, an
    /// export, the output) failed: the sentence, and the system's `error`
    /// it came from, which says how (a closed pipe…).
    File { message: String, error: std::io::Error },
    /// An error with where it happened: `file.ndjson line 3: …`.
    At { place: String, error: Box<Error> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Model(e) => e.kind(),
            Error::Rule(_) => ErrorKind::RuleBroken,
            Error::Store(e) => e.kind(),
            Error::Ledger(e) => e.kind(),
            Error::Audit(e) => e.kind(),
            Error::Proof(e) => e.kind(),
            Error::Interrupted => ErrorKind::Interrupted,
            Error::Usage(_) => ErrorKind::Usage,
            Error::File { .. } => ErrorKind::Io,
            Error::At { error, .. } => error.kind(),
        }
    }

    /// The sentence users see (the same as `Display`).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The error without the places it was wrapped in by [`Error::at`].
    pub fn innermost(&self) -> &Error {
        match self {
            Error::At { error, .. } => error.innermost(),
            e => e,
        }
    }

    /// Prefixes the message with where it happened (`file.ndjson line 3`).
    pub fn at(self, place: impl fmt::Display) -> Error {
        Error::At { place: place.to_string(), error: Box::new(self) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Model(e) => e.fmt(f),
            Error::Rule(e) => e.fmt(f),
            Error::Store(e) => e.fmt(f),
            Error::Ledger(e) => e.fmt(f),
            Error::Audit(e) => e.fmt(f),
            Error::Proof(e) => e.fmt(f),
            Error::Interrupted => f.write_str("interrupted"),
            Error::Usage(message) | Error::File { message, .. } => f.write_str(message),
            Error::At { place, error } => write!(f, "{place}: {error}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::model::ModelError> for Error {
    fn from(e: crate::model::ModelError) -> Error {
        Error::Model(e)
    }
}

impl From<crate::timeline::RuleError> for Error {
    fn from(e: crate::timeline::RuleError) -> Error {
        Error::Rule(e)
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Error {
        Error::Store(e)
    }
}

impl From<crate::ledger::LedgerError> for Error {
    fn from(e: crate::ledger::LedgerError) -> Error {
        Error::Ledger(e)
    }
}

impl From<crate::audit::AuditError> for Error {
    fn from(e: crate::audit::AuditError) -> Error {
        Error::Audit(e)
    }
}

impl From<crate::proof::ProofError> for Error {
    fn from(e: crate::proof::ProofError) -> Error {
        Error::Proof(e)
    }
}

/// Shortens text quoted in an error so that hostile input gives a short message.
pub fn quote(text: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::from("`");
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}
