//! `accord panel`: every party's status on sampled days, as CSV or NDJSON (COW IGO v3 codes).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use clap::{Args, ValueEnum};
use serde::Serialize;

use accord::Error;
use accord::ledger::{Ledger, LedgerError, OrgRecord};
use accord::model::date::Day;
use accord::model::id::{OrgId, PartyId};
use accord::projection::panel::{self, Cell, Every};
use accord::timeline::Step;

use super::{Context, Out, ViewArgs, output_failed};

#[derive(Args)]
pub struct PanelArgs {
    /// The orgs [default: every org in the log]
    #[arg(value_name = "ORG")]
    orgs: Vec<String>,
    /// The first year sampled
    #[arg(long, value_name = "YEAR")]
    from: i32,
    /// The last year sampled
    #[arg(long, value_name = "YEAR")]
    to: i32,
    /// Sample each year (on --on, default 12-31) or the last day of each month
    #[arg(long, value_enum, default_value_t = Sampling::Year)]
    every: Sampling,
    /// The day of the year sampled with --every year
    #[arg(long, value_name = "MM-DD")]
    on: Option<String>,
    /// long: a row per org, party and day; wide: a row per org and day, a column per party
    #[arg(long, value_enum, default_value_t = Layout::Long)]
    layout: Layout,
    /// csv (with a header) or json (NDJSON rows with the same fields); --json is --format json
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    #[command(flatten)]
    view: ViewArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Sampling {
    Year,
    Month,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Layout {
    Long,
    Wide,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Csv,
    Json,
}

/// `--on MM-DD`: a day that every year has (29 February is refused).
fn parse_on(text: &str) -> Result<(u32, u32), Error> {
    let bad = || Error::usage(format!("--on {text:?} is not a day of the year: give it as MM-DD, e.g. 06-30"));
    let (m, d) = text.split_once('-').ok_or_else(bad)?;
    if m.len() != 2 || d.len() != 2 || !(m.bytes().chain(d.bytes()).all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    let (month, day) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if (month, day) == (2, 29) {
        return Err(Error::usage("--on 02-29 is not a day of every year: give 02-28 or 03-01"));
    }
    // 2001 has no 29 February: the day exists in every year iff it exists in 2001.
    Day::from_ymd(2001, month, day).ok_or_else(bad)?;
    Ok((month, day))
}

/// The sampled days, or the usage error that says why the options give none.
fn days(args: &PanelArgs) -> Result<Vec<Day>, Error> {
    for (flag, year) in [("--from", args.from), ("--to", args.to)] {
        if !(1..=9999).contains(&year) {
            return Err(Error::usage(format!("{flag} {year} is not a year from 1 to 9999")));
        }
    }
    if args.from > args.to {
        return Err(Error::usage(format!(
            "--from {} is after --to {}: give the earlier year as --from",
            args.from, args.to
        )));
    }
    let every = match (args.every, &args.on) {
        (Sampling::Year, None) => Every::Year { month: 12, day: 31 },
        (Sampling::Year, Some(on)) => {
            let (month, day) = parse_on(on)?;
            Every::Year { month, day }
        }
        (Sampling::Month, Some(_)) => {
            return Err(Error::usage(
                "--on picks the day of the year: --every month samples the last day of each month",
            ));
        }
        (Sampling::Month, None) => Every::Month,
    };
    Ok(panel::sample_days(args.from, args.to, every))
}

/// The orgs read: those named (each must be in the log as of the view), or
/// every org with an event then.
enum Orgs {
    Named(Vec<OrgRecord>),
    All(Vec<OrgId>),
}

impl Orgs {
    fn choose(ledger: &Ledger, names: &[String], upto: u64) -> Result<Orgs, Error> {
        if names.is_empty() {
            return Ok(Orgs::All(ledger.orgs()?));
        }
        let mut records: Vec<OrgRecord> = Vec::new();
        for name in names {
            let org = OrgId::parse(name)?;
            if records.iter().any(|r| r.org == org) {
                continue;
            }
            let record = ledger.org(&org, upto)?;
            if record.is_empty() {
                return Err(LedgerError::OrgNotFound { org, seq: upto }.into());
            }
            records.push(record);
        }
        Ok(Orgs::Named(records))
    }

    /// Hands `each` every chosen org's record, one at a time.
    fn each(
        self,
        ledger: &Ledger,
        upto: u64,
        mut each: impl FnMut(OrgRecord) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match self {
            Orgs::Named(records) => records.into_iter().try_for_each(each),
            Orgs::All(orgs) => {
                for org in orgs {
                    let record = ledger.org(&org, upto)?;
                    if !record.is_empty() {
                        each(record)?;
                    }
                }
                Ok(())
            }
        }
    }
}

pub fn run(ctx: &Context, args: PanelArgs, out: Out<'_>) -> Result<(), Error> {
    let days = days(&args)?;
    let json = ctx.json || args.format == Format::Json;
    let ledger = ctx.open(false)?;
    let upto = ledger.resolve(args.view.as_of()?)?;
    let orgs = Orgs::choose(&ledger, &args.orgs, upto)?;
    let dates: Vec<String> = days.iter().map(Day::to_string).collect();
    match (args.layout, json) {
        (Layout::Long, false) => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(["org", "party", "date", "status", "code", "certain", "possible", "since", "source"])
                .map_err(csv_failed)?;
            orgs.each(&ledger, upto, |record| long(&record, &days, &dates, &mut |row| write_csv(&mut csv, row)))?;
            csv.flush().map_err(output_failed)
        }
        (Layout::Long, true) => {
            let mut buffered = std::io::BufWriter::with_capacity(1 << 16, out);
            orgs.each(&ledger, upto, |record| {
                long(&record, &days, &dates, &mut |row| write_json(&mut buffered, &row))
            })?;
            buffered.flush().map_err(output_failed)
        }
        (Layout::Wide, _) => wide(&ledger, upto, orgs, &days, json, out),
    }
}

/// One row of the long layout.
#[derive(Serialize)]
struct Row<'a> {
    org: &'a str,
    party: &'a str,
    date: &'a str,
    status: &'static str,
    code: i8,
    certain: bool,
    possible: Vec<&'static str>,
    since: Option<&'a str>,
    source: Option<&'a str>,
}

/// The date and the source credit (else the id) of each step, worked out once.
struct Named<'r> {
    record: &'r OrgRecord,
    steps: &'r [Step],
    cache: Vec<Option<(String, String)>>,
}

