//! `accord orgs`, `members`, `history`, `diff`: projections of the log.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use uuid::Uuid;

use accord::Error;
use accord::ledger::{Ledger, LedgerError, OrgRecord};
use accord::model::date::Day;
use accord::model::id::{OrgId, PartyId, natural_cmp};
use accord::projection;
use accord::projection::select::names;

use super::{Context, Out, ViewArgs, emit, emit_json, render, usage};

/// A day given for `flag`; malformed, a usage error (exit 2).
pub(super) fn parse_day(flag: &str, s: &str) -> Result<Day, Error> {
    Day::parse(s).map_err(|e| usage(flag, e))
}

/// Opens the ledger and reads one org as of the requested view; an org with
/// no event is "not found".
pub(super) fn org_record(ctx: &Context, org: &str, view: &ViewArgs) -> Result<(super::Held, OrgRecord), Error> {
    read_org(ctx, org, view, true)
}

/// [`org_record`], with the org's events (`events`), or for an answer that
/// needs none of them ([`Ledger::org_without_events`]).
fn read_org(ctx: &Context, org: &str, view: &ViewArgs, events: bool) -> Result<(super::Held, OrgRecord), Error> {
    let (ledger, org, upto) = open_at(ctx, org, view)?;
    let record = record_at(&ledger, org, upto, events)?;
    Ok((ledger, record))
}

/// The org id given, and the ledger opened to read at the requested view's position.
fn open_at(ctx: &Context, org: &str, view: &ViewArgs) -> Result<(super::Held, OrgId, u64), Error> {
    let org = OrgId::parse(org).map_err(|e| Error::usage(e.to_string()))?;
    let ledger = ctx.open(false)?;
    let upto = ledger.resolve(view.as_of()?)?;
    Ok((ledger, org, upto))
}

/// [`read_org`] in an open ledger, at `upto`.
fn record_at(ledger: &Ledger, org: OrgId, upto: u64, events: bool) -> Result<OrgRecord, Error> {
    let record = if events { ledger.org(&org, upto)? } else { ledger.org_without_events(&org, upto)? };
    if record.is_empty() {
        return Err(LedgerError::OrgNotFound { org, seq: upto }.into());
    }
    Ok(record)
}

/// A short credit for a table row ([`accord::model::event::Event::source_credit`]).
fn source_of(record: &OrgRecord) -> impl Fn(&Uuid) -> Option<String> + '_ {
    |id| record.event(id)?.event.source_credit()
}

pub fn members(ctx: &Context, org: &str, at: Option<&str>, view: &ViewArgs, out: Out<'_>) -> Result<(), Error> {
    let day = at.map(|d| parse_day("--at", d)).transpose()?.unwrap_or_else(Day::today_utc);
    let (ledger, org, upto) = open_at(ctx, org, view)?;
    // On a day after every event of the org, its roster answers.
    if let Some(settled) = ledger.settled_members(&org, upto, day)? {
        let (source, credit) = (|id: &Uuid| settled.source(id), |id: &Uuid| settled.source_credit(id));
        return print_members(ctx, out, &settled.members, source, credit);
    }
    // The table credits each member's event; the JSON copies its source.
    let record = record_at(&ledger, org, upto, !ctx.json)?;
    let m = projection::members_on(&record.org, record.upto, record.timeline().steps(), record.tracks(), day);
    print_members(ctx, out, &m, |id| record.source(id), source_of(&record))
}

/// Prints `members`: the table, each member's event credited by `credit`,
/// or the JSON, with each one's `source`.
fn print_members<'a>(
    ctx: &Context,
    out: Out<'_>,
    m: &'a projection::Members,
    source: impl Fn(&Uuid) -> Option<Cow<'a, RawValue>>,
    credit: impl Fn(&Uuid) -> Option<String>,
) -> Result<(), Error> {
    if !ctx.json {
        return emit(out, render::members(m, credit));
    }
    // SPEC §5's object, each entry with the `source` of its event as
    // recorded (null if none), after SPEC's fields.
    let value = MembersJson {
        org: &m.org,
        at: m.at,
        seq: m.seq,
        members: m.members.iter().map(|x| Sourced { entry: x, source: source(&x.since_event) }).collect(),
        uncertain: m.uncertain.iter().map(|u| Sourced { entry: u, source: source(&u.event) }).collect(),
        count: m.count,
    };
    emit_json(out, &value)
}

