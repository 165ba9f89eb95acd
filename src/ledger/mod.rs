//! The ledger: recording events under the rules, and reading the log back.
//!
//! [`Recorder`] is the only writer. It checks each event against its org's
//! timeline (loaded through the by-org index, then kept in memory), seals it
//! into the hash chain, and writes batches of envelopes. Nothing is reported
//! as recorded before [`Recorder::commit`] has made it durable, and
//! [`Recorder::abort`] removes whatever batches it had already written. A
//! recorder that is dropped (or a process killed) before its commit leaves
//! batches that nothing reads: the next open of the ledger removes them
//! (`Store::commit` has the protocol).

mod error;
pub use error::Error as LedgerError;

use std::path::Path;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::envelope::{Envelope, GENESIS, Head, Scratch, Sealed, parse_time};
use crate::model::id::OrgId;
use crate::store::{HEAD_FILE, Options, Store};

mod org;
mod recorder;

pub use org::{OrgRecord, counting_steps};
pub use recorder::Recorder;

/// Envelopes handed to the store at a time: one log block
/// ([`crate::store::BLOCK`]), so that an import writes each block once.
pub const BATCH: usize = crate::store::BLOCK;

/// The largest event accepted, in bytes of JSON: real events are a few KB,
/// and keeping values small keeps them out of sled's unsynced blob files.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// The `prev` and `hash` of the stored envelope of `seq`, once its bytes
/// are found to be an envelope of that seq whose hash matches its content.
fn chain_of(seq: u64, bytes: &[u8], scratch: &mut Scratch) -> Result<(String, String)> {
    if let Some(sealed) = Sealed::read(bytes, scratch)
        && sealed.seq == seq
    {
        return Ok((sealed.prev.to_owned(), sealed.hash.to_owned()));
    }
    // Not in the form the fast reader takes: the general way, which says what is wrong.
    let env = crate::store::decode(seq, bytes)?;
    if !env.hash_is_valid() {
        return Err(Error::integrity(format!(
            "seq {seq}: the log is damaged: the stored event's hash does not match its content"
        )));
    }
    Ok((env.prev, env.hash))
}

/// Which state of the log a query reads (transaction time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Now,
    Seq(u64),
    Time(DateTime<Utc>),
}

pub struct Ledger {
    store: Store,
}

/// What recording one event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Recorded(u64),
    AlreadyRecorded(u64),
}

impl Ledger {
    pub fn open(dir: &Path, options: &Options) -> Result<Ledger> {
        Ok(Ledger { store: Store::open(dir, options)? })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// See [`Store::close_discarding_if_new`].
    pub fn close_discarding_if_new(self) -> Result<()> {
        self.store.close_discarding_if_new()
    }

    pub fn head(&self) -> Result<Head> {
        self.store.head()
    }

    /// Starts recording; `actor` becomes `recorded_by`.
    pub fn recorder(&self, actor: &str) -> Result<Recorder<'_>> {
        Recorder::new(&self.store, actor)
    }

    /// The event with this id.
    pub fn find(&self, id: &Uuid) -> Result<Option<Envelope>> {
        let Some(seq) = self.store.seq_of(id)? else { return Ok(None) };
        let env = self.checked(seq)?.ok_or_else(|| {
            Error::integrity(format!("the id index names seq {seq} for event {id}, which is not in the log"))
        })?;
        if env.event.id != *id {
            return Err(Error::integrity(format!(
                "the id index names seq {seq} for event {id}, which holds another event"
            )));
        }
        Ok(Some(env))
    }

    /// Hands `each` every envelope from `from_seq` on, in log order, as its
    /// stored bytes (one line of `accord export`), checking as it reads that
    /// nothing is missing or altered: seqs follow each other with no gap,
    /// each hash matches its envelope, each `prev` is the hash before, and
    /// the log ends at the head its last commit recorded. Anything else is
    /// an integrity error naming the first missing or bad seq, so a reader
    /// never gives a short or altered answer as if it were whole.
    pub fn read_log(&self, from_seq: u64, mut each: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let from_seq = from_seq.max(1);
        let head = self.store.head()?;
        let mut next: Option<u64> = None;
        let mut prev = String::new();
        let mut scratch = Scratch::default();
        let gap = |seq: u64, found: u64| {
            Error::integrity(format!(
                "seq {seq}: the log is damaged: the event at seq {seq} is missing (the next one stored is seq {found})"
            ))
        };
        for block in self.store.block_spans(from_seq) {
            let (first, block) = block?;
            match next {
                None if first > from_seq => return Err(gap(from_seq, first)),
                None if first == 1 => prev.push_str(GENESIS),
                Some(seq) if seq != first => return Err(gap(seq, first)),
                _ => {}
            }
            for (seq, span) in &block.spans {
                let bytes = &block.payload[span.clone()];
                let (env_prev, hash) = chain_of(*seq, bytes, &mut scratch)?;
                if !prev.is_empty() && env_prev != prev {
                    return Err(Error::integrity(format!(
                        "seq {seq}: the log is damaged: its `prev` is not the hash of seq {}",
                        seq - 1
                    )));
                }
                prev = hash;
                if *seq >= from_seq {
                    each(*seq, bytes)?;
                }
                next = Some(seq + 1);
            }
        }
        let end = next.map_or(0, |n| n - 1);
        if head.seq >= from_seq && (end != head.seq || prev != head.hash) {
            return Err(Error::integrity(format!(
                "seq {}: the log is damaged: it ends at seq {end}, but its head is seq {}",
                end + 1,
                head.seq
            )));
        }
        Ok(())
    }

