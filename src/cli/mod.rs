//! The command layer: clap definitions, global options, rendering, exit codes.

mod append;
mod audit;
mod help;
mod import;
mod interrupt;
mod log;
mod panel;
mod party;
mod progress;
mod proof;
mod query;
mod remote;
mod render;
mod serve;
mod spells;
mod user;

use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, FromArgMatches, Parser, Subcommand};

use accord::ledger::{AsOf, Ledger, LedgerError, Options, os_reason};
use accord::{Error, ErrorKind};

#[derive(Parser)]
#[command(name = "accord", version, about = "An event-sourced, hash-chained ledger of membership decisions")]
pub struct Cli {
    /// The ledger directory [default: $XDG_DATA_HOME/accord/ledger, else ~/.local/share/accord/ledger]
    #[arg(long, global = true, env = "ACCORD_LEDGER", value_name = "PATH", help_heading = GLOBAL)]
    ledger: Option<PathBuf>,

    /// Who records events (recorded_by) [default: $ACCORD_ACTOR, else the OS user name]
    #[arg(long, global = true, env = "ACCORD_ACTOR", value_name = "NAME", help_heading = GLOBAL)]
    actor: Option<String>,

    /// How long to wait for a ledger held by another accord process, then exit 4
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10.0, help_heading = GLOBAL)]
    wait: f64,

    /// Print data as JSON (one object, or NDJSON for lists of events)
    #[arg(long, global = true, help_heading = GLOBAL)]
    json: bool,

    /// No progress bar and no waiting notice (shown on stderr only when it is a terminal)
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

/// The help heading of the options every command takes.
const GLOBAL: &str = "Global options";

