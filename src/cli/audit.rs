//! `accord audit verify` and `accord audit replay`.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use accord::Error;
use accord::ledger::{Replayed, Target, check_export_checkpoint, verify_export};
use accord::model::envelope::Head;
use accord::model::id::OrgId;
use accord::proof::Checkpoint;
use accord::proof::note::is_signed;

use super::progress::Bar;
use super::{Context, Out, emit, emit_json, file_failed_verbatim, render};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Re-check the whole log: sequence, hashes, indexes, rules by replay
    Verify {
        /// Also check the log against an earlier checkpoint: SEQ:HASH (as `accord head` printed them), or a file holding one from `accord checkpoint` (signed: give --key)
        #[arg(long, value_name = "SEQ:HASH|FILE")]
        checkpoint: Option<String>,
        /// The verifier key of a signed checkpoint file (as `accord key generate` printed it), or a file holding it
        #[arg(long, value_name = "VKEY", requires = "checkpoint")]
        key: Option<String>,
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

impl AuditCommand {
    /// `audit verify --file` checks an export with no ledger.
    pub fn needs_ledger(&self) -> bool {
        !matches!(self, AuditCommand::Verify { file: Some(_), .. })
    }

    /// See `Command::rebase`: a checkpoint or key given as a relative path
    /// that is a file from `cwd`.
    pub fn rebase(&mut self, cwd: &std::path::Path) {
        if let AuditCommand::Verify { checkpoint, key, .. } = self {
            for text in [checkpoint, key].into_iter().flatten() {
                let path = cwd.join(&*text);
                if std::path::Path::new(text).is_relative() && path.exists() {
                    *text = path.to_string_lossy().into_owned();
                }
            }
        }
    }
}

/// What `--checkpoint` and `--key` name: a head as `accord head` printed
/// it (SEQ:HASH), or a C2SP checkpoint read from a file that is there, its
/// signature checked with `--key`. A malformed SEQ:HASH, a signed
/// checkpoint without `--key` or an unsigned one with it is a usage error
/// (exit 2).
fn vouching(checkpoint: Option<&str>, key: Option<&str>) -> Result<(Option<Head>, Option<Checkpoint>), Error> {
    let Some(text) = checkpoint else { return Ok((None, None)) };
    if !std::path::Path::new(text).exists() {
        // Not a file: SEQ:HASH, or a usage error that says what was expected.
        let head = Head::parse_checkpoint(text)
            .map_err(|e| Error::usage(format!("--checkpoint: {e}, or a file that holds a checkpoint")))?;
        return Ok((Some(head), None));
    }
    let note = std::fs::read_to_string(text)
        .map_err(|e| file_failed_verbatim(format_args!("cannot read the checkpoint {text}"), e))?;
    let checkpoint = match (is_signed(&note), key) {
        (true, Some(key)) => Checkpoint::open(&note, &super::proof::verifiers(key)?)?,
        (true, None) => {
            return Err(Error::usage(format!(
                "--checkpoint {text} is signed: give --key with the signer's verifier key to check it"
            )));
        }
        (false, Some(_)) => {
            return Err(Error::usage(format!("--checkpoint {text} is not signed: --key has nothing to check")));
        }
        (false, None) => Checkpoint::parse(&note)?,
    };
    Ok((None, Some(checkpoint)))
}

pub fn run(ctx: &Context, cmd: AuditCommand, out: Out<'_>) -> Result<(), Error> {
    match cmd {
        AuditCommand::Verify { checkpoint, key, file } => {
            let (head, tree) = vouching(checkpoint.as_deref(), key.as_deref())?;
            let (report, restored) = match file {
                Some(path) => {
                    let open = || {
                        File::open(&path)
                            .map_err(|e| file_failed_verbatim(format_args!("cannot open {}", path.display()), e))
                    };
                    let f = open()?;
                    let bar = Bar::bytes(ctx, "verifying", f.metadata().ok().map(|m| m.len()), false);
                    let reader = BufReader::new(bar.reader(f));
                    let report = verify_export(&path.display().to_string(), reader, head)?;
                    if let Some(tree) = &tree {
                        check_export_checkpoint(BufReader::new(open()?), tree)?;
                    }
                    (report, None)
                }
                None => {
                    let ledger = ctx.open_for_audit()?;
                    let verified = ledger.verify(head, &Bar::events(ctx, "verifying"))?;
                    if let Some(tree) = &tree {
                        ledger.check_checkpoint(tree)?;
                    }
                    verified
                }
            };
            if ctx.json {
                let mut v = json!({"ok": true, "events": report.events, "head": report.head});
                if let Some(tree) = &tree {
                    v["checkpoint"] = json!({"origin": tree.origin, "size": tree.size, "signed": key.is_some()});
                }
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
                if let Some(tree) = &tree {
                    text.push_str(&format!(
                        "\nconsistent with the checkpoint of {} at {} ({}signed)",
                        tree.origin,
                        render::count(tree.size as usize, "event", "events"),
                        if key.is_some() { "" } else { "not " }
                    ));
                }
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
