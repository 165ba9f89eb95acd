//! `accord key generate`, `accord checkpoint` and `accord prove`: signed checkpoints and Merkle proofs of the log.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use accord::Error;
use accord::ledger::Ledger;
use accord::proof::merkle::{hash_to_base64, hash_to_hex};
use accord::proof::{Checkpoint, Signer, Verifier};

use super::{Context, Out, emit, emit_json, file_failed};

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Make an Ed25519 signing key: the private key goes to a file (mode 0600), the verifier key to stdout
    Generate {
        /// The key's name, as checkpoints' signatures carry it (use the log's origin)
        name: String,
        /// Where to write the private key [default: NAME.key, with any '/' turned into '_']
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ProveCommand {
    /// That an event is in the log: its leaf, the audit path, the tree's size and root (RFC 6962)
    Inclusion {
        /// The event: a seq, an event id, or 4 or more of its first hex digits
        event: String,
        /// The tree of the first N events [default: the whole log]
        #[arg(long, value_name = "N")]
        size: Option<u64>,
    },
    /// A citable claim: a party's status in an org on a day, the events that decide it, their proofs, a checkpoint
    Member {
        /// The org (an org id, like isa)
        org: String,
        /// The party (for states, ISO 3166-1 alpha-3: ISR)
        party: String,
        /// The day (YYYY-MM-DD)
        #[arg(long, value_name = "DAY")]
        at: String,
        /// Sign the claim's checkpoint with this private key (from `accord key generate`)
        #[arg(long, value_name = "KEYFILE")]
        sign: Option<PathBuf>,
        /// Write the claim to FILE instead of stdout
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// That the log of M events extends the log of its first N events, changing none (RFC 6962)
    Consistency {
        /// The size of the earlier tree
        #[arg(long, value_name = "N")]
        from: u64,
        /// The size of the later tree [default: the whole log]
        #[arg(long, value_name = "M")]
        to: Option<u64>,
    },
}

impl ProveCommand {
    /// See `Command::rebase`.
    pub fn rebase(&mut self, cwd: &Path) {
        if let ProveCommand::Member { sign, output, .. } = self {
            for path in [sign, output].into_iter().flatten() {
                *path = super::serve::rebased(cwd, path);
            }
        }
    }
}

pub fn key(command: KeyCommand, out: Out<'_>) -> Result<(), Error> {
    let KeyCommand::Generate { name, output } = command;
    let signer = Signer::generate(&name)?;
    let path = output.unwrap_or_else(|| PathBuf::from(format!("{}.key", name.replace('/', "_"))));
    write_private(&path, &signer.private_key_string())?;
    emit(out, signer.verifier().to_key_string())
}

/// Writes a private key to a new file only its owner can read: an
/// existing file is never overwritten (it may hold another key).
fn write_private(path: &Path, key: &str) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let what = || format!("cannot write the private key to {}", path.display());
    let mut file = options.open(path).map_err(|e| file_failed(what(), e))?;
    file.write_all(format!("{key}\n").as_bytes()).and_then(|()| file.sync_all()).map_err(|e| file_failed(what(), e))
}

/// The origin of the ledger's checkpoints: set once with `--origin`, else
/// `accord/` + the first 16 hex digits of the hash of seq 1, which no later
/// event changes.
fn origin(ledger: &Ledger, asked: Option<&str>) -> Result<String, Error> {
    if let Some(origin) = asked {
        ledger.set_origin(origin)?;
        return Ok(origin.to_owned());
    }
    if let Some(origin) = ledger.origin()? {
        return Ok(origin);
    }
    let first =
        ledger.checked(1)?.ok_or_else(|| Error::usage("the log is empty: record an event, or give --origin"))?;
    Ok(format!("accord/{}", &first.hash[..16]))
}

pub fn checkpoint(ctx: &Context, sign: Option<&Path>, asked_origin: Option<&str>, out: Out<'_>) -> Result<(), Error> {
    let signer = sign.map(signer).transpose()?;
    let ledger = ctx.open(false)?;
    let (checkpoint, text) = checkpoint_of(&ledger, asked_origin, signer.as_ref())?;
    if ctx.json {
        let Checkpoint { origin, size, root } = checkpoint;
        let value = json!({"origin": origin, "size": size, "root": hash_to_base64(&root), "root_hex": hash_to_hex(&root),
                           "signed": signer.is_some(), "note": text});
        return emit_json(out, &value);
    }
    write!(out, "{text}").map_err(super::output_failed)
}

/// Reads a private key file (from `accord key generate`).
fn signer(path: &Path) -> Result<Signer, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| file_failed(format_args!("cannot read the key {}", path.display()), e))?;
    Ok(Signer::from_private_key_str(text.trim_end())?)
}

/// The checkpoint of the whole log and its text, signed if `signer` is
/// given; `asked_origin` sets the log's origin ([`origin`]).
fn checkpoint_of(
    ledger: &Ledger,
    asked_origin: Option<&str>,
    signer: Option<&Signer>,
) -> Result<(Checkpoint, String), Error> {
    let origin = origin(ledger, asked_origin)?;
    let (size, root) = ledger.tree_root(None)?;
    let checkpoint = Checkpoint::new(&origin, size, root)?;
    let text = match signer {
        Some(signer) => checkpoint.sign(signer)?,
        None => checkpoint.to_text(),
    };
    Ok((checkpoint, text))
}

