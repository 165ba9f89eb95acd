//! The keys of the sled tree and the files beside it; integers are big-endian, so key order is log order.

use crate::model::id::{OrgId, PartyId};

/// The format marker's key; its value is [`FORMAT`].
pub const FORMAT_KEY: &[u8] = b"Mformat";
/// The format this build reads and writes.
pub const FORMAT: &[u8] = b"accord-ledger/2";
/// The index watermark's key; its value is a seq (u64 BE): the id index
/// and the org copies hold exactly the events up to it.
pub const INDEXED_KEY: &[u8] = b"Mindexed";
/// Present while a command records: the head before it (seq u64 BE, then
/// the hash as 64 hex digits). Written in the command's first batch and
/// removed by its commit; an open that finds it undoes the command's writes.
pub const RECORDING_KEY: &[u8] = b"Mrecording";
/// The party index's watermark; its value is a seq (u64 BE): the party
/// index holds exactly the (party, org) pairs named by the events up to it.
pub const PARTIES_KEY: &[u8] = b"Mparties";
/// The summaries' watermark; its value is a seq (u64 BE): every org with an
/// event up to it has a summary (`S` + org) whose `last` is at or past the
/// org's last event up to it. Written as 0 when a ledger is created, then
/// with the summaries of each commit that started from it; missing in a
/// ledger created before it. A command that died past its commit point
/// (its summaries lost) leaves it behind, and the next open but an audit's
/// writes those summaries again and moves it to the head.
pub const SUMMARIES_KEY: &[u8] = b"Msummaries";
/// Beside sled's files: the head as of the last commit, `{"seq":N,"hash":"…"}` and a newline.
pub const HEAD_FILE: &str = "accord.head";
/// Where the head marker is written before it is renamed into place.
pub(crate) const HEAD_TMP: &str = "accord.head.tmp";
/// Beside sled's files, empty: locked by the accord process using the ledger.
pub(crate) const LOCK_FILE: &str = "accord.lock";

/// The key of the log block whose first envelope is `first_seq`: `B` + seq (u64 BE).
pub fn block_key(first_seq: u64) -> [u8; 9] {
    let mut k = [b'B'; 9];
    k[1..].copy_from_slice(&first_seq.to_be_bytes());
    k
}

/// The key of an id-index chunk: `I` + bucket (u16 BE, see [`super::id_bucket`]) + chunk number (u32 BE).
pub fn id_chunk_key(bucket: u16, chunk: u32) -> [u8; 7] {
    let mut k = [b'I'; 7];
    k[1..3].copy_from_slice(&bucket.to_be_bytes());
    k[3..].copy_from_slice(&chunk.to_be_bytes());
    k
}

/// The prefix of an org's chunks: `O` + org id + 0x00 (an org id has no
/// 0x00, so the prefix matches that org only).
pub fn org_prefix(org: &OrgId) -> Vec<u8> {
    let mut k = Vec::with_capacity(org.as_str().len() + 10);
    k.push(b'O');
    k.extend_from_slice(org.as_str().as_bytes());
    k.push(0);
    k
}

/// The key of an org chunk whose first copy is `first_seq`: [`org_prefix`] + seq (u64 BE).
pub fn org_chunk_key(org: &OrgId, first_seq: u64) -> Vec<u8> {
    let mut k = org_prefix(org);
    k.extend_from_slice(&first_seq.to_be_bytes());
    k
}

/// The key of an org's summary ([`crate::model::summary::OrgSummary`], as
/// JSON): `S` + org id. Written after each commit for the orgs it touched.
pub fn summary_key(org: &OrgId) -> Vec<u8> {
    let mut k = Vec::with_capacity(org.as_str().len() + 1);
    k.push(b'S');
    k.extend_from_slice(org.as_str().as_bytes());
    k
}

/// The key of an org's roster ([`crate::model::summary::Roster`], as
/// [`Roster::to_bytes`](crate::model::summary::Roster::to_bytes) writes
/// it, compressed by [`super::compress`]): `R` + org id. Written with the
/// org's summary, in the same batch.
pub fn roster_key(org: &OrgId) -> Vec<u8> {
    let mut k = Vec::with_capacity(org.as_str().len() + 1);
    k.push(b'R');
    k.extend_from_slice(org.as_str().as_bytes());
    k
}

/// The prefix of a party's chunks in the party index: `P` + party id +
/// 0x00 (a party id has no 0x00, so the prefix matches that party only).
pub fn party_prefix(party: &PartyId) -> Vec<u8> {
    let mut k = Vec::with_capacity(party.as_str().len() + 6);
    k.push(b'P');
    k.extend_from_slice(party.as_str().as_bytes());
    k.push(0);
    k
}

/// The key of a party-index chunk: [`party_prefix`] + chunk number (u32
/// BE). Its value: the ids of orgs whose events name the party, sorted,
/// each followed by 0x00.
pub fn party_chunk_key(party: &PartyId, chunk: u32) -> Vec<u8> {
    let mut k = party_prefix(party);
    k.extend_from_slice(&chunk.to_be_bytes());
    k
}

/// A seq stored as u64 BE; `None` unless `bytes` is 8 long.
pub(crate) fn seq_from(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// How many leaves the Merkle tree over the log covers (u64 BE): always
/// [`INDEXED_KEY`]'s seq once written (the tree is written with the
/// indexes); missing in a ledger recorded before the tree existed.
pub const TREE_KEY: &[u8] = b"Mtree";

/// The lowest level of the Merkle tree that is stored: subtrees of fewer
/// leaves (256) are hashed from the log when a proof needs them.
pub const TREE_LOW: u8 = 8;

/// The key of the hash of the complete subtree of 2^`level` leaves that
/// starts at leaf `index` × 2^`level`: `H` + level (u8) + index (u64 BE).
/// Its value is the 32-byte hash.
pub fn tree_key(level: u8, index: u64) -> [u8; 10] {
    let mut k = [b'H'; 10];
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The log's origin (UTF-8): the first line of its checkpoints, set once.
pub const ORIGIN_KEY: &[u8] = b"Morigin";
