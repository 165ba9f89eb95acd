//! An org's roster ([`Roster`]): written with its summary at each commit,
//! and what `members` reads, on a day after every event of the org, instead
//! of the org's timeline.
//!
//! Reading an org's timeline means reading every one of its events: a
//! one-shot `members` on an org of 1000 events spent about 3.5 ms of its
//! own on that (decompressing the copies, reading each, folding the
//! timeline, each party's track), which is most of what it does. Once
//! every event has happened, the answer is the org's final state, which
//! the recorder holds anyway ([`Tail`]); the roster keeps it, and each
//! member's source is read from the copy of its one event, the org's
//! chunks unpacked one at a time (on two cores for an org of many).

use foldhash::{HashMap, HashMapExt};
use std::borrow::Cow;

use serde_json::value::RawValue;
use uuid::Uuid;

use super::{Ledger, LedgerError};
use crate::error::Result;
use crate::model::date::Day;
use crate::model::event::{Event, credit_of};
use crate::model::id::OrgId;
use crate::model::read::{SourceAt, copy_id_and_source};
use crate::model::summary::Roster;
use crate::projection::{Member, Members};
use crate::store::{OrgFacts, decode_copy};
use crate::timeline::Tail;

/// What a commit writes of `org`, whose timeline ends in `tail` with its
/// last event at `last`; `founding` is the event of [`Tail::founding`].
pub(crate) fn org_facts(org: OrgId, tail: &Tail, last: u64, founding: Option<&Event>) -> OrgFacts {
    OrgFacts::new(org, tail.summary(last, founding).to_bytes(), tail.roster(last, founding).to_bytes())
}

/// `members` on a day after every event of an org, from its roster: the
/// answer, and the source of each member's event, read from the org's copy
/// of it.
pub struct SettledMembers {
    pub members: Members,
    /// The members' events' sources, as JSON, one after the other.
    sources: String,
    /// Each member's event, by id: where its source is in `sources`, if it
    /// has one.
    events: HashMap<Uuid, Option<Span>>,
}

/// The fewest members whose events are read from the org's copies on two
/// cores ([`Store::org_copy_runs`](crate::store::Store)): a chunk of copies
/// (about 32 events at 1M events in 1000 orgs) took some 30 µs to read from
/// sled, unpack and read, starting a thread 0.1 to 0.4 ms. At 31 chunks
/// (org-0500 of the bench's 1M events, 560 members), `members` took 14.68
/// ms against 15.03 on one core, 13.80 against 14.03, with the chunks read
/// from sled on one thread and unpacked on two; 15.24 and 15.18 against
/// 15.61 and 15.98 with each run reading its own from sled as well
/// (medians of 61 or 101 interleaved runs). 256 members are 256 events at
/// least, some 14 chunks at the bench's mix, whose half is about the most
/// a thread has cost to start.
const PARALLEL_MEMBERS: usize = 256;

/// A range of [`SettledMembers`]' sources: where one starts and ends.
type Span = (u32, u32);

/// A member's event: its id, and where its source is, if it has one.
type MemberEvent = (Uuid, Option<Span>);

impl SettledMembers {
    /// The `source` of a member's event `id`, as JSON, as
    /// [`super::OrgRecord::source`] gives it: the bytes stored for it where
    /// they are what `serde_json` writes for it, else the value decoded.
    pub fn source(&self, id: &Uuid) -> Option<Cow<'_, RawValue>> {
        let (from, to) = (*self.events.get(id)?)?;
        let text = self.sources.get(from as usize..to as usize)?;
        serde_json::from_str::<&RawValue>(text).ok().map(Cow::Borrowed)
    }

    /// A short credit for the source of a member's event `id`
    /// ([`Event::source_credit`]).
    pub fn source_credit(&self, id: &Uuid) -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(self.source(id)?.get()).ok()?;
        credit_of(&value)
    }
}

impl Ledger {
    /// The members of `org` on `day` as the log stood at `upto`, from the
    /// org's roster, if it answers there: it was written at the org's last
    /// event up to `upto` (the summaries' watermark vouches for it, as for
    /// [`Ledger::overview`], else the org's last copy says so) and every
    /// event had happened by `day`. `None` otherwise, or when a server's
    /// cache of orgs holds the org: read the org ([`Ledger::org`]).
    ///
    /// The answer is the one [`crate::projection::members_on`] gives on
    /// the org's timeline.
    pub fn settled_members(&self, org: &OrgId, upto: u64, day: Day) -> Result<Option<SettledMembers>> {
        self.settled_members_with(org, upto, day, PARALLEL_MEMBERS)
    }

