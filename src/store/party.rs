//! The party index: for each party, the orgs whose events name it, written after each commit under `Mparties`.

use foldhash::{HashMap, HashSet, HashSetExt};

use super::error::Damage;
use super::format::{PARTIES_KEY, party_chunk_key, party_prefix, seq_from};
use super::pending::INDEX_BATCH;
use super::{OrgSet, Store};
use crate::error::Result;
use crate::model::id::{OrgId, PartyId};
use crate::model::read::{Scratch, Sealed};

/// The most orgs a party-index chunk holds; a party named in more orgs has
/// more chunks.
pub(crate) const PARTY_CHUNK: usize = 512;

/// The (party, org) pairs that events handed over name ([`crate::model::event::EventKind::members`]),
/// each org held once, as a number, in an [`OrgSet`].
#[derive(Default)]
pub(super) struct Named {
    orgs: Vec<OrgId>,
    org_numbers: HashMap<OrgId, u32>,
    parties: HashMap<PartyId, OrgSet>,
}

impl Named {
    /// Notes that an event of `org` names `parties`.
    pub(super) fn add(&mut self, org: &OrgId, parties: &[PartyId]) {
        if parties.is_empty() {
            return;
        }
        let n = match self.org_numbers.get(org) {
            Some(&n) => n,
            None => {
                let n = self.orgs.len() as u32;
                self.orgs.push(org.clone());
                self.org_numbers.insert(org.clone(), n);
                n
            }
        };
        let numbered = self.orgs.len();
        for party in parties {
            match self.parties.get_mut(party) {
                Some(orgs) => orgs.insert(n, numbered),
                None => {
                    let mut orgs = OrgSet::default();
                    orgs.insert(n, numbered);
                    self.parties.insert(party.clone(), orgs);
                }
            }
        }
    }
}

/// A party-index chunk's value: each org id followed by 0x00.
fn pack_orgs(orgs: &[OrgId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(orgs.iter().map(|o| o.as_str().len() + 1).sum());
    for org in orgs {
        out.extend_from_slice(org.as_str().as_bytes());
        out.push(0);
    }
    out
}

/// Decodes a party-index chunk under [`party_chunk_key`]: its party, chunk
/// number and orgs (at least one, sorted, each once).
pub(crate) fn decode_party_chunk(key: &[u8], value: &[u8]) -> Result<(PartyId, u32, Vec<OrgId>), Damage> {
    let bad_key = || Damage::PartyKey { key: key.to_vec() };
    let at = key.iter().position(|&b| b == 0).ok_or_else(bad_key)?;
    let party = std::str::from_utf8(&key[1..at]).ok().and_then(|s| PartyId::parse(s).ok()).ok_or_else(bad_key)?;
    let chunk = key.get(at + 1..).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes).ok_or_else(bad_key)?;
    let orgs: Option<Vec<OrgId>> = match value.strip_suffix(&[0]) {
        Some(list) => list.split(|&b| b == 0).map(|o| OrgId::parse(std::str::from_utf8(o).ok()?).ok()).collect(),
        None => None,
    };
    match orgs {
        Some(orgs) if orgs.windows(2).all(|w| w[0] < w[1]) => Ok((party, chunk, orgs)),
        _ => Err(Damage::PartyChunk { party, chunk }),
    }
}

impl Store {
    /// The seq up to which the party index holds every pair; 0 when the
    /// ledger has no party watermark (written before the index existed).
    pub(crate) fn parties_indexed(&self) -> Result<u64> {
        match self.db.get(PARTIES_KEY).map_err(|e| self.err(e))? {
            None => Ok(0),
            Some(v) => Ok(seq_from(&v).ok_or_else(|| Damage::PartyWatermark { dir: self.dir.clone() })?),
        }
    }

