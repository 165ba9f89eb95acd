//! The envelope: a recorded event with its place in the hash chain, and its time format (SPEC §4).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::model::ModelError;
use crate::model::canonical;
use crate::model::event::{Event, kind_of};

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

/// The length of `,"hash":"…"` in an envelope's canonical JSON.
const HASH_MEMBER_LEN: usize = ",\"hash\":\"\"".len() + 64;

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
        Envelope::seal_measured(event, seq, recorded_at, recorded_by, prev).0
    }

    /// [`Envelope::seal`], also giving the length of [`Envelope::to_json`]
    /// (the bytes recorded) without writing it out again.
    pub fn seal_measured(
        event: Event,
        seq: u64,
        recorded_at: String,
        recorded_by: String,
        prev: String,
    ) -> (Envelope, usize) {
        let mut env = Envelope { seq, recorded_at, recorded_by, prev, hash: String::new(), event };
        let mut unhashed = Vec::with_capacity(256);
        canonical::write_canonical(&env.to_value_without_hash(), &mut unhashed);
        env.hash = canonical::sha256_hex_bytes(&unhashed);
        // The whole envelope adds `,"hash":"` + 64 hex digits + `"` to it.
        (env, unhashed.len() + HASH_MEMBER_LEN)
    }

    fn to_value_without_hash(&self) -> Value {
        let mut map = self.event.body().clone();
        map.insert("seq".into(), Value::from(self.seq));
        map.insert("recorded_at".into(), Value::String(self.recorded_at.clone()));
        map.insert("recorded_by".into(), Value::String(self.recorded_by.clone()));
        map.insert("prev".into(), Value::String(self.prev.clone()));
        Value::Object(map)
    }

    /// The envelope without `hash` and `prev`, as canonical JSON: the
    /// [`Recorded`] event, as the org index keeps it.
    pub fn record_json(&self) -> String {
        let mut v = self.to_value_without_hash();
        if let Value::Object(map) = &mut v {
            map.remove("prev");
        }
        canonical::to_canonical_string(&v)
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
        canonical::sha256_hex(&self.to_value_without_hash()) == self.hash
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
