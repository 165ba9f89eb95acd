//! The envelope: a recorded event with its place in the hash chain, and its time format (SPEC §4).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::model::ModelError;
use crate::model::canonical;
use crate::model::event::{Event, kind_of};
use crate::model::schema::ENVELOPE_FIELDS;

type Result<T, E = ModelError> = std::result::Result<T, E>;

/// The `prev` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The last recorded event's position and hash (`seq` 0 and [`GENESIS`] when empty).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    pub fn empty() -> Head {
        Head { seq: 0, hash: GENESIS.to_owned() }
    }

    /// Parses a checkpoint written `SEQ:HASH`.
    pub fn parse_checkpoint(s: &str) -> Result<Head> {
        let bad = || ModelError::NotCheckpoint(s.to_owned());
        let (seq, hash) = s.split_once(':').ok_or_else(bad)?;
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        if seq == 0 || !is_hash(hash) {
            return Err(bad());
        }
        Ok(Head { seq, hash: hash.to_owned() })
    }
}

pub fn is_hash(s: &str) -> bool {
    // Every byte looked at, not stopping at the first bad one: the compiler
    // then checks 16 or 32 at a time. A reader checks two hashes an
    // envelope; 2M checks took 90-100 ms stopping early, 7 ms so.
    s.len() == 64 && s.bytes().fold(true, |ok, b| ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6)))
}

/// The time format of `recorded_at`: RFC 3339, UTC, microseconds.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses `recorded_at`, insisting on the exact stored form.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    (format_time(t) == s).then_some(t)
}

/// A recorded event without its place in the hash chain: what the org
/// index keeps of each event, and what queries of one org read.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub seq: u64,
    pub recorded_at: String,
    pub recorded_by: String,
    pub event: Event,
}

impl Recorded {
    /// Reads the canonical JSON of [`Envelope::record_json`], checking the
    /// form of every field.
    pub fn from_value(value: Value) -> Result<Recorded> {
        let Value::Object(mut map) = value else {
            return Err(ModelError::NotObject { what: "a recorded event", found: kind_of(&value) });
        };
        let seq = match map.remove("seq") {
            Some(Value::Number(n)) => n.as_u64().filter(|&s| s > 0),
            _ => None,
        }
        .ok_or(ModelError::BadSeq)?;
        let recorded_at = take_str(&mut map, "recorded_at")?;
        if parse_time(&recorded_at).is_none() {
            return Err(ModelError::BadRecordedAt);
        }
        let recorded_by = take_str(&mut map, "recorded_by")?;
        if !map.contains_key("id") {
            return Err(ModelError::NoEventId);
        }
        let event = Event::from_value(Value::Object(map))?;
        Ok(Recorded { seq, recorded_at, recorded_by, event })
    }
}

/// An envelope's canonical JSON, written once: the bytes the log keeps and
/// those the org index keeps, cut from the same writing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeJson {
    /// The whole envelope, [`Envelope::to_json`]: one line of `accord export`.
    pub json: Vec<u8>,
    /// Without `hash` and `prev`, [`Envelope::record_json`]: the org copy.
    pub record: Vec<u8>,
}

/// An event's envelope written before it has a place in the log: the
/// canonical JSON of the event's body with the members recording adds
/// (`seq`, `recorded_at`, `recorded_by`, `prev`, `hash`) given empty
/// values, and where each lies. Where events are read on a thread of their
/// own (an import), the body is written there, once, and sealing copies
/// these bytes around the members' values instead of writing it again.
#[derive(Clone, Debug)]
pub struct EnvelopeTemplate {
    json: Vec<u8>,
    /// Where `seq`, `recorded_at`, `recorded_by`, `prev` and `hash` lie, in that order.
    spans: [(usize, usize); 5],
    /// Where the digits of the event's id lie (empty if it has none).
    id: std::ops::Range<usize>,
}

impl EnvelopeTemplate {
    /// The members recording adds, with the values a template leaves them.
    pub(crate) const EMPTY: [(&'static str, canonical::Member<'static>); 5] = [
        ("seq", canonical::Member::U64(0)),
        ("recorded_at", canonical::Member::Str("")),
        ("recorded_by", canonical::Member::Str("")),
        ("prev", canonical::Member::Str("")),
        ("hash", canonical::Member::Str("")),
    ];

