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

/// The field an event of type `type_name` can carry that `given` most
/// likely misspells (`sorce` → `source`), if one is close enough: at most one
/// edit (a letter added, removed, changed, or two swapped) per three letters
/// of the longer name, and at least one. The first of equally close ones.
pub fn nearest_field(type_name: &str, given: &str) -> Option<&'static str> {
    // No field name is near a long text, and a long one costs time to compare.
    if given.len() > 64 {
        return None;
    }
    let own = event_type(type_name).map_or(&[][..], |t| t.own).iter().map(|f| f.name);
    let mut best: Option<(usize, &'static str)> = None;
    for name in own.chain(COMMON_FIELDS) {
        let longer = given.chars().count().max(name.chars().count());
        let distance = edit_distance(given, name);
        if distance <= (longer / 3).max(1) && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, name));
        }
    }
    best.map(|(_, name)| name)
}

/// The optimal-string-alignment distance between `a` and `b`: the fewest
/// insertions, deletions, substitutions and swaps of neighbours, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: two rows back (for swaps), the last, this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut last, row);
    }
    last[b.len()]
}

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

    #[test]
    fn edit_distance_counts_one_edit_per_change() {
        assert_eq!(edit_distance("source", "source"), 0);
        assert_eq!(edit_distance("sorce", "source"), 1);
        assert_eq!(edit_distance("memebrs", "members"), 1);
        assert_eq!(edit_distance("", "org"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("ca", "abc"), 3);
    }

    #[test]
    fn a_misspelt_field_gets_the_field_it_misspells() {
        assert_eq!(nearest_field("accession", "sorce"), Some("source"));
        assert_eq!(nearest_field("accession", "memebrs"), Some("members"));
        assert_eq!(nearest_field("accession", "statsu"), Some("status"));
        assert_eq!(nearest_field("exercise", "participant"), Some("participants"));
        assert_eq!(nearest_field("retraction", "reasons"), Some("reason"));
        assert_eq!(nearest_field("dissolution", "Date"), Some("date"));
        // Only the type's own fields and the common ones: a dissolution has no members.
        assert_eq!(nearest_field("dissolution", "member"), None);
        assert_eq!(nearest_field("accession", "colour"), None);
        assert_eq!(nearest_field("accession", "x"), None);
    }
}
