//! The command layer: clap definitions, global options, rendering, exit codes.

mod append;
mod audit;
mod import;
mod log;
mod query;
mod render;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use accord::ledger::{AsOf, Ledger};
use accord::store::Options;
use accord::{Error, ErrorKind};

#[derive(Parser)]
#[command(name = "accord", version, about = "An event-sourced, hash-chained ledger of membership decisions")]
pub struct Cli {
    /// The ledger directory [default: $XDG_DATA_HOME/accord/ledger, else ~/.local/share/accord/ledger]
    #[arg(long, global = true, env = "ACCORD_LEDGER", value_name = "PATH")]
    ledger: Option<PathBuf>,

    /// Who records events (recorded_by) [default: $ACCORD_ACTOR, else the OS user name]
    #[arg(long, global = true, env = "ACCORD_ACTOR", value_name = "NAME")]
    actor: Option<String>,

    /// How long to wait for a ledger held by another accord process, then exit 4
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10.0)]
    wait: f64,

    /// Print data as JSON (one object, or NDJSON for lists of events)
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Record one event, given as JSON (argument or stdin) or with flags
    Append(Box<append::AppendArgs>),
    /// Record every event of NDJSON files, directories of them, or - (stdin); all or nothing
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Write the envelopes as NDJSON in log order (a full export restores the identical log)
    Export {
        #[arg(long)]
        org: Option<String>,
        /// Write to FILE instead of stdout
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Show the envelopes in log order
    Log {
        #[arg(long)]
        org: Option<String>,
        #[arg(long, value_name = "N", default_value_t = 1)]
        from_seq: u64,
    },
    /// Show one event
    Show { id: String },
    /// Show the last log position and its hash
    Head,
    /// List the organizations with their founding date and member count today
    Orgs(ViewArgs),
    /// Members of an org on a day, as the ledger stood at a log position or time
    Members {
        org: String,
        /// The day (YYYY-MM-DD) [default: today, UTC]
        #[arg(long, value_name = "DAY")]
        at: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// The org's events that count, in effective-date order
    History {
        org: String,
        #[arg(long, value_name = "ID")]
        member: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Who joined, left or changed status between two days
    Diff {
        org: String,
        #[arg(long, value_name = "DAY")]
        from: String,
        #[arg(long, value_name = "DAY")]
        to: String,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Verify the log or an export; replay it
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

/// The transaction-time view: `--seq N` or `--known-at TIME`.
#[derive(Args, Clone, Debug, Default)]
pub struct ViewArgs {
    /// Read the log as it stood at this log position
    #[arg(long, value_name = "N", conflicts_with = "known_at")]
    seq: Option<u64>,
    /// Read the log as it stood at this time (RFC 3339, or a day: its end, UTC)
    #[arg(long, value_name = "TIME")]
    known_at: Option<String>,
}

impl ViewArgs {
    fn as_of(&self) -> Result<AsOf, Error> {
        if let Some(n) = self.seq {
            return Ok(AsOf::Seq(n));
        }
        let Some(t) = &self.known_at else { return Ok(AsOf::Now) };
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(t) {
            return Ok(AsOf::Time(t.with_timezone(&chrono::Utc)));
        }
        let day = accord::date::Day::parse(t).map_err(|_| {
            Error::rejected(format!(
                "--known-at {} is neither an RFC 3339 time nor a day (YYYY-MM-DD)",
                accord::error::quote(t)
            ))
        })?;
        let end = day.to_naive().and_hms_micro_opt(23, 59, 59, 999_999).map(|t| t.and_utc());
        end.map(AsOf::Time).ok_or_else(|| Error::rejected("--known-at is out of range"))
    }
}

/// What every command gets: the global options, resolved.
pub struct Context {
    ledger_dir: PathBuf,
    actor: Option<String>,
    wait: Duration,
    json: bool,
}

impl Context {
    fn open(&self, create: bool) -> Result<Ledger, Error> {
        Ledger::open(&self.ledger_dir, &Options { wait: self.wait, create })
    }

    fn actor(&self) -> String {
        self.actor
            .clone()
            .filter(|a| !a.is_empty())
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

fn default_ledger() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    match data {
        Some(d) => d.join("accord").join("ledger"),
        None => PathBuf::from("accord-ledger"),
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if !(cli.wait.is_finite() && cli.wait >= 0.0 && cli.wait < 1e9) {
        eprintln!("accord: --wait must be a number of seconds, 0 or more");
        return ExitCode::from(2);
    }
    let ctx = Context {
        ledger_dir: cli.ledger.clone().unwrap_or_else(default_ledger),
        actor: cli.actor.clone(),
        wait: Duration::from_secs_f64(cli.wait),
        json: cli.json,
    };
    let mut out = std::io::stdout().lock();
    let result = run(&ctx, cli.command, &mut out)
        .and_then(|()| out.flush().map_err(|e| Error::io(format!("cannot write the output: {e}"))));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`accord log | head`) is not an error of ours.
        Err(e) if e.kind() == ErrorKind::Io && e.message().contains("Broken pipe") => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accord: {e}");
            ExitCode::from(exit_code(e.kind()))
        }
    }
}

pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Rejected | ErrorKind::Io => 1,
        ErrorKind::Integrity => 3,
        ErrorKind::Busy => 4,
    }
}

type Out<'a> = &'a mut dyn Write;

fn run(ctx: &Context, command: Command, out: Out<'_>) -> Result<(), Error> {
    match command {
        Command::Append(args) => append::run(ctx, *args, out),
        Command::Import { paths } => import::run(ctx, &paths, out),
        Command::Export { org, output } => log::export(ctx, org.as_deref(), output.as_deref(), out),
        Command::Log { org, from_seq } => log::log(ctx, org.as_deref(), from_seq, out),
        Command::Show { id } => log::show(ctx, &id, out),
        Command::Head => log::head(ctx, out),
        Command::Orgs(view) => query::orgs(ctx, &view, out),
        Command::Members { org, at, view } => query::members(ctx, &org, at.as_deref(), &view, out),
        Command::History { org, member, view } => query::history(ctx, &org, member.as_deref(), &view, out),
        Command::Diff { org, from, to, view } => query::diff(ctx, &org, &from, &to, &view, out),
        Command::Audit(cmd) => audit::run(ctx, cmd, out),
    }
}

/// Writes to the output, turning a failure into one sentence.
fn emit(out: Out<'_>, text: impl std::fmt::Display) -> Result<(), Error> {
    writeln!(out, "{text}").map_err(|e| Error::io(format!("cannot write the output: {e}")))
}
