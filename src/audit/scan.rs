//! The fast pass over a ledger: a reader thread, parser threads, and the chain, rules and tallies checked in log order.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::hash::RandomState;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use uuid::Uuid;

use super::Report;
use super::party::PartyCheck;
use super::summary::{WatermarkCheck, facts_problem, founding};
use super::tally::Tally;
use super::tree::TreeCheck;
use super::verifier::{Checkpoint, change_of};
use crate::error::Result;
use crate::halves::halves;
use crate::model::envelope::Head;
use crate::model::event::Event;
use crate::model::id::{OrgId, PartyId};
use crate::model::read::{Scratch, Sealed};
use crate::model::summary::{OrgSummary, Roster};
use crate::progress::Progress;
use crate::proof::merkle::leaf_pieces;
use crate::sha_many::{Message, sha256_each};
use crate::store::{Entry, Hash, Store, Unpacked, decode, id_bucket};
use crate::timeline::counting_steps;
use crate::timeline::{Change, Step, Tail, Timeline};

/// What the fast pass keeps of an org, by the number [`PartyCheck::number`]
/// gives it: looked up once an event, not once for each check.
struct ScanOrg {
    rules: OrgRules,
    /// Its last event that the summaries' watermark vouches for (0: none).
    vouched: u64,
    /// Its last event.
    last: u64,
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

/// Threads that read envelopes (parse, hash) for the fast pass, block by
/// block. Three on two cores, not two: the 1M-event ledger verified in
/// 1.73–1.83 s (CPU 3.36–3.55 s) against 1.82–1.91 (3.46–3.58) with two,
/// ten interleaved runs each; four, or groups of 8 blocks, did no better.
/// Why is not settled: the checking thread takes the groups in turn, so a
/// parser that is behind holds it up while the others wait, theirs done.
const PARSERS: usize = 3;

/// Log blocks handed from thread to thread at a time: each hand-over may
/// wake a thread, which costs about as much as reading a few envelopes.
const GROUP: usize = 4;

/// What the fast pass needs of an envelope, read by a parser thread: the
/// checks that need no other envelope are done ([`Sealed::read`]: form,
/// hash, decoding), the rest is left to the checking thread. Its texts stay
/// in the block's payload, handed over with it: frees across threads (these
/// two strings an event, and each step's parties) were about a tenth of the
/// checking thread's samples.
struct Parsed {
    seq: u64,
    /// Hex, as stored (checked by [`Sealed::read`]).
    hash: [u8; 64],
    prev: [u8; 64],
    /// Where its `recorded_at` and its org lie in the payload.
    recorded_at: Range<usize>,
    org: Range<usize>,
    target: Option<Uuid>,
    step: Option<Step>,
    /// Its leaf hash in the Merkle tree.
    leaf: Hash,
    /// The event, if it is a founding: an org's stored summary and roster
    /// are checked against its founding's name, date and members, at the
    /// end, where reading each one back from the store (a log block
    /// unpacked for each org, and an org chunk for its last seq) was about
    /// a sixth of that stretch's CPU.
    founding: Option<Box<Event>>,
}

impl Parsed {
    /// Reads the envelopes at `spans` of `payload` (a log block's), and
    /// counts the index entries each calls for (its id's, its org copy's)
    /// in `wanted`. Their hashes and Merkle leaves are hashed all at once
    /// ([`sha256_each`]): `audit verify` of the bench's 1M events took a
    /// median 0.930 of the time it took hashing one after the other (ten
    /// interleaved pairs; CPU 2.63 s against 2.81 s).
    fn read_block(
        payload: &[u8],
        spans: &[(u64, Range<usize>)],
        wanted: &mut Tally,
        scratch: &mut Scratch,
    ) -> Vec<(u64, Option<Parsed>)> {
        let read: Vec<_> = (spans.iter())
            .map(|(_, span)| {
                let bytes = payload.get(span.clone())?;
                Some((Sealed::read_unchecked(bytes, scratch)?, bytes))
            })
            .collect();
        let messages: Vec<Message<'_>> =
            read.iter().flatten().flat_map(|(env, bytes)| [env.hashed, leaf_pieces(bytes)]).collect();
        let mut digests = Vec::with_capacity(messages.len());
        sha256_each(&messages, &mut digests);
        let mut digests = digests.chunks_exact(2);
        (spans.iter().zip(read))
            .map(|((seq, _), read)| {
                let parsed = read.and_then(|(env, bytes)| {
                    let [own, leaf] = digests.next()? else { return None };
                    Parsed::read(*seq, payload, bytes, env.check(own)?, *leaf, wanted)
                });
                (*seq, parsed)
            })
            .collect()
    }

