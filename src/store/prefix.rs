//! Finding events by the first hex digits of their id, in the id index (`accord show 4e9f`).

use uuid::Uuid;

use super::Store;
use super::error::Damage;
use super::format::{id_chunk_key, unpack_ids};
use crate::error::Result;

impl Store {
    /// Every indexed event whose id, as 32 lowercase hex digits, starts
    /// with `hex` (lowercase hex digits), with its seq, sorted by id.
    ///
    /// Two digits or more fix the id's first byte, hence its bucket of the
    /// id index: only that bucket's chunks are read.
    pub(crate) fn ids_with_prefix(&self, hex: &str) -> Result<Vec<(Uuid, u64)>> {
        let key = match hex.get(..2).and_then(|b| u8::from_str_radix(b, 16).ok()) {
            Some(byte) => id_chunk_key(u16::from(byte), 0)[..3].to_vec(),
            None => b"I".to_vec(),
        };
        let starts = |id: &Uuid| id.simple().to_string().starts_with(hex);
        let mut found: Vec<(Uuid, u64)> = match self.handed() {
            Some(pending) => pending.ids.iter().filter(|(id, _)| starts(id)).map(|(id, seq)| (*id, *seq)).collect(),
            None => Vec::new(),
        };
        for item in self.db.scan_prefix(&key) {
            let (key, value) = item.map_err(|e| self.err(e))?;
            let entries = unpack_ids(&value).ok_or_else(|| Damage::IdChunk { key: key.to_vec() })?;
            found.extend(entries.into_iter().filter(|(id, _)| starts(id)));
        }
        // A view: nothing past its ceiling.
        found.retain(|(_, seq)| *seq <= self.ceiling());
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }
}
