//! The one description of each event type: its name, its own fields and their shapes (SPEC §3).

use crate::model::event::Status;

/// What an own field of an event holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A string, which may be absent.
    Text,
    /// A string that must be given and not blank.
    RequiredText,
    /// A list of distinct party ids; `required`: given and naming at least one.
    Parties { required: bool },
    /// A status; absent, it is `default`, and without a default it is required.
    Status { default: Option<Status> },
    /// The id of another event, required.
    EventId,
}

/// An own field of an event type.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
}

/// An event type: what an event of it carries besides the common fields.
#[derive(Debug)]
pub struct EventType {
    pub name: &'static str,
    /// Its own fields, in the order they are read (and refusals reported).
    pub own: &'static [Field],
    /// Whether it must carry a `date` (every type but a retraction, which
    /// is not on the timeline).
    pub dated: bool,
}

impl EventType {
    /// Its own field called `name`, if it has one.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.own.iter().find(|f| f.name == name)
    }
}

const fn field(name: &'static str, shape: Shape) -> Field {
    Field { name, shape }
}

const MEMBERS: Field = field("members", Shape::Parties { required: true });

/// Every event type, in SPEC order.
///
/// Both event readers read this table: the parser of JSON values
/// ([`crate::model::event`]) and the fast reader of canonical bytes
/// (`model::read`). A new type is a row here, a variant of
/// [`EventKind`](crate::model::event::EventKind) and its arm in
/// `EventKind::read`; the tests fail if the three disagree.
pub const EVENT_TYPES: [EventType; 11] = [
    EventType {
        name: "founding",
        own: &[MEMBERS, field("name", Shape::Text), field("seat", Shape::Text)],
        dated: true,
    },
    EventType {
        name: "launch",
        own: &[field("members", Shape::Parties { required: false }), field("by", Shape::Text)],
        dated: true,
    },
    EventType {
        name: "exercise",
        own: &[
            field("name", Shape::RequiredText),
            field("place", Shape::Text),
            field("participants", Shape::Parties { required: false }),
        ],
        dated: true,
    },
    EventType {
        name: "accession",
        own: &[MEMBERS, field("status", Shape::Status { default: Some(Status::Full) })],
        dated: true,
    },
    EventType { name: "status_change", own: &[MEMBERS, field("status", Shape::Status { default: None })], dated: true },
    EventType { name: "suspension", own: &[MEMBERS], dated: true },
    EventType { name: "reinstatement", own: &[MEMBERS], dated: true },
    EventType { name: "withdrawal", own: &[MEMBERS], dated: true },
    EventType { name: "expulsion", own: &[MEMBERS], dated: true },
    EventType { name: "dissolution", own: &[], dated: true },
    EventType {
        name: "retraction",
        own: &[field("retracts", Shape::EventId), field("reason", Shape::RequiredText)],
        dated: false,
    },
];

/// All event type names, in SPEC order.
pub const TYPES: [&str; EVENT_TYPES.len()] = {
    let mut names = [""; EVENT_TYPES.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = EVENT_TYPES[i].name;
        i += 1;
    }
    names
};

/// The most own fields a type has.
pub(crate) const MAX_OWN: usize = {
    let mut most = 0;
    let mut i = 0;
    while i < EVENT_TYPES.len() {
        if EVENT_TYPES[i].own.len() > most {
            most = EVENT_TYPES[i].own.len();
        }
        i += 1;
    }
    most
};

/// The event type called `name`.
pub fn event_type(name: &str) -> Option<&'static EventType> {
    EVENT_TYPES.iter().find(|t| t.name == name)
}

/// Fields every event may carry.
pub const COMMON_FIELDS: [&str; 8] = ["type", "org", "date", "id", "source", "note", "details", "supersedes"];

/// Fields the ledger sets on an envelope; an event can never carry them.
pub const ENVELOPE_FIELDS: [&str; 5] = ["seq", "recorded_at", "recorded_by", "prev", "hash"];

/// The fields of a `source` given as an object, all strings.
pub const SOURCE_FIELDS: [&str; 4] = ["title", "publisher", "url", "published"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_no_own_field_is_common() {
        for (i, t) in EVENT_TYPES.iter().enumerate() {
            assert_eq!(event_type(t.name).map(|found| found.name), Some(t.name));
            assert!(EVENT_TYPES[..i].iter().all(|other| other.name != t.name), "{}", t.name);
            for (j, f) in t.own.iter().enumerate() {
                assert!(!COMMON_FIELDS.contains(&f.name) && !ENVELOPE_FIELDS.contains(&f.name), "{}", f.name);
                assert!(t.own[..j].iter().all(|other| other.name != f.name), "{}.{}", t.name, f.name);
            }
        }
        assert_eq!(MAX_OWN, 3);
    }
}
