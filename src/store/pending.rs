//! The one buffer of what a command recorded that is not in the indexes yet, and its appends to the log.

use foldhash::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Weak};

use uuid::Uuid;

use super::error::Error as StoreError;
use super::format::{BLOCK, Packed, RECORDING_KEY, block_key, pack};
use super::id_table::IdTable;
use super::party::Named;
use super::{Open, Store};
use crate::error::Result;
use crate::model::envelope::{Envelope, EnvelopeJson, Head};
use crate::model::event::Event;
use crate::model::id::OrgId;
use crate::proof::merkle::leaf_hashes;

/// Envelopes handed over before they are written to the log in one sled
/// batch: one log block, so that an import writes each block once.
pub(crate) const BATCH: usize = BLOCK;

/// Events written to the log before they are written to the indexes; a
/// commit indexes whatever is left. Bounds the memory an import holds.
pub(crate) const INDEX_BATCH: usize = 32 * 1024;

/// An envelope written to the log, not yet to the indexes.
pub(super) struct Unindexed {
    pub(super) seq: u64,
    pub(super) id: Uuid,
    pub(super) org: OrgId,
    /// [`Envelope::record_json`]: the org copy.
    pub(super) record: Vec<u8>,
    /// Its leaf hash in the Merkle tree ([`super::tree`]).
    pub(super) leaf: super::tree::Hash,
}

/// An envelope handed over, not yet written to the log, with its canonical
/// JSON as sealed: the log block and the org copy take those bytes, not
/// writing the envelope out again.
pub(super) struct Unwritten {
    pub(super) env: Envelope,
    pub(super) json: EnvelopeJson,
}

/// Everything handed to the store that the indexes do not hold yet, in seq
/// order: first what is in the log, then what is not written yet.
#[derive(Default)]
pub(super) struct Pending {
    /// In the log, not in the indexes.
    pub(super) unindexed: Vec<Unindexed>,
    /// Not in the log yet (fewer than [`BATCH`], or than 16 log blocks for
    /// a writing thread, except while they are written).
    pub(super) unwritten: Vec<Unwritten>,
    /// The seq of each id in either, or in a batch the writing thread is
    /// writing: every id handed over that the id index does not hold yet.
    pub(super) ids: HashMap<Uuid, u64>,
    /// The head before the command that is recording, from the first
    /// envelope it handed over.
    pub(super) start: Option<Head>,
    /// That command's first batch (which wrote [`RECORDING_KEY`]) is in sled.
    pub(super) started: bool,
    /// The commit is writing the new head to the head marker.
    pub(super) committing: bool,
    /// The fingerprints of the id index in memory, once lookups have cost
    /// as much as reading it whole ([`Store::seq_of`]): it says at once
    /// that an id is not indexed; kept equal to the index on disk.
    pub(super) table: Option<IdTable>,
    /// Id-index chunks read by lookups so far.
    pub(super) chunks_read: u64,
    /// The right edge of the Merkle tree as the indexes last wrote it.
    pub(super) tree: Option<super::tree::TreeTail>,
    /// The (party, org) pairs the command's events name, for the party
    /// index, written after its commit.
    pub(super) named: Named,
    /// The last log block as this store last wrote it (its first seq and
    /// its events), once it has written one: the next batch extends it
    /// without reading it back from sled and unpacking it.
    pub(super) last_block: Option<(u64, Packed)>,
    /// Where the events of envelopes written to the log go to be freed,
    /// if a command asked for them ([`Store::hand_back_written`]).
    pub(super) hand_back: Option<SyncSender<Vec<Event>>>,
    /// The thread that writes full batches, if a command asked for one
    /// ([`Store::write_behind`]).
    pub(super) behind: Option<Behind>,
    /// Batches handed to that thread and not written yet (while there are
    /// any, `unindexed`, `last_block`, `tree` and `started` are its, and
    /// [`Store::pending`] waits).
    pub(super) in_flight: usize,
    /// Why that thread could not write a batch: the command fails with it
    /// (and is undone), and the thread writes nothing more.
    pub(super) behind_failed: Option<crate::error::Error>,
}

