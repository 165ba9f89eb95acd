//! `accord export`, `log`, `show`, `head`: the log as recorded.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use clap::Args;
use clap::builder::PossibleValuesParser;

use accord::Error;
use accord::ledger::{EVERY, Ledger, LedgerError, Progress, decode};
use accord::model::envelope::Envelope;
use accord::model::id::{OrgId, PartyId, parse_event_id};
use accord::model::schema::TYPES;
use accord::projection::select::Selection;

use super::progress::Bar;
use super::query::parse_day;
use super::{Context, Out, emit, emit_json, file_failed, output_failed, render, usage};

/// `accord log`'s options.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// Only the events of this org
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
    /// Start at this log position
    #[arg(long, value_name = "N", default_value_t = 1)]
    from_seq: u64,
    /// At most N events: the last N that pass the other filters, still in log order (as `tail -n`)
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    max_count: Option<usize>,
    /// At most N events: the first N from --from-seq on that pass the other filters (page through the log with --from-seq)
    #[arg(long, value_name = "N", conflicts_with = "max_count")]
    limit: Option<usize>,
    /// Only events of this type (repeat for several)
    #[arg(long = "type", value_name = "TYPE", value_parser = PossibleValuesParser::new(TYPES))]
    types: Vec<String>,
    /// Only events that name this party (as a member or an exercise participant), and their retractions and corrections
    #[arg(long, value_name = "ID")]
    member: Option<String>,
    /// Only events whose effective date may fall on or after DAY (its range ends on or after DAY); undated events are left out
    #[arg(long, value_name = "DAY")]
    since: Option<String>,
    /// Only events whose effective date may fall on or before DAY (its range starts on or before DAY); undated events are left out
    #[arg(long, value_name = "DAY")]
    until: Option<String>,
    /// Show the whole event id, the record time, the whole source and who recorded each event
    #[arg(long)]
    long: bool,
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
    org.map(|o| OrgId::parse(o).map_err(|e| usage("--org", e))).transpose()
}

pub fn export(ctx: &Context, org: Option<&str>, output: Option<&Path>, out: Out<'_>) -> Result<(), Error> {
    let org = parse_org(org)?;
    let ledger = ctx.open(false)?;
    // To a file, or to stdout that is not the terminal: progress by seq (of
    // the head's, also for one org's envelopes).
    let bar =
        if output.is_some() { Bar::events(ctx, "exporting") } else { Bar::events_beside_output(ctx, "exporting") };
    bar.total(ledger.head()?.seq);
    // Exported bytes are the stored bytes, each checked before it is written.
    let write_all = |sink: &mut dyn Write| {
        for_each_raw(&ledger, org.as_ref(), 1, |seq, bytes| {
            if seq % EVERY == 0 {
                bar.done(seq);
            }
            sink.write_all(bytes).and_then(|()| sink.write_all(b"\n")).map_err(output_failed)
        })?;
        sink.flush().map_err(output_failed)
    };
    let Some(path) = output else { return write_all(out) };
    if path.exists() && !path.is_file() {
        // A device or a pipe (`-o /dev/stdout`): written straight through.
        let f = std::fs::OpenOptions::new().write(true).open(path);
        let f = f.map_err(|e| file_failed(format_args!("cannot write {}", path.display()), e))?;
        return write_all(&mut BufWriter::with_capacity(FILE_BLOCK, f));
    }
    // An export is a backup: it appears under its name only once whole and
    // synced; a failed one leaves nothing that looks like a backup.
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.accord-partial"));
    let io = |what: &str, e: std::io::Error| file_failed(format_args!("{what} {}", path.display()), e);
    let written = File::create(&tmp).map_err(|e| io("cannot create", e)).and_then(|f| {
        let mut file = BufWriter::with_capacity(FILE_BLOCK, WrittenBack::new(f));
        write_all(&mut file)?;
        let f = file.into_inner().map_err(|e| io("cannot write", e.into_error()))?;
        f.file.sync_all().map_err(|e| io("cannot write", e))
    });
    match written.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| io("cannot write", e))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// How many bytes an export writes before it has the system start writing
/// them to the disk ([`WrittenBack`]).
const WRITEBACK: u64 = 4 << 20;

/// The pieces in which `export -o` writes its file. With `BufWriter`'s
/// 8 KiB, an export of 1M events (425 MB) made 52,638 `write` calls (406
/// now, `strace -c`), and their cost in the kernel was half its system
/// time: five interleaved exports each to a new file, 1.26–1.70 s (system
/// 0.27–0.51 s) against 1.71–2.29 s (0.65–0.99 s); 64 KiB, as standard
/// output has, gave 1.43–1.78 s.
const FILE_BLOCK: usize = 1 << 20;

