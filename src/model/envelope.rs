//! The envelope: a recorded event with its place in the hash chain (SPEC §4).

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::canonical;
use crate::model::date::EffectiveDate;
use crate::model::event::{Event, EventKind, Status, TYPES, kind_of};
use crate::model::id::{OrgId, PartyId, parse_event_id};
use crate::timeline::{Action, Step};

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
            return Err(Error::rejected(format!("a recorded event must be a JSON object, not {}", kind_of(&value))));
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
        if !map.contains_key("id") {
            return Err(Error::rejected("the envelope's event has no `id`"));
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
            return Err(Error::rejected(format!("an envelope must be a JSON object, not {}", kind_of(&value))));
        };
        let prev = take_str(&mut map, "prev")?;
        let hash = take_str(&mut map, "hash")?;
        if !is_hash(&prev) || !is_hash(&hash) {
            return Err(Error::rejected("the envelope's `prev` and `hash` must be 64 lowercase hex digits"));
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

/// An envelope read straight from bytes that are exactly its canonical JSON
/// (as accord stores and exports it), borrowing from them: what the checks
/// between envelopes need (chain, ids, rules), without building the event.
///
/// [`Sealed::read`] accepts only what the general path (parsing into a
/// [`Value`], [`Envelope::from_value`]) accepts too, and reads the same
/// content from it; it gives up (`None`) on anything else, valid or not, and
/// the caller then takes the general path, which explains what is wrong.
#[derive(Debug)]
pub struct Sealed<'a> {
    pub seq: u64,
    pub recorded_at: &'a str,
    pub prev: &'a str,
    pub hash: &'a str,
    pub id: Uuid,
    /// A valid org id.
    pub org: &'a str,
    /// The event a retraction retracts, or the one a correction supersedes.
    pub target: Option<Uuid>,
    /// The event's place on its org's timeline ([`Step::of`]); `None` for a retraction.
    pub step: Option<Step>,
    /// Where the `hash` and `prev` members lie in the bytes (with the comma
    /// that joins each to a neighbour): cut out, the rest is the canonical
    /// JSON of the [`Recorded`] event, as the org index keeps it.
    pub chain: [(usize, usize); 2],
}

/// Scratch space for [`Sealed::read`], reused from one envelope to the next.
#[derive(Default)]
pub struct Scratch {
    /// The canonical form of a `details` or `source` object being read.
    buf: Vec<u8>,
    /// `YYYY-MM-DDTHH:MM:` of the last `recorded_at` found valid.
    minute: String,
    /// The last org id found valid.
    org: String,
}

impl<'a> Sealed<'a> {
    /// Reads `bytes` if they are the canonical JSON of a well-formed envelope
    /// whose `hash` matches its content; `None` otherwise (see [`Sealed`]).
    ///
    /// The bytes are read by a parser of canonical JSON only (no whitespace,
    /// members in order, strings escaped as JCS escapes them, integers in
    /// their plain digits), so they are the canonical form of what they hold
    /// and the hash is computed over them, the `hash` member cut out.
    pub fn read(bytes: &'a [u8], scratch: &mut Scratch) -> Option<Sealed<'a>> {
        let (raw, cut, prev_cut) = Canonical::new(bytes)?.envelope(&mut scratch.buf, true)?;
        if !is_hash(raw.prev) || !is_hash(raw.hash) {
            return None;
        }
        let mut decoded = raw.decode(scratch)?;
        decoded.chain = [cut, prev_cut];
        let mut sha = Sha256::new();
        sha.update(bytes.get(..cut.0)?);
        sha.update(bytes.get(cut.1..)?);
        if !hex_equals(&sha.finalize(), raw.hash) {
            return None;
        }
        Some(decoded)
    }

    /// Reads `bytes` if they are the canonical JSON of a well-formed
    /// [`Recorded`] event (an envelope without `hash` and `prev`, as the org
    /// index keeps it); `None` otherwise. `prev` and `hash` are empty.
    /// Accepts only what [`Recorded::from_value`] accepts, like [`Sealed::read`].
    pub fn read_recorded(bytes: &'a [u8], scratch: &mut Scratch) -> Option<Sealed<'a>> {
        let (raw, _, _) = Canonical::new(bytes)?.envelope(&mut scratch.buf, false)?;
        raw.decode(scratch)
    }
}

/// A range of bytes, start and end.
type Span = (usize, usize);

/// Whether `hex` is the lowercase hex spelling of `digest`.
fn hex_equals(digest: &[u8], hex: &str) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = hex.as_bytes();
    hex.len() == 2 * digest.len()
        && digest
            .iter()
            .zip(hex.chunks_exact(2))
            .all(|(&b, pair)| pair[0] == HEX[usize::from(b >> 4)] && pair[1] == HEX[usize::from(b & 0x0f)])
}

/// Whether `recorded_at` is valid ([`parse_time`]). `minute` remembers the
/// date, hour and minute of the last valid one, so that most times only need
/// their seconds looked at.
fn time_is_valid(t: &str, minute: &mut String) -> bool {
    // Every valid time is `YYYY-MM-DDTHH:MM:SS.ffffffZ`, 27 ASCII characters.
    let b = t.as_bytes();
    if b.len() == 27 && minute.len() == 17 && b[..17] == *minute.as_bytes() {
        // Same minute as a valid time: seconds 00 to 59 and six digits are
        // always valid (and 60, a leap second, takes the long way).
        let s = &b[17..];
        if matches!(s[0], b'0'..=b'5')
            && s[1].is_ascii_digit()
            && s[2] == b'.'
            && s[3..9].iter().all(u8::is_ascii_digit)
            && s[9] == b'Z'
        {
            return true;
        }
    }
    if parse_time(t).is_none() {
        return false;
    }
    if let Some(prefix) = t.get(..17) {
        minute.clear();
        minute.push_str(prefix);
    }
    true
}

/// A string of an envelope, borrowed unless it holds escapes.
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

/// A list of strings without escapes, as its text between the brackets
/// (`"a","b"`): no item holds a `"`, so `","` only ever separates two.
#[derive(Debug, Clone, Copy)]
struct List<'a>(&'a str);

