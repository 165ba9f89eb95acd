//! RFC 8785 JSON Canonicalization Scheme (JCS) for [`serde_json::Value`].

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::fmt::Write as _;

/// Appends the canonical form of `value` to `out`.
///
/// The canonical form is what the ledger hashes, so it must be byte-for-byte
/// stable and identical to what any conforming implementation (for instance
/// `JSON.stringify` in ECMAScript with sorted keys) produces:
///
/// * object members are sorted by their keys compared as sequences of UTF-16
///   code units, and no insignificant whitespace is written;
/// * strings are escaped exactly as ECMAScript's `JSON.stringify` escapes them;
/// * numbers are written as ECMAScript's `Number.prototype.toString` writes the
///   IEEE-754 double nearest to them (RFC 8785 §3.2.2.3), so integers beyond
///   2^53 lose precision exactly as they would in JavaScript (which is why
///   `number_kept` tells which literals keep their value, and events refuse
///   the others);
/// * the literals are `true`, `false` and `null`.
///
/// The serializer works with an explicit stack rather than recursion, so a
/// deeply nested value cannot overflow the thread's stack here, and it never
/// panics. Besides the output buffer, a document needs two allocations: the
/// stack of open containers and one shared vector of member references that
/// objects are sorted in.
///
/// Note: the digits are only as good as the doubles in the `Value`. With its
/// default features serde_json parses some 17-digit numbers to a neighbouring
/// double (its `float_roundtrip` feature fixes that), which would change the
/// canonical text of such a number read back from JSON text.
pub fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    let mut stack = Vec::new();
    let mut members = Vec::new();
    if matches!(value, Value::Array(_) | Value::Object(_)) {
        stack.reserve(8);
        members.reserve(32);
    }
    write_value(value, &mut stack, &mut members, out);
}

/// Appends the canonical form of the object `map` to `out`: the same as
/// [`write_canonical`] of `Value::Object(map.clone())`, without the clone.
pub fn write_canonical_map(map: &serde_json::Map<String, Value>, out: &mut Vec<u8>) {
    let mut stack = Vec::with_capacity(8);
    let mut members = Vec::with_capacity(32);
    if let Some(frame) = open_object(map, &mut members, out) {
        stack.push(frame);
    }
    write_open(&mut stack, &mut members, out);
}

/// Appends the canonical form of the object `map` plus one more member,
/// `key` with the string `value` (a key `map` does not hold), to `out`, and
/// returns where that member lies in `out`, with the comma that joins it to
/// a neighbour: cut out, the rest is the canonical form of `map` alone. One
/// writing gives both the stored form of an envelope and the hashed one.
pub(crate) fn write_canonical_map_with(
    map: &Map<String, Value>,
    key: &str,
    value: &str,
    out: &mut Vec<u8>,
) -> (usize, usize) {
    let [(start, end)] = write_canonical_map_members(map, [(key, Member::Str(value))], out);
    // The first member takes the comma after it, any other the one before.
    if start > 0 && out.get(start - 1) == Some(&b',') {
        (start - 1, end)
    } else if out.get(end) == Some(&b',') {
        (start, end + 1)
    } else {
        (start, end)
    }
}

/// The value of a member [`write_canonical_map_members`] writes besides a
/// map's own: a string or a number.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Member<'a> {
    Str(&'a str),
    /// Written as [`write_canonical`] writes `Value::from(u)`.
    U64(u64),
}