#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Record one event, given as JSON (argument or stdin) or with flags
    Append(Box<append::AppendArgs>),
    /// Record every event of NDJSON files, directories of them, or - (stdin); all or nothing
    Import {
        /// An NDJSON file (events or an export), a directory of *.ndjson and *.jsonl files, or - for stdin
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Record only if the log's head is still seq N (else exit 1, nothing recorded); lines already recorded are counted as such
        #[arg(long, value_name = "N")]
        expect_head: Option<u64>,
    },
    /// Write the envelopes as NDJSON in log order (a full export restores the identical log)
    Export {
        /// Only this org's envelopes (an org id, like isa)
        #[arg(long)]
        org: Option<String>,
        /// Write to FILE instead of stdout
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Show the envelopes in log order, one per line: seq, short id, org, effective date, what, source
    Log(log::LogArgs),
    /// Show one event, and what retracted or superseded it
    Show {
        /// A seq, an event id, or its first 4 or more hex digits (unique in the log)
        #[arg(value_name = "SEQ|ID|PREFIX")]
        id: String,
    },
    /// Show the last log position and its hash
    Head,
    /// List the organizations with their founding date and member count today
    Orgs(ViewArgs),
    /// Members of an org on a day, as the ledger stood at a log position or time
    Members {
        /// The org's id, like isa (`accord orgs` lists them)
        org: String,
        /// The day (YYYY-MM-DD) [default: today, UTC]
        #[arg(long, value_name = "DAY")]
        at: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// The org's events that count, in effective-date order
    History {
        /// The org's id, like isa (`accord orgs` lists them)
        org: String,
        /// Only the events that name this party, and the org's founding and dissolution
        #[arg(long, value_name = "ID")]
        member: Option<String>,
        /// Show the whole event id, the record time, the whole source and who recorded each event
        #[arg(long)]
        long: bool,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Who joined, left or changed status between two days
    Diff {
        /// The org's id, like isa (`accord orgs` lists them)
        org: String,
        /// The first day (YYYY-MM-DD)
        #[arg(long, value_name = "DAY")]
        from: String,
        /// The second day (YYYY-MM-DD), not before --from
        #[arg(long, value_name = "DAY")]
        to: String,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// One row per continuous spell of a party in a status, with the EDTF dates that began and ended it
    Spells {
        /// The org's id, like isa (`accord orgs` lists them)
        org: String,
        /// csv (with a header) or json (NDJSON, the same fields) [default: csv; json with --json]
        #[arg(long, value_enum)]
        format: Option<spells::Format>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// An SVG picture of the org's members over time, uncertain dates hatched
    Timeline {
        /// The org's id, like isa (`accord orgs` lists them)
        org: String,
        /// Write the SVG to FILE instead of stdout
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// The first day shown [default: 1 January of the founding's year]
        #[arg(long, value_name = "DAY")]
        from: Option<String>,
        /// The last day shown; spells still going on are drawn to it [default: the end of the year of the latest date in the log]
        #[arg(long, value_name = "DAY")]
        to: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Verify the log or an export; replay it
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Every party's status on sampled days: COW IGO v3 codes, CSV or NDJSON
    Panel(Box<panel::PanelArgs>),
    /// The orgs a party is or may be a member of on a day
    Party(party::PartyArgs),
    /// Print a shell completion script for accord (see README: Shell completions and man page)
    Completions {
        /// The shell the script is for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print accord's man page (roff), every command in one page
    Man,
    /// Hold the ledger and answer over HTTP (JSON); accord commands on this ledger then go through it
    Serve(serve::ServeArgs),
    /// Ed25519 keys that sign checkpoints
    #[command(subcommand)]
    Key(proof::KeyCommand),
    /// Print the log's checkpoint (C2SP tlog-checkpoint: origin, size, Merkle root), signed with --sign
    Checkpoint {
        /// Sign it with this private key (from `accord key generate`), as a C2SP signed note
        #[arg(long, value_name = "KEYFILE")]
        sign: Option<PathBuf>,
        /// Set the log's origin, its checkpoints' first line (once; default: accord/ + 16 hex digits of seq 1's hash)
        #[arg(long, value_name = "ORIGIN")]
        origin: Option<String>,
    },
    /// Merkle proofs (RFC 6962) that an event is in the log, or that the log only grew; membership claims
    #[command(subcommand)]
    Prove(proof::ProveCommand),
    /// Check a membership claim (from `accord prove member`) with no ledger: signature, proofs, reading
    VerifyClaim {
        /// The claim file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The verifier key of the claim's checkpoint, or a file holding it
        #[arg(long, value_name = "VKEY")]
        key: String,
    },
}

impl Command {
    /// Whether the command reads or writes a ledger (the others run
    /// wherever they are typed, also while a server holds the ledger).
    fn needs_ledger(&self) -> bool {
        match self {
            Command::Completions { .. } | Command::Man | Command::Key(_) | Command::VerifyClaim { .. } => false,
            Command::Audit(cmd) => cmd.needs_ledger(),
            _ => true,
        }
    }

    /// Whether the command is a long read: its answer grows with the log
    /// or with an org's whole history (`accord serve` runs these on threads
    /// of their own, at a lower priority).
    fn is_long(&self) -> bool {
        matches!(
            self,
            Command::Export { .. }
                | Command::Log(_)
                | Command::History { .. }
                | Command::Spells { .. }
                | Command::Timeline { .. }
                | Command::Panel(_)
        )
    }

    /// Whether the command records events or settings (the server's
    /// `--read-only` and token refuse those).
    fn records(&self) -> bool {
        match self {
            Command::Append(_) | Command::Import { .. } => true,
            Command::Checkpoint { origin, .. } => origin.is_some(),
            _ => false,
        }
    }

    /// Whether the command reads its standard input.
    fn reads_stdin(&self) -> bool {
        match self {
            Command::Append(args) => args.reads_stdin(),
            Command::Import { paths, .. } => paths.iter().any(|p| p.as_os_str() == "-"),
            _ => false,
        }
    }

    /// Makes the relative paths of the command line relative to `cwd`,
    /// where its client was, for a server elsewhere.
    fn rebase(&mut self, cwd: &std::path::Path) {
        let one = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                *p = serve::rebased(cwd, p);
            }
        };
        match self {
            Command::Import { paths, .. } => paths.iter_mut().for_each(|p| *p = serve::rebased(cwd, p)),
            Command::Export { output, .. } | Command::Timeline { output, .. } => one(output),
            Command::Checkpoint { sign, .. } => one(sign),
            Command::Prove(cmd) => cmd.rebase(cwd),
            Command::Audit(cmd) => cmd.rebase(cwd),
            _ => {}
        }
    }
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
        match &self.known_at {
            // Malformed, it is a usage error (exit 2) like a malformed --seq.
            Some(t) => AsOf::known_at(t),
            None => Ok(AsOf::Now),
        }
    }
}

/// What every command gets: the global options, resolved.
pub struct Context {
    ledger_dir: PathBuf,
    actor: Option<String>,
    wait: Duration,
    json: bool,
    quiet: bool,
    /// Set when `accord serve` runs the command on the ledger it holds.
    served: Option<Served>,
}

/// A command run by `accord serve`: the ledger it holds, and the command's
/// standard input as its client sent it.
pub struct Served {
    ledger: Arc<Ledger>,
    stdin: std::cell::RefCell<Vec<u8>>,
}

/// The ledger a command works on: opened by this process for the command,
/// or held by `accord serve` for all its requests.
pub enum Held {
    Own(Box<Ledger>),
    Shared(Arc<Ledger>),
}

impl std::ops::Deref for Held {
    type Target = Ledger;

    fn deref(&self) -> &Ledger {
        match self {
            Held::Own(ledger) => ledger,
            Held::Shared(ledger) => ledger,
        }
    }
}

impl Held {
    /// See [`Ledger::close_discarding_if_new`]; a served ledger stays open.
    fn close_discarding_if_new(self) -> Result<(), Error> {
        match self {
            Held::Own(ledger) => ledger.close_discarding_if_new(),
            Held::Shared(_) => Ok(()),
        }
    }
}

impl Context {
    /// Opens the ledger, with sled's cache for a command that records
    /// (`create`) or one that reads ([`Options::new`]).
    fn open(&self, create: bool) -> Result<Held, Error> {
        self.open_caching(create, None)
    }

    /// [`Context::open`], with sled's cache for `cache` if given.
    fn open_caching(&self, create: bool, cache: Option<accord::store::Cache>) -> Result<Held, Error> {
        if let Some(served) = &self.served {
            return Ok(Held::Shared(served.ledger.clone()));
        }
        let options = self.options(create);
        let cache = cache.unwrap_or(options.cache);
        // The process ends with the command (`Options::exiting`).
        Ledger::open(&self.ledger_dir, &Options { exiting: true, cache, ..options }).map(|l| Held::Own(Box::new(l)))
    }

    /// Opens the ledger for `audit verify`, which reports a missing or
    /// wrong head marker itself (and can restore it from a checkpoint).
    fn open_for_audit(&self) -> Result<Held, Error> {
        if let Some(served) = &self.served {
            return Ok(Held::Shared(served.ledger.clone()));
        }
        Ledger::open(&self.ledger_dir, &Options { audit: true, exiting: true, ..self.options(false) })
            .map(|l| Held::Own(Box::new(l)))
    }

    /// The command's standard input: the process's, or what the client of
    /// `accord serve` sent.
    fn stdin(&self) -> Box<dyn Read + Send> {
        match &self.served {
            Some(served) => Box::new(std::io::Cursor::new(served.stdin.take())),
            None => Box::new(std::io::stdin()),
        }
    }

    /// How every command opens a ledger: waiting up to `--wait`, and saying
    /// so once on a terminal.
    fn options(&self, create: bool) -> Options {
        Options { on_wait: progress::on_wait(self), ..Options::new(self.wait, create) }
    }

    /// `recorded_by`: `--actor`, else `ACCORD_ACTOR` (both through clap),
    /// else the OS user name (SPEC §4).
    fn actor(&self) -> String {
        self.actor.clone().filter(|a| !a.is_empty()).unwrap_or_else(user::os_user)
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

/// Whether the command line asks for `--json` (before a `--`): read
/// before parsing, so that a usage error is reported as JSON too.
fn asks_for_json() -> bool {
    std::env::args_os().skip(1).take_while(|a| a != "--").any(|a| a == "--json")
}

/// Reports a failure on stderr: one sentence, or with `--json` one line of
/// JSON, `{"error":"…","code":N}`; returns the exit code.
fn fail(json: bool, message: &str, code: u8) -> ExitCode {
    ExitCode::from(report(json, message, code))
}

/// [`fail`]'s report; returns the code.
fn report(json: bool, message: &str, code: u8) -> u8 {
    if json {
        // Written by hand to keep SPEC's key order.
        eprintln!("{{\"error\":{},\"code\":{code}}}", serde_json::Value::from(message));
    } else {
        eprintln!("accord: {message}");
    }
    code
}

/// A malformed value on the command line (`what`: the option or
/// argument): a usage error, exit 2.
fn usage(what: &str, e: impl std::fmt::Display) -> Error {
    Error::usage(format!("{what}: {e}"))
}

thread_local! {
    /// What [`parse`] matches a command line against, built once per thread:
    /// a server parses a command line per request. Two: without the help's
    /// examples, and with them, built only for a command line that may ask
    /// for help (`may_ask_for_help`).
    static COMMANDS: std::cell::RefCell<[Option<clap::Command>; 2]> = const { std::cell::RefCell::new([None, None]) };
}

/// Drops the commands [`parse`] built, for a process that parses one
/// command line: the memory they took is then used again by what the
/// command does. Kept, they made a one-shot `members` touch about 40 more
/// fresh pages (`perf stat`), at about 3 µs each on the bench's VM.
fn forget_commands() {
    COMMANDS.with_borrow_mut(|commands| *commands = [None, None]);
}

/// Parses a command line (from `accord` on): the command, or `Ok` of what
/// `--help` or `--version` prints, or `Err` of a usage error's sentence.
fn parse<I, T>(args: I) -> Result<Cli, Result<clap::Error, String>>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let helps = may_ask_for_help(&args);
    let matched = COMMANDS.with_borrow_mut(|commands| {
        let build = if helps { help::command } else { <Cli as clap::CommandFactory>::command };
        (commands[usize::from(helps)].get_or_insert_with(build))
            .try_get_matches_from_mut(args)
            .and_then(|m| Cli::from_arg_matches(&m))
    });
    match matched {
        Ok(cli) => Ok(cli),
        // --help and --version print as clap renders them.
        Err(e) if !e.use_stderr() => Err(Ok(e)),
        // A usage error is one line like every error (SPEC §6): clap's first
        // paragraph, without its usage block, with clap's suggestion if it
        // has one, pointing to the help of the command that was mistyped.
        Err(e) => Err(Err(format!("{}{}; see `{} --help`", usage_sentence(&e), suggestion(&e), command_path(&e)))),
    }
}

/// Whether clap may print a help text for this command line: `--help`,
/// `help`, or `-h` alone or among other short flags (`-qh`). Only a help
/// text shows the examples ([`help::command`]), whose writing took about a
/// third of parsing a command line; any other needs the commands alone.
fn may_ask_for_help(args: &[std::ffi::OsString]) -> bool {
    args.iter().skip(1).any(|arg| {
        let arg = arg.as_encoded_bytes();
        arg == b"--help" || arg == b"help" || (arg.starts_with(b"-") && !arg.starts_with(b"--") && arg.contains(&b'h'))
    })
}

pub fn main() -> ExitCode {
    let parsed = parse(std::env::args_os());
    forget_commands();
    let cli = match parsed {
        Ok(cli) => cli,
        Err(Ok(help)) => {
            let _ = help.print();
            return ExitCode::SUCCESS;
        }
        Err(Err(message)) => return fail(asks_for_json(), &message, 2),
    };
    if !(cli.wait.is_finite() && cli.wait >= 0.0 && cli.wait < 1e9) {
        return fail(cli.json, "--wait must be a number of seconds, 0 or more", 2);
    }
    let ctx = Context {
        ledger_dir: cli.ledger.clone().unwrap_or_else(default_ledger),
        actor: cli.actor.clone(),
        wait: Duration::from_secs_f64(cli.wait),
        json: cli.json,
        quiet: cli.quiet,
        served: None,
    };
    // A server holds this ledger: the command runs there, as it would here.
    if cli.command.needs_ledger()
        && !matches!(cli.command, Command::Serve(_))
        && let Some(code) = remote::forward(&ctx, &cli.command)
    {
        return code;
    }
    // A terminal is written line by line, as it is read; anything else
    // (a file, a pipe) in blocks: standard output writes each line the
    // moment it ends, and `export > file` made a million system calls.
    let stdout = std::io::stdout().lock();
    let (mut lines, mut blocks);
    let out: &mut dyn Write = if stdout.is_terminal() {
        lines = stdout;
        &mut lines
    } else {
        blocks = BufWriter::with_capacity(OUT_BLOCK, stdout);
        &mut blocks
    };
    // sled may panic on damaged files (in open, in a read, in a thread of its
    // own): the hook records the message instead of printing it, and a panic
    // becomes one sentence and exit 3 (SPEC §6), never a backtrace.
    std::panic::set_hook(Box::new(record_panic));
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&ctx, cli.command, &mut *out).and_then(|()| out.flush().map_err(output_failed))
    }));
    let result = match (ran, take_panic()) {
        (Ok(result), None) => result,
        (_, panic) => Err(LedgerError::Unreadable {
            dir: ctx.ledger_dir.clone().into(),
            panic: panic.map(String::into_boxed_str),
        }
        .into()),
    };
    let code = match result {
        Ok(()) => 0,
        // A closed pipe (`accord log | head`) is not an error of ours.
        Err(e) if is_closed_pipe(&e) => 0,
        Err(e) => report(ctx.json, &e.to_string(), exit_code(e.kind())),
    };
    // What was written before an error goes out too.
    let _ = out.flush();
    end(code)
}