impl<'a> List<'a> {
    fn items(self) -> impl Iterator<Item = &'a str> {
        // Without the outer quotes, split at the separators.
        let inner = self.0.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
        inner.into_iter().flat_map(|s| s.split("\",\""))
    }

    fn is_empty(self) -> bool {
        self.0.is_empty()
    }
}

/// A JSON value that is most often a string (`source`): only its kind then,
/// else the [`Value`].
#[derive(Debug)]
enum Loose {
    Text,
    Other(Value),
}

/// Every field an envelope can have, typed as a valid one has it.
#[derive(Debug, Default)]
struct RawEnvelope<'a> {
    by: Option<Text<'a>>,
    date: Option<&'a str>,
    details: Option<Loose>,
    hash: &'a str,
    id: &'a str,
    members: Option<List<'a>>,
    name: Option<Text<'a>>,
    note: Option<Text<'a>>,
    org: &'a str,
    participants: Option<List<'a>>,
    place: Option<Text<'a>>,
    prev: &'a str,
    reason: Option<Text<'a>>,
    recorded_at: &'a str,
    recorded_by: Option<Text<'a>>,
    retracts: Option<&'a str>,
    seat: Option<Text<'a>>,
    seq: u64,
    source: Option<Loose>,
    status: Option<&'a str>,
    supersedes: Option<&'a str>,
    kind: &'a str,
}

/// A reader of canonical JSON (RFC 8785) that refuses any other spelling.
struct Canonical<'a> {
    text: &'a str,
    at: usize,
}

/// The position of the first `"`, backslash or control character in
/// `bytes`: where a string without escapes ends (or stops being one).
fn string_end(bytes: &[u8]) -> Option<usize> {
    // Eight bytes at a time: whether a word has a byte below 0x20, or equal
    // to `"` or a backslash (the classic tests for a zero byte).
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |w: u64| w.wrapping_sub(LOW) & !w & HIGH;
    let flagged = |w: u64| {
        let below = w.wrapping_sub(LOW * 0x20) & !w & HIGH;
        below | zero_byte(w ^ (LOW * u64::from(b'"'))) | zero_byte(w ^ (LOW * u64::from(b'\\')))
    };
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        if flagged(word) != 0 {
            break;
        }
        at += 8;
    }
    // Each test says exactly whether a word has such a byte, not which one.
    bytes[at..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i)
}

/// The escape letter JCS writes for a control character that has one.
fn short_escape(letter: u8) -> Option<u8> {
    Some(match letter {
        b'"' => b'"',
        b'\\' => b'\\',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        _ => return None,
    })
}

