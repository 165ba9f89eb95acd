//! The façade: recording under the rules, reading the log and its views, verifying it.

mod cache;
mod claim;
mod error;
mod org;
mod recorder;
mod roster;
mod tree;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use claim::{CLAIM_FORMAT, Claim, ClaimEvent, ClaimReading, verify_claim};
pub use error::{Broken, Correction, Error as LedgerError, Uncorrectable};
pub use org::OrgRecord;
pub use recorder::{Line, LineReader, Recorder};
pub use roster::SettledMembers;
use roster::org_facts;
pub use tree::{Consistency, Inclusion, check_export_checkpoint};

pub use crate::audit::{Replayed, Report, Target, verify_export};
pub use crate::progress::{EVERY, Progress};
pub use crate::store::{Options, os_reason};

use crate::error::Result;
use crate::model::date::Day;
use crate::model::envelope::{Envelope, GENESIS, Head, parse_time};
use crate::model::id::{OrgId, PartyId};
use crate::model::read::Chain;
use crate::model::summary::OrgSummary;
use crate::sha_many::{Message, sha256_each};
use crate::store::{Store, Unpacked};

/// The largest event accepted, in bytes of JSON: real events are a few KB,
/// and keeping values small keeps them out of sled's unsynced blob files.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// A stored envelope's `prev` and `hash`, in hex as stored: a copy, not
/// two strings (an export read a million of each, made on one thread and
/// freed on another).
#[derive(Clone, Copy)]
struct Link {
    prev: [u8; 64],
    hash: [u8; 64],
}

/// The [`Link`] of each stored envelope of `block`, in order, once its
/// bytes are found to be an envelope of its seq whose hash matches its
/// content ([`Chain::read`]: the bytes are the ones sealed). The hashes of
/// those the fast reader takes are computed all at once ([`sha256_each`]):
/// an export of the bench's 1M events took 0.69 s of user CPU (median of
/// eight) against 0.78 s hashed one after the other.
fn chains_of(block: &Unpacked) -> Vec<Result<Link>> {
    let read: Vec<_> =
        (block.spans.iter()).map(|(_, span)| block.payload.get(span.clone()).and_then(Chain::read_unchecked)).collect();
    let messages: Vec<Message<'_>> = read.iter().flatten().map(|chain| chain.hashed).collect();
    let mut digests = Vec::with_capacity(messages.len());
    sha256_each(&messages, &mut digests);
    let mut digests = digests.iter();
    (block.spans.iter().zip(read))
        .map(|((seq, span), read)| {
            match read.and_then(|chain| chain.check(digests.next()?)).filter(|chain| chain.seq == *seq) {
                Some(chain) => link(*seq, chain.prev, chain.hash),
                None => chain_of(*seq, block.payload.get(span.clone()).unwrap_or_default()),
            }
        })
        .collect()
}

/// The [`Link`] of the stored envelope of `seq`, read the general way, which
/// says what is wrong with `bytes` if anything is.
fn chain_of(seq: u64, bytes: &[u8]) -> Result<Link> {
    let env = crate::store::decode(seq, bytes)?;
    if !env.hash_is_valid() {
        return Err(LedgerError::StoredHashMismatch { seq }.into());
    }
    link(seq, &env.prev, &env.hash)
}

/// The [`Link`] of `prev` and `hash`, those of the envelope of `seq`.
fn link(seq: u64, prev: &str, hash: &str) -> Result<Link> {
    match (prev.as_bytes().try_into(), hash.as_bytes().try_into()) {
        (Ok(prev), Ok(hash)) => Ok(Link { prev, hash }),
        _ => Err(LedgerError::StoredHashMismatch { seq }.into()),
    }
}

/// Threads that check envelopes for [`Ledger::read_log`] while it hands
/// out the ones before: an export is as fast as reading, checking and
/// writing overlap.
const CHECKERS: usize = 2;