    /// A template from what [`canonical::write_canonical_map_members`]
    /// wrote of a body with [`EnvelopeTemplate::EMPTY`]'s members (and
    /// where they lie), after those of the body's members it was given;
    /// `id`, where the digits of the body's `id` lie.
    pub(crate) fn from_written(
        json: Vec<u8>,
        spans: [(usize, usize); 5],
        id: std::ops::Range<usize>,
    ) -> EnvelopeTemplate {
        EnvelopeTemplate { json, spans, id }
    }

    /// Whether it is the template of an event with this id: a template
    /// handed with another event's (two lines taken apart and put together
    /// again) is not used.
    fn is_of(&self, id: &uuid::Uuid) -> bool {
        let digits = self.json.get(self.id.clone()).unwrap_or_default();
        digits == id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).as_bytes()
    }
}

/// An envelope's canonical JSON as written, and where its `hash` and `prev`
/// members lie in it (key to value, without commas).
struct Written {
    json: Vec<u8>,
    hash: (usize, usize),
    prev: (usize, usize),
}

impl Written {
    /// Writes the envelope of `body` with these members in one pass over
    /// the body, `hash` as given. `None` if the body holds an envelope
    /// field (no event does: decoding refuses them).
    fn new(body: &Map<String, Value>, seq: u64, at: &str, by: &str, prev: &str, hash: &str) -> Option<Written> {
        use canonical::Member::{Str, U64};
        if ENVELOPE_FIELDS.iter().any(|k| body.contains_key(*k)) {
            return None;
        }
        let mut json = Vec::with_capacity(512);
        let [_, _, _, prev, hash] = canonical::write_canonical_map_members(
            body,
            [
                ("seq", U64(seq)),
                ("recorded_at", Str(at)),
                ("recorded_by", Str(by)),
                ("prev", Str(prev)),
                ("hash", Str(hash)),
            ],
            &mut json,
        );
        Some(Written { json, hash, prev })
    }

    /// [`Written::new`] from a template of the same body: its bytes copied
    /// around these members' values. `None` if the template's spans do not
    /// lie in its bytes (never, for a template made as
    /// [`EnvelopeTemplate::from_written`] says).
    fn from_template(t: &EnvelopeTemplate, seq: u64, at: &str, by: &str, prev: &str, hash: &str) -> Option<Written> {
        use canonical::Member::{Str, U64};
        let mut json = Vec::with_capacity(t.json.len() + at.len() + by.len() + prev.len() + hash.len() + 24);
        let members = [
            ("seq", U64(seq)),
            ("recorded_at", Str(at)),
            ("recorded_by", Str(by)),
            ("prev", Str(prev)),
            ("hash", Str(hash)),
        ];
        let [_, _, _, prev, hash] = canonical::rewrite_members(&t.json, &t.spans, members, &mut json)?;
        Some(Written { json, hash, prev })
    }

    /// The lowercase hex SHA-256 of the envelope without `hash`: what its
    /// `hash` should be.
    fn digest(&self) -> String {
        let mut sha = Sha256::new();
        canonical::cut_members(&self.json, &[self.hash], |piece| sha.update(piece));
        canonical::hex_digest(sha)
    }

    /// The envelope without `hash` and `prev`.
    fn record(&self) -> Vec<u8> {
        // `hash` sorts before `prev`.
        let mut record = Vec::with_capacity(self.json.len());
        canonical::cut_members(&self.json, &[self.hash, self.prev], |piece| record.extend_from_slice(piece));
        record
    }
}

/// The canonical text of bytes the canonical writer wrote (always UTF-8).
fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub seq: u64,
    pub recorded_at: String,
    pub recorded_by: String,
    pub prev: String,
    pub hash: String,
    pub event: Event,
}

impl Envelope {
    /// Puts an event at position `seq` after `prev`, computing its hash.
    pub fn seal(event: Event, seq: u64, recorded_at: String, recorded_by: String, prev: String) -> Envelope {
        Envelope::seal_json(event, seq, recorded_at, recorded_by, prev).0
    }