/// An entry of `members --json` and the source of its event.
#[derive(Serialize)]
struct Sourced<'a, T> {
    #[serde(flatten)]
    entry: &'a T,
    source: Option<Cow<'a, RawValue>>,
}

/// `members --json`: [`projection::Members`], each entry [`Sourced`].
#[derive(Serialize)]
struct MembersJson<'a> {
    org: &'a OrgId,
    at: Day,
    seq: u64,
    members: Vec<Sourced<'a, projection::Member>>,
    uncertain: Vec<Sourced<'a, projection::UncertainMember>>,
    count: usize,
}

pub fn history(
    ctx: &Context,
    org: &str,
    member: Option<&str>,
    long: bool,
    view: &ViewArgs,
    out: Out<'_>,
) -> Result<(), Error> {
    let member = member.map(|m| PartyId::parse(m).map_err(|e| usage("--member", e))).transpose()?;
    let (ledger, record) = org_record(ctx, org, view)?;
    if let Some(party) = &member {
        let counts = record.timeline().steps().iter().any(|s| s.action.parties().contains(party));
        if !counts && !record.events().any(|r| names(&r.event, party)) {
            let (party, org, seq) = (party.clone(), record.org.clone(), record.upto);
            return Err(LedgerError::PartyNotNamed { party, org, seq }.into());
        }
    }
    let events = projection::history(record.timeline(), member.as_ref(), |id| record.event(id));
    if ctx.json {
        // Whole envelopes, chain fields included, from the log: the stored
        // bytes, checked, as `export` writes them.
        for recorded in events {
            let seq = recorded.seq;
            let bytes = ledger.checked_bytes(seq)?.ok_or(LedgerError::OrgIndexDangling { seq })?;
            out.write_all(&bytes).and_then(|()| out.write_all(b"\n")).map_err(super::output_failed)?;
        }
        return Ok(());
    }
    let count = render::count(events.len(), "event that counts", "events that count");
    emit(out, format!("{}: {count}, in effective order (log at seq {})", record.org, record.upto))?;
    let columns = render::history_columns(events.iter().map(|r| (r.seq, &r.event)), long);
    for r in events {
        emit(out, format!("  {}", columns.line(r.seq, &r.recorded_at, &r.recorded_by, &r.event)))?;
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
    // The text says why each party changed, from its event; the JSON does not.
    let (_ledger, record) = read_org(ctx, org, view, !ctx.json)?;
    let d = projection::diff(&record.org, record.timeline(), from, to);
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
    let mut orgs = ledger.orgs()?;
    orgs.sort_by(|a, b| natural_cmp(a.as_str(), b.as_str()));
    for org in orgs {
        rows.extend(org_row(&ledger, &org, upto, today)?);
    }
    if ctx.json {
        return emit(out, serde_json::Value::Array(rows));
    }
    if rows.is_empty() {
        return emit(out, "no organizations in the log");
    }
    let text = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or("-").to_owned();
    let width = |k: &str| rows.iter().map(|r| text(r, k).chars().count()).max().unwrap_or(0);
    let (org_w, founded_w) = (width("org"), width("founded"));
    let counts: Vec<String> =
        rows.iter().map(|r| render::count(r["members"].as_u64().unwrap_or(0) as usize, "member", "members")).collect();
    let count_w = counts.iter().map(String::len).max().unwrap_or(0);
    for (r, count) in rows.iter().zip(&counts) {
        let line = format!(
            "{:<org_w$}  {:<founded_w$}  {count:>count_w$}  {}",
            text(r, "org"),
            text(r, "founded"),
            r["name"].as_str().unwrap_or("")
        );
        emit(out, line.trim_end())?;
    }
    Ok(())
}

/// The row of one org as of `upto`; `None` if the org had no event yet then
/// (as `members` says, there was no such org).
fn org_row(ledger: &Ledger, org: &OrgId, upto: u64, today: Day) -> Result<Option<serde_json::Value>, Error> {
    Ok(ledger.overview(org, upto, today)?.map(
        |o| json!({"org": o.org, "name": o.name, "founded": o.founded, "members": o.members, "uncertain": o.uncertain}),
    ))
}