    /// The envelope `env`, read from `bytes` (within `payload`) stored at
    /// `seq`, its Merkle leaf hash being `leaf`.
    fn read(seq: u64, payload: &[u8], bytes: &[u8], env: Sealed<'_>, leaf: Hash, wanted: &mut Tally) -> Option<Parsed> {
        wanted.org_of_envelope(env.org, seq, bytes, env.chain)?;
        wanted.id(env.id.as_bytes(), seq);
        Some(Parsed {
            seq: env.seq,
            hash: env.hash.as_bytes().try_into().ok()?,
            prev: env.prev.as_bytes().try_into().ok()?,
            recorded_at: place_in(payload, env.recorded_at)?,
            org: place_in(payload, env.org)?,
            target: env.target,
            founding: match &env.step {
                Some(step) if step.is_founding() => Some(Box::new(decode(seq, bytes).ok()?.event)),
                _ => None,
            },
            step: env.step,
            leaf,
        })
    }
}

/// Where `part` lies in `whole`, if it is a slice of it (a text the reader
/// had to unescape is not: such an envelope is not as accord writes it).
fn place_in(whole: &[u8], part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

/// A block as a parser hands it over: its first seq, its payload, and each
/// envelope read (`None` if it is not as accord writes it).
type ParsedBlock = (u64, Vec<u8>, Vec<(u64, Option<Parsed>)>);

/// [`GROUP`] blocks (fewer at the end) as a parser hands them over, and
/// the index entries their envelopes call for. The entries count for the
/// log only if every envelope of the blocks passes the checking thread's
/// checks; if one does not, the pass fails anyway.
type ParsedGroup = (Vec<ParsedBlock>, Tally);

/// Reads (and unpacks) the log blocks in order, dealing them out to the
/// parsers in turn, [`GROUP`] at a time, until they are gone.
fn read_blocks(store: &Store, parsers: &[SyncSender<Result<Vec<ReadBlock>>>]) {
    let mut blocks = store.block_spans(1).peekable();
    for tx in parsers.iter().cycle() {
        let mut group = Vec::with_capacity(GROUP);
        while group.len() < GROUP
            && let Some(block) = blocks.next()
        {
            match block {
                Ok(block) => group.push(block),
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        if group.is_empty() || tx.send(Ok(group)).is_err() || blocks.peek().is_none() {
            return;
        }
    }
}

/// Reads each envelope of the blocks it is dealt, in order, until the
/// reader or the checking thread is gone. The checking thread hands the
/// blocks back once it has checked them (`done`), to be dropped here: what
/// a parser made (each step's parties) is then freed on the thread that made
/// it, without the cross-thread free the checking thread paid for.
fn parse_blocks(
    groups: Receiver<Result<Vec<ReadBlock>>>,
    out: &SyncSender<Result<ParsedGroup>>,
    done: &Receiver<Vec<ParsedBlock>>,
    key: &RandomState,
) {
    let mut scratch = Scratch::default();
    for group in groups {
        done.try_iter().for_each(drop);
        let parsed = group.map(|group| {
            let mut wanted = Tally::new(key.clone());
            let blocks = (group.into_iter())
                .map(|(first, block)| {
                    let events = Parsed::read_block(&block.payload, &block.spans, &mut wanted, &mut scratch);
                    (first, block.payload, events)
                })
                .collect();
            (blocks, wanted)
        });
        if out.send(parsed).is_err() {
            return;
        }
    }
}

/// The fast pass over a ledger: `None` as soon as anything is off, without
/// saying what (the exact pass then says it).
///
/// Each envelope is read straight from its bytes ([`Sealed`]), each org
/// keeps only the end of its timeline unless a correction or a back-dated
/// event needed it whole, and the indexes are compared with the log as two
/// multisets ([`Tally`]).
pub(super) struct LedgerScan<'s> {
    store: &'s Store,
    /// The seq and hash (hex) of the last envelope checked.
    seq: u64,
    hash: [u8; 64],
    /// The `recorded_at` of the last envelope checked.
    last_time: Vec<u8>,
    checkpoints: Vec<Checkpoint>,
    /// Each org seen, by number.
    orgs: Vec<ScanOrg>,
    /// The index entries the log calls for.
    wanted: Tally,
    /// The Merkle tree the log calls for.
    tree: TreeCheck,
    /// The party index's pairs the log calls for.
    parties: PartyCheck,
    /// The orgs' last events that the summaries' watermark vouches for.
    summaries: WatermarkCheck,
    /// Each founding's event, by seq.
    foundings: HashMap<u64, Event>,
}

impl<'s> LedgerScan<'s> {
    /// Walks the store: one thread reads and unpacks the log and deals its
    /// blocks to [`PARSERS`] threads, which read the envelopes; another
    /// reads the indexes; this one takes the parsed blocks back in order
    /// and checks what needs the envelopes before (chain, rules).
    pub(super) fn run(store: &'s Store, checkpoints: Vec<Checkpoint>, progress: &dyn Progress) -> Option<Report> {
        let key = RandomState::new();
        let mut scan = LedgerScan {
            store,
            seq: 0,
            hash: [b'0'; 64],
            last_time: Vec::new(),
            checkpoints,
            orgs: Vec::new(),
            wanted: Tally::new(key.clone()),
            tree: TreeCheck::default(),
            parties: PartyCheck::new(store.parties_indexed().ok()?),
            summaries: WatermarkCheck::new(store.summaries_current().ok()?),
            foundings: HashMap::new(),
        };
        std::thread::scope(|scope| {
            let mut to_parsers = Vec::new();
            let mut from_parsers = Vec::new();
            let mut back_to_parsers = Vec::new();
            for _ in 0..PARSERS {
                let (tx, rx) = sync_channel::<Result<Vec<ReadBlock>>>(2);
                let (out_tx, out_rx) = sync_channel::<Result<ParsedGroup>>(2);
                let (done_tx, done_rx) = channel::<Vec<ParsedBlock>>();
                let key = key.clone();
                scope.spawn(move || parse_blocks(rx, &out_tx, &done_rx, &key));
                to_parsers.push(tx);
                from_parsers.push(out_rx);
                back_to_parsers.push(done_tx);
            }
            scope.spawn(move || read_blocks(store, &to_parsers));
            let index_key = key.clone();
            let indexes = scope.spawn(move || tally_indexes(store, index_key));
            // Group i is parser i % PARSERS's. Returning early drops the
            // receivers, which stops the parsers and then the reader.
            for i in 0.. {
                let Ok(group) = from_parsers[i % PARSERS].recv() else { break };
                let (mut blocks, wanted) = group.ok()?;
                for (first, payload, events) in &mut blocks {
                    if *first != scan.seq + 1 {
                        return None;
                    }
                    for (seq, parsed) in events {
                        scan.event(*seq, parsed.as_mut()?, payload)?;
                    }
                }
                // Dropped here if that parser is gone.
                let _ = back_to_parsers[i % PARSERS].send(blocks);
                scan.wanted.absorb(&wanted);
                progress.done(scan.seq);
            }
            scan.finish(&indexes.join().ok()??)
        })
    }

    /// The envelope at `seq`, read from a block whose payload is `payload`.
    fn event(&mut self, seq: u64, env: &mut Parsed, payload: &[u8]) -> Option<()> {
        let recorded_at = payload.get(env.recorded_at.clone())?;
        let org = std::str::from_utf8(payload.get(env.org.clone())?).ok()?;
        if seq != self.seq + 1 || env.seq != seq || env.prev != self.hash || recorded_at < self.last_time.as_slice() {
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
        self.tree.leaf(env.leaf);
        let n = self.parties.number(org);
        self.parties.numbered_event(seq, n, env.step.as_ref().map_or(&[], |s| s.action.parties()));
        if self.orgs.len() == n as usize {
            // Room for the members its summary counts, if it has one.
            let summary = OrgId::parse(org).ok().and_then(|org| self.store.summary(&org).ok().flatten());
            let room = summary.map_or(0, |s| usize::try_from(s.members).unwrap_or(0));
            self.orgs.push(ScanOrg { rules: OrgRules::Tail(Tail::with_room(room)), vouched: 0, last: 0 });
        }
        let vouched = self.summaries.vouches_for(seq);
        let entry = self.orgs.get_mut(n as usize)?;
        if vouched {
            entry.vouched = seq;
        }
        entry.last = seq;
        if let Some(founding) = env.founding.take() {
            self.foundings.insert(seq, *founding);
        }
        self.seq = seq;
        self.hash = env.hash;
        self.last_time.clear();
        self.last_time.extend_from_slice(recorded_at);
        Self::rules(self.store, &mut entry.rules, seq, org, env.target, env.step.as_ref())
    }

    /// The rules, as the exact pass applies them, to `org` (kept as `rules`).
    fn rules(
        store: &Store,
        rules: &mut OrgRules,
        seq: u64,
        org: &str,
        target: Option<Uuid>,
        step: Option<&Step>,
    ) -> Option<()> {
        if target.is_none()
            && let Some(s) = step
        {
            match rules {
                OrgRules::Tail(tail) => {
                    if let Some(outcome) = tail.try_append(s, u64::MAX) {
                        return outcome.ok();
                    }
                }
                OrgRules::Whole(timeline) => return timeline.apply(Change::Add(s.clone()), u64::MAX).ok(),
            }
        }
        // A correction, or an event that does not sort last: the whole
        // timeline, read back from the store unless it is empty.
        let mut timeline = match rules {
            OrgRules::Whole(timeline) => std::mem::take(timeline),
            OrgRules::Tail(tail) if tail.is_empty() => Timeline::default(),
            OrgRules::Tail(_) => stored_timeline(store, org, seq - 1)?,
        };
        timeline.apply(change_of(&timeline, target.as_ref(), step.cloned())?, u64::MAX).ok()?;
        *rules = match rules {
            OrgRules::Tail(tail) if tail.is_empty() => OrgRules::Tail(Tail::of(&timeline)),
            _ => OrgRules::Whole(timeline),
        };
        Some(())
    }

    /// The log verified: every checkpoint reached, the indexes hold exactly
    /// the entries the log calls for, and say they hold them all.
    fn finish(mut self, found: &IndexesFound) -> Option<Report> {
        let IndexesFound { tally, summaries, rosters, parties, tree } = found;
        let whole = self.checkpoints.iter().all(|cp| cp.seen)
            && self.wanted == *tally
            && self.store.indexed().ok()? == self.seq
            && self.tree.problem(tree, self.store.tree_leaves().ok()?, self.seq).is_none();
        // Each org's tail and last event, as the log gives them: the org
        // index, which the tally found to be the log's, ends there too.
        let end_of = |org: &OrgId| -> Option<(Cow<'_, Tail>, u64)> {
            let n = self.parties.number_of(org.as_str())?;
            let org = self.orgs.get(n as usize)?;
            let tail = match &org.rules {
                OrgRules::Tail(tail) => Cow::Borrowed(tail),
                OrgRules::Whole(timeline) => Cow::Owned(Tail::of(timeline)),
            };
            Some((tail, org.last))
        };
        let foundings = &self.foundings;
        // Each org's summary and roster against its tail, on both cores:
        // making the 1000 rosters of the 1M-event ledger again was about
        // 0.3 s of CPU, after the other threads were done.
        let mut facts: BTreeMap<&OrgId, OrgFacts<'_>> = BTreeMap::new();
        for (org, summary) in summaries {
            facts.entry(org).or_default().0 = Some(summary);
        }
        for (org, roster) in rosters {
            facts.entry(org).or_default().1 = Some(roster);
        }
        let facts: Vec<_> = facts.into_iter().collect();
        let store = self.store;
        let hold = |part: &[(&OrgId, OrgFacts<'_>)]| {
            part.iter().all(|(org, (summary, roster))| {
                end_of(org).is_some_and(|(tail, last)| {
                    let founding_of = |tail: &Tail| match tail.founding_at() {
                        Some((id, seq)) => match foundings.get(&seq) {
                            Some(event) => Ok((event.id == id).then_some(Cow::Borrowed(event))),
                            // Not read by a parser: read back.
                            None => Ok(founding(store, tail)?.map(Cow::Owned)),
                        },
                        None => Ok(None),
                    };
                    matches!(facts_problem(org, *summary, *roster, Some((tail.as_ref(), last)), founding_of), Ok(None))
                })
            })
        };
        if !halves(&facts, 64, hold).into_iter().all(|ok| ok) {
            return None;
        }
        let mut watermark = std::mem::replace(&mut self.summaries, WatermarkCheck::new(None));
        for (n, org) in (0..).zip(&self.orgs) {
            if org.vouched > 0 {
                watermark.last_event(self.parties.name(n)?, org.vouched);
            }
        }
        for (org, summary) in summaries {
            watermark.summary(org, summary);
        }
        if watermark.finish(self.seq).is_some() {
            return None;
        }
        let mut check = std::mem::replace(&mut self.parties, PartyCheck::new(0));
        for (party, orgs) in parties {
            check.entry(party, orgs);
        }
        if check.finish(self.seq).is_some() {
            return None;
        }
        let head = Head { seq: self.seq, hash: String::from_utf8(self.hash.to_vec()).ok()? };
        whole.then_some(Report { events: head.seq, head })
    }
}

/// An org's stored summary and roster, those it has.
type OrgFacts<'a> = (Option<&'a OrgSummary>, Option<&'a Roster>);

/// What [`tally_indexes`] finds.
struct IndexesFound {
    tally: Tally,
    summaries: Vec<(OrgId, OrgSummary)>,
    rosters: Vec<(OrgId, Roster)>,
    /// The party-index chunks.
    parties: Vec<(PartyId, Vec<OrgId>)>,
    /// The Merkle tree's stored hashes.
    tree: HashMap<(u8, u64), Hash>,
}

/// The entries the indexes hold, as a [`Tally`]; `None` if any is damaged,
/// in the wrong bucket, of no known kind, or an id the id index holds twice.
///
/// The tally compares the indexes with the log as multisets, so an id
/// recorded twice in the log, indexed twice, would match: the id index must
/// hold each id once, which is checked here a bucket at a time (a bucket's
/// chunks come one after another, and hold a few thousand ids at most).
fn tally_indexes(store: &Store, key: RandomState) -> Option<IndexesFound> {
    let mut found = Tally::new(key);
    let mut summaries = Vec::new();
    let mut rosters = Vec::new();
    let mut parties = Vec::new();
    let mut tree = HashMap::new();
    let mut bucket_ids: (Option<u16>, HashSet<Uuid>) = (None, HashSet::new());
    for entry in store.index_entries() {
        match entry.ok()? {
            Entry::Ids(bucket, entries) => {
                if bucket_ids.0 != Some(bucket) {
                    bucket_ids = (Some(bucket), HashSet::with_capacity(bucket_ids.1.capacity()));
                }
                for (id, seq) in entries {
                    if id_bucket(&id) != bucket || !bucket_ids.1.insert(id) {
                        return None;
                    }
                    found.id(id.as_bytes(), seq);
                }
            }
            Entry::Org(org, _, chunk) => {
                for (seq, bytes) in chunk.iter() {
                    found.org(org.as_str(), seq, bytes);
                }
            }
            Entry::Summary(org, summary) => summaries.push((org, summary)),
            Entry::Roster(org, roster) => rosters.push((org, roster)),
            Entry::Tree(level, index, hash) => {
                tree.insert((level, index), hash);
            }
            Entry::Party(party, orgs) => parties.push((party, orgs)),
            Entry::Meta => {}
            Entry::Block(..) | Entry::Damaged(_) => return None,
        }
    }
    Some(IndexesFound { tally: found, summaries, rosters, parties, tree })
}

/// An org's timeline as of `upto`, from its events in the store (found by
/// the org index: if that lacks an entry, the index check fails later).
fn stored_timeline(store: &Store, org: &str, upto: u64) -> Option<Timeline> {
    let events = store.org_records(&OrgId::parse(org).ok()?, upto).ok()?;
    Timeline::build(counting_steps(events.iter().map(|e| (e.seq, &e.event)))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::exact::verify_ledger_exactly;
    use crate::audit::testing::{keep_refused, plans, random_log, raw_ledger};
    use crate::audit::{AuditError, verify_ledger};
    use crate::store::Options;
    use proptest::prelude::*;
    use serde_json::json;
    use std::time::Duration;

    /// Both passes accept the same ledgers, with the same report; the fast
    /// one does not give up on a ledger that verifies.
    fn passes_agree(store: &Store) -> bool {
        let fast = LedgerScan::run(store, Vec::new(), &());
        let exact = verify_ledger_exactly(store, None, &());
        match (&fast, &exact) {
            (Some(f), Ok(e)) => assert_eq!(f, e),
            (None, Err(_)) => {}
            _ => panic!("fast {fast:?}, exact {exact:?}"),
        }
        exact.is_ok()
    }

    #[test]
    fn an_id_given_to_events_of_two_orgs_is_left_to_the_exact_pass_wherever_it_is_indexed() {
        let id = "00000000-0000-0000-0000-000000000001";
        let a = json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"], "id": id});
        let b = json!({"type": "founding", "org": "nato", "date": "2001", "members": ["B"], "id": id});
        let (_dir, store) = raw_ledger(&[a, b]);
        assert!(LedgerScan::run(&store, Vec::new(), &()).is_none(), "the fast pass took a ledger with an id twice");
        // Hand-made: the two entries of the id in two chunks of its bucket.
        use crate::store::format::{id_chunk_key, pack_ids};
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        let bucket = id_bucket(&uuid);
        for k in store.db().scan_prefix(b"I").keys() {
            store.db().remove(k.unwrap()).unwrap();
        }
        store.db().insert(id_chunk_key(bucket, 0), pack_ids(&[(uuid, 1)])).unwrap();
        store.db().insert(id_chunk_key(bucket, 1), pack_ids(&[(uuid, 2)])).unwrap();
        assert!(LedgerScan::run(&store, Vec::new(), &()).is_none(), "the fast pass took an id twice, in two chunks");
        let err = verify_ledger(&store, None, &()).unwrap_err();
        assert!(matches!(err, crate::Error::Audit(AuditError::IdTwice { seq: 2, first: 1, .. })), "{err:?}");
    }

    #[test]
    fn an_id_given_to_two_events_is_left_to_the_exact_pass() {
        let id = "00000000-0000-0000-0000-000000000001";
        let founding = json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"], "id": id});
        let accession = json!({"type": "accession", "org": "isa", "date": "2001", "members": ["B"], "id": id});
        let (_dir, store) = raw_ledger(&[founding, accession]);
        assert!(LedgerScan::run(&store, Vec::new(), &()).is_none());
        let err = verify_ledger(&store, None, &()).unwrap_err();
        assert!(matches!(err, crate::Error::Audit(AuditError::IdTwice { seq: 2, first: 1, .. })), "{err:?}");
        assert!(err.to_string().contains("seq 2: event") && err.to_string().contains("recorded twice"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_fast_pass_accepts_exactly_what_the_exact_pass_accepts(
            plans in plans(),
            keep_refused in keep_refused(),
        ) {
            let events = random_log(&plans, &keep_refused);
            prop_assume!(!events.is_empty());
            let (_dir, store) = raw_ledger(&events);
            passes_agree(&store);
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
            for (seq, bytes) in store.org_copies(&org, u64::MAX).unwrap().iter() {
                assert_eq!(crate::model::read::RecordedView::read(bytes, &mut scratch).map(|s| s.seq), Some(seq));
            }
            let general = Timeline::build(counting_steps(records.iter().map(|r| (r.seq, &r.event))));
            let fast =
                crate::ledger::OrgRecord::new(org.clone(), u64::MAX, store.org_copies(&org, u64::MAX).unwrap(), store);
            match (general, fast) {
                (Ok(general), Ok(fast)) => {
                    assert_eq!(general.steps(), fast.timeline().steps());
                    for r in &records {
                        assert_eq!(fast.event(&r.event.id), Some(r));
                    }
                }
                (Err(_), Err(_)) => {}
                (general, fast) => panic!("general {:?}, fast {:?}", general.is_ok(), fast.is_ok()),
            }
        }
    }

    /// Blocks are handed between threads [`GROUP`] at a time, each group
    /// with the index entries its envelopes call for: a log of several
    /// groups, the last one short, verifies, and loses an entry of its
    /// first or its last group to no pass.
    #[test]
    fn a_log_of_many_block_groups_verifies_and_an_entry_lost_in_any_group_is_found() {
        use crate::store::format::BLOCK;
        let events: Vec<_> = (0..BLOCK * (2 * GROUP + 1) + 5)
            .map(|i| {
                let org = format!("o{}", i % 3);
                match i / 3 {
                    0 => json!({"type": "founding", "org": org, "date": "1900", "members": ["A"]}),
                    k => json!({"type": "exercise", "org": org, "date": format!("{}", 1900 + k / 12), "name": format!("x{k}")}),
                }
            })
            .collect();
        let (_dir, store) = raw_ledger(&events);
        assert!(passes_agree(&store));
        assert_eq!(LedgerScan::run(&store, Vec::new(), &()).map(|r| r.events), Some(events.len() as u64));
        let chunks: Vec<_> = store.db().scan_prefix(b"Oo1\0").keys().map(|k| k.unwrap()).collect();
        assert!(chunks.len() > 2);
        for chunk in [chunks.first(), chunks.last()] {
            let (dir, store) = raw_ledger(&events);
            store.db().remove(chunk.unwrap()).unwrap();
            assert!(LedgerScan::run(&store, Vec::new(), &()).is_none(), "an org chunk went missing unseen");
            assert!(!passes_agree(&store));
            drop(dir);
        }
    }

    /// Each org's summary is checked against its founding's event, found at
    /// the position its timeline gives: a founding corrected by a later
    /// one, recorded after other events, is the later one's.
    #[test]
    fn summaries_are_checked_against_the_founding_that_counts() {
        let dir = tempfile::tempdir().unwrap();
        let ledger =
            crate::ledger::Ledger::open(&dir.path().join("l"), &Options::new(Duration::from_secs(5), true)).unwrap();
        let id = "00000000-0000-0000-0000-00000000000a";
        let lines = [
            json!({"type": "founding", "org": "o", "date": "2000", "members": ["A"], "name": "First", "id": id}),
            json!({"type": "accession", "org": "o", "date": "2001", "members": ["B"]}),
            json!({"type": "founding", "org": "o", "date": "2000", "members": ["A"], "name": "Second", "supersedes": id}),
            json!({"type": "accession", "org": "o", "date": "2002", "members": ["C"]}),
        ];
        let mut recorder = ledger.recorder("t").unwrap();
        for line in &lines {
            recorder.record_line(&line.to_string()).unwrap();
        }
        recorder.commit().unwrap();
        let summary = ledger.store().summary(&OrgId::parse("o").unwrap()).unwrap().unwrap();
        assert_eq!(summary.name.as_deref(), Some("Second"));
        assert!(passes_agree(ledger.store()), "a ledger whose founding was corrected did not verify");
        assert!(LedgerScan::run(ledger.store(), Vec::new(), &()).is_some());
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
        assert!(LedgerScan::run(ledger.store(), Vec::new(), &()).is_some());
    }
}
