//! A citable membership claim: a party's reading in an org on a day, the events that decide it, an inclusion proof of each, and the checkpoint they are proved against.

use serde::{Deserialize, Serialize};

use super::{Ledger, LedgerError, decode};
use crate::error::Result;
use crate::model::date::Day;
use crate::model::event::Event;
use crate::model::id::{OrgId, PartyId};
use crate::projection::{Reading, readings};
use crate::proof::merkle::{self, Hash};
use crate::proof::{Checkpoint, Verifier};
use crate::timeline::{Action, Timeline, counting_steps};

/// The first member of a claim file: what it is, and its version.
pub const CLAIM_FORMAT: &str = "accord membership claim 1";

/// What a claim proves, and what it does not: written into every claim.
pub const CLAIM_PROVES: &str = "Each event below is in the log, at its seq, in the tree the checkpoint names (its \
inclusion proof); the reading is what these events give. That no other event about this party in this org was \
left out is not proved here: it is proved against the whole log up to the checkpoint, with `accord audit verify \
--file EXPORT --checkpoint CHECKPOINT --key VKEY` on an export of that log.";

/// A claim file (`accord prove member`), as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub claim: String,
    pub org: String,
    pub party: String,
    pub at: String,
    pub reading: ClaimReading,
    /// The founding, the party's events that count and any dissolution, in log order.
    pub events: Vec<ClaimEvent>,
    /// The checkpoint (a C2SP signed note when signed) the proofs are against.
    pub checkpoint: String,
    pub proves: String,
}

/// The party's reading on the day, as the events give it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimReading {
    /// `full`, `associate`, `observer`, `suspended`, `none`; `null` when uncertain.
    pub status: Option<String>,
    pub certain: bool,
    /// The statuses it may have (one when certain).
    pub possible: Vec<String>,
    /// The seq of the event that gave a certain status other than none.
    pub since_seq: Option<u64>,
    /// That event's date as written.
    pub since: Option<String>,
}

/// One deciding event: its envelope as exported and its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimEvent {
    pub seq: u64,
    pub envelope: String,
    /// The audit path, leaf to root, in hex.
    pub path: Vec<String>,
}

/// The steps that decide a party's reading: the founding (it clips every
/// range), the party's own steps and dissolutions.
fn decides(action: &Action, party: &PartyId, first: bool) -> bool {
    first || matches!(action, Action::Dissolve) || action.parties().contains(party)
}

/// The party's reading on `day` from `events` (seq and event), which must
/// hold every event that decides it.
fn reading_of(events: &[(u64, Event)], party: &PartyId, day: Day) -> Result<ClaimReading> {
    let timeline = Timeline::build(counting_steps(events.iter().map(|(seq, e)| (*seq, e))))?;
    let steps = timeline.steps();
    let date_of = |seq: u64| events.iter().find(|(s, _)| *s == seq).and_then(|(_, e)| e.date.map(|d| d.to_string()));
    Ok(match readings(steps, day).remove(party) {
        None => ClaimReading {
            status: Some("none".into()),
            certain: true,
            possible: vec!["none".into()],
            since_seq: None,
            since: None,
        },
        Some(Reading::Certain { standing, since }) => {
            let since_seq = since.map(|i| steps[i].seq);
            ClaimReading {
                status: Some(standing.as_str().into()),
                certain: true,
                possible: vec![standing.as_str().into()],
                since_seq,
                since: since_seq.and_then(date_of),
            }
        }
        Some(Reading::Uncertain { possible, .. }) => ClaimReading {
            status: None,
            certain: false,
            possible: possible.iter().map(|s| s.as_str().into()).collect(),
            since_seq: None,
            since: None,
        },
    })
}

impl Ledger {
    /// The claim of `party`'s reading in `org` on `day`, proved against the
    /// tree of the whole log; `checkpoint` is that tree's checkpoint text
    /// (signed or not), made by the caller.
    pub fn claim(&self, org: &OrgId, party: &PartyId, day: Day, checkpoint: String) -> Result<Claim> {
        let (size, root) = self.tree_root(None)?;
        let record = self.org(org, size)?;
        if record.is_empty() {
            return Err(LedgerError::OrgNotFound { org: org.clone(), seq: size }.into());
        }
        let mut seqs: Vec<u64> = (record.timeline().steps().iter().enumerate())
            .filter(|(i, s)| decides(&s.action, party, *i == 0))
            .map(|(_, s)| s.seq)
            .collect();
        seqs.sort_unstable();
        let mut events = Vec::new();
        let mut decoded = Vec::new();
        for seq in seqs {
            let proof = self.inclusion_in(seq, size, root)?;
            decoded.push((seq, decode(seq, &proof.leaf)?.event));
            events.push(ClaimEvent {
                seq,
                envelope: String::from_utf8_lossy(&proof.leaf).into_owned(),
                path: proof.path.iter().map(merkle::hash_to_hex).collect(),
            });
        }
        Ok(Claim {
            claim: CLAIM_FORMAT.into(),
            org: org.as_str().into(),
            party: party.as_str().into(),
            at: day.to_string(),
            reading: reading_of(&decoded, party, day)?,
            events,
            checkpoint,
            proves: CLAIM_PROVES.into(),
        })
    }
}

/// Checks a claim with no ledger: the checkpoint's signature by one of
/// `verifiers`, each event's inclusion proof against its root, each event
/// of the org, and the reading re-derived from the events. Returns the
/// checkpoint.
pub fn verify_claim(claim: &Claim, verifiers: &[Verifier]) -> Result<Checkpoint> {
    let bad = |why: String| -> crate::Error { LedgerError::BadClaim { why }.into() };
    if claim.claim != CLAIM_FORMAT {
        return Err(bad(format!("it is not a claim accord writes (`claim` is `{}`)", claim.claim)));
    }
    let checkpoint = Checkpoint::open(&claim.checkpoint, verifiers)?;
    let org = OrgId::parse(&claim.org)?;
    let party = PartyId::parse(&claim.party)?;
    let day = Day::parse(&claim.at).map_err(|e| bad(format!("its day: {e}")))?;
    let mut events = Vec::new();
    for e in &claim.events {
        let index = e.seq.checked_sub(1).ok_or_else(|| bad("an event at seq 0".into()))?;
        let path = (e.path.iter())
            .map(|h| merkle::hash_from_hex(h).map_err(|_| bad(format!("seq {}: a path hash is not hex", e.seq))))
            .collect::<Result<Vec<Hash>>>()?;
        let leaf = merkle::leaf_hash(e.envelope.as_bytes());
        merkle::check_inclusion(index, checkpoint.size, &leaf, &path, &checkpoint.root)?;
        let env = decode(e.seq, e.envelope.as_bytes())?;
        if env.event.org != org || !env.hash_is_valid() {
            return Err(bad(format!("seq {}: not an intact event of org `{org}`", e.seq)));
        }
        events.push((e.seq, env.event));
    }
    if reading_of(&events, &party, day)? != claim.reading {
        return Err(bad("its reading is not what its events give".into()));
    }
    Ok(checkpoint)
}
