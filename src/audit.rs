//! Verification: the hash chain, the indexes and the rules, re-checked from
//! the bytes, streaming, for a ledger or for an export with no ledger.
//!
//! A ledger is verified in one pass over sled's keys in order: first the log
//! (`E` keys, in log order), then the id index (`I`), the format marker (`M`)
//! and the org index (`O`). While the log goes by, each event's id and org
//! are kept (a few dozen bytes an event), so that the index entries, when they
//! come, are checked against them without a single point lookup.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::mpsc::{SyncSender, sync_channel};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::canonical;
use crate::envelope::{Envelope, Head, is_hash};
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::id::{OrgId, PartyId};
use crate::store::{FORMAT_KEY, HEAD_FILE, Store};
use crate::timeline::{Change, OrgState, Step, Timeline};

/// What a successful verification saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub head: Head,
    pub events: u64,
}

/// A hash the log must still have at a position.
struct Checkpoint {
    head: Head,
    /// Who says so, for messages: "the checkpoint", "accord.head".
    by: String,
    seen: bool,
}

/// Checks one envelope after another: sequence, chain, hash, form, decoding,
/// ids, rules, checkpoints.
pub struct Verifier {
    head: Head,
    last_time: String,
    checkpoints: Vec<Checkpoint>,
    timelines: HashMap<OrgId, Timeline>,
    /// The log position of every id seen, to refuse an id recorded twice.
    ids: HashMap<Uuid, u64>,
    /// Whether the bytes must be exactly the canonical form (stored
    /// envelopes), or only hash right once canonicalized (export lines).
    exact: bool,
    /// The canonical form of the envelope being checked (reused).
    buf: Vec<u8>,
}

impl Verifier {
    /// A verifier for stored envelopes: their bytes must be canonical JSON,
    /// as accord writes them.
    pub fn new(checkpoint: Option<Head>) -> Verifier {
        let mut v = Verifier {
            head: Head::empty(),
            last_time: String::new(),
            checkpoints: Vec::new(),
            timelines: HashMap::new(),
            ids: HashMap::new(),
            exact: true,
            buf: Vec::with_capacity(4096),
        };
        if let Some(head) = checkpoint {
            v.checkpoints.push(Checkpoint { head, by: "the checkpoint".to_owned(), seen: false });
        }
        v
    }

    /// A verifier for the lines of an export: each must hash right over its
    /// canonical form (SPEC §4), whatever its spelling.
    pub fn for_export(checkpoint: Option<Head>) -> Verifier {
        Verifier { exact: false, ..Verifier::new(checkpoint) }
    }

    /// The last envelope checked (seq 0 and zeros before the first).
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Also requires the head recorded at the last commit ([`HEAD_FILE`]).
    fn require(&mut self, head: Head, by: String) {
        self.checkpoints.push(Checkpoint { head, by, seen: false });
    }

    /// Checks the next envelope, given as its raw JSON bytes. Errors say
    /// what is wrong, starting with the seq it should have; the caller says
    /// where (a file's line).
    pub fn check(&mut self, bytes: &[u8]) -> Result<Envelope> {
        let env = read_envelope(bytes, self.head.seq + 1, self.exact, &mut self.buf)?;
        self.follow(env)
    }

    /// The checks that need the envelopes before: sequence, chain, time,
    /// ids, rules, checkpoints. `env` was read by [`read_envelope`].
    fn follow(&mut self, env: Envelope) -> Result<Envelope> {
        let seq = self.head.seq + 1;
        let fail = |why: String| Error::integrity(format!("seq {seq}: {why}"));
        if env.seq != seq {
            return Err(fail(format!(
                "the envelope says it is seq {}: the log has a gap, a duplicate or a swap here",
                env.seq
            )));
        }
        if env.prev != self.head.hash {
            return Err(fail(format!(
                "its `prev` is not the hash of seq {}: the chain is broken (an event was replaced, removed or re-sealed)",
                self.head.seq
            )));
        }
        if env.recorded_at < self.last_time {
            return Err(fail(format!(
                "it was recorded at {}, before seq {} ({}): recorded_at goes back in time",
                env.recorded_at, self.head.seq, self.last_time
            )));
        }
        if let Some(first) = self.ids.insert(env.event.id, seq) {
            return Err(fail(format!(
                "event {} is already recorded at seq {first}: an id is recorded twice",
                env.event.id
            )));
        }
        self.check_rules(&env)
            .map_err(|why| fail(format!("{} breaks a rule of org `{}`: {why}", env.event.describe(), env.event.org)))?;
        for cp in &mut self.checkpoints {
            if cp.head.seq == seq {
                cp.seen = true;
                if cp.head.hash != env.hash {
                    return Err(fail(format!(
                        "{} says hash {}, the log has {}: history up to seq {seq} was rewritten",
                        cp.by, cp.head.hash, env.hash
                    )));
                }
            }
        }
        self.head.seq = seq;
        self.head.hash.clone_from(&env.hash);
        self.last_time.clone_from(&env.recorded_at);
        Ok(env)
    }

