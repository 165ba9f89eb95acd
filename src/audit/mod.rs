//! Verification: the hash chain, the indexes and the rules, re-checked from
//! the bytes, streaming, for a ledger or for an export with no ledger.
//!
//! A ledger is verified in one pass over the log (its blocks, in order) and
//! one over the indexes (the id index and the org copies), on threads of
//! their own: a reader unpacks the blocks, two parsers read the envelopes,
//! and this thread checks the chain and the rules in log order.
//!
//! The pass is built for the common case, a ledger that verifies, and keeps
//! little in memory: each envelope is read straight from its bytes
//! (`model::read::Sealed`), each org keeps only the end of its timeline unless a
//! correction or a back-dated event needed it whole (it is then read back
//! from the store), and the indexes are compared with the log as two
//! multisets through a keyed fingerprint rather than entry by entry. If
//! anything at all is off, the ledger is verified again by the exact pass,
//! which keeps every id and timeline in memory and names the first problem
//! by its seq; both passes accept the same ledgers.
//!
//! An export is read line by line, the same fast way for lines in canonical
//! form, and each line that is not (or does not verify) is checked again the
//! general way, which explains what is wrong.

mod error;
pub use error::Error as AuditError;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::BufRead;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ledger::counting_steps;
use crate::model::envelope::{Envelope, Head};
use crate::model::event::EventKind;
use crate::model::exact::read_envelope;
use crate::model::id::{OrgId, PartyId};
use crate::model::read::{Scratch, Sealed};
use crate::store::{Entry, HEAD_FILE, Store, Unpacked, id_bucket};
use crate::timeline::{Change, OrgState, Step, Tail, Timeline};

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
    /// Each org's whole timeline, by org id.
    timelines: HashMap<String, Timeline>,
    /// The log position of every id seen, to refuse an id recorded twice.
    ids: HashMap<Uuid, u64>,
    /// Whether the bytes must be exactly the canonical form (stored
    /// envelopes), or only hash right once canonicalized (export lines).
    exact: bool,
    /// The canonical form of the envelope being checked (reused).
    buf: Vec<u8>,
    scratch: Scratch,
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
            scratch: Scratch::default(),
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

    /// Checks the next line of an export: lines in canonical form (as accord
    /// exports them) the fast way, any other, and any that fails, the
    /// general way of [`Verifier::check`], which says what is wrong.
    fn check_line(&mut self, bytes: &[u8]) -> Result<()> {
        if self.follow_sealed(bytes).is_some() {
            return Ok(());
        }
        self.check(bytes).map(drop)
    }

    /// [`Verifier::check`] for an envelope that [`Sealed::read`] accepts:
    /// `None` if it does not, or if any check fails, and then nothing was
    /// changed (a timeline refuses a change whole), so that the general
    /// way can check the same envelope again.
    fn follow_sealed(&mut self, bytes: &[u8]) -> Option<()> {
        let env = Sealed::read(bytes, &mut self.scratch)?;
        let seq = self.head.seq + 1;
        let checkpoint_differs = self.checkpoints.iter().any(|cp| cp.head.seq == seq && cp.head.hash != env.hash);
        if env.seq != seq
            || env.prev != self.head.hash
            || env.recorded_at < self.last_time.as_str()
            || self.ids.contains_key(&env.id)
            || checkpoint_differs
        {
            return None;
        }
        let timeline = match self.timelines.get_mut(env.org) {
            Some(timeline) => timeline,
            None => self.timelines.entry(env.org.to_owned()).or_default(),
        };
        timeline.apply(change_of(timeline, env.target.as_ref(), env.step)?, u64::MAX).ok()?;
        self.ids.insert(env.id, seq);
        for cp in &mut self.checkpoints {
            cp.seen |= cp.head.seq == seq;
        }
        self.head.seq = seq;
        self.head.hash.clear();
        self.head.hash.push_str(env.hash);
        self.last_time.clear();
        self.last_time.push_str(env.recorded_at);
        Some(())
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
        let timeline = match self.timelines.get_mut(event.org.as_str()) {
            Some(timeline) => timeline,
            None => self.timelines.entry(event.org.as_str().to_owned()).or_default(),
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
        // Every step before this one is in the log: each is named by its seq.
        timeline.apply(change, u64::MAX)
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

/// The change to an org's timeline that an event makes, if the event it
/// corrects (if any) still counts there.
fn change_of<'t>(timeline: &Timeline, target: Option<&'t Uuid>, step: Option<Step>) -> Option<Change<'t>> {
    if let Some(t) = target
        && !timeline.contains(t)
    {
        return None;
    }
    match (target, step) {
        (Some(t), None) => Some(Change::Remove(t)),
        (Some(t), Some(s)) => Some(Change::Replace(t, s)),
        (None, Some(s)) => Some(Change::Add(s)),
        (None, None) => None,
    }
}