fn lower_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl<'a> Canonical<'a> {
    fn new(bytes: &'a [u8]) -> Option<Canonical<'a>> {
        Some(Canonical { text: std::str::from_utf8(bytes).ok()?, at: 0 })
    }

    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.at..).unwrap_or_default()
    }

    fn next(&mut self) -> Option<u8> {
        let b = *self.rest().first()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    /// A string without escapes: its text.
    fn plain(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let rest = self.rest();
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        // Both ends are next to a `"`, so on character boundaries.
        let s = self.text.get(self.at..self.at + len)?;
        self.at += len + 1;
        Some(s)
    }

    /// Any string, escaped exactly as JCS escapes it: its text.
    fn text(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at;
        if let Some(s) = self.plain() {
            return Some(Cow::Borrowed(s));
        }
        self.at = start;
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let letter = self.next()?;
                    let c = match short_escape(letter) {
                        Some(c) => c,
                        // `\u00xx`, lowercase, only for a control character without a short escape.
                        None if letter == b'u' => {
                            let digits = [self.next()?, self.next()?, self.next()?, self.next()?];
                            let [b'0', b'0', high, low] = digits else { return None };
                            let c = lower_hex(high)? * 16 + lower_hex(low)?;
                            if c >= 0x20 || matches!(c, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                            c
                        }
                        None => return None,
                    };
                    out.push(c);
                }
                b if b < 0x20 => return None,
                b => out.push(b),
            }
        }
        // Escapes stand for ASCII, and the rest was valid UTF-8.
        String::from_utf8(out).ok().map(Cow::Owned)
    }

    /// A non-negative integer that JCS writes as its digits (at most 2^53).
    fn integer(&mut self) -> Option<u64> {
        let len = self.rest().iter().position(|b| !b.is_ascii_digit()).unwrap_or(self.rest().len());
        let digits = self.rest().get(..len)?;
        if digits.is_empty() || (digits[0] == b'0' && len > 1) || len > 16 {
            return None;
        }
        let n = digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        self.at += len;
        (n <= canonical::MAX_SAFE).then_some(n)
    }

    /// A list of strings without escapes.
    fn list(&mut self) -> Option<List<'a>> {
        self.expect(b'[')?;
        let start = self.at;
        if self.rest().first() == Some(&b']') {
            self.at += 1;
            return Some(List(""));
        }
        loop {
            self.plain()?;
            match self.next()? {
                b',' => {}
                b']' => return Some(List(self.text.get(start..self.at - 1)?)),
                _ => return None,
            }
        }
    }

    /// Any value: a string read here, anything else parsed by serde_json
    /// and checked against its canonical form (written to `buf`).
    fn loose(&mut self, buf: &mut Vec<u8>) -> Option<Loose> {
        if self.rest().first() == Some(&b'"') {
            return self.text().map(|_| Loose::Text);
        }
        let mut values = serde_json::Deserializer::from_slice(self.rest()).into_iter::<Value>();
        let value = values.next()?.ok()?;
        let len = values.byte_offset();
        buf.clear();
        canonical::write_canonical(&value, buf);
        if self.rest().get(..len)? != buf.as_slice() {
            return None;
        }
        self.at += len;
        Some(Loose::Other(value))
    }

    /// The envelope, and the bytes of its `hash` member with the comma that
    /// joins it to a neighbour (cut out, they leave what is hashed).
    /// Reads an envelope (`chained`: with `hash` and `prev`, whose spans
    /// are returned) or a recorded event (without either: the spans are empty).
    fn envelope(mut self, buf: &mut Vec<u8>, chained: bool) -> Option<(RawEnvelope<'a>, Span, Span)> {
        let mut env = RawEnvelope::default();
        let (mut hash, mut id, mut org, mut prev, mut recorded_at, mut seq, mut kind) =
            (false, false, false, false, false, false, false);
        let (mut cut, mut prev_cut) = (None, None);
        let mut last = "";
        self.expect(b'{')?;
        loop {
            let start = self.at;
            let key = self.plain()?;
            // Canonical order: byte order for these ASCII keys, each once.
            if !last.is_empty() && key <= last {
                return None;
            }
            last = key;
            self.expect(b':')?;
            match key {
                "by" => env.by = Some(Text(self.text()?)),
                "date" => env.date = Some(self.plain()?),
                "details" => env.details = Some(self.loose(buf)?),
                "hash" => {
                    (env.hash, hash) = (self.plain()?, true);
                    // The first member takes the comma after it, any other the one before.
                    cut = Some(if start == 1 { (start, self.at + 1) } else { (start - 1, self.at) });
                }
                "id" => (env.id, id) = (self.plain()?, true),
                "members" => env.members = Some(self.list()?),
                "name" => env.name = Some(Text(self.text()?)),
                "note" => env.note = Some(Text(self.text()?)),
                "org" => (env.org, org) = (self.plain()?, true),
                "participants" => env.participants = Some(self.list()?),
                "place" => env.place = Some(Text(self.text()?)),
                "prev" => {
                    (env.prev, prev) = (self.plain()?, true);
                    // Never first: `hash` sorts before it.
                    prev_cut = Some((start.checked_sub(1)?, self.at));
                }
                "reason" => env.reason = Some(Text(self.text()?)),
                "recorded_at" => (env.recorded_at, recorded_at) = (self.plain()?, true),
                "recorded_by" => env.recorded_by = Some(Text(self.text()?)),
                "retracts" => env.retracts = Some(self.plain()?),
                "seat" => env.seat = Some(Text(self.text()?)),
                "seq" => (env.seq, seq) = (self.integer()?, true),
                "source" => env.source = Some(self.loose(buf)?),
                "status" => env.status = Some(self.plain()?),
                "supersedes" => env.supersedes = Some(self.plain()?),
                "type" => (env.kind, kind) = (self.plain()?, true),
                _ => return None,
            }
            match self.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        let complete = id && org && recorded_at && seq && kind && env.recorded_by.is_some();
        if !complete || !self.rest().is_empty() {
            return None;
        }
        match (chained, hash, prev) {
            (true, true, true) => Some((env, cut?, prev_cut?)),
            (false, false, false) => Some((env, (0, 0), (0, 0))),
            _ => None,
        }
    }
}

fn text<'t>(t: &'t Option<Text<'_>>) -> Option<&'t str> {
    t.as_ref().map(|t| t.0.as_ref())
}

/// An id as accord writes it: a UUID, hyphenated, in lowercase.
fn lowercase_id(s: &str) -> Option<Uuid> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    parse_event_id(s).ok()
}