    fn check_rules(&mut self, env: &Envelope) -> std::result::Result<(), String> {
        let event = &env.event;
        if !self.timelines.contains_key(&event.org) {
            self.timelines.insert(event.org.clone(), Timeline::default());
        }
        let Some(timeline) = self.timelines.get_mut(&event.org) else {
            return Err("its org's timeline vanished from memory".to_owned());
        };
        let target = match &event.kind {
            EventKind::Retraction { retracts, .. } => Some(*retracts),
            _ => event.supersedes,
        };
        if let Some(t) = &target
            && !timeline.contains(t)
        {
            return Err(format!("it corrects event {t}, which is not an event of the org that still counts"));
        }
        let step = Step::of(env.seq, event);
        let change = match (&target, step) {
            (Some(t), None) => Change::Remove(t),
            (Some(t), Some(s)) => Change::Replace(t, s),
            (None, Some(s)) => Change::Add(s),
            (None, None) => return Err("it has no date".to_owned()),
        };
        timeline.apply(change)
    }

    /// Ends the check: the head, or an error if a checkpoint was never reached.
    pub fn finish(self) -> Result<Report> {
        self.finish_with_ids().map(|(report, _)| report)
    }

    /// [`Verifier::finish`], also handing back the position of every id.
    fn finish_with_ids(self) -> Result<(Report, HashMap<Uuid, u64>)> {
        if let Some(cp) = self.checkpoints.iter().find(|cp| !cp.seen) {
            return Err(Error::integrity(format!(
                "{} names seq {}, but the log ends at seq {}: it lost events, or the checkpoint is of another log",
                cp.by, cp.head.seq, self.head.seq
            )));
        }
        Ok((Report { events: self.head.seq, head: self.head }, self.ids))
    }
}

/// Reads one envelope from its bytes, the checks that need no other
/// envelope: JSON, hash, form (`exact`: the bytes must be the canonical JSON,
/// as accord stores it), ids as accord writes them, decoding. `seq` is the
/// position it should have, for messages. `buf` is scratch space.
pub fn read_envelope(bytes: &[u8], seq: u64, exact: bool, buf: &mut Vec<u8>) -> Result<Envelope> {
    let fail = |why: String| Error::integrity(format!("seq {seq}: {why}"));
    let value: Value = if exact {
        // Exact canonical bytes (checked below) cannot give a key twice.
        serde_json::from_slice(bytes).ok()
    } else {
        // An export line may be spelled otherwise, but a key given twice
        // would let the hashed value differ from what another reader sees.
        std::str::from_utf8(bytes).ok().and_then(|text| crate::event::parse_json(text).ok())
    }
    .ok_or_else(|| {
        fail("the envelope is not valid JSON (or gives a key twice): it was altered or damaged".to_owned())
    })?;
    let Value::Object(mut map) = value else {
        return Err(fail("the envelope is not a JSON object".to_owned()));
    };
    let hash = match map.remove("hash") {
        Some(Value::String(hash)) if is_hash(&hash) => hash,
        Some(_) => return Err(fail("the envelope's `hash` is not 64 lowercase hex digits".to_owned())),
        None => return Err(fail("the envelope has no `hash`".to_owned())),
    };
    // The hash is checked over the content as given, before decoding
    // could normalize anything.
    let hashed = canonical_with_hash(&map, &hash, buf);
    if hashed != hash {
        return Err(fail(format!(
            "the hash does not match the content: the event was altered (its content hashes to {hashed})"
        )));
    }
    if exact && buf.as_slice() != bytes {
        return Err(fail(
            "the stored bytes are not the canonical JSON of the envelope, as accord writes it: they were altered"
                .to_owned(),
        ));
    }
    // Decoding writes ids in lowercase; one written otherwise was not written by accord.
    for key in ["id", "supersedes", "retracts"] {
        if let Some(Value::String(s)) = map.get(key)
            && s.bytes().any(|b| b.is_ascii_uppercase())
        {
            return Err(fail(format!("the envelope's `{key}` is not in lowercase, as accord writes ids")));
        }
    }
    map.insert("hash".into(), Value::String(hash));
    Envelope::from_value(Value::Object(map)).map_err(|e| fail(format!("the envelope does not decode as an event: {e}")))
}