/// Appends the canonical form of the object `map` plus the members `extra`
/// (keys `map` does not hold, each given once) to `out`, and returns where
/// each of `extra` lies in `out`, in their order: from its key's opening
/// quote to the end of its value, without commas. [`cut_members`] cuts them
/// out again. The same as [`write_canonical`] of the map with those members
/// inserted, without building it.
pub(crate) fn write_canonical_map_members<const N: usize>(
    map: &Map<String, Value>,
    extra: [(&str, Member<'_>); N],
    out: &mut Vec<u8>,
) -> [(usize, usize); N] {
    let mut top: Vec<(&str, Result<&Value, usize>)> = Vec::with_capacity(map.len() + N);
    top.extend(map.iter().map(|(k, v)| (k.as_str(), Ok(v))));
    top.extend(extra.iter().enumerate().map(|(i, (k, _))| (*k, Err(i))));
    sort_members(&mut top);
    let mut stack = Vec::with_capacity(8);
    let mut members = Vec::with_capacity(32);
    let mut spans = [(0, 0); N];
    out.push(b'{');
    for (i, (key, member)) in top.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = out.len();
        write_string(key, out);
        out.push(b':');
        match member {
            Ok(v) => write_value(v, &mut stack, &mut members, out),
            Err(n) => {
                match extra.get(*n).map(|m| m.1) {
                    Some(Member::Str(s)) => write_string(s, out),
                    Some(Member::U64(u)) => write_number(&Number::from(u), out),
                    None => {}
                }
                if let Some(span) = spans.get_mut(*n) {
                    *span = (start, out.len());
                }
            }
        }
    }
    out.push(b'}');
    spans
}

/// Appends to `out` the canonical object `doc` with the members at `spans`
/// (as [`write_canonical_map_members`] returns them, any order) written
/// anew as `members` (the same keys, in the same order, other values), and
/// returns where each lies in `out`. `None` if a span is not in `doc` or
/// two overlap.
pub(crate) fn rewrite_members<const N: usize>(
    doc: &[u8],
    spans: &[(usize, usize); N],
    members: [(&str, Member<'_>); N],
    out: &mut Vec<u8>,
) -> Option<[(usize, usize); N]> {
    let mut order: [usize; N] = std::array::from_fn(|i| i);
    order.sort_unstable_by_key(|&i| spans[i].0);
    let mut written = [(0, 0); N];
    let mut from = 0;
    for i in order {
        let (start, end) = spans[i];
        out.extend_from_slice(doc.get(from..start)?);
        let (key, member) = members[i];
        written[i] = write_member(key, member, out);
        from = end;
    }
    out.extend_from_slice(doc.get(from..)?);
    Some(written)
}

/// Appends the member `key` with the value `member` to `out`, and returns
/// where it lies (from the key's opening quote to the end of the value).
pub(crate) fn write_member(key: &str, member: Member<'_>, out: &mut Vec<u8>) -> (usize, usize) {
    let at = out.len();
    write_string(key, out);
    out.push(b':');
    match member {
        Member::Str(s) => write_string(s, out),
        Member::U64(u) => write_number(&Number::from(u), out),
    }
    (at, out.len())
}

/// Gives `emit`, one piece after another, the canonical object `doc`
/// without the members that lie at `cuts` (each from its key's opening
/// quote to the end of its value, in order, as
/// [`write_canonical_map_members`] returns them), and the commas that joined
/// them: the canonical form of the object without those members, cut from
/// its bytes without writing it again.
pub(crate) fn cut_members<'a>(doc: &'a [u8], cuts: &[(usize, usize)], mut emit: impl FnMut(&'a [u8])) {
    // Between the braces, the text around the cut members falls into
    // pieces; each piece, once the commas at its ends that joined it to a
    // cut member are dropped, is kept members joined by commas (or nothing).
    let inner_end = doc.len().saturating_sub(1);
    let mut from = 1;
    let mut first = true;
    emit(b"{");
    for i in 0..=cuts.len() {
        let (to, next) = cuts.get(i).map_or((inner_end, inner_end), |&(s, e)| (s, e));
        let mut piece = doc.get(from..to).unwrap_or_default();
        if i > 0 {
            piece = piece.strip_prefix(b",").unwrap_or(piece);
        }
        if i < cuts.len() {
            piece = piece.strip_suffix(b",").unwrap_or(piece);
        }
        if !piece.is_empty() {
            if !first {
                emit(b",");
            }
            emit(piece);
            first = false;
        }
        from = next;
    }
    emit(b"}");
}

/// Appends the canonical form of `value`, with `stack` and `members` as
/// working space (empty before and after).
fn write_value<'a>(
    value: &'a Value,
    stack: &mut Vec<Frame<'a>>,
    members: &mut Vec<(&'a str, &'a Value)>,
    out: &mut Vec<u8>,
) {
    if let Some(frame) = open_value(value, members, out) {
        stack.push(frame);
    }
    write_open(stack, members, out);
}

/// Writes the rest of the open containers on `stack`, innermost last.
///
/// The members of every open object are kept, sorted, in the one `members`
/// vector (each object's after its parent's), so a whole document needs only
/// these two allocations.
fn write_open<'a>(stack: &mut Vec<Frame<'a>>, members: &mut Vec<(&'a str, &'a Value)>, out: &mut Vec<u8>) {
    while let Some(top) = stack.last_mut() {
        let child = match top {
            Frame::Array { items, first } => match items.next() {
                Some(item) => {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    item
                }
                None => {
                    out.push(b']');
                    stack.pop();
                    continue;
                }
            },
            Frame::Object { start, next } => match members.get(*next) {
                Some(&(key, item)) => {
                    if *next > *start {
                        out.push(b',');
                    }
                    *next += 1;
                    write_string(key, out);
                    out.push(b':');
                    item
                }
                None => {
                    out.push(b'}');
                    members.truncate(*start);
                    stack.pop();
                    continue;
                }
            },
        };
        if let Some(frame) = open_value(child, members, out) {
            stack.push(frame);
        }
    }
}

/// The canonical form as a String.
pub fn to_canonical_string(value: &serde_json::Value) -> String {
    let mut out = Vec::with_capacity(128);
    write_canonical(value, &mut out);
    // The output is built only from UTF-8 string contents and ASCII, so this
    // conversion cannot fail; the lossy variant keeps the function panic-free
    // without an `unwrap` all the same.
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Lowercase hex SHA-256 of the canonical form.
pub fn sha256_hex(value: &serde_json::Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    sha256_hex_bytes(&out)
}

/// Lowercase hex of any bytes' SHA-256 (helper used by the store).
pub fn sha256_hex_bytes(bytes: &[u8]) -> String {
    sha256_hex_parts(&[bytes])
}

/// Lowercase hex of the SHA-256 of `parts` one after the other.
pub(crate) fn sha256_hex_parts(parts: &[&[u8]]) -> String {
    let mut sha = Sha256::new();
    for part in parts {
        sha.update(part);
    }
    hex_digest(sha)
}

/// Lowercase hex of what `sha` has taken.
pub(crate) fn hex_digest(sha: Sha256) -> String {
    hex_spelling(&sha.finalize().into()).as_flattened().iter().copied().map(char::from).collect()
}

/// The 64 lowercase hex digits of a SHA-256 digest, two a byte from a
/// table (`as_flattened` gives them as one slice). `audit verify` checks
/// each stored hash against them: 175 instructions an envelope (callgrind),
/// against 457 comparing each digit as it was spelled, 319 spelling a
/// digit at a time, and 107 with a copy of this table in the check itself
/// (not kept: one spelling of a digest, the one `hex_digest` writes).
#[inline]
pub(crate) fn hex_spelling(digest: &[u8; 32]) -> [[u8; 2]; 32] {
    /// The two lowercase hex digits of each byte.
    const PAIRS: [[u8; 2]; 256] = {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut pairs = [[0u8; 2]; 256];
        let mut b = 0;
        while b < 256 {
            pairs[b] = [HEX[b >> 4], HEX[b & 0x0f]];
            b += 1;
        }
        pairs
    };
    let mut spelled = [[0u8; 2]; 32];
    for (pair, &b) in spelled.iter_mut().zip(digest) {
        *pair = PAIRS[usize::from(b)];
    }
    spelled
}

/// A container whose members are still being written.
enum Frame<'a> {
    Array {
        items: std::slice::Iter<'a, Value>,
        first: bool,
    },
    /// Its members are `members[start..]` of [`write_canonical`]'s shared
    /// vector; `next` indexes the next one to write.
    Object {
        start: usize,
        next: usize,
    },
}

/// Writes a scalar completely, or the opening bracket of a container and
/// returns the frame that writes its members.
fn open_value<'a>(value: &'a Value, members: &mut Vec<(&'a str, &'a Value)>, out: &mut Vec<u8>) -> Option<Frame<'a>> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.extend_from_slice(b"[]");
            } else {
                out.push(b'[');
                return Some(Frame::Array { items: items.iter(), first: true });
            }
        }
        Value::Object(map) => return open_object(map, members, out),
    }
    None
}

