//! `accord orgs`, `members`, `history`, `diff`: projections of the log.

use serde_json::json;

use accord::Error;
use accord::ledger::{Ledger, LedgerError, OrgRecord};
use accord::model::date::Day;
use accord::model::id::{OrgId, PartyId};
use accord::projection;

use super::{Context, Out, ViewArgs, emit, emit_json, render};

pub(super) fn parse_day(flag: &str, s: &str) -> Result<Day, Error> {
    Day::parse(s).map_err(|e| Error::from(accord::model::ModelError::from(e)).at(flag))
}

/// Opens the ledger and reads one org as of the requested view; an org with
/// no event is "not found".
pub(super) fn org_record(ctx: &Context, org: &str, view: &ViewArgs) -> Result<(Ledger, OrgRecord), Error> {
    let org = OrgId::parse(org)?;
    let ledger = ctx.open(false)?;
    let upto = ledger.resolve(view.as_of()?)?;
    let record = ledger.org(&org, upto)?;
    if record.is_empty() {
        return Err(LedgerError::OrgNotFound { org, seq: upto }.into());
    }
    Ok((ledger, record))
}

/// A short credit for a table row ([`accord::model::event::Event::source_credit`]).
fn source_of(record: &OrgRecord) -> impl Fn(&uuid::Uuid) -> Option<String> + '_ {
    |id| record.event(id)?.event.source_credit()
}

pub fn members(ctx: &Context, org: &str, at: Option<&str>, view: &ViewArgs, out: Out<'_>) -> Result<(), Error> {
    let day = at.map(|d| parse_day("--at", d)).transpose()?.unwrap_or_else(Day::today_utc);
    let (_ledger, record) = org_record(ctx, org, view)?;
    let m = projection::members(&record.org, record.upto, &record.timeline, day);
    if ctx.json { emit_json(out, &m) } else { emit(out, render::members(&m, source_of(&record))) }
}

pub fn history(ctx: &Context, org: &str, member: Option<&str>, view: &ViewArgs, out: Out<'_>) -> Result<(), Error> {
    let member = member.map(PartyId::parse).transpose()?;
    let (ledger, record) = org_record(ctx, org, view)?;
    let events = projection::history(&record.timeline, member.as_ref(), |id| record.event(id));
    if ctx.json {
        // Whole envelopes, chain fields included, from the log.
        for recorded in events {
            let env = ledger.checked(recorded.seq)?.ok_or(LedgerError::OrgIndexDangling { seq: recorded.seq })?;
            emit(out, env.to_json())?;
        }
        return Ok(());
    }
    emit(out, format!("{}: events that count, in effective order (log at seq {})", record.org, record.upto))?;
    for env in events {
        let mut line = format!(
            "  {:<21}  seq {:<5} {}",
            env.event.date.map(|d| d.to_string()).unwrap_or_default(),
            env.seq,
            render::summary(&env.event)
        );
        if let Some(src) = env.event.source_text() {
            line.push_str(&format!("\n  {:<21}  source: {src}", ""));
        }
        emit(out, line)?;
    }
    Ok(())
}

pub fn diff(ctx: &Context, org: &str, from: &str, to: &str, view: &ViewArgs, out: Out<'_>) -> Result<(), Error> {
    let (from, to) = (parse_day("--from", from)?, parse_day("--to", to)?);
    // A reversed range would read as its opposite (joined as left): refused
    // before the ledger is opened, as clap refuses a bad command line.
    if from > to {
        return Err(Error::usage(format!("--from {from} is after --to {to}: give the earlier day as --from")));
    }
    let (_ledger, record) = org_record(ctx, org, view)?;
    let d = projection::diff(&record.org, &record.timeline, from, to);
    if ctx.json {
        emit_json(out, &d)
    } else {
        let source = source_of(&record);
        let why = |id: &uuid::Uuid| {
            let env = record.event(id)?;
            let date = env.event.date.map(|d| d.to_string()).unwrap_or_default();
            Some(match source(id) {
                Some(src) => format!("{} {date}, source: {src}", env.event.type_name().replace('_', " ")),
                None => format!("{} {date}", env.event.type_name().replace('_', " ")),
            })
        };
        emit(out, render::diff(&d, why))
    }
}

pub fn orgs(ctx: &Context, view: &ViewArgs, out: Out<'_>) -> Result<(), Error> {
    let ledger = ctx.open(false)?;
    let upto = ledger.resolve(view.as_of()?)?;
    let today = Day::today_utc();
    let mut rows = Vec::new();
    for org in ledger.orgs()? {
        rows.extend(org_row(&ledger, &org, upto, today)?);
    }
    if ctx.json {
        return emit(out, serde_json::Value::Array(rows));
    }
    if rows.is_empty() {
        return emit(out, "no organizations in the log");
    }
    for r in &rows {
        emit(
            out,
            format!(
                "{:<12} {:<21} {:>4} members  {}",
                r["org"].as_str().unwrap_or(""),
                r["founded"].as_str().unwrap_or("-"),
                r["members"],
                r["name"].as_str().unwrap_or("")
            ),
        )?;
    }
    Ok(())
}

/// The row of one org as of `upto`; `None` if the org had no event yet then
/// (as `members` says, there was no such org).
fn org_row(ledger: &Ledger, org: &OrgId, upto: u64, today: Day) -> Result<Option<serde_json::Value>, Error> {
    let record = ledger.org(org, upto)?;
    if record.is_empty() {
        return Ok(None);
    }
    let founding = record.timeline.steps().first().filter(|s| s.is_founding()).and_then(|s| record.event(&s.id));
    let (founded, name) = match founding {
        Some(env) => (
            env.event.date.map(|d| d.to_string()),
            match &env.event.kind {
                accord::model::event::EventKind::Founding { name, .. } => name.clone(),
                _ => None,
            },
        ),
        None => (None, None),
    };
    let m = projection::members(org, upto, &record.timeline, today);
    Ok(Some(json!({"org": org, "name": name, "founded": founded, "members": m.count, "uncertain": m.uncertain.len()})))
}
