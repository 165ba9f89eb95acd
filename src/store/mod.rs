//! The ledger on disk: one sled database, one tree, a few keys per thousand events.
//!
//! | key | value |
//! |---|---|
//! | `B` + first seq (u64 BE) | a log block: envelopes `first..first+n` (n ≤ [`BLOCK`]), packed |
//! | `I` + bucket (u16 BE) + chunk number (u32 BE) | id index: sorted (event id, seq) pairs whose id falls in the bucket |
//! | `Mformat` | `accord-ledger/2` |
//! | `Mindexed` | seq (u64 BE): the indexes hold exactly the events up to it |
//! | `Mrecording` | while a command records: the head before it (seq u64 BE, hash in hex) |
//! | `O` + org id + `0x00` + first seq (u64 BE) | org copy: that org's envelopes from `first` on, packed (≤ [`BLOCK`]) |
//!
//! A *packed* value is `z` + the payload's length (u32 LE) + the payload
//! compressed by zstd (with its checksum); the payload is each envelope's
//! canonical JSON (SPEC §4, `hash` included: one line of `accord export`)
//! preceded by its length (u32 LE).
//!
//! sled pays about 100 bytes and a share of a rewritten leaf for every key,
//! and rewrites whole leaves when keys land all over the tree, so nothing
//! here is one key per event: the log is written in blocks at the end of the
//! `B` range, and the indexes are written in bulk ([`INDEX_BATCH`] events at
//! a time, and at every commit) under `Mindexed`, their watermark. The
//! indexes are derived from the log: if a process dies after writing log
//! blocks but before indexing them, the next open indexes them
//! ([`Store::open`]).
//!
//! A command's writes are invisible until its commit: its first batch
//! writes `Mrecording`, and an open that finds it undoes the writes, unless
//! the command passed its commit point ([`Store::commit`]).
//!
//! Next to sled's files, `accord.head` holds the head (`{"seq":N,"hash":"…"}`)
//! as of the last commit. sled recovers a log whose recent part is damaged by
//! cutting it, silently, at the damage; the marker makes that loss an error.
//!
//! Every write is one `apply_batch` (atomic across keys, also after a
//! crash), and [`Store::commit`] makes written batches durable (see
//! ARCHITECTURE.md). The store knows nothing of the rules: it keeps bytes
//! and indexes.

mod error;
pub use error::Error as StoreError;

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::error::{Error, ErrorKind, Result};
use crate::model::envelope::{Envelope, Head, Recorded};
use crate::model::id::OrgId;

pub const FORMAT_KEY: &[u8] = b"Mformat";
pub const INDEXED_KEY: &[u8] = b"Mindexed";
/// Present while a command records: the head before it (seq u64 BE, then
/// the hash as 64 hex digits). Written in the command's first batch and
/// removed by its commit; an open that finds it undoes the command's writes.
pub const RECORDING_KEY: &[u8] = b"Mrecording";
const FORMAT: &[u8] = b"accord-ledger/2";
const LOCK_FILE: &str = "accord.lock";
pub const HEAD_FILE: &str = "accord.head";
const HEAD_TMP: &str = "accord.head.tmp";

/// Envelopes per log block and per org-copy chunk. A block is rewritten
/// while it fills (an append reads and rewrites the last one), so it stays
/// small; 64 envelopes pack to about 5 KB (1M generated events: 5.4 KB a block).
pub const BLOCK: usize = 64;

/// An org's last chunk smaller than this takes new copies (if they fit).
const SMALL: usize = 16;

/// Entries per id-index chunk at most (24 bytes each, not compressed: ids
/// are random), and the size under which a bucket's last chunk takes more.
pub const ID_CHUNK: usize = 512;
const SMALL_IDS: usize = 64;

/// Events written to the log before they are written to the indexes; a
/// commit indexes whatever is left. Bounds the memory an import holds.
pub const INDEX_BATCH: usize = 32 * 1024;

/// The largest payload a packed value may claim: [`BLOCK`] envelopes of
/// the largest event accepted, with room for the envelope fields.
const MAX_PAYLOAD: usize = BLOCK * (80 * 1024);

/// zstd level: 1 is the fastest; higher levels gained little on envelopes.
const ZSTD_LEVEL: i32 = 1;

/// How to open a ledger.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long to wait for a ledger held by another process.
    pub wait: Duration,
    /// Create the ledger if it does not exist (writes); otherwise it must
    /// exist, and nothing is created at the path.
    pub create: bool,
    /// Open a ledger whose head marker ([`HEAD_FILE`]) is missing or does
    /// not match its log, so that an audit can say more; everything else
    /// refuses such a ledger.
    pub audit: bool,
}

impl Options {
    pub fn new(wait: Duration, create: bool) -> Options {
        Options { wait, create, audit: false }
    }
}

/// An envelope written to the log, not yet to the indexes.
struct Unindexed {
    seq: u64,
    id: Uuid,
    org: OrgId,
    /// [`Envelope::record_json`]: the org copy.
    record: Vec<u8>,
}

#[derive(Default)]
struct Pending {
    events: Vec<Unindexed>,
    /// Position in `events` of each id.
    ids: HashMap<Uuid, usize>,
    /// The head before the command that is recording, once its first batch
    /// (which wrote [`RECORDING_KEY`]) is in sled.
    started: Option<Head>,
    /// The commit is writing the new head to [`HEAD_FILE`].
    committing: bool,
}

/// What an open found at the path before it, so that a refused first
/// command can leave the path as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Created {
    Nothing,
    /// sled's files (and accord's) in a directory that was there.
    Files,
    /// The directory itself.
    Directory,
}

pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    created: Created,
    pending: Mutex<Pending>,
    // Held for the life of the store: one accord process per ledger.
    _lock: File,
}

pub fn block_key(first_seq: u64) -> [u8; 9] {
    let mut k = [b'B'; 9];
    k[1..].copy_from_slice(&first_seq.to_be_bytes());
    k
}

/// The id-index bucket of an id: its first byte (256 buckets).
pub fn id_bucket(id: &Uuid) -> u16 {
    u16::from(id.as_bytes()[0])
}

