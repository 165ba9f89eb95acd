//! All or nothing: a command's commit (sync, then the head marker), its abort, and the recovery of one that died.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use uuid::Uuid;

use super::entry::{decode_block, decode_org_chunk};
use super::error::{Damage, Doing, Error as StoreError};
use super::format::{
    INDEXED_KEY, Packed, RECORDING_KEY, SUMMARIES_KEY, block_key, org_prefix, pack, pack_ids, seq_from, unpack_ids,
};
use super::{OrgFacts, Store, put_facts};
use crate::error::Result;
use crate::model::envelope::{Head, is_hash};

impl Store {
    /// Makes the command's writes durable and visible. In this order:
    /// what was handed over is written to the log, the indexes are
    /// written and sled is synced, [`RECORDING_KEY`] still there; then the
    /// new head is written to the head marker (renamed into place, the
    /// directory synced): that rename is the commit point; then the key is
    /// removed, without waiting (if that is lost, the next open finds the
    /// head marker at the log's end and removes the key). Only after this
    /// returns may an event be reported recorded; if it fails,
    /// [`Store::abort`] undoes the writes. A no-op if nothing was handed over.
    #[cfg(test)]
    pub(crate) fn commit(&self) -> Result<()> {
        self.commit_with(&[], false)
    }

    /// [`Store::commit`], then, past the commit point, the summaries and
    /// rosters of the orgs the command touched ([`OrgFacts`]), in
    /// the batch that removes [`RECORDING_KEY`]. If that batch is lost, the
    /// next open removes the key and the summaries left are older than
    /// their orgs' last events, which their readers check. The same batch
    /// adds the (party, org) pairs the command's events name to the party
    /// index, with its watermark, if the index held the log before the
    /// command; otherwise (or if that batch is lost) the next open indexes
    /// what the watermark lacks.
    ///
    /// `complete` says that `summaries` holds every org the command recorded
    /// events of: then, if the summaries' watermark ([`SUMMARIES_KEY`]) was
    /// the head before the command, the same batch moves it to the new head.
    ///
    /// [`OrgSummary`]: crate::model::summary::OrgSummary
    pub(crate) fn commit_with(&self, summaries: &[OrgFacts], complete: bool) -> Result<()> {
        self.writable()?;
        // What the writing thread was handed is written (or its failure
        // fails the commit); the rest is written here.
        self.end_write_behind()?;
        {
            let mut pending = self.pending();
            self.write_unwritten(&mut pending)?;
            if !pending.started {
                return Ok(());
            }
            self.write_indexes(&mut pending)?;
            // No id is looked up past this point: the table of them goes
            // before the commit's last batch adds to the memory.
            pending.table = None;
        }
        self.sync_files()?;
        let head = self.head()?;
        self.pending().committing = true;
        self.write_head_marker(&head)?;
        self.open.committed.store(head.seq, std::sync::atomic::Ordering::Release);
        let (start, named) = {
            let mut pending = self.pending();
            pending.started = false;
            pending.committing = false;
            (pending.start.take(), std::mem::take(&mut pending.named))
        };
        // Past the commit point: a failure here is left for the next open.
        let mut batch = sled::Batch::default();
        batch.remove(RECORDING_KEY);
        put_facts(&mut batch, summaries);
        if complete
            && let Some(start) = &start
            && self.summaries_current().ok().flatten() == Some(start.seq)
        {
            batch.insert(SUMMARIES_KEY, &head.seq.to_be_bytes());
        }
        let parties = match start {
            Some(start) if self.parties_indexed().ok() == Some(start.seq) => self.party_entries(&named, head.seq).ok(),
            _ => None,
        };
        for (key, value) in parties.into_iter().flatten() {
            batch.insert(key, value);
        }
        if self.apply(batch).is_ok() {
            let _ = self.db.flush();
        }
        Ok(())
    }

    /// Undoes everything handed over since the last commit: the ledger is
    /// exactly as before it. A no-op if nothing was written. If this fails
    /// too, the next open undoes it.
    pub(crate) fn abort(&self) -> Result<()> {
        self.writable()?;
        // Its failure, if it failed, is what is being undone.
        let _ = self.end_write_behind();
        let (started, committing) = {
            let mut pending = self.pending();
            pending.clear();
            if !pending.started {
                pending.start = None;
            }
            (pending.start.clone(), pending.committing)
        };
        let Some(start) = started else { return Ok(()) };
        if committing {
            // The new head may have reached the head marker: put the old one back first.
            self.write_head_marker(&start)?;
        }
        self.roll_back(&start)
    }

    /// The head before the command that was recording when the ledger was
    /// last used, if one was ([`RECORDING_KEY`]).
    pub(super) fn recording(&self) -> Result<Option<Head>> {
        let Some(value) = self.db.get(RECORDING_KEY).map_err(|e| self.err(e))? else { return Ok(None) };
        let seq = value.get(..8).and_then(seq_from);
        let hash = value.get(8..).and_then(|h| std::str::from_utf8(h).ok()).filter(|h| is_hash(h));
        match (seq, hash) {
            (Some(seq), Some(hash)) => Ok(Some(Head { seq, hash: hash.to_owned() })),
            _ => Err(StoreError::RecordingMarker { dir: self.dir.clone() }.into()),
        }
    }

