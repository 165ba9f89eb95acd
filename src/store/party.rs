//! The party index: for each party, the orgs whose events name it, written after each commit under `Mparties`.

use std::collections::{HashMap, HashSet};

use super::Store;
use super::error::Damage;
use super::format::{PARTIES_KEY, party_chunk_key, party_prefix, seq_from};
use super::pending::INDEX_BATCH;
use crate::error::Result;
use crate::model::id::{OrgId, PartyId};
use crate::model::read::{Scratch, Sealed};

/// The most orgs a party-index chunk holds; a party named in more orgs has
/// more chunks.
pub(crate) const PARTY_CHUNK: usize = 512;

/// The (party, org) pairs that events handed over name ([`crate::model::event::EventKind::members`]),
/// each org held once, as a number.
#[derive(Default)]
pub(super) struct Named {
    orgs: Vec<OrgId>,
    org_numbers: HashMap<OrgId, u32>,
    parties: HashMap<PartyId, HashSet<u32>>,
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
        for party in parties {
            match self.parties.get_mut(party) {
                Some(orgs) => {
                    orgs.insert(n);
                }
                None => {
                    self.parties.insert(party.clone(), HashSet::from([n]));
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
        for (party, numbers) in &named.parties {
            let mut known: HashSet<OrgId> = HashSet::new();
            let mut last: Option<(u32, Vec<OrgId>)> = None;
            for item in self.db.scan_prefix(party_prefix(party)) {
                let (key, value) = item.map_err(|e| self.err(e))?;
                let (_, n, orgs) = decode_party_chunk(&key, &value)?;
                known.extend(orgs.iter().cloned());
                last = Some((n, orgs));
            }
            let new = numbers.iter().map(|&n| &named.orgs[n as usize]).filter(|org| !known.contains(*org));
            let mut new: Vec<OrgId> = new.cloned().collect();
            if new.is_empty() {
                continue;
            }
            let (mut n, mut chunk) = match last {
                Some((n, orgs)) if orgs.len() < PARTY_CHUNK => (n, orgs),
                Some((n, _)) => (n + 1, Vec::new()),
                None => (0, Vec::new()),
            };
            chunk.append(&mut new);
            chunk.sort_unstable();
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
    pub(crate) fn party_orgs(&self, party: &PartyId) -> Result<Option<Vec<OrgId>>> {
        {
            let pending = self.pending();
            if pending.started || !pending.unwritten.is_empty() || !pending.unindexed.is_empty() {
                return Ok(None);
            }
        }
        if self.parties_indexed()? != self.head()?.seq {
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