/// Looks `id` up in an id-index chunk as stored (sorted entries of 24
/// bytes), without decoding it: `Err` if the chunk is damaged.
fn find_id(chunk: &[u8], id: &Uuid) -> std::result::Result<Option<u64>, ()> {
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

pub fn id_chunk_key(bucket: u16, chunk: u32) -> [u8; 7] {
    let mut k = [b'I'; 7];
    k[1..3].copy_from_slice(&bucket.to_be_bytes());
    k[3..].copy_from_slice(&chunk.to_be_bytes());
    k
}

pub fn org_prefix(org: &OrgId) -> Vec<u8> {
    let mut k = Vec::with_capacity(org.as_str().len() + 10);
    k.push(b'O');
    k.extend_from_slice(org.as_str().as_bytes());
    k.push(0);
    k
}

pub fn org_chunk_key(org: &OrgId, first_seq: u64) -> Vec<u8> {
    let mut k = org_prefix(org);
    k.extend_from_slice(&first_seq.to_be_bytes());
    k
}

fn seq_from(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Envelopes as stored together: each one's seq and canonical JSON.
pub type Packed = Vec<(u64, Vec<u8>)>;

/// Packs envelopes (seq and canonical JSON) into a stored value.
pub fn pack<'a>(envelopes: impl IntoIterator<Item = (u64, &'a [u8])>) -> Result<Vec<u8>> {
    let mut payload = Vec::new();
    for (seq, bytes) in envelopes {
        let len = u32::try_from(bytes.len()).map_err(|_| Error::rejected("an envelope is too large to store"))?;
        payload.extend_from_slice(&seq.to_le_bytes());
        payload.extend_from_slice(&len.to_le_bytes());
        payload.extend_from_slice(bytes);
    }
    let len = u32::try_from(payload.len()).map_err(|_| Error::rejected("a block is too large to store"))?;
    let compressed = COMPRESSOR
        .with(|c| c.borrow_mut().as_mut().map(|c| c.compress(&payload)))
        .ok_or_else(|| Error::io("cannot start zstd"))?
        .map_err(|e| Error::io(format!("zstd could not compress a block: {e}")))?;
    let mut out = Vec::with_capacity(5 + compressed.len());
    out.push(b'z');
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&compressed);
    Ok(out)
}

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = std::cell::RefCell::new(
        zstd::bulk::Compressor::new(ZSTD_LEVEL).ok().and_then(|mut c| {
            c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).ok()?;
            Some(c)
        }),
    );
}

thread_local! {
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        std::cell::RefCell::new(zstd::bulk::Decompressor::new().ok());
}

/// A stored value unpacked: the payload, and where each envelope lies in it.
pub struct Unpacked {
    pub payload: Vec<u8>,
    /// Each envelope's seq and bytes (a range of `payload`), in order.
    pub spans: Vec<(u64, Range<usize>)>,
}

impl Unpacked {
    pub fn into_packed(self) -> Packed {
        self.spans.into_iter().map(|(seq, r)| (seq, self.payload[r].to_vec())).collect()
    }
}

/// Unpacks a stored value without copying its envelopes; `None` if it is
/// damaged or holds none.
pub fn unpack_spans(value: &[u8]) -> Option<Unpacked> {
    let (&tag, rest) = value.split_first()?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    if tag != b'z' || len > MAX_PAYLOAD {
        return None;
    }
    // A decompression context per thread: creating one per value was an
    // eighth of `audit verify`'s time.
    let payload = DECOMPRESSOR.with(|d| d.borrow_mut().as_mut()?.decompress(&rest[4..], len).ok())?;
    if payload.len() != len {
        return None;
    }
    let mut spans = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let seq = u64::from_le_bytes(payload.get(at..at + 8)?.try_into().ok()?);
        let n = u32::from_le_bytes(payload.get(at + 8..at + 12)?.try_into().ok()?) as usize;
        let bytes = at + 12..at + 12 + n;
        payload.get(bytes.clone())?;
        spans.push((seq, bytes));
        at += 12 + n;
    }
    (!spans.is_empty()).then_some(Unpacked { payload, spans })
}

/// Unpacks a stored value into its envelopes (seq, bytes); `None` if it is
/// damaged or holds none.
pub fn unpack(value: &[u8]) -> Option<Packed> {
    unpack_spans(value).map(Unpacked::into_packed)
}

