//! The on-disk format, public so that tools and tests can read (and damage) a ledger with sled alone.

mod ids;
mod keys;
mod pack;

pub use ids::{ID_CHUNK, id_bucket, pack_ids, unpack_ids};
pub(crate) use ids::{SMALL_IDS, find_id};
pub use keys::{
    FORMAT, FORMAT_KEY, HEAD_FILE, INDEXED_KEY, ORIGIN_KEY, PARTIES_KEY, RECORDING_KEY, SUMMARIES_KEY, TREE_KEY,
    TREE_LOW, block_key, id_chunk_key, org_chunk_key, org_prefix, party_chunk_key, party_prefix, roster_key,
    summary_key, tree_key,
};
pub(crate) use keys::{HEAD_TMP, LOCK_FILE, seq_from};
pub use pack::{BLOCK, Packed, Unpacked, compress, decompress, pack, payload_len, unpack, unpack_onto, unpack_spans};
