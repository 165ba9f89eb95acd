//! Identifiers that can only hold valid values (SPEC §1).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::model::ModelError;

/// An organization id: `^[a-z0-9][a-z0-9-]{0,62}$`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgId(String);

/// A party id: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
///
/// Held in place when it is short (up to 22 bytes, as ISO codes and
/// most ids are), else on the heap: the rules look parties up in each org's
/// table at every event, and an id in place is compared without following a
/// pointer, made and dropped without the allocator (it is the same 24 bytes
/// as a `String`). Equal, ordered and hashed as its text.
#[derive(Clone)]
pub struct PartyId(Party);

/// A party id's bytes: in place if it fits, else on the heap, never both
/// ways for one text (so equal ids have equal representations).
#[derive(Clone, PartialEq, Eq)]
enum Party {
    /// Its length, and its bytes followed by zeros.
    Inline(u8, [u8; INLINE]),
    Heap(Box<str>),
}

/// The longest party id held in place.
const INLINE: usize = 22;

impl OrgId {
    pub fn parse(s: &str) -> Result<OrgId, ModelError> {
        let ok = matches!(s.as_bytes().first(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(OrgId(s.to_owned())) } else { Err(ModelError::NotOrgId(s.to_owned())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartyId {
    pub fn parse(s: &str) -> Result<PartyId, ModelError> {
        let ok = matches!(s.as_bytes().first(), Some(b) if b.is_ascii_alphanumeric())
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(ModelError::NotPartyId(s.to_owned()));
        }
        let mut bytes = [0; INLINE];
        Ok(PartyId(match bytes.get_mut(..s.len()) {
            Some(place) => {
                place.copy_from_slice(s.as_bytes());
                Party::Inline(s.len() as u8, bytes)
            }
            None => Party::Heap(s.into()),
        }))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // ASCII, checked by `parse`: the check cannot fail.
            Party::Inline(..) => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Party::Heap(s) => s,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Party::Inline(len, bytes) => &bytes[..usize::from(*len)],
            Party::Heap(s) => s.as_bytes(),
        }
    }

    /// The bytes it holds on the heap, with the allocator's rounding (none
    /// when it is held in place): for caches' accounting of memory.
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Party::Inline(..) => 0,
            Party::Heap(s) => s.len().next_multiple_of(16),
        }
    }
}

impl PartialEq for PartyId {
    fn eq(&self, other: &PartyId) -> bool {
        self.0 == other.0
    }
}

impl Eq for PartyId {}

impl PartialOrd for PartyId {
    fn partial_cmp(&self, other: &PartyId) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PartyId {
    fn cmp(&self, other: &PartyId) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for PartyId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes.
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl fmt::Debug for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartyId({:?})", self.as_str())
    }
}

macro_rules! string_id {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
string_id!(OrgId);
string_id!(PartyId);

/// Natural order of ids: runs of digits compare as numbers, the rest byte by
/// byte, so `P7x2` comes before `P7x10`; ids equal as numbers (`P01`, `P1`)
/// fall back to plain order. Ids without digits keep plain order.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let run = |s: &[u8], mut k: usize| {
        while k < s.len() && s[k].is_ascii_digit() {
            k += 1;
        }
        k
    };
    // A run of digits without its leading zeros (borrowed: sorting a
    // roster of 560 parties made two allocations a comparison).
    fn number(s: &[u8]) -> &[u8] {
        let zeros = s.iter().take_while(|&&b| b == b'0').count();
        &s[zeros..]
    }
    while i < x.len() && j < y.len() {
        let ord = if x[i].is_ascii_digit() && y[j].is_ascii_digit() {
            let (ei, ej) = (run(x, i), run(y, j));
            let (m, n) = (number(&x[i..ei]), number(&y[j..ej]));
            (i, j) = (ei, ej);
            m.len().cmp(&n.len()).then_with(|| m.cmp(n))
        } else {
            let ord = x[i].cmp(&y[j]);
            (i, j) = (i + 1, j + 1);
            ord
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    (x.len() - i).cmp(&(y.len() - j)).then_with(|| a.cmp(b))
}

/// Parses an event id: a UUID in its hyphenated form (any case).
pub fn parse_event_id(s: &str) -> Result<uuid::Uuid, ModelError> {
    if s.len() == 36
        && let Ok(id) = uuid::Uuid::try_parse(s)
    {
        return Ok(id);
    }
    Err(ModelError::NotEventId(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut ids = vec!["P7x1000", "P7x10", "P7x2", "P7x1", "ARE", "P7x", "P01", "P1", "B2a", "B10"];
        ids.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(ids, ["ARE", "B2a", "B10", "P01", "P1", "P7x", "P7x1", "P7x2", "P7x10", "P7x1000"]);
        let mut plain = vec!["SVK", "ARE", "Sgp", "SGP"];
        let mut natural = plain.clone();
        plain.sort();
        natural.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(natural, plain);
    }

    #[test]
    fn org_ids() {
        for ok in ["isa", "nato", "a", "0", "g-7", &"a".repeat(63)] {
            assert!(OrgId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-isa", "ISA", "is a", "isa_", "é", &"a".repeat(64)] {
            assert!(OrgId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn party_ids() {
        for ok in ["ARE", "fra", "X.1_y-z", &"A".repeat(64)] {
            assert!(PartyId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".ARE", "_A", "A B", "A/B", "Å", &"A".repeat(65)] {
            assert!(PartyId::parse(bad).is_err(), "{bad}");
        }
    }

    /// Ids held in place (up to 22 bytes) and on the heap read back, compare,
    /// order and hash as their text, on both sides of the boundary.
    #[test]
    fn party_ids_behave_as_their_text_however_they_are_held() {
        use std::hash::BuildHasher;
        let texts: Vec<String> = ["A", "ARE", "P00001", "P1", "Z", "a.b", "0"]
            .into_iter()
            .map(str::to_owned)
            .chain(
                [21, 22, 23, 64]
                    .iter()
                    .flat_map(|&n| [format!("A{}", "x".repeat(n - 1)), format!("B{}", "x".repeat(n - 1))]),
            )
            .chain(["x".repeat(21) + "y", "x".repeat(22) + "y", "x".repeat(22)])
            .collect();
        let key = std::hash::RandomState::new();
        for a in &texts {
            let id = PartyId::parse(a).unwrap();
            assert_eq!(id.as_str(), a);
            assert_eq!(id.to_string(), *a);
            assert_eq!(format!("{id:?}"), format!("PartyId({a:?})"));
            assert_eq!(key.hash_one(&id), key.hash_one(a.as_str()), "{a}");
            assert_eq!(id.heap_bytes() == 0, a.len() <= INLINE, "{a}");
            for b in &texts {
                let other = PartyId::parse(b).unwrap();
                assert_eq!(id == other, a == b, "{a} {b}");
                assert_eq!(id.cmp(&other), a.cmp(b), "{a} {b}");
            }
        }
    }

    #[test]
    fn event_ids() {
        assert!(parse_event_id("123e4567-e89b-12d3-a456-426614174000").is_ok());
        assert!(parse_event_id("123E4567-E89B-12D3-A456-426614174000").is_ok());
        for bad in ["", "123e4567e89b12d3a456426614174000", "{123e4567-e89b-12d3-a456-426614174000}", "not-a-uuid"] {
            assert!(parse_event_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_are_typed_and_say_what_is_expected() {
        assert!(matches!(OrgId::parse("ISA"), Err(ModelError::NotOrgId(s)) if s == "ISA"));
        assert!(matches!(PartyId::parse("A B"), Err(ModelError::NotPartyId(s)) if s == "A B"));
        assert!(matches!(parse_event_id("42"), Err(ModelError::NotEventId(s)) if s == "42"));
        assert_eq!(
            OrgId::parse("ISA").unwrap_err().to_string(),
            "`ISA` is not an org id: expected 1 to 63 characters of a-z, 0-9 and -, starting with a letter or digit"
        );
        assert_eq!(OrgId::parse("ISA").unwrap_err().kind(), crate::ErrorKind::Invalid);
    }
}