/// A log block and, for each of its envelopes in order, its [`Link`] once
/// checked ([`chains_of`]) or why it is not intact.
type CheckedBlock = (u64, Unpacked, Vec<Result<Link>>);

/// Calls `each` with every log block from the one holding `from_seq` on, in
/// order, with each envelope checked by [`chains_of`]: one thread reads and
/// unpacks the blocks and deals them to [`CHECKERS`] threads, and this one
/// takes them back in order. An error (from the store, or returned by
/// `each`) ends the walk; the other threads stop at their next hand-over.
fn checked_blocks(
    store: &Store,
    from_seq: u64,
    mut each: impl FnMut(u64, &Unpacked, Vec<Result<Link>>) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|scope| {
        let mut to_checkers = Vec::new();
        let mut from_checkers = Vec::new();
        for _ in 0..CHECKERS {
            let (tx, rx) = sync_channel::<Result<(u64, Unpacked)>>(4);
            let (out_tx, out_rx) = sync_channel::<Result<CheckedBlock>>(4);
            scope.spawn(move || {
                for block in rx {
                    let checked = block.map(|(first, block)| {
                        let chains = chains_of(&block);
                        (first, block, chains)
                    });
                    if out_tx.send(checked).is_err() {
                        return;
                    }
                }
            });
            to_checkers.push(tx);
            from_checkers.push(out_rx);
        }
        scope.spawn(move || {
            for (block, tx) in store.block_spans(from_seq).zip(to_checkers.iter().cycle()) {
                let failed = block.is_err();
                if tx.send(block).is_err() || failed {
                    return;
                }
            }
        });
        // Block i went to checker i % CHECKERS; returning drops the
        // receivers, which stops the checkers and then the reader.
        for i in 0.. {
            let Ok(block) = from_checkers[i % CHECKERS].recv() else { return Ok(()) };
            let (first, block, chains) = block?;
            each(first, &block, chains)?;
        }
        Ok(())
    })
}

/// The envelope of bytes that [`Ledger::read_log`] or
/// [`Ledger::read_org_log`] handed out for `seq`.
pub fn decode(seq: u64, bytes: &[u8]) -> Result<Envelope> {
    crate::store::decode(seq, bytes)
}

/// An org as `accord orgs` shows it ([`Ledger::overview`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgOverview {
    pub org: OrgId,
    /// The founding's `name`.
    pub name: Option<String>,
    /// The founding's date as written, if the org's timeline starts with one.
    pub founded: Option<String>,
    /// Parties whose status on the day is certain and not none.
    pub members: u64,
    /// Parties whose status on the day is uncertain.
    pub uncertain: u64,
}

/// Which state of the log a query reads (transaction time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Now,
    Seq(u64),
    Time(DateTime<Utc>),
}

impl AsOf {
    /// The log as it stood at a time (RFC 3339), or at the end of a day
    /// (YYYY-MM-DD, UTC): `--known-at`.
    pub fn known_at(text: &str) -> Result<AsOf> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(AsOf::Time(t.with_timezone(&Utc)));
        }
        let day = Day::parse(text).map_err(|_| LedgerError::KnownAt { text: text.to_owned() })?;
        let end = day.to_naive().and_hms_micro_opt(23, 59, 59, 999_999).map(|t| t.and_utc());
        Ok(AsOf::Time(end.ok_or(LedgerError::KnownAtOutOfRange)?))
    }
}

/// An open ledger: the only way to the log, its indexes and its audit.
pub struct Ledger {
    store: Store,
    /// Orgs read before, for a process that answers many queries
    /// ([`Ledger::cache_orgs`]); shared with its views.
    cache: Option<Arc<cache::OrgCache>>,
}

/// What recording one event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Recorded(u64),
    AlreadyRecorded(u64),
}

impl Ledger {
    pub fn open(dir: &Path, options: &Options) -> Result<Ledger> {
        let ledger = Ledger { store: Store::open(dir, options)?, cache: None };
        // An audit reads the summaries as it finds them (and checks them).
        if !options.audit {
            ledger.catch_up_summaries()?;
        }
        Ok(ledger)
    }

