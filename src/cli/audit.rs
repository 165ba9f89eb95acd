//! `accord audit verify` and `accord audit replay`.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use accord::Error;
use accord::ledger::{Replayed, Target, verify_export};
use accord::model::envelope::Head;
use accord::model::id::OrgId;

use super::progress::Bar;
use super::{Context, Out, emit, emit_json, file_failed_verbatim, render};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Re-check the whole log: sequence, hashes, indexes, rules by replay
    Verify {
        /// Also check that the event at SEQ still has HASH (as `accord head` printed them)
        #[arg(long, value_name = "SEQ:HASH", value_parser = parse_checkpoint)]
        checkpoint: Option<Head>,
        /// Verify an export file instead of the ledger (no ledger needed)
        #[arg(long, value_name = "EXPORT")]
        file: Option<PathBuf>,
    },
    /// Replay the log in order, printing each event and the membership change it made
    Replay {
        /// Only this org's events (the whole log is still checked)
        #[arg(long)]
        org: Option<String>,
    },
}

/// A malformed checkpoint is a usage error (exit 2), like any bad option value.
fn parse_checkpoint(s: &str) -> Result<Head, String> {
    Head::parse_checkpoint(s).map_err(|e| e.to_string())
}

pub fn run(ctx: &Context, cmd: AuditCommand, out: Out<'_>) -> Result<(), Error> {
    match cmd {
        AuditCommand::Verify { checkpoint, file } => {
            let (report, restored) = match file {
                Some(path) => {
                    let f = File::open(&path)
                        .map_err(|e| file_failed_verbatim(format_args!("cannot open {}", path.display()), e))?;
                    let bar = Bar::bytes(ctx, "verifying", f.metadata().ok().map(|m| m.len()), false);
                    let reader = BufReader::new(bar.reader(f));
                    (verify_export(&path.display().to_string(), reader, checkpoint)?, None)
                }
                None => ctx.open_for_audit()?.verify(checkpoint, &Bar::events(ctx, "verifying"))?,
            };
            if ctx.json {
                let mut v = json!({"ok": true, "events": report.events, "head": report.head});
                if let Some(by) = &restored {
                    v["restored_head_marker"] = json!({"vouched_up_to": by.seq});
                }
                emit(out, v)
            } else {
                let mut text = format!(
                    "ok: {} verified; head is seq {} {}",
                    render::count(report.events as usize, "event", "events"),
                    report.head.seq,
                    report.head.hash
                );
                if let Some(by) = &restored {
                    text.push_str(&format!(
                        "\naccord.head was missing: restored at seq {} (the checkpoint vouches for the log up to seq {})",
                        report.head.seq, by.seq
                    ));
                }
                emit(out, text)
            }
        }
        AuditCommand::Replay { org } => {
            let org = org.as_deref().map(OrgId::parse).transpose()?;
            let ledger = ctx.open(false)?;
            let bar = Bar::events_beside_output(ctx, "replaying");
            let head = ledger.replay(org.as_ref(), &bar, |env, r| {
                if ctx.json {
                    emit_json(out, r)
                } else {
                    emit(out, format!("{}\n{:>8}→ {}", render::log_line(env), "", effects(r)))
                }
            })?;
            drop(bar);
            if ctx.json {
                emit(out, json!({"head": head}))
            } else {
                emit(out, format!("head is seq {} {}", head.seq, head.hash))
            }
        }
    }
}

/// What one replayed event did, in words: `supersedes seq 4 (accession dated …); left: SGP, SVK`.
fn effects(r: &Replayed) -> String {
    let mut effects = Vec::new();
    let target = |t: &Target| {
        let date = t.date.as_deref().map(|d| format!(" dated {d}")).unwrap_or_default();
        format!("seq {} ({}{date}, event {})", t.seq, t.kind.replace('_', " "), t.id)
    };
    if let Some(t) = &r.retracted {
        effects.push(format!("retracts {}", target(t)));
    }
    if let Some(t) = &r.superseded {
        effects.push(format!("supersedes {}", target(t)));
    }
    if !r.joined.is_empty() {
        let j: Vec<String> = r.joined.iter().map(|j| format!("{} ({})", j.id, j.status)).collect();
        effects.push(format!("joined: {}", j.join(", ")));
    }
    if !r.left.is_empty() {
        let l: Vec<&str> = r.left.iter().map(|p| p.as_str()).collect();
        effects.push(format!("left: {}", l.join(", ")));
    }
    for c in &r.changed {
        effects.push(format!("{}: {} → {}", c.id, c.from, c.to));
    }
    if r.joined.is_empty() && r.left.is_empty() && r.changed.is_empty() {
        effects.push("no change in membership".to_owned());
    }
    effects.join("; ")
}