/// Writes the canonical JSON (RFC 8785) of `map` plus the member `"hash"`
/// into `out`, and returns the lowercase hex SHA-256 of the canonical JSON of
/// `map` alone, which is the same text without that member: one
/// serialization gives both the stored form and the hashed one.
fn canonical_with_hash(map: &Map<String, Value>, hash: &str, out: &mut Vec<u8>) -> String {
    let mut members: Vec<(&str, Option<&Value>)> = Vec::with_capacity(map.len() + 1);
    members.extend(map.iter().map(|(k, v)| (k.as_str(), Some(v))));
    members.push(("hash", None));
    // Keys in UTF-16 code unit order, which is byte order unless a key holds
    // a character above U+FFFF (its UTF-8 starts with a byte of 0xF0 or more).
    if members.iter().any(|(k, _)| k.bytes().any(|b| b >= 0xF0)) {
        members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    } else {
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    out.clear();
    out.push(b'{');
    // The bytes of the `hash` member, with the comma that joins it to a neighbour.
    let mut cut = (1, 1);
    for (i, (key, value)) in members.iter().enumerate() {
        let start = out.len();
        if i > 0 {
            out.push(b',');
        }
        write_key(key, out);
        out.push(b':');
        match value {
            Some(v) => canonical::write_canonical(v, out),
            None => {
                out.push(b'"');
                out.extend_from_slice(hash.as_bytes());
                out.push(b'"');
                // First member: drop the comma after it instead of before.
                cut = if i == 0 { (start, out.len() + usize::from(members.len() > 1)) } else { (start, out.len()) };
            }
        }
    }
    out.push(b'}');
    let mut sha = Sha256::new();
    sha.update(&out[..cut.0]);
    sha.update(&out[cut.1..]);
    let digest = sha.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for &b in digest.iter() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    hex
}

/// Writes an object key as a canonical JSON string.
fn write_key(key: &str, out: &mut Vec<u8>) {
    if key.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.push(b'"');
    } else {
        canonical::write_canonical(&Value::String(key.to_owned()), out);
    }
}

/// What the log scan keeps of each event to check the indexes against.
struct Indexed {
    id: Uuid,
    org: u32,
    in_id_index: bool,
    in_org_index: bool,
}

/// The index half of a ledger verification: the first problem found, by seq.
#[derive(Default)]
struct IndexCheck {
    events: Vec<Indexed>,
    orgs: Vec<OrgId>,
    org_numbers: HashMap<OrgId, u32>,
    /// The problem with the lowest seq (problems with no seq come last).
    problem: Option<(u64, String)>,
}

impl IndexCheck {
    fn add_event(&mut self, env: &Envelope) {
        let org = match self.org_numbers.get(&env.event.org) {
            Some(&n) => n,
            None => {
                let n = self.orgs.len() as u32;
                self.org_numbers.insert(env.event.org.clone(), n);
                self.orgs.push(env.event.org.clone());
                n
            }
        };
        self.events.push(Indexed { id: env.event.id, org, in_id_index: false, in_org_index: false });
    }

    fn problem(&mut self, seq: Option<u64>, what: String) {
        let seq = seq.unwrap_or(u64::MAX);
        if self.problem.as_ref().is_none_or(|(s, _)| seq < *s) {
            self.problem = Some((seq, what));
        }
    }

    fn event(&mut self, seq: u64) -> Option<&mut Indexed> {
        self.events.get_mut(usize::try_from(seq.checked_sub(1)?).ok()?)
    }

    /// `I` + id → seq.
    fn id_entry(&mut self, ids: &HashMap<Uuid, u64>, key: &[u8], value: &[u8]) {
        let Ok(id) = Uuid::from_slice(&key[1..]) else {
            return self.problem(None, format!("the id index holds a damaged key {}", show_key(key)));
        };
        let Some(&seq) = ids.get(&id) else {
            return self.problem(
                None,
                format!("the id index holds event {id}, which is not in the log: an index entry has no event"),
            );
        };
        let Ok(bytes) = <[u8; 8]>::try_from(value) else {
            return self.problem(
                Some(seq),
                format!("seq {seq}: the id index entry of event {id} is damaged: it does not hold a log position"),
            );
        };
        let points = u64::from_be_bytes(bytes);
        if points != seq {
            return self.problem(Some(seq), format!("seq {seq}: the id index points event {id} to seq {points}"));
        }
        if let Some(e) = self.event(seq) {
            e.in_id_index = true;
        }
    }

