//! `accord spells` (a table of spells, CSV or NDJSON) and `accord timeline` (the SVG picture).

use std::path::Path;

use clap::ValueEnum;
use serde::Serialize;

use accord::Error;
use accord::projection::picture::{Frame, timeline_svg};
use accord::projection::spells::spells as spells_of;

use super::query::{org_record, parse_day};
use super::{Context, Out, ViewArgs, emit, emit_json, file_failed, output_failed};

/// How a table is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row
    Csv,
    /// NDJSON: one object per row, with the same fields
    Json,
}

/// The fields of a row of `accord spells`, in order: the CSV header.
const FIELDS: [&str; 8] = ["org", "party", "status", "from", "to", "from_event", "to_event", "source"];

/// One row of `accord spells`: the fields of [`FIELDS`], in order.
#[derive(Serialize)]
struct Row {
    org: String,
    party: String,
    status: &'static str,
    from: String,
    to: Option<String>,
    from_event: String,
    to_event: Option<String>,
    source: Option<String>,
}

pub fn spells(ctx: &Context, org: &str, format: Option<Format>, view: &ViewArgs, out: Out<'_>) -> Result<(), Error> {
    let (_ledger, record) = org_record(ctx, org, view)?;
    let rows = spells_of(record.timeline()).into_iter().map(|s| Row {
        org: record.org.to_string(),
        party: s.party.to_string(),
        status: s.status(),
        from: s.began.date.to_string(),
        to: s.ended.map(|e| e.date.to_string()),
        from_event: s.began.id.to_string(),
        to_event: s.ended.map(|e| e.id.to_string()),
        source: record.event(&s.began.id).and_then(|e| e.event.source_credit()),
    });
    // `--json` asks for data as JSON, as `--format json` does.
    let format = format.unwrap_or(if ctx.json { Format::Json } else { Format::Csv });
    match format {
        Format::Json => rows.into_iter().try_for_each(|row| emit_json(out, &row)),
        Format::Csv => {
            // The header is written even when there is no row.
            let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(out);
            csv.write_record(FIELDS).map_err(csv_failed)?;
            for row in rows {
                csv.serialize(row).map_err(csv_failed)?;
            }
            csv.flush().map_err(output_failed)
        }
    }
}

fn csv_failed(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => output_failed(io),
        other => output_failed(std::io::Error::other(format!("{other:?}"))),
    }
}

pub fn timeline(
    ctx: &Context,
    org: &str,
    output: Option<&Path>,
    from: Option<&str>,
    to: Option<&str>,
    view: &ViewArgs,
    out: Out<'_>,
) -> Result<(), Error> {
    let frame = Frame {
        from: from.map(|d| parse_day("--from", d)).transpose()?,
        to: to.map(|d| parse_day("--to", d)).transpose()?,
    };
    if let Frame { from: Some(from), to: Some(to) } = frame
        && from > to
    {
        return Err(Error::usage(format!("--from {from} is after --to {to}: give the earlier day as --from")));
    }
    let (_ledger, record) = org_record(ctx, org, view)?;
    let svg = timeline_svg(&record.org, record.upto, record.timeline(), frame, |id| record.event(id).map(|r| &r.event));
    match output {
        Some(path) => {
            std::fs::write(path, svg).map_err(|e| file_failed(format_args!("cannot write {}", path.display()), e))
        }
        None => emit(out, svg.trim_end()),
    }
}