/// Writes an empty object completely, or the opening brace of a non-empty
/// one and returns the frame that writes its members.
fn open_object<'a>(
    map: &'a Map<String, Value>,
    members: &mut Vec<(&'a str, &'a Value)>,
    out: &mut Vec<u8>,
) -> Option<Frame<'a>> {
    if map.is_empty() {
        out.extend_from_slice(b"{}");
        return None;
    }
    out.push(b'{');
    let start = members.len();
    push_sorted_members(map, members);
    Some(Frame::Object { start, next: start })
}

/// Appends the members of `map` to `members` in canonical order.
fn push_sorted_members<'a>(map: &'a Map<String, Value>, members: &mut Vec<(&'a str, &'a Value)>) {
    let start = members.len();
    members.reserve(map.len());
    // Byte order of UTF-8 equals code point order, which equals UTF-16 code
    // unit order unless a key holds a character above U+FFFF (a surrogate pair
    // in UTF-16 sorts below U+E000..U+FFFF). Those characters are the only
    // ones whose UTF-8 encoding starts with a byte of 0xF0 or more.
    let mut supplementary = false;
    for (k, v) in map {
        supplementary |= !k.is_ascii() && k.bytes().any(|b| b >= 0xF0);
        members.push((k.as_str(), v));
    }
    let Some(own) = members.get_mut(start..) else {
        return;
    };
    sort_by_key(own, supplementary);
}

/// Sorts object members in canonical order.
fn sort_members<T>(members: &mut [(&str, T)]) {
    let supplementary = members.iter().any(|(k, _)| !k.is_ascii() && k.bytes().any(|b| b >= 0xF0));
    sort_by_key(members, supplementary);
}

/// Sorts object members by key: byte order, or UTF-16 order if a key holds
/// a character above U+FFFF (`supplementary`).
fn sort_by_key<T>(own: &mut [(&str, T)], supplementary: bool) {
    if supplementary {
        own.sort_unstable_by(|a, b| cmp_utf16(a.0, b.0));
    } else if !own.is_sorted_by(|a, b| a.0.as_bytes() <= b.0.as_bytes()) {
        // A map with `preserve_order` keeps insertion order; the default
        // BTreeMap is already in byte order, which needs no sorting here.
        own.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
}

/// Compares two strings as sequences of UTF-16 code units.
fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// For each byte: 0 if it is written as is, else the letter of its short
/// escape (`\n` ...), or `u` for `\u00XX`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0A] = b'n';
    t[0x0C] = b'f';
    t[0x0D] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Writes `s` as a JSON string literal escaped as ECMAScript's
/// `JSON.stringify` does.
fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[usize::from(b)];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if esc == b'u' {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        } else {
            out.extend_from_slice(&[b'\\', esc]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Integers of at most this magnitude are exact doubles, and ECMAScript
/// writes them as plain decimal integers.
pub(crate) const MAX_SAFE: u64 = 1 << 53;

/// Writes a number as ECMAScript writes the double nearest to it.
fn write_number(n: &Number, out: &mut Vec<u8>) {
    // Exact integers: no need to go through the double.
    if let Some(u) = n.as_u64()
        && u <= MAX_SAFE
    {
        write_u64(u, out);
        return;
    }
    if let Some(i) = n.as_i64()
        && i.unsigned_abs() <= MAX_SAFE
    {
        if i < 0 {
            out.push(b'-');
        }
        write_u64(i.unsigned_abs(), out);
        return;
    }
    match n.as_f64() {
        Some(f) => write_f64(f, out),
        // Only reachable with serde_json's `arbitrary_precision` feature, for a
        // number no double can hold; keep its own text rather than panic.
        None => out.extend_from_slice(n.to_string().as_bytes()),
    }
}

fn write_u64(mut u: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    loop {
        pos -= 1;
        // `u % 10` is below 10, so the cast cannot truncate.
        buf[pos] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[pos..]);
}

/// A fixed-size `fmt::Write` sink, so that formatting a double allocates
/// nothing.
struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf { buf: [0; 64], len: 0 }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
            None => Err(std::fmt::Error),
        }
    }
}

/// The shortest round-trip decimal of a positive double:
/// value = `digits` × 10^(`exp` − `len` + 1), `digits` having `len` (≤ 17)
/// decimal digits and no trailing zero.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Decimal {
    digits: u64,
    len: u32,
    exp: i32,
}

/// Writes a finite double as ECMAScript's `Number.prototype.toString` does
/// (ECMA-262 Number::toString, radix 10).
fn write_f64(f: f64, out: &mut Vec<u8>) {
    if f == 0.0 {
        // Both +0 and -0.
        out.push(b'0');
        return;
    }
    if !f.is_finite() {
        // Cannot come from a serde_json Value; JSON.stringify writes null.
        out.extend_from_slice(b"null");
        return;
    }
    if f < 0.0 {
        out.push(b'-');
    }
    let abs = f.abs();
    if abs < MAX_SAFE as f64 && abs.fract() == 0.0 {
        // An integer below 2^53: exact as u64, and written plainly.
        write_u64(abs as u64, out);
        return;
    }
    match shortest(abs) {
        Some(d) => layout(d, out),
        // Unreachable: Rust's `{:e}` always has the expected shape. Keep a
        // valid number rather than panic.
        None => {
            let _ = write!(VecWriter(out), "{abs:e}");
        }
    }
}

/// `fmt::Write` into a byte vector.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The digits ECMAScript chooses for a positive finite double: the shortest
/// that round-trip, the closest to the exact value among those, and of two
/// equally close the one with an even last digit.
///
/// Rust's `{:e}` (no precision) gives the shortest and closest digits but
/// breaks an exact tie upwards, so ties are detected and fixed here.
fn shortest(x: f64) -> Option<Decimal> {
    let mut sb = StackBuf::new();
    write!(sb, "{x:e}").ok()?;
    let d = parse_sci(sb.as_bytes())?;
    Some(break_tie_to_even(x, d))
}

