//! `accord party`: the orgs a party is, or may be, a member of on a day.

use std::fmt::Write;

use clap::Args;
use serde::Serialize;
use uuid::Uuid;

use accord::Error;
use accord::ledger::LedgerError;
use accord::model::date::Day;
use accord::model::id::PartyId;
use accord::projection::panel::{self, Cell};
use accord::projection::spells::spells_of;
use accord::timeline::Standing;

use super::{Context, Out, ViewArgs, emit, emit_json};

#[derive(Args)]
pub struct PartyArgs {
    /// The party (for states, ISO 3166-1 alpha-3: FRA)
    id: String,
    /// The day (YYYY-MM-DD) [default: today, UTC]
    #[arg(long, value_name = "DAY")]
    at: Option<String>,
    /// Its spells across all orgs instead: one row per continuous spell in a status
    #[arg(long, conflicts_with = "at")]
    history: bool,
    #[command(flatten)]
    view: ViewArgs,
}

/// An org in which the party has a certain status other than none.
#[derive(Serialize)]
struct Membership {
    org: String,
    status: &'static str,
    since: Option<String>,
    source: Option<String>,
    event: Option<Uuid>,
}

/// An org in which the party's status depends on how imprecise dates resolve.
#[derive(Serialize)]
struct Uncertain {
    org: String,
    possible: Vec<&'static str>,
    date: String,
    source: Option<String>,
    event: Uuid,
}

/// `party --json`, in the form of `members --json`.
#[derive(Serialize)]
struct PartyAt {
    party: PartyId,
    at: Day,
    seq: u64,
    orgs: Vec<Membership>,
    uncertain: Vec<Uncertain>,
    count: usize,
}

pub fn run(ctx: &Context, args: PartyArgs, out: Out<'_>) -> Result<(), Error> {
    let party = PartyId::parse(&args.id)?;
    if args.history {
        return history(ctx, party, &args.view, out);
    }
    let day = match &args.at {
        Some(text) => Day::parse(text).map_err(|e| Error::from(accord::model::ModelError::from(e)).at("--at"))?,
        None => Day::today_utc(),
    };
    let ledger = ctx.open(false)?;
    let upto = ledger.resolve(args.view.as_of()?)?;
    let mut answer = PartyAt { party, at: day, seq: upto, orgs: Vec::new(), uncertain: Vec::new(), count: 0 };
    let mut named = false;
    // Only the orgs whose events name the party (the party index).
    for org in ledger.orgs_naming(&answer.party)? {
        let record = ledger.org(&org, upto)?;
        let steps = record.timeline().steps();
        let Some(track) = panel::track(steps, &answer.party) else { continue };
        named = true;
        let cell = track.on(day);
        let step = cell.event().and_then(|i| steps.get(i));
        let source = step.and_then(|s| record.event(&s.id)).and_then(|r| r.event.source_credit());
        match cell {
            Cell::Certain { standing: Standing::None, .. } => {}
            Cell::Certain { standing, .. } => answer.orgs.push(Membership {
                org: org.to_string(),
                status: standing.as_str(),
                since: step.map(|s| s.date.to_string()),
                source,
                event: step.map(|s| s.id),
            }),
            Cell::Uncertain { possible, .. } => {
                if let Some(step) = step {
                    answer.uncertain.push(Uncertain {
                        org: org.to_string(),
                        possible: possible.names().collect(),
                        date: step.date.to_string(),
                        source,
                        event: step.id,
                    });
                }
            }
        }
    }
    if !named {
        return Err(LedgerError::PartyNotFound { party: answer.party, seq: upto }.into());
    }
    answer.count = answer.orgs.len();
    if ctx.json { emit_json(out, &answer) } else { emit(out, render(&answer)) }
}

fn render(a: &PartyAt) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}: orgs on {} (log at seq {})", a.party, a.at, a.seq);
    for m in &a.orgs {
        let _ = write!(s, "  {:<12} {:<10} since {:<21}", m.org, m.status, m.since.as_deref().unwrap_or("-"));
        if let Some(src) = &m.source {
            let _ = write!(s, " source: {src}");
        }
        s = s.trim_end().to_owned();
        s.push('\n');
    }
    if !a.uncertain.is_empty() {
        let _ = writeln!(s, "uncertain on {} (the dates allow either):", a.at);
        for u in &a.uncertain {
            let _ = write!(s, "  {:<12} {:<19} date {}", u.org, u.possible.join(" or "), u.date);
            if let Some(src) = &u.source {
                let _ = write!(s, "  source: {src}");
            }
            s.push('\n');
        }
    }
    let _ = write!(s, "member of {} org{}", a.count, if a.count == 1 { "" } else { "s" });
    if !a.uncertain.is_empty() {
        let _ = write!(s, ", {} uncertain", a.uncertain.len());
    }
    s
}

/// One spell of `party --history`: the fields of a row of `accord spells`.
#[derive(Serialize)]
struct SpellRow {
    org: String,
    party: String,
    status: &'static str,
    from: String,
    to: Option<String>,
    from_event: Uuid,
    to_event: Option<Uuid>,
    source: Option<String>,
}

/// `party ID --history`: the party's spells in every org, org by org, each
/// org's in timeline order; NDJSON rows with `--json`.
fn history(ctx: &Context, party: PartyId, view: &ViewArgs, out: Out<'_>) -> Result<(), Error> {
    let ledger = ctx.open(false)?;
    let upto = ledger.resolve(view.as_of()?)?;
    let mut rows = Vec::new();
    let mut named = false;
    for org in ledger.orgs_naming(&party)? {
        let record = ledger.org(&org, upto)?;
        named |= panel::track(record.timeline().steps(), &party).is_some();
        rows.extend(spells_of(record.timeline(), &party).into_iter().map(|s| SpellRow {
            org: org.to_string(),
            party: party.to_string(),
            status: s.status(),
            from: s.began.date.to_string(),
            to: s.ended.map(|e| e.date.to_string()),
            from_event: s.began.id,
            to_event: s.ended.map(|e| e.id),
            source: record.event(&s.began.id).and_then(|e| e.event.source_credit()),
        }));
    }
    if !named {
        return Err(LedgerError::PartyNotFound { party, seq: upto }.into());
    }
    if ctx.json {
        return rows.iter().try_for_each(|row| emit_json(out, row));
    }
    let mut s = format!("{party}: spells across orgs (log at seq {upto})");
    for r in &rows {
        let _ = write!(
            s,
            "\n  {:<12} {:<10} from {:<21} to {:<21}",
            r.org,
            r.status,
            r.from,
            r.to.as_deref().unwrap_or("-")
        );
        if let Some(src) = &r.source {
            let _ = write!(s, " source: {src}");
        }
    }
    let _ = write!(s, "\n{} spell{}", rows.len(), if rows.len() == 1 { "" } else { "s" });
    emit(out, s)
}