/// The block in which standard output is written when it is not a terminal.
const OUT_BLOCK: usize = 64 << 10;

/// Ends the process now: the command has run, its ledger is closed and
/// what it wrote flushed (stderr is not buffered). The C library's exit
/// handlers are skipped (mimalloc's ran in every process, before
/// .cargo/config.toml built it without them): they give back memory in a
/// process that ends, and took about 0.35 ms of each one-shot command
/// (`head` on the 1M-event ledger, median of 101 interleaved runs: 13.17 ms
/// against 13.53).
fn end(code: u8) -> ! {
    // SAFETY: `_exit` ends the process; nothing of ours is left to run
    // (Rust runs no destructor of statics, and stdout was flushed above).
    unsafe { libc::_exit(i32::from(code)) }
}

/// Whether writing failed because the reader of a pipe (`head`) went away.
fn is_closed_pipe(e: &Error) -> bool {
    matches!(e.innermost(), Error::File { error, .. } if error.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The first panic of the process: its message's first line, and where.
static PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn record_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message =
        payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    let first = message.and_then(|m| m.lines().next()).unwrap_or("no message");
    let text = match info.location() {
        Some(at) if at.file().contains("sled") => format!("sled: {first}"),
        Some(at) => format!("{first}, at {}:{}", at.file(), at.line()),
        None => first.to_owned(),
    };
    let mut slot = PANIC.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    slot.get_or_insert(text);
}

fn take_panic() -> Option<String> {
    PANIC.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
}

/// The first paragraph of a clap error, on one line, without `error: `.
fn usage_sentence(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap renders the whole help here; its usage line says what is missing.
        let usage = rendered.lines().find_map(|l| l.trim().strip_prefix("Usage: ")).unwrap_or("accord <COMMAND>");
        return format!("a subcommand is missing: usage is {usage}");
    }
    let first: Vec<&str> = rendered.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    let text = first.join(" ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    if text.is_empty() { "invalid command line".to_owned() } else { text.to_owned() }
}

/// Clap's "did you mean" for a mistyped subcommand, option or value, as
/// ` (did you mean 'members'?)`; empty without one.
fn suggestion(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let kinds = [ContextKind::SuggestedSubcommand, ContextKind::SuggestedArg, ContextKind::SuggestedValue];
    let found: Vec<String> = match kinds.iter().find_map(|kind| e.get(*kind)) {
        Some(ContextValue::String(one)) => vec![one.clone()],
        Some(ContextValue::Strings(some)) => some.clone(),
        _ => Vec::new(),
    };
    if found.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = found.iter().map(|s| format!("'{s}'")).collect();
    format!(" (did you mean {}?)", quoted.join(" or "))
}

/// The command whose usage the error shows (`accord members`, `accord audit
/// verify`): its usage line up to the first argument.
fn command_path(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let usage = match e.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(usage)) => usage.to_string(),
        // clap renders the whole help when a subcommand is missing.
        _ => e.render().to_string(),
    };
    let line = usage.lines().find_map(|l| l.trim().strip_prefix("Usage: ")).unwrap_or("accord");
    let words: Vec<&str> = line.split_whitespace().take_while(|w| !w.starts_with(['[', '<', '-'])).collect();
    if words.is_empty() { "accord".to_owned() } else { words.join(" ") }
}

pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Invalid | ErrorKind::RuleBroken | ErrorKind::Conflict | ErrorKind::NotFound | ErrorKind::Io => 1,
        ErrorKind::Usage => 2,
        ErrorKind::Integrity => 3,
        ErrorKind::Busy => 4,
        // What a shell reports for a command ended by Ctrl-C.
        ErrorKind::Interrupted => 130,
    }
}

type Out<'a> = &'a mut dyn Write;

fn run(ctx: &Context, command: Command, out: Out<'_>) -> Result<(), Error> {
    match command {
        Command::Append(args) => append::run(ctx, *args, out),
        Command::Import { paths, expect_head } => import::run(ctx, &paths, expect_head, out),
        Command::Export { org, output } => log::export(ctx, org.as_deref(), output.as_deref(), out),
        Command::Log(args) => log::log(ctx, &args, out),
        Command::Show { id } => log::show(ctx, &id, out),
        Command::Head => log::head(ctx, out),
        Command::Orgs(view) => query::orgs(ctx, &view, out),
        Command::Members { org, at, view } => query::members(ctx, &org, at.as_deref(), &view, out),
        Command::History { org, member, long, view } => query::history(ctx, &org, member.as_deref(), long, &view, out),
        Command::Diff { org, from, to, view } => query::diff(ctx, &org, &from, &to, &view, out),
        Command::Spells { org, format, view } => spells::spells(ctx, &org, format, &view, out),
        Command::Timeline { org, output, from, to, view } => {
            spells::timeline(ctx, &org, output.as_deref(), from.as_deref(), to.as_deref(), &view, out)
        }
        Command::Audit(cmd) => audit::run(ctx, cmd, out),
        Command::Panel(args) => panel::run(ctx, *args, out),
        Command::Party(args) => party::run(ctx, args, out),
        Command::Completions { shell } => help::completions(shell, out),
        Command::Man => help::man(out),
        Command::Serve(args) => serve::run(ctx, args, out),
        Command::Key(cmd) => proof::key(cmd, out),
        Command::Checkpoint { sign, origin } => proof::checkpoint(ctx, sign.as_deref(), origin.as_deref(), out),
        Command::Prove(cmd) => proof::prove(ctx, cmd, out),
        Command::VerifyClaim { file, key } => proof::verify_claim(ctx, &file, &key, out),
    }
}

