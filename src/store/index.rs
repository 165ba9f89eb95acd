//! The indexes derived from the log: the id index and the org copies, written in bulk under `Mindexed`.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::Store;
use super::entry::decode_org_chunk_spans;
use super::error::Damage;
use super::format::{
    BLOCK, ID_CHUNK, INDEXED_KEY, SMALL_IDS, Unpacked, id_bucket, id_chunk_key, org_chunk_key, org_prefix, pack,
    pack_ids, unpack_ids,
};
use super::pending::{INDEX_BATCH, Pending, Unindexed};
use crate::error::Result;
use crate::model::id::OrgId;

/// An org's last chunk smaller than this takes new copies (if they fit).
const SMALL: usize = 16;

/// Orgs (or id buckets) in an index batch below which it is written on one core.
const PARALLEL: usize = 64;

impl Store {
    /// Writes the index entries of what is in the log but not indexed, with
    /// the new watermark, in one batch.
    pub(super) fn write_indexes(&self, pending: &mut Pending) -> Result<()> {
        let (Some(first), Some(last)) =
            (pending.unindexed.first().map(|e| e.seq), pending.unindexed.last().map(|e| e.seq))
        else {
            return Ok(());
        };
        let mut by_org: BTreeMap<&OrgId, Vec<&Unindexed>> = BTreeMap::new();
        let mut by_bucket: BTreeMap<u16, Vec<(Uuid, u64)>> = BTreeMap::new();
        for e in &pending.unindexed {
            by_org.entry(&e.org).or_default().push(e);
            by_bucket.entry(id_bucket(&e.id)).or_default().push((e.id, e.seq));
        }
        // Each org's and each bucket's chunks are read, extended and packed
        // on two cores, a half of the orgs (and of the buckets) each: most
        // of an index batch's work.
        let by_org: Vec<_> = by_org.into_iter().collect();
        let by_bucket: Vec<_> = by_bucket.into_iter().collect();
        let mut batch = sled::Batch::default();
        for part in crate::halves::halves(&by_org, PARALLEL, |part| self.org_chunks_with(part)) {
            for (key, value) in part? {
                batch.insert(key, value);
            }
        }
        for part in crate::halves::halves(&by_bucket, PARALLEL, |part| self.id_chunks_with(part)) {
            for (key, value) in part? {
                batch.insert(key, value);
            }
        }
        let leaves: Vec<_> = pending.unindexed.iter().map(|e| e.leaf).collect();
        self.extend_tree(pending, first - 1, leaves, &mut batch)?;
        batch.insert(INDEXED_KEY, &last.to_be_bytes());
        self.apply(batch).map_err(|e| self.err(e))?;
        let mut done = std::mem::take(&mut pending.unindexed);
        pending.indexed(done.iter().map(|e| &e.id));
        // Emptied, it keeps its room for the next batch.
        done.clear();
        pending.unindexed = done;
        Ok(())
    }

    /// The org chunks that take `events` (each org's, in seq order), as
    /// keys and packed values: the org's last chunk takes the new copies
    /// if it is small and has room; otherwise they start chunks of their
    /// own. Rewriting only small chunks keeps an import from writing
    /// copies twice.
    fn org_chunks_with(&self, orgs: &[(&OrgId, Vec<&Unindexed>)]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::with_capacity(orgs.len());
        for (org, events) in orgs {
            let Some(head) = events.first() else { continue };
            let last = match self.db.scan_prefix(org_prefix(org)).next_back() {
                None => None,
                Some(item) => Some(item.map_err(|e| self.err(e))?),
            };
            let (mut first, mut existing) = (head.seq, Unpacked::default());
            if let Some((key, value)) = &last {
                let (_, f, copies) = decode_org_chunk_spans(key, value)?;
                if copies.len() < SMALL && copies.len() + events.len() <= BLOCK {
                    (first, existing) = (f, copies);
                }
            }
            let mut chunk: Vec<(u64, &[u8])> = existing.iter().collect();
            for e in events {
                if chunk.len() == BLOCK {
                    out.push((org_chunk_key(org, first), pack(chunk.drain(..))?));
                    first = e.seq;
                }
                chunk.push((e.seq, &e.record));
            }
            out.push((org_chunk_key(org, first), pack(chunk)?));
        }
        Ok(out)
    }

    /// The id-index chunks that take `buckets`' entries, as keys and
    /// values: as [`Store::org_chunks_with`] does for an org, the bucket's
    /// last chunk takes them if it is small and they fit.
    fn id_chunks_with(&self, buckets: &[(u16, Vec<(Uuid, u64)>)]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::with_capacity(buckets.len());
        for (bucket, entries) in buckets {
            let prefix = &id_chunk_key(*bucket, 0)[..3];
            let (mut n, existing) = match self.db.scan_prefix(prefix).next_back() {
                None => (0, Vec::new()),
                Some(item) => {
                    let (key, value) = item.map_err(|e| self.err(e))?;
                    let n = key
                        .get(3..7)
                        .and_then(|b| b.try_into().ok())
                        .map(u32::from_be_bytes)
                        .ok_or_else(|| Damage::Entry { key: key.to_vec() })?;
                    let existing = unpack_ids(&value).ok_or_else(|| Damage::IdChunk { key: key.to_vec() })?;
                    if existing.len() < SMALL_IDS && existing.len() + entries.len() <= ID_CHUNK {
                        (n, existing)
                    } else {
                        (n + 1, Vec::new())
                    }
                }
            };
            let mut entries = entries.clone();
            entries.extend(existing);
            entries.sort_unstable_by_key(|e| e.0);
            for chunk in entries.chunks(ID_CHUNK) {
                out.push((id_chunk_key(*bucket, n).to_vec(), pack_ids(chunk)));
                n += 1;
            }
        }
        Ok(out)
    }

    /// Indexes the events a process wrote to the log but did not live to
    /// index (killed mid-import). The indexes are derived from the log.
    pub(super) fn catch_up_indexes(&self, last: u64) -> Result<()> {
        let indexed = self.indexed()?;
        if indexed > last {
            return Err(Damage::IndexAhead { dir: self.dir.clone(), indexed, last }.into());
        }
        if indexed == last {
            return Ok(());
        }
        let mut pending = self.pending();
        for item in self.scan_raw(indexed + 1) {
            let (seq, bytes) = item?;
            let env = super::decode(seq, &bytes)?;
            pending.ids.insert(env.event.id, seq);
            let record = env.record_json().into_bytes();
            let leaf = super::tree::leaf_hash(&bytes);
            pending.unindexed.push(Unindexed { seq, id: env.event.id, org: env.event.org, record, leaf });
            if pending.unindexed.len() >= INDEX_BATCH {
                self.write_indexes(&mut pending)?;
            }
        }
        self.write_indexes(&mut pending)?;
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }
}