    /// `O` + org + 0x00 + seq → nothing.
    fn org_entry(&mut self, key: &[u8], value: &[u8]) {
        let parsed = key.iter().position(|&b| b == 0).and_then(|at| {
            let org = std::str::from_utf8(&key[1..at]).ok().and_then(|s| OrgId::parse(s).ok())?;
            Some((org, u64::from_be_bytes(key[at + 1..].try_into().ok()?)))
        });
        let Some((org, seq)) = parsed else {
            return self.problem(None, format!("the org index holds a damaged key {}", show_key(key)));
        };
        let Some(actual) = self.event(seq).map(|e| e.org) else {
            return self.problem(
                None,
                format!(
                    "the org index of `{org}` names seq {seq}, which is not in the log: an index entry has no event"
                ),
            );
        };
        let actual = &self.orgs[actual as usize];
        if *actual != org {
            let what = format!("seq {seq}: the org index files it under `{org}`, but it is an event of `{actual}`");
            return self.problem(Some(seq), what);
        }
        if !value.is_empty() {
            return self.problem(Some(seq), format!("seq {seq}: the org index entry of `{org}` is damaged"));
        }
        if let Some(e) = self.event(seq) {
            e.in_org_index = true;
        }
    }

    /// The first problem: an entry found wrong, or an event lacking one.
    fn finish(mut self) -> Result<()> {
        if let Some(i) = self.events.iter().position(|e| !e.in_id_index) {
            let seq = i as u64 + 1;
            let id = self.events[i].id;
            self.problem(Some(seq), format!("seq {seq}: the id index lacks event {id}"));
        }
        if let Some(i) = self.events.iter().position(|e| !e.in_org_index) {
            let seq = i as u64 + 1;
            let org = self.orgs[self.events[i].org as usize].clone();
            self.problem(Some(seq), format!("seq {seq}: the org index of `{org}` lacks this event"));
        }
        match self.problem {
            Some((_, what)) => Err(Error::integrity(what)),
            None => Ok(()),
        }
    }
}

fn show_key(key: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(key).escape_debug().take(60).collect();
    format!("`{text}`")
}

/// A stored entry, read.
// Most entries are events: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Entry {
    /// A log entry: the seq of its key, and its envelope or why it cannot be read.
    Event(u64, Result<Envelope>),
    /// A log key that does not hold a seq.
    BadLogKey(sled::IVec),
    /// Anything but the log: indexes, the format marker, stray keys.
    Other(sled::IVec, sled::IVec),
}

/// Entries handed over from the reading thread at a time.
const BATCH: usize = 256;

/// Verifies a whole ledger: the log, its indexes, the rules, a checkpoint
/// and the head recorded at the last commit.
///
/// A second thread walks sled's keys (a third of the work: sled pulls and
/// decodes its pages) while this one checks what it hands over.
pub fn verify_ledger(store: &Store, checkpoint: Option<Head>) -> Result<Report> {
    let mut verifier = Verifier::new(checkpoint);
    if let Some(marker) = store.head_marker()?
        && marker.seq > 0
    {
        verifier.require(marker, format!("{HEAD_FILE}, written at the last commit,"));
    }
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Result<Vec<(sled::IVec, sled::IVec)>>>(8);
        scope.spawn(move || read_entries(store, &tx));
        let mut buf = Vec::with_capacity(4096);
        let entries = rx
            .into_iter()
            .flat_map(|batch| {
                let (batch, error) = match batch {
                    Ok(batch) => (batch, None),
                    Err(e) => (Vec::new(), Some(Err(e))),
                };
                batch.into_iter().map(Ok).chain(error)
            })
            .map(|entry| entry.map(|entry| decode_entry(entry, &mut buf)));
        // Returning drops the receiver, which stops the reading thread.
        follow_entries(verifier, entries)
    })
}

