//! The exact index check: each entry of the id and org indexes against the log, the first problem named by its seq.

use foldhash::HashMap;

use uuid::Uuid;

use super::AuditError;
use crate::model::envelope::Envelope;
use crate::model::id::OrgId;
use crate::store::id_bucket;

/// What the log scan keeps of each event to check the indexes against.
struct Indexed {
    id: Uuid,
    org: u32,
    /// [`copy_hash`](super::tally::copy_hash) of the envelope.
    copy: u64,
    in_id_index: bool,
    in_org_index: bool,
}

/// The index half of a ledger verification: the first problem found, by seq.
#[derive(Default)]
pub(super) struct IndexCheck {
    events: Vec<Indexed>,
    orgs: Vec<OrgId>,
    org_numbers: HashMap<OrgId, u32>,
    /// The problem with the lowest seq (problems with no seq come last).
    problem: Option<(u64, AuditError)>,
}

impl IndexCheck {
    /// The next event of the log, its org copy hashed to `copy`.
    pub(super) fn add_event(&mut self, env: &Envelope, copy: u64) {
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

    /// A problem about the event at `seq` (`None`: about no event of the log).
    pub(super) fn problem(&mut self, seq: Option<u64>, what: AuditError) {
        let seq = seq.unwrap_or(u64::MAX);
        if self.problem.as_ref().is_none_or(|(s, _)| seq < *s) {
            self.problem = Some((seq, what));
        }
    }

    fn event(&mut self, seq: u64) -> Option<&mut Indexed> {
        self.events.get_mut(usize::try_from(seq.checked_sub(1)?).ok()?)
    }

    /// An id-index entry id → seq, found in `bucket`.
    pub(super) fn id_entry(&mut self, ids: &HashMap<Uuid, u64>, bucket: u16, id: Uuid, points: u64) {
        let Some(&seq) = ids.get(&id) else {
            return self.problem(None, AuditError::IdEntryWithoutEvent { id });
        };
        if points != seq {
            return self.problem(Some(seq), AuditError::IdEntryMisplaced { seq, id, points });
        }
        if id_bucket(&id) != bucket {
            return self.problem(Some(seq), AuditError::IdEntryInWrongBucket { seq, id });
        }
        if let Some(e) = self.event(seq) {
            if e.in_id_index {
                return self.problem(Some(seq), AuditError::IdEntryTwice { seq, id });
            }
            e.in_id_index = true;
        }
    }

    /// The org copy of seq, found under `org`, its bytes hashed to `copy`.
    pub(super) fn org_entry(&mut self, org: &OrgId, seq: u64, copy: u64) {
        let Some(e) = self.event(seq) else {
            return self.problem(None, AuditError::OrgEntryWithoutEvent { org: org.clone(), seq });
        };
        let (actual, same, twice) = (e.org, e.copy == copy, e.in_org_index);
        e.in_org_index = true;
        let actual = &self.orgs[actual as usize];
        if *actual != *org {
            let what = AuditError::OrgEntryUnderOtherOrg { seq, filed: org.clone(), actual: actual.clone() };
            return self.problem(Some(seq), what);
        }
        if twice {
            return self.problem(Some(seq), AuditError::OrgEntryTwice { seq, org: org.clone() });
        }
        if !same {
            self.problem(Some(seq), AuditError::OrgCopyDiffers { seq, org: org.clone() });
        }
    }

    /// The first problem: an entry found wrong, or an event lacking one.
    pub(super) fn finish(mut self) -> Result<(), AuditError> {
        if let Some(i) = self.events.iter().position(|e| !e.in_id_index) {
            let seq = i as u64 + 1;
            let id = self.events[i].id;
            self.problem(Some(seq), AuditError::IdEntryMissing { seq, id });
        }
        if let Some(i) = self.events.iter().position(|e| !e.in_org_index) {
            let seq = i as u64 + 1;
            let org = self.orgs[self.events[i].org as usize].clone();
            self.problem(Some(seq), AuditError::OrgEntryMissing { seq, org });
        }
        match self.problem {
            Some((_, what)) => Err(what),
            None => Ok(()),
        }
    }
}