    /// Brings a summaries' watermark that a command left behind (it died
    /// past its commit point, before writing its summaries) up to the head:
    /// the summaries of the orgs with an event past it, from their
    /// timelines, with the new watermark, in one batch. A ledger without
    /// the watermark (written before it) is left as it is: its readers
    /// check each summary against the org's last event.
    fn catch_up_summaries(&self) -> Result<()> {
        let Some(from) = self.store.summaries_current()? else { return Ok(()) };
        // The open read the log's last seq already.
        let head = self.store.committed_seq();
        if from >= head {
            return self.store.check_summaries_current(from, head);
        }
        let mut orgs = std::collections::BTreeSet::new();
        for item in self.store.scan_raw(from + 1) {
            let (seq, bytes) = item?;
            orgs.insert(crate::store::decode(seq, &bytes)?.event.org);
        }
        let mut summaries = Vec::with_capacity(orgs.len());
        for org in orgs {
            let record = self.org(&org, head)?;
            let Some(last) = self.store.org_last(&org)? else { return Ok(()) };
            let tail = crate::timeline::Tail::of(record.timeline());
            let founding = tail.founding().and_then(|id| record.event(&id)).map(|r| &r.event);
            summaries.push(org_facts(org, &tail, last, founding));
        }
        self.store.write_summaries(&summaries, head)
    }

    /// The store beneath, for the crate's own tests and checks.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// See [`Store::close_discarding_if_new`].
    pub fn close_discarding_if_new(self) -> Result<()> {
        self.store.close_discarding_if_new()
    }

    pub fn head(&self) -> Result<Head> {
        self.store.head()
    }