/// A string field that must be there and not blank (`Fields::required_str`).
fn required(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// A list of distinct party ids (`Fields::members`).
fn parties(items: Option<List<'_>>, required: bool) -> Option<Vec<PartyId>> {
    let Some(items) = items else {
        return (!required).then(Vec::new);
    };
    if required && items.is_empty() {
        return None;
    }
    let mut out: Vec<PartyId> = Vec::with_capacity(1);
    for item in items.items() {
        let party = PartyId::parse(item).ok()?;
        if out.contains(&party) {
            return None;
        }
        out.push(party);
    }
    Some(out)
}

impl<'a> RawEnvelope<'a> {
    /// The checks of [`Envelope::from_value`] and [`Event::from_value`] and
    /// the reading of what the rules need, for a typed envelope.
    fn decode(&self, scratch: &mut Scratch) -> Option<Sealed<'a>> {
        if self.seq == 0 || !time_is_valid(self.recorded_at, &mut scratch.minute) {
            return None;
        }
        let kind = self.kind;
        if !TYPES.contains(&kind) {
            return None;
        }
        // Fields of their own that other types may not carry.
        let own = EventKind::own_fields(kind);
        let present = [
            ("by", self.by.is_some()),
            ("members", self.members.is_some()),
            ("name", self.name.is_some()),
            ("participants", self.participants.is_some()),
            ("place", self.place.is_some()),
            ("reason", self.reason.is_some()),
            ("retracts", self.retracts.is_some()),
            ("seat", self.seat.is_some()),
            ("status", self.status.is_some()),
        ];
        if present.iter().any(|(field, given)| *given && !own.contains(field)) {
            return None;
        }
        let org = required(Some(self.org))?;
        if org != scratch.org {
            OrgId::parse(org).ok()?;
            scratch.org.clear();
            scratch.org.push_str(org);
        }
        let date = match self.date {
            Some(d) => Some(EffectiveDate::parse(d).ok()?),
            None if kind == "retraction" => None,
            None => return None,
        };
        let id = lowercase_id(self.id)?;
        let supersedes = match self.supersedes {
            Some(s) => Some(lowercase_id(s)?),
            None => None,
        };
        match &self.details {
            None | Some(Loose::Other(Value::Object(_))) => {}
            Some(_) => return None,
        }
        match &self.source {
            None | Some(Loose::Text) => {}
            Some(Loose::Other(Value::Object(o))) => {
                for (k, v) in o {
                    if !["title", "publisher", "url", "published"].contains(&k.as_str()) || !v.is_string() {
                        return None;
                    }
                }
            }
            Some(Loose::Other(_)) => return None,
        }
        let members = |required| parties(self.members, required);
        let action = match kind {
            "founding" => Some(Action::Found(members(true)?)),
            "launch" => Some(Action::Launch(members(false)?)),
            "exercise" => {
                required(text(&self.name))?;
                parties(self.participants, false)?;
                Some(Action::Activity)
            }
            "accession" => {
                let status = match self.status {
                    Some(s) => Status::parse(s).ok()?,
                    None => Status::Full,
                };
                Some(Action::Admit(members(true)?, status))
            }
            "status_change" => {
                let status = Status::parse(required(self.status)?).ok()?;
                Some(Action::ChangeStatus(members(true)?, status))
            }
            "suspension" => Some(Action::Suspend(members(true)?)),
            "reinstatement" => Some(Action::Reinstate(members(true)?)),
            "withdrawal" => Some(Action::Withdraw(members(true)?)),
            "expulsion" => Some(Action::Expel(members(true)?)),
            "dissolution" => Some(Action::Dissolve),
            "retraction" => None,
            _ => return None,
        };
        let target = match action {
            Some(_) => supersedes,
            // A retraction: it names what it retracts, and is not on the timeline.
            None => {
                if supersedes.is_some() {
                    return None;
                }
                required(text(&self.reason))?;
                Some(lowercase_id(required(self.retracts)?)?)
            }
        };
        if supersedes == Some(id) {
            return None;
        }
        let step = match (action, date) {
            (Some(action), Some(date)) => {
                Some(Step { seq: self.seq, id, date, first: date.first_day(), last: date.last_day(), action })
            }
            _ => None,
        };
        Some(Sealed {
            seq: self.seq,
            recorded_at: self.recorded_at,
            prev: self.prev,
            hash: self.hash,
            id,
            org,
            target,
            step,
            chain: [(0, 0); 2],
        })
    }
}

/// Reads one envelope from its bytes, the checks that need no other
/// envelope: JSON, hash, form (`exact`: the bytes must be the canonical JSON,
/// as accord stores it), ids as accord writes them, decoding. `seq` is the
/// position it should have, for messages. `buf` is scratch space.
pub fn read_envelope(bytes: &[u8], seq: u64, exact: bool, buf: &mut Vec<u8>) -> Result<Envelope> {
    let fail = |why: String| Error::integrity(format!("seq {seq}: {why}"));
    let value: Value = if exact {
        // Exact canonical bytes (checked below) cannot give a key twice.
        serde_json::from_slice(bytes).ok()
    } else {
        // An export line may be spelled otherwise, but a key given twice
        // would let the hashed value differ from what another reader sees.
        let text = std::str::from_utf8(bytes).ok();
        let value = text.and_then(|text| crate::model::event::parse_json_keys(text).ok());
        // So would a number the canonical form does not keep: accord never
        // writes one (and import refuses it).
        if let (Some(_), Some(what)) = (&value, text.and_then(crate::model::event::inexact_number)) {
            return Err(fail(format!("{what}, and accord never writes such a number: it was altered")));
        }
        value
    }
    .ok_or_else(|| {
        fail("the envelope is not valid JSON (or gives a key twice): it was altered or damaged".to_owned())
    })?;
    let Value::Object(mut map) = value else {
        return Err(fail("the envelope is not a JSON object".to_owned()));
    };
    let hash = match map.remove("hash") {
        Some(Value::String(hash)) if is_hash(&hash) => hash,
        Some(_) => return Err(fail("the envelope's `hash` is not 64 lowercase hex digits".to_owned())),
        None => return Err(fail("the envelope has no `hash`".to_owned())),
    };
    // The hash is checked over the content as given, before decoding
    // could normalize anything.
    let hashed = canonical_with_hash(&map, &hash, buf);
    if hashed != hash {
        return Err(fail(format!(
            "the hash does not match the content: the event was altered (its content hashes to {hashed})"
        )));
    }
    if exact && buf.as_slice() != bytes {
        return Err(fail(
            "the stored bytes are not the canonical JSON of the envelope, as accord writes it: they were altered"
                .to_owned(),
        ));
    }
    // Decoding writes ids in lowercase; one written otherwise was not written by accord.
    for key in ["id", "supersedes", "retracts"] {
        if let Some(Value::String(s)) = map.get(key)
            && s.bytes().any(|b| b.is_ascii_uppercase())
        {
            return Err(fail(format!("the envelope's `{key}` is not in lowercase, as accord writes ids")));
        }
    }
    map.insert("hash".into(), Value::String(hash));
    Envelope::from_value(Value::Object(map)).map_err(|e| fail(format!("the envelope does not decode as an event: {e}")))
}