    /// [`Envelope::seal`], also giving the envelope's canonical JSON, written
    /// once: the hash is computed over those bytes, and the stored form and
    /// the org copy are cut from them.
    pub fn seal_json(
        event: Event,
        seq: u64,
        recorded_at: String,
        recorded_by: String,
        prev: String,
    ) -> (Envelope, EnvelopeJson) {
        Envelope::seal_template(event, None, seq, recorded_at, recorded_by, prev)
    }

    /// [`Envelope::seal_json`], the JSON copied from `template` if given:
    /// [`Event::from_value_templated`]'s template of this event (one of
    /// another id is not used).
    pub(crate) fn seal_template(
        event: Event,
        template: Option<&EnvelopeTemplate>,
        seq: u64,
        recorded_at: String,
        recorded_by: String,
        prev: String,
    ) -> (Envelope, EnvelopeJson) {
        let mut env = Envelope { seq, recorded_at, recorded_by, prev, hash: String::new(), event };
        // Written with a placeholder of the hash's length, replaced once known.
        let written = match template.filter(|t| t.is_of(&env.event.id)) {
            Some(t) => Written::from_template(t, env.seq, &env.recorded_at, &env.recorded_by, &env.prev, GENESIS),
            None => env.written(GENESIS),
        };
        match written {
            Some(mut w) => {
                env.hash = w.digest();
                let record = w.record();
                // The member ends with the 64 hex digits and a quote.
                let end = w.hash.1.saturating_sub(1);
                match w.json.get_mut(end.saturating_sub(64)..end) {
                    Some(digits) if digits.len() == env.hash.len() => {
                        digits.copy_from_slice(env.hash.as_bytes());
                        (env, EnvelopeJson { json: w.json, record })
                    }
                    // Never: the writer put the placeholder there. Were it
                    // not, the bytes are written the long way, not kept wrong.
                    _ => {
                        let json = env.json_by_value();
                        (env, json)
                    }
                }
            }
            None => {
                env.hash = canonical::sha256_hex(&env.to_value_without_hash());
                let json = env.json_by_value();
                (env, json)
            }
        }
    }

    /// Writes the envelope's canonical JSON with `hash` as its hash.
    fn written(&self, hash: &str) -> Option<Written> {
        Written::new(self.event.body(), self.seq, &self.recorded_at, &self.recorded_by, &self.prev, hash)
    }

    /// The envelope's canonical JSON, written once: what the store keeps of it.
    pub fn json(&self) -> EnvelopeJson {
        match self.written(&self.hash) {
            Some(w) => EnvelopeJson { record: w.record(), json: w.json },
            None => self.json_by_value(),
        }
    }

    /// [`Envelope::json`] if the `hash` is valid ([`Envelope::hash_is_valid`]),
    /// from the same writing.
    pub fn json_if_valid(&self) -> Option<EnvelopeJson> {
        match self.written(&self.hash) {
            Some(w) => (w.digest() == self.hash).then(|| EnvelopeJson { record: w.record(), json: w.json }),
            None => self.hash_is_valid().then(|| self.json_by_value()),
        }
    }

    /// The envelope's members in a JSON object, without `hash`: what the
    /// hash covers, built as a value (the reference the writer above keeps to).
    fn to_value_without_hash(&self) -> Value {
        let mut map = self.event.body().clone();
        map.insert("seq".into(), Value::from(self.seq));
        map.insert("recorded_at".into(), Value::String(self.recorded_at.clone()));
        map.insert("recorded_by".into(), Value::String(self.recorded_by.clone()));
        map.insert("prev".into(), Value::String(self.prev.clone()));
        Value::Object(map)
    }

    /// [`EnvelopeJson`] built through values: for a body the writer above
    /// does not take.
    fn json_by_value(&self) -> EnvelopeJson {
        let mut v = self.to_value_without_hash();
        let mut record = v.clone();
        if let Value::Object(map) = &mut v {
            map.insert("hash".into(), Value::String(self.hash.clone()));
        }
        if let Value::Object(map) = &mut record {
            map.remove("prev");
        }
        EnvelopeJson {
            json: canonical::to_canonical_string(&v).into_bytes(),
            record: canonical::to_canonical_string(&record).into_bytes(),
        }
    }

    /// The envelope without `hash` and `prev`, as canonical JSON: the
    /// [`Recorded`] event, as the org index keeps it.
    pub fn record_json(&self) -> String {
        match self.written(&self.hash) {
            Some(w) => text(w.record()),
            None => text(self.json_by_value().record),
        }
    }