    /// [`Ledger::settled_members`], the org's copies read on two cores from
    /// `parallel` members on.
    fn settled_members_with(
        &self,
        org: &OrgId,
        upto: u64,
        day: Day,
        parallel: usize,
    ) -> Result<Option<SettledMembers>> {
        if self.cached_org(org, upto)?.is_some() {
            return Ok(None);
        }
        let Some(roster) = self.store.roster(org)? else { return Ok(None) };
        if roster.last > upto || !roster.answers(day) {
            return Ok(None);
        }
        let current = match self.store.summaries_current()? {
            // The summary was written with the roster, at the same event.
            Some(watermark) if upto <= watermark => self.store.summary(org)?.is_some_and(|s| s.last == roster.last),
            _ => self.store.org_last(org)? == Some(roster.last),
        };
        if !current {
            return Ok(None);
        }
        let Roster { members: entries, last, .. } = roster;
        let dangling = |seq| LedgerError::RosterDangling { org: org.clone(), seq };
        // The seqs of the members' events, in log order (several members
        // may share one).
        let mut wanted: Vec<(u64, usize)> = entries.iter().map(|e| e.since_seq).zip(0..).collect();
        wanted.sort_unstable();
        // Each run of the org's copies: the members' events it holds, in
        // log order, and their sources (about 60 bytes each).
        let start = || (Vec::new(), String::with_capacity(entries.len() * 40));
        let each = |(read, sources): &mut (Vec<(u64, MemberEvent)>, String), seq, bytes: &[u8]| {
            if wanted.binary_search_by_key(&seq, |&(want, _)| want).is_ok() {
                read.push((seq, member_event(org, seq, bytes, sources)?));
            }
            Ok(())
        };
        // From so many members on, the copies up to the middle one's event
        // and those after, each read on a core of their own.
        let split = (wanted.len() >= parallel).then(|| wanted[wanted.len() / 2].0);
        let runs = self.store.org_copy_runs(org, last, split, start, each)?;
        // The runs' sources in one string, the events' spans moved with them.
        let mut sources = String::with_capacity(runs.iter().map(|(_, s)| s.len()).sum());
        let mut read = Vec::with_capacity(wanted.len());
        for (events, text) in runs {
            // Past 4 GiB a source is left out, as a run leaves it out.
            let shift = u32::try_from(sources.len()).unwrap_or(u32::MAX);
            let moved = |(a, b): Span| Some((a.checked_add(shift)?, b.checked_add(shift)?));
            sources.push_str(&text);
            read.extend(events.into_iter().map(|(seq, (id, at))| (seq, (id, at.and_then(moved)))));
        }
        let mut found: Vec<Option<MemberEvent>> = vec![None; entries.len()];
        let mut read = read.into_iter().peekable();
        for (want, i) in wanted {
            while read.next_if(|(seq, _)| *seq < want).is_some() {}
            match read.peek() {
                Some(&(seq, event)) if seq == want => found[i] = Some(event),
                _ => return Err(dangling(want).into()),
            }
        }
        let mut members = Vec::with_capacity(entries.len());
        let mut events = HashMap::with_capacity(entries.len());
        for (entry, found) in entries.into_iter().zip(found) {
            let Some((id, source)) = found else { return Err(dangling(entry.since_seq).into()) };
            events.insert(id, source);
            members.push(Member {
                id: entry.party,
                status: entry.status,
                since: entry.since_date,
                founder: entry.founder,
                since_event: id,
            });
        }
        let members =
            Members { org: org.clone(), at: day, seq: upto, count: members.len(), members, uncertain: vec![] };
        Ok(Some(SettledMembers { members, sources, events }))
    }
}

