//! The ledger on disk: one sled database, one tree, four key families.
//!
//! | key | value |
//! |---|---|
//! | `E` + seq (u64 big-endian) | the envelope, canonical JSON (SPEC §4) |
//! | `I` + event id (16 bytes) | seq (u64 big-endian) |
//! | `O` + org id + `0x00` + seq (u64 big-endian) | empty |
//! | `Mformat` | `accord-ledger/1` |
//!
//! Next to sled's files, `accord.head` holds the head (`{"seq":N,"hash":"…"}`)
//! as of the last commit. sled recovers a log whose recent part is damaged by
//! cutting it, silently, at the damage; the marker makes that loss an error.
//!
//! Big-endian sequence numbers make sled's byte order the log order. Every
//! write is one `apply_batch` (atomic across keys, also after a crash), and
//! [`Store::sync`] makes written batches durable (see ARCHITECTURE.md).
//! The store knows nothing of the rules: it keeps bytes and indexes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::envelope::{Envelope, Head};
use crate::error::{Error, ErrorKind, Result};
use crate::id::OrgId;

pub const FORMAT_KEY: &[u8] = b"Mformat";
const FORMAT: &[u8] = b"accord-ledger/1";
const LOCK_FILE: &str = "accord.lock";
pub const HEAD_FILE: &str = "accord.head";
const HEAD_TMP: &str = "accord.head.tmp";

/// How to open a ledger.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long to wait for a ledger held by another process.
    pub wait: Duration,
    /// Create the ledger if it does not exist (writes); otherwise it must exist.
    pub create: bool,
}

pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    /// This open created the directory (so an empty ledger can be discarded).
    created: bool,
    // Held for the life of the store: one accord process per ledger.
    _lock: File,
}