/// `--expect-head N`: the first event a command records must be seq N + 1,
/// that is, the log's head was still seq N. An event already recorded
/// records nothing and passes, so that a retried write is idempotent.
fn expect_head(expected: Option<u64>, outcome: accord::ledger::Outcome) -> Result<(), Error> {
    match (expected, outcome) {
        (Some(expected), accord::ledger::Outcome::Recorded(seq)) if seq != expected.saturating_add(1) => {
            Err(LedgerError::HeadMoved { expected, head: seq - 1 }.into())
        }
        _ => Ok(()),
    }
}

/// The error of a command that records and failed, once its writes were
/// undone (`undone`): a failure of the system or an interruption says that
/// nothing was recorded, and what happens if even the undoing failed. A
/// file of the command's own (an input, not the ledger) says for itself what failed.
fn nothing_recorded(e: Error, undone: Result<(), Error>) -> Error {
    match (&e, e.kind()) {
        (Error::File { .. }, _) => e,
        (_, ErrorKind::Interrupted | ErrorKind::Io) => {
            LedgerError::NothingRecorded { error: Box::new(e), undone: undone.is_ok() }.into()
        }
        _ => e,
    }
}

/// A file or stream of the command's own failed: `what` it was doing, and
/// the system's reason in plain words.
fn file_failed(what: impl std::fmt::Display, error: std::io::Error) -> Error {
    Error::File { message: format!("{what}: {}", os_reason(&error)), error }
}

