//! Identifiers that can only hold valid values (SPEC §1).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::model::ModelError;

/// An organization id: `^[a-z0-9][a-z0-9-]{0,62}$`.
///
/// Held as a [`PartyId`] is (in place up to 22 bytes): the recorder looks
/// the org of every event up in a few tables, and an id in place is
/// compared, hashed and cloned without following a pointer or the allocator.
#[derive(Clone, PartialEq, Eq)]
pub struct OrgId(Short);

/// A party id: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
///
/// Held in place when it is short (up to 22 bytes, as ISO codes and
/// most ids are), else on the heap: the rules look parties up in each org's
/// table at every event, and an id in place is compared without following a
/// pointer, made and dropped without the allocator (it is the same 24 bytes
/// as a `String`). Equal, ordered and hashed as its text.
#[derive(Clone, PartialEq, Eq)]
pub struct PartyId(Short);

/// An id's ASCII bytes: in place if they fit, else on the heap, never both
/// ways for one text (so equal ids have equal representations).
#[derive(Clone, PartialEq, Eq)]
enum Short {
    /// Its length, and its bytes followed by zeros.
    Inline(u8, [u8; INLINE]),
    Heap(Box<str>),
}

/// The longest id held in place.
const INLINE: usize = 22;

impl Short {
    /// `s`, which the caller checked is ASCII.
    fn new(s: &str) -> Short {
        let mut bytes = [0; INLINE];
        match bytes.get_mut(..s.len()) {
            Some(place) => {
                place.copy_from_slice(s.as_bytes());
                Short::Inline(s.len() as u8, bytes)
            }
            None => Short::Heap(s.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // SAFETY: the bytes are those of a whole `&str`, copied by
            // `Short::new` (the only maker of an `Inline`, its fields private
            // to this module and never changed after), so valid UTF-8. Not
            // checked again here: sorting an org's roster by id (`natural_cmp`
            // of `as_str`s) spent a third of its time in `from_utf8`.
            Short::Inline(..) => unsafe { std::str::from_utf8_unchecked(self.as_bytes()) },
            Short::Heap(s) => s,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Short::Inline(len, bytes) => &bytes[..usize::from(*len)],
            Short::Heap(s) => s.as_bytes(),
        }
    }

    /// The bytes it holds on the heap, with the allocator's rounding.
    fn heap_bytes(&self) -> usize {
        match self {
            Short::Inline(..) => 0,
            Short::Heap(s) => s.len().next_multiple_of(16),
        }
    }
}

impl Ord for Short {
    fn cmp(&self, other: &Short) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for Short {
    fn partial_cmp(&self, other: &Short) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for Short {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes.
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl OrgId {
    pub fn parse(s: &str) -> Result<OrgId, ModelError> {
        let ok = matches!(s.as_bytes().first(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(OrgId(Short::new(s))) } else { Err(ModelError::NotOrgId(s.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl PartyId {
    pub fn parse(s: &str) -> Result<PartyId, ModelError> {
        let ok = matches!(s.as_bytes().first(), Some(b) if b.is_ascii_alphanumeric())
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok { Ok(PartyId(Short::new(s))) } else { Err(ModelError::NotPartyId(s.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The bytes it holds on the heap, with the allocator's rounding (none
    /// when it is held in place): for caches' accounting of memory.
    pub fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

macro_rules! short_id {
    ($t:ident) => {
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &$t) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $t {
            fn cmp(&self, other: &$t) -> std::cmp::Ordering {
                self.0.cmp(&other.0)
            }
        }
        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($t), "({:?})"), self.as_str())
            }
        }
    };
}
short_id!(OrgId);
short_id!(PartyId);

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
    // Where the run of digits from `k` ends.
    let run = |s: &[u8], mut k: usize| {
        while k < s.len() && s[k].is_ascii_digit() {
            k += 1;
        }
        k
    };
    // Up to the first byte that differs, both read alike; the comparison
    // starts at the run of digits that byte is in, if any. Most pairs are
    // settled there: two other bytes, or digits in runs as long as each
    // other (zero-padded numbers of one length compare as their digits).
    // Sorting the 1000 rosters of a 1M-event import called this about 5M
    // times, at the import's end, where most work runs on one or two
    // threads while the pipeline drains.
    let first = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    if let (Some(&p), Some(&q)) = (x.get(first), y.get(first)) {
        match (p.is_ascii_digit(), q.is_ascii_digit()) {
            (false, false) => return p.cmp(&q),
            (true, true) if run(x, first) == run(y, first) => return p.cmp(&q),
            _ => {}
        }
    }
    let mut start = first;
    while start > 0 && x[start - 1].is_ascii_digit() {
        start -= 1;
    }
    let (mut i, mut j) = (start, start);
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

    /// The natural order as first written, from the first byte: each run
    /// of digits measured, stripped of its leading zeros, then compared by
    /// length and bytes.
    fn natural_cmp_by_runs(a: &str, b: &str) -> std::cmp::Ordering {
        let (x, y) = (a.as_bytes(), b.as_bytes());
        let (mut i, mut j) = (0, 0);
        let run = |s: &[u8], mut k: usize| {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            k
        };
        let number = |s: &[u8]| s.iter().position(|&b| b != b'0').map_or(&s[s.len()..], |z| &s[z..]).to_vec();
        while i < x.len() && j < y.len() {
            let ord = if x[i].is_ascii_digit() && y[j].is_ascii_digit() {
                let (ei, ej) = (run(x, i), run(y, j));
                let (m, n) = (number(&x[i..ei]), number(&y[j..ej]));
                (i, j) = (ei, ej);
                m.len().cmp(&n.len()).then_with(|| m.cmp(&n))
            } else {
                let ord = x[i].cmp(&y[j]);
                (i, j) = (i + 1, j + 1);
                ord
            };
            if ord.is_ne() {
                return ord;
            }
        }
        (x.len() - i).cmp(&(y.len() - j)).then_with(|| a.cmp(b))
    }

    proptest::proptest! {
        /// Starting at the first byte that differs orders ids as reading
        /// them from the start does, zeros, prefixes and all.
        #[test]
        fn natural_order_from_the_first_difference_is_the_order_from_the_start(
            a in "[0P9a.]{0,4}[0-9]{0,6}[Pa]{0,2}[0-9]{0,4}",
            b in "[0P9a.]{0,4}[0-9]{0,6}[Pa]{0,2}[0-9]{0,4}",
        ) {
            proptest::prop_assert_eq!(natural_cmp(&a, &b), natural_cmp_by_runs(&a, &b), "{} {}", a, b);
            proptest::prop_assert_eq!(natural_cmp(&b, &a), natural_cmp(&a, &b).reverse());
        }
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
    fn ids_behave_as_their_text_however_they_are_held() {
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
        // Org ids are held the same way: lowercase texts, up to 63 bytes.
        let orgs: Vec<String> =
            texts.iter().filter(|t| t.len() <= 63).map(|t| t.to_lowercase().replace(['.', '_'], "-")).collect();
        for a in &orgs {
            let id = OrgId::parse(a).unwrap();
            assert_eq!(id.as_str(), a);
            assert_eq!(id.to_string(), *a);
            assert_eq!(format!("{id:?}"), format!("OrgId({a:?})"));
            assert_eq!(key.hash_one(&id), key.hash_one(a.as_str()), "{a}");
            for b in &orgs {
                let other = OrgId::parse(b).unwrap();
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
