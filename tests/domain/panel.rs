//! The panel's one-pass walk gives, on every day, the reading `readings` (and so `members --at`) gives: generated logs.

use accord::model::date::{Day, EffectiveDate};
use accord::model::event::Status;
use accord::model::id::PartyId;
use accord::projection::panel::{self, Cell, Every};
use accord::projection::{Reading, readings};
use accord::timeline::{Action, Change, Standing, Step, Timeline};
use uuid::Uuid;

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

const PARTIES: [&str; 7] = ["A", "B", "C", "D", "E", "F", "G"];

/// A date near `base` (days from 2000-01-01): a day, a month, a year, an
/// interval, sometimes with a qualifier.
fn date_near(rng: &mut Rng, base: i64) -> EffectiveDate {
    let origin = Day::parse("2000-01-01").unwrap().to_naive();
    let at = |d: i64| origin + chrono::TimeDelta::days(d);
    let a = at(base);
    let text = match rng.below(7) {
        0 | 1 => a.format("%Y-%m-%d").to_string(),
        2 => a.format("%Y-%m").to_string(),
        3 => a.format("%Y").to_string(),
        4 => format!("{}/{}", a.format("%Y-%m"), at(base + 30 + rng.below(400) as i64).format("%Y-%m-%d")),
        5 => format!("{}/{}", a.format("%Y-%m-%d"), at(base + 1 + rng.below(60) as i64).format("%Y-%m")),
        _ => format!("{}{}", a.format("%Y-%m"), ["?", "~", "%"][rng.below(3) as usize]),
    };
    EffectiveDate::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn some_parties(rng: &mut Rng) -> Vec<PartyId> {
    let mut chosen: Vec<PartyId> = Vec::new();
    for _ in 0..1 + rng.below(2) {
        let p = PartyId::parse(PARTIES[rng.below(PARTIES.len() as u64) as usize]).unwrap();
        if !chosen.contains(&p) {
            chosen.push(p);
        }
    }
    chosen
}

fn status(rng: &mut Rng) -> Status {
    [Status::Full, Status::Associate, Status::Observer][rng.below(3) as usize]
}

/// The timelines of a generated log after each accepted event (what
/// `--seq N` reads at each N): events of every kind, on dates of every
/// precision, with corrections (`supersedes`) and retractions. A candidate
/// that breaks a rule is dropped, as the recorder would refuse it.
fn generated(seed: u64) -> Vec<Timeline> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut timeline = Timeline::default();
    let mut views = Vec::new();
    let mut seq = 0u64;
    let mut base = 0i64;
    let founders = some_parties(&mut rng);
    let found = EffectiveDate::parse(["2000", "2000-01", "2000-01-01"][rng.below(3) as usize]).unwrap();
    seq += 1;
    let id = Uuid::from_u128(seq.into());
    let first = Step {
        seq,
        id,
        date: found,
        first: found.first_day(),
        last: found.last_day(),
        action: Action::Found(founders),
    };
    timeline.apply(Change::Add(first), u64::MAX).unwrap();
    views.push(timeline.clone());
    for _ in 0..40 {
        base += rng.below(200) as i64 - 30;
        let date = date_near(&mut rng, base.max(0));
        let action = match rng.below(20) {
            0..=4 => Action::Admit(some_parties(&mut rng), status(&mut rng)),
            5 | 6 => Action::ChangeStatus(some_parties(&mut rng), status(&mut rng)),
            7 | 8 => Action::Suspend(some_parties(&mut rng)),
            9 | 10 => Action::Reinstate(some_parties(&mut rng)),
            11 | 12 => Action::Withdraw(some_parties(&mut rng)),
            13 => Action::Expel(some_parties(&mut rng)),
            14 => Action::Launch(some_parties(&mut rng)),
            15 => Action::Activity,
            16 if rng.below(4) == 0 => Action::Dissolve,
            _ => Action::Admit(some_parties(&mut rng), Status::Full),
        };
        seq += 1;
        let id = Uuid::from_u128(seq.into());
        let step = Step { seq, id, date, first: date.first_day(), last: date.last_day(), action };
        let counting: Vec<Uuid> = timeline.steps().iter().skip(1).map(|s| s.id).collect();
        let target =
            (!counting.is_empty() && rng.below(8) == 0).then(|| counting[rng.below(counting.len() as u64) as usize]);
        let change = match (&target, rng.below(2)) {
            (Some(target), 0) => Change::Remove(target),
            (Some(target), _) => Change::Replace(target, step),
            (None, _) => Change::Add(step),
        };
        if timeline.apply(change, u64::MAX).is_ok() {
            views.push(timeline.clone());
        }
    }
    views
}