pub fn event_key(seq: u64) -> [u8; 9] {
    let mut k = [b'E'; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn id_key(id: &Uuid) -> [u8; 17] {
    let mut k = [b'I'; 17];
    k[1..].copy_from_slice(id.as_bytes());
    k
}

pub fn org_prefix(org: &OrgId) -> Vec<u8> {
    let mut k = Vec::with_capacity(org.as_str().len() + 10);
    k.push(b'O');
    k.extend_from_slice(org.as_str().as_bytes());
    k.push(0);
    k
}

pub fn org_key(org: &OrgId, seq: u64) -> Vec<u8> {
    let mut k = org_prefix(org);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn seq_from(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

impl Store {
    pub fn open(dir: &Path, options: &Options) -> Result<Store> {
        let created = !dir.exists();
        if created {
            if !options.create {
                return Err(Error::rejected(format!(
                    "there is no ledger at {}: `accord import` or `accord append` creates one",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create the ledger directory {}: {e}", dir.display())))?;
        }
        let deadline = Instant::now() + options.wait;
        let lock = acquire_lock(dir, options.wait)?;
        let config = sled::Config::new()
            .path(dir)
            // sled caches 1 GB by default. The log is read sequentially and
            // writes go to the end, so a small cache costs no speed: a 200k
            // import took 9.8 s with 16 MB against 11.1 s with 64 MB, and
            // peak RSS for 1M events fell from 310 MB to 207 MB.
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
        let store = Store { db, dir: dir.to_owned(), created, _lock: lock };
        store.check_head_marker()?;
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
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Closes the store and, if this open created the directory and no event
    /// was written, removes it again: a refused first command leaves no ledger.
    pub fn close_discarding_if_new(self) -> Result<()> {
        let discard = self.created && self.db.scan_prefix(b"E").next().is_none();
        let dir = self.dir.clone();
        drop(self);
        if discard {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Error::io(format!("cannot remove the empty ledger {}: {e}", dir.display())))?;
        }
        Ok(())
    }

    fn err(&self, e: &sled::Error) -> Error {
        sled_error(&self.dir, e)
    }

    /// Fails if the log lost the event the last commit recorded as its head.
    fn check_head_marker(&self) -> Result<()> {
        let Some(marker) = self.head_marker()? else { return Ok(()) };
        if marker.seq == 0 || self.contains(&event_key(marker.seq))? {
            return Ok(());
        }
        let last = match self.db.scan_prefix(b"E").keys().next_back() {
            None => 0,
            Some(key) => {
                let key = key.map_err(|e| self.err(&e))?;
                seq_from(&key[1..]).ok_or_else(|| bad_key(&key))?
            }
        };
        Err(Error::integrity(format!(
            "the ledger at {} is damaged: its log ends at seq {last}, but seq {} was recorded ({HEAD_FILE}): events were lost",
            self.dir.display(),
            marker.seq
        )))
    }

    /// The head as of the last commit, from [`HEAD_FILE`]; `None` if there is none.
    pub fn head_marker(&self) -> Result<Option<Head>> {
        let path = self.dir.join(HEAD_FILE);
        let damaged = || Error::integrity(format!("{} is damaged: it does not hold a head", path.display()));
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}: {e}", path.display()))),
        };
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(|_| damaged())?;
        let seq = value.get("seq").and_then(serde_json::Value::as_u64).ok_or_else(damaged)?;
        let hash = value.get("hash").and_then(serde_json::Value::as_str).filter(|h| crate::envelope::is_hash(h));
        Ok(Some(Head { seq, hash: hash.ok_or_else(damaged)?.to_owned() }))
    }

    /// Records the current head in [`HEAD_FILE`], atomically and durably
    /// (the caller syncs the directory).
    fn write_head_marker(&self) -> Result<()> {
        let head = self.head()?;
        let text = format!("{{\"seq\":{},\"hash\":\"{}\"}}\n", head.seq, head.hash);
        let (tmp, path) = (self.dir.join(HEAD_TMP), self.dir.join(HEAD_FILE));
        File::create(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(format!("cannot write {}: {e}", path.display())))
    }

    /// Every entry in key order: the log (`E`), the id index (`I`), the
    /// format marker (`M`), the org index (`O`) and anything else. For
    /// audits: one sequential pass, no point lookups.
    pub fn entries(&self) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec)>> + '_ {
        self.db.iter().map(move |item| item.map_err(|e| self.err(&e)))
    }

    /// The envelope bytes at `seq`.
    pub fn raw(&self, seq: u64) -> Result<Option<sled::IVec>> {
        self.db.get(event_key(seq)).map_err(|e| self.err(&e))
    }

    pub fn get(&self, seq: u64) -> Result<Option<Envelope>> {
        self.raw(seq)?.map(|bytes| decode(seq, &bytes)).transpose()
    }

    /// The last envelope, if any.
    pub fn last(&self) -> Result<Option<Envelope>> {
        match self.db.scan_prefix(b"E").next_back() {
            None => Ok(None),
            Some(Err(e)) => Err(self.err(&e)),
            Some(Ok((key, bytes))) => {
                let seq = seq_from(&key[1..]).ok_or_else(|| bad_key(&key))?;
                decode(seq, &bytes).map(Some)
            }
        }
    }

    pub fn head(&self) -> Result<Head> {
        Ok(self.last()?.map_or_else(Head::empty, |e| Head { seq: e.seq, hash: e.hash }))
    }

    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        self.db.contains_key(key).map_err(|e| self.err(&e))
    }

    pub fn seq_of(&self, id: &Uuid) -> Result<Option<u64>> {
        match self.db.get(id_key(id)).map_err(|e| self.err(&e))? {
            None => Ok(None),
            Some(v) => seq_from(&v).map(Some).ok_or_else(|| {
                Error::integrity(format!("the index entry of event {id} is damaged: it does not hold a log position"))
            }),
        }
    }

    /// The envelopes from `from_seq` on, in log order, as raw bytes.
    pub fn scan_raw(&self, from_seq: u64) -> impl Iterator<Item = Result<(u64, sled::IVec)>> + '_ {
        self.db.range(event_key(from_seq)..event_key(u64::MAX)).map(move |item| {
            let (key, bytes) = item.map_err(|e| self.err(&e))?;
            if key.first() != Some(&b'E') {
                return Err(bad_key(&key));
            }
            let seq = seq_from(&key[1..]).ok_or_else(|| bad_key(&key))?;
            Ok((seq, bytes))
        })
    }

    /// The envelopes from `from_seq` on, in log order.
    pub fn scan(&self, from_seq: u64) -> impl Iterator<Item = Result<Envelope>> + '_ {
        self.scan_raw(from_seq).map(|item| item.and_then(|(seq, bytes)| decode(seq, &bytes)))
    }

    /// The log positions of an org's events, in log order.
    pub fn org_seqs(&self, org: &OrgId) -> impl Iterator<Item = Result<u64>> + '_ {
        let prefix = org_prefix(org);
        let len = prefix.len();
        self.db.scan_prefix(prefix).map(move |item| {
            let (key, _) = item.map_err(|e| self.err(&e))?;
            seq_from(&key[len..]).ok_or_else(|| bad_key(&key))
        })
    }

    /// An org's envelopes in log order, up to `upto` included.
    pub fn org_events(&self, org: &OrgId, upto: u64) -> Result<Vec<Envelope>> {
        let mut out = Vec::new();
        for seq in self.org_seqs(org) {
            let seq = seq?;
            if seq > upto {
                break;
            }
            let env = self.get(seq)?.ok_or_else(|| {
                Error::integrity(format!("the org index of `{org}` names seq {seq}, which is not in the log"))
            })?;
            if env.event.org != *org {
                return Err(Error::integrity(format!(
                    "the org index of `{org}` names seq {seq}, an event of `{}`",
                    env.event.org
                )));
            }
            out.push(env);
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
        Ok(out)
    }

    /// Writes envelopes and their index entries in one atomic batch.
    pub fn write(&self, envelopes: &[Envelope]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for env in envelopes {
            batch.insert(&event_key(env.seq), env.to_json().as_bytes());
            batch.insert(&id_key(&env.event.id), &env.seq.to_be_bytes());
            batch.insert(org_key(&env.event.org, env.seq), &[]);
        }
        self.db.apply_batch(batch).map_err(|e| self.err(&e))
    }

    /// Removes the events after `seq` and their index entries, newest first,
    /// so that every intermediate state is a prefix of the log. Only used to
    /// undo an import that failed before it finished.
    pub fn truncate_after(&self, seq: u64) -> Result<()> {
        loop {
            let tail: Vec<Envelope> = self
                .db
                .range(event_key(seq + 1)..event_key(u64::MAX))
                .rev()
                .take(512)
                .map(|item| {
                    let (key, bytes) = item.map_err(|e| self.err(&e))?;
                    decode(seq_from(&key[1..]).ok_or_else(|| bad_key(&key))?, &bytes)
                })
                .collect::<Result<_>>()?;
            if tail.is_empty() {
                return Ok(());
            }
            let mut batch = sled::Batch::default();
            for env in &tail {
                batch.remove(&event_key(env.seq));
                batch.remove(&id_key(&env.event.id));
                batch.remove(org_key(&env.event.org, env.seq));
            }
            self.db.apply_batch(batch).map_err(|e| self.err(&e))?;
        }
    }

    /// Makes everything written so far durable.
    ///
    /// sled's `flush` writes its buffers and calls `sync_file_range`, which
    /// neither flushes the drive's write cache nor persists the file's size
    /// and other metadata, and sled never fsyncs the blob files it writes for
    /// large pages. So after `flush` we `fsync` the data file, every blob
    /// and both directories; only then is an event reported as recorded.
    /// Then it records the head in [`HEAD_FILE`].
    pub fn sync(&self) -> Result<()> {
        self.db.flush().map_err(|e| self.err(&e))?;
        let io = |what: &Path, e: std::io::Error| Error::io(format!("cannot sync {}: {e}", what.display()));
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
        self.write_head_marker()?;
        File::open(&self.dir).and_then(|f| f.sync_all()).map_err(|e| io(&self.dir, e))?;
        Ok(())
    }
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
    Error::integrity(format!("the ledger holds a damaged key {}", String::from_utf8_lossy(key).escape_debug()))
}

fn sled_error(dir: &Path, e: &sled::Error) -> Error {
    match e {
        // A file cut short or holding nonsense is damage, not a refusal of the system.
        sled::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData) =>
        {
            Error::integrity(format!("the ledger at {} is damaged: sled could not read it: {io}", dir.display()))
        }
        sled::Error::Io(io) => Error::io(format!("the ledger at {} could not be read or written: {io}", dir.display())),
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
        .map_err(|e| Error::io(format!("cannot open the lock file {}: {e}", path.display())))?;
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
                return Err(Error::io(format!("cannot lock the ledger at {}: {e}", dir.display())));
            }
        }
    }
}