/// What the fast pass keeps of an org for the rules.
enum OrgRules {
    /// The end of its timeline: enough while each event sorts last.
    Tail(Tail),
    /// The whole timeline, once a correction or a back-dated event needed
    /// it (read back from the store, then kept, as more are likely).
    Whole(Timeline),
}

/// A log block as the reading thread hands it over: its first seq and envelopes.
type ReadBlock = (u64, Unpacked);

/// A keyed hash (SipHash, key drawn at random for each verification) of a
/// seq and the bytes of an org copy (the canonical JSON of the recorded
/// event, given in pieces): what the org index must share with the log.
fn copy_hash<'b>(key: &RandomState, seq: u64, pieces: impl IntoIterator<Item = &'b [u8]>) -> u64 {
    let mut h = key.build_hasher();
    h.write_u64(seq);
    for piece in pieces {
        h.write(piece);
    }
    h.finish()
}

/// [`copy_hash`] of the org copy of stored envelope bytes: the bytes with
/// their `hash` and `prev` members cut out (`chain`, from [`Sealed`]).
fn copy_hash_of_envelope(key: &RandomState, seq: u64, bytes: &[u8], chain: [(usize, usize); 2]) -> Option<u64> {
    let [(h0, h1), (p0, p1)] = chain;
    Some(copy_hash(key, seq, [bytes.get(..h0)?, bytes.get(h1..p0)?, bytes.get(p1..)?]))
}

/// Threads that read envelopes (parse, hash) for the fast pass, block by block.
const PARSERS: usize = 2;

/// What the fast pass needs of an envelope, read by a parser thread: the
/// checks that need no other envelope are done ([`Sealed::read`]: form,
/// hash, decoding), the rest is left to the checking thread.
struct Parsed {
    seq: u64,
    /// Hex, as stored (checked by [`Sealed::read`]).
    hash: [u8; 64],
    prev: [u8; 64],
    recorded_at: String,
    id: Uuid,
    org: String,
    target: Option<Uuid>,
    step: Option<Step>,
    /// [`copy_hash`] of the envelope's org copy.
    copy: u64,
}

impl Parsed {
    fn read(seq: u64, bytes: &[u8], key: &RandomState, scratch: &mut Scratch) -> Option<Parsed> {
        let env = Sealed::read(bytes, scratch)?;
        Some(Parsed {
            seq: env.seq,
            copy: copy_hash_of_envelope(key, seq, bytes, env.chain)?,
            hash: env.hash.as_bytes().try_into().ok()?,
            prev: env.prev.as_bytes().try_into().ok()?,
            recorded_at: env.recorded_at.to_owned(),
            id: env.id,
            org: env.org.to_owned(),
            target: env.target,
            step: env.step,
        })
    }
}

/// A block as a parser hands it over: its first seq, and each envelope read
/// (`None` if it is not as accord writes it).
type ParsedBlock = (u64, Vec<(u64, Option<Parsed>)>);

/// Reads (and unpacks) the log blocks in order, dealing them out to the
/// parsers in turn, until they are gone.
fn read_blocks(store: &Store, parsers: &[SyncSender<Result<ReadBlock>>]) {
    for (block, tx) in store.block_spans(1).zip(parsers.iter().cycle()) {
        let failed = block.is_err();
        if tx.send(block).is_err() || failed {
            return;
        }
    }
}