/// The thread that writes the batches handed to it, in order, as
/// [`Store::push`] would have written them itself.
pub(super) struct Behind {
    tx: SyncSender<Vec<Unwritten>>,
    thread: std::thread::JoinHandle<()>,
}

/// Batches handed to the writing thread at most before [`Store::push`]
/// waits for it.
const BEHIND: usize = 4;

/// Log blocks in a batch the writing thread writes.
const BEHIND_BLOCKS: usize = 16;

impl Pending {
    /// Forgets everything handed over (the writes are undone elsewhere).
    pub(super) fn clear(&mut self) {
        self.unindexed.clear();
        self.unwritten.clear();
        self.ids.clear();
        self.table = None;
        self.tree = None;
        self.named = Named::default();
        self.last_block = None;
    }

    /// Notes that the id index now holds `indexed`: they leave `ids` as
    /// they enter the table (all of `ids` at once when nothing else was
    /// handed over).
    pub(super) fn indexed<'a>(&mut self, indexed: impl Iterator<Item = &'a Uuid> + Clone) {
        if let Some(table) = &mut self.table {
            table.add(indexed.clone());
        }
        if self.unwritten.is_empty() && self.in_flight == 0 {
            self.ids.clear();
        } else {
            for id in indexed {
                self.ids.remove(id);
            }
        }
    }

    /// Takes an envelope that continues what was handed over; `start` is
    /// the head before the command that records it.
    fn take(&mut self, start: &Head, env: Envelope, json: EnvelopeJson) {
        if self.start.is_none() {
            self.start = Some(start.clone());
        }
        self.ids.insert(env.event.id, env.seq);
        self.named.add(&env.event.org, env.event.kind.members());
        self.unwritten.push(Unwritten { env, json });
    }
}

impl Store {
    /// Takes a sealed envelope that continues the log, with its canonical
    /// JSON ([`Envelope::seal_json`]), which is what the log and the org
    /// index keep of it. Every read of the
    /// store sees it at once; it is written to the log once [`BATCH`] are
    /// waiting (or at [`Store::commit`]), and indexed once [`INDEX_BATCH`]
    /// are (or at [`Store::commit`]). `start` is the head before the command
    /// that records it: its first batch also writes [`RECORDING_KEY`], so
    /// that an open undoes the command unless it commits.
    pub(crate) fn push(&self, start: &Head, env: Envelope, json: EnvelopeJson) -> Result<()> {
        self.writable()?;
        let mut pending = self.pending_now();
        if let Some(failed) = pending.behind_failed.take() {
            return Err(failed);
        }
        pending.take(start, env, json);
        let Some(tx) = pending.behind.as_ref().map(|b| b.tx.clone()) else {
            // Once the last block is known, a batch fills it exactly, so
            // that each block is packed once.
            let room = match &pending.last_block {
                Some((_, events)) if events.len() < BLOCK => BLOCK - events.len(),
                _ => BATCH,
            };
            return if pending.unwritten.len() < room { Ok(()) } else { self.write_full(&mut pending) };
        };
        // Blocks start at seqs 1, 1 + BLOCK, …: a batch ends where one
        // does, BEHIND_BLOCKS blocks on.
        let first = pending.unwritten.first().map_or(1, |u| u.env.seq);
        let room = BEHIND_BLOCKS * BLOCK - ((first - 1) % BLOCK as u64) as usize;
        if pending.unwritten.len() < room {
            return Ok(());
        }
        let batch = std::mem::replace(&mut pending.unwritten, Vec::with_capacity(BEHIND_BLOCKS * BLOCK));
        pending.in_flight += 1;
        drop(pending);
        if tx.send(batch).is_err() {
            // The thread is gone (it never is before the sender): the batch with it.
            drop(InFlight(self));
            return Err(StoreError::WriterGone.into());
        }
        Ok(())
    }