/// Decodes a log block under `B` + first seq: its envelopes must be seqs
/// `first`, `first + 1`, …; otherwise the error says where the log breaks.
fn decode_block(key: &[u8], value: &[u8]) -> std::result::Result<(u64, Unpacked), String> {
    let first = seq_from(&key[1..]).ok_or_else(|| format!("the ledger holds a damaged log key {}", show_key(key)))?;
    let block = unpack_spans(value).ok_or_else(|| {
        format!("seq {first}: the stored block of the log from seq {first} on is damaged: it does not decode")
    })?;
    match (first..).zip(&block.spans).find(|(s, (q, _))| s != q) {
        None => Ok((first, block)),
        Some((s, (q, _))) => {
            Err(format!("seq {s}: the log has a gap or a swap here: the next event stored is seq {q}"))
        }
    }
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

/// One entry of the store, read and decoded, for audits.
pub enum Entry {
    /// A log block: its first seq and its envelopes' bytes.
    Block(u64, Packed),
    /// An id-index chunk: its bucket and entries.
    Ids(u16, Vec<(Uuid, u64)>),
    /// An org-copy chunk: the org, the chunk's first seq, the envelopes' bytes.
    Org(OrgId, u64, Packed),
    /// The format marker or the index watermark.
    Meta,
    /// A key of no known family, or a value that does not decode.
    Damaged(String),
}

/// A key, quoted and shortened, for a message.
fn show_key(key: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(key).escape_debug().take(60).collect();
    format!("`{text}`")
}

fn decode_entry(key: &[u8], value: &[u8]) -> Entry {
    let damaged = |what: &str| Entry::Damaged(format!("{what} {}", show_key(key)));
    match key.first() {
        Some(b'B') => match decode_block(key, value) {
            Ok((first, block)) => Entry::Block(first, block.into_packed()),
            Err(what) => Entry::Damaged(what),
        },
        Some(b'I') => match (key.len(), unpack_ids(value)) {
            (7, Some(entries)) => Entry::Ids(u16::from_be_bytes([key[1], key[2]]), entries),
            (7, None) => damaged("the id index holds a damaged chunk under"),
            _ => damaged("the id index holds a damaged key"),
        },
        Some(b'O') => {
            let parsed = key.iter().position(|&b| b == 0).and_then(|at| {
                let org = std::str::from_utf8(&key[1..at]).ok().and_then(|s| OrgId::parse(s).ok())?;
                Some((org, seq_from(&key[at + 1..])?))
            });
            match (parsed, unpack(value)) {
                (Some((org, first)), Some(events))
                    if events[0].0 == first && events.windows(2).all(|w| w[0].0 < w[1].0) =>
                {
                    Entry::Org(org, first, events)
                }
                (Some((org, first)), _) => Entry::Damaged(format!(
                    "the org index of `{org}` holds a damaged chunk (from seq {first}): it does not decode"
                )),
                (None, _) => damaged("the org index holds a damaged key"),
            }
        }
        _ if key == FORMAT_KEY || key == INDEXED_KEY || key == RECORDING_KEY => Entry::Meta,
        _ => damaged("the ledger holds a key of no known kind"),
    }
}

impl Store {
    pub fn open(dir: &Path, options: &Options) -> Result<Store> {
        // sled's data file says whether a ledger is there. Only a command
        // that records may create one: reading never writes a file.
        let created = if dir.join("db").is_file() {
            Created::Nothing
        } else if !options.create || (dir.exists() && !dir.is_dir()) {
            return Err(Error::rejected(format!(
                "there is no ledger at {}: `accord import` or `accord append` creates one",
                dir.display()
            )));
        } else if dir.exists() {
            Created::Files
        } else {
            std::fs::create_dir_all(dir)
                .map_err(|e| io_failure(format!("cannot create the ledger directory {}", dir.display()), &e))?;
            Created::Directory
        };
        let deadline = Instant::now() + options.wait;
        let lock = acquire_lock(dir, options.wait)?;
        let config = sled::Config::new()
            .path(dir)
            // sled caches 1 GB by default. The log is read sequentially and
            // writes go to the end, so a small cache costs no speed and
            // bounds an import's memory.
            .cache_capacity(16 * 1024 * 1024)
            // No background flusher: accord syncs explicitly before it reports
            // anything recorded, and a reader has nothing to flush.
            .flush_every_ms(None);
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                // The previous holder released accord.lock, but sled's own
                // lock on `db` goes with its last thread, a moment later.
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                    if Instant::now() >= deadline {
                        return Err(busy(dir, options.wait));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(sled_error(dir, &e)),
            }
        };
        let store = Store { db, dir: dir.to_owned(), created, pending: Mutex::default(), _lock: lock };
        match store.db.get(FORMAT_KEY).map_err(|e| sled_error(dir, &e))? {
            Some(v) if v.as_ref() == FORMAT => {}
            Some(_) => {
                return Err(Error::integrity(format!(
                    "{} holds a ledger of another format than {}",
                    dir.display(),
                    String::from_utf8_lossy(FORMAT)
                )));
            }
            None if store.db.is_empty() => {
                if options.create {
                    store.db.insert(FORMAT_KEY, FORMAT).map_err(|e| sled_error(dir, &e))?;
                }
            }
            None => {
                return Err(Error::integrity(format!(
                    "{} is not an accord ledger, or it is damaged: its format marker is missing",
                    dir.display()
                )));
            }
        }
        // A command that died while recording is finished or undone before anything is read.
        if let Some(start) = store.recording()? {
            store.recover(&start).map_err(|e| {
                if e.kind() != ErrorKind::Io {
                    return e;
                }
                Error::new(
                    e.kind(),
                    format!(
                        "{e}, while finishing a command (import or append) that stopped while recording in the ledger at {}: \
                         the ledger cannot be used until an accord process can write there",
                        dir.display()
                    ),
                )
            })?;
        }
        // Both checks need the log's last seq: one read of its last block.
        let last = store.last()?;
        if !options.audit {
            store.check_head_marker(last.as_ref())?;
        }
        store.catch_up_indexes(last.as_ref().map_or(0, |e| e.seq))?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Closes the store and, if this open created the ledger and no event
    /// was written, removes what it created: a refused first command leaves
    /// the path as it found it.
    pub fn close_discarding_if_new(self) -> Result<()> {
        let discard = self.created != Created::Nothing && self.db.scan_prefix(b"B").next().is_none();
        let (dir, created) = (self.dir.clone(), self.created);
        drop(self);
        if !discard {
            return Ok(());
        }
        let failed = |e: std::io::Error| Error::io(format!("cannot remove the empty ledger {}: {e}", dir.display()));
        if created == Created::Directory {
            return std::fs::remove_dir_all(&dir).map_err(failed);
        }
        // Only the files a ledger is made of, in a directory that was there.
        for entry in std::fs::read_dir(&dir).map_err(failed)? {
            let entry = entry.map_err(failed)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = matches!(name.as_ref(), "db" | "conf" | "blobs" | LOCK_FILE | HEAD_FILE | HEAD_TMP)
                || name.starts_with("snap.");
            if ours {
                let path = entry.path();
                if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) }
                    .map_err(failed)?;
            }
        }
        Ok(())
    }

    fn err(&self, e: &sled::Error) -> Error {
        sled_error(&self.dir, e)
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A poisoned lock means a panic elsewhere, which ends the process anyway.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fails unless [`HEAD_FILE`] holds exactly the log's last event (seq
    /// and hash): the head recorded by the last commit. sled may cut a
    /// damaged log short, silently; the marker makes that an error.
    fn check_head_marker(&self, last: Option<&Envelope>) -> Result<()> {
        let dir = self.dir.display();
        let (seq, hash) = last.map_or((0, crate::model::envelope::GENESIS), |e| (e.seq, e.hash.as_str()));
        let check = "check the log against a checkpoint you kept (`accord audit verify --checkpoint SEQ:HASH`, \
                     which restores the marker if the log verifies)";
        let Some(marker) = self.head_marker()? else {
            if seq == 0 {
                return Ok(());
            }
            return Err(Error::integrity(format!(
                "the ledger at {dir} has no {HEAD_FILE}, the head its last commit recorded, so a log cut short \
                 cannot be told from a whole one: {check}"
            )));
        };
        if marker.seq > seq {
            return Err(Error::integrity(format!(
                "the ledger at {dir} is damaged: its log ends at seq {seq}, but seq {} was recorded ({HEAD_FILE}): events were lost",
                marker.seq
            )));
        }
        if marker.seq < seq {
            return Err(Error::integrity(format!(
                "the ledger at {dir} is damaged: its log goes on to seq {seq}, but its last commit recorded seq {} as the head ({HEAD_FILE}): {check}",
                marker.seq
            )));
        }
        if marker.hash != hash {
            return Err(Error::integrity(format!(
                "the ledger at {dir} is damaged: the event at seq {seq} has hash {hash}, but the last commit recorded {} ({HEAD_FILE}): {check}",
                marker.hash
            )));
        }
        Ok(())
    }

    /// The head as of the last commit, from [`HEAD_FILE`]; `None` if there is none.
    pub fn head_marker(&self) -> Result<Option<Head>> {
        let path = self.dir.join(HEAD_FILE);
        let damaged = || Error::integrity(format!("{} is damaged: it does not hold a head", path.display()));
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::integrity(format!("{} cannot be read: {}", path.display(), os_reason(&e))));
            }
        };
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(|_| damaged())?;
        let seq = value.get("seq").and_then(serde_json::Value::as_u64).ok_or_else(damaged)?;
        let hash = value.get("hash").and_then(serde_json::Value::as_str).filter(|h| crate::model::envelope::is_hash(h));
        Ok(Some(Head { seq, hash: hash.ok_or_else(damaged)?.to_owned() }))
    }

    /// Records `head` in [`HEAD_FILE`]: written to a temporary file, synced,
    /// renamed over the marker, and the directory synced.
    pub fn write_head_marker(&self, head: &Head) -> Result<()> {
        let text = format!("{{\"seq\":{},\"hash\":\"{}\"}}\n", head.seq, head.hash);
        let (tmp, path) = (self.dir.join(HEAD_TMP), self.dir.join(HEAD_FILE));
        File::create(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .and_then(|()| File::open(&self.dir).and_then(|d| d.sync_all()))
            .map_err(|e| io_failure(format!("cannot write {}", path.display()), &e))
    }

    /// The head before the command that was recording when the ledger was
    /// last used, if one was ([`RECORDING_KEY`]).
    fn recording(&self) -> Result<Option<Head>> {
        let Some(value) = self.db.get(RECORDING_KEY).map_err(|e| self.err(&e))? else { return Ok(None) };
        let seq = value.get(..8).and_then(seq_from);
        let hash =
            value.get(8..).and_then(|h| std::str::from_utf8(h).ok()).filter(|h| crate::model::envelope::is_hash(h));
        match (seq, hash) {
            (Some(seq), Some(hash)) => Ok(Some(Head { seq, hash: hash.to_owned() })),
            _ => Err(Error::integrity(format!(
                "the ledger at {} is damaged: its marker of an unfinished command does not decode",
                self.dir.display()
            ))),
        }
    }

    /// Finishes what a command that died while recording left
    /// ([`RECORDING_KEY`] is there): if [`HEAD_FILE`] names the log's last
    /// event, the command passed its commit point and only the key is left
    /// to remove; if it names the head before the command (or is missing
    /// and the log was empty then), the command is undone. Anything else
    /// is damage.
    fn recover(&self, start: &Head) -> Result<()> {
        let marker = self.head_marker()?;
        let last = self.last()?;
        let last_head = last.map(|e| Head { seq: e.seq, hash: e.hash });
        if last_head.as_ref().is_some_and(|h| h.seq > start.seq) && marker == last_head {
            self.db.remove(RECORDING_KEY).map_err(|e| self.err(&e))?;
            self.db.flush().map_err(|e| self.err(&e))?;
            return Ok(());
        }
        if marker.as_ref() == Some(start) || (marker.is_none() && start.seq == 0) {
            return self.roll_back(start);
        }
        Err(Error::integrity(format!(
            "the ledger at {} is damaged: a command was recording from seq {} when it stopped, and {HEAD_FILE} names neither \
             the head before it nor the log's last event (seq {})",
            self.dir.display(),
            start.seq,
            last_head.map_or(0, |h| h.seq)
        )))
    }

    /// Undoes the writes of a command that did not pass its commit point:
    /// one batch cuts the log and the indexes after `start` and removes
    /// [`RECORDING_KEY`], then sled is synced. Dying at any point leaves
    /// the key (or the before-image), and the next open finishes.
    fn roll_back(&self, start: &Head) -> Result<()> {
        let mut batch = self.truncation(start.seq)?;
        batch.remove(RECORDING_KEY);
        self.db.apply_batch(batch).map_err(|e| self.err(&e))?;
        self.sync_files()?;
        let mut pending = self.pending();
        pending.events.clear();
        pending.ids.clear();
        pending.started = None;
        pending.committing = false;
        Ok(())
    }

    /// Undoes everything written since [`Store::write`] began this
    /// command: the ledger is exactly as before it. A no-op if nothing was
    /// written. If this fails too, the next open undoes it.
    pub fn abort(&self) -> Result<()> {
        let (started, committing) = {
            let mut pending = self.pending();
            pending.events.clear();
            pending.ids.clear();
            (pending.started.clone(), pending.committing)
        };
        let Some(start) = started else { return Ok(()) };
        if committing {
            // The new head may have reached HEAD_FILE: put the old one back first.
            self.write_head_marker(&start)?;
        }
        self.roll_back(&start)
    }

    /// Makes the command's writes durable and visible. In this order:
    /// the indexes are written and sled is synced, [`RECORDING_KEY`] still
    /// there; then the new head is written to [`HEAD_FILE`] (renamed into
    /// place, the directory synced): that rename is the commit point; then
    /// the key is removed, without waiting (if that is lost, the next open
    /// finds the head file at the log's end and removes the key). Only
    /// after this returns may an event be reported recorded; if it fails,
    /// [`Store::abort`] undoes the writes. A no-op if nothing was written.
    pub fn commit(&self) -> Result<()> {
        if self.pending().started.is_none() {
            return Ok(());
        }
        self.write_indexes(&mut self.pending())?;
        self.sync_files()?;
        let head = self.head()?;
        self.pending().committing = true;
        self.write_head_marker(&head)?;
        {
            let mut pending = self.pending();
            pending.started = None;
            pending.committing = false;
        }
        // Past the commit point: a failure here is left for the next open.
        if self.db.remove(RECORDING_KEY).is_ok() {
            let _ = self.db.flush();
        }
        Ok(())
    }

    /// Every entry but the log's, in key order, decoded: the id index (`I`),
    /// the markers (`M`), the org copies (`O`), and anything else as damage.
    /// For audits: one sequential pass, no point lookups.
    pub fn index_entries(&self) -> impl Iterator<Item = Result<Entry>> + '_ {
        (self.db.range(..&b"B"[..]).chain(self.db.range(&b"C"[..]..)))
            .map(move |item| item.map(|(k, v)| decode_entry(&k, &v)).map_err(|e| self.err(&e)))
    }

    /// The log blocks from the one holding `from_seq` on, in log order:
    /// each block's first seq and its envelopes' bytes. A block that does
    /// not decode is an error naming its first seq.
    pub fn blocks(&self, from_seq: u64) -> impl Iterator<Item = Result<(u64, Packed)>> + '_ {
        self.block_spans(from_seq).map(|block| block.map(|(first, b)| (first, b.into_packed())))
    }

    /// [`Store::blocks`], each block unpacked without copying its envelopes.
    pub fn block_spans(&self, from_seq: u64) -> impl Iterator<Item = Result<(u64, Unpacked)>> + '_ {
        let start = match self.db.range(block_key(0)..=block_key(from_seq)).next_back() {
            Some(Ok((key, _))) => key.to_vec(),
            _ => block_key(from_seq).to_vec(),
        };
        self.db.range(start..block_key(u64::MAX).to_vec()).map(move |item| {
            let (key, value) = item.map_err(|e| self.err(&e))?;
            decode_block(&key, &value).map_err(Error::integrity)
        })
    }

    /// The block holding `seq`, if any: its first seq and envelopes.
    fn block_of(&self, seq: u64) -> Result<Option<(u64, Packed)>> {
        match self.blocks(seq).next().transpose()? {
            Some((first, events)) if first <= seq && seq < first + events.len() as u64 => Ok(Some((first, events))),
            _ => Ok(None),
        }
    }

    /// The last log block, if any.
    fn last_block(&self) -> Result<Option<(u64, Packed)>> {
        match self.db.scan_prefix(b"B").next_back() {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item.map_err(|e| self.err(&e))?;
                match decode_entry(&key, &value) {
                    Entry::Block(first, events) => Ok(Some((first, events))),
                    Entry::Damaged(what) => Err(Error::integrity(what)),
                    _ => Err(Error::integrity(format!("the ledger holds a damaged log key {}", show_key(&key)))),
                }
            }
        }
    }

    /// The seq of the last event (0 if none).
    pub fn last_seq(&self) -> Result<u64> {
        Ok(self.last_block()?.map_or(0, |(first, events)| first + events.len() as u64 - 1))
    }

    /// The envelope bytes at `seq`.
    pub fn raw(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.block_of(seq)?.map(|(first, mut events)| events.swap_remove((seq - first) as usize).1))
    }

    pub fn get(&self, seq: u64) -> Result<Option<Envelope>> {
        self.raw(seq)?.map(|bytes| decode(seq, &bytes)).transpose()
    }

    /// The last envelope, if any.
    pub fn last(&self) -> Result<Option<Envelope>> {
        match self.last_block()? {
            None => Ok(None),
            Some((first, mut events)) => {
                let seq = first + events.len() as u64 - 1;
                let bytes = events.pop().map(|(_, b)| b).unwrap_or_default();
                decode(seq, &bytes).map(Some)
            }
        }
    }

    pub fn head(&self) -> Result<Head> {
        Ok(self.last()?.map_or_else(Head::empty, |e| Head { seq: e.seq, hash: e.hash }))
    }

    /// The seq up to which the indexes hold every event.
    pub fn indexed(&self) -> Result<u64> {
        match self.db.get(INDEXED_KEY).map_err(|e| self.err(&e))? {
            None => Ok(0),
            Some(v) => seq_from(&v).ok_or_else(|| {
                Error::integrity(format!(
                    "the ledger at {} is damaged: its index watermark is damaged",
                    self.dir.display()
                ))
            }),
        }
    }

    pub fn seq_of(&self, id: &Uuid) -> Result<Option<u64>> {
        {
            let pending = self.pending();
            if let Some(&i) = pending.ids.get(id) {
                return Ok(Some(pending.events[i].seq));
            }
        }
        let bucket = id_bucket(id);
        for item in self.db.scan_prefix(&id_chunk_key(bucket, 0)[..3]) {
            let (key, value) = item.map_err(|e| self.err(&e))?;
            let found = find_id(&value, id).map_err(|()| {
                Error::integrity(format!("the id index holds a damaged chunk under {}", show_key(&key)))
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The envelopes from `from_seq` on, in log order, as raw bytes.
    pub fn scan_raw(&self, from_seq: u64) -> impl Iterator<Item = Result<(u64, Vec<u8>)>> + '_ {
        self.blocks(from_seq)
            .flat_map(|block| {
                let (items, error) = match block {
                    Ok((_, events)) => (events, None),
                    Err(e) => (Vec::new(), Some(Err(e))),
                };
                items.into_iter().map(Ok).chain(error)
            })
            .filter(move |item| item.as_ref().map_or(true, |(seq, _)| *seq >= from_seq))
    }

    /// The envelopes from `from_seq` on, in log order.
    pub fn scan(&self, from_seq: u64) -> impl Iterator<Item = Result<Envelope>> + '_ {
        self.scan_raw(from_seq).map(|item| item.and_then(|(seq, bytes)| decode(seq, &bytes)))
    }

    /// The org copies of an org's events up to `upto` included, in log
    /// order: those in the org index, then those not indexed yet. Each is
    /// the canonical JSON of a [`Recorded`] event.
    pub fn org_copies(&self, org: &OrgId, upto: u64) -> Result<Packed> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(org_prefix(org)) {
            let (key, value) = item.map_err(|e| self.err(&e))?;
            let (first, copies) = match decode_entry(&key, &value) {
                Entry::Org(_, first, copies) => (first, copies),
                Entry::Damaged(what) => return Err(Error::integrity(what)),
                _ => return Err(Error::integrity(format!("the org index holds a damaged key {}", show_key(&key)))),
            };
            if first > upto {
                break;
            }
            out.extend(copies);
        }
        let pending = self.pending();
        out.extend(pending.events.iter().filter(|e| e.org == *org).map(|e| (e.seq, e.record.clone())));
        out.retain(|(seq, _)| *seq <= upto);
        if out.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(Error::integrity(format!("the org index of `{org}` holds its events out of order")));
        }
        Ok(out)
    }

    /// An org's events up to `upto` included, in log order, from the org
    /// index alone (audits compare its copies with the log byte for byte).
    pub fn org_records(&self, org: &OrgId, upto: u64) -> Result<Vec<Recorded>> {
        self.org_copies(org, upto)?.iter().map(|(seq, bytes)| decode_copy(org, *seq, bytes)).collect()
    }

    /// An org's whole envelopes up to `upto` included, as stored in the log,
    /// in log order: the org index names them, the log gives them.
    pub fn org_raw(&self, org: &OrgId, upto: u64) -> Result<Packed> {
        let mut out = Vec::new();
        let mut block: Option<(u64, Packed)> = None;
        for (seq, _) in self.org_copies(org, upto)? {
            if !block.as_ref().is_some_and(|(first, b)| (*first..*first + b.len() as u64).contains(&seq)) {
                block = self.block_of(seq)?;
            }
            let bytes = block.as_ref().map(|(first, b)| b[(seq - first) as usize].1.clone()).ok_or_else(|| {
                Error::integrity(format!("the org index of `{org}` names seq {seq}, which is not in the log"))
            })?;
            out.push((seq, bytes));
        }
        Ok(out)
    }

    /// Every org with at least one event, in id order. One seek per org.
    pub fn orgs(&self) -> Result<Vec<OrgId>> {
        let mut out = Vec::new();
        let mut from = b"O".to_vec();
        while let Some(item) = self.db.range(from.clone()..b"P".to_vec()).next() {
            let (key, _) = item.map_err(|e| self.err(&e))?;
            let end = key.iter().position(|&b| b == 0).ok_or_else(|| bad_key(&key))?;
            let org = std::str::from_utf8(&key[1..end])
                .ok()
                .and_then(|s| OrgId::parse(s).ok())
                .ok_or_else(|| bad_key(&key))?;
            from = key[..end].to_vec();
            from.push(1);
            out.push(org);
        }
        let pending = self.pending();
        for e in &pending.events {
            if let Err(at) = out.binary_search(&e.org) {
                out.insert(at, e.org.clone());
            }
        }
        Ok(out)
    }

    /// Appends envelopes to the log in one atomic batch (filling the last
    /// block first); they are indexed later, by [`INDEX_BATCH`] or at
    /// [`Store::commit`]. Their seqs must continue the log. `start` is the
    /// head before the command that records them: its first batch also
    /// writes [`RECORDING_KEY`], so that nothing of it is visible until
    /// [`Store::commit`].
    pub fn write(&self, start: &Head, envelopes: &[Envelope]) -> Result<()> {
        let Some(first) = envelopes.first() else { return Ok(()) };
        let (mut block_first, mut block) = match self.last_block()? {
            Some((f, events)) if events.len() < BLOCK => (f, events),
            Some((f, events)) => (f + events.len() as u64, Vec::new()),
            None => (1, Vec::new()),
        };
        if block_first + block.len() as u64 != first.seq {
            return Err(Error::integrity(format!(
                "seq {} does not continue the log, which ends at seq {}",
                first.seq,
                block_first + block.len() as u64 - 1
            )));
        }
        let mut batch = sled::Batch::default();
        let mut written = Vec::with_capacity(envelopes.len());
        for env in envelopes {
            if block.len() == BLOCK {
                batch.insert(&block_key(block_first), pack(block.iter().map(|(q, b)| (*q, b.as_slice())))?);
                block_first += BLOCK as u64;
                block.clear();
            }
            block.push((env.seq, env.to_json().into_bytes()));
            let record = env.record_json().into_bytes();
            written.push(Unindexed { seq: env.seq, id: env.event.id, org: env.event.org.clone(), record });
        }
        batch.insert(&block_key(block_first), pack(block.iter().map(|(q, b)| (*q, b.as_slice())))?);
        let first_write = self.pending().started.is_none();
        if first_write {
            let mut marker = start.seq.to_be_bytes().to_vec();
            marker.extend_from_slice(start.hash.as_bytes());
            batch.insert(RECORDING_KEY, marker);
        }
        self.db.apply_batch(batch).map_err(|e| self.err(&e))?;
        let mut pending = self.pending();
        if first_write {
            pending.started = Some(start.clone());
        }
        for e in written {
            let at = pending.events.len();
            pending.ids.insert(e.id, at);
            pending.events.push(e);
        }
        if pending.events.len() >= INDEX_BATCH {
            self.write_indexes(&mut pending)?;
        }
        Ok(())
    }

    /// Writes the pending index entries, with the new watermark, in one batch.
    fn write_indexes(&self, pending: &mut Pending) -> Result<()> {
        let Some(last) = pending.events.last().map(|e| e.seq) else { return Ok(()) };
        let mut batch = sled::Batch::default();
        let mut by_org: BTreeMap<&OrgId, Vec<&Unindexed>> = BTreeMap::new();
        let mut by_bucket: BTreeMap<u16, Vec<(Uuid, u64)>> = BTreeMap::new();
        for e in &pending.events {
            by_org.entry(&e.org).or_default().push(e);
            by_bucket.entry(id_bucket(&e.id)).or_default().push((e.id, e.seq));
        }
        for (org, events) in by_org {
            // The org's last chunk takes the new copies if it is small and
            // has room; otherwise they start chunks of their own. Rewriting
            // only small chunks keeps an import from writing copies twice.
            let (mut first, mut chunk) = match self.db.scan_prefix(org_prefix(org)).next_back() {
                None => (events[0].seq, Vec::new()),
                Some(item) => {
                    let (key, value) = item.map_err(|e| self.err(&e))?;
                    match decode_entry(&key, &value) {
                        Entry::Org(_, f, chunk) if chunk.len() < SMALL && chunk.len() + events.len() <= BLOCK => {
                            (f, chunk)
                        }
                        Entry::Org(..) => (events[0].seq, Vec::new()),
                        Entry::Damaged(what) => return Err(Error::integrity(what)),
                        _ => return Err(bad_key(&key)),
                    }
                }
            };
            for e in events {
                if chunk.len() == BLOCK {
                    batch.insert(org_chunk_key(org, first), pack(chunk.iter().map(|(q, b)| (*q, b.as_slice())))?);
                    first = e.seq;
                    chunk.clear();
                }
                chunk.push((e.seq, e.record.clone()));
            }
            batch.insert(org_chunk_key(org, first), pack(chunk.iter().map(|(q, b)| (*q, b.as_slice())))?);
        }
        for (bucket, mut entries) in by_bucket {
            // The same for the bucket's last chunk.
            let prefix = &id_chunk_key(bucket, 0)[..3];
            let (mut n, existing) = match self.db.scan_prefix(prefix).next_back() {
                None => (0, Vec::new()),
                Some(item) => {
                    let (key, value) = item.map_err(|e| self.err(&e))?;
                    let n =
                        u32::from_be_bytes(key.get(3..7).and_then(|b| b.try_into().ok()).ok_or_else(|| bad_key(&key))?);
                    let existing = unpack_ids(&value).ok_or_else(|| {
                        Error::integrity(format!("the id index holds a damaged chunk under {}", show_key(&key)))
                    })?;
                    if existing.len() < SMALL_IDS && existing.len() + entries.len() <= ID_CHUNK {
                        (n, existing)
                    } else {
                        (n + 1, Vec::new())
                    }
                }
            };
            entries.extend(existing);
            entries.sort_unstable_by_key(|e| e.0);
            for chunk in entries.chunks(ID_CHUNK) {
                batch.insert(&id_chunk_key(bucket, n), pack_ids(chunk));
                n += 1;
            }
        }
        batch.insert(INDEXED_KEY, &last.to_be_bytes());
        self.db.apply_batch(batch).map_err(|e| self.err(&e))?;
        pending.events.clear();
        pending.ids.clear();
        Ok(())
    }

    /// Indexes the events a process wrote to the log but did not live to
    /// index (killed mid-import). The indexes are derived from the log.
    fn catch_up_indexes(&self, last: u64) -> Result<()> {
        let indexed = self.indexed()?;
        if indexed > last {
            return Err(Error::integrity(format!(
                "the ledger at {} is damaged: its indexes hold events up to seq {indexed}, but its log ends at seq {last}",
                self.dir.display()
            )));
        }
        if indexed == last {
            return Ok(());
        }
        let mut pending = self.pending();
        for item in self.scan_raw(indexed + 1) {
            let (seq, bytes) = item?;
            let env = decode(seq, &bytes)?;
            let at = pending.events.len();
            pending.ids.insert(env.event.id, at);
            let record = env.record_json().into_bytes();
            pending.events.push(Unindexed { seq, id: env.event.id, org: env.event.org, record });
            if pending.events.len() >= INDEX_BATCH {
                self.write_indexes(&mut pending)?;
            }
        }
        self.write_indexes(&mut pending)?;
        self.db.flush().map_err(|e| self.err(&e))?;
        Ok(())
    }

    /// The batch that removes the events after `seq` from the log and the
    /// indexes. Only used to undo a command that did not commit.
    fn truncation(&self, seq: u64) -> Result<sled::Batch> {
        let mut batch = sled::Batch::default();
        if self.indexed()? > seq {
            // Org copies: chunks that start after `seq` go; the last chunk
            // of each org that starts at or before it is cut.
            let mut last_kept: BTreeMap<Vec<u8>, (Vec<u8>, Packed, u64)> = BTreeMap::new();
            for item in self.db.scan_prefix(b"O") {
                let (key, value) = item.map_err(|e| self.err(&e))?;
                let Entry::Org(org, first, events) = decode_entry(&key, &value) else { return Err(bad_key(&key)) };
                if first > seq {
                    batch.remove(key);
                } else {
                    last_kept.insert(org_prefix(&org), (key.to_vec(), events, first));
                }
            }
            for (key, mut events, _) in last_kept.into_values() {
                let before = events.len();
                events.retain(|(q, _)| *q <= seq);
                if events.len() < before {
                    batch.insert(key, pack(events.iter().map(|(q, b)| (*q, b.as_slice())))?);
                }
            }
            for item in self.db.scan_prefix(b"I") {
                let (key, value) = item.map_err(|e| self.err(&e))?;
                let entries = unpack_ids(&value).ok_or_else(|| bad_key(&key))?;
                let kept: Vec<(Uuid, u64)> = entries.iter().copied().filter(|(_, s)| *s <= seq).collect();
                if kept.is_empty() {
                    batch.remove(key);
                } else if kept.len() < entries.len() {
                    batch.insert(key, pack_ids(&kept));
                }
            }
            batch.insert(INDEXED_KEY, &seq.to_be_bytes());
        }
        for item in self.db.range(block_key(0)..block_key(u64::MAX)).rev() {
            let (key, value) = item.map_err(|e| self.err(&e))?;
            let Entry::Block(first, mut events) = decode_entry(&key, &value) else { return Err(bad_key(&key)) };
            if first > seq {
                batch.remove(key);
                continue;
            }
            let keep = (seq + 1 - first) as usize;
            if keep < events.len() {
                events.truncate(keep);
                batch.insert(key, pack(events.iter().map(|(q, b)| (*q, b.as_slice())))?);
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
    fn sync_files(&self) -> Result<()> {
        self.db.flush().map_err(|e| self.err(&e))?;
        let io = |what: &Path, e: std::io::Error| io_failure(format!("cannot sync {}", what.display()), &e);
        let data = self.dir.join("db");
        File::open(&data).and_then(|f| f.sync_all()).map_err(|e| io(&data, e))?;
        let blobs = self.dir.join("blobs");
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            for entry in entries.flatten() {
                let path = entry.path();
                File::open(&path).and_then(|f| f.sync_all()).map_err(|e| io(&path, e))?;
            }
            File::open(&blobs).and_then(|f| f.sync_all()).map_err(|e| io(&blobs, e))?;
        }
        File::open(&self.dir).and_then(|f| f.sync_all()).map_err(|e| io(&self.dir, e))?;
        Ok(())
    }
}

/// Decodes an org copy (the canonical JSON of a [`Recorded`] event) of seq
/// `seq` of `org`; any failure is damage.
pub fn decode_copy(org: &OrgId, seq: u64, bytes: &[u8]) -> Result<Recorded> {
    let damaged =
        |why: String| Error::integrity(format!("the org index of `{org}` holds a damaged copy of seq {seq}: {why}"));
    let value = serde_json::from_slice(bytes).map_err(|_| damaged("it is not valid JSON".to_owned()))?;
    let recorded = Recorded::from_value(value).map_err(|e| damaged(e.to_string()))?;
    if recorded.seq != seq || recorded.event.org != *org {
        return Err(damaged(format!("it is seq {} of `{}`", recorded.seq, recorded.event.org)));
    }
    Ok(recorded)
}

/// Decodes stored envelope bytes; any failure is damage.
pub fn decode(seq: u64, bytes: &[u8]) -> Result<Envelope> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| Error::integrity(format!("the stored event at seq {seq} is damaged: it is not valid JSON")))?;
    let env = Envelope::from_value(value)
        .map_err(|e| Error::integrity(format!("the stored event at seq {seq} is damaged: {e}")))?;
    if env.seq != seq {
        return Err(Error::integrity(format!("the stored event at seq {seq} says it is seq {}", env.seq)));
    }
    Ok(env)
}