    /// The entries that add `named`'s pairs to the party index and set its
    /// watermark to `upto`: each party's last chunk is rewritten with the
    /// orgs it did not hold yet (new chunks once it holds [`PARTY_CHUNK`]).
    pub(super) fn party_entries(&self, named: &Named, upto: u64) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        // Each org's place in id order, found once: a party's new orgs are
        // sorted as numbers by it. (The bench's 1M-event import names 689
        // parties, each in up to 1000 orgs; sorting their ids was about
        // 70 ms of its last stretch, on one core, in a `perf record`.)
        let mut order: Vec<u32> = (0..named.orgs.len() as u32).collect();
        order.sort_unstable_by(|&m, &n| named.orgs[m as usize].cmp(&named.orgs[n as usize]));
        let mut place = vec![0u32; order.len()];
        for (at, &n) in order.iter().enumerate() {
            place[n as usize] = at as u32;
        }
        for (party, numbers) in &named.parties {
            let mut known: HashSet<OrgId> = HashSet::new();
            let mut last: Option<(u32, Vec<OrgId>)> = None;
            for item in self.db.scan_prefix(party_prefix(party)) {
                let (key, value) = item.map_err(|e| self.err(e))?;
                let (_, n, orgs) = decode_party_chunk(&key, &value)?;
                known.extend(orgs.iter().cloned());
                last = Some((n, orgs));
            }
            let mut new: Vec<u32> = numbers
                .iter()
                .filter(|&n| !known.contains(&named.orgs[n as usize]))
                .map(|n| place[n as usize])
                .collect();
            if new.is_empty() {
                continue;
            }
            new.sort_unstable();
            let new = new.into_iter().map(|at| named.orgs[order[at as usize] as usize].clone());
            let (mut n, mut chunk) = match last {
                Some((n, orgs)) if orgs.len() < PARTY_CHUNK => (n, orgs),
                Some((n, _)) => (n + 1, Vec::new()),
                None => (0, Vec::new()),
            };
            // A chunk that already holds orgs is sorted again with the new
            // ones among them.
            let merge = !chunk.is_empty();
            chunk.extend(new);
            if merge {
                chunk.sort_unstable();
            }
            for orgs in chunk.chunks(PARTY_CHUNK) {
                out.push((party_chunk_key(party, n), pack_orgs(orgs)));
                n += 1;
            }
        }
        out.push((PARTIES_KEY.to_vec(), upto.to_be_bytes().to_vec()));
        Ok(out)
    }

    /// The orgs whose events name `party`, in id order, from the party
    /// index; `None` when the index does not hold every event (a command is
    /// recording, or the index is behind the log), and every org must be read.
    ///
    /// A view reads the index once it holds the view's log: it may name
    /// orgs whose events name the party only past the view (the index only
    /// grows, after commits), which its callers read at the view's seq.
    pub(crate) fn party_orgs(&self, party: &PartyId) -> Result<Option<Vec<OrgId>>> {
        if let Some(pending) = self.handed()
            && (pending.started || !pending.unwritten.is_empty() || !pending.unindexed.is_empty())
        {
            return Ok(None);
        }
        let (indexed, head) = (self.parties_indexed()?, self.head()?.seq);
        let holds = if self.ceiling.is_some() { indexed >= head } else { indexed == head };
        if !holds {
            return Ok(None);
        }
        let mut orgs = Vec::new();
        for item in self.db.scan_prefix(party_prefix(party)) {
            let (key, value) = item.map_err(|e| self.err(e))?;
            orgs.extend(decode_party_chunk(&key, &value)?.2);
        }
        orgs.sort_unstable();
        orgs.dedup();
        Ok(Some(orgs))
    }

    /// Puts the pairs of the events past the party watermark into the
    /// party index: a ledger written before the index had none, and a
    /// command that died after its commit point left them out. Every
    /// [`INDEX_BATCH`] events, one batch with the new watermark, so that
    /// memory is bounded by the pairs, and dying leaves a watermark that
    /// holds.
    pub(super) fn catch_up_parties(&self, last: u64) -> Result<()> {
        let from = self.parties_indexed()?;
        if from > last {
            return Err(Damage::PartiesAhead { dir: self.dir.clone(), indexed: from, last }.into());
        }
        if from == last {
            return Ok(());
        }
        let mut named = Named::default();
        let mut scratch = Scratch::default();
        let mut upto = from;
        for item in self.scan_raw(from + 1) {
            let (seq, bytes) = item?;
            let sealed = Sealed::read(&bytes, &mut scratch).filter(|env| env.seq == seq);
            match sealed.and_then(|env| Some((OrgId::parse(env.org).ok()?, env.step))) {
                Some((org, step)) => named.add(&org, step.as_ref().map_or(&[], |s| s.action.parties())),
                None => {
                    let env = super::decode(seq, &bytes)?;
                    named.add(&env.event.org, env.event.kind.members());
                }
            }
            upto = seq;
            if (seq - from).is_multiple_of(INDEX_BATCH as u64) {
                self.write_party_entries(&std::mem::take(&mut named), upto)?;
            }
        }
        if upto > from {
            self.write_party_entries(&named, upto)?;
        }
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }

    fn write_party_entries(&self, named: &Named, upto: u64) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (key, value) in self.party_entries(named, upto)? {
            batch.insert(key, value);
        }
        self.apply(batch).map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::envelope::{Envelope, GENESIS, Head};
    use crate::model::event::Event;
    use crate::store::Options;
    use crate::store::format::RECORDING_KEY;

    /// `n` envelopes from seq `from`: a founding of org `o{seq}` by party
    /// `P{seq}` and party `all`, chained on `prev`.
    fn envelopes(from: u64, n: u64, prev: &mut String) -> Vec<Envelope> {
        (from..from + n)
            .map(|seq| {
                let event = serde_json::json!({"type": "founding", "org": format!("o{seq}"), "date": "2001",
                                               "members": [format!("P{seq}"), "all"]});
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

    fn open(path: &std::path::Path) -> Store {
        Store::open(path, &Options::new(Duration::from_secs(5), true)).unwrap()
    }

    fn party(s: &str) -> PartyId {
        PartyId::parse(s).unwrap()
    }

    fn orgs(names: &[&str]) -> Option<Vec<OrgId>> {
        Some(names.iter().map(|o| OrgId::parse(o).unwrap()).collect())
    }

    /// The party index's keys and values, and its watermark.
    fn index(store: &Store) -> Vec<(sled::IVec, sled::IVec)> {
        let mut out: Vec<_> = store.db.scan_prefix(b"P").collect::<std::result::Result<_, _>>().unwrap();
        out.extend(store.db.get(PARTIES_KEY).unwrap().map(|v| (sled::IVec::from(PARTIES_KEY), v)));
        out
    }

    /// A command that died before its commit point leaves no pair of its
    /// events; one that died past it, before the batch that writes the
    /// pairs, has them written by the next open; so has a ledger written
    /// before the index existed.
    #[test]
    fn the_party_index_holds_exactly_the_committed_events_whatever_died_when() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let mut prev = GENESIS.to_owned();
        let envs = envelopes(1, 6, &mut prev);
        let start = Head { seq: 3, hash: envs[2].hash.clone() };
        let end = Head { seq: 6, hash: envs[5].hash.clone() };
        let before = {
            let store = open(&path);
            store.write(&Head::empty(), &envs[..3]).unwrap();
            store.commit().unwrap();
            assert_eq!(store.party_orgs(&party("all")).unwrap(), orgs(&["o1", "o2", "o3"]));
            assert_eq!(store.party_orgs(&party("P2")).unwrap(), orgs(&["o2"]));
            assert_eq!(store.party_orgs(&party("P9")).unwrap(), orgs(&[]));
            store.write(&start, &envs[3..]).unwrap();
            store.write_indexes(&mut store.pending()).unwrap();
            assert_eq!(store.party_orgs(&party("all")).unwrap(), None, "not current while a command records");
            store.db.flush().unwrap();
            index(&store)
        };
        // Died before its commit point: undone, the index as before.
        let store = open(&path);
        assert_eq!(store.last_seq().unwrap(), 3);
        assert_eq!(index(&store), before);
        // Died past its commit point, before removing the recording marker
        // and writing the pairs.
        store.write(&start, &envs[3..]).unwrap();
        store.write_indexes(&mut store.pending()).unwrap();
        store.sync_files().unwrap();
        store.write_head_marker(&end).unwrap();
        store.db.flush().unwrap();
        drop(store);
        let store = open(&path);
        assert_eq!(store.db.get(RECORDING_KEY).unwrap(), None);
        assert_eq!(store.parties_indexed().unwrap(), 6);
        assert_eq!(store.party_orgs(&party("all")).unwrap(), orgs(&["o1", "o2", "o3", "o4", "o5", "o6"]));
        assert_eq!(store.party_orgs(&party("P5")).unwrap(), orgs(&["o5"]));
        let caught_up = index(&store);
        // A ledger written before the index: the same index on the next open.
        for key in store.db.scan_prefix(b"P").keys() {
            store.db.remove(key.unwrap()).unwrap();
        }
        store.db.remove(PARTIES_KEY).unwrap();
        store.db.flush().unwrap();
        drop(store);
        let store = open(&path);
        assert_eq!(index(&store), caught_up);
    }

    /// A party named in more orgs than a chunk holds gets more chunks, and
    /// a later commit adds only the orgs not held yet.
    #[test]
    fn a_party_in_many_orgs_has_many_chunks_each_org_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("l"));
        let mut prev = GENESIS.to_owned();
        let n = PARTY_CHUNK as u64 + 10;
        let envs = envelopes(1, n, &mut prev);
        store.write(&Head::empty(), &envs[..5]).unwrap();
        store.commit().unwrap();
        store.write(&Head { seq: 5, hash: envs[4].hash.clone() }, &envs[5..]).unwrap();
        store.commit().unwrap();
        let chunks: Vec<_> = store.db.scan_prefix(party_prefix(&party("all"))).collect();
        assert_eq!(chunks.len(), 2);
        let mut want: Vec<OrgId> = (1..=n).map(|s| OrgId::parse(&format!("o{s}")).unwrap()).collect();
        want.sort();
        assert_eq!(store.party_orgs(&party("all")).unwrap(), Some(want));
    }
}
