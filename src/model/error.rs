//! What the model layer refuses or finds wrong: events, ids, dates, numbers, envelopes, checkpoints.

use std::fmt;

use crate::error::{ErrorKind, quote};
use crate::model::date::DateError;
use crate::model::id::PartyId;
use crate::model::schema::{TYPES, nearest_field};

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Not an org id.
    NotOrgId(String),
    /// Not a party id.
    NotPartyId(String),
    /// Not an event id (a hyphenated UUID).
    NotEventId(String),
    /// Not a status.
    NotStatus(String),
    /// Not a date or a day.
    Date(DateError),
    /// Not a checkpoint `SEQ:HASH`.
    NotCheckpoint(String),
    /// JSON text that does not parse (or gives a key twice).
    Json(Json),
    /// A number the canonical form would not keep exactly.
    Inexact(Inexact),
    /// A value that must be an object (`what`: "an event", "an envelope", …).
    NotObject { what: &'static str, found: &'static str },
    /// An event without `type`.
    NoType,
    /// A `type` that is not a string.
    TypeNotString { found: &'static str },
    /// A `type` that names no event type.
    UnknownType(String),
    /// A field the ledger sets, on an event.
    SetByLedger { type_name: &'static str, field: &'static str },
    /// A field an event of this type cannot carry.
    UnknownField { type_name: &'static str, field: String },
    /// A required field missing.
    Missing { type_name: &'static str, field: &'static str },
    /// A field that must be a string.
    NotString { type_name: &'static str, field: &'static str, found: &'static str },
    /// A required string that is blank.
    Empty { type_name: &'static str, field: &'static str },
    /// A party list that is not a list.
    NotPartyList { type_name: &'static str, field: &'static str, found: &'static str },
    /// A required party list that is empty.
    NoParty { type_name: &'static str, field: &'static str },
    /// A party list item that is not a string.
    PartyNotString { type_name: &'static str, field: &'static str, found: &'static str },
    /// A party named twice in one list.
    PartyTwice { type_name: &'static str, field: &'static str, party: PartyId },
    /// A field's value refused: `` `field` of the type event: why `` (or `` `field`: why ``).
    InField { field: &'static str, type_name: Option<&'static str>, error: Box<Error> },
    /// `details` that is not an object.
    DetailsNotObject { found: &'static str },
    /// `source` that is neither a string nor an object.
    SourceNotStringOrObject { found: &'static str },
    /// A key of a `source` object that is not a source field.
    UnknownSourceField(String),
    /// A `source` field that is not a string.
    SourceFieldNotString { field: &'static str, found: &'static str },
    /// A retraction with `supersedes`.
    RetractionSupersedes,
    /// An event whose `supersedes` is its own id.
    SupersedesItself,
    /// An envelope field missing.
    EnvelopeMissing(&'static str),
    /// An envelope field that must be a string.
    EnvelopeNotString { field: &'static str, found: &'static str },
    /// `seq` not a positive integer.
    BadSeq,
    /// `recorded_at` not in the stored time format.
    BadRecordedAt,
    /// A recorded event without `id`.
    NoEventId,
    /// `prev` or `hash` not 64 lowercase hex digits.
    BadChainHex,
    /// Stored or exported envelope bytes that do not verify on their own.
    Damaged { seq: u64, damage: Damage },
}

/// Why JSON text does not parse: what, serde_json's reason, the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json {
    pub problem: JsonProblem,
    pub reason: String,
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonProblem {
    EndsEarly,
    /// A key given twice in one object.
    Ambiguous,
    NotJson,
}

/// A number the canonical form would not keep exactly, where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inexact {
    /// The literal as given.
    pub literal: String,
    /// Where: `details.list[2].n`, empty for the whole text.
    pub place: String,
    pub why: InexactWhy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InexactWhy {
    NegativeZero,
    OutOfRange,
    /// The canonical form would write this.
    Rounded(String),
}

/// What is wrong with one envelope's bytes, found without other envelopes.
#[derive(Debug)]
pub enum Damage {
    NotJson,
    Inexact(Inexact),
    NotObject,
    BadHash,
    NoHash,
    /// The hash its content has.
    HashMismatch(String),
    NotCanonical,
    /// An id field not in lowercase.
    UppercaseId(&'static str),
    DoesNotDecode(Box<Error>),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Damaged { .. } => ErrorKind::Integrity,
            Error::InField { error, .. } => error.kind(),
            _ => ErrorKind::Invalid,
        }
    }

    /// The error without the fields it was wrapped in.
    pub fn innermost(&self) -> &Error {
        match self {
            Error::InField { error, .. } => error.innermost(),
            e => e,
        }
    }

    /// The error as the refusal of `field` of an event of type `type_name`.
    pub(crate) fn in_field(self, field: &'static str, type_name: Option<&'static str>) -> Error {
        Error::InField { field, type_name, error: Box::new(self) }
    }
}

impl From<DateError> for Error {
    fn from(e: DateError) -> Error {
        Error::Date(e)
    }
}

/// `an` before an event type that starts with a vowel (`an accession`), else `a`.
fn article(type_name: &str) -> &'static str {
    if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotOrgId(s) => write!(
                f,
                "{} is not an org id: expected 1 to 63 characters of a-z, 0-9 and -, starting with a letter or digit",
                quote(s)
            ),
            Error::NotPartyId(s) => write!(
                f,
                "{} is not a party id: expected 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
                quote(s)
            ),
            Error::NotEventId(s) => {
                write!(f, "{} is not an event id: expected a UUID like 123e4567-e89b-12d3-a456-426614174000", quote(s))
            }
            Error::NotStatus(s) => write!(f, "{} is not a status: expected full, associate or observer", quote(s)),
            Error::Date(e) => e.fmt(f),
            Error::NotCheckpoint(s) => write!(
                f,
                "{} is not a checkpoint: expected SEQ:HASH, like 14:3fa9… with the 64-hex-digit hash",
                quote(s)
            ),
            Error::Json(e) => e.fmt(f),
            Error::Inexact(e) => write!(f, "{e}: quote it as a string"),
            Error::NotObject { what, found } => write!(f, "{what} must be a JSON object, not {found}"),
            Error::NoType => f.write_str("the event has no `type`"),
            Error::TypeNotString { found } => write!(f, "`type` must be a string, not {found}"),
            Error::UnknownType(t) => {
                write!(f, "{} is not an event type: expected one of {}", quote(t), TYPES.join(", "))
            }
            Error::SetByLedger { type_name, field } => write!(
                f,
                "{} {type_name} event cannot carry `{field}`: it is set by the ledger when the event is recorded",
                article(type_name)
            ),
            Error::UnknownField { type_name, field } => {
                write!(f, "{} is not a field of {} {type_name} event", quote(field), article(type_name))?;
                match nearest_field(type_name, field) {
                    Some(near) => write!(f, ": did you mean `{near}`?"),
                    None => Ok(()),
                }
            }
            Error::Missing { type_name, field } => write!(f, "the {type_name} event has no `{field}`"),
            Error::NotString { type_name, field, found } => {
                write!(f, "`{field}` of the {type_name} event must be a string, not {found}")
            }
            Error::Empty { type_name, field } => write!(f, "`{field}` of the {type_name} event is empty"),
            Error::NotPartyList { type_name, field, found } => {
                write!(f, "`{field}` of the {type_name} event must be a list of party ids, not {found}")
            }
            Error::NoParty { type_name, field } => write!(f, "`{field}` of the {type_name} event names no party"),
            Error::PartyNotString { type_name, field, found } => {
                write!(f, "`{field}` of the {type_name} event must hold party ids as strings, not {found}")
            }
            Error::PartyTwice { type_name, field, party } => {
                write!(f, "`{field}` of the {type_name} event names {party} twice")
            }
            Error::InField { field, type_name: Some(t), error } => write!(f, "`{field}` of the {t} event: {error}"),
            Error::InField { field, type_name: None, error } => write!(f, "`{field}`: {error}"),
            Error::DetailsNotObject { found } => write!(f, "`details` must be a JSON object, not {found}"),
            Error::SourceNotStringOrObject { found } => {
                write!(f, "`source` must be a string or an object, not {found}")
            }
            Error::UnknownSourceField(k) => {
                write!(f, "{} is not a field of `source`: expected title, publisher, url or published", quote(k))
            }
            Error::SourceFieldNotString { field, found } => write!(f, "`source.{field}` must be a string, not {found}"),
            Error::RetractionSupersedes => f.write_str("a retraction cannot carry `supersedes`: it only retracts"),
            Error::SupersedesItself => f.write_str("an event cannot supersede itself"),
            Error::EnvelopeMissing(field) => write!(f, "the envelope has no `{field}`"),
            Error::EnvelopeNotString { field, found } => {
                write!(f, "the envelope's `{field}` must be a string, not {found}")
            }
            Error::BadSeq => f.write_str("the envelope's `seq` is not a positive integer"),
            Error::BadRecordedAt => {
                f.write_str("the envelope's `recorded_at` is not an RFC 3339 UTC time with microseconds")
            }
            Error::NoEventId => f.write_str("the envelope's event has no `id`"),
            Error::BadChainHex => f.write_str("the envelope's `prev` and `hash` must be 64 lowercase hex digits"),
            Error::Damaged { seq, damage } => write!(f, "seq {seq}: {damage}"),
        }
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            JsonProblem::EndsEarly => "it ends too early",
            JsonProblem::Ambiguous => "it is ambiguous",
            JsonProblem::NotJson => "it is not valid JSON",
        };
        write!(f, "{what} ({}, column {})", self.reason, self.column)
    }
}

impl fmt::Display for Inexact {
    /// The start of a sentence: "the number `1e-400` in `details.n` cannot be kept exactly (why)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the number {}", quote(&self.literal))?;
        if !self.place.is_empty() {
            write!(f, " in {}", quote(&self.place))?;
        }
        f.write_str(" cannot be kept exactly (")?;
        match &self.why {
            InexactWhy::NegativeZero => f.write_str("RFC 8785 writes a negative zero as 0")?,
            InexactWhy::OutOfRange => {
                f.write_str("an RFC 8785 number is an IEEE-754 double, and it is beyond the largest one")?
            }
            InexactWhy::Rounded(to) => write!(f, "an RFC 8785 number is an IEEE-754 double, which would make it {to}")?,
        }
        f.write_str(")")
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::NotJson => {
                f.write_str("the envelope is not valid JSON (or gives a key twice): it was altered or damaged")
            }
            Damage::Inexact(e) => write!(f, "{e}, and accord never writes such a number: it was altered"),
            Damage::NotObject => f.write_str("the envelope is not a JSON object"),
            Damage::BadHash => f.write_str("the envelope's `hash` is not 64 lowercase hex digits"),
            Damage::NoHash => f.write_str("the envelope has no `hash`"),
            Damage::HashMismatch(hashed) => {
                write!(f, "the hash does not match the content: the event was altered (its content hashes to {hashed})")
            }
            Damage::NotCanonical => f.write_str(
                "the stored bytes are not the canonical JSON of the envelope, as accord writes it: they were altered",
            ),
            Damage::UppercaseId(field) => {
                write!(f, "the envelope's `{field}` is not in lowercase, as accord writes ids")
            }
            Damage::DoesNotDecode(e) => write!(f, "the envelope does not decode as an event: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Date(e) => Some(e),
            Error::InField { error, .. } => Some(error.as_ref()),
            Error::Damaged { damage: Damage::DoesNotDecode(e), .. } => Some(e.as_ref()),
            _ => None,
        }
    }
}