/// Reads each envelope of the blocks it is dealt, in order, until the
/// reader or the checking thread is gone.
fn parse_blocks(blocks: Receiver<Result<ReadBlock>>, out: &SyncSender<Result<ParsedBlock>>, key: &RandomState) {
    let mut scratch = Scratch::default();
    for block in blocks {
        let parsed = block.map(|(first, block)| {
            let events = (block.spans.iter())
                .map(|(seq, bytes)| (*seq, Parsed::read(*seq, &block.payload[bytes.clone()], key, &mut scratch)))
                .collect();
            (first, events)
        });
        if out.send(parsed).is_err() {
            return;
        }
    }
}

/// The fast pass over a ledger (see the module's documentation): `None` as
/// soon as anything is off, without saying what.
struct LedgerScan<'s> {
    store: &'s Store,
    /// The seq and hash (hex) of the last envelope checked.
    seq: u64,
    hash: [u8; 64],
    last_time: String,
    checkpoints: Vec<Checkpoint>,
    orgs: HashMap<String, OrgRules>,
    /// The index entries the log calls for.
    wanted: Tally,
}

impl<'s> LedgerScan<'s> {
    /// Walks the store: one thread reads and unpacks the log and deals its
    /// blocks to [`PARSERS`] threads, which read the envelopes; another
    /// reads the indexes; this one takes the parsed blocks back in order
    /// and checks what needs the envelopes before (chain, rules).
    fn run(store: &'s Store, checkpoints: Vec<Checkpoint>) -> Option<Report> {
        let key = RandomState::new();
        let mut scan = LedgerScan {
            store,
            seq: 0,
            hash: [b'0'; 64],
            last_time: String::new(),
            checkpoints,
            orgs: HashMap::new(),
            wanted: Tally::new(key.clone()),
        };
        std::thread::scope(|scope| {
            let mut to_parsers = Vec::new();
            let mut from_parsers = Vec::new();
            for _ in 0..PARSERS {
                let (tx, rx) = sync_channel::<Result<ReadBlock>>(4);
                let (out_tx, out_rx) = sync_channel::<Result<ParsedBlock>>(4);
                let key = key.clone();
                scope.spawn(move || parse_blocks(rx, &out_tx, &key));
                to_parsers.push(tx);
                from_parsers.push(out_rx);
            }
            scope.spawn(move || read_blocks(store, &to_parsers));
            let index_key = key.clone();
            let indexes = scope.spawn(move || tally_indexes(store, index_key));
            // Block i is parser i % PARSERS's. Returning early drops the
            // receivers, which stops the parsers and then the reader.
            for i in 0.. {
                let Ok(block) = from_parsers[i % PARSERS].recv() else { break };
                let (first, events) = block.ok()?;
                if first != scan.seq + 1 {
                    return None;
                }
                for (seq, parsed) in events {
                    scan.event(seq, parsed?)?;
                }
            }
            let found = indexes.join().ok()??;
            scan.finish(&found)
        })
    }

    fn event(&mut self, seq: u64, env: Parsed) -> Option<()> {
        if seq != self.seq + 1 || env.seq != seq || env.prev != self.hash || env.recorded_at < self.last_time {
            return None;
        }
        for cp in &mut self.checkpoints {
            if cp.head.seq == seq {
                if cp.head.hash.as_bytes() != env.hash {
                    return None;
                }
                cp.seen = true;
            }
        }
        self.wanted.id(env.id.as_bytes(), seq);
        self.wanted.org(&env.org, seq, env.copy);
        self.seq = seq;
        self.hash = env.hash;
        self.last_time = env.recorded_at;
        self.rules(seq, &env.org, env.target, env.step)
    }

    /// The rules, as [`Verifier::check_rules`] applies them.
    fn rules(&mut self, seq: u64, org: &str, target: Option<Uuid>, step: Option<Step>) -> Option<()> {
        let rules = match self.orgs.get_mut(org) {
            Some(rules) => rules,
            None => self.orgs.entry(org.to_owned()).or_insert_with(|| OrgRules::Tail(Tail::default())),
        };
        if target.is_none()
            && let Some(s) = &step
        {
            match rules {
                OrgRules::Tail(tail) => {
                    if let Some(outcome) = tail.try_append(s, u64::MAX) {
                        return outcome.ok();
                    }
                }
                OrgRules::Whole(timeline) => return timeline.apply(Change::Add(step?), u64::MAX).ok(),
            }
        }
        // A correction, or an event that does not sort last: the whole
        // timeline, read back from the store unless it is empty.
        let mut timeline = match rules {
            OrgRules::Whole(timeline) => std::mem::take(timeline),
            OrgRules::Tail(tail) if tail.is_empty() => Timeline::default(),
            OrgRules::Tail(_) => stored_timeline(self.store, org, seq - 1)?,
        };
        timeline.apply(change_of(&timeline, target.as_ref(), step)?, u64::MAX).ok()?;
        *rules = match rules {
            OrgRules::Tail(tail) if tail.is_empty() => OrgRules::Tail(Tail::of(&timeline)),
            _ => OrgRules::Whole(timeline),
        };
        Some(())
    }