    /// Has a thread of its own write the batches [`Store::push`] fills
    /// from now on, while the caller goes on handing envelopes over (an
    /// import: the recording thread does the rules and sealing, this one
    /// the log blocks and indexes). The store reads as before: every read
    /// but an id's lookup first waits for the thread to have written what
    /// it was handed; a failed write fails the next push or the commit.
    /// [`Store::commit`] and [`Store::abort`] end it. If the thread cannot
    /// be started, the store writes on the caller's thread as before.
    pub(crate) fn write_behind(&self) {
        let mut pending = self.pending();
        if pending.behind.is_some() || self.ceiling.is_some() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(BEHIND);
        let open = Arc::downgrade(&self.open);
        if let Ok(thread) = std::thread::Builder::new().name("write".into()).spawn(move || write_batches(&open, &rx)) {
            pending.behind = Some(Behind { tx, thread });
        }
    }

    /// Ends the writing thread, once it has written what it was handed,
    /// and says why it failed, if it did.
    pub(super) fn end_write_behind(&self) -> Result<()> {
        let (behind, failed) = {
            let mut pending = self.pending();
            (pending.behind.take(), pending.behind_failed.take())
        };
        if let Some(Behind { tx, thread }) = behind {
            drop(tx);
            // It panicked only if the process is ending anyway.
            let _ = thread.join();
        }
        failed.map_or(Ok(()), Err)
    }

    /// Writes a batch handed to the writing thread: what [`Store::push`]
    /// does with a full batch, on a [`Pending`] of its own (the log's end,
    /// what is not indexed, the tree's edge, taken from the store's and
    /// put back), without holding the store's lock while it writes.
    fn write_batch_behind(&self, batch: Vec<Unwritten>) {
        // However this ends, the batch is no longer in flight: were the
        // thread to panic (a bug), the store would wait for it for ever.
        let _done = InFlight(self);
        let mut own = {
            let mut pending = self.pending_now();
            if pending.behind_failed.is_some() {
                return;
            }
            Pending {
                unwritten: batch,
                unindexed: std::mem::take(&mut pending.unindexed),
                start: pending.start.clone(),
                started: pending.started,
                tree: pending.tree.take(),
                last_block: pending.last_block.take(),
                hand_back: pending.hand_back.clone(),
                ..Pending::default()
            }
        };
        let mut indexed = Vec::new();
        let written = self.write_unwritten(&mut own).and_then(|()| {
            if own.unindexed.len() < INDEX_BATCH {
                return Ok(());
            }
            indexed = own.unindexed.iter().map(|e| e.id).collect();
            self.write_indexes(&mut own)
        });
        let mut pending = self.pending_now();
        pending.unindexed = own.unindexed;
        pending.started = own.started;
        pending.tree = own.tree;
        pending.last_block = own.last_block;
        // While this batch is in flight, `ids` also holds the batches after it.
        match written {
            Ok(()) => pending.indexed(indexed.iter()),
            Err(e) => pending.behind_failed = Some(e),
        }
    }