/// [`file_failed`], with the system's message as it gives it (its error number too).
fn file_failed_verbatim(what: impl std::fmt::Display, error: std::io::Error) -> Error {
    Error::File { message: format!("{what}: {error}"), error }
}

/// Writing the output failed.
fn output_failed(error: std::io::Error) -> Error {
    file_failed_verbatim("cannot write the output", error)
}

/// Writes to the output, turning a failure into one sentence.
fn emit(out: Out<'_>, text: impl std::fmt::Display) -> Result<(), Error> {
    writeln!(out, "{text}").map_err(output_failed)
}

/// What [`emit_json`] makes room for before it writes an answer.
const LINE_ROOM: usize = 512 << 10;

/// Writes a value as one line of JSON, whole or not at all.
fn emit_json(out: Out<'_>, value: &impl serde::Serialize) -> Result<(), Error> {
    thread_local! {
        // Kept from one answer to the next: a server writes many.
        static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    LINE.with_borrow_mut(|line| {
        line.clear();
        // Room for most answers at once: the C library maps so large a
        // block fresh, and only the pages written are touched, where
        // growing a small one copied it at each doubling (fresh pages are
        // most of a one-shot command's own cost).
        line.reserve(LINE_ROOM);
        serde_json::to_writer(&mut *line, value).map_err(|e| output_failed(e.into()))?;
        line.push(b'\n');
        let written = out.write_all(line).map_err(output_failed);
        // A one-off answer larger than most does not stay in memory.
        if line.capacity() > 1 << 20 {
            *line = Vec::new();
        }
        written
    })
}
