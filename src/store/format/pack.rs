//! Packed values (log blocks, org chunks): `z`, the payload's length (u32 LE), the payload compressed by zstd.

use std::cell::RefCell;
use std::ops::Range;

use crate::store::error::{Error, Oversized};

/// Envelopes per log block and per org chunk at most. Blocks start at seqs
/// 1, 65, 129, …: an append fills the last block (reads and rewrites it)
/// before it starts the next. 64 envelopes pack to about 5 KB.
pub const BLOCK: usize = 64;

/// The largest payload a packed value may claim: [`BLOCK`] envelopes of
/// the largest event accepted, with room for the envelope fields.
const MAX_PAYLOAD: usize = BLOCK * (80 * 1024);

/// The most room [`pack`]'s payload keeps between values: a block of
/// events of ordinary size, not one of the largest.
const PAYLOAD_KEPT: usize = 256 * 1024;

/// zstd level: 1 is the fastest; higher levels gained little on envelopes.
const ZSTD_LEVEL: i32 = 1;

/// Envelopes as stored together: each one's seq and bytes (in a log block,
/// the envelope's canonical JSON, one line of `accord export`; in an org
/// chunk, the same without `prev` and `hash`).
pub type Packed = Vec<(u64, Vec<u8>)>;

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = RefCell::new(
        zstd::bulk::Compressor::new(ZSTD_LEVEL).ok().and_then(|mut c| {
            c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).ok()?;
            Some(c)
        }),
    );
    // [`pack`]'s payload, kept from one value to the next: one made for
    // each block and org chunk, grown to about 27 KB as it was filled, was
    // about 1% of an import's instructions.
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    // A decompression context per thread: creating one per value was an
    // eighth of `audit verify`'s time.
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        RefCell::new(zstd::bulk::Decompressor::new().ok());
}

/// Packs envelopes (seq and bytes, in order) into a stored value: the
/// payload is, for each, its seq (u64 LE), its length (u32 LE) and its
/// bytes; it is compressed by zstd with its content checksum.
pub fn pack<'a>(envelopes: impl IntoIterator<Item = (u64, &'a [u8])>) -> Result<Vec<u8>, Error> {
    PAYLOAD.with(|kept| {
        // The thread's buffer, or a new one were it already in use (no
        // caller packs while it packs).
        let mut own = Vec::new();
        let mut kept = kept.try_borrow_mut();
        let payload = match kept.as_deref_mut() {
            Ok(kept) => kept,
            Err(_) => &mut own,
        };
        payload.clear();
        for (seq, bytes) in envelopes {
            let len = u32::try_from(bytes.len()).map_err(|_| Error::TooLarge(Oversized::Envelope))?;
            payload.extend_from_slice(&seq.to_le_bytes());
            payload.extend_from_slice(&len.to_le_bytes());
            payload.extend_from_slice(bytes);
        }
        let packed = compress(payload);
        if payload.capacity() > PAYLOAD_KEPT {
            *payload = Vec::new();
        }
        packed
    })
}

/// Packs bytes of any kind into a stored value, as [`pack`] packs its
/// payload: `z`, their length (u32 LE), and them compressed by zstd with
/// its content checksum (an org's roster).
pub fn compress(payload: &[u8]) -> Result<Vec<u8>, Error> {
    let len = u32::try_from(payload.len()).map_err(|_| Error::TooLarge(Oversized::Block))?;
    let compressed = COMPRESSOR
        .with(|c| c.borrow_mut().as_mut().map(|c| c.compress(payload)))
        .ok_or(Error::ZstdStart)?
        .map_err(Error::Compress)?;
    let mut out = Vec::with_capacity(5 + compressed.len());
    out.push(b'z');
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&compressed);
    Ok(out)
}

/// The bytes [`compress`] packed; `None` if the value is damaged.
pub fn decompress(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    decompress_onto(value, &mut out)?;
    Some(out)
}

/// The length of the payload a stored value says it packs, if at most
/// the largest a value may claim (0 otherwise): room to make for it.
pub fn payload_len(value: &[u8]) -> usize {
    match value.get(1..5).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) {
        Some(len) if len <= MAX_PAYLOAD => len,
        _ => 0,
    }
}

/// [`decompress`] onto the end of `into`, leaving what it added when it fails.
fn decompress_onto(value: &[u8], into: &mut Vec<u8>) -> Option<()> {
    let (&tag, rest) = value.split_first()?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    if tag != b'z' || len > MAX_PAYLOAD {
        return None;
    }
    let start = into.len();
    into.reserve(len);
    // Written at the end of `into`, into its room: zero-filling the room
    // first (`resize`) was 2% of `audit verify`'s instructions.
    let mut end = std::io::Cursor::new(&mut *into);
    end.set_position(start as u64);
    let written = DECOMPRESSOR.with(|d| d.borrow_mut().as_mut()?.decompress_to_buffer(&rest[4..], &mut end).ok())?;
    (written == len && into.len() == start + len).then_some(())
}