/// A file whose bytes are handed to the disk as they are written, every
/// [`WRITEBACK`] bytes, without waiting (Linux's `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`): the disk writes while the export goes on, and
/// the `fsync` at the end, still what makes the export durable, has little
/// left to write. That `fsync` was 0.36 s of a 2.0 s export of 1M events.
struct WrittenBack {
    file: File,
    written: u64,
    /// Where the bytes not yet handed to the disk begin.
    handed: u64,
}

impl WrittenBack {
    fn new(file: File) -> WrittenBack {
        WrittenBack { file, written: 0, handed: 0 }
    }

    #[cfg(target_os = "linux")]
    fn hand_to_disk(&mut self) {
        use std::os::fd::AsRawFd;
        let (Ok(from), Ok(len)) = (i64::try_from(self.handed), i64::try_from(self.written - self.handed)) else {
            return;
        };
        // SAFETY: a system call on a descriptor this `File` holds open, with
        // no memory passed. Its result is not needed: it only starts writes
        // early; if it fails, the `fsync` at the end writes them, and says
        // if that fails.
        unsafe { libc::sync_file_range(self.file.as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE) };
        self.handed = self.written;
    }

    #[cfg(not(target_os = "linux"))]
    fn hand_to_disk(&mut self) {}
}

impl Write for WrittenBack {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.handed >= WRITEBACK {
            self.hand_to_disk();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl LogArgs {
    /// The filters, checked: a malformed value is a usage error.
    fn selection(&self) -> Result<Selection, Error> {
        let party = self.member.as_deref().map(|m| PartyId::parse(m).map_err(|e| usage("--member", e))).transpose()?;
        let since = self.since.as_deref().map(|d| parse_day("--since", d)).transpose()?;
        let until = self.until.as_deref().map(|d| parse_day("--until", d)).transpose()?;
        if let (Some(since), Some(until)) = (since, until)
            && since > until
        {
            return Err(Error::usage(format!(
                "--since {since} is after --until {until}: give the earlier day as --since"
            )));
        }
        Ok(Selection::new(self.types.clone(), party, since, until))
    }
}

pub fn log(ctx: &Context, args: &LogArgs, out: Out<'_>) -> Result<(), Error> {
    let org = parse_org(args.org.as_deref())?;
    let mut selection = args.selection()?;
    let ledger = ctx.open(false)?;
    let head = ledger.head()?.seq;
    let org_width = match &org {
        Some(org) => org.as_str().len(),
        None => ledger.orgs()?.iter().map(|o| o.as_str().len()).max().unwrap_or(0),
    };
    let columns = render::Columns::log(head, org_width, args.long);
    let mut from_seq = args.from_seq.max(1);
    // Unfiltered, the last N are the last N seqs.
    if let (Some(n), None, true) = (args.max_count, &org, selection.is_all()) {
        from_seq = from_seq.max((head + 1).saturating_sub(n as u64));
    }
    let mut print = |seq: u64, bytes: &[u8], env: Option<Envelope>| -> Result<(), Error> {
        if ctx.json {
            return out.write_all(bytes).and_then(|()| out.write_all(b"\n")).map_err(output_failed);
        }
        let env = match env {
            Some(env) => env,
            None => decode(seq, bytes)?,
        };
        emit(out, columns.line(env.seq, &env.recorded_at, &env.recorded_by, &env.event))
    };
    let Some(n) = args.max_count else {
        // `--limit`: the scan stops once that many are printed (the log
        // after them is not read, nor checked).
        let limit = args.limit.unwrap_or(usize::MAX);
        let mut printed = 0;
        if limit == 0 {
            return Ok(());
        }
        let scanned = for_each_raw(&ledger, org.as_ref(), from_seq, |seq, bytes| {
            if selection.is_all() {
                print(seq, bytes, None)?;
            } else {
                let env = decode(seq, bytes)?;
                if !selection.keeps(&env.event) {
                    return Ok(());
                }
                print(seq, bytes, Some(env))?;
            }
            printed += 1;
            // Stops the scan: not an interruption, see below.
            if printed == limit { Err(Error::Interrupted) } else { Ok(()) }
        });
        return match scanned {
            Err(Error::Interrupted) if printed == limit => Ok(()),
            other => other,
        };
    };
    // The last N kept, in log order.
    let mut last: VecDeque<(u64, Vec<u8>, Envelope)> = VecDeque::with_capacity(n.min(4096));
    if n > 0 {
        for_each_raw(&ledger, org.as_ref(), from_seq, |seq, bytes| {
            let env = decode(seq, bytes)?;
            if selection.keeps(&env.event) {
                if last.len() == n {
                    last.pop_front();
                }
                last.push_back((seq, bytes.to_vec(), env));
            }
            Ok(())
        })?;
    }
    last.into_iter().try_for_each(|(seq, bytes, env)| print(seq, &bytes, Some(env)))
}

/// Which event `show` is asked for: a seq, a whole id, or the first hex
/// digits of one (4 or more).
enum Wanted {
    Seq(u64),
    Id(uuid::Uuid),
    Prefix(String),
    /// All digits: a seq, or the start of an id.
    SeqOrPrefix(u64, String),
}

fn wanted(text: &str) -> Result<Wanted, Error> {
    if let Ok(id) = parse_event_id(text) {
        return Ok(Wanted::Id(id));
    }
    let hex: String = text.chars().filter(|&c| c != '-').collect::<String>().to_ascii_lowercase();
    let is_hex = !hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let seq = text.parse::<u64>().map_err(|_| Error::usage(format!("`{text}` is too large a seq")))?;
        return Ok(if hex.len() >= 4 { Wanted::SeqOrPrefix(seq, hex) } else { Wanted::Seq(seq) });
    }
    if !is_hex || text.starts_with('-') {
        return Err(Error::usage(format!(
            "{} is not an event id, a seq or the first 4 or more hex digits of an event id",
            accord::error::quote(text)
        )));
    }
    if hex.len() < 4 {
        return Err(Error::usage(format!("`{text}` is too short an id prefix: give 4 or more hex digits")));
    }
    Ok(Wanted::Prefix(hex))
}

/// The event `show` is asked for.
pub(super) fn find(ledger: &Ledger, text: &str) -> Result<Envelope, Error> {
    let head = ledger.head()?.seq;
    let at_seq = |seq: u64| -> Result<Envelope, Error> {
        if seq == 0 || seq > head {
            return Err(LedgerError::NoSeq { seq, head }.into());
        }
        Ok(ledger.checked(seq)?.ok_or(LedgerError::Gap { seq })?)
    };
    let (seq, prefix) = match wanted(text)? {
        Wanted::Id(id) => return Ok(ledger.find(&id)?.ok_or(LedgerError::EventNotFound { id })?),
        Wanted::Seq(seq) => return at_seq(seq),
        Wanted::Prefix(hex) => (None, hex),
        Wanted::SeqOrPrefix(seq, hex) => (Some(seq).filter(|&s| s >= 1 && s <= head), hex),
    };
    let mut found = ledger.find_prefix(&prefix)?;
    if let Some(seq) = seq {
        found.retain(|&(_, s)| s != seq);
        if found.is_empty() {
            return at_seq(seq);
        }
        found.insert(0, (at_seq(seq)?.event.id, seq));
    }
    match found.as_slice() {
        [] => Err(LedgerError::NoIdWithPrefix { prefix: text.to_owned() }.into()),
        [(id, _)] => Ok(ledger.find(id)?.ok_or(LedgerError::EventNotFound { id: *id })?),
        _ => {
            const SHOWN: usize = 10;
            let mut candidates = Vec::new();
            for (i, (id, s)) in found.iter().take(SHOWN).enumerate() {
                let env = ledger.checked(*s)?.ok_or(LedgerError::Gap { seq: *s })?;
                let e = &env.event;
                let date = e.date.map(|d| format!(" {d}")).unwrap_or_default();
                let what = format!("{} {}{date}", e.org, e.type_name().replace('_', " "));
                candidates.push(if i == 0 && Some(*s) == seq {
                    format!("seq {s} (event {}, {what})", render::short(id))
                } else {
                    format!("{} (seq {s}, {what})", render::short(id))
                });
            }
            let more = found.len().saturating_sub(SHOWN);
            Err(LedgerError::AmbiguousPrefix { prefix: text.to_owned(), candidates, more }.into())
        }
    }
}

pub fn show(ctx: &Context, id: &str, out: Out<'_>) -> Result<(), Error> {
    // A malformed argument is refused before the ledger is opened.
    wanted(id)?;
    let ledger = ctx.open(false)?;
    let env = find(&ledger, id)?;
    if ctx.json {
        return emit(out, env.to_json());
    }
    let record = ledger.org(&env.event.org, ledger.head()?.seq)?;
    let corrected: Vec<String> =
        record.corrections_of(&env.event.id).iter().map(|r| render::correction(&r.event, r.seq)).collect();
    emit(out, render::envelope(&env, &corrected))
}

pub fn head(ctx: &Context, out: Out<'_>) -> Result<(), Error> {
    let ledger = ctx.open(false)?;
    let head = ledger.head()?;
    if ctx.json { emit_json(out, &head) } else { emit(out, format!("seq {}\nhash {}", head.seq, head.hash)) }
}