impl Named<'_> {
    fn get(&mut self, i: usize) -> Option<&(String, String)> {
        let step = self.steps.get(i)?;
        let record = self.record;
        let slot = self.cache.get_mut(i)?;
        Some(slot.get_or_insert_with(|| {
            let credit = record.event(&step.id).and_then(|r| r.event.source_credit());
            (step.date.to_string(), credit.unwrap_or_else(|| step.id.to_string()))
        }))
    }
}

/// Hands `each` the long rows of one org; `dates` are the `days` as text.
fn long(
    record: &OrgRecord,
    days: &[Day],
    dates: &[String],
    each: &mut dyn FnMut(Row<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let steps = record.timeline().steps();
    let mut named = Named { record, steps, cache: vec![None; steps.len()] };
    let mut result = Ok(());
    panel::long(steps, days, |party, i, cell| {
        if result.is_err() {
            return;
        }
        let (status, possible) = match cell {
            Cell::Certain { standing, .. } => (standing.as_str(), Vec::new()),
            Cell::Uncertain { possible, .. } => ("uncertain", possible.names().collect()),
        };
        let event = cell.event().and_then(|i| named.get(i));
        result = each(Row {
            org: record.org.as_str(),
            party: party.as_str(),
            date: &dates[i],
            status,
            code: cell.code(),
            certain: matches!(cell, Cell::Certain { .. }),
            possible,
            since: event.map(|(date, _)| date.as_str()),
            source: event.map(|(_, source)| source.as_str()),
        });
    });
    result
}

fn write_csv(csv: &mut csv::Writer<Out<'_>>, row: Row<'_>) -> Result<(), Error> {
    csv.write_record([
        row.org,
        row.party,
        row.date,
        row.status,
        code_text(row.code),
        if row.certain { "true" } else { "false" },
        &row.possible.join(";"),
        row.since.unwrap_or(""),
        row.source.unwrap_or(""),
    ])
    .map_err(csv_failed)
}

fn write_json(out: &mut impl Write, row: &impl Serialize) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, row).map_err(|e| output_failed(e.into()))?;
    out.write_all(b"\n").map_err(output_failed)
}