/// Replaces `d` by the equally close neighbour with an even last digit when
/// `x` lies exactly halfway between them.
fn break_tie_to_even(x: f64, d: Decimal) -> Decimal {
    if d.digits.is_multiple_of(2) {
        return d;
    }
    // x = m × 2^a with m odd.
    let (m, a) = odd_significand(x);
    // The last digit has weight 10^(exp − len + 1); a tie lies half of that
    // away, at (10·digits ± 5) × 10^(exp − len). `digits` < 10^17, so the
    // arithmetic below cannot overflow.
    let q = d.exp - d.len as i32;
    let ten = d.digits * 10;
    let other = if is_exact(ten - 5, q, m, a) {
        d.digits - 1
    } else if is_exact(ten + 5, q, m, a) {
        d.digits + 1
    } else {
        return d;
    };
    // The other candidate is even and equally close; take it if it has the
    // same length and round-trips (near a power of two the rounding interval
    // is narrower below than above).
    if other.is_multiple_of(10) {
        return d;
    }
    let mut sb = StackBuf::new();
    if write!(sb, "{}e{}", other, q + 1).is_err() {
        return d;
    }
    let round_trips =
        std::str::from_utf8(sb.as_bytes()).ok().and_then(|s| s.parse::<f64>().ok()).is_some_and(|back| back == x);
    if round_trips { Decimal { digits: other, ..d } } else { d }
}

/// Splits a positive finite double into `(m, a)` with x = m × 2^a, m odd.
fn odd_significand(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let frac = bits & ((1u64 << 52) - 1);
    // The biased exponent has 11 bits, so it fits an i32.
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let (m, a) = if biased == 0 { (frac, -1074) } else { (frac | (1u64 << 52), biased - 1075) };
    if m == 0 {
        return (0, 0);
    }
    let tz = m.trailing_zeros();
    (m >> tz, a + tz as i32)
}

/// Whether `big` × 10^`q` (`big` odd) equals `m` × 2^`a` (`m` odd) exactly.
fn is_exact(big: u64, q: i32, m: u64, a: i32) -> bool {
    // big × 5^q × 2^q = m × 2^a with both odd parts odd: the powers of two
    // must agree, and then the odd parts.
    if big.is_multiple_of(2) || a != q {
        return false;
    }
    let pow5 = |e: u32| 5u64.checked_pow(e);
    if q >= 0 {
        pow5(q.unsigned_abs()).and_then(|p| p.checked_mul(big)).is_some_and(|v| v == m)
    } else {
        pow5(q.unsigned_abs()).and_then(|p| p.checked_mul(m)).is_some_and(|v| v == big)
    }
}

/// Parses Rust's `d[.ddd]e[-]x` form of a positive double.
fn parse_sci(sci: &[u8]) -> Option<Decimal> {
    let p = sci.iter().position(|&b| b == b'e')?;
    let (mantissa, exp_text) = (&sci[..p], &sci[p + 1..]);
    let mut digits: u64 = 0;
    let mut len: u32 = 0;
    for &b in mantissa {
        match b {
            b'0'..=b'9' => {
                digits = digits.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                len += 1;
            }
            b'.' => {}
            _ => return None,
        }
    }
    // Rust writes no trailing zeros, but be safe.
    while len > 1 && digits.is_multiple_of(10) {
        digits /= 10;
        len -= 1;
    }
    if digits == 0 || len > 17 || digits >= 10u64.pow(len) || digits < 10u64.pow(len - 1) {
        return None;
    }
    let (neg, exp_digits) = match exp_text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, exp_text),
    };
    if exp_digits.is_empty() || exp_digits.len() > 4 {
        return None;
    }
    let mut exp: i32 = 0;
    for &b in exp_digits {
        if !b.is_ascii_digit() {
            return None;
        }
        exp = exp * 10 + i32::from(b - b'0');
    }
    Some(Decimal { digits, len, exp: if neg { -exp } else { exp } })
}

/// Lays out a decimal by the ECMAScript rules (the sign is already written).
fn layout(d: Decimal, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut v = d.digits;
    while v > 0 && pos > 0 {
        pos -= 1;
        // `v % 10` is below 10, so the cast cannot truncate.
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let digits = &buf[pos..];
    let k = digits.len() as i32;
    // Value = 0.d1d2...dk × 10^n.
    let n = d.exp + 1;
    if k <= n && n <= 21 {
        // Integer: the digits followed by n − k zeros.
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        // Decimal point inside the digits.
        let (int, frac) = digits.split_at(n as usize);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else if -6 < n && n <= 0 {
        // 0.000ddd
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', n.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else {
        // Exponent form: d[.ddd]e±x.
        let (first, rest) = digits.split_at(1);
        out.extend_from_slice(first);
        if !rest.is_empty() {
            out.push(b'.');
            out.extend_from_slice(rest);
        }
        out.push(b'e');
        out.push(if d.exp < 0 { b'-' } else { b'+' });
        write_u64(u64::from(d.exp.unsigned_abs()), out);
    }
}

/// What the canonical form makes of a JSON number literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// The canonical form has the same decimal value, maybe spelled
    /// otherwise (`1.50` is written `1.5`, `1e300` is written `1e+300`).
    Exactly,
    /// A negative zero (`-0`, `-0.0e5`): the canonical form writes `0`.
    NegativeZero,
    /// Beyond the largest double: no double holds it.
    OutOfRange,
    /// The nearest double has another value (it was rounded, or it
    /// underflowed to 0); the canonical text of that double is left in the
    /// caller's buffer.
    Rounded,
    /// Not a JSON number literal, so not this function's to judge.
    NotANumber,
}

/// Whether the canonical form keeps the JSON number `literal` exactly: the
/// exact decimal value of the literal must equal that of the canonical text
/// of the double it parses to, and it must not be a negative zero.
///
/// The decimal values are compared as digits and exponents, with no float
/// arithmetic. `canonical` is scratch space for the canonical text; after
/// [`Kept::Rounded`] it holds the text the number would have become. A
/// plain integer of at most 15 digits is decided without it.
pub(crate) fn number_kept(literal: &str, canonical: &mut Vec<u8>) -> Kept {
    let Some(value) = ExactDecimal::parse(literal.as_bytes()) else {
        return Kept::NotANumber;
    };
    if value.is_zero() {
        return if value.negative { Kept::NegativeZero } else { Kept::Exactly };
    }
    // Below 10^15 < 2^53 an integer is a double exactly and is written as
    // such: most numbers in events are decided here.
    let unsigned = literal.strip_prefix('-').unwrap_or(literal);
    if unsigned.len() <= 15 && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Kept::Exactly;
    }
    // Rust's parser rounds correctly, as serde_json's does with its
    // `float_roundtrip` feature (and `as f64` for integers): the same double.
    let Ok(f) = literal.parse::<f64>() else {
        return Kept::NotANumber;
    };
    if !f.is_finite() {
        return Kept::OutOfRange;
    }
    canonical.clear();
    write_f64(f, canonical);
    match ExactDecimal::parse(canonical) {
        Some(written) if written.same_value(&value) => Kept::Exactly,
        _ => Kept::Rounded,
    }
}