    /// The log verified: every checkpoint reached, the indexes hold exactly
    /// the entries the log calls for, and say they hold them all.
    fn finish(self, found: &Tally) -> Option<Report> {
        let whole = self.checkpoints.iter().all(|cp| cp.seen)
            && self.wanted == *found
            && self.store.indexed().ok()? == self.seq;
        let head = Head { seq: self.seq, hash: String::from_utf8(self.hash.to_vec()).ok()? };
        whole.then_some(Report { events: head.seq, head })
    }
}

/// The entries the indexes hold, as a [`Tally`]; `None` if any is damaged,
/// in the wrong bucket, or of no known kind.
fn tally_indexes(store: &Store, key: RandomState) -> Option<Tally> {
    let mut found = Tally::new(key);
    for entry in store.index_entries() {
        match entry.ok()? {
            Entry::Ids(bucket, entries) => {
                for (id, seq) in entries {
                    if id_bucket(&id) != bucket {
                        return None;
                    }
                    found.id(id.as_bytes(), seq);
                }
            }
            Entry::Org(org, _, events) => {
                for (seq, bytes) in events {
                    let copy = copy_hash(&found.key, seq, [bytes.as_slice()]);
                    found.org(org.as_str(), seq, copy);
                }
            }
            Entry::Meta => {}
            Entry::Block(..) | Entry::Damaged(_) => return None,
        }
    }
    Some(found)
}

/// An org's timeline as of `upto`, from its events in the store (found by
/// the org index: if that lacks an entry, the index check fails later).
fn stored_timeline(store: &Store, org: &str, upto: u64) -> Option<Timeline> {
    let events = store.org_records(&OrgId::parse(org).ok()?, upto).ok()?;
    Timeline::build(counting_steps(events.iter().map(|e| (e.seq, &e.event)))).ok()
}

/// A fingerprint of a multiset of index entries, id (id, seq) and org copy
/// (org, seq, [`copy_hash`]): counts, and two sums of a keyed hash
/// (SipHash, with a key drawn at random for each verification) of each entry.
///
/// Two tallies of the same entries are equal, in any order. Tallies of
/// different entries (one missing, added, changed, or an id given to two
/// events) differ except with a probability of about 2^-64 (an org copy's
/// bytes enter through a 64-bit hash), which no one can raise without
/// knowing the key. Checked entry by entry, the indexes would need every id
/// of the log kept in memory.
struct Tally {
    key: RandomState,
    ids: u64,
    orgs: u64,
    sums: [u64; 2],
}

impl Tally {
    fn new(key: RandomState) -> Tally {
        Tally { key, ids: 0, orgs: 0, sums: [0; 2] }
    }

    /// Adds the id-index entry id → seq.
    fn id(&mut self, id: &[u8; 16], seq: u64) {
        self.ids += 1;
        self.add(b'I', id, seq);
    }

    /// Adds the org copy of seq (its bytes hashed to `copy`) under `org`.
    fn org(&mut self, org: &str, seq: u64, copy: u64) {
        self.orgs += 1;
        let mut bytes = Vec::with_capacity(org.len() + 8);
        bytes.extend_from_slice(&copy.to_le_bytes());
        bytes.extend_from_slice(org.as_bytes());
        self.add(b'O', &bytes, seq);
    }