    /// The whole envelope as canonical JSON: the stored and exported form.
    pub fn to_json(&self) -> String {
        match self.written(&self.hash) {
            Some(w) => text(w.json),
            None => text(self.json_by_value().json),
        }
    }

    /// Reads an envelope, checking the form of every field, not the hash.
    pub fn from_value(value: Value) -> Result<Envelope> {
        let Value::Object(mut map) = value else {
            return Err(ModelError::NotObject { what: "an envelope", found: kind_of(&value) });
        };
        let prev = take_str(&mut map, "prev")?;
        let hash = take_str(&mut map, "hash")?;
        if !is_hash(&prev) || !is_hash(&hash) {
            return Err(ModelError::BadChainHex);
        }
        let Recorded { seq, recorded_at, recorded_by, event } = Recorded::from_value(Value::Object(map))?;
        Ok(Envelope { seq, recorded_at, recorded_by, prev, hash, event })
    }

    /// The envelope without its place in the chain.
    pub fn recorded(&self) -> Recorded {
        Recorded {
            seq: self.seq,
            recorded_at: self.recorded_at.clone(),
            recorded_by: self.recorded_by.clone(),
            event: self.event.clone(),
        }
    }

    /// Whether `hash` is the SHA-256 of the rest, as SPEC §4 defines it.
    pub fn hash_is_valid(&self) -> bool {
        match self.written(&self.hash) {
            Some(w) => w.digest() == self.hash,
            None => canonical::sha256_hex(&self.to_value_without_hash()) == self.hash,
        }
    }
}

fn take_str(map: &mut Map<String, Value>, field: &'static str) -> Result<String> {
    match map.remove(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ModelError::EnvelopeNotString { field, found: kind_of(&other) }),
        None => Err(ModelError::EnvelopeMissing(field)),
    }
}