/// The id of the event a member's copy (`bytes`, at `seq`) holds, and
/// where its source is once added to `sources`: the bytes stored for it
/// where they are what `serde_json` writes for it, else the value decoded.
fn member_event(org: &OrgId, seq: u64, bytes: &[u8], sources: &mut String) -> Result<MemberEvent> {
    let mut add = |text: &str| {
        let from = u32::try_from(sources.len()).ok()?;
        sources.push_str(text);
        Some((from, u32::try_from(sources.len()).ok()?))
    };
    if let Some((read, id, at)) = copy_id_and_source(bytes)
        && read == seq
    {
        match at {
            SourceAt::None => return Ok((id, None)),
            SourceAt::Bytes(from, to) => {
                if let Some(Ok(text)) = bytes.get(from as usize..to as usize).map(std::str::from_utf8) {
                    return Ok((id, add(text)));
                }
            }
            SourceAt::Other => {}
        }
    }
    // Not in the form accord writes: the general way, which says what is wrong.
    let recorded = decode_copy(org, seq, bytes)?;
    let source = recorded.event.source().and_then(|s| serde_json::value::to_raw_value(s).ok());
    Ok((recorded.event.id, source.and_then(|raw| add(raw.get()))))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::SettledMembers;
    use crate::ledger::{Ledger, Options};
    use crate::model::date::Day;
    use crate::model::id::OrgId;
    use crate::projection::members_on;

    /// xorshift64*: the same logs on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }

        fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
            of[self.below(of.len() as u64) as usize]
        }
    }

    /// A date as an event may give it: a year, a month, a day or a range of days.
    fn date(rng: &mut Rng) -> String {
        let (y, m, d) = (1990 + rng.below(40), 1 + rng.below(12), 1 + rng.below(28));
        match rng.below(6) {
            0 => format!("{y}"),
            1 => format!("{y}-{m:02}"),
            2 => format!("{y}-{m:02}-{d:02}/{y}-{m:02}-28"),
            _ => format!("{y}-{m:02}-{d:02}"),
        }
    }

    /// A source as an event may give it, or none.
    fn source(rng: &mut Rng, n: usize) -> String {
        match rng.below(5) {
            0 => String::new(),
            1 => format!(r#","source":"note {n}, \"quoted\", Zürich""#),
            2 => format!(r#","source":{{"publisher":"Press {n}","published":"2020-0{}","title":"T"}}"#, n % 9 + 1),
            3 => format!(r#","source":{{"title":"Record {n}","url":"https://example.org/{n}"}}"#),
            _ => format!(r#","source":"plain {n}""#),
        }
    }

    /// The id given to the `n`th generated event, if an accession.
    fn id_of(n: usize) -> String {
        format!("00000000-0000-4000-8000-{n:012}")
    }

    /// A ledger of generated events in three orgs, each kept only if the
    /// rules take it, committed a few at a time: foundings, accessions,
    /// status changes, suspensions, reinstatements, withdrawals,
    /// expulsions, an occasional dissolution, corrections and retractions,
    /// with dates of every precision, some of them before earlier ones.
    fn generated(seed: u64) -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l"), &Options::new(Duration::from_secs(5), true)).unwrap();
        let mut rng = Rng(seed);
        let orgs = ["alpha", "beta", "gamma"];
        let parties = ["P1", "P2", "P3", "P4", "P5", "P6"];
        let mut recorder = ledger.recorder("tester").unwrap();
        for org in orgs {
            let line = format!(r#"{{"type":"founding","org":"{org}","date":"1990","members":["P1","P2"]}}"#);
            recorder.record_line(&line).unwrap();
        }
        let mut ids: Vec<(String, String)> = Vec::new();
        for n in 0..240 {
            let org = rng.pick(&orgs);
            let party = rng.pick(&parties);
            let (date, source) = (date(&mut rng), source(&mut rng, n));
            let status = rng.pick(&["full", "associate", "observer"]);
            let line = match rng.below(40) {
                0..10 => format!(
                    r#"{{"type":"accession","org":"{org}","date":"{date}","members":["{party}"],"status":"{status}","id":"{}"{source}}}"#,
                    id_of(n)
                ),
                10..15 => format!(
                    r#"{{"type":"status_change","org":"{org}","date":"{date}","members":["{party}"],"status":"{status}"{source}}}"#
                ),
                15..20 => {
                    format!(r#"{{"type":"suspension","org":"{org}","date":"{date}","members":["{party}"]{source}}}"#)
                }
                20..25 => {
                    format!(r#"{{"type":"reinstatement","org":"{org}","date":"{date}","members":["{party}"]{source}}}"#)
                }
                25..30 => {
                    format!(r#"{{"type":"withdrawal","org":"{org}","date":"{date}","members":["{party}"]{source}}}"#)
                }
                30..33 => {
                    format!(r#"{{"type":"expulsion","org":"{org}","date":"{date}","members":["{party}"]{source}}}"#)
                }
                33 if rng.below(4) == 0 => format!(r#"{{"type":"dissolution","org":"{org}","date":"{date}"{source}}}"#),
                34..37 if !ids.is_empty() => {
                    let (org, id) = ids[rng.below(ids.len() as u64) as usize].clone();
                    format!(r#"{{"type":"retraction","org":"{org}","retracts":"{id}","reason":"wrong"}}"#)
                }
                37..40 if !ids.is_empty() => {
                    let (org, id) = ids[rng.below(ids.len() as u64) as usize].clone();
                    format!(
                        r#"{{"type":"accession","org":"{org}","date":"{date}","members":["{party}"],"supersedes":"{id}"{source}}}"#
                    )
                }
                _ => continue,
            };
            let recorded = matches!(recorder.record_line(&line), Ok(crate::ledger::Outcome::Recorded(_)));
            if recorded && line.contains(&id_of(n)) {
                ids.push((org.to_owned(), id_of(n)));
            }
            if rng.below(25) == 0 {
                recorder.commit().unwrap();
                recorder = ledger.recorder("tester").unwrap();
            }
        }
        recorder.commit().unwrap();
        drop(recorder);
        (dir, ledger)
    }

    /// Checks every org of `ledger` at `upto`: on each day after its last
    /// event has happened, the roster answers exactly as the org's
    /// timeline does, sources and credits included; on the day that event
    /// ends, or at a position before the org's last event, it does not.
    fn check(ledger: &Ledger, upto: u64, statuses: &mut std::collections::BTreeSet<&'static str>) -> usize {
        let mut answered = 0;
        for org in ledger.orgs().unwrap() {
            let record = ledger.org(&org, upto).unwrap();
            let steps = record.timeline().steps();
            let settled = steps.iter().map(|s| s.last).max().unwrap_or(Day::parse("1990-01-01").unwrap());
            let last = record.events().last().map(|r| r.seq);
            let roster_last = ledger.store.roster(&org).unwrap().map(|r| r.last);
            let current = roster_last.is_some() && roster_last == last;
            assert!(ledger.settled_members(&org, upto, settled).unwrap().is_none(), "{org} on {settled}");
            for day in [settled.succ(), Day::parse("2999-01-01").unwrap()] {
                let got = ledger.settled_members(&org, upto, day).unwrap();
                let Some(got) = got else {
                    assert!(!current, "{org} at {upto} on {day}: no answer from a current roster");
                    continue;
                };
                assert!(current, "{org} at {upto} on {day}: an answer from a roster not current there");
                answered += 1;
                statuses.extend(got.members.members.iter().map(|m| m.status));
                let want = members_on(&org, upto, steps, record.tracks(), day);
                assert_eq!(format!("{:?}", got.members), format!("{want:?}"), "{org} at {upto} on {day}");
                // The copies read in two runs (split at the middle member's event) or in one.
                for parallel in [1, usize::MAX] {
                    let other = ledger.settled_members_with(&org, upto, day, parallel).unwrap().unwrap();
                    assert_eq!(format!("{:?}", other.members), format!("{:?}", got.members), "{org}: {parallel}");
                    for m in &want.members {
                        let source = |s: &SettledMembers| s.source(&m.since_event).map(|r| r.get().to_owned());
                        assert_eq!(source(&other), source(&got), "{org}: {}, {parallel}", m.id);
                    }
                }
                for m in &want.members {
                    let id = &m.since_event;
                    let source =
                        |s: Option<std::borrow::Cow<'_, serde_json::value::RawValue>>| s.map(|r| r.get().to_owned());
                    assert_eq!(source(got.source(id)), source(record.source(id)), "{org}: {}", m.id);
                    let credit = record.event(id).and_then(|r| r.event.source_credit());
                    assert_eq!(got.source_credit(id), credit, "{org}: {}", m.id);
                }
            }
        }
        answered
    }

    /// The roster of each org answers as its timeline does, on generated logs.
    #[test]
    fn a_roster_answers_as_the_timeline_does() {
        let (mut answered, mut statuses) = (0, std::collections::BTreeSet::new());
        for seed in 1..=12u64 {
            let (_dir, ledger) = generated(seed * 0x9e37_79b9_7f4a_7c15);
            let head = ledger.head().unwrap().seq;
            answered += check(&ledger, head, &mut statuses);
            // At earlier positions, an org with events after them is not answered.
            for upto in [head / 2, head - 1] {
                check(&ledger, upto, &mut statuses);
            }
        }
        assert!(answered > 30, "the rosters answered only {answered} times");
        assert_eq!(statuses.into_iter().collect::<Vec<_>>(), ["associate", "full", "observer", "suspended"]);
    }

    /// An org named by no roster is answered from its events.
    #[test]
    fn without_a_roster_there_is_no_settled_answer() {
        let (_dir, ledger) = generated(7);
        let head = ledger.head().unwrap().seq;
        let org = OrgId::parse("alpha").unwrap();
        assert!(ledger.settled_members(&org, head, Day::parse("2999-01-01").unwrap()).unwrap().is_some());
        ledger.store.db().remove(crate::store::format::roster_key(&org)).unwrap();
        assert!(ledger.settled_members(&org, head, Day::parse("2999-01-01").unwrap()).unwrap().is_none());
        check(&ledger, head, &mut Default::default());
    }
}