    fn add(&mut self, kind: u8, bytes: &[u8], seq: u64) {
        // Hashed: lane, kind, length, bytes, seq; in one write when the
        // bytes are short (ids and org ids are), which is twice as fast.
        let mut buf = [0u8; 3 + 80 + 8];
        let short = u8::try_from(bytes.len()).ok().filter(|&n| n <= 80).map(|n| {
            buf[1] = kind;
            buf[2] = n;
            buf[3..3 + bytes.len()].copy_from_slice(bytes);
            buf[3 + bytes.len()..11 + bytes.len()].copy_from_slice(&seq.to_le_bytes());
            11 + bytes.len()
        });
        for (lane, sum) in (0u8..).zip(&mut self.sums) {
            let mut h = self.key.build_hasher();
            match short {
                Some(len) => {
                    buf[0] = lane;
                    h.write(&buf[..len]);
                }
                None => {
                    h.write(&[lane, kind, 0xff]);
                    h.write(&bytes.len().to_le_bytes());
                    h.write(bytes);
                    h.write(&seq.to_le_bytes());
                }
            }
            *sum = sum.wrapping_add(h.finish());
        }
    }
}

impl PartialEq for Tally {
    fn eq(&self, other: &Tally) -> bool {
        (self.ids, self.orgs, self.sums) == (other.ids, other.orgs, other.sums)
    }
}