/// Walks every entry of the store in key order, in batches, until the
/// receiver is gone.
fn read_entries(store: &Store, tx: &SyncSender<Result<Vec<(sled::IVec, sled::IVec)>>>) {
    let mut batch = Vec::with_capacity(BATCH);
    for item in store.entries() {
        match item {
            Ok(entry) => batch.push(entry),
            Err(e) => {
                let _ = tx.send(Ok(batch));
                let _ = tx.send(Err(e));
                return;
            }
        }
        if batch.len() == BATCH && tx.send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))).is_err() {
            return;
        }
    }
    let _ = tx.send(Ok(batch));
}

/// Reads the envelope of a log entry; leaves any other as it is.
fn decode_entry((key, value): (sled::IVec, sled::IVec), buf: &mut Vec<u8>) -> Entry {
    match key.first() {
        Some(b'E') => match <[u8; 8]>::try_from(&key[1..]) {
            Ok(seq) => {
                let seq = u64::from_be_bytes(seq);
                Entry::Event(seq, read_envelope(&value, seq, true, buf))
            }
            Err(_) => Entry::BadLogKey(key),
        },
        _ => Entry::Other(key, value),
    }
}

/// Follows the entries in key order: the log first, then the indexes.
fn follow_entries(verifier: Verifier, entries: impl Iterator<Item = Result<Entry>>) -> Result<Report> {
    let mut verifier = Some(verifier);
    // The log's report and ids, once the first key after the log is reached.
    let mut log: Option<(Report, HashMap<Uuid, u64>)> = None;
    let mut index = IndexCheck::default();
    for entry in entries {
        let (key, value) = match entry? {
            Entry::Event(seq, env) => {
                let Some(v) = verifier.as_mut() else {
                    return Err(Error::integrity(format!("the ledger holds a log entry out of order (seq {seq})")));
                };
                let expected = v.head().seq + 1;
                if seq != expected {
                    return Err(Error::integrity(if seq == 0 {
                        "the log holds an event at seq 0, where none may be: it was altered".to_owned()
                    } else {
                        format!("seq {expected}: the log has a gap: the next event stored is seq {seq}")
                    }));
                }
                let env = v.follow(env?)?;
                index.add_event(&env);
                continue;
            }
            Entry::BadLogKey(key) => {
                let next = verifier.as_ref().map_or(0, |v| v.head().seq + 1);
                return Err(Error::integrity(format!(
                    "seq {next}: the ledger holds a damaged log key {}",
                    show_key(&key)
                )));
            }
            Entry::Other(key, value) => (key, value),
        };
        if let Some(v) = verifier.take() {
            log = Some(v.finish_with_ids()?);
        }
        match (key.first(), &log) {
            (Some(b'I'), Some((_, ids))) => index.id_entry(ids, &key, &value),
            (Some(b'O'), _) => index.org_entry(&key, &value),
            _ if key.as_ref() == FORMAT_KEY => {}
            _ => index
                .problem(None, format!("the ledger holds a key of no known kind {}: it was altered", show_key(&key))),
        }
    }
    if let Some(v) = verifier.take() {
        log = Some(v.finish_with_ids()?);
    }
    let (report, _) = log.ok_or_else(|| Error::integrity("the log was never verified"))?;
    index.finish()?;
    Ok(report)
}

/// Verifies an export (NDJSON of envelopes) with no ledger; errors name the line.
pub fn verify_export(label: &str, reader: impl BufRead, checkpoint: Option<Head>) -> Result<Report> {
    let mut verifier = Verifier::for_export(checkpoint);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| Error::io(format!("cannot read {label}: {e}")))?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        verifier.check(line).map_err(|e| e.at(format!("{label} line {}", i + 1)))?;
    }
    verifier.finish()
}

/// An earlier event that one corrects, as replay names it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Target {
    pub seq: u64,
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub date: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Joined {
    pub id: PartyId,
    pub status: &'static str,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Changed {
    pub id: PartyId,
    pub from: &'static str,
    pub to: &'static str,
}

/// What one event did to membership, for `audit replay`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Replayed {
    pub seq: u64,
    pub id: Uuid,
    pub org: OrgId,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub date: Option<String>,
    /// Parties that became members, with their status.
    pub joined: Vec<Joined>,
    /// Parties that stopped being members.
    pub left: Vec<PartyId>,
    /// Members whose status changed.
    pub changed: Vec<Changed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retracted: Option<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded: Option<Target>,
}

