//! Id-index chunks: sorted entries of an event id (16 bytes) and its seq (u64 BE), not compressed.

use uuid::Uuid;

use super::keys::seq_from;

/// Entries per id-index chunk at most (24 bytes each, not compressed: ids
/// are random).
pub const ID_CHUNK: usize = 512;
/// A bucket's last chunk smaller than this takes new entries (if they fit).
pub(crate) const SMALL_IDS: usize = 64;

/// The id-index bucket of an id: its first byte (256 buckets).
pub fn id_bucket(id: &Uuid) -> u16 {
    u16::from(id.as_bytes()[0])
}

/// Encodes id-index entries, sorted by id.
pub fn pack_ids(entries: &[(Uuid, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 24);
    for (id, seq) in entries {
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
    }
    out
}

/// Decodes id-index entries; `None` if the value is damaged (a ragged
/// length, or ids out of order).
pub fn unpack_ids(value: &[u8]) -> Option<Vec<(Uuid, u64)>> {
    if !value.len().is_multiple_of(24) {
        return None;
    }
    let entries: Vec<(Uuid, u64)> = value
        .chunks_exact(24)
        .map(|c| (Uuid::from_slice(&c[..16]).unwrap_or_default(), seq_from(&c[16..]).unwrap_or_default()))
        .collect();
    entries.windows(2).all(|w| w[0].0 < w[1].0).then_some(entries)
}

/// Looks `id` up in an id-index chunk as stored, without decoding it:
/// `Err` if the chunk is damaged.
pub(crate) fn find_id(chunk: &[u8], id: &Uuid) -> Result<Option<u64>, ()> {
    if !chunk.len().is_multiple_of(24) {
        return Err(());
    }
    let (mut lo, mut hi) = (0, chunk.len() / 24);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let entry = &chunk[mid * 24..mid * 24 + 24];
        match entry[..16].cmp(id.as_bytes()) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(seq_from(&entry[16..])),
        }
    }
    Ok(None)
}