/// A stored value unpacked: the payload, and where each envelope lies in it
/// (or several values, one after another: [`unpack_onto`]).
#[derive(Clone, Debug, Default)]
pub struct Unpacked {
    pub payload: Vec<u8>,
    /// Each envelope's seq and bytes (a range of `payload`), in order.
    pub spans: Vec<(u64, Range<usize>)>,
}

impl Unpacked {
    /// Each envelope's seq and bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.spans.iter().map(|(seq, r)| (*seq, &self.payload[r.clone()]))
    }

    /// The `i`th envelope's seq and bytes.
    pub fn get(&self, i: usize) -> Option<(u64, &[u8])> {
        let (seq, r) = self.spans.get(i)?;
        Some((*seq, self.payload.get(r.clone())?))
    }

    /// How many envelopes it holds.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The last envelope's seq.
    pub fn last_seq(&self) -> Option<u64> {
        self.spans.last().map(|(seq, _)| *seq)
    }

    /// Where its end is now, for [`Unpacked::truncate`].
    pub fn mark(&self) -> (usize, usize) {
        (self.payload.len(), self.spans.len())
    }

    /// Drops what was added since `mark` ([`Unpacked::mark`]).
    pub fn truncate(&mut self, (payload, spans): (usize, usize)) {
        self.payload.truncate(payload);
        self.spans.truncate(spans);
    }

    /// Adds an envelope at the end.
    pub fn push(&mut self, seq: u64, bytes: &[u8]) {
        let at = self.payload.len();
        self.payload.extend_from_slice(bytes);
        self.spans.push((seq, at..self.payload.len()));
    }

    pub fn into_packed(self) -> Packed {
        self.spans.into_iter().map(|(seq, r)| (seq, self.payload[r].to_vec())).collect()
    }
}

/// Unpacks a stored value without copying its envelopes; `None` if it is
/// damaged or holds none.
pub fn unpack_spans(value: &[u8]) -> Option<Unpacked> {
    let mut unpacked = Unpacked::default();
    unpack_onto(value, &mut unpacked).map(|()| unpacked)
}

/// Unpacks a stored value onto the end of `into`: its payload decompressed
/// after `into`'s, its envelopes after `into`'s (an org's chunks read into
/// one buffer, not a buffer per copy). `None`, and `into` as it was, if
/// the value is damaged or holds none.
pub fn unpack_onto(value: &[u8], into: &mut Unpacked) -> Option<()> {
    let mark = into.mark();
    if unpack_after(value, into, mark.0).is_none() || into.spans.len() == mark.1 {
        into.truncate(mark);
        return None;
    }
    Some(())
}

/// [`unpack_onto`], leaving what it added when it fails.
fn unpack_after(value: &[u8], into: &mut Unpacked, start: usize) -> Option<()> {
    decompress_onto(value, &mut into.payload)?;
    let payload = &into.payload[start..];
    let mut at = 0;
    while at < payload.len() {
        let seq = u64::from_le_bytes(payload.get(at..at + 8)?.try_into().ok()?);
        let n = u32::from_le_bytes(payload.get(at + 8..at + 12)?.try_into().ok()?) as usize;
        let bytes = at + 12..at + 12 + n;
        payload.get(bytes.clone())?;
        into.spans.push((seq, start + bytes.start..start + bytes.end));
        at += 12 + n;
    }
    Some(())
}

/// Unpacks a stored value into its envelopes (seq, bytes); `None` if it is
/// damaged or holds none.
pub fn unpack(value: &[u8]) -> Option<Packed> {
    unpack_spans(value).map(Unpacked::into_packed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_values_do_not_unpack() {
        let packed = pack([(1, &b"{\"a\":1}"[..]), (2, &b"{}"[..])]).unwrap();
        assert_eq!(unpack(&packed).unwrap().len(), 2);
        for at in 0..packed.len() {
            let mut bad = packed.clone();
            bad[at] ^= 0x10;
            // A flip is refused (zstd's checksum covers the payload), unless
            // it hit a bit that changes nothing: never other content.
            if let Some(events) = unpack(&bad) {
                assert_eq!(events, unpack(&packed).unwrap(), "flip at {at}");
            }
        }
        assert!(unpack(&packed[..packed.len() - 1]).is_none());
        // Onto what is there: it stays as it was when a value is damaged.
        let mut both = unpack_spans(&packed).unwrap();
        let other = pack([(3, &b"{\"b\":2}"[..])]).unwrap();
        assert!(unpack_onto(&other[..other.len() - 1], &mut both).is_none());
        assert_eq!(both.iter().map(|(seq, _)| seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(both.payload.len(), unpack_spans(&packed).unwrap().payload.len());
        unpack_onto(&other, &mut both).unwrap();
        let read: Vec<_> = both.iter().map(|(seq, bytes)| (seq, bytes.to_vec())).collect();
        assert_eq!(read, [(1, b"{\"a\":1}".to_vec()), (2, b"{}".to_vec()), (3, b"{\"b\":2}".to_vec())]);
        assert!(crate::store::format::unpack_ids(&[0; 23]).is_none());
    }
}