/// Replays the log in order (one org's events with `org`), checking it as
/// it goes, and hands each event with the change it made to the org's
/// membership as the timeline stands after it (back-dated events included).
pub fn replay(
    store: &Store,
    org: Option<&OrgId>,
    mut each: impl FnMut(&Envelope, &Replayed) -> Result<()>,
) -> Result<Head> {
    let mut verifier = Verifier::new(None);
    if let Some(marker) = store.head_marker()?
        && marker.seq > 0
    {
        verifier.require(marker, format!("{HEAD_FILE}, written at the last commit,"));
    }
    // Each org's state after its previous event, to compare with the state after this one.
    let mut states: HashMap<OrgId, OrgState> = HashMap::new();
    // What each event of the org was, to name the ones a correction removes.
    let mut targets: HashMap<Uuid, Target> = HashMap::new();
    let mut any = false;
    for item in store.scan_raw(1) {
        let (seq, bytes) = item?;
        let expected = verifier.head().seq + 1;
        if seq != expected {
            return Err(Error::integrity(format!(
                "seq {expected}: the log has a gap: the next event stored is seq {seq}"
            )));
        }
        let env = verifier.check(&bytes)?;
        if org.is_some_and(|o| *o != env.event.org) {
            continue;
        }
        any = true;
        let target = |id: Option<Uuid>| id.and_then(|id| targets.get(&id).cloned());
        let corrected = match &env.event.kind {
            EventKind::Retraction { retracts, .. } => (target(Some(*retracts)), None),
            _ => (None, target(env.event.supersedes)),
        };
        let date = env.event.date.map(|d| d.to_string());
        targets.insert(env.event.id, Target { seq, id: env.event.id, kind: env.event.type_name(), date: date.clone() });
        let after = verifier.timelines.get(&env.event.org).map(|t| t.state()).cloned().unwrap_or_default();
        let before = states.insert(env.event.org.clone(), after.clone()).unwrap_or_default();
        let mut r = Replayed {
            seq,
            id: env.event.id,
            org: env.event.org.clone(),
            kind: env.event.type_name(),
            date,
            joined: vec![],
            left: vec![],
            changed: vec![],
            retracted: corrected.0,
            superseded: corrected.1,
        };
        let mut parties: Vec<&PartyId> =
            before.members().map(|(p, _)| p).chain(after.members().map(|(p, _)| p)).collect();
        parties.sort();
        parties.dedup();
        for p in parties {
            let (a, b) = (before.standing(p), after.standing(p));
            match (a.is_member(), b.is_member()) {
                (false, true) => r.joined.push(Joined { id: p.clone(), status: b.as_str() }),
                (true, false) => r.left.push(p.clone()),
                (true, true) if a.as_str() != b.as_str() => {
                    r.changed.push(Changed { id: p.clone(), from: a.as_str(), to: b.as_str() })
                }
                _ => {}
            }
        }
        each(&env, &r)?;
    }
    if let Some(org) = org
        && !any
    {
        return Err(Error::rejected(format!("the log has no event of org `{org}`")));
    }
    Ok(verifier.finish()?.head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// `canonical_with_hash` must agree with the canonical module: the whole
    /// form with `hash`, and the hash of the form without it.
    fn agrees(map: &Map<String, Value>) {
        let hash = "ab".repeat(32);
        let mut buf = Vec::new();
        let hashed = canonical_with_hash(map, &hash, &mut buf);
        assert_eq!(hashed, canonical::sha256_hex(&Value::Object(map.clone())));
        let mut with = map.clone();
        with.insert("hash".into(), Value::String(hash));
        assert_eq!(String::from_utf8(buf).unwrap(), canonical::to_canonical_string(&Value::Object(with)));
    }

    #[test]
    fn the_hash_member_is_cut_out_wherever_it_sorts() {
        for v in [
            json!({}),
            json!({"a": 1}),
            json!({"z": 1}),
            json!({"a": 1, "z": [1.5, "x", null]}),
            json!({"id": "x", "org": "isa", "seq": 3, "prev": "0", "date": "2019"}),
            json!({"\u{10000}": 1, "\u{e000}": 2, "h": {"b": 1, "a": 2}, "quote\"d": "\n"}),
            json!({"hash2": 1, "has": 2, "hasg": 3, "hasi": 4}),
        ] {
            agrees(v.as_object().unwrap());
        }
    }

    proptest! {
        #[test]
        fn any_object_agrees(map in prop::collection::btree_map(".{0,6}", prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
        ], 0..8)) {
            let mut m: Map<String, Value> = map.into_iter().collect();
            m.remove("hash");
            agrees(&m);
        }
    }
}
