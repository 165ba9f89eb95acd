//! The exact check of one envelope after another: sequence, chain, hash, form, ids, rules, checkpoints.

use foldhash::{HashMap, HashMapExt};

use uuid::Uuid;

use super::error::{Breach, Witness};
use super::{AuditError, Report};
use crate::error::Result;
use crate::model::envelope::{Envelope, Head};
use crate::model::event::EventKind;
use crate::model::exact::read_envelope;
use crate::model::read::{Scratch, Sealed};
use crate::timeline::{Change, OrgState, Step, Tail, Timeline};

/// A hash the log must still have at a position.
pub(super) struct Checkpoint {
    pub(super) head: Head,
    /// Who says so, for messages.
    pub(super) by: Witness,
    pub(super) seen: bool,
}

impl Checkpoint {
    pub(super) fn new(head: Head, by: Witness) -> Checkpoint {
        Checkpoint { head, by, seen: false }
    }
}

/// Checks one envelope after another: sequence, chain, hash, form, decoding,
/// ids, rules, checkpoints.
pub(super) struct Verifier {
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
    pub(super) fn new(checkpoint: Option<Head>) -> Verifier {
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
            v.checkpoints.push(Checkpoint::new(head, Witness::Checkpoint));
        }
        v
    }

    /// A verifier for the lines of an export: each must hash right over its
    /// canonical form (SPEC §4), whatever its spelling.
    pub(super) fn for_export(checkpoint: Option<Head>) -> Verifier {
        Verifier { exact: false, ..Verifier::new(checkpoint) }
    }

    /// The last envelope checked (seq 0 and zeros before the first).
    pub(super) fn head(&self) -> &Head {
        &self.head
    }

    /// The state of an org's timeline after the envelopes checked, if it has any.
    pub(super) fn state(&self, org: &str) -> Option<&OrgState> {
        self.timelines.get(org).map(|t| t.state())
    }

    /// The end of each org's timeline after the envelopes checked.
    pub(super) fn tails(&self) -> HashMap<String, Tail> {
        self.timelines.iter().map(|(org, timeline)| (org.clone(), Tail::of(timeline))).collect()
    }

    /// Also requires `head` (the head marker written at the last commit).
    pub(super) fn require(&mut self, head: Head, by: Witness) {
        self.checkpoints.push(Checkpoint::new(head, by));
    }

    /// Checks the next envelope, given as its raw JSON bytes. Errors say
    /// what is wrong, starting with the seq it should have; the caller says
    /// where (a file's line).
    pub(super) fn check(&mut self, bytes: &[u8]) -> Result<Envelope> {
        let env = read_envelope(bytes, self.head.seq + 1, self.exact, &mut self.buf)?;
        self.follow(env)
    }

    /// Checks the next line of an export: lines in canonical form (as accord
    /// exports them) the fast way, any other, and any that fails, the
    /// general way of [`Verifier::check`], which says what is wrong.
    pub(super) fn check_line(&mut self, bytes: &[u8]) -> Result<()> {
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
    pub(super) fn follow(&mut self, env: Envelope) -> Result<Envelope> {
        let seq = self.head.seq + 1;
        if env.seq != seq {
            return Err(AuditError::OutOfSequence { seq, says: env.seq }.into());
        }
        if env.prev != self.head.hash {
            return Err(AuditError::BrokenChain { seq }.into());
        }
        if env.recorded_at < self.last_time {
            let before = self.last_time.clone();
            return Err(AuditError::BackInTime { seq, recorded_at: env.recorded_at, before }.into());
        }
        if let Some(first) = self.ids.insert(env.event.id, seq) {
            return Err(AuditError::IdTwice { seq, id: env.event.id, first }.into());
        }
        if let Err(why) = self.check_rules(&env) {
            return Err(AuditError::BreaksRule { seq, event: Box::new(env.event), why }.into());
        }
        for cp in &mut self.checkpoints {
            if cp.head.seq == seq {
                cp.seen = true;
                if cp.head.hash != env.hash {
                    let expected = cp.head.hash.clone();
                    return Err(AuditError::Rewritten { seq, by: cp.by, expected, found: env.hash }.into());
                }
            }
        }
        self.head.seq = seq;
        self.head.hash.clone_from(&env.hash);
        self.last_time.clone_from(&env.recorded_at);
        Ok(env)
    }

    fn check_rules(&mut self, env: &Envelope) -> std::result::Result<(), Breach> {
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
            return Err(Breach::NotCounting(*t));
        }
        let step = Step::of(env.seq, event);
        let change = match (&target, step) {
            (Some(t), None) => Change::Remove(t),
            (Some(t), Some(s)) => Change::Replace(t, s),
            (None, Some(s)) => Change::Add(s),
            (None, None) => return Err(Breach::NoDate),
        };
        // Every step before this one is in the log: each is named by its seq.
        timeline.apply(change, u64::MAX).map_err(Breach::Rule)
    }

    /// Ends the check: the head, or an error if a checkpoint was never reached.
    pub(super) fn finish(self) -> Result<Report> {
        self.finish_with_ids().map(|(report, _)| report)
    }

    /// [`Verifier::finish`], also handing back the position of every id.
    pub(super) fn finish_with_ids(self) -> Result<(Report, HashMap<Uuid, u64>)> {
        if let Some(cp) = self.checkpoints.iter().find(|cp| !cp.seen) {
            return Err(AuditError::NotReached { by: cp.by, seq: cp.head.seq, end: self.head.seq }.into());
        }
        Ok((Report { events: self.head.seq, head: self.head }, self.ids))
    }
}

/// The change to an org's timeline that an event makes, if the event it
/// corrects (if any) still counts there.
pub(super) fn change_of<'t>(timeline: &Timeline, target: Option<&'t Uuid>, step: Option<Step>) -> Option<Change<'t>> {
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

#[cfg(test)]
impl Verifier {
    /// A verifier at the same point (head, ids, timelines), to try an
    /// envelope on without changing this one.
    pub(super) fn trial(&self) -> Verifier {
        let mut trial = Verifier { timelines: self.timelines.clone(), ids: self.ids.clone(), ..Verifier::new(None) };
        trial.head = self.head.clone();
        trial
    }

    /// Goes on past an envelope the checks refused (test logs that break
    /// rules on purpose).
    pub(super) fn skip_to(&mut self, head: Head) {
        self.head = head;
    }
}
