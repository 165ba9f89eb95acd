//! The fast reader: envelopes and recorded events read straight from their canonical bytes, borrowing from them.

use std::borrow::Cow;

use serde_json::Value;
use uuid::Uuid;

use crate::model::ModelError;
use crate::model::canonical;
use crate::model::date::EffectiveDate;
use crate::model::envelope::EnvelopeTemplate;
use crate::model::envelope::{is_hash, parse_time};
use crate::model::event::{Event, EventKind, OwnFields, Status, derived_id, shape};
use crate::model::id::{OrgId, PartyId, parse_event_id};
use crate::model::schema::{ENVELOPE_FIELDS, EventType, MAX_OWN, SOURCE_FIELDS, Shape, event_type};
use crate::model::step::Step;
#[cfg(doc)]
use crate::sha_many::sha256_each;
use crate::sha_many::{Message, sha256};

/// An envelope read from its canonical bytes: what the checks between
/// envelopes need (chain, ids, rules), without building the event.
///
/// [`Sealed::read`] and [`RecordedView::read`] accept only what the general
/// path (parsing into a [`Value`], [`Envelope::from_value`](crate::model::envelope::Envelope::from_value))
/// accepts too, and read the same content from it; they give up (`None`)
/// on anything else, valid or not, and the caller then takes the general
/// path, which explains what is wrong. The fields each event type has come
/// from [`crate::model::schema`], as for the general path.
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
    /// JSON of the [`Recorded`](crate::model::envelope::Recorded) event, as the org index keeps it.
    pub chain: [(usize, usize); 2],
}

/// A recorded event (an envelope without `hash` and `prev`, as the org
/// index keeps it) read from its canonical bytes: what an org's timeline needs.
#[derive(Debug)]
pub struct RecordedView<'a> {
    pub seq: u64,
    pub recorded_at: &'a str,
    pub id: Uuid,
    /// A valid org id.
    pub org: &'a str,
    /// The event a retraction retracts, or the one a correction supersedes.
    pub target: Option<Uuid>,
    /// The event's place on its org's timeline ([`Step::of`]); `None` for a retraction.
    pub step: Option<Step>,
    /// Its `source`, if it has one ([`SourceAt`]).
    pub source: SourceAt,
}

/// Where an event's `source` is in its canonical JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceAt {
    /// It has none.
    None,
    /// These bytes, a string or an object of strings: exactly what
    /// `serde_json` writes for the value read from them.
    Bytes(u32, u32),
    /// Written otherwise: read the value.
    Other,
}

/// Scratch space for the fast reader, reused from one envelope to the next.
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
    /// whose `hash` matches its content; `None` otherwise.
    ///
    /// The bytes are read by a parser of canonical JSON only (no whitespace,
    /// members in order, strings escaped as JCS escapes them, integers in
    /// their plain digits), so they are the canonical form of what they hold
    /// and the hash is computed over them, the `hash` member cut out.
    pub fn read(bytes: &'a [u8], scratch: &mut Scratch) -> Option<Sealed<'a>> {
        Sealed::read_unchecked(bytes, scratch)?.check_by_sha2()
    }

    /// Reads `bytes` as [`Sealed::read`] does, but leaves the hash to check.
    pub fn read_unchecked(bytes: &'a [u8], scratch: &mut Scratch) -> Option<Unchecked<'a, Sealed<'a>>> {
        let (raw, chain) = CanonicalReader::new(bytes)?.envelope(&mut scratch.buf, Mode::Chained)?;
        let [cut, prev_cut] = chain?;
        if !is_hash(raw.prev) || !is_hash(raw.hash) {
            return None;
        }
        let (prev, hash) = (raw.prev, raw.hash);
        let RecordedView { seq, recorded_at, id, org, target, step, .. } = raw.decode(scratch)?;
        let hashed = [bytes.get(..cut.0)?, bytes.get(cut.1..)?];
        let sealed = Sealed { seq, recorded_at, prev, hash, id, org, target, step, chain: [cut, prev_cut] };
        Some(Unchecked { value: sealed, hashed, hash })
    }
}

/// What a stored envelope was read as ([`Sealed`], [`Chain`]), its hash not
/// checked yet: for a reader that hashes many envelopes at once
/// ([`sha256_each`]) and then checks each.
#[derive(Debug)]
pub struct Unchecked<'a, T> {
    value: T,
    /// What the envelope's hash covers: its bytes, the `hash` member cut out.
    pub hashed: Message<'a>,
    /// The envelope's `hash`, as stored.
    hash: &'a str,
}

impl<T> Unchecked<'_, T> {
    /// What was read, if `digest`, the SHA-256 of [`Unchecked::hashed`], is
    /// the envelope's hash.
    pub fn check(self, digest: &[u8; 32]) -> Option<T> {
        hex_equals(digest, self.hash).then_some(self.value)
    }

    /// [`Unchecked::check`], the digest computed here.
    fn check_by_sha2(self) -> Option<T> {
        let digest = sha256(&self.hashed);
        self.check(&digest)
    }
}

/// The links of a stored envelope in the hash chain: its `seq`, `prev` and
/// `hash`, read from its bytes once the hash is found to match them.
///
/// Only the top level is read (members skipped, not decoded), so this is
/// much cheaper than [`Sealed::read`]: it shows that the bytes are the ones
/// that were sealed, not that what they hold is a valid event (`audit
/// verify` checks that). A reader that hands stored bytes on as they are
/// (`accord export`) needs no more.
#[derive(Debug, PartialEq, Eq)]
pub struct Chain<'a> {
    pub seq: u64,
    pub prev: &'a str,
    pub hash: &'a str,
}