    /// Finishes what a command that died while recording left
    /// ([`RECORDING_KEY`] is there): if the head marker names the log's last
    /// event, the command passed its commit point and only the key is left
    /// to remove; if it names the head before the command (or is missing
    /// and the log was empty then), the command is undone. Anything else
    /// is damage.
    pub(super) fn recover(&self, start: &Head) -> Result<()> {
        let marker = self.head_marker()?;
        let last = self.last()?;
        let last_head = last.map(|e| Head { seq: e.seq, hash: e.hash });
        if last_head.as_ref().is_some_and(|h| h.seq > start.seq) && marker == last_head {
            let mut batch = sled::Batch::default();
            batch.remove(RECORDING_KEY);
            self.apply(batch).map_err(|e| self.err(e))?;
            self.db.flush().map_err(|e| self.err(e))?;
            return Ok(());
        }
        if marker.as_ref() == Some(start) || (marker.is_none() && start.seq == 0) {
            return self.roll_back(start);
        }
        let last = last_head.map_or(0, |h| h.seq);
        Err(StoreError::Unrecoverable { dir: self.dir.clone(), start: start.seq, last }.into())
    }

    /// Undoes the writes of a command that did not pass its commit point:
    /// one batch cuts the log and the indexes after `start` and removes
    /// [`RECORDING_KEY`], then sled is synced. Dying at any point leaves
    /// the key (or the before-image), and the next open finishes.
    fn roll_back(&self, start: &Head) -> Result<()> {
        let mut batch = self.truncation(start.seq)?;
        batch.remove(RECORDING_KEY);
        self.apply(batch).map_err(|e| self.err(e))?;
        self.sync_files()?;
        let mut pending = self.pending();
        pending.clear();
        pending.start = None;
        pending.started = false;
        pending.committing = false;
        Ok(())
    }

    /// The batch that removes the events after `seq` from the log and the
    /// indexes. Only used to undo a command that did not commit.
    fn truncation(&self, seq: u64) -> Result<sled::Batch> {
        let bad_key = |key: &[u8]| Damage::Entry { key: key.to_vec() };
        let repack = |events: &Packed| pack(events.iter().map(|(q, b)| (*q, b.as_slice())));
        let mut batch = sled::Batch::default();
        if self.indexed()? > seq {
            // Org copies: chunks that start after `seq` go; the last chunk
            // of each org that starts at or before it is cut.
            let mut last_kept: BTreeMap<Vec<u8>, (Vec<u8>, Packed)> = BTreeMap::new();
            for item in self.db.scan_prefix(b"O") {
                let (key, value) = item.map_err(|e| self.err(e))?;
                let (org, first, events) = decode_org_chunk(&key, &value).map_err(|_| bad_key(&key))?;
                if first > seq {
                    batch.remove(key);
                } else {
                    last_kept.insert(org_prefix(&org), (key.to_vec(), events));
                }
            }
            for (key, mut events) in last_kept.into_values() {
                let before = events.len();
                events.retain(|(q, _)| *q <= seq);
                if events.len() < before {
                    batch.insert(key, repack(&events)?);
                }
            }
            for item in self.db.scan_prefix(b"I") {
                let (key, value) = item.map_err(|e| self.err(e))?;
                let entries = unpack_ids(&value).ok_or_else(|| bad_key(&key))?;
                let kept: Vec<(Uuid, u64)> = entries.iter().copied().filter(|(_, s)| *s <= seq).collect();
                if kept.is_empty() {
                    batch.remove(key);
                } else if kept.len() < entries.len() {
                    batch.insert(key, pack_ids(&kept));
                }
            }
            self.truncate_tree(seq, &mut batch)?;
            batch.insert(INDEXED_KEY, &seq.to_be_bytes());
        }
        for item in self.db.range(block_key(0)..block_key(u64::MAX)).rev() {
            let (key, value) = item.map_err(|e| self.err(e))?;
            let (first, block) = decode_block(&key, &value).map_err(|_| bad_key(&key))?;
            if first > seq {
                batch.remove(key);
                continue;
            }
            let mut events = block.into_packed();
            let keep = (seq + 1 - first) as usize;
            if keep < events.len() {
                events.truncate(keep);
                batch.insert(key, repack(&events)?);
            }
            break;
        }
        Ok(batch)
    }

    /// Makes everything sled was given durable.
    ///
    /// sled's `flush` writes its buffers and calls `sync_file_range`, which
    /// neither flushes the drive's write cache nor persists the file's size
    /// and other metadata, and sled never fsyncs the blob files it writes for
    /// large pages. So after `flush` we `fsync` the data file, every blob
    /// and both directories.
    pub(super) fn sync_files(&self) -> Result<()> {
        self.db.flush().map_err(|e| self.err(e))?;
        let sync = |path: &Path| {
            File::open(path)
                .and_then(|f| f.sync_all())
                .map_err(|error| StoreError::Io { doing: Doing::Sync(path.to_owned()), error })
        };
        sync(&self.dir.join("db"))?;
        let blobs = self.dir.join("blobs");
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            for entry in entries.flatten() {
                sync(&entry.path())?;
            }
            sync(&blobs)?;
        }
        sync(&self.dir)?;
        Ok(())
    }
}