fn code_text(code: i8) -> &'static str {
    match code {
        1 => "1",
        2 => "2",
        3 => "3",
        0 => "0",
        _ => "-9",
    }
}

/// A failure of the CSV writer: the output failed (the only way it fails
/// here, as every record has the same fields).
fn csv_failed(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => output_failed(io),
        other => output_failed(std::io::Error::other(format!("{other:?}"))),
    }
}

/// Each party of an org with its code on each of the org's days.
type Columns = Vec<(PartyId, Vec<i8>)>;

/// The wide layout: a row per org and day, a column per party named in any
/// of the chosen orgs (0 in an org that never named it).
fn wide(ledger: &Ledger, upto: u64, orgs: Orgs, days: &[Day], json: bool, out: Out<'_>) -> Result<(), Error> {
    // Every org's columns first: the header names every party of them all.
    let mut tables: Vec<(OrgId, &[Day], Columns)> = Vec::new();
    orgs.each(ledger, upto, |record| {
        let steps = record.timeline().steps();
        let columns = panel::wide(steps, days);
        tables.push((record.org.clone(), panel::days_of(steps, days), columns));
        Ok(())
    })?;
    let parties: BTreeSet<&PartyId> = tables.iter().flat_map(|(_, _, c)| c.iter().map(|(p, _)| p)).collect();
    let index: BTreeMap<&PartyId, usize> = parties.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut cells = vec![0i8; parties.len()];
    let rows = tables
        .iter()
        .flat_map(|(org, own, columns)| own.iter().enumerate().map(move |(r, day)| (org, day, columns, r)));
    if json {
        let mut buffered = std::io::BufWriter::with_capacity(1 << 16, out);
        for (org, day, columns, r) in rows {
            let codes =
                parties.iter().map(|p| p.as_str()).zip(fill(&mut cells, &index, columns, r).iter().copied()).collect();
            write_json(&mut buffered, &WideRow { org: org.as_str(), date: *day, codes })?;
        }
        return buffered.flush().map_err(output_failed);
    }
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(["org", "date"].into_iter().chain(parties.iter().map(|p| p.as_str()))).map_err(csv_failed)?;
    for (org, day, columns, r) in rows {
        let date = day.to_string();
        let record =
            [org.as_str(), &date].into_iter().chain(fill(&mut cells, &index, columns, r).iter().map(|c| code_text(*c)));
        csv.write_record(record).map_err(csv_failed)?;
    }
    csv.flush().map_err(output_failed)
}

/// The codes of one row: each party's in its column, 0 for a party the org never named.
fn fill<'c>(
    cells: &'c mut [i8],
    index: &BTreeMap<&PartyId, usize>,
    columns: &[(PartyId, Vec<i8>)],
    r: usize,
) -> &'c [i8] {
    cells.iter_mut().for_each(|c| *c = 0);
    for (party, codes) in columns {
        if let (Some(&at), Some(&code)) = (index.get(party), codes.get(r)) {
            cells[at] = code;
        }
    }
    cells
}

/// One row of the wide layout as JSON: the codes by party, apart from
/// `org` and `date` (a party may be called `org`).
#[derive(Serialize)]
struct WideRow<'a> {
    org: &'a str,
    date: Day,
    codes: BTreeMap<&'a str, i8>,
}
