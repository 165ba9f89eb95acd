//! One stored entry read back and decoded by its key's family, or named as damage.

use uuid::Uuid;

use super::error::Damage;
use super::format::{
    FORMAT_KEY, INDEXED_KEY, ORIGIN_KEY, PARTIES_KEY, Packed, RECORDING_KEY, SUMMARIES_KEY, TREE_KEY, TREE_LOW,
    Unpacked, decompress, seq_from, unpack_ids, unpack_onto, unpack_spans,
};
use super::party::decode_party_chunk;
use crate::model::id::{OrgId, PartyId};
use crate::model::summary::{OrgSummary, Roster};

/// One entry of the store, read and decoded, for audits.
pub enum Entry {
    /// A log block: its first seq and its envelopes' bytes.
    Block(u64, Packed),
    /// An id-index chunk: its bucket and entries.
    Ids(u16, Vec<(Uuid, u64)>),
    /// An org-copy chunk: the org, the chunk's first seq, the copies' bytes
    /// (unpacked, not copied apart).
    Org(OrgId, u64, Unpacked),
    /// An org's summary.
    Summary(OrgId, OrgSummary),
    /// An org's roster.
    Roster(OrgId, Roster),
    /// A stored Merkle subtree hash: its level, index and hash.
    Tree(u8, u64, [u8; 32]),
    /// A party-index chunk: the party and orgs whose events name it.
    Party(PartyId, Vec<OrgId>),
    /// The format marker, a watermark or the recording marker.
    Meta,
    /// A key of no known family, or a value that does not decode: what is wrong.
    Damaged(String),
}

/// Decodes a log block under `B` + first seq: its envelopes must be seqs
/// `first`, `first + 1`, …; otherwise the damage says where the log breaks.
pub(crate) fn decode_block(key: &[u8], value: &[u8]) -> Result<(u64, Unpacked), Damage> {
    let first = seq_from(&key[1..]).ok_or_else(|| Damage::LogKey { key: key.to_vec() })?;
    let block = unpack_spans(value).ok_or(Damage::Block { first })?;
    match (first..).zip(&block.spans).find(|(s, (q, _))| s != q) {
        None => Ok((first, block)),
        Some((seq, (next, _))) => Err(Damage::LogGap { seq, next: *next }),
    }
}

/// Decodes an org chunk: its org, first seq and copies (in seq order).
pub(crate) fn decode_org_chunk(key: &[u8], value: &[u8]) -> Result<(OrgId, u64, Packed), Damage> {
    decode_org_chunk_spans(key, value).map(|(org, first, copies)| (org, first, copies.into_packed()))
}

/// [`decode_org_chunk`], the copies unpacked without copying them apart.
pub(super) fn decode_org_chunk_spans(key: &[u8], value: &[u8]) -> Result<(OrgId, u64, Unpacked), Damage> {
    let mut copies = Unpacked::default();
    decode_org_chunk_onto(key, value, &mut copies).map(|(org, first)| (org, first, copies))
}

/// The org and first seq of an org chunk's key.
pub(crate) fn decode_org_chunk_key(key: &[u8]) -> Result<(OrgId, u64), Damage> {
    let at = key.iter().position(|&b| b == 0).ok_or_else(|| Damage::OrgKey { key: key.to_vec() })?;
    let org = std::str::from_utf8(&key[1..at]).ok().and_then(|s| OrgId::parse(s).ok());
    match (org, seq_from(&key[at + 1..])) {
        (Some(org), Some(first)) => Ok((org, first)),
        _ => Err(Damage::OrgKey { key: key.to_vec() }),
    }
}

/// [`decode_org_chunk`] onto the end of `into` ([`unpack_onto`]): the
/// chunk's org and first seq. On an error, `into` holds what it held.
pub(crate) fn decode_org_chunk_onto(key: &[u8], value: &[u8], into: &mut Unpacked) -> Result<(OrgId, u64), Damage> {
    let (org, first) = decode_org_chunk_key(key)?;
    let mark = into.mark();
    if unpack_onto(value, into).is_some() {
        let copies = &into.spans[mark.1..];
        if copies[0].0 == first && copies.windows(2).all(|w| w[0].0 < w[1].0) {
            return Ok((org, first));
        }
        into.truncate(mark);
    }
    Err(Damage::OrgChunk { org, first })
}

/// Decodes an org summary under `S` + org id.
pub(crate) fn decode_summary(key: &[u8], value: &[u8]) -> Result<(OrgId, OrgSummary), Damage> {
    let org = std::str::from_utf8(&key[1..]).ok().and_then(|s| OrgId::parse(s).ok());
    match (org, OrgSummary::from_bytes(value)) {
        (Some(org), Some(summary)) => Ok((org, summary)),
        _ => Err(Damage::Summary { key: key.to_vec() }),
    }
}

/// Decodes an org roster under `R` + org id.
pub(crate) fn decode_roster(key: &[u8], value: &[u8]) -> Result<(OrgId, Roster), Damage> {
    let org = std::str::from_utf8(&key[1..]).ok().and_then(|s| OrgId::parse(s).ok());
    match (org, decompress(value).and_then(|bytes| Roster::from_bytes(&bytes))) {
        (Some(org), Some(roster)) => Ok((org, roster)),
        _ => Err(Damage::Roster { key: key.to_vec() }),
    }
}

pub(crate) fn decode_entry(key: &[u8], value: &[u8]) -> Entry {
    let damaged = |damage: Damage| Entry::Damaged(damage.to_string());
    match key.first() {
        Some(b'B') => match decode_block(key, value) {
            Ok((first, block)) => Entry::Block(first, block.into_packed()),
            Err(damage) => damaged(damage),
        },
        Some(b'I') => match (key.len(), unpack_ids(value)) {
            (7, Some(entries)) => Entry::Ids(u16::from_be_bytes([key[1], key[2]]), entries),
            (7, None) => damaged(Damage::IdChunk { key: key.to_vec() }),
            _ => damaged(Damage::IdKey { key: key.to_vec() }),
        },
        Some(b'O') => match decode_org_chunk_spans(key, value) {
            Ok((org, first, copies)) => Entry::Org(org, first, copies),
            Err(damage) => damaged(damage),
        },
        Some(b'S') => match decode_summary(key, value) {
            Ok((org, summary)) => Entry::Summary(org, summary),
            Err(damage) => damaged(damage),
        },
        Some(b'R') => match decode_roster(key, value) {
            Ok((org, roster)) => Entry::Roster(org, roster),
            Err(damage) => damaged(damage),
        },
        Some(b'H') => match (key.len(), <[u8; 32]>::try_from(value)) {
            (10, Ok(hash)) if key[1] >= TREE_LOW => Entry::Tree(key[1], seq_from(&key[2..]).unwrap_or(0), hash),
            _ => damaged(Damage::Entry { key: key.to_vec() }),
        },
        Some(b'P') => match decode_party_chunk(key, value) {
            Ok((party, _, orgs)) => Entry::Party(party, orgs),
            Err(damage) => damaged(damage),
        },
        _ if (key == PARTIES_KEY || key == SUMMARIES_KEY) && seq_from(value).is_none() => {
            damaged(Damage::Entry { key: key.to_vec() })
        }
        _ if key == FORMAT_KEY
            || key == INDEXED_KEY
            || key == RECORDING_KEY
            || key == PARTIES_KEY
            || key == SUMMARIES_KEY
            || key == TREE_KEY
            || key == ORIGIN_KEY =>
        {
            Entry::Meta
        }
        _ => damaged(Damage::UnknownKey { key: key.to_vec() }),
    }
}
