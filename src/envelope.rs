//! The envelope: a recorded event with its place in the hash chain (SPEC §4).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::canonical;
use crate::error::{Error, Result};
use crate::event::{Event, kind_of};

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
        let bad = || {
            Error::rejected(format!(
                "{} is not a checkpoint: expected SEQ:HASH, like 14:3fa9… with the 64-hex-digit hash",
                crate::error::quote(s)
            ))
        };
        let (seq, hash) = s.split_once(':').ok_or_else(bad)?;
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        if seq == 0 || !is_hash(hash) {
            return Err(bad());
        }
        Ok(Head { seq, hash: hash.to_owned() })
    }
}

pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
        let mut env = Envelope { seq, recorded_at, recorded_by, prev, hash: String::new(), event };
        env.hash = canonical::sha256_hex(&env.to_value_without_hash());
        env
    }

    fn to_value_without_hash(&self) -> Value {
        let mut map = self.event.body().clone();
        map.insert("seq".into(), Value::from(self.seq));
        map.insert("recorded_at".into(), Value::String(self.recorded_at.clone()));
        map.insert("recorded_by".into(), Value::String(self.recorded_by.clone()));
        map.insert("prev".into(), Value::String(self.prev.clone()));
        Value::Object(map)
    }

    /// The whole envelope as canonical JSON: the stored and exported form.
    pub fn to_json(&self) -> String {
        let mut v = self.to_value_without_hash();
        if let Value::Object(map) = &mut v {
            map.insert("hash".into(), Value::String(self.hash.clone()));
        }
        canonical::to_canonical_string(&v)
    }

    /// Reads an envelope, checking the form of every field, not the hash.
    pub fn from_value(value: Value) -> Result<Envelope> {
        let Value::Object(mut map) = value else {
            return Err(Error::rejected(format!("an envelope must be a JSON object, not {}", kind_of(&value))));
        };
        let seq = match map.remove("seq") {
            Some(Value::Number(n)) => n.as_u64().filter(|&s| s > 0),
            _ => None,
        }
        .ok_or_else(|| Error::rejected("the envelope's `seq` is not a positive integer"))?;
        let recorded_at = take_str(&mut map, "recorded_at")?;
        if parse_time(&recorded_at).is_none() {
            return Err(Error::rejected("the envelope's `recorded_at` is not an RFC 3339 UTC time with microseconds"));
        }
        let recorded_by = take_str(&mut map, "recorded_by")?;
        let prev = take_str(&mut map, "prev")?;
        let hash = take_str(&mut map, "hash")?;
        if !is_hash(&prev) || !is_hash(&hash) {
            return Err(Error::rejected("the envelope's `prev` and `hash` must be 64 lowercase hex digits"));
        }
        if !map.contains_key("id") {
            return Err(Error::rejected("the envelope's event has no `id`"));
        }
        let event = Event::from_value(Value::Object(map))?;
        Ok(Envelope { seq, recorded_at, recorded_by, prev, hash, event })
    }

    /// Whether `hash` is the SHA-256 of the rest, as SPEC §4 defines it.
    pub fn hash_is_valid(&self) -> bool {
        canonical::sha256_hex(&self.to_value_without_hash()) == self.hash
    }
}

fn take_str(map: &mut Map<String, Value>, key: &str) -> Result<String> {
    match map.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => {
            Err(Error::rejected(format!("the envelope's `{key}` must be a string, not {}", kind_of(&other))))
        }
        None => Err(Error::rejected(format!("the envelope has no `{key}`"))),
    }
}

/// Whether a JSON object is an envelope (an export line) rather than a bare event.
pub fn looks_like_envelope(map: &Map<String, Value>) -> bool {
    map.contains_key("seq") && map.contains_key("hash")
}

/// Checks the hash of an envelope given as raw JSON, without trusting any
/// of its parsing: SHA-256 over the canonical JSON of everything but `hash`.
pub fn raw_hash_matches(map: &Map<String, Value>) -> bool {
    let Some(Value::String(hash)) = map.get("hash") else { return false };
    let mut rest = map.clone();
    rest.remove("hash");
    canonical::sha256_hex(&Value::Object(rest)) == *hash
}
