//! One error type for the library, with the kind that decides the exit code.
//!
//! Messages are one sentence (what, where, why), lowercase first word, no
//! trailing period; the command layer prints them and maps the kind to an exit
//! code. The library never prints.

use std::fmt;

/// What kind of failure, in the terms of SPEC §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed input, a broken rule, a conflict, something not found.
    Rejected,
    /// The log, an index or an export does not verify; the store is damaged.
    Integrity,
    /// The ledger is held by another process and the wait ran out.
    Busy,
    /// The operating system refused (permissions, disk full, …).
    Io,
    /// The user interrupted the command (Ctrl-C); nothing was recorded.
    Interrupted,
    /// The command line asks for something that cannot be answered (exit 2),
    /// found after parsing: a `diff` whose `--from` is after its `--to`.
    Usage,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }
    pub fn rejected(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Rejected, message)
    }
    pub fn integrity(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Integrity, message)
    }
    pub fn io(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Io, message)
    }
    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, message)
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Prefixes the message with where it happened (`file.ndjson line 3`).
    pub fn at(self, place: impl fmt::Display) -> Error {
        Error { kind: self.kind, message: format!("{place}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

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