/// The exact decimal value of a JSON number literal:
/// ±0.d₁d₂…dₖ × 10^`point`, where d₁…dₖ are the digits of `digits` (which
/// may hold the decimal point) from its first non-zero digit to its last.
#[derive(Debug)]
struct ExactDecimal<'a> {
    negative: bool,
    /// Empty for zero.
    digits: &'a [u8],
    point: i64,
}

impl<'a> ExactDecimal<'a> {
    /// Parses `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, nothing else.
    fn parse(literal: &'a [u8]) -> Option<ExactDecimal<'a>> {
        /// Exponents are clamped to this: far beyond any double's, and
        /// far from overflowing the arithmetic below.
        const CLAMP: i64 = 1 << 40;
        let (negative, rest) = match literal.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, literal),
        };
        let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if int_len == 0 || (int_len > 1 && rest.first() == Some(&b'0')) {
            return None;
        }
        let mut end = int_len;
        if rest.get(end) == Some(&b'.') {
            let frac_len = rest.get(end + 1..)?.iter().take_while(|b| b.is_ascii_digit()).count();
            if frac_len == 0 {
                return None;
            }
            end += 1 + frac_len;
        }
        let (mantissa, exp_text) = rest.split_at(end);
        let mut exp: i64 = 0;
        if let Some((&e, signed)) = exp_text.split_first() {
            if e != b'e' && e != b'E' {
                return None;
            }
            let (exp_negative, exp_digits) = match signed.split_first() {
                Some((b'-', d)) => (true, d),
                Some((b'+', d)) => (false, d),
                _ => (false, signed),
            };
            if exp_digits.is_empty() || !exp_digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            for &d in exp_digits {
                exp = (exp * 10 + i64::from(d - b'0')).min(CLAMP);
            }
            if exp_negative {
                exp = -exp;
            }
        }
        let nonzero = |b: &u8| b.is_ascii_digit() && *b != b'0';
        let (Some(first), Some(last)) = (mantissa.iter().position(nonzero), mantissa.iter().rposition(nonzero)) else {
            return Some(ExactDecimal { negative, digits: &[], point: 0 });
        };
        // The digits before the first non-zero one are all zeros; a point
        // among them is not a digit.
        let leading_zeros = if first > int_len { first - 1 } else { first };
        // Both counts are at most the literal's length, far below 2^40.
        let point = int_len as i64 - leading_zeros as i64 + exp;
        Some(ExactDecimal { negative, digits: mantissa.get(first..=last)?, point })
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn same_value(&self, other: &ExactDecimal<'_>) -> bool {
        self.negative == other.negative
            && self.point == other.point
            && self.digits.iter().filter(|&&b| b != b'.').eq(other.digits.iter().filter(|&&b| b != b'.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn canon_str(text: &str) -> String {
        let v: Value = serde_json::from_str(text).expect("test input parses");
        to_canonical_string(&v)
    }

    fn num(f: f64) -> String {
        to_canonical_string(&json!(f))
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the RFC's own spelling
    fn rfc8785_sample_object() {
        // The numbers are given as Rust literals, which are parsed exactly:
        // serde_json without its `float_roundtrip` feature reads
        // "333333333.33333329" as the neighbouring double 333333333.33333325.
        let mut v: Value = serde_json::from_str(
            r#"{
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }"#,
        )
        .expect("test input parses");
        if let Value::Object(m) = &mut v {
            m.insert("numbers".into(), json!([333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]));
        }
        let expected = "{\"literals\":[null,true,false],\
                        \"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
                        \"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(to_canonical_string(&v), expected);
        assert_eq!(
            to_canonical_string(&v).as_bytes(),
            b"{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn rfc8785_sorting_example() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let v: Value = serde_json::from_str(input).expect("parses");
        let out = to_canonical_string(&v);
        let expected_order = ["\r", "1", "\u{80}", "\u{f6}", "\u{20ac}", "\u{1f600}", "\u{fb33}"];
        let expected_values = [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small Letter O With Diaeresis",
            "Euro Sign",
            "Emoji: Grinning Face",
            "Hebrew Letter Dalet With Dagesh",
        ];
        let mut expected = String::from("{");
        for (i, (k, v)) in expected_order.iter().zip(expected_values).enumerate() {
            if i > 0 {
                expected.push(',');
            }
            expected.push_str(&to_canonical_string(&json!(k)));
            expected.push(':');
            expected.push_str(&to_canonical_string(&json!(v)));
        }
        expected.push('}');
        assert_eq!(out, expected);
        assert!(out.starts_with("{\"\\r\":\"Carriage Return\",\"1\":\"One\","));
    }

    #[test]
    fn utf16_order_differs_from_byte_order() {
        // U+10000 (surrogates D800 DC00) sorts before U+E000 in UTF-16,
        // though after it in UTF-8 byte order.
        let v = json!({"\u{e000}": 1, "\u{10000}": 2, "a": 3, "\u{ffff}": 4});
        assert_eq!(to_canonical_string(&v), "{\"a\":3,\"\u{10000}\":2,\"\u{e000}\":1,\"\u{ffff}\":4}");
    }

    #[test]
    fn number_table() {
        let cases: &[(Value, &str)] = &[
            (json!(0), "0"),
            (json!(0.0), "0"),
            (json!(-0.0), "0"),
            (json!(1), "1"),
            (json!(-1), "-1"),
            (json!(1.0), "1"),
            (json!(-1.0), "-1"),
            (json!(1.5), "1.5"),
            (json!(-1.5), "-1.5"),
            (json!(0.1), "0.1"),
            (json!(0.3), "0.3"),
            (json!(0.1 + 0.2), "0.30000000000000004"),
            (json!(1e21), "1e+21"),
            (json!(-1e21), "-1e+21"),
            (json!(1e20), "100000000000000000000"),
            (json!(1e-7), "1e-7"),
            (json!(1.5e-7), "1.5e-7"),
            (json!(-1.5e-7), "-1.5e-7"),
            (json!(0.000001), "0.000001"),
            (json!(0.0000015), "0.0000015"),
            (json!(123456789012345680000.0), "123456789012345680000"),
            (json!(5e-324), "5e-324"),
            (json!(-5e-324), "-5e-324"),
            (json!(1.7976931348623157e308), "1.7976931348623157e+308"),
            (json!(9007199254740993u64), "9007199254740992"),
            (json!(-9007199254740993i64), "-9007199254740992"),
            (json!(9007199254740992u64), "9007199254740992"),
            (json!(-9007199254740992i64), "-9007199254740992"),
            (json!(9007199254740991u64), "9007199254740991"),
            (json!(u64::MAX), "18446744073709552000"),
            (json!(i64::MIN), "-9223372036854776000"),
            (json!(i64::MAX), "9223372036854776000"),
            (json!(1e23), "1e+23"),
            (json!(4.5), "4.5"),
            (json!(2e-3), "0.002"),
            (json!(1e30), "1e+30"),
            (json!(1e-27), "1e-27"),
            (json!(333333333.3333333), "333333333.3333333"),
            (json!(123.456), "123.456"),
            (json!(1e15), "1000000000000000"),
            (json!(1.2345e-5), "0.000012345"),
            (json!(2.5e25), "2.5e+25"),
            (json!(295147905179352830000.0), "295147905179352830000"),
            (json!(4.35), "4.35"),
            (json!(0.5), "0.5"),
            (json!(2.2250738585072014e-308), "2.2250738585072014e-308"),
            (json!(0.1 + 0.7), "0.7999999999999999"),
            (json!(5e-7), "5e-7"),
            (json!(1e-6), "0.000001"),
            (json!(1.23e-18), "1.23e-18"),
            (json!(2f64.powi(60)), "1152921504606847000"),
            (json!(2f64.powi(70)), "1.1805916207174113e+21"),
            (json!(27021597764222979u64), "27021597764222980"),
            // Exact ties between two shortest candidates: ECMAScript takes
            // the even one, where Rust's `{:e}` rounds up.
            (json!(1784002446276883.0 + 0.25), "1784002446276883.2"),
            (json!(640529183054653.0 + 0.25), "640529183054653.2"),
            (json!(19296476747912.0 + 0.5625), "19296476747912.562"),
            (json!(2f64.powi(-25)), "2.9802322387695312e-8"),
            (json!(2f64.powi(-24)), "5.960464477539063e-8"),
        ];
        for (v, expected) in cases {
            assert_eq!(to_canonical_string(v), *expected, "for {v:?}");
        }
        assert_eq!(num(f64::MIN_POSITIVE), "2.2250738585072014e-308");
    }

    #[test]
    fn parsed_number_text() {
        // Numbers as they arrive in imported JSON text.
        let cases = [
            ("1E30", "1e+30"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("0.000000000000000000000000001", "1e-27"),
            ("9007199254740993", "9007199254740992"),
            ("-9007199254740993", "-9007199254740992"),
            ("100", "100"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("1.0", "1"),
            ("1e2", "100"),
            ("0.1e1", "1"),
        ];
        for (text, expected) in cases {
            assert_eq!(canon_str(text), expected, "for {text}");
        }
    }

    #[test]
    fn string_escaping_table() {
        let cases: &[(&str, &str)] = &[
            ("", r#""""#),
            ("plain", r#""plain""#),
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("/", r#""/""#),
            ("\u{8}", r#""\b""#),
            ("\t", r#""\t""#),
            ("\n", r#""\n""#),
            ("\u{c}", r#""\f""#),
            ("\r", r#""\r""#),
            ("\u{0}", r#""\u0000""#),
            ("\u{1}", r#""\u0001""#),
            ("\u{b}", r#""\u000b""#),
            ("\u{e}", r#""\u000e""#),
            ("\u{f}", r#""\u000f""#),
            ("\u{1a}", r#""\u001a""#),
            ("\u{1f}", r#""\u001f""#),
            (" ", r#"" ""#),
            ("\u{7f}", "\"\u{7f}\""),
            ("\u{80}", "\"\u{80}\""),
            ("\u{2028}\u{2029}", "\"\u{2028}\u{2029}\""),
            ("\u{1f600}", "\"\u{1f600}\""),
            ("\u{20ac}", "\"\u{20ac}\""),
            ("\u{feff}", "\"\u{feff}\""),
            ("a\"b\\c\nd\u{1}e", r#""a\"b\\c\nd\u0001e""#),
        ];
        for (input, expected) in cases {
            assert_eq!(to_canonical_string(&json!(input)), *expected, "for {input:?}");
        }
    }

    #[test]
    fn escaping_all_controls_matches_ecmascript() {
        for c in 0u32..0x20 {
            let ch = char::from_u32(c).expect("valid char");
            let out = to_canonical_string(&json!(ch.to_string()));
            let expected = match c {
                0x08 => "\"\\b\"".to_string(),
                0x09 => "\"\\t\"".to_string(),
                0x0A => "\"\\n\"".to_string(),
                0x0C => "\"\\f\"".to_string(),
                0x0D => "\"\\r\"".to_string(),
                _ => format!("\"\\u{c:04x}\""),
            };
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn structure_and_literals() {
        let v = json!({
            "b": [1, {"z": null, "a": true}, [], {}],
            "a": false,
            "": "empty key",
        });
        assert_eq!(to_canonical_string(&v), r#"{"":"empty key","a":false,"b":[1,{"a":true,"z":null},[],{}]}"#);
        assert_eq!(to_canonical_string(&json!(null)), "null");
        assert_eq!(to_canonical_string(&json!([])), "[]");
        assert_eq!(to_canonical_string(&json!({})), "{}");
        assert_eq!(to_canonical_string(&json!([[[]]])), "[[[]]]");
    }

    #[test]
    fn write_canonical_map_matches_value() {
        let v = json!({"\u{e000}": [1.5, {"y": 1, "x": 2}], "\u{1f600}": null, "a": {}});
        let Value::Object(map) = &v else {
            panic!("object");
        };
        let mut out = b"[".to_vec();
        write_canonical_map(map, &mut out);
        assert_eq!(out, format!("[{}", to_canonical_string(&v)).into_bytes());
        let mut out = Vec::new();
        write_canonical_map(&Map::new(), &mut out);
        assert_eq!(out, b"{}");
    }

    #[test]
    fn write_canonical_appends() {
        let mut out = b"prefix:".to_vec();
        write_canonical(&json!({"b": 1, "a": [2]}), &mut out);
        assert_eq!(out, br#"prefix:{"a":[2],"b":1}"#);
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let depth = 100_000;
        let mut v = json!(1);
        for i in 0..depth {
            v = if i % 2 == 0 {
                Value::Array(vec![v])
            } else {
                let mut m = Map::new();
                m.insert("k".into(), v);
                Value::Object(m)
            };
        }
        let s = to_canonical_string(&v);
        assert_eq!(s.len(), 1 + depth / 2 * 2 + depth / 2 * 6);
        // Dismantle without recursive drop.
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(items) => stack.extend(items),
                Value::Object(m) => stack.extend(m.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }

    #[test]
    fn hashes() {
        assert_eq!(sha256_hex_bytes(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex_bytes(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let v = json!({"b": 2, "a": 1});
        assert_eq!(sha256_hex(&v), sha256_hex_bytes(br#"{"a":1,"b":2}"#));
        assert_eq!(sha256_hex(&v).len(), 64);
    }

    /// Equality that compares numbers by their double value, as the
    /// canonical form does.
    fn json_eq(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
            }
            _ => a == b,
        }
    }

    fn arb_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            (-1_000_000i64..1_000_000, 0u32..12).prop_map(|(m, s)| m as f64 / 10f64.powi(s as i32)),
            (1u32..9, -30i32..30).prop_map(|(d, e)| f64::from(d) * 10f64.powi(e)),
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(MAX_SAFE as i64)..=MAX_SAFE as i64).prop_map(|i| json!(i)),
            any::<u64>().prop_map(|u| json!(u)),
            any::<i64>().prop_map(|i| json!(i)),
            arb_f64()
                .prop_filter("serde_json reads it back exactly", |&f| {
                    serde_json::from_str::<f64>(&num(f)).is_ok_and(|g| g == f)
                })
                .prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::String),
            "[a-z\u{7f}-\u{a0}\u{e000}\u{ffff}\u{10000}\u{1f600}\"\\\\\u{0}-\u{1f}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(
                    (prop_oneof![any::<String>(), "[a-c\u{e000}\u{ffff}\u{10000}\u{1f600}\u{0}\"]{0,3}"], inner),
                    0..8
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn round_trips_and_is_idempotent(v in arb_json()) {
            let s = to_canonical_string(&v);
            let parsed: Value = serde_json::from_str(&s)
                .map_err(|e| TestCaseError::fail(format!("{e}: {s}")))?;
            prop_assert!(json_eq(&v, &parsed), "{s}");
            prop_assert_eq!(to_canonical_string(&parsed), s.clone());
            prop_assert_eq!(sha256_hex(&v), sha256_hex_bytes(s.as_bytes()));
        }

        #[test]
        fn doubles_round_trip_exactly(f in arb_f64()) {
            let s = num(f);
            // Rust's parser is correctly rounded, so this checks the digits.
            let back: f64 = s.parse()
                .map_err(|e| TestCaseError::fail(format!("{e}: {s}")))?;
            prop_assert_eq!(back, if f == 0.0 { 0.0 } else { f }, "{}", s);
            prop_assert!(!s.contains('E') && !s.starts_with('+') && !s.starts_with('.'));
            // Plain form exactly when 1e-6 <= |f| < 1e21 (or zero).
            let plain = f == 0.0 || (1e-6 <= f.abs() && f.abs() < 1e21);
            prop_assert_eq!(!s.contains('e'), plain, "{}", s);
            if plain && s.contains('.') {
                prop_assert!(!s.ends_with('0'), "{}", s);
            }
        }

        #[test]
        fn large_integers_go_through_f64(u in any::<u64>(), i in any::<i64>()) {
            prop_assert_eq!(to_canonical_string(&json!(u)), num(u as f64));
            prop_assert_eq!(to_canonical_string(&json!(i)), num(i as f64));
        }

        #[test]
        fn utf16_comparison_matches_reference(a in any::<String>(), b in any::<String>()) {
            let ua: Vec<u16> = a.encode_utf16().collect();
            let ub: Vec<u16> = b.encode_utf16().collect();
            prop_assert_eq!(cmp_utf16(&a, &b), ua.cmp(&ub));
            let v = json!({ a.clone(): 1, b.clone(): 2, "x": 3, "\u{e000}": 4 });
            let mut members = vec![("zzz", &v)];
            push_sorted_members(v.as_object().ok_or_else(|| TestCaseError::fail("object"))?, &mut members);
            prop_assert_eq!(members[0].0, "zzz");
            let members = &members[1..];
            for w in members.windows(2) {
                let x: Vec<u16> = w[0].0.encode_utf16().collect();
                let y: Vec<u16> = w[1].0.encode_utf16().collect();
                prop_assert!(x < y);
            }
        }
    }

    fn kept(literal: &str) -> Kept {
        number_kept(literal, &mut Vec::new())
    }

    #[test]
    fn numbers_are_kept_exactly_or_not() {
        use Kept::*;
        let cases = [
            // The same value, maybe spelled otherwise.
            ("0", Exactly),
            ("0.0", Exactly),
            ("0e0", Exactly),
            ("0E-5", Exactly),
            ("0.000e+99999999999999999999", Exactly),
            ("1", Exactly),
            ("-3", Exactly),
            ("2020", Exactly),
            ("1.0", Exactly),
            ("1.50", Exactly),
            ("0.1", Exactly),
            ("-0.1", Exactly),
            ("1E2", Exactly),
            ("1e+2", Exactly),
            ("1E-2", Exactly),
            ("100e-2", Exactly),
            ("0.001e3", Exactly),
            ("0.00001e+0005", Exactly),
            ("1e300", Exactly),
            ("1.5e-7", Exactly),
            ("-1.5E-0007", Exactly),
            ("1e21", Exactly),
            ("1e20", Exactly),
            ("999999999999999", Exactly),
            ("-999999999999999", Exactly),
            ("1000000000000000", Exactly),
            ("9007199254740991", Exactly),
            ("9007199254740992", Exactly),
            ("-9007199254740992", Exactly),
            ("9007199254740992.000", Exactly),
            ("18446744073709552000", Exactly),
            ("123456789012345680000", Exactly),
            ("1.7976931348623157e308", Exactly),
            ("-1.7976931348623157E+308", Exactly),
            ("5e-324", Exactly),
            ("2.2250738585072014e-308", Exactly),
            ("0.30000000000000004", Exactly),
            ("333333333.3333333", Exactly),
            ("1784002446276883.2", Exactly),
            // A negative zero: the canonical form writes 0.
            ("-0", NegativeZero),
            ("-0.0", NegativeZero),
            ("-0e5", NegativeZero),
            ("-0.000E-3", NegativeZero),
            // No double is that large.
            ("1e400", OutOfRange),
            ("-1e400", OutOfRange),
            ("1.8e308", OutOfRange),
            ("1e99999999999999999999", OutOfRange),
            // The nearest double has another value.
            ("9007199254740993", Rounded),
            ("-9007199254740993", Rounded),
            ("18446744073709551616", Rounded),
            ("123456789012345678901234567890", Rounded),
            ("1e-400", Rounded),
            ("-1e-400", Rounded),
            ("1e-99999999999999999999", Rounded),
            ("1.7976931348623158e308", Rounded),
            ("333333333.33333329", Rounded),
            ("0.10000000000000001", Rounded),
            // This literal's exact value IS the exact value of the double
            // 0.1, but the canonical text of that double is `0.1`, whose
            // decimal value differs: what is exported would not be what was
            // given, so it is refused. The rule compares the literal with
            // the canonical text, never with the double.
            ("0.1000000000000000055511151231257827021181583404541015625", Rounded),
            // The same with a tie: the double is exactly …883.25, and
            // ECMAScript writes it …883.2 (the even neighbour).
            ("1784002446276883.25", Rounded),
            ("1784002446276883.3", Rounded),
            // Not JSON number literals: not this function's to refuse.
            ("", NotANumber),
            ("-", NotANumber),
            ("01", NotANumber),
            ("-01", NotANumber),
            ("1.", NotANumber),
            (".5", NotANumber),
            ("1e", NotANumber),
            ("1e+", NotANumber),
            ("+1", NotANumber),
            ("1.5.5", NotANumber),
            ("1e5e5", NotANumber),
            ("--1", NotANumber),
            ("1-2", NotANumber),
            ("Infinity", NotANumber),
            ("NaN", NotANumber),
            ("0x10", NotANumber),
        ];
        for (literal, expected) in cases {
            assert_eq!(kept(literal), expected, "for {literal}");
        }
    }

    #[test]
    fn a_rounded_number_leaves_what_it_would_become() {
        let cases = [
            ("18446744073709551616", "18446744073709552000"),
            ("123456789012345678901234567890", "1.2345678901234568e+29"),
            ("1e-400", "0"),
            ("-9007199254740993", "-9007199254740992"),
            ("0.1000000000000000055511151231257827021181583404541015625", "0.1"),
        ];
        let mut canonical = b"left over".to_vec();
        for (literal, expected) in cases {
            assert_eq!(number_kept(literal, &mut canonical), Kept::Rounded, "for {literal}");
            assert_eq!(String::from_utf8_lossy(&canonical), expected, "for {literal}");
        }
    }

    /// The reference: a literal's exact decimal value as (negative, digits
    /// without leading or trailing zeros, exponent of 0.digits), built with
    /// string operations.
    fn reference_value(literal: &str) -> (bool, String, i64) {
        let (negative, rest) = match literal.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, literal),
        };
        let (mantissa, exp) = match rest.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i64>().expect("a small exponent")),
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all = format!("{int}{frac}");
        let significant = all.trim_start_matches('0');
        if significant.is_empty() {
            return (negative, String::new(), 0);
        }
        let leading = (all.len() - significant.len()) as i64;
        (negative, significant.trim_end_matches('0').to_owned(), int.len() as i64 - leading + exp)
    }

    /// Whether the canonical form keeps `literal`, by the reference.
    fn reference_kept(literal: &str) -> bool {
        let value = reference_value(literal);
        if value.1.is_empty() {
            return !value.0;
        }
        let f: f64 = literal.parse().expect("a JSON number");
        f.is_finite() && reference_value(&num(f)) == value
    }

    /// JSON number literals, most of them not kept (long or far out).
    fn arb_literal() -> impl Strategy<Value = String> {
        prop_oneof![
            "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?",
            "-?[1-9][0-9]{0,3}(\\.[0-9]{0,3}[1-9]0{0,2})?([eE]-?[0-9]{1,2})?",
            "-?0(\\.0{1,3})?([eE][+-]?[0-9]{1,3})?",
            "-?[1-9][0-9]{14,17}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn canonical_numbers_are_kept(f in arb_f64().prop_filter("not -0", |f| f.to_bits() != (-0.0f64).to_bits())) {
            let text = num(f);
            prop_assert_eq!(kept(&text), Kept::Exactly, "{}", text);
            // Spelled otherwise, with the same value.
            let (negative, digits, point) = reference_value(&text);
            let sign = if negative { "-" } else { "" };
            if !digits.is_empty() {
                for other in [
                    format!("{sign}0.{digits}e{point}"),
                    format!("{sign}0.{digits}000E{point:+}"),
                    format!("{sign}{digits}e{}", point - digits.len() as i64),
                ] {
                    prop_assert_eq!(kept(&other), Kept::Exactly, "{} for {}", other, text);
                }
            }
        }

        #[test]
        fn literals_are_kept_as_the_reference_says(literal in arb_literal()) {
            let got = kept(&literal);
            prop_assert_eq!(got == Kept::Exactly, reference_kept(&literal), "{} gave {:?}", literal, got);
            let (negative, digits, _) = reference_value(&literal);
            prop_assert_eq!(got == Kept::NegativeZero, negative && digits.is_empty(), "{}", literal);
            let infinite = literal.parse::<f64>().is_ok_and(f64::is_infinite);
            prop_assert_eq!(got == Kept::OutOfRange, infinite, "{}", literal);
        }
    }
}