fn bad_key(key: &[u8]) -> Error {
    Error::integrity(format!("the ledger holds a damaged key or value under {}", show_key(key)))
}

fn sled_error(dir: &Path, e: &sled::Error) -> Error {
    match e {
        // A file cut short or holding nonsense is damage, not a refusal of the system.
        sled::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData) =>
        {
            Error::integrity(format!("the ledger at {} is damaged: sled could not read it: {io}", dir.display()))
        }
        sled::Error::Io(io) => io_failure(format!("the ledger at {} could not be read or written", dir.display()), io),
        sled::Error::Corruption { at: Some(at), .. } => Error::integrity(format!(
            "the ledger at {} is damaged: sled found corrupted data at offset {} of its log",
            dir.display(),
            at.lid()
        )),
        sled::Error::Corruption { at: None, .. } => {
            Error::integrity(format!("the ledger at {} is damaged: sled found corrupted data", dir.display()))
        }
        other => {
            Error::new(ErrorKind::Integrity, format!("the ledger at {} could not be used: {other}", dir.display()))
        }
    }
}

/// A failure of the operating system, as one sentence: `what` and why, in
/// words (never Rust's debug text, which sled puts in the errors it clones).
fn io_failure(what: String, e: &std::io::Error) -> Error {
    Error::io(format!("{what}: {}", os_reason(e)))
}