/// Whether a JSON object is an envelope (an export line) rather than a bare event.
pub fn looks_like_envelope(map: &Map<String, Value>) -> bool {
    map.contains_key("seq") && map.contains_key("hash")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A hash is 64 lowercase hex digits: any other byte, anywhere, is refused.
    #[test]
    fn a_hash_is_64_lowercase_hex_digits() {
        let good = "0123456789abcdef".repeat(4);
        assert!(is_hash(&good));
        for at in [0, 1, 31, 63] {
            for b in 0..=127u8 {
                let mut bytes = good.clone().into_bytes();
                bytes[at] = b;
                let text = String::from_utf8(bytes).unwrap();
                assert_eq!(is_hash(&text), b.is_ascii_digit() || (b'a'..=b'f').contains(&b), "{b} at {at}");
            }
        }
        for bad in ["", &good[1..], &format!("{good}0"), &format!("é{}", &good[2..])] {
            assert!(!is_hash(bad), "{bad}");
        }
    }

    /// What the envelope's JSON was before it was written once: built as a
    /// value, then written out for each form: (the whole envelope, the org
    /// copy, the hash of the envelope without `hash`).
    fn by_value(body: &Map<String, Value>, seq: u64, at: &str, by: &str, prev: &str, hash: &str) -> [String; 3] {
        let mut map = body.clone();
        map.insert("seq".into(), Value::from(seq));
        map.insert("recorded_at".into(), Value::String(at.into()));
        map.insert("recorded_by".into(), Value::String(by.into()));
        map.insert("prev".into(), Value::String(prev.into()));
        let digest = canonical::sha256_hex(&Value::Object(map.clone()));
        let mut record = map.clone();
        record.remove("prev");
        map.insert("hash".into(), Value::String(hash.into()));
        [
            canonical::to_canonical_string(&Value::Object(map)),
            canonical::to_canonical_string(&Value::Object(record)),
            digest,
        ]
    }

    fn once(body: &Map<String, Value>, seq: u64, at: &str, by: &str, prev: &str, hash: &str) -> [String; 3] {
        let w = Written::new(body, seq, at, by, prev, hash).expect("no envelope field in the body");
        [text(w.json.clone()), text(w.record()), w.digest()]
    }

    #[test]
    fn written_once_equals_written_by_value() {
        let hash = "ab".repeat(32);
        for body in [
            json!({}),
            json!({"a": 1}),
            json!({"z": 1}),
            json!({"id": "x", "org": "isa", "type": "dissolution", "date": "2019"}),
            // Around and between the envelope's keys.
            json!({"has": 1, "hash2": 2, "hasi": 3, "pre": 4, "prev2": 5, "prevs": 6, "recorded": 7, "seq2": 8}),
            json!({"hasi": 1}),
            json!({"\u{10000}": 1, "\u{e000}": 2, "\u{ffff}": [{"\u{10ffff}": 0, "b": "\n\"\\\u{1}"}]}),
            json!({"n": [0.1, -0.0, 1e21, 1e-7, 9007199254740993u64, -9007199254740993i64, 5e-324, 1.7976931348623157e308]}),
        ] {
            let body = body.as_object().unwrap();
            for seq in [1, 9_007_199_254_740_993, u64::MAX] {
                for prev in [GENESIS, "", "\u{7f}\u{2028}\"\u{1f}"] {
                    let want = by_value(body, seq, "2024-01-01T00:00:00.000000Z", "me\t\u{10000}", prev, &hash);
                    assert_eq!(once(body, seq, "2024-01-01T00:00:00.000000Z", "me\t\u{10000}", prev, &hash), want);
                }
            }
        }
    }

    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,4}",
            "[a-z\u{e000}-\u{e002}\u{fffe}\u{ffff}\u{10000}-\u{10002}\u{10fffe}]{0,3}",
            prop::sample::select(vec![
                "has",
                "hash0",
                "hasi",
                "pre",
                "prev0",
                "prevs",
                "recorded_a",
                "recorded_c",
                "se",
                "seq0"
            ])
            .prop_map(String::from),
        ]
        .prop_filter("not an envelope field", |k| !ENVELOPE_FIELDS.contains(&k.as_str()))
    }

    fn arb_text() -> impl Strategy<Value = String> {
        "[a-z\\\"\u{0}-\u{1f}\u{7f}\u{2028}\u{e000}\u{10000}]{0,6}"
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            arb_text().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(arb_key(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Written once, an envelope's forms are what they were when each
        /// was built as a value and written out: any body, any members.
        #[test]
        fn any_envelope_is_written_as_by_value(
            body in prop::collection::btree_map(arb_key(), arb_value(), 0..8),
            seq in any::<u64>(),
            at in arb_text(),
            by in arb_text(),
            prev in prop_oneof![arb_text(), Just(GENESIS.to_owned())],
            hash in prop_oneof![arb_text(), "[0-9a-f]{64}"],
        ) {
            let body: Map<String, Value> = body.into_iter().collect();
            prop_assert_eq!(once(&body, seq, &at, &by, &prev, &hash), by_value(&body, seq, &at, &by, &prev, &hash));
            // From a template of the body, written with the members empty.
            let mut json = Vec::new();
            let spans = canonical::write_canonical_map_members(&body, EnvelopeTemplate::EMPTY, &mut json);
            let template = EnvelopeTemplate::from_written(json, spans, 0..0);
            let w = Written::from_template(&template, seq, &at, &by, &prev, &hash).expect("a template");
            prop_assert_eq!([text(w.json.clone()), text(w.record()), w.digest()], by_value(&body, seq, &at, &by, &prev, &hash));
        }

        /// An event read with its envelope's template is sealed into the
        /// same envelope, and gets the id it got without: for events
        /// without an id, each type's members around the envelope's, and
        /// corrections whose targets are spelled otherwise (no template).
        #[test]
        fn templated_events_seal_as_without(
            details in prop::collection::btree_map(arb_key(), arb_value(), 0..6),
            note in arb_text(),
            target in prop_oneof![Just(None), Just(Some("1B3C0C5E-4D2A-4B1E-9F0E-00000000000A")), Just(Some("1b3c0c5e-4d2a-4b1e-9f0e-00000000000a"))],
            kind in 0..3usize,
            seq in 1..u64::MAX,
            by in arb_text(),
        ) {
            let mut body = match kind {
                0 => json!({"type": "dissolution", "org": "isa", "date": "2020", "note": note, "details": details}),
                1 => json!({"type": "accession", "org": "isa", "date": "2020-12-09", "members": ["ISR", "ARE"], "source": {"publisher": note, "url": "https://example.org"}}),
                _ => json!({"type": "retraction", "org": "isa", "note": note, "retracts": target.unwrap_or("1b3c0c5e-4d2a-4b1e-9f0e-00000000000b")}),
            };
            if let (Some(t), Value::Object(map)) = (target, &mut body) && kind != 2 {
                map.insert("supersedes".into(), Value::from(t));
            }
            let Ok((event, template)) = Event::from_value_templated(body.clone()) else {
                prop_assume!(false);
                return Ok(());
            };
            let plain = Event::from_value(body.clone()).expect("read once");
            prop_assert_eq!(&event, &plain);
            let mut input = Vec::new();
            canonical::write_canonical_map(body.as_object().expect("an object"), &mut input);
            prop_assert_eq!(event.id, uuid::Uuid::new_v5(&uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"urn:accord:event"), &input));
            let uppercase = target.is_some_and(|t| t.chars().any(|c| c.is_ascii_uppercase()));
            prop_assert_eq!(template.is_some(), !uppercase);
            let at = format_time(chrono::Utc::now());
            let sealed = Envelope::seal_template(event.clone(), template.as_ref(), seq, at.clone(), by.clone(), GENESIS.into());
            prop_assert_eq!(sealed, Envelope::seal_json(plain, seq, at, by, GENESIS.into()));
        }
    }

    /// A template handed with another event than its own is not used: the
    /// envelope is the event's, written from its body.
    #[test]
    fn another_events_template_is_not_used() {
        let read = |date: &str| {
            let body = json!({"type": "dissolution", "org": "isa", "date": date});
            Event::from_value_templated(body).expect("an event")
        };
        let ((event, _), (_, other)) = (read("2020"), read("2021"));
        let other = other.expect("a template");
        let at = format_time(chrono::Utc::now());
        let sealed = Envelope::seal_template(event.clone(), Some(&other), 7, at.clone(), "me".into(), GENESIS.into());
        assert_eq!(sealed, Envelope::seal_json(event, 7, at, "me".into(), GENESIS.into()));
    }

    proptest! {

        /// Sealing an event writes it once, and gives what `to_json` and
        /// `record_json` give and what the hash was computed over before.
        #[test]
        fn sealed_events_agree(
            details in prop::collection::btree_map(arb_key(), arb_value(), 0..6),
            note in arb_text(),
            seq in 1..u64::MAX,
            by in arb_text(),
        ) {
            let body = json!({"type": "dissolution", "org": "isa", "date": "2020", "note": note, "details": details});
            // Numbers an event cannot keep exactly are refused: not this test's business.
            let Ok(event) = Event::from_value(body) else {
                prop_assume!(false);
                return Ok(());
            };
            let at = format_time(chrono::Utc::now());
            let (env, json) = Envelope::seal_json(event.clone(), seq, at.clone(), by.clone(), GENESIS.into());
            let [whole, record, digest] = by_value(event.body(), seq, &at, &by, GENESIS, &env.hash);
            prop_assert_eq!(&env.hash, &digest);
            prop_assert_eq!(text(json.json.clone()), whole.clone());
            prop_assert_eq!(text(json.record.clone()), record.clone());
            prop_assert_eq!(env.to_json(), whole);
            prop_assert_eq!(env.record_json(), record);
            prop_assert!(env.hash_is_valid());
            prop_assert_eq!(env.json_if_valid(), Some(json));
            let mut bad = env.clone();
            bad.recorded_by.push('x');
            prop_assert!(!bad.hash_is_valid());
            prop_assert_eq!(bad.json_if_valid(), None);
        }
    }

    #[test]
    fn checkpoints() {
        let hash = "ab".repeat(32);
        assert_eq!(Head::parse_checkpoint(&format!("14:{hash}")).ok(), Some(Head { seq: 14, hash: hash.clone() }));
        for bad in ["", "14", "0:x", &format!("0:{hash}"), &format!("x:{hash}"), &format!("14:{}", hash.to_uppercase())]
        {
            assert!(matches!(Head::parse_checkpoint(bad), Err(ModelError::NotCheckpoint(s)) if s == bad), "{bad}");
        }
        assert_eq!(
            Head::parse_checkpoint("14").unwrap_err().to_string(),
            "`14` is not a checkpoint: expected SEQ:HASH, like 14:3fa9… with the 64-hex-digit hash"
        );
    }
}
