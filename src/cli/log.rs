//! `accord export`, `log`, `show`, `head`: the log as recorded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use accord::Error;
use accord::id::{OrgId, parse_event_id};
use accord::ledger::Ledger;
use accord::store::decode;

use super::{Context, Out, emit, render};

fn write_err(e: std::io::Error) -> Error {
    Error::io(format!("cannot write the output: {e}"))
}

/// Calls `each` with every envelope's stored bytes (already canonical JSON),
/// in log order, checked as they are read ([`Ledger::read_log`]).
fn for_each_raw(
    ledger: &Ledger,
    org: Option<&OrgId>,
    from_seq: u64,
    mut each: impl FnMut(u64, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    match org {
        None => ledger.read_log(from_seq, each),
        Some(org) => ledger.read_org_log(org, |seq, bytes| if seq >= from_seq { each(seq, bytes) } else { Ok(()) }),
    }
}

fn parse_org(org: Option<&str>) -> Result<Option<OrgId>, Error> {
    org.map(OrgId::parse).transpose()
}

pub fn export(ctx: &Context, org: Option<&str>, output: Option<&Path>, out: Out<'_>) -> Result<(), Error> {
    let org = parse_org(org)?;
    let ledger = ctx.open(false)?;
    let mut file;
    let sink: &mut dyn Write = match output {
        Some(path) => {
            let f = File::create(path).map_err(|e| Error::io(format!("cannot create {}: {e}", path.display())))?;
            file = BufWriter::new(f);
            &mut file
        }
        None => out,
    };
    // Exported bytes are the stored bytes, each checked before it is written.
    for_each_raw(&ledger, org.as_ref(), 1, |_, bytes| {
        sink.write_all(bytes).and_then(|()| sink.write_all(b"\n")).map_err(write_err)
    })?;
    sink.flush().map_err(write_err)
}

pub fn log(ctx: &Context, org: Option<&str>, from_seq: u64, out: Out<'_>) -> Result<(), Error> {
    let org = parse_org(org)?;
    let ledger = ctx.open(false)?;
    for_each_raw(&ledger, org.as_ref(), from_seq.max(1), |seq, bytes| {
        if ctx.json {
            out.write_all(bytes).and_then(|()| out.write_all(b"\n")).map_err(write_err)
        } else {
            emit(out, render::log_line(&decode(seq, bytes)?))
        }
    })
}

pub fn show(ctx: &Context, id: &str, out: Out<'_>) -> Result<(), Error> {
    let id = parse_event_id(id)?;
    let ledger = ctx.open(false)?;
    let env = ledger.find(&id)?.ok_or_else(|| Error::rejected(format!("there is no event {id} in the log")))?;
    if ctx.json { emit(out, env.to_json()) } else { emit(out, render::envelope(&env)) }
}

pub fn head(ctx: &Context, out: Out<'_>) -> Result<(), Error> {
    let ledger = ctx.open(false)?;
    let head = ledger.head()?;
    if ctx.json {
        emit(out, serde_json::to_string(&head).map_err(|e| Error::io(e.to_string()))?)
    } else {
        emit(out, format!("seq {}\nhash {}", head.seq, head.hash))
    }
}