/// Why the operating system refused, in words.
pub fn os_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull => "the disk is full".to_owned(),
        K::QuotaExceeded => "the disk quota is exceeded".to_owned(),
        K::FileTooLarge => "a file reached the largest size allowed (the file-size limit, `ulimit -f`)".to_owned(),
        K::PermissionDenied => "permission denied".to_owned(),
        K::ReadOnlyFilesystem => "the file system is read-only".to_owned(),
        kind => match e.raw_os_error() {
            // The system's own words, without the error number.
            Some(_) => e.to_string().split(" (os error").next().unwrap_or_default().to_owned(),
            None => kind.to_string(),
        },
    }
}

fn busy(dir: &Path, wait: Duration) -> Error {
    Error::new(
        ErrorKind::Busy,
        format!(
            "the ledger at {} is held by another accord process and was not released within {} s (see --wait)",
            dir.display(),
            wait.as_secs_f64()
        ),
    )
}

fn acquire_lock(dir: &Path, wait: Duration) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_failure(format!("cannot open the lock file {}", path.display()), &e))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if Instant::now() >= deadline {
                    return Err(busy(dir, wait));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io_failure(format!("cannot lock the ledger at {}", dir.display()), &e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::Event;

    fn options() -> Options {
        Options::new(Duration::from_secs(5), true)
    }

    /// `n` sealed envelopes from seq `from`, in orgs `o0`…`o2`, chained on `prev`.
    fn envelopes(from: u64, n: u64, prev: &mut String) -> Vec<Envelope> {
        (from..from + n)
            .map(|seq| {
                let event = serde_json::json!({"type": "exercise", "org": format!("o{}", seq % 3), "date": "2001",
                                               "name": format!("x{seq}")});
                let env = Envelope::seal(
                    Event::from_value(event).unwrap(),
                    seq,
                    "2024-01-01T00:00:00.000000Z".into(),
                    "t".into(),
                    prev.clone(),
                );
                prev.clone_from(&env.hash);
                env
            })
            .collect()
    }

    fn tree(store: &Store) -> Vec<(sled::IVec, sled::IVec)> {
        store.db.iter().collect::<std::result::Result<_, _>>().unwrap()
    }

    fn head_of(env: &Envelope) -> Head {
        Head { seq: env.seq, hash: env.hash.clone() }
    }

    #[test]
    fn events_written_but_never_indexed_are_indexed_on_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let mut prev = crate::model::envelope::GENESIS.to_owned();
        let envs = envelopes(1, 150, &mut prev);
        {
            let store = Store::open(&path, &options()).unwrap();
            store.write(&Head::empty(), &envs[..100]).unwrap();
            store.commit().unwrap();
            // A ledger of an earlier build: events in the log, committed
            // (the head marker names them), not yet indexed.
            store.write(&head_of(&envs[99]), &envs[100..]).unwrap();
            store.db.remove(RECORDING_KEY).unwrap();
            store.write_head_marker(&head_of(&envs[149])).unwrap();
            store.db.flush().unwrap();
            assert_eq!(store.indexed().unwrap(), 100);
        }
        let store = Store::open(&path, &options()).unwrap();
        assert_eq!((store.indexed().unwrap(), store.last_seq().unwrap()), (150, 150));
        assert!(store.pending().events.is_empty());
        for env in &envs {
            assert_eq!(store.seq_of(&env.event.id).unwrap(), Some(env.seq));
        }
        let o1 = OrgId::parse("o1").unwrap();
        let copies: Vec<u64> = store.org_copies(&o1, u64::MAX).unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(copies, (1..=150).filter(|s| s % 3 == 1).collect::<Vec<_>>());
    }

    #[test]
    fn an_abort_restores_the_tree_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("l"), &options()).unwrap();
        let mut prev = crate::model::envelope::GENESIS.to_owned();
        let envs = envelopes(1, 200, &mut prev);
        store.write(&Head::empty(), &envs[..100]).unwrap();
        store.commit().unwrap();
        let before = tree(&store);
        // Partly indexed, then partly pending, then undone.
        let start = head_of(&envs[99]);
        store.write(&start, &envs[100..170]).unwrap();
        store.write_indexes(&mut store.pending()).unwrap();
        store.write(&start, &envs[170..]).unwrap();
        store.abort().unwrap();
        assert_eq!(store.last_seq().unwrap(), 100);
        assert_eq!(store.indexed().unwrap(), 100);
        assert_eq!(store.seq_of(&envs[150].event.id).unwrap(), None);
        assert_eq!(store.seq_of(&envs[99].event.id).unwrap(), Some(100));
        assert_eq!(before, tree(&store), "the tree is as it was before the writes");
    }

    /// A command that died at any step of its writes or its commit: the
    /// next open gives the tree and head marker from before it, or (past
    /// the commit point) the committed ones.
    #[test]
    fn an_open_finishes_or_undoes_a_command_that_died() {
        let mut prev = crate::model::envelope::GENESIS.to_owned();
        let envs = envelopes(1, 300, &mut prev);
        let start = head_of(&envs[99]);
        let end = head_of(&envs[299]);
        // How far the dead command got: 0 wrote one batch, 1 wrote all and
        // indexed some, 2 also synced the indexes, 3 also wrote the head
        // marker (the commit point), 4 also removed the recording key.
        for step in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("l");
            let before = {
                let store = Store::open(&path, &options()).unwrap();
                store.write(&Head::empty(), &envs[..100]).unwrap();
                store.commit().unwrap();
                let before = tree(&store);
                store.write(&start, &envs[100..164]).unwrap();
                if step >= 1 {
                    store.write(&start, &envs[164..]).unwrap();
                    store.write_indexes(&mut store.pending()).unwrap();
                }
                if step >= 2 {
                    store.sync_files().unwrap();
                }
                if step >= 3 {
                    store.write_head_marker(&end).unwrap();
                }
                if step >= 4 {
                    store.db.remove(RECORDING_KEY).unwrap();
                }
                store.db.flush().unwrap();
                before
            };
            let store = Store::open(&path, &options()).unwrap();
            let committed = step >= 3;
            let expect = if committed { &end } else { &start };
            assert_eq!(&store.head().unwrap(), expect, "step {step}");
            assert_eq!(store.head_marker().unwrap().as_ref(), Some(expect), "step {step}");
            assert_eq!(store.db.get(RECORDING_KEY).unwrap(), None, "step {step}");
            if !committed {
                assert_eq!(before, tree(&store), "step {step}: the tree is as before");
            }
            assert_eq!(store.seq_of(&envs[150].event.id).unwrap(), committed.then_some(151), "step {step}");
        }
    }

    #[test]
    fn a_head_marker_that_names_neither_head_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let mut prev = crate::model::envelope::GENESIS.to_owned();
        let envs = envelopes(1, 200, &mut prev);
        {
            let store = Store::open(&path, &options()).unwrap();
            store.write(&Head::empty(), &envs[..100]).unwrap();
            store.commit().unwrap();
            store.write(&head_of(&envs[99]), &envs[100..]).unwrap();
            store.write_head_marker(&head_of(&envs[150])).unwrap();
            store.db.flush().unwrap();
        }
        let e = Store::open(&path, &options()).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
    }

    #[test]
    fn a_read_only_open_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let read = Options::new(Duration::from_secs(1), false);
        for path in [dir.path().join("absent"), dir.path().to_owned()] {
            let e = Store::open(&path, &read).err().unwrap();
            assert_eq!(e.kind(), ErrorKind::Invalid);
            assert!(e.message().starts_with("there is no ledger at"), "{e}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing was created");
    }

    #[test]
    fn a_new_ledger_in_an_existing_directory_is_discarded_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.txt"), "keep").unwrap();
        let store = Store::open(dir.path(), &options()).unwrap();
        store.close_discarding_if_new().unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("mine.txt")]);
    }

    #[test]
    fn damaged_values_do_not_unpack() {
        let packed = pack([(1, &b"{\"a\":1}"[..]), (2, &b"{}"[..])]).unwrap();
        assert_eq!(unpack(&packed).unwrap().len(), 2);
        for at in 0..packed.len() {
            let mut bad = packed.clone();
            bad[at] ^= 0x10;
            // A flip is refused (zstd's checksum covers the payload), unless
            // it hit a bit that changes nothing: never other content.
            if let Some(events) = unpack(&bad) {
                assert_eq!(events, unpack(&packed).unwrap(), "flip at {at}");
            }
        }
        assert!(unpack(&packed[..packed.len() - 1]).is_none());
        assert!(unpack_ids(&[0; 23]).is_none());
    }
}
