//! Runs one command line on the ledger `accord serve` holds: the same
//! parsing, the same command code and the same output as the CLI, written
//! to the response instead of stdout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord::ledger::Ledger;
use accord::{Error, ErrorKind};

use crate::cli::{Cli, Command, Context, Served, exit_code, is_closed_pipe, parse, take_panic};

/// What the server shares with every request.
pub struct App {
    pub ledger: Arc<Ledger>,
    pub dir: PathBuf,
    /// Held by a command that records and by an audit, one at a time.
    /// Readers take none: each reads a view of the ledger as its last
    /// commit left it ([`Ledger::committed`]), and never waits for a write.
    pub writer: Mutex<()>,
    /// `recorded_by` of writes that do not name one: `--actor`, else the OS user.
    pub actor: String,
    pub read_only: bool,
    /// `--sign`: the key `GET /v1/checkpoint` signs with.
    pub sign: Option<PathBuf>,
}

/// Who sent a request: what it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only: writes need the token (or, on a loopback address with
    /// no token set, nothing).
    Read,
    /// Reads and writes.
    Write,
}

/// One command line to run.
pub struct Job {
    /// The command line, from `accord` on.
    pub argv: Vec<String>,
    /// `recorded_by` for this job, if its client named one.
    pub actor: Option<String>,
    /// Where the client was: relative paths on its command line are from there.
    pub cwd: Option<PathBuf>,
    /// The command's standard input.
    pub stdin: Vec<u8>,
    pub access: Access,
}

/// A command that failed: its sentence, its exit code (SPEC §6) and the
/// HTTP status that says the same.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
    pub status: u16,
}

impl Failure {
    pub fn new(status: u16, code: u8, message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code, status }
    }

    /// `{"error":"…","code":N}`, as the CLI prints it with `--json`.
    pub fn json(&self) -> String {
        format!("{{\"error\":{},\"code\":{}}}", serde_json::Value::from(self.message.as_str()), self.code)
    }

    fn of(e: &Error) -> Failure {
        Failure::new(status_of(e.kind()), exit_code(e.kind()), e.to_string())
    }
}

/// The HTTP status of an error of each kind.
pub fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::Usage => 400,
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict => 409,
        ErrorKind::Invalid | ErrorKind::RuleBroken => 422,
        ErrorKind::Busy | ErrorKind::Interrupted => 503,
        ErrorKind::Integrity | ErrorKind::Io => 500,
    }
}

/// A job with its command line parsed, once: to choose where it waits,
/// then to run it.
pub struct Parsed {
    job: Job,
    cli: Result<Cli, Result<clap::Error, String>>,
}

impl Job {
    pub fn parse(self) -> Parsed {
        let cli = parse(&self.argv);
        Parsed { job: self, cli }
    }
}

impl Parsed {
    /// Whether the job takes the writer's turn ([`takes_turns`]); a command
    /// line that does not parse does not.
    pub fn takes_turns(&self) -> bool {
        matches!(&self.cli, Ok(cli) if takes_turns(&cli.command))
    }

    /// Whether the job is a long read ([`Command::is_long`]).
    pub fn is_long(&self) -> bool {
        matches!(&self.cli, Ok(cli) if cli.command.is_long() && !takes_turns(&cli.command))
    }
}

/// Whether a command runs on the ledger itself, one at a time: it records,
/// or it is an audit (which reads the indexes whole and may restore the
/// head marker). Every other command reads the last commit.
fn takes_turns(command: &Command) -> bool {
    command.records() || matches!(command, Command::Audit(_))
}

/// Runs a job to its end, writing what the command prints to `out`.
pub fn execute(app: &App, parsed: Parsed, out: &mut dyn Write) -> Result<(), Failure> {
    let Parsed { job, cli } = parsed;
    let cli = match cli {
        Ok(cli) => cli,
        Err(Ok(help)) => {
            return out
                .write_all(help.render().to_string().as_bytes())
                .map_err(|e| Failure::of(&crate::cli::output_failed(e)));
        }
        Err(Err(message)) => return Err(Failure::new(400, 2, message)),
    };
    let mut command = cli.command;
    if !command.needs_ledger() {
        return Err(Failure::new(
            400,
            2,
            "this command does not read the ledger: run it where you are, not through the server",
        ));
    }
    if command.records() {
        if app.read_only {
            return Err(Failure::new(403, 1, "the server is read-only (accord serve --read-only): nothing recorded"));
        }
        if job.access != Access::Write {
            return Err(Failure::new(
                401,
                1,
                "recording through this server needs its token (Authorization: Bearer TOKEN): nothing recorded",
            ));
        }
    }
    if let Some(cwd) = &job.cwd {
        command.rebase(cwd);
    }
    if let (Command::Checkpoint { sign, .. }, Some(key)) = (&mut command, &app.sign) {
        sign.get_or_insert_with(|| key.clone());
    }
    // The job's actor first: parsing here read the server's own ACCORD_ACTOR.
    let actor = job.actor.or(cli.actor).filter(|a| !a.is_empty()).unwrap_or_else(|| app.actor.clone());
    let ctx = Context {
        ledger_dir: app.dir.clone(),
        actor: Some(actor),
        wait: Duration::ZERO,
        json: cli.json,
        quiet: true,
        served: None,
    };
    let alone = takes_turns(&command);
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // A poisoned lock only means a command panicked while holding it;
        // the ledger's own state is guarded by the store.
        let _writing = alone.then(|| app.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        // Taken once the writer's turn has come, for a command that records.
        let ledger = if alone { app.ledger.clone() } else { Arc::new(app.ledger.committed()) };
        let ctx = Context { served: Some(Served { ledger, stdin: std::cell::RefCell::new(job.stdin) }), ..ctx };
        crate::cli::run(&ctx, command, out).and_then(|()| out.flush().map_err(crate::cli::output_failed))
    }));
    match ran {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if is_closed_pipe(&e) => Ok(()),
        Ok(Err(e)) => Err(Failure::of(&e)),
        Err(_) => {
            let what = take_panic().unwrap_or_else(|| "no message".to_owned());
            Err(Failure::new(
                500,
                3,
                format!("the command stopped on an internal error ({what}); the ledger is as its last commit left it"),
            ))
        }
    }
}

/// `path`, from `cwd` if it is relative; `-` (stdin) stays.
pub fn rebased(cwd: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() || path.as_os_str() == "-" { path.to_owned() } else { cwd.join(path) }
}