impl<'a> Chain<'a> {
    /// Reads `bytes` if they are a JSON object as accord stores it (no
    /// whitespace) with `seq`, `prev` and `hash` members, each once, and
    /// the SHA-256 of the bytes with the `hash` member cut out (as
    /// [`Sealed::read`] cuts it) is that hash; `None` otherwise. (Readers
    /// check many at once: [`Chain::read_unchecked`].)
    #[cfg(test)]
    pub fn read(doc: &'a [u8]) -> Option<Chain<'a>> {
        Chain::read_unchecked(doc)?.check_by_sha2()
    }

    /// Reads `doc` as [`Chain::read`] does, but leaves the hash to check.
    pub fn read_unchecked(doc: &'a [u8]) -> Option<Unchecked<'a, Chain<'a>>> {
        let (mut seq, mut prev, mut hash, mut cut) = (None, None, None, None);
        each_member(doc, |name, at, value, end| {
            match name {
                b"hash" if hash.is_none() => {
                    hash = Some(quoted_hash(doc.get(value..end)?)?);
                    // The first member takes the comma after it, any other the one before.
                    cut = Some(if at == 1 { (at, end + 1) } else { (at - 1, end) });
                }
                b"prev" if prev.is_none() => prev = Some(quoted_hash(doc.get(value..end)?)?),
                b"seq" if seq.is_none() => seq = Some(plain_integer(doc.get(value..end)?)?),
                b"hash" | b"prev" | b"seq" => return None,
                _ => {}
            }
            Some(())
        })?;
        let (seq, prev, hash, cut) = (seq?, prev?, hash?, cut?);
        let hashed = [doc.get(..cut.0)?, doc.get(cut.1..)?];
        Some(Unchecked { value: Chain { seq, prev, hash }, hashed, hash })
    }
}

/// The hash in `value` if it is a JSON string of 64 lowercase hex digits.
fn quoted_hash(value: &[u8]) -> Option<&str> {
    let inner = value.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let inner = std::str::from_utf8(inner).ok()?;
    is_hash(inner).then_some(inner)
}

/// The integer in `value` if it is written in plain digits, without a leading zero.
fn plain_integer(value: &[u8]) -> Option<u64> {
    if value.is_empty() || (value.len() > 1 && value[0] == b'0') || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

impl<'a> RecordedView<'a> {
    /// Reads `bytes` if they are the canonical JSON of a well-formed
    /// recorded event; `None` otherwise. Accepts only what
    /// [`Recorded::from_value`](crate::model::envelope::Recorded::from_value) accepts.
    pub fn read(bytes: &'a [u8], scratch: &mut Scratch) -> Option<RecordedView<'a>> {
        let (raw, _) = CanonicalReader::new(bytes)?.envelope(&mut scratch.buf, Mode::Recorded)?;
        raw.decode(scratch)
    }
}

/// An import's line read the fast way: `line`, if it is the canonical JSON
/// of an event as given (none of the members recording adds; an `id` or
/// id field, if any, in lowercase), read as [`Event::from_value_templated`](crate::model::event::Event::from_value_templated)
/// reads it (the id derived from the same bytes, and the same event), with
/// its envelope's template. `None` on anything else, valid or not: the
/// general path then reads it, and says what is wrong.
///
/// The event keeps its body as its canonical text, not as a map: an import
/// seals and stores it from the template and never builds the map.
pub(crate) fn event_line(line: &str, scratch: &mut Scratch) -> Option<(Event, EnvelopeTemplate)> {
    use canonical::Member::Str;
    let doc = line.as_bytes();
    let (raw, _) = CanonicalReader::new(doc)?.envelope(&mut scratch.buf, Mode::Body)?;
    let (ty, org, date, supersedes) = raw.checked(scratch)?;
    let given = if raw.has_id { Some(lowercase_id(raw.id)?) } else { None };
    let kind = EventKind::read(ty, &mut OwnedFields(FastFields { own: &raw.own }), given, supersedes).ok()?;
    let org = OrgId::parse(org).ok()?;
    let (id, body) = match given {
        Some(id) => (id, line.to_owned()),
        None => {
            // The canonical JSON of the body without `id` is the line itself.
            let id = derived_id(doc);
            let mut body = Vec::with_capacity(doc.len() + 48);
            let text = id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).to_owned();
            with_members(doc, [("id", Str(&text))], &mut body)?;
            (id, String::from_utf8(body).ok()?)
        }
    };
    let mut json = Vec::with_capacity(body.len() + 256);
    let spans = with_members(body.as_bytes(), EnvelopeTemplate::EMPTY, &mut json)?;
    let mut id_at = None;
    each_member(&json, |name, _, value, end| {
        if name == b"id" {
            // The value's quotes are not the id's.
            id_at = Some(value + 1..end - 1);
        }
        Some(())
    })?;
    let template = EnvelopeTemplate::from_written(json, spans, id_at?);
    Some((Event::from_canonical(id, org, date, supersedes, kind, body.into_boxed_str()), template))
}

/// Appends to `out` the object `doc` (as accord writes one: no whitespace,
/// members in canonical order, ASCII keys) with the members `extra` (ASCII
/// keys it does not hold) inserted in their places, and returns where each
/// lies in `out`, from its key's opening quote to the end of its value.
/// `None` if `doc` is not such an object or holds one of the keys.
fn with_members<const N: usize>(
    doc: &[u8],
    extra: [(&str, canonical::Member<'_>); N],
    out: &mut Vec<u8>,
) -> Option<[(usize, usize); N]> {
    let mut order: [usize; N] = std::array::from_fn(|i| i);
    order.sort_unstable_by_key(|&i| extra[i].0);
    let mut spans = [(0, 0); N];
    let mut next = order.iter().peekable();
    out.push(b'{');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, piece: Result<&[u8], usize>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        match piece {
            Ok(member) => out.extend_from_slice(member),
            Err(i) => spans[i] = canonical::write_member(extra[i].0, extra[i].1, out),
        }
    };
    each_member(doc, |name, at, _, end| {
        while let Some(&&i) = next.peek() {
            match extra[i].0.as_bytes().cmp(name) {
                std::cmp::Ordering::Less => put(out, Err(i)),
                std::cmp::Ordering::Equal => return None,
                std::cmp::Ordering::Greater => break,
            }
            next.next();
        }
        put(out, Ok(doc.get(at..end)?));
        Some(())
    })?;
    for &i in next {
        put(out, Err(i));
    }
    out.push(b'}');
    Some(spans)
}

/// Writes to `out` the canonical JSON of the event an envelope holds:
/// `doc`, the canonical JSON of an envelope (as [`Sealed::read`] accepts
/// it), without the members recording added ([`ENVELOPE_FIELDS`]). Members
/// keep their order, so what is left is canonical too. `None` if `doc` is
/// not an object read so.
pub fn event_of_envelope(doc: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    out.push(b'{');
    if doc.first() != Some(&b'{') {
        return None;
    }
    let mut at = 1;
    while doc.get(at) != Some(&b'}') {
        let name = skip_string(doc, at)?;
        if doc.get(name) != Some(&b':') {
            return None;
        }
        let end = skip_value(doc, name + 1)?;
        let key = doc.get(at + 1..name - 1)?;
        if !ENVELOPE_FIELDS.iter().any(|f| f.as_bytes() == key) {
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(doc.get(at..end)?);
        }
        match doc.get(end)? {
            b',' => at = end + 1,
            b'}' => at = end,
            _ => return None,
        }
    }
    if at + 1 != doc.len() {
        return None;
    }
    out.push(b'}');
    Some(())
}

/// The `seq`, `id` and where the `source` is in `doc`, a recorded event's
/// canonical JSON (as the org index keeps it), without reading the rest:
/// what `members` needs of a member's event when the org's roster names it.
/// A source is [`SourceAt::Bytes`] only as [`RecordedView::read`] would
/// find it (a string, or an object of a source's strings, written as JCS
/// writes it), else [`SourceAt::Other`]. `None` if `doc` is not an object
/// read so, or has no seq or id as accord writes them.
pub fn copy_id_and_source(doc: &[u8]) -> Option<(u64, Uuid, SourceAt)> {
    let (mut seq, mut id, mut source) = (None, None, SourceAt::None);
    each_member(doc, |name, _, value, end| {
        let bytes = doc.get(value..end)?;
        match name {
            b"id" if id.is_none() => id = Some(lowercase_id(std::str::from_utf8(quoted(bytes)?).ok()?)?),
            b"seq" if seq.is_none() => seq = Some(plain_integer(bytes)?),
            b"source" if source == SourceAt::None => source = source_at(bytes, value),
            b"id" | b"seq" | b"source" => return None,
            _ => {}
        }
        Some(())
    })?;
    Some((seq?, id?, source))
}

/// Walks the members of `doc`, a JSON object as accord stores it (no
/// whitespace, at least one member): `each` is given each member's name,
/// where the member starts, and where its value starts and ends. `None` if
/// `doc` is not such an object, or `each` says `None`.
fn each_member<'d>(doc: &'d [u8], mut each: impl FnMut(&'d [u8], usize, usize, usize) -> Option<()>) -> Option<()> {
    if doc.first() != Some(&b'{') {
        return None;
    }
    let mut at = 1;
    loop {
        let name = skip_string(doc, at)?;
        if doc.get(name) != Some(&b':') {
            return None;
        }
        let end = skip_value(doc, name + 1)?;
        each(doc.get(at + 1..name - 1)?, at, name + 1, end)?;
        match doc.get(end)? {
            b',' => at = end + 1,
            b'}' if end + 1 == doc.len() => return Some(()),
            _ => return None,
        }
    }
}

/// The inside of a JSON string without escapes.
fn quoted(value: &[u8]) -> Option<&[u8]> {
    let inner = value.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    (!inner.contains(&b'\\')).then_some(inner)
}

/// Where a source `value` that starts at `from` is, as
/// [`copy_id_and_source`] says it.
fn source_at(value: &[u8], from: usize) -> SourceAt {
    let bytes = || Some(SourceAt::Bytes(u32::try_from(from).ok()?, u32::try_from(from + value.len()).ok()?));
    let Some(mut reader) = CanonicalReader::new(value) else { return SourceAt::Other };
    let read = match value.first() {
        Some(b'"') => reader.text().map(|_| true),
        _ => reader.string_object(),
    };
    match read {
        Some(true) if reader.rest().is_empty() => bytes().unwrap_or(SourceAt::Other),
        _ => SourceAt::Other,
    }
}

/// The index just past the string starting at `at`.
fn skip_string(doc: &[u8], at: usize) -> Option<usize> {
    if doc.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    loop {
        // Eight bytes at a time to the next quote, backslash or control character.
        i += string_end(doc.get(i..)?)?;
        match doc[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// The index just past the value starting at `at`.
fn skip_value(doc: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    loop {
        match doc.get(i)? {
            b'"' => i = skip_string(doc, i)?,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            b',' if depth > 0 => i += 1,
            // The end of a number or literal.
            b',' | b'}' | b']' => return (i > at).then_some(i),
            _ => i += 1,
        }
        // A string, object or array ends where it closes.
        if depth == 0 && matches!(doc.get(at), Some(b'"' | b'{' | b'[')) {
            return Some(i);
        }
    }
}

/// A range of bytes, start and end.
type Span = (usize, usize);

/// Whether `hex` is the lowercase hex spelling of the 32-byte `digest`.
fn hex_equals(digest: &[u8; 32], hex: &str) -> bool {
    canonical::hex_spelling(digest).as_flattened() == hex.as_bytes()
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

/// A list of strings without escapes, as its text between the brackets
/// (`"a","b"`): no item holds a `"`, so `","` only ever separates two.
#[derive(Debug, Clone, Copy)]
struct List<'a>(&'a str);

impl<'a> List<'a> {
    fn items(self) -> impl Iterator<Item = &'a str> {
        // Without the outer quotes, split at each `"`: items and separators
        // alternate (`a`, `,`, `b`). A search for one byte, not for `","`,
        // whose searcher was made again for each list (1% of `audit
        // verify`'s samples).
        let inner = self.0.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
        inner.into_iter().flat_map(|s| s.split('"').step_by(2))
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
    /// An object of strings, canonical as read: whether each key is a
    /// member of a source (`SOURCE_FIELDS`).
    Strings {
        source_fields: bool,
    },
    Other(Value),
}

/// A reader of canonical JSON (RFC 8785) that refuses any other spelling.
struct CanonicalReader<'a> {
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
        let flags = flagged(word);
        if flags != 0 {
            // The lowest flag is exact: each test flags every byte it looks
            // for, and a false flag (a borrow from the byte below) only ever
            // sits above a true one.
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i)
}

/// Whether the key `key` sorts after `last` in byte order.
#[inline]
fn key_follows(key: &str, last: &str) -> bool {
    match (key.as_bytes().first(), last.as_bytes().first()) {
        (Some(a), Some(b)) if a != b => a > b,
        _ => key > last,
    }
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

impl<'a> CanonicalReader<'a> {
    fn new(bytes: &'a [u8]) -> Option<CanonicalReader<'a>> {
        Some(CanonicalReader { text: std::str::from_utf8(bytes).ok()?, at: 0 })
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

    /// A string of `len` bytes, without looking at them: for `hash` and
    /// `prev`, whose 64 bytes the caller checks are lowercase hex (so
    /// neither a quote, a backslash nor a control character), which
    /// [`CanonicalReader::plain`] looked for eight bytes at a time first
    /// (the two took 388 instructions an envelope more, callgrind).
    /// `None` unless a `"` follows them.
    fn fixed(&mut self, len: usize) -> Option<&'a str> {
        self.expect(b'"')?;
        let end = self.at.checked_add(len)?;
        if self.text.as_bytes().get(end) != Some(&b'"') {
            return None;
        }
        let s = self.text.get(self.at..end)?;
        self.at = end + 1;
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
        // A source is an object of strings: read here, without building it.
        let start = self.at;
        if let Some(source_fields) = self.string_object() {
            return Some(Loose::Strings { source_fields });
        }
        self.at = start;
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

    /// An object whose members are all strings, written as JCS writes it
    /// with ASCII keys (no escapes, in increasing byte order, each once):
    /// whether every key is one of `SOURCE_FIELDS`. `None` for any other
    /// object or value, which [`CanonicalReader::loose`] reads the general way.
    fn string_object(&mut self) -> Option<bool> {
        self.expect(b'{')?;
        let mut source_fields = true;
        let mut last: Option<&str> = None;
        if self.rest().first() == Some(&b'}') {
            self.at += 1;
            return Some(source_fields);
        }
        loop {
            let key = self.plain()?;
            // ASCII keys: byte order is JCS's order (UTF-16 code units).
            if !key.is_ascii() || last.is_some_and(|last| last >= key) {
                return None;
            }
            last = Some(key);
            source_fields &= SOURCE_FIELDS.contains(&key);
            self.expect(b':')?;
            if self.rest().first() != Some(&b'"') {
                return None;
            }
            self.text()?;
            match self.next()? {
                b',' => {}
                b'}' => return Some(source_fields),
                _ => return None,
            }
        }
    }

    /// An own field's value: a string, or a list of strings without escapes.
    fn own(&mut self) -> Option<Own<'a>> {
        match self.rest().first()? {
            b'"' => self.text().map(Own::Text),
            b'[' => self.list().map(Own::List),
            _ => None,
        }
    }

    /// Reads an envelope (`Mode::Chained`: with `hash` and `prev`, and
    /// where their members lie, each with the comma that joins it to a
    /// neighbour: cut out, they leave what is hashed), a recorded event
    /// (without either) or an event's body (without any member recording adds).
    fn envelope(mut self, buf: &mut Vec<u8>, mode: Mode) -> Option<(RawEnvelope<'a>, Option<[Span; 2]>)> {
        let mut env = RawEnvelope::default();
        let (mut hash, mut id, mut org, mut prev, mut recorded_at, mut seq, mut kind) =
            (false, false, false, false, false, false, false);
        let (mut cut, mut prev_cut) = (None, None);
        let mut owned = 0;
        let mut last = "";
        self.expect(b'{')?;
        loop {
            let start = self.at;
            let key = self.plain()?;
            // Canonical order: byte order for these ASCII keys, each once.
            // Most keys differ from the one before in their first byte:
            // compared alone, without a call to `memcmp` (its calls from
            // here took 217 instructions an envelope of `audit verify`).
            if !last.is_empty() && !key_follows(key, last) {
                return None;
            }
            last = key;
            self.expect(b':')?;
            match key {
                "date" => env.date = Some(self.plain()?),
                "details" => env.details = Some(self.loose(buf)?),
                // Checked to be hashes by every reader that takes them
                // (`Mode::Chained`: [`Sealed::read`]); the other modes refuse them.
                "hash" => {
                    (env.hash, hash) = (self.fixed(64)?, true);
                    // The first member takes the comma after it, any other the one before.
                    cut = Some(if start == 1 { (start, self.at + 1) } else { (start - 1, self.at) });
                }
                "id" => (env.id, id) = (self.plain()?, true),
                "note" => drop(self.text()?),
                "org" => (env.org, org) = (self.plain()?, true),
                "prev" => {
                    (env.prev, prev) = (self.fixed(64)?, true);
                    // Never first: `hash` sorts before it.
                    prev_cut = Some((start.checked_sub(1)?, self.at));
                }
                "recorded_at" => (env.recorded_at, recorded_at) = (self.plain()?, true),
                "recorded_by" => (_, env.recorded_by) = (self.text()?, true),
                "seq" => (env.seq, seq) = (self.integer()?, true),
                "source" => {
                    let from = self.at;
                    env.source = Some(self.loose(buf)?);
                    env.source_at = (from, self.at);
                }
                "supersedes" => env.supersedes = Some(self.plain()?),
                "type" => (env.kind, kind) = (self.plain()?, true),
                // Any other key may be an own field of the event's type,
                // which is known once all are read.
                _ => {
                    *env.own.get_mut(owned)? = Some((key, self.own()?));
                    owned += 1;
                }
            }
            match self.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        if !org || !kind || !self.rest().is_empty() {
            return None;
        }
        let recorded = id && recorded_at && seq && env.recorded_by;
        let none_recorded = !(recorded_at || seq || env.recorded_by || hash || prev);
        match (mode, hash, prev) {
            (Mode::Chained, true, true) if recorded => Some((env, Some([cut?, prev_cut?]))),
            (Mode::Recorded, false, false) if recorded => Some((env, None)),
            (Mode::Body, ..) if none_recorded => {
                env.has_id = id;
                Some((env, None))
            }
            _ => None,
        }
    }
}

/// What [`CanonicalReader::envelope`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A stored envelope, `hash` and `prev` included.
    Chained,
    /// A recorded event as the org index keeps it: without `hash` and `prev`.
    Recorded,
    /// An event as given: none of the members recording adds, `id` optional.
    Body,
}

/// An own field's value as read, before its type says what it must be.
#[derive(Debug)]
enum Own<'a> {
    Text(Cow<'a, str>),
    List(List<'a>),
}

/// Every field an envelope can have, typed as a valid one has it; the
/// event's own fields by name, as many as a type has at most.
#[derive(Debug, Default)]
struct RawEnvelope<'a> {
    date: Option<&'a str>,
    details: Option<Loose>,
    hash: &'a str,
    id: &'a str,
    org: &'a str,
    prev: &'a str,
    recorded_at: &'a str,
    recorded_by: bool,
    seq: u64,
    source: Option<Loose>,
    /// Where `source`'s value begins and ends.
    source_at: (usize, usize),
    supersedes: Option<&'a str>,
    kind: &'a str,
    own: [Option<(&'a str, Own<'a>)>; MAX_OWN],
    /// Whether a body ([`Mode::Body`]) gives an `id`.
    has_id: bool,
}

/// An id as accord writes it: a UUID, hyphenated, in lowercase.
fn lowercase_id(s: &str) -> Option<Uuid> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    parse_event_id(s).ok()
}

/// A string that is there and not blank.
fn required(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// The fast reader gave up: the general path will say why, if anything is wrong.
struct GiveUp;

impl From<ModelError> for GiveUp {
    fn from(_: ModelError) -> GiveUp {
        GiveUp
    }
}

/// The own fields of a [`RawEnvelope`], for [`EventKind::read`]: text is
/// checked, not kept.
struct FastFields<'r, 'a> {
    own: &'r [Option<(&'a str, Own<'a>)>; MAX_OWN],
}

impl<'a> FastFields<'_, 'a> {
    fn get(&self, field: &str) -> Option<&Own<'a>> {
        self.own.iter().flatten().find(|(key, _)| *key == field).map(|(_, value)| value)
    }

    fn str(&self, field: &str) -> Result<Option<&str>, GiveUp> {
        match self.get(field) {
            None => Ok(None),
            Some(Own::Text(t)) => Ok(Some(t.as_ref())),
            Some(Own::List(_)) => Err(GiveUp),
        }
    }
}

impl OwnFields for FastFields<'_, '_> {
    type Text = ();
    type Error = GiveUp;

    fn text(&mut self, _: &'static EventType, field: &'static str) -> Result<Option<()>, GiveUp> {
        Ok(self.str(field)?.map(drop))
    }

    fn required_text(&mut self, _: &'static EventType, field: &'static str) -> Result<(), GiveUp> {
        required(self.str(field)?).map(drop).ok_or(GiveUp)
    }

    /// A list of distinct party ids; a required one present and not empty.
    fn parties(&mut self, ty: &'static EventType, field: &'static str) -> Result<Vec<PartyId>, GiveUp> {
        let required = shape(ty, field) != Some(Shape::Parties { required: false });
        let items = match self.get(field) {
            None if required => return Err(GiveUp),
            None => return Ok(Vec::new()),
            Some(Own::List(items)) => *items,
            Some(Own::Text(_)) => return Err(GiveUp),
        };
        if required && items.is_empty() {
            return Err(GiveUp);
        }
        let mut out: Vec<PartyId> = Vec::with_capacity(1);
        for item in items.items() {
            let party = PartyId::parse(item)?;
            if out.contains(&party) {
                return Err(GiveUp);
            }
            out.push(party);
        }
        Ok(out)
    }

    fn status(&mut self, ty: &'static EventType, field: &'static str) -> Result<Status, GiveUp> {
        match (shape(ty, field), self.str(field)?) {
            (Some(Shape::Status { default: Some(default) }), None) => Ok(default),
            (Some(Shape::Status { default: Some(_) }), Some(s)) => Ok(Status::parse(s)?),
            (_, s) => Ok(Status::parse(required(s).ok_or(GiveUp)?)?),
        }
    }

    fn event_id(&mut self, _: &'static EventType, field: &'static str) -> Result<Uuid, GiveUp> {
        lowercase_id(required(self.str(field)?).ok_or(GiveUp)?).ok_or(GiveUp)
    }
}

/// [`FastFields`] that keep the text they read, for an [`Event`].
struct OwnedFields<'r, 'a>(FastFields<'r, 'a>);

impl OwnFields for OwnedFields<'_, '_> {
    type Text = String;
    type Error = GiveUp;

    fn text(&mut self, _: &'static EventType, field: &'static str) -> Result<Option<String>, GiveUp> {
        Ok(self.0.str(field)?.map(str::to_owned))
    }

    fn required_text(&mut self, _: &'static EventType, field: &'static str) -> Result<String, GiveUp> {
        required(self.0.str(field)?).map(str::to_owned).ok_or(GiveUp)
    }

    fn parties(&mut self, ty: &'static EventType, field: &'static str) -> Result<Vec<PartyId>, GiveUp> {
        self.0.parties(ty, field)
    }

    fn status(&mut self, ty: &'static EventType, field: &'static str) -> Result<Status, GiveUp> {
        self.0.status(ty, field)
    }

    fn event_id(&mut self, ty: &'static EventType, field: &'static str) -> Result<Uuid, GiveUp> {
        self.0.event_id(ty, field)
    }
}

impl<'a> RawEnvelope<'a> {
    /// The checks of [`Recorded::from_value`](crate::model::envelope::Recorded::from_value)
    /// and [`Event::from_value`](crate::model::event::Event::from_value), and
    /// the reading of what the rules need.
    fn decode(&self, scratch: &mut Scratch) -> Option<RecordedView<'a>> {
        if self.seq == 0 || !time_is_valid(self.recorded_at, &mut scratch.minute) {
            return None;
        }
        let id = lowercase_id(self.id)?;
        let (ty, org, date, supersedes) = self.checked(scratch)?;
        let mut kind = EventKind::read(ty, &mut FastFields { own: &self.own }, Some(id), supersedes).ok()?;
        let target = kind.target(supersedes);
        let members = kind.take_members();
        let step = date.and_then(|date| Step::of_kind(self.seq, id, date, &kind, members));
        let source = match (&self.source, u32::try_from(self.source_at.0), u32::try_from(self.source_at.1)) {
            (None, ..) => SourceAt::None,
            (Some(Loose::Text | Loose::Strings { .. }), Ok(from), Ok(to)) => SourceAt::Bytes(from, to),
            (Some(_), ..) => SourceAt::Other,
        };
        Some(RecordedView { seq: self.seq, recorded_at: self.recorded_at, id, org, target, step, source })
    }

    /// The checks of [`Event::from_value`](crate::model::event::Event::from_value)
    /// but for `id` and the own fields' values: its type, org (valid),
    /// date, `supersedes` (in lowercase), `details` and `source`.
    fn checked(
        &self,
        scratch: &mut Scratch,
    ) -> Option<(&'static EventType, &'a str, Option<EffectiveDate>, Option<Uuid>)> {
        let ty = event_type(self.kind)?;
        // Only fields of its own type.
        if self.own.iter().flatten().any(|(key, _)| ty.field(key).is_none()) {
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
            None if !ty.dated => None,
            None => return None,
        };
        let supersedes = match self.supersedes {
            Some(s) => Some(lowercase_id(s)?),
            None => None,
        };
        match &self.details {
            None | Some(Loose::Other(Value::Object(_)) | Loose::Strings { .. }) => {}
            Some(_) => return None,
        }
        match &self.source {
            None | Some(Loose::Text | Loose::Strings { source_fields: true }) => {}
            Some(Loose::Strings { source_fields: false }) => return None,
            Some(Loose::Other(Value::Object(o))) => {
                if o.iter().any(|(k, v)| !SOURCE_FIELDS.contains(&k.as_str()) || !v.is_string()) {
                    return None;
                }
            }
            Some(Loose::Other(_)) => return None,
        }
        Some((ty, org, date, supersedes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::envelope::{Envelope, GENESIS, format_time};
    use crate::model::event::TYPES;
    use crate::model::exact::read_envelope;
    use chrono::Utc;
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

    /// A minimal event of each row of the schema, sealed: both readers
    /// read it, and read the same (a new type cannot fall back to the slow path).
    #[test]
    fn every_type_of_the_schema_is_read_the_fast_way() {
        for (i, mut event) in crate::model::event::tests::minimal_events().into_iter().enumerate() {
            event.as_object_mut().unwrap().insert("id".into(), json!(ID));
            let text = canonical::to_canonical_string(&sealed(event, i as u64 + 1));
            let reading = agree(text.as_bytes()).unwrap_or_else(|| panic!("not read the fast way: {text}"));
            let record = text
                .replace(&format!(",\"hash\":\"{}\"", reading.3), "")
                .replace(&format!(",\"prev\":\"{}\"", reading.2), "");
            let view = RecordedView::read(record.as_bytes(), &mut Scratch::default());
            assert_eq!(
                view.map(|v| (v.seq, v.id, v.target, v.step)),
                Some((reading.0, reading.4, reading.6, reading.7)),
                "{text}"
            );
        }
    }

    /// An envelope less what recording added is the event's canonical JSON,
    /// as the event gives it: what a re-import compares.
    #[test]
    fn an_envelope_less_its_record_is_the_event_as_given() {
        let mut part = Vec::new();
        for (i, event) in events().into_iter().enumerate() {
            let expected = Event::from_value(event.clone()).unwrap().canonical();
            let text = canonical::to_canonical_string(&sealed(event, i as u64 + 1));
            assert_eq!(event_of_envelope(text.as_bytes(), &mut part), Some(()), "{text}");
            assert_eq!(String::from_utf8_lossy(&part), expected, "{text}");
        }
        for bad in [&b"[1]"[..], b"{\"a\":1", b"{\"a\":1}x", b"{\"seq\"}", b""] {
            assert_eq!(event_of_envelope(bad, &mut part), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(event_of_envelope(b"{\"seq\":1}", &mut part), Some(()));
        assert_eq!(part, b"{}");
    }

    /// Where the fast reader says a `source` is, its bytes are what
    /// `serde_json` writes for it: `members --json` copies them as they are.
    #[test]
    fn a_source_found_in_place_is_spelled_as_serde_json_spells_it() {
        let mut found = 0;
        let mut with_escapes = events();
        with_escapes[1].as_object_mut().unwrap().insert("source".into(), json!("é \u{1} \n \"q\" \\ \u{2028}"));
        for (i, event) in with_escapes.into_iter().enumerate() {
            let expected = event.get("source").map(|s| serde_json::to_string(s).unwrap());
            let mut env = sealed(event, i as u64 + 1);
            let map = env.as_object_mut().unwrap();
            map.remove("hash");
            map.remove("prev");
            let record = canonical::to_canonical_string(&env);
            let view = RecordedView::read(record.as_bytes(), &mut Scratch::default()).expect("read the fast way");
            match (view.source, expected) {
                (SourceAt::None, None) => {}
                (SourceAt::Bytes(from, to), Some(text)) => {
                    assert_eq!(&record[from as usize..to as usize], text, "{record}");
                    found += 1;
                }
                (at, text) => panic!("{at:?} for a source {text:?} in {record}"),
            }
        }
        assert_eq!(found, 3, "the object, the text with escapes, and the plain text");
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

    /// A source or details that is an object of strings is read without
    /// building it: only as the general way reads it. Any other content or
    /// spelling (keys out of order or twice, escaped or non-ASCII keys,
    /// values that are not strings, non-canonical escapes) is left to it.
    #[test]
    fn objects_of_strings_are_read_the_fast_way_only_as_the_general_way_reads_them() {
        let read_fast = [
            r#"{}"#,
            r#"{"title":"t"}"#,
            r#"{"published":"2020-12","publisher":"P","title":"a\"b\\c\n\u001f é ☃ 😀","url":"u"}"#,
        ];
        let others = [
            r#"{"title":"t","publisher":"P"}"#,
            r#"{"title":"t","title":"u"}"#,
            r#"{"colour":"red"}"#,
            r#"{"title":1}"#,
            r#"{"title":null}"#,
            r#"{"title":["t"]}"#,
            r#"{"title":{"a":"b"}}"#,
            r#"{"titl\u0065":"t"}"#,
            r#"{"tïtle":"t"}"#,
            r#"{"title":"a\u0022"}"#,
            r#"{"title":"a\/b"}"#,
            r#"{"title" :"t"}"#,
            r#"{"title":"t",}"#,
            r#"{"title":"t""#,
            r#"{"title":"t"}}"#,
            r#"{,"title":"t"}"#,
        ];
        for (i, raw) in read_fast.iter().chain(&others).enumerate() {
            for key in ["source", "details"] {
                let mut env = sealed(events().remove(0), 5);
                env.as_object_mut().unwrap().insert(key.into(), json!("PLACEHOLDER"));
                let text = canonical::to_canonical_string(&env).replace("\"PLACEHOLDER\"", raw);
                agree_rehashed(&text);
                let [of_content, _] = rehashed(&text);
                let fast_reads = agree(of_content.as_bytes()).is_some();
                let general_reads = general(of_content.as_bytes()).is_some();
                if i < read_fast.len() {
                    assert!(fast_reads, "{key} {raw} is read the fast way");
                } else {
                    assert!(!fast_reads || general_reads, "{key} {raw}");
                }
            }
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

    /// The chain links of every sealed envelope are what the full reader
    /// reads, and any one byte changed, added or removed breaks them.
    #[test]
    fn chain_reads_the_links_of_a_sealed_envelope_and_nothing_altered() {
        let mut read = 0;
        for (i, event) in events().into_iter().enumerate() {
            let bytes = canonical::to_canonical_string(&sealed(event, 5 + i as u64)).into_bytes();
            let Some(full) = Sealed::read(&bytes, &mut Scratch::default()) else { continue };
            read += 1;
            let chain = Chain::read(&bytes).unwrap();
            assert_eq!((chain.seq, chain.prev, chain.hash), (full.seq, full.prev, full.hash));
            for at in 0..bytes.len() {
                let mut changed = bytes.clone();
                for b in [b'0', b'"', b',', b'}', changed[at] ^ 1] {
                    changed[at] = b;
                    if changed != bytes {
                        assert_eq!(Chain::read(&changed), None, "{}", String::from_utf8_lossy(&changed));
                    }
                }
                let mut shorter = bytes.clone();
                shorter.remove(at);
                assert_eq!(Chain::read(&shorter), None);
            }
        }
        assert!(read >= 10, "only {read} of the sample envelopes were valid");
        // Not an envelope: no hash, a hash twice, a seq with a leading zero.
        let text = canonical::to_canonical_string(&sealed(events().swap_remove(0), 7));
        assert!(Chain::read(text.replace("\"seq\":7", "\"seq\":07").as_bytes()).is_none());
        assert!(Chain::read(text.replacen("\"hash\"", "\"hasi\"", 1).as_bytes()).is_none());
        let hash = text.split("\"hash\":").nth(1).unwrap().split(',').next().unwrap();
        assert!(Chain::read(text.replacen('{', &format!("{{\"hash\":{hash},"), 1).as_bytes()).is_none());
    }

    /// What the general path reads from an import's line: the event and
    /// its envelope's template, if it makes one.
    fn general_line(line: &str) -> Option<(Event, Option<EnvelopeTemplate>)> {
        let value = crate::model::event::parse_json(line).ok()?;
        Event::from_value_templated(value).ok()
    }

    /// The fast reader of lines never accepts what the general path
    /// refuses, and reads the same event: the same id, content and body,
    /// and the same envelope once sealed. Whether it read the line.
    fn line_agrees(line: &str) -> bool {
        let Some((fast, template)) = event_line(line, &mut Scratch::default()) else { return false };
        let (general, general_template) =
            general_line(line).unwrap_or_else(|| panic!("refused the general way: {line}"));
        assert_eq!(fast, general, "{line}");
        assert_eq!(fast.body(), general.body(), "{line}");
        assert_eq!(fast.canonical(), general.canonical(), "{line}");
        let seal = |event: Event, template: Option<&EnvelopeTemplate>| {
            Envelope::seal_template(
                event,
                template,
                9,
                "2024-05-06T07:08:09.123456Z".into(),
                "me".into(),
                GENESIS.into(),
            )
        };
        assert_eq!(seal(fast, Some(&template)), seal(general, general_template.as_ref()), "{line}");
        true
    }

    /// Every sample event, with its id and without, and a minimal event of
    /// each row of the schema, as canonical lines: read the fast way, as
    /// the general way reads them.
    #[test]
    fn canonical_event_lines_are_read_the_fast_way_as_the_general_way_reads_them() {
        let minimal = crate::model::event::tests::minimal_events();
        for event in events().into_iter().chain(minimal) {
            let mut without_id = event.clone();
            without_id.as_object_mut().unwrap().remove("id");
            for event in [event, without_id] {
                let line = canonical::to_canonical_string(&event);
                assert!(line_agrees(&line), "not read the fast way: {line}");
            }
        }
    }

    /// Every field of every sample event given each of [`values`], or
    /// removed, one at a time: the fast reader of lines agrees with the
    /// general one (or leaves the line to it).
    #[test]
    fn every_single_field_change_of_a_line_agrees() {
        let (mut accepted, mut tried) = (0, 0);
        for base in events() {
            for key in KEYS {
                for value in values() {
                    for remove in [false, true] {
                        let mut event = base.clone();
                        let map = event.as_object_mut().unwrap();
                        if remove {
                            map.remove(key);
                        } else {
                            map.insert(key.into(), value.clone());
                        }
                        tried += 1;
                        accepted += usize::from(line_agrees(&canonical::to_canonical_string(&event)));
                    }
                }
            }
        }
        assert!(accepted > 1000 && accepted < tried, "{accepted} of {tried}");
    }

    /// Lines that are not the canonical JSON of an event as given are left
    /// to the general path: other spellings, the members recording adds
    /// (an export's envelope), ids in capitals.
    #[test]
    fn other_lines_are_left_to_the_general_way() {
        let text = canonical::to_canonical_string(&events().remove(0));
        assert!(line_agrees(&text));
        let sealed = canonical::to_canonical_string(&sealed(events().remove(0), 3));
        let variants = [
            text.replace("Abu Dhabi", "Abu\\u0020Dhabi"),
            text.replace("{\"date", "{ \"date"),
            text.replace("\"org\":\"isa\",", "\"org\":\"isa\",\"org\":\"isa\","),
            text.replace("[\"ARE\",\"FRA\"]", "[\"ARE\" ,\"FRA\"]"),
            text.replace(ID, &ID.to_uppercase()),
            text.replace("é", "\\u00e9"),
            format!("{text} "),
            text.replacen("{", "{\"seq\":1,", 1),
            sealed,
        ];
        for (i, variant) in variants.iter().enumerate() {
            assert_ne!(*variant, text, "variant {i} changes nothing");
            assert!(event_line(variant, &mut Scratch::default()).is_none(), "variant {i}: {variant}");
        }
    }

    proptest! {
        /// The first-byte shortcut orders keys as byte order does.
        #[test]
        fn key_follows_is_byte_order(key in "[a-z_]{0,4}", last in "[a-z_]{1,4}") {
            prop_assert_eq!(key_follows(&key, &last), key > last);
            prop_assert_eq!(key_follows(&last, &key), last > key);
        }
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
}
