//! The given/when/then harness: a log of compact JSON lines, replayed through the rules; readings on a day.

use std::fmt::Display;

use accord::model::date::Day;
use accord::model::event::{Event, EventKind};
use accord::projection::{Reading, readings};
use accord::timeline::{Change, Step, Tail, Timeline};
use uuid::Uuid;

/// The prefix of the ids `@n` stands for.
const SHORT: &str = "00000000-0000-0000-0000-";

/// A log replayed event by event, and the timeline it leads to.
pub struct Given {
    events: Vec<Event>,
    timeline: Timeline,
}

/// Replays `log`; panics if an event does not parse or breaks a rule.
///
/// A log is compact JSON, one event a line, recorded in that order: line n is
/// seq n. `org` may be left out (it is `t`), and so may `id`: line n's is
/// `@n`. Any `"@n"` in a line stands for the event id
/// `00000000-0000-0000-0000-<n, 12 digits>`, so corrections can name what
/// they correct (`"supersedes":"@2"`, `"retracts":"@3"`), and the harness
/// writes such ids back as `@n` in what it compares.
///
/// Each event is checked as the recorder checks it (see [`Given::check`]),
/// and the timeline the log leads to must equal the one [`Timeline::build`]
/// makes at once of the events that count.
#[track_caller]
pub fn given(log: &str) -> Given {
    let mut g = Given { events: Vec::new(), timeline: Timeline::default() };
    for line in log.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let seq = g.events.len() as u64 + 1;
        let event = parse(line, seq);
        if let Err(why) = g.check(&event, seq, seq - 1) {
            panic!("given line {seq} breaks a rule: {why}\n  {line}");
        }
        g.events.push(event);
    }
    let built = Timeline::build(g.counting()).unwrap_or_else(|why| panic!("Timeline::build refuses the log: {why}"));
    assert_eq!(built.steps(), g.timeline.steps(), "the timeline built at once is not the one built event by event");
    g
}

impl Given {
    /// Checks `event` (seq `seq`; the log's head before its command is
    /// `recorded`) against the timeline, and applies it if it keeps every
    /// rule. The refusal is the timeline's sentence, ids written `@n`.
    ///
    /// As the recorder does: a correction replaces or removes its target,
    /// anything else is added; and when [`Tail::try_append`] can answer, it
    /// must give the answer [`Timeline::apply`] gives. A refusal must leave
    /// the timeline as it was.
    fn check(&mut self, event: &Event, seq: u64, recorded: u64) -> Result<(), String> {
        let step = Step::of(seq, event);
        let target = match &event.kind {
            EventKind::Retraction { retracts, .. } => Some(*retracts),
            _ => event.supersedes,
        };
        if let Some(target) = &target {
            // The recorder refuses these before the timeline sees them.
            assert!(self.timeline.contains(target), "{} does not count (no event, or corrected)", short(target));
        }
        // The recorder's fast path: the tail answers for an event that sorts last.
        let tail = match (&target, &step) {
            (None, Some(step)) => Tail::of(&self.timeline).try_append(step, recorded).map(|r| r.map_err(sentence)),
            _ => None,
        };
        let change = match (&target, step) {
            (Some(target), None) => Change::Remove(target),
            (Some(target), Some(step)) => Change::Replace(target, step),
            (None, Some(step)) => Change::Add(step),
            (None, None) => panic!("an event with no date that retracts nothing: {}", event.describe()),
        };
        let before = self.timeline.steps().to_vec();
        let outcome = self.timeline.apply(change, recorded).map_err(sentence);
        if let Some(tail) = tail {
            assert_eq!(tail, outcome, "Tail::try_append and Timeline::apply disagree on {}", event.describe());
        }
        if outcome.is_err() {
            assert_eq!(self.timeline.steps(), before, "a refused change altered the timeline");
        }
        outcome
    }