/// The verifier keys in `key`: the key itself (as `accord key generate`
/// printed it), or a file holding one per line.
pub(super) fn verifiers(key: &str) -> Result<Vec<Verifier>, Error> {
    let text = if Path::new(key).is_file() {
        std::fs::read_to_string(key).map_err(|e| file_failed(format_args!("cannot read the key {key}"), e))?
    } else {
        key.to_owned()
    };
    let keys = text.lines().map(str::trim).filter(|l| !l.is_empty());
    Ok(keys.map(Verifier::from_verifier_key_str).collect::<Result<Vec<_>, _>>()?)
}

pub fn prove(ctx: &Context, command: ProveCommand, out: Out<'_>) -> Result<(), Error> {
    if let ProveCommand::Member { org, party, at, sign, output } = &command {
        let org = accord::model::id::OrgId::parse(org)?;
        let party = accord::model::id::PartyId::parse(party)?;
        let day = super::query::parse_day("--at", at)?;
        let signer = sign.as_deref().map(signer).transpose()?;
        let ledger = ctx.open(false)?;
        let (_, checkpoint) = checkpoint_of(&ledger, None, signer.as_ref())?;
        let claim = ledger.claim(&org, &party, day, checkpoint)?;
        let text = serde_json::to_string_pretty(&claim).map_err(|e| super::output_failed(e.into()))?;
        return match output {
            None => emit(out, text),
            Some(path) => std::fs::write(path, format!("{text}\n"))
                .map_err(|e| file_failed(format_args!("cannot write {}", path.display()), e)),
        };
    }
    let ledger = ctx.open(false)?;
    match command {
        ProveCommand::Member { .. } => Ok(()),
        ProveCommand::Inclusion { event, size } => {
            let seq = super::log::find(&ledger, &event)?.seq;
            let p = ledger.prove_inclusion(seq, size)?;
            let leaf_hash = accord::proof::merkle::leaf_hash(&p.leaf);
            if ctx.json {
                let leaf = String::from_utf8_lossy(&p.leaf);
                let value = json!({"seq": p.seq, "index": p.seq - 1, "size": p.size, "leaf": leaf,
                    "leaf_hash": hash_to_hex(&leaf_hash), "path": p.path.iter().map(hash_to_hex).collect::<Vec<_>>(),
                    "root": hash_to_hex(&p.root), "root_base64": hash_to_base64(&p.root)});
                return emit_json(out, &value);
            }
            let mut text = format!(
                "seq {} is leaf {} of the tree of {} events\nroot {} ({})\nleaf {}\npath ({} hashes, leaf to root)",
                p.seq,
                p.seq - 1,
                p.size,
                hash_to_base64(&p.root),
                hash_to_hex(&p.root),
                hash_to_hex(&leaf_hash),
                p.path.len()
            );
            for h in &p.path {
                text.push_str(&format!("\n  {}", hash_to_hex(h)));
            }
            emit(out, text)
        }
        ProveCommand::Consistency { from, to } => {
            let p = ledger.prove_consistency(from, to)?;
            if ctx.json {
                let value = json!({"from": p.from, "to": p.to, "from_root": hash_to_hex(&p.from_root),
                    "to_root": hash_to_hex(&p.to_root), "path": p.path.iter().map(hash_to_hex).collect::<Vec<_>>()});
                return emit_json(out, &value);
            }
            let mut text = format!(
                "the tree of {} events extends the tree of its first {}\nfrom root {} ({})\nto root   {} ({})\npath ({} hashes)",
                p.to,
                p.from,
                hash_to_base64(&p.from_root),
                hash_to_hex(&p.from_root),
                hash_to_base64(&p.to_root),
                hash_to_hex(&p.to_root),
                p.path.len()
            );
            for h in &p.path {
                text.push_str(&format!("\n  {}", hash_to_hex(h)));
            }
            emit(out, text)
        }
    }
}

/// `accord verify-claim FILE --key VKEY`: checks a claim with no ledger.
pub fn verify_claim(ctx: &Context, file: &Path, key: &str, out: Out<'_>) -> Result<(), Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| file_failed(format_args!("cannot read the claim {}", file.display()), e))?;
    let claim: accord::ledger::Claim = serde_json::from_str(&text)
        .map_err(|e| Error::usage(format!("{} is not a claim file: {e}", file.display())))?;
    let checkpoint = accord::ledger::verify_claim(&claim, &verifiers(key)?)?;
    let reading = match &claim.reading.status {
        Some(status) => status.clone(),
        None => format!("one of {}", claim.reading.possible.join(", ")),
    };
    if ctx.json {
        return emit_json(
            out,
            &json!({"ok": true, "org": claim.org, "party": claim.party, "at": claim.at, "reading": claim.reading,
                    "events": claim.events.len(), "checkpoint": {"origin": checkpoint.origin, "size": checkpoint.size}}),
        );
    }
    emit(
        out,
        format!(
            "ok: {} in {} on {}: {reading}\n{} proved in the tree of {} of {} (signature checked)",
            claim.party,
            claim.org,
            claim.at,
            super::render::count(claim.events.len(), "event", "events"),
            super::render::count(checkpoint.size as usize, "event", "events"),
            checkpoint.origin
        ),
    )
}