/// What the log scan keeps of each event to check the indexes against.
struct Indexed {
    id: Uuid,
    org: u32,
    /// [`copy_hash`] of the envelope.
    copy: u64,
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
    fn add_event(&mut self, env: &Envelope, copy: u64) {
        let org = match self.org_numbers.get(&env.event.org) {
            Some(&n) => n,
            None => {
                let n = self.orgs.len() as u32;
                self.org_numbers.insert(env.event.org.clone(), n);
                self.orgs.push(env.event.org.clone());
                n
            }
        };
        self.events.push(Indexed { id: env.event.id, org, copy, in_id_index: false, in_org_index: false });
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

    /// An id-index entry id → seq, found in `bucket`.
    fn id_entry(&mut self, ids: &HashMap<Uuid, u64>, bucket: u16, id: Uuid, points: u64) {
        let Some(&seq) = ids.get(&id) else {
            return self.problem(
                None,
                format!("the id index holds event {id}, which is not in the log: an index entry has no event"),
            );
        };
        if points != seq {
            return self.problem(Some(seq), format!("seq {seq}: the id index points event {id} to seq {points}"));
        }
        if id_bucket(&id) != bucket {
            return self.problem(Some(seq), format!("seq {seq}: the id index files event {id} in the wrong bucket"));
        }
        if let Some(e) = self.event(seq) {
            if e.in_id_index {
                return self.problem(Some(seq), format!("seq {seq}: the id index holds event {id} twice"));
            }
            e.in_id_index = true;
        }
    }

    /// The org copy of seq, found under `org`, its bytes hashed to `copy`.
    fn org_entry(&mut self, org: &OrgId, seq: u64, copy: u64) {
        let Some(e) = self.event(seq) else {
            return self.problem(
                None,
                format!(
                    "the org index of `{org}` names seq {seq}, which is not in the log: an index entry has no event"
                ),
            );
        };
        let (actual, same, twice) = (e.org, e.copy == copy, e.in_org_index);
        e.in_org_index = true;
        let actual = &self.orgs[actual as usize];
        if *actual != *org {
            let what = format!("seq {seq}: the org index files it under `{org}`, but it is an event of `{actual}`");
            return self.problem(Some(seq), what);
        }
        if twice {
            return self.problem(Some(seq), format!("seq {seq}: the org index of `{org}` holds this event twice"));
        }
        if !same {
            self.problem(
                Some(seq),
                format!("seq {seq}: the org index of `{org}` holds a copy of this event that differs from the log"),
            );
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

/// Verifies a whole ledger: the log, its indexes, the rules, a checkpoint
/// and the head recorded at the last commit.
///
/// First the fast pass (`LedgerScan`); if it finds anything wrong (or
/// unusual), the exact pass, which names the first problem.
pub fn verify_ledger(store: &Store, checkpoint: Option<Head>) -> Result<Report> {
    let mut checkpoints = Vec::new();
    if let Some(head) = &checkpoint {
        checkpoints.push(Checkpoint { head: head.clone(), by: "the checkpoint".to_owned(), seen: false });
    }
    if let Some(marker) = store.head_marker()?
        && marker.seq > 0
    {
        checkpoints.push(Checkpoint {
            head: marker,
            by: format!("{HEAD_FILE}, written at the last commit,"),
            seen: false,
        });
    }
    if let Some(report) = LedgerScan::run(store, checkpoints) {
        return Ok(report);
    }
    verify_ledger_exactly(store, checkpoint)
}

/// The exact pass of [`verify_ledger`]: every id and every org's whole
/// timeline are kept, index entries are checked one by one, and the first
/// problem is named by its seq.
fn verify_ledger_exactly(store: &Store, checkpoint: Option<Head>) -> Result<Report> {
    let mut verifier = Verifier::new(checkpoint);
    if let Some(marker) = store.head_marker()?
        && marker.seq > 0
    {
        verifier.require(marker, format!("{HEAD_FILE}, written at the last commit,"));
    }
    let key = RandomState::new();
    let mut index = IndexCheck::default();
    let mut buf = Vec::with_capacity(4096);
    for block in store.blocks(1) {
        let (first, events) = block?;
        let expected = verifier.head().seq + 1;
        if first != expected {
            return Err(Error::integrity(if first == 0 {
                "the log holds an event at seq 0, where none may be: it was altered".to_owned()
            } else {
                format!("seq {expected}: the log has a gap: the next event stored is seq {first}")
            }));
        }
        for (seq, bytes) in events {
            let env = verifier.follow(read_envelope(&bytes, seq, true, &mut buf)?)?;
            index.add_event(&env, copy_hash(&key, seq, [env.record_json().as_bytes()]));
        }
    }
    let (report, ids) = verifier.finish_with_ids()?;
    for entry in store.index_entries() {
        match entry? {
            Entry::Ids(bucket, entries) => {
                for (id, seq) in entries {
                    index.id_entry(&ids, bucket, id, seq);
                }
            }
            Entry::Org(org, _, events) => {
                for (seq, bytes) in events {
                    index.org_entry(&org, seq, copy_hash(&key, seq, [bytes.as_slice()]));
                }
            }
            Entry::Meta => {}
            Entry::Damaged(what) => index.problem(None, what),
            Entry::Block(first, _) => {
                index.problem(None, format!("the ledger holds a log block (seq {first}) among its indexes"));
            }
        }
    }
    let indexed = store.indexed()?;
    if indexed != report.head.seq {
        index.problem(
            None,
            format!(
                "the indexes say they hold the events up to seq {indexed}, but the log ends at seq {}",
                report.head.seq
            ),
        );
    }
    index.finish()?;
    Ok(report)
}

/// Verifies an export (NDJSON of envelopes) with no ledger; errors name the line.
pub fn verify_export(label: &str, reader: impl BufRead, checkpoint: Option<Head>) -> Result<Report> {
    let mut verifier = Verifier::for_export(checkpoint);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| Error::io(format!("cannot read {label}: {e}")))?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        verifier.check_line(line).map_err(|e| e.at(format!("{label} line {}", i + 1)))?;
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
        let after = verifier.timelines.get(env.event.org.as_str()).map(|t| t.state()).cloned().unwrap_or_default();
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
    use serde_json::Value;
    use serde_json::json;

    // -----------------------------------------------------------------------
    // The fast pass against the exact one

    use crate::model::event::Event;
    use crate::store::Options;
    use std::time::Duration;

    const ORGS: [&str; 2] = ["isa", "nato"];
    const PARTIES: [&str; 4] = ["A", "B", "C", "D"];
    const DATES: [&str; 9] =
        ["2000", "2000-06", "2001-01-01", "2001~", "1999/2001", "2002-03", "2003", "1998", "2005?"];

    /// One event of a random log: its org, type, date, parties, and which
    /// earlier event (by position) it corrects, if any.
    type Plan = (usize, usize, usize, Vec<usize>, Option<prop::sample::Index>);

    fn event_of(plan: &Plan, i: usize, ids: &[Uuid]) -> Value {
        let (org, kind, date, parties, target) = plan;
        let kind = crate::model::event::TYPES[*kind];
        let mut members: Vec<&str> = parties.iter().map(|&p| PARTIES[p]).collect();
        members.dedup();
        if members.is_empty() {
            members.push("A");
        }
        let mut e = json!({"type": kind, "org": ORGS[*org], "date": DATES[*date],
                           "id": Uuid::from_u128(i as u128 + 1).to_string()});
        let map = e.as_object_mut().unwrap();
        match kind {
            "exercise" => {
                map.insert("name".into(), json!("X"));
            }
            "dissolution" => {}
            "retraction" => {
                map.insert("reason".into(), json!("r"));
            }
            "status_change" => {
                map.insert("members".into(), json!(members));
                map.insert("status".into(), json!("observer"));
            }
            _ => {
                map.insert("members".into(), json!(members));
            }
        }
        // A correction of any earlier event (of another org, it is refused).
        let target = target.as_ref().filter(|_| !ids.is_empty()).map(|t| ids[t.index(ids.len())]);
        match (kind, target) {
            ("retraction", Some(t)) => map.insert("retracts".into(), json!(t.to_string())),
            ("retraction", None) => map.insert("retracts".into(), json!(Uuid::from_u128(999).to_string())),
            (_, Some(t)) => map.insert("supersedes".into(), json!(t.to_string())),
            _ => None,
        };
        e
    }

    /// A ledger holding `events` as a hash chain, whatever the rules say.
    fn raw_ledger(events: &[Value]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let store = Store::open(&path, &Options::new(Duration::from_secs(5), true)).unwrap();
        let mut prev = crate::model::envelope::GENESIS.to_owned();
        let mut envs = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let event = Event::from_value(e.clone()).unwrap();
            let env = Envelope::seal(event, i as u64 + 1, "2024-01-01T00:00:00.000000Z".into(), "t".into(), prev);
            prev = env.hash.clone();
            envs.push(env);
        }
        store.write(&Head::empty(), &envs).unwrap();
        store.commit().unwrap();
        (dir, store)
    }

    /// Both passes accept the same ledgers, with the same report; the fast
    /// one does not give up on a ledger that verifies.
    fn passes_agree(store: &Store) -> bool {
        let fast = LedgerScan::run(store, Vec::new());
        let exact = verify_ledger_exactly(store, None);
        match (&fast, &exact) {
            (Some(f), Ok(e)) => assert_eq!(f, e),
            (None, Err(_)) => {}
            _ => panic!("fast {fast:?}, exact {exact:?}"),
        }
        exact.is_ok()
    }

    /// An export is verified the same with or without the fast way.
    fn exports_agree(store: &Store) {
        let lines: Vec<String> = store.scan(1).map(|e| e.unwrap().to_json()).collect();
        let export = lines.join("\n");
        let fast = verify_export("x", export.as_bytes(), None);
        let mut slow = Verifier::for_export(None);
        let general = lines
            .iter()
            .enumerate()
            .try_for_each(|(i, l)| slow.check(l.as_bytes()).map(drop).map_err(|e| e.at(format!("x line {}", i + 1))))
            .and_then(|()| slow.finish());
        assert_eq!(fast.map_err(|e| e.to_string()), general.map_err(|e| e.to_string()));
    }

    #[test]
    fn an_id_given_to_two_events_is_left_to_the_exact_pass() {
        let founding = json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"], "id": ID1});
        let accession = json!({"type": "accession", "org": "isa", "date": "2001", "members": ["B"], "id": ID1});
        let (_dir, store) = raw_ledger(&[founding, accession]);
        assert!(LedgerScan::run(&store, Vec::new()).is_none());
        let err = verify_ledger(&store, None).unwrap_err();
        assert!(err.to_string().contains("seq 2: event") && err.to_string().contains("recorded twice"), "{err}");
        exports_agree(&store);
    }

    const ID1: &str = "00000000-0000-0000-0000-000000000001";

    fn plans() -> impl Strategy<Value = Vec<Plan>> {
        prop::collection::vec(
            (
                prop::sample::select(vec![0, 0, 0, 1]),
                prop::sample::select(vec![0, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 7, 8, 9, 10, 10, 10]),
                0..DATES.len(),
                prop::collection::vec(0..PARTIES.len(), 1..3),
                prop::option::weighted(0.2, any::<prop::sample::Index>()),
            ),
            1..40,
        )
    }

    /// Random logs of two orgs, rules kept or broken, with back-dated
    /// events, retractions and supersessions. Each event that the rules
    /// refuse is dropped with a probability, so that most logs verify.
    fn random_log(plans: &[Plan], keep_refused: &[bool]) -> Vec<Value> {
        let mut events = Vec::new();
        let mut ids: Vec<Uuid> = Vec::new();
        let mut checker = Verifier::new(None);
        // Both orgs founded first, mostly.
        let foundings: Vec<Plan> = vec![(0, 0, 1, vec![0], None), (1, 0, 4, vec![0, 1], None)];
        let skip = usize::from(keep_refused.first().copied().unwrap_or(false));
        for (i, plan) in foundings[skip..].iter().chain(plans).enumerate() {
            let e = event_of(plan, i + 100, &ids);
            let event = Event::from_value(e.clone()).unwrap();
            let env = Envelope::seal(
                event,
                checker.head().seq + 1,
                "2024-01-01T00:00:00.000000Z".into(),
                "t".into(),
                checker.head().hash.clone(),
            );
            let mut trial =
                Verifier { timelines: checker.timelines.clone(), ids: checker.ids.clone(), ..Verifier::new(None) };
            trial.head = checker.head.clone();
            let ok = trial.follow(env.clone()).is_ok();
            if ok || keep_refused.get(i).copied().unwrap_or(false) {
                checker = trial;
                if !ok {
                    // Keep the log going past the broken event.
                    checker.head = Head { seq: env.seq, hash: env.hash.clone() };
                }
                ids.push(env.event.id);
                events.push(e);
            }
        }
        events
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_fast_pass_accepts_exactly_what_the_exact_pass_accepts(
            plans in plans(),
            keep_refused in prop::collection::vec(prop::bool::weighted(0.04), 42),
        ) {
            let events = random_log(&plans, &keep_refused);
            prop_assume!(!events.is_empty());
            let (_dir, store) = raw_ledger(&events);
            passes_agree(&store);
            exports_agree(&store);
            org_reads_agree(&store);
        }
    }

    /// An org read the fast way (steps straight from the org copies' bytes,
    /// events decoded on demand) is the org read the general way.
    fn org_reads_agree(store: &Store) {
        for org in store.orgs().unwrap() {
            let records = store.org_records(&org, u64::MAX).unwrap();
            // The fast reader takes every copy accord wrote.
            let mut scratch = Scratch::default();
            for (seq, bytes) in store.org_copies(&org, u64::MAX).unwrap() {
                assert_eq!(crate::model::read::RecordedView::read(&bytes, &mut scratch).map(|s| s.seq), Some(seq));
            }
            let general = Timeline::build(counting_steps(records.iter().map(|r| (r.seq, &r.event))));
            let fast = crate::ledger::OrgRecord::new(org.clone(), u64::MAX, store.org_copies(&org, u64::MAX).unwrap());
            match (general, fast) {
                (Ok(general), Ok(fast)) => {
                    assert_eq!(general.steps(), fast.timeline.steps());
                    for r in &records {
                        assert_eq!(fast.event(&r.event.id), Some(r));
                    }
                }
                (Err(_), Err(_)) => {}
                (general, fast) => panic!("general {:?}, fast {:?}", general.is_ok(), fast.is_ok()),
            }
        }
    }

    #[test]
    fn the_fast_pass_verifies_the_isa_log_and_a_log_of_many_orgs() {
        let dir = tempfile::tempdir().unwrap();
        let ledger =
            crate::ledger::Ledger::open(&dir.path().join("l"), &Options::new(Duration::from_secs(5), true)).unwrap();
        let mut recorder = ledger.recorder("t").unwrap();
        for line in include_str!("../../events/isa.ndjson").lines() {
            recorder.record_line(line).unwrap();
        }
        for i in 0..300 {
            let org = format!("o{}", i % 7);
            let e = match i / 7 {
                0 => json!({"type": "founding", "org": org, "date": "2000", "members": ["A"]}),
                // Back-dated, every other one.
                k if k % 2 == 1 => {
                    json!({"type": "exercise", "org": org, "date": format!("{}", 2001 + k % 5), "name": format!("x{k}")})
                }
                k => json!({"type": "exercise", "org": org, "date": format!("{}", 2001 + k), "name": format!("x{k}")}),
            };
            recorder.record_line(&e.to_string()).unwrap();
        }
        recorder.commit().unwrap();
        assert!(passes_agree(ledger.store()));
        assert!(LedgerScan::run(ledger.store(), Vec::new()).is_some());
    }
}