    /// The steps of the events that count, in log order: each correction
    /// takes out the event it names (SPEC §3).
    fn counting(&self) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        for (i, event) in self.events.iter().enumerate() {
            let target = match &event.kind {
                EventKind::Retraction { retracts, .. } => Some(*retracts),
                _ => event.supersedes,
            };
            steps.retain(|s| Some(s.id) != target);
            steps.extend(Step::of(i as u64 + 1, event));
        }
        steps
    }

    /// Every party's reading on `day`: `PARTY=STATUS@EVENT` when certain (the
    /// event that gave the status; `A=none` for a party that never had
    /// another), `PARTY~S1|S2…@EVENT` when uncertain (the possible statuses,
    /// none first, and the first event whose date leaves it open); parties in
    /// id order, separated by spaces.
    pub fn on(&self, day: &str) -> String {
        let day = Day::parse(day).unwrap_or_else(|e| panic!("{day}: {e}"));
        let steps = self.timeline.steps();
        let by = |i: usize| short(&steps[i].id);
        let mut out = Vec::new();
        for (party, reading) in readings(steps, day) {
            out.push(match reading {
                Reading::Certain { standing, since: None } => format!("{party}={}", standing.as_str()),
                Reading::Certain { standing, since: Some(i) } => format!("{party}={}{}", standing.as_str(), by(i)),
                Reading::Uncertain { possible, open } => {
                    let possible: Vec<&str> = possible.iter().map(|s| s.as_str()).collect();
                    format!("{party}~{}{}", possible.join("|"), by(open))
                }
            });
        }
        out.join(" ")
    }

    /// The seqs of the events that count, in timeline order.
    pub fn order(&self) -> Vec<u64> {
        self.timeline.steps().iter().map(|s| s.seq).collect()
    }

    /// Checks one more event, recorded after the log; applied if accepted.
    pub fn when(&mut self, line: &str) -> Result<(), String> {
        self.import(line)
    }

    /// Checks the events of one import in turn: those before the one checked
    /// are not in the log yet. Stops at the first refusal.
    pub fn import(&mut self, lines: &str) -> Result<(), String> {
        let recorded = self.events.len() as u64;
        for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let seq = self.events.len() as u64 + 1;
            let event = parse(line, seq);
            self.check(&event, seq, recorded)?;
            self.events.push(event);
        }
        Ok(())
    }
}

/// Given `log`, then on each day these readings.
#[track_caller]
pub fn check(log: &str, days: &[(&str, &str)]) {
    let g = given(log);
    then(&g, days);
}

/// On each day, these readings.
#[track_caller]
pub fn then(g: &Given, days: &[(&str, &str)]) {
    let mut wrong = Vec::new();
    for (day, expected) in days {
        let got = g.on(day);
        if got != *expected {
            wrong.push(format!("on {day}:\n  expected {expected}\n  got      {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Given `log`, when `event`, then refused with exactly `sentence`.
#[track_caller]
pub fn refused(log: &str, event: &str, sentence: &str) {
    let mut g = given(log);
    match g.when(event) {
        Ok(()) => panic!("accepted, expected the refusal: {sentence}\n  {event}"),
        Err(got) => assert_eq!(got, sentence, "{event}"),
    }
}

/// Given `log`, when `event`, then accepted; returns the log with it.
#[track_caller]
pub fn accepted(log: &str, event: &str) -> Given {
    let mut g = given(log);
    if let Err(why) = g.when(event) {
        panic!("refused: {why}\n  {event}");
    }
    g
}

/// A refusal as text, its ids written `@n`.
fn sentence(why: impl Display) -> String {
    let text = why.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(SHORT) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match tail.get(..36).and_then(|id| Uuid::parse_str(id).ok()) {
            Some(id) => {
                out.push_str(&short(&id));
                rest = &tail[36..];
            }
            None => {
                out.push_str(SHORT);
                rest = &tail[SHORT.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `@n` for the id `@n` stands for, the id itself for any other.
fn short(id: &Uuid) -> String {
    let text = id.hyphenated().to_string();
    match text.strip_prefix(SHORT) {
        Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => format!("@{}", n.trim_start_matches('0')),
        _ => text,
    }
}

/// Parses line `seq` of a log: `org` and `id` filled in if absent, `"@n"` expanded.
#[track_caller]
fn parse(line: &str, seq: u64) -> Event {
    let mut text = String::with_capacity(line.len() + 64);
    let mut rest = line;
    while let Some(at) = rest.find("\"@") {
        text.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with('"') {
            let n: u64 = after[..digits].parse().unwrap_or_else(|e| panic!("@{}: {e}", &after[..digits]));
            text.push_str(&format!("\"{SHORT}{n:012}\""));
            rest = &after[digits + 1..];
        } else {
            text.push_str("\"@");
            rest = after;
        }
    }
    text.push_str(rest);
    let mut value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("line {seq} is not JSON ({e}): {line}"));
    let map = value.as_object_mut().unwrap_or_else(|| panic!("line {seq} is not an object: {line}"));
    map.entry("org").or_insert_with(|| "t".into());
    map.entry("id").or_insert_with(|| format!("{SHORT}{seq:012}").into());
    Event::parse_str(&value.to_string()).unwrap_or_else(|e| panic!("line {seq} is not an event ({e}): {line}"))
}