    /// The envelope at `seq`, its hash checked against its content.
    pub fn checked(&self, seq: u64) -> Result<Option<Envelope>> {
        let Some(bytes) = self.store.raw(seq)? else { return Ok(None) };
        chain_of(seq, &bytes, &mut Scratch::default())?;
        crate::store::decode(seq, &bytes).map(Some)
    }

    /// Hands `each` every envelope of `org`, in log order, as stored in the
    /// log; each is checked to be the envelope of its seq, its hash intact.
    pub fn read_org_log(&self, org: &OrgId, mut each: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let mut scratch = Scratch::default();
        for (seq, bytes) in self.store.org_raw(org, u64::MAX)? {
            chain_of(seq, &bytes, &mut scratch)?;
            each(seq, &bytes)?;
        }
        Ok(())
    }

    /// After `audit verify` found the log whole up to `head`: checks that the
    /// head marker names that head. A marker that is missing is restored
    /// when a checkpoint the user kept vouched for the log (returned);
    /// without one, or with a marker that names another head, the ledger
    /// is reported damaged.
    pub fn settle_head_marker(&self, head: &Head, checkpoint: Option<&Head>) -> Result<Option<Head>> {
        match self.store.head_marker()? {
            Some(marker) if marker == *head => Ok(None),
            None if head.seq == 0 => Ok(None),
            None => match checkpoint {
                Some(checkpoint) => {
                    self.store.write_head_marker(head)?;
                    Ok(Some(checkpoint.clone()))
                }
                None => Err(Error::integrity(format!(
                    "the log verifies up to seq {}, but {HEAD_FILE} (the head its last commit recorded) is missing, \
                     so a log cut short cannot be told from a whole one: check it against a checkpoint you kept \
                     (`accord audit verify --checkpoint SEQ:HASH`), which restores the marker",
                    head.seq
                ))),
            },
            Some(marker) => Err(Error::integrity(format!(
                "the log verifies up to seq {}, but its last commit recorded seq {} as the head ({HEAD_FILE}): \
                 events were added to the log outside accord, or the marker was replaced",
                head.seq, marker.seq
            ))),
        }
    }

    /// The log position a view reads up to.
    pub fn resolve(&self, as_of: AsOf) -> Result<u64> {
        let head = self.store.head()?.seq;
        match as_of {
            AsOf::Now => Ok(head),
            AsOf::Seq(n) if n <= head => Ok(n),
            AsOf::Seq(n) => Err(Error::rejected(format!("the log has no seq {n}: its head is seq {head}"))),
            AsOf::Time(t) => {
                // recorded_at never decreases: binary search for the last seq at or before t.
                let (mut lo, mut hi) = (0u64, head);
                while lo < hi {
                    let mid = lo + (hi - lo).div_ceil(2);
                    let env = self
                        .store
                        .get(mid)?
                        .ok_or_else(|| Error::integrity(format!("the log has a gap at seq {mid}")))?;
                    let at = parse_time(&env.recorded_at).ok_or_else(|| {
                        Error::integrity(format!("the stored event at seq {mid} has a damaged recorded_at"))
                    })?;
                    if at <= t { lo = mid } else { hi = mid - 1 }
                }
                Ok(lo)
            }
        }
    }

    /// An org's events up to `upto`, in log order, and the timeline of those
    /// that count then (corrections applied as of `upto`).
    pub fn org(&self, org: &OrgId, upto: u64) -> Result<OrgRecord> {
        OrgRecord::new(org.clone(), upto, self.store.org_copies(org, upto)?)
    }
}