    /// Starts recording; `actor` becomes `recorded_by`. Not through a view
    /// ([`Ledger::committed`]).
    pub fn recorder(&self, actor: &str) -> Result<Recorder<'_>> {
        self.store.writable()?;
        Recorder::new(self.store(), actor)
    }

    /// The ledger as its last commit left it, for a reader on another
    /// thread while this ledger may be recording (a server's requests): it
    /// reads the log, the indexes and the proofs up to that commit's head,
    /// and nothing a command has handed over or written since, however far
    /// it has got; it never waits for it. It cannot record, and an audit
    /// belongs on the ledger itself. Cheap: it shares the open ledger.
    pub fn committed(&self) -> Ledger {
        Ledger { store: self.store.committed(), cache: self.cache.clone() }
    }

    /// The event with this id.
    pub fn find(&self, id: &Uuid) -> Result<Option<Envelope>> {
        let Some(seq) = self.store.seq_of(id)? else { return Ok(None) };
        let env = self.checked(seq)?.ok_or(LedgerError::IdIndexDangling { id: *id, seq })?;
        if env.event.id != *id {
            return Err(LedgerError::IdIndexWrong { id: *id, seq }.into());
        }
        Ok(Some(env))
    }

    /// The events whose id, as 32 lowercase hex digits, starts with `hex`
    /// (lowercase hex digits; give 2 or more, so one bucket of the id index
    /// is read), with their seqs, sorted by id: `accord show 4e9f`.
    pub fn find_prefix(&self, hex: &str) -> Result<Vec<(Uuid, u64)>> {
        self.store.ids_with_prefix(hex)
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
        // The hash the next envelope's `prev` must be, once known.
        let mut prev: Option<[u8; 64]> = None;
        let gap = |seq: u64, next: u64| LedgerError::Missing { seq, next };
        checked_blocks(&self.store, from_seq, |first, block, chains| {
            match next {
                None if first > from_seq => return Err(gap(from_seq, first).into()),
                None if first == 1 => prev = GENESIS.as_bytes().try_into().ok(),
                Some(seq) if seq != first => return Err(gap(seq, first).into()),
                _ => {}
            }
            for ((seq, span), chain) in block.spans.iter().zip(chains) {
                let link = chain?;
                if prev.is_some_and(|prev| link.prev != prev) {
                    return Err(LedgerError::BrokenChain { seq: *seq }.into());
                }
                prev = Some(link.hash);
                if *seq >= from_seq {
                    each(*seq, &block.payload[span.clone()])?;
                }
                next = Some(seq + 1);
            }
            Ok(())
        })?;
        let end = next.map_or(0, |n| n - 1);
        if head.seq >= from_seq && (end != head.seq || prev.as_ref().map(|p| &p[..]) != Some(head.hash.as_bytes())) {
            return Err(LedgerError::CutShort { end, head: head.seq }.into());
        }
        Ok(())
    }

    /// The hash of the complete subtree of the log's Merkle tree (RFC 6962)
    /// of 2^`level` leaves starting at leaf `index` × 2^`level` (leaf i is
    /// the envelope of seq i + 1 as exported): stored for 256 leaves and
    /// more, hashed from the log below that. The subtree must lie within
    /// the log.
    pub fn subtree_hash(&self, level: u8, index: u64) -> Result<crate::store::Hash> {
        self.store.subtree_hash(level, index)
    }

    /// The envelope at `seq`, its hash checked against its content.
    pub fn checked(&self, seq: u64) -> Result<Option<Envelope>> {
        let Some(bytes) = self.checked_bytes(seq)? else { return Ok(None) };
        crate::store::decode(seq, &bytes).map(Some)
    }

    /// The envelope at `seq` as stored in the log (its canonical JSON, one
    /// line of `accord export`), its hash checked against its content.
    pub fn checked_bytes(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        let Some(bytes) = self.store.raw(seq)? else { return Ok(None) };
        chain_of(seq, &bytes)?;
        Ok(Some(bytes))
    }

    /// Hands `each` every envelope of `org`, in log order, as stored in the
    /// log; each is checked to be the envelope of its seq, its hash intact.
    pub fn read_org_log(&self, org: &OrgId, mut each: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        for (seq, bytes) in self.store.org_raw(org, u64::MAX)? {
            chain_of(seq, &bytes)?;
            each(seq, &bytes)?;
        }
        Ok(())
    }

    /// After `audit verify` found the log whole up to `head`: checks that the
    /// head marker names that head. A marker that is missing is restored
    /// when a checkpoint the user kept vouched for the log (returned);
    /// without one, or with a marker that names another head, the ledger
    /// is reported damaged.
    fn settle_head_marker(&self, head: &Head, checkpoint: Option<&Head>) -> Result<Option<Head>> {
        match self.store.head_marker()? {
            Some(marker) if marker == *head => Ok(None),
            None if head.seq == 0 => Ok(None),
            None => match checkpoint {
                Some(checkpoint) => {
                    self.store.write_head_marker(head)?;
                    Ok(Some(checkpoint.clone()))
                }
                None => Err(LedgerError::HeadMarkerMissing { head: head.seq }.into()),
            },
            Some(marker) => Err(LedgerError::HeadMarkerMoved { head: head.seq, marker: marker.seq }.into()),
        }
    }

    /// The log position a view reads up to.
    pub fn resolve(&self, as_of: AsOf) -> Result<u64> {
        let head = self.store.head_seq()?;
        match as_of {
            AsOf::Now => Ok(head),
            AsOf::Seq(n) if n <= head => Ok(n),
            AsOf::Seq(n) => Err(LedgerError::NoSeq { seq: n, head }.into()),
            AsOf::Time(t) => {
                // recorded_at never decreases: binary search for the last seq at or before t.
                let (mut lo, mut hi) = (0u64, head);
                while lo < hi {
                    let mid = lo + (hi - lo).div_ceil(2);
                    let env = self.store.get(mid)?.ok_or(LedgerError::Gap { seq: mid })?;
                    let at = parse_time(&env.recorded_at).ok_or(LedgerError::DamagedTime { seq: mid })?;
                    if at <= t { lo = mid } else { hi = mid - 1 }
                }
                Ok(lo)
            }
        }
    }

    /// An org's events up to `upto`, in log order, and the timeline of those
    /// that count then (corrections applied as of `upto`).
    ///
    /// With [`Ledger::cache_orgs`], what an org read at a committed position
    /// says is kept, and serves every position at which the org had the
    /// same events; its events are read again for each record.
    pub fn org(&self, org: &OrgId, upto: u64) -> Result<OrgRecord> {
        match self.cached_org(org, upto)? {
            Some(core) => OrgRecord::whole(org.clone(), upto, core, &self.store),
            None => self.read_org(org, upto),
        }
    }

    /// [`Ledger::org`] for an answer that needs the org's timeline, tracks
    /// and sources and no event (`members --json`, `diff --json`): from the
    /// cache of orgs, its events are not read unless a source needs them,
    /// and [`OrgRecord::event`] reads them on first use, `None` if it cannot.
    pub fn org_without_events(&self, org: &OrgId, upto: u64) -> Result<OrgRecord> {
        match self.cached_org(org, upto)? {
            Some(core) if core.needs_copies() => OrgRecord::whole(org.clone(), upto, core, &self.store),
            Some(core) => Ok(OrgRecord::of(org.clone(), upto, core, &self.store)),
            None => self.read_org(org, upto),
        }
    }

    /// What the cache of orgs holds for `org` at `upto`, if it answers there.
    fn cached_org(&self, org: &OrgId, upto: u64) -> Result<Option<Arc<org::OrgCore>>> {
        let Some(cache) = self.cached_at(upto) else { return Ok(None) };
        let Some(hit) = cache.get(org) else { return Ok(None) };
        if hit.last > upto {
            return Ok(None);
        }
        if upto <= hit.through {
            return Ok(Some(hit.core));
        }
        // A later position: the org's summary, where the watermark vouches
        // for it, names its last event there.
        if let Some(current) = self.store.summaries_current()?
            && upto <= current
            && self.store.summary(org)?.is_some_and(|s| s.last == hit.last)
        {
            cache.extend(org, hit.last, current);
            return Ok(Some(hit.core));
        }
        Ok(None)
    }

    /// The cache of orgs, if there is one and `upto` is a committed position.
    fn cached_at(&self, upto: u64) -> Option<&cache::OrgCache> {
        self.cache.as_deref().filter(|_| upto <= self.store.committed_seq())
    }

    /// Reads an org from its copies, and keeps it in the cache of orgs.
    fn read_org(&self, org: &OrgId, upto: u64) -> Result<OrgRecord> {
        let record = OrgRecord::new(org.clone(), upto, self.store.org_copies(org, upto)?, &self.store)?;
        if let Some(cache) = self.cached_at(upto) {
            cache.put(org, record.core(), upto);
        }
        Ok(record)
    }

    /// The same open ledger without a cache of orgs: what the cache's
    /// answers are checked against.
    #[cfg(test)]
    pub(crate) fn uncached_for_tests(ledger: &Ledger) -> Ledger {
        Ledger { store: ledger.store.clone(), cache: None }
    }

    /// Keeps orgs once read, up to about `budget` bytes, for the life of
    /// this ledger and its views: for a process that answers many queries.
    pub fn cache_orgs(&mut self, budget: usize) {
        self.cache = (budget > 0).then(|| Arc::new(cache::OrgCache::new(budget)));
    }

    /// Reads `org` into the cache ([`Ledger::cache_orgs`]) at the last
    /// commit, with what `members` asks of it made: a server's first
    /// queries then find it. `false` if there is no cache or it is full.
    pub fn warm_org(&self, org: &OrgId) -> Result<bool> {
        let Some(cache) = &self.cache else { return Ok(false) };
        if cache.is_full() {
            return Ok(false);
        }
        let view = self.committed();
        view.org_without_events(org, view.store.committed_seq())?.tracks();
        Ok(true)
    }

    /// Every org with an event in the log, in id order.
    pub fn orgs(&self) -> Result<Vec<OrgId>> {
        self.store.orgs()
    }

    /// The orgs with an event that names `party` (at any seq: a view reads
    /// each at its own seq), in id order: from the party index, or every
    /// org while the index does not hold the whole log.
    pub fn orgs_naming(&self, party: &PartyId) -> Result<Vec<OrgId>> {
        match self.store.party_orgs(party)? {
            Some(orgs) => Ok(orgs),
            None => self.store.orgs(),
        }
    }

    /// An org as `accord orgs` shows it, as the log stood at `upto`, on
    /// `day`; `None` if it had no event then. From the org's stored summary
    /// if that is current (written at its last event, which `upto` includes:
    /// the summaries' watermark vouches for it at or below the watermark,
    /// else the org's last copy is read) and every event had happened by
    /// `day`; otherwise from its events.
    pub fn overview(&self, org: &OrgId, upto: u64, day: Day) -> Result<Option<OrgOverview>> {
        if let Some(summary) = self.store.summary(org)?
            && summary.last <= upto
            && let Some(members) = summary.members_on(day)
            && (self.store.summaries_current()?.is_some_and(|current| upto <= current)
                || self.store.org_last(org)? == Some(summary.last))
        {
            let OrgSummary { name, founded, .. } = summary;
            return Ok(Some(OrgOverview { org: org.clone(), name, founded, members, uncertain: 0 }));
        }
        let record = self.org(org, upto)?;
        if record.is_empty() {
            return Ok(None);
        }
        let founding = record.timeline().steps().first().filter(|s| s.is_founding()).and_then(|s| record.event(&s.id));
        let founded = founding.and_then(|env| env.event.date).map(|d| d.to_string());
        let name = founding.and_then(|env| match &env.event.kind {
            crate::model::event::EventKind::Founding { name, .. } => name.clone(),
            _ => None,
        });
        let m = crate::projection::members_on(org, upto, record.timeline().steps(), record.tracks(), day);
        let (members, uncertain) = (m.count as u64, m.uncertain.len() as u64);
        Ok(Some(OrgOverview { org: org.clone(), name, founded, members, uncertain }))
    }

    /// Verifies the whole ledger: the log, its indexes, the rules, and a
    /// `checkpoint` the user kept ([`crate::audit::verify_ledger`]); then
    /// the head marker. Returns the report, and the checkpoint that vouched
    /// for restoring a missing head marker, if it was restored. `progress`
    /// is told the log's length, then how far the passes have got.
    pub fn verify(&self, checkpoint: Option<Head>, progress: &dyn Progress) -> Result<(Report, Option<Head>)> {
        self.tell_length(progress);
        let report = crate::audit::verify_ledger(self.store(), checkpoint.clone(), progress)?;
        let restored = self.settle_head_marker(&report.head, checkpoint.as_ref())?;
        Ok((report, restored))
    }

    /// Replays the log in order (one org's events with `org`), checking it,
    /// and hands `each` every event with the change it made
    /// ([`crate::audit::replay`]). Returns the head. `progress` is told the
    /// log's length, then how far the replay has got.
    pub fn replay(
        &self,
        org: Option<&OrgId>,
        progress: &dyn Progress,
        each: impl FnMut(&Envelope, &Replayed) -> Result<()>,
    ) -> Result<Head> {
        self.tell_length(progress);
        crate::audit::replay(self.store(), org, progress, each)
    }

    /// Tells `progress` how many events the log holds, as its last block
    /// says. Unreadable, it is not told: the pass that follows says what is wrong.
    fn tell_length(&self, progress: &dyn Progress) {
        if let Ok(last) = self.store.last_seq() {
            progress.total(last);
        }
    }
}