/// Writes the canonical JSON (RFC 8785) of `map` plus the member `"hash"`
/// into `out`, and returns the lowercase hex SHA-256 of the canonical JSON of
/// `map` alone, which is the same text without that member: one
/// serialization gives both the stored form and the hashed one.
fn canonical_with_hash(map: &Map<String, Value>, hash: &str, out: &mut Vec<u8>) -> String {
    let mut members: Vec<(&str, Option<&Value>)> = Vec::with_capacity(map.len() + 1);
    members.extend(map.iter().map(|(k, v)| (k.as_str(), Some(v))));
    members.push(("hash", None));
    // Keys in UTF-16 code unit order, which is byte order unless a key holds
    // a character above U+FFFF (its UTF-8 starts with a byte of 0xF0 or more).
    if members.iter().any(|(k, _)| k.bytes().any(|b| b >= 0xF0)) {
        members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    } else {
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    out.clear();
    out.push(b'{');
    // The bytes of the `hash` member, with the comma that joins it to a neighbour.
    let mut cut = (1, 1);
    for (i, (key, value)) in members.iter().enumerate() {
        let start = out.len();
        if i > 0 {
            out.push(b',');
        }
        write_key(key, out);
        out.push(b':');
        match value {
            Some(v) => canonical::write_canonical(v, out),
            None => {
                out.push(b'"');
                out.extend_from_slice(hash.as_bytes());
                out.push(b'"');
                // First member: drop the comma after it instead of before.
                cut = if i == 0 { (start, out.len() + usize::from(members.len() > 1)) } else { (start, out.len()) };
            }
        }
    }
    out.push(b'}');
    let mut sha = Sha256::new();
    sha.update(&out[..cut.0]);
    sha.update(&out[cut.1..]);
    let digest = sha.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for &b in digest.iter() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    hex
}

/// Writes an object key as a canonical JSON string.
fn write_key(key: &str, out: &mut Vec<u8>) {
    if key.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.push(b'"');
    } else {
        canonical::write_canonical(&Value::String(key.to_owned()), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// What both paths read from an envelope, to compare them.
    type Reading = (u64, String, String, String, Uuid, String, Option<Uuid>, Option<Step>);

    fn fast(bytes: &[u8]) -> Option<Reading> {
        let s = Sealed::read(bytes, &mut Scratch::default())?;
        Some((s.seq, s.recorded_at.into(), s.prev.into(), s.hash.into(), s.id, s.org.into(), s.target, s.step))
    }

    fn general(bytes: &[u8]) -> Option<Reading> {
        let env = read_envelope(bytes, 1, true, &mut Vec::new()).ok()?;
        let e = &env.event;
        let target = match &e.kind {
            EventKind::Retraction { retracts, .. } => Some(*retracts),
            _ => e.supersedes,
        };
        let step = Step::of(env.seq, e);
        Some((env.seq, env.recorded_at, env.prev, env.hash, e.id, e.org.as_str().into(), target, step))
    }

    /// The fast path never accepts what the general one refuses, and reads the same.
    fn agree(bytes: &[u8]) -> Option<Reading> {
        let f = fast(bytes);
        if let Some(f) = &f {
            assert_eq!(Some(f), general(bytes).as_ref(), "{}", String::from_utf8_lossy(bytes));
        }
        f
    }

    /// A canonical envelope of `event` (an object) with the right hash.
    fn sealed(mut event: Value, seq: u64) -> Value {
        let map = event.as_object_mut().unwrap();
        map.insert("seq".into(), json!(seq));
        map.insert("recorded_at".into(), json!("2024-05-06T07:08:09.123456Z"));
        map.insert("recorded_by".into(), json!("tester"));
        map.insert("prev".into(), json!("ab".repeat(32)));
        reseal(event)
    }

    fn reseal(mut env: Value) -> Value {
        if let Some(map) = env.as_object_mut() {
            map.remove("hash");
            let hash = canonical::sha256_hex(&Value::Object(map.clone()));
            map.insert("hash".into(), Value::String(hash));
        }
        env
    }

    const ID: &str = "123e4567-e89b-12d3-a456-426614174000";
    const OTHER: &str = "223e4567-e89b-12d3-a456-426614174000";

    fn events() -> Vec<Value> {
        let source = json!({"title": "T \"q\"", "publisher": "P", "url": "https://x/y", "published": "2020"});
        vec![
            json!({"type": "founding", "org": "isa", "date": "2017-02", "id": ID, "members": ["ARE", "FRA"],
                   "name": "Intl\nAlliance", "seat": "Abu Dhabi", "source": source,
                   "details": {"n": 10, "x": [1.5, "é\u{1}\u{1f}", null, true, {"b": {}, "a": []}], "big": 1e21}}),
            json!({"type": "launch", "org": "isa", "date": "2018-03", "id": ID, "by": "Saif", "note": "n\u{7f}\u{2028}"}),
            json!({"type": "launch", "org": "isa", "date": "2018", "id": ID, "members": []}),
            json!({"type": "exercise", "org": "isa", "date": "2019~", "id": ID, "name": "X", "place": "p",
                   "participants": ["A.b_c-1"], "source": "generator"}),
            json!({"type": "accession", "org": "i-s-a", "date": "2017-02/2020-12-09", "id": ID,
                   "members": ["BHR", "ITA"], "status": "observer", "supersedes": OTHER}),
            json!({"type": "accession", "org": "isa", "date": "2020-12-09?", "id": ID, "members": ["ISR"]}),
            json!({"type": "status_change", "org": "isa", "date": "2021-01%", "id": ID, "members": ["ISR"], "status": "full"}),
            json!({"type": "suspension", "org": "isa", "date": "2021", "id": ID, "members": ["ISR"]}),
            json!({"type": "reinstatement", "org": "isa", "date": "2021", "id": ID, "members": ["ISR"]}),
            json!({"type": "withdrawal", "org": "isa", "date": "2021", "id": ID, "members": ["ISR"]}),
            json!({"type": "expulsion", "org": "isa", "date": "2021", "id": ID, "members": ["ISR"]}),
            json!({"type": "dissolution", "org": "isa", "date": "2030", "id": ID}),
            json!({"type": "retraction", "org": "isa", "id": ID, "retracts": OTHER, "reason": "typo \\ \t"}),
            json!({"type": "retraction", "org": "isa", "date": "2021", "id": ID, "retracts": OTHER, "reason": "r"}),
        ]
    }

    #[test]
    fn every_type_is_read_the_fast_way_as_the_general_way_reads_it() {
        for (i, event) in events().into_iter().enumerate() {
            let text = canonical::to_canonical_string(&sealed(event, i as u64 + 1));
            assert!(agree(text.as_bytes()).is_some(), "not read the fast way: {text}");
        }
    }

    #[test]
    fn what_accord_writes_is_read_the_fast_way() {
        for line in include_str!("../../events/isa.ndjson").lines() {
            let event = Event::parse_str(line).unwrap();
            let env = Envelope::seal(event, 7, format_time(Utc::now()), "me".into(), GENESIS.into());
            let f = agree(env.to_json().as_bytes()).expect("read the fast way");
            assert_eq!((f.0, f.3.as_str(), f.4), (7, env.hash.as_str(), env.event.id));
        }
    }

    #[test]
    fn other_spellings_and_wrong_hashes_are_left_to_the_general_way() {
        let env = sealed(events().remove(0), 3);
        let text = canonical::to_canonical_string(&env);
        assert!(agree(text.as_bytes()).is_some());
        let spaced = serde_json::to_string_pretty(&env).unwrap();
        let changed = text.replace("\"ARE\"", "\"ARF\"");
        let escaped = text.replace("Abu Dhabi", "Abu\\u0020Dhabi");
        let trailing = format!("{text}\n");
        for other in [spaced, changed, escaped, trailing] {
            assert_eq!(agree(other.as_bytes()), None, "{other}");
        }
    }

    /// `text` with its hash fixed in place: the hash of its content (as
    /// the general way computes it), and the hash of its bytes without the
    /// `hash` member (as the fast way computes it, which agrees only for
    /// canonical bytes).
    fn rehashed(text: &str) -> [String; 2] {
        let of_content = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(mut map)) => match map.remove("hash") {
                Some(Value::String(old)) => text.replace(&old, &canonical::sha256_hex(&Value::Object(map))),
                _ => text.to_owned(),
            },
            _ => text.to_owned(),
        };
        // `"hash":"` + 64 hex digits + `"`, with the comma before it, or after it if it comes first.
        let member = text.find("\"hash\":\"").map(|at| (at, at + 8 + 65)).filter(|&(at, end)| {
            text.get(at + 8..end - 1).is_some_and(is_hash) && text.as_bytes().get(end - 1) == Some(&b'"')
        });
        let of_bytes = match member {
            Some((at, end)) => {
                let old = &text[at + 8..end - 1];
                let b = text.as_bytes();
                let (start, end) = if at > 0 && b[at - 1] == b',' { (at - 1, end) } else { (at, end + 1) };
                let mut rest = b[..start].to_vec();
                rest.extend_from_slice(b.get(end..).unwrap_or_default());
                text.replace(old, &canonical::sha256_hex_bytes(&rest))
            }
            None => text.to_owned(),
        };
        [of_content, of_bytes]
    }

    /// [`agree`] for `text` and its rehashed forms.
    fn agree_rehashed(text: &str) {
        agree(text.as_bytes());
        for variant in rehashed(text) {
            agree(variant.as_bytes());
        }
    }

    #[test]
    fn other_spellings_of_the_same_content_are_left_to_the_general_way() {
        let env = sealed(events().remove(0), 5);
        let text = canonical::to_canonical_string(&env);
        assert!(agree(text.as_bytes()).is_some());
        let variants = [
            text.replace("Abu Dhabi", "Abu\\u0020Dhabi"),
            text.replace("Abu Dhabi", "Abu Dhab\\u0069"),
            text.replace("Intl\\nAlliance", "Intl\\u000aAlliance"),
            text.replace("\\u001f", "\\u001F"),
            text.replace("\\u0001", "\\u01"),
            text.replace("\"seq\":5", "\"seq\":05"),
            text.replace("\"seq\":5", "\"seq\":5.0"),
            text.replace("\"seq\":5", "\"seq\":5e0"),
            text.replace("\"seq\":5", "\"seq\":-5"),
            text.replace("\"seq\":5", "\"seq\": 5"),
            text.replace("\"n\":10", "\"n\":10.0"),
            text.replace("\"big\":1e+21", "\"big\":1e21"),
            text.replace("{\"date", "{ \"date"),
            text.replace("\"org\":\"isa\",", "") + "",
            text.replace("\"org\":\"isa\",\"prev\"", "\"prev\"").replacen("\"name\"", "\"org\":\"isa\",\"name\"", 1),
            text.replace("\"org\":\"isa\",", "\"org\":\"isa\",\"org\":\"isa\","),
            text.replace("\"a\":[]", "\"a\":[],\"a\":[]"),
            text.replace("\"a\":[],\"b\":{}", "\"b\":{},\"a\":[]"),
            text.replace("/", "\\/"),
            text.replace("[\"ARE\",\"FRA\"]", "[\"ARE\" ,\"FRA\"]"),
            text.replace("[\"ARE\",\"FRA\"]", "[\"ARE\" \"FRA\"]"),
            text.replace("[\"ARE\",\"FRA\"]", "[\"ARE\",\"FRA\",]"),
            text.replace("\"seat\":\"Abu Dhabi\"", "\"seat\":\"Abu\u{1}Dhabi\""),
            text.replace("\"seat\":\"Abu Dhabi\"", "\"seat\":\"Abu\tDhabi\""),
            text.replace("é", "\\u00e9"),
            format!("{text} "),
            format!(" {text}"),
        ];
        for (i, variant) in variants.iter().enumerate() {
            assert_ne!(*variant, text, "variant {i} changes nothing");
            for rehashed in rehashed(variant) {
                assert_eq!(agree(rehashed.as_bytes()), None, "variant {i}: {rehashed}");
            }
        }
    }

    /// Every field given every value of [`any_value`]'s list, one at a
    /// time, resealed: the fast way agrees with the general one.
    #[test]
    fn every_single_field_change_agrees() {
        let mut accepted = 0;
        for base in events() {
            for key in KEYS {
                for value in values() {
                    for remove in [false, true] {
                        let mut env = sealed(base.clone(), 5);
                        let map = env.as_object_mut().unwrap();
                        if remove {
                            map.remove(key);
                        } else {
                            map.insert(key.into(), value.clone());
                        }
                        let text = canonical::to_canonical_string(&reseal(env));
                        accepted += usize::from(agree(text.as_bytes()).is_some());
                    }
                }
            }
        }
        assert!(accepted > 1000, "{accepted}");
    }

    proptest! {
        #[test]
        fn string_end_finds_the_first_quote_backslash_or_control(
            bytes in prop::collection::vec(prop::sample::select(b"a\"\\\x00\x1f\x20\x21\x5b\x5d\x7f\x80\xa2\xdc\xff".to_vec()), 0..40),
            plain in 0..40usize,
        ) {
            let mut all = vec![b'x'; plain];
            all.extend(bytes);
            let naive = all.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(string_end(&all), naive);
        }
    }

    proptest! {
        /// The shortcut for times in the minute of the last valid one agrees with [`parse_time`].
        #[test]
        fn times_of_the_same_minute_agree_with_parse_time(
            minute in prop::sample::select(vec!["2024-02-29T23:59", "2023-12-31T23:59", "2024-01-01T10:00"]),
            first in "[0-5][0-9]\\.[0-9]{6}Z",
            rest in prop_oneof!["[0-6][0-9]\\.[0-9]{6}Z", "[0-9]{0,2}[0-9.:Zz+ ]{0,10}"],
        ) {
            let mut cache = String::new();
            let first = format!("{minute}:{first}");
            prop_assert!(time_is_valid(&first, &mut cache));
            for t in [format!("{minute}:{rest}"), format!("{minute}{rest}"), format!("{minute}:60.000000Z")] {
                prop_assert_eq!(time_is_valid(&t, &mut cache), parse_time(&t).is_some(), "{}", t);
            }
        }
    }

    /// Values of every kind an envelope field might be given, valid or not.
    fn values() -> Vec<Value> {
        vec![
            json!(ID),
            json!(OTHER),
            json!(ID.to_uppercase()),
            json!("123e4567e89b12d3a456426614174000"),
            json!("2020"),
            json!("2020-02-30"),
            json!("2020-13"),
            json!("2019/2018"),
            json!("0000"),
            json!(""),
            json!(" "),
            json!("\u{3000}"),
            json!("full"),
            json!("member"),
            json!("observer"),
            json!("ISR"),
            json!("isa"),
            json!("ISA"),
            json!("a b"),
            json!("x\"y\\z\u{0}\u{1f}\u{7f}é😀"),
            json!("ab".repeat(32)),
            json!("AB".repeat(32)),
            json!("2024-05-06T07:08:09.999999Z"),
            json!("2024-05-06T07:09:00.000000Z"),
            json!("2024-02-30T07:08:09.123456Z"),
            json!("2024-05-06T07:08:60.123456Z"),
            json!("2024-05-06T07:08:09.123Z"),
            json!("2024-05-06T07:08:09.123456+00:00"),
            json!("2024-05-06t07:08:09.123456z"),
            json!(0),
            json!(1),
            json!(-1),
            json!(1.5),
            json!(2.0),
            json!(9007199254740992u64),
            json!(9007199254740993u64),
            json!(1e300),
            json!(true),
            json!(null),
            json!([]),
            json!(["ISR"]),
            json!(["ISR", "ISR"]),
            json!(["ISR", 1]),
            json!(["bad id"]),
            json!({}),
            json!({"title": "t"}),
            json!({"title": 1}),
            json!({"author": "a"}),
            json!({"a": {"b": [1, 2.5, "c"]}}),
        ]
    }

    /// A value of any kind an envelope field might be given.
    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(values()),
            "[a-zA-Z0-9 ._\\-/?~%:\"\\\\\u{0}-\u{1f}é]{0,12}".prop_map(Value::String),
        ]
    }

    const KEYS: [&str; 24] = [
        "by",
        "date",
        "details",
        "hash",
        "id",
        "members",
        "name",
        "note",
        "org",
        "participants",
        "place",
        "prev",
        "reason",
        "recorded_at",
        "recorded_by",
        "retracts",
        "seat",
        "seq",
        "source",
        "status",
        "supersedes",
        "type",
        "colour",
        "Type",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Fields removed, added or changed, then sealed again (or not):
        /// whatever the fast path accepts, the general path accepts and
        /// reads the same.
        #[test]
        fn changed_fields_never_pass_the_fast_way_alone(
            base in 0..14usize,
            edits in prop::collection::vec((0..KEYS.len(), prop::option::weighted(0.8, any_value())), 1..4),
            kind in prop::sample::select(TYPES.to_vec()),
            retype in any::<bool>(),
            reseal_it in prop::sample::select(vec![0, 1, 1, 1, 2]),
        ) {
            let mut env = sealed(events().swap_remove(base), 5);
            let map = env.as_object_mut().unwrap();
            if retype {
                map.insert("type".into(), json!(kind));
            }
            for (key, value) in edits {
                match value {
                    Some(v) => map.insert(KEYS[key].into(), v),
                    None => map.remove(KEYS[key]),
                };
            }
            let env = if reseal_it > 0 { reseal(env) } else { env };
            let text = if reseal_it == 2 {
                serde_json::to_string_pretty(&env).unwrap()
            } else {
                canonical::to_canonical_string(&env)
            };
            agree_rehashed(&text);
        }

        /// Bytes changed, inserted or removed, then the hash fixed in place
        /// to what the general path computes: other spellings of the same
        /// content must not pass the fast way (and nothing may panic).
        #[test]
        fn changed_bytes_never_pass_the_fast_way_alone(
            base in 0..14usize,
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, prop::sample::select(
                b"\"\\,:{}[] 0159aefAFuntlx\n\t\x01\x7f\xc3\xa9".to_vec())), 1..4),
        ) {
            let env = sealed(events().swap_remove(base), 5);
            let mut bytes = canonical::to_canonical_string(&env).into_bytes();
            for (at, op, b) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 if i < bytes.len() => bytes[i] = b,
                    1 => bytes.insert(i, b),
                    _ if i < bytes.len() => { bytes.remove(i); }
                    _ => {}
                }
            }
            agree(&bytes);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                agree_rehashed(text);
            }
        }
    }

    /// `canonical_with_hash` must agree with the canonical module: the whole
    /// form with `hash`, and the hash of the form without it.
    fn agrees(map: &Map<String, Value>) {
        let hash = "ab".repeat(32);
        let mut buf = Vec::new();
        let hashed = canonical_with_hash(map, &hash, &mut buf);
        assert_eq!(hashed, canonical::sha256_hex(&Value::Object(map.clone())));
        let mut with = map.clone();
        with.insert("hash".into(), Value::String(hash));
        assert_eq!(String::from_utf8(buf).unwrap(), canonical::to_canonical_string(&Value::Object(with)));
    }

    #[test]
    fn the_hash_member_is_cut_out_wherever_it_sorts() {
        for v in [
            json!({}),
            json!({"a": 1}),
            json!({"z": 1}),
            json!({"a": 1, "z": [1.5, "x", null]}),
            json!({"id": "x", "org": "isa", "seq": 3, "prev": "0", "date": "2019"}),
            json!({"\u{10000}": 1, "\u{e000}": 2, "h": {"b": 1, "a": 2}, "quote\"d": "\n"}),
            json!({"hash2": 1, "has": 2, "hasg": 3, "hasi": 4}),
        ] {
            agrees(v.as_object().unwrap());
        }
    }

    proptest! {
        #[test]
        fn any_object_agrees(map in prop::collection::btree_map(".{0,6}", prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
        ], 0..8)) {
            let mut m: Map<String, Value> = map.into_iter().collect();
            m.remove("hash");
            agrees(&m);
        }
    }
}
