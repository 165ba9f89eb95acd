//! `accord audit verify` and `accord audit replay`.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use accord::Error;
use accord::audit;
use accord::envelope::Head;
use accord::id::OrgId;

use super::{Context, Out, emit, render};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Re-check the whole log: sequence, hashes, indexes, rules by replay
    Verify {
        /// Also check that the event at SEQ still has HASH
        #[arg(long, value_name = "SEQ:HASH")]
        checkpoint: Option<String>,
        /// Verify an export file instead of the ledger (no ledger needed)
        #[arg(long, value_name = "EXPORT")]
        file: Option<PathBuf>,
    },
    /// Replay the log in order, printing each event and the membership change it made
    Replay {
        #[arg(long)]
        org: Option<String>,
    },
}

pub fn run(ctx: &Context, cmd: AuditCommand, out: Out<'_>) -> Result<(), Error> {
    match cmd {
        AuditCommand::Verify { checkpoint, file } => {
            let checkpoint = checkpoint.as_deref().map(Head::parse_checkpoint).transpose()?;
            let report = match file {
                Some(path) => {
                    let f = File::open(&path)
                        .map_err(|e| Error::rejected(format!("cannot open {}: {e}", path.display())))?;
                    audit::verify_export(&path.display().to_string(), BufReader::new(f), checkpoint)?
                }
                None => audit::verify_ledger(ctx.open(false)?.store(), checkpoint)?,
            };
            if ctx.json {
                emit(out, json!({"ok": true, "events": report.events, "head": report.head}))
            } else {
                emit(
                    out,
                    format!(
                        "ok: {} events verified; head is seq {} {}",
                        report.events, report.head.seq, report.head.hash
                    ),
                )
            }
        }
        AuditCommand::Replay { org } => {
            let org = org.as_deref().map(OrgId::parse).transpose()?;
            let ledger = ctx.open(false)?;
            let head = audit::replay(ledger.store(), org.as_ref(), |env, r| {
                if ctx.json {
                    emit(out, serde_json::to_string(r).map_err(|e| Error::io(e.to_string()))?)
                } else {
                    let mut line = render::log_line(env);
                    let mut effects = Vec::new();
                    if !r.joined.is_empty() {
                        let j: Vec<String> = r.joined.iter().map(|(p, s)| format!("{p} ({s})")).collect();
                        effects.push(format!("joined {}", j.join(", ")));
                    }
                    if !r.left.is_empty() {
                        let l: Vec<&str> = r.left.iter().map(|p| p.as_str()).collect();
                        effects.push(format!("left {}", l.join(", ")));
                    }
                    for (p, a, b) in &r.changed {
                        effects.push(format!("{p} {a}→{b}"));
                    }
                    if let Some(t) = r.retracted {
                        effects.push(format!("retracted {t}"));
                    }
                    if let Some(t) = r.superseded {
                        effects.push(format!("superseded {t}"));
                    }
                    if !effects.is_empty() {
                        line.push_str(&format!("\n{:>8}→ {}", "", effects.join("; ")));
                    }
                    emit(out, line)
                }
            })?;
            if ctx.json {
                emit(out, json!({"head": head}))
            } else {
                emit(out, format!("head is seq {} {}", head.seq, head.hash))
            }
        }
    }
}