/// The days read: the last day of every month over the log's years, then
/// the days where statuses turn (every step's first and last day and the
/// day before), sorted.
fn days_for(steps: &[Step]) -> Vec<Day> {
    let mut days = panel::sample_days(1999, 2030, Every::Month);
    for s in steps {
        days.extend([s.first, s.last, s.first.pred(), s.last.succ()]);
    }
    days.sort();
    days.dedup();
    days
}

/// Whether a panel cell says what a reading of the same party and day says.
fn same(cell: &Cell, reading: &Reading) -> bool {
    match (cell, reading) {
        (Cell::Certain { standing, since }, Reading::Certain { standing: s, since: i }) => standing == s && since == i,
        (Cell::Uncertain { possible, open }, Reading::Uncertain { possible: p, open: o }) => {
            possible.names().eq(p.iter().map(|s| s.as_str())) && open == o
        }
        _ => false,
    }
}

fn code(reading: &Reading) -> i8 {
    match reading {
        Reading::Certain { standing, .. } => panel::code_of(*standing),
        Reading::Uncertain { .. } => panel::UNCERTAIN,
    }
}

/// Checks the panel of one timeline against `readings`, day by day.
fn check(timeline: &Timeline, what: &str) -> usize {
    let steps = timeline.steps();
    let days = days_for(steps);
    let mut long = std::collections::BTreeMap::new();
    panel::long(steps, &days, |party, i, cell| {
        let day = days[i];
        assert!(long.insert((party.clone(), day), cell).is_none(), "{what}: {party} on {day} twice");
    });
    let wide = panel::wide(steps, &days);
    let span = panel::days_of(steps, &days);
    let mut cells = 0;
    for (i, &day) in days.iter().enumerate() {
        let expected = readings(steps, day);
        let inside = span.binary_search(&day).is_ok();
        if !inside {
            // Before the founding and after the dissolution: nobody is anything.
            assert!(expected.values().all(|r| r.certain() == Some(Standing::None)), "{what}: {day} outside the org");
        }
        for (party, reading) in &expected {
            let never = matches!(reading, Reading::Certain { standing: Standing::None, since: None });
            match long.get(&(party.clone(), day)) {
                Some(cell) => {
                    assert!(same(cell, reading), "{what}: {party} on {day}: panel {cell:?}, readings {reading:?}");
                    cells += 1;
                }
                // Left out: outside the org's days, or none before anything happened to it.
                None => assert!(!inside || never, "{what}: {party} on {day} left out, readings {reading:?}"),
            }
            // One party alone, on this day alone: `accord party`.
            let one = panel::track(steps, party).map(|t| t.on(day));
            assert!(
                one.is_some_and(|c| same(&c, reading)),
                "{what}: track of {party} on {day}: {one:?} vs {reading:?}"
            );
            if let Ok(at) = span.binary_search(&day) {
                let column = wide.iter().find(|(p, _)| p == party).map(|(_, c)| c[at]);
                assert_eq!(column, Some(code(reading)), "{what}: wide cell of {party} on {day} (day {i})");
            }
        }
    }
    assert_eq!(long.len(), cells, "{what}: the panel has rows for parties the timeline does not name");
    cells
}

#[test]
fn panel_cells_equal_the_readings_of_each_day_on_generated_logs_and_their_views() {
    let mut cells = 0;
    let mut uncertain = 0;
    for seed in 0..25 {
        let views = generated(seed);
        for (n, timeline) in views.iter().enumerate() {
            cells += check(timeline, &format!("seed {seed}, view {n}"));
        }
        let last = views.last().map(|t| t.steps()).unwrap_or_default();
        uncertain += days_for(last)
            .iter()
            .filter(|d| readings(last, **d).values().any(|r| matches!(r, Reading::Uncertain { .. })))
            .count();
    }
    // The logs exercise what they are for: many cells, many uncertain days.
    assert!(cells > 200_000 && uncertain > 400, "{cells} cells, {uncertain} uncertain days");
}

#[test]
fn a_cursor_given_an_earlier_day_starts_again_and_answers_the_same() {
    let timeline = generated(7).pop().unwrap_or_default();
    let steps = timeline.steps();
    let mut days = days_for(steps);
    days.reverse();
    for track in panel::tracks(steps) {
        let mut cursor = track.cursor();
        for &day in &days {
            assert_eq!(cursor.on(day), track.on(day), "{} on {day}", track.party());
        }
    }
}
