//! `accord export`, `log`, `show`, `head`: the log as recorded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use accord::Error;
use accord::ledger::{Ledger, LedgerError, decode};
use accord::model::id::{OrgId, parse_event_id};

use super::{Context, Out, emit, emit_json, file_failed, output_failed, render};

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
    Ok(org.map(OrgId::parse).transpose()?)
}

pub fn export(ctx: &Context, org: Option<&str>, output: Option<&Path>, out: Out<'_>) -> Result<(), Error> {
    let org = parse_org(org)?;
    let ledger = ctx.open(false)?;
    // Exported bytes are the stored bytes, each checked before it is written.
    let write_all = |sink: &mut dyn Write| {
        for_each_raw(&ledger, org.as_ref(), 1, |_, bytes| {
            sink.write_all(bytes).and_then(|()| sink.write_all(b"\n")).map_err(output_failed)
        })?;
        sink.flush().map_err(output_failed)
    };
    let Some(path) = output else { return write_all(out) };
    if path.exists() && !path.is_file() {
        // A device or a pipe (`-o /dev/stdout`): written straight through.
        let f = std::fs::OpenOptions::new().write(true).open(path);
        let f = f.map_err(|e| file_failed(format_args!("cannot write {}", path.display()), e))?;
        return write_all(&mut BufWriter::new(f));
    }
    // An export is a backup: it appears under its name only once whole and
    // synced; a failed one leaves nothing that looks like a backup.
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.accord-partial"));
    let io = |what: &str, e: std::io::Error| file_failed(format_args!("{what} {}", path.display()), e);
    let written = File::create(&tmp).map_err(|e| io("cannot create", e)).and_then(|f| {
        let mut file = BufWriter::new(f);
        write_all(&mut file)?;
        let f = file.into_inner().map_err(|e| io("cannot write", e.into_error()))?;
        f.sync_all().map_err(|e| io("cannot write", e))
    });
    match written.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| io("cannot write", e))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

pub fn log(ctx: &Context, org: Option<&str>, from_seq: u64, out: Out<'_>) -> Result<(), Error> {
    let org = parse_org(org)?;
    let ledger = ctx.open(false)?;
    for_each_raw(&ledger, org.as_ref(), from_seq.max(1), |seq, bytes| {
        if ctx.json {
            out.write_all(bytes).and_then(|()| out.write_all(b"\n")).map_err(output_failed)
        } else {
            emit(out, render::log_line(&decode(seq, bytes)?))
        }
    })
}

pub fn show(ctx: &Context, id: &str, out: Out<'_>) -> Result<(), Error> {
    let id = parse_event_id(id)?;
    let ledger = ctx.open(false)?;
    let env = ledger.find(&id)?.ok_or(LedgerError::EventNotFound { id })?;
    if ctx.json { emit(out, env.to_json()) } else { emit(out, render::envelope(&env)) }
}

pub fn head(ctx: &Context, out: Out<'_>) -> Result<(), Error> {
    let ledger = ctx.open(false)?;
    let head = ledger.head()?;
    if ctx.json { emit_json(out, &head) } else { emit(out, format!("seq {}\nhash {}", head.seq, head.hash)) }
}