    /// Writes the envelopes not yet written to the log, in one atomic
    /// batch (filling the last block first). [`INDEX_BATCH`] of them in
    /// the log are for the caller to index.
    pub(super) fn write_unwritten(&self, pending: &mut Pending) -> Result<()> {
        let (Some(first), Some(start)) = (pending.unwritten.first(), &pending.start) else { return Ok(()) };
        let last_block = match pending.last_block.take() {
            Some(known) => Some(known),
            None => self.last_block()?,
        };
        let (mut block_first, last_block) = match last_block {
            Some((f, events)) if events.len() < BLOCK => (f, events),
            Some((f, events)) => (f + events.len() as u64, Vec::new()),
            None => (1, Vec::new()),
        };
        if block_first + last_block.len() as u64 != first.env.seq {
            let last = block_first + last_block.len() as u64 - 1;
            return Err(StoreError::Discontinuous { seq: first.env.seq, last }.into());
        }
        let mut batch = sled::Batch::default();
        let mut block: Vec<(u64, &[u8])> = Vec::with_capacity(BLOCK);
        block.extend(last_block.iter().map(|(q, b)| (*q, b.as_slice())));
        for u in &pending.unwritten {
            if block.len() == BLOCK {
                batch.insert(&block_key(block_first), pack(block.iter().copied())?);
                block_first += BLOCK as u64;
                block.clear();
            }
            block.push((u.env.seq, &u.json.json));
        }
        batch.insert(&block_key(block_first), pack(block.iter().copied())?);
        // A full block is kept as the empty one after it.
        let written_block: (u64, Packed) = if block.len() == BLOCK {
            (block_first + BLOCK as u64, Vec::new())
        } else {
            (block_first, block.iter().map(|(q, b)| (*q, b.to_vec())).collect())
        };
        let first_write = !pending.started;
        if first_write {
            let mut marker = start.seq.to_be_bytes().to_vec();
            marker.extend_from_slice(start.hash.as_bytes());
            batch.insert(RECORDING_KEY, marker);
        }
        self.apply(batch).map_err(|e| self.err(e))?;
        pending.started = true;
        pending.last_block = Some(written_block);
        let mut done = std::mem::replace(&mut pending.unwritten, Vec::with_capacity(BATCH));
        let mut leaves = Vec::with_capacity(done.len());
        leaf_hashes(done.iter().map(|u| u.json.json.as_slice()), &mut leaves);
        pending.unindexed.extend(done.iter_mut().zip(leaves).map(|(u, leaf)| Unindexed {
            seq: u.env.seq,
            id: u.env.event.id,
            org: u.env.event.org.clone(),
            record: std::mem::take(&mut u.json.record),
            leaf,
        }));
        // Full, the batch is dropped here; gone, so is every batch after.
        if let Some(tx) = &pending.hand_back
            && let Err(TrySendError::Disconnected(_)) = tx.try_send(done.into_iter().map(|u| u.env.event).collect())
        {
            pending.hand_back = None;
        }
        Ok(())
    }

    /// Hands the events of the envelopes this store writes to the log from
    /// now on to `tx` to be dropped, instead of dropping them: an event's
    /// JSON is a tree of maps and strings, and the thread that read and
    /// made it frees it at a fraction of the cost to the recording thread
    /// (an import's). The members sealing added (made on this thread) are
    /// dropped here: freed on another thread, their memory came back to
    /// this one's allocator only through its slow path. If `tx` is full
    /// the events are dropped here; once its receiver is gone, all.
    pub(crate) fn hand_back_written(&self, tx: SyncSender<Vec<Event>>) {
        self.pending().hand_back = Some(tx);
    }

    /// Writes `envelopes` to the log in one batch, as [`Store::push`] and
    /// [`Store::commit`] would.
    #[cfg(test)]
    pub(crate) fn write(&self, start: &Head, envelopes: &[Envelope]) -> Result<()> {
        let mut pending = self.pending();
        for env in envelopes {
            pending.take(start, env.clone(), env.json());
        }
        self.write_full(&mut pending)
    }

    /// Writes what was handed over to the log, then indexes it once
    /// [`INDEX_BATCH`] events in the log are not indexed.
    fn write_full(&self, pending: &mut Pending) -> Result<()> {
        self.write_unwritten(pending)?;
        if pending.unindexed.len() >= INDEX_BATCH { self.write_indexes(pending) } else { Ok(()) }
    }
}

/// A batch handed to the writing thread: when dropped (written, failed,
/// the thread panicking, or never taken), no longer in flight, and the
/// store told so.
pub(super) struct InFlight<'s>(pub(super) &'s Store);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut pending = self.0.pending_now();
        if std::thread::panicking() && pending.behind_failed.is_none() {
            pending.behind_failed = Some(StoreError::WriterGone.into());
        }
        pending.in_flight -= 1;
        self.0.settled.notify_all();
    }
}

/// The writing thread's loop: the batches of `rx`, in order, while the
/// store is open (it holds the store only while it writes a batch, so
/// that the store's last handle closes it).
fn write_batches(open: &Weak<Open>, rx: &Receiver<Vec<Unwritten>>) {
    for batch in rx {
        let Some(open) = open.upgrade() else { return };
        Store { open, ceiling: None }.write_batch_behind(batch);
    }
}
