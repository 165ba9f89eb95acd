//! accord side by side with its peers, on one generated log, in one run.
//!
//! ```sh
//! cargo build --release --workspace && target/release/accord-bench [--events N] [--orgs N] [--dir PATH]
//! ```
//!
//! - **accord**: the real `accord` binary (next to this one in target/release).
//! - **SQLite peer**: parses each event (accord's own parser, so validation
//!   is the same), chain-hashes its canonical JSON, inserts it into a table
//!   with an index on org (WAL, one transaction per 512 events, synced at the
//!   end), and folds one org's members. It does not check the rules.
//! - **raw sled**: the same envelope bytes accord stores, one key per event,
//!   batches of 512, flushed: what sled itself costs.
//!
//! Every peer runs as its own process so that peak RSS is measured alike.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use accord::model::canonical;
use accord::model::event::Event;
use serde_json::{Value, json};

const BATCH: usize = 512;
const QUERY_DAY: &str = "2030-01-01";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("sqlite-import") => sqlite_import(Path::new(&args[2]), Path::new(&args[3])),
        Some("sqlite-members") => sqlite_members(Path::new(&args[2]), &args[3]),
        Some("sled-import") => raw_sled_import(Path::new(&args[2]), Path::new(&args[3])),
        Some("sled-open") => sled_open(Path::new(&args[2])),
        _ => compare(&args[1..]),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accord-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res<T = ()> = Result<T, String>;

fn io<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

struct Measured {
    wall: Duration,
    max_rss_kb: i64,
    stdout: String,
}

/// Runs a command to its end, with its wall time and peak RSS (wait4).
fn measure(cmd: &mut Command) -> Res<Measured> {
    let start = Instant::now();
    let out_path = std::env::temp_dir().join(format!("accord-bench-{}.out", std::process::id()));
    let out = File::create(&out_path).map_err(io("temp file"))?;
    let child = cmd.stdout(out).stderr(Stdio::inherit()).spawn().map_err(io("spawn"))?;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if pid < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("{cmd:?} failed (status {status})"));
    }
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    Ok(Measured { wall, max_rss_kb: usage.ru_maxrss, stdout })
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A small deterministic PRNG (xorshift64*), so every run sees the same log.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes `events` valid events in `orgs` orgs: foundings, accessions,
/// withdrawals and rejoinings, day-precision dates, a source on each. Orgs
/// are interleaved as in a real log.
fn generate(path: &Path, events: u64, orgs: u64) -> Res<u64> {
    struct Org {
        day: i64,
        members: Vec<u64>,
        former: Vec<u64>,
        next_party: u64,
    }
    let mut rng = Rng(0x5EED_ACC0_2D00_0001);
    let mut state: Vec<Org> =
        (0..orgs).map(|_| Org { day: 0, members: vec![], former: vec![], next_party: 0 }).collect();
    let base = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).ok_or("base date")?;
    let mut out = BufWriter::new(File::create(path).map_err(io("create the log"))?);
    let mut bytes = 0u64;
    for i in 0..events {
        let o = (i % orgs) as usize;
        let org = format!("org-{o:04}");
        let s = &mut state[o];
        s.day += 1 + rng.below(20) as i64;
        let date = day_text(base, s.day);
        let source = json!({"title": format!("Generated record {i}"), "publisher": "accord-bench"});
        let event = if i < orgs {
            s.members = vec![0, 1, 2];
            s.next_party = 3;
            json!({"type":"founding","org":org,"date":date,"members":["P00000","P00001","P00002"],"name":format!("Organization {o}"),"source":source})
        } else {
            let roll = rng.below(10);
            if roll < 2 && s.members.len() > 3 {
                let at = rng.below(s.members.len() as u64) as usize;
                let p = s.members.swap_remove(at);
                s.former.push(p);
                json!({"type":"withdrawal","org":org,"date":date,"members":[format!("P{p:05}")],"source":source})
            } else if roll < 4 && !s.former.is_empty() {
                let at = rng.below(s.former.len() as u64) as usize;
                let p = s.former.swap_remove(at);
                s.members.push(p);
                json!({"type":"accession","org":org,"date":date,"members":[format!("P{p:05}")],"source":source,"note":"rejoins"})
            } else {
                let p = s.next_party;
                s.next_party += 1;
                s.members.push(p);
                json!({"type":"accession","org":org,"date":date,"members":[format!("P{p:05}")],"source":source})
            }
        };
        let line = event.to_string();
        bytes += line.len() as u64 + 1;
        writeln!(out, "{line}").map_err(io("write the log"))?;
    }
    out.flush().map_err(io("write the log"))?;
    Ok(bytes)
}

fn day_text(base: chrono::NaiveDate, days: i64) -> String {
    base.checked_add_signed(chrono::TimeDelta::days(days)).map(|d| d.to_string()).unwrap_or_default()
}

// ---------------------------------------------------------------- peers

/// The SQLite peer's import: parse, chain-hash over canonical JSON, insert.
fn sqlite_import(log: &Path, db: &Path) -> Res {
    let conn = rusqlite::Connection::open(db).map_err(io("open sqlite"))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE events(seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, org TEXT NOT NULL, envelope TEXT NOT NULL);
         CREATE INDEX events_org ON events(org, seq);",
    )
    .map_err(io("create the schema"))?;
    let reader = BufReader::new(File::open(log).map_err(io("open the log"))?);
    let mut prev = "0".repeat(64);
    let mut seq = 0u64;
    let mut tx = conn.unchecked_transaction().map_err(io("begin"))?;
    for line in reader.lines() {
        let line = line.map_err(io("read the log"))?;
        let event = Event::parse_str(&line).map_err(|e| format!("line {}: {e}", seq + 1))?;
        seq += 1;
        let mut map = event.body().clone();
        map.insert("seq".into(), seq.into());
        map.insert("recorded_at".into(), "2026-01-01T00:00:00.000000Z".into());
        map.insert("recorded_by".into(), "bench".into());
        map.insert("prev".into(), prev.clone().into());
        let hash = canonical::sha256_hex(&Value::Object(map.clone()));
        map.insert("hash".into(), hash.clone().into());
        let text = canonical::to_canonical_string(&Value::Object(map));
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO events(seq, id, org, envelope) VALUES (?1, ?2, ?3, ?4)")
                .map_err(io("prepare"))?;
            stmt.execute(rusqlite::params![seq as i64, event.id.as_bytes().as_slice(), event.org.as_str(), text])
                .map_err(io("insert"))?;
        }
        prev = hash;
        if seq.is_multiple_of(BATCH as u64) {
            tx.commit().map_err(io("commit"))?;
            tx = conn.unchecked_transaction().map_err(io("begin"))?;
        }
    }
    tx.commit().map_err(io("commit"))?;
    // Durable at the end, like accord's one sync per import.
    conn.execute_batch("PRAGMA wal_checkpoint(FULL);").map_err(io("checkpoint"))?;
    println!("{seq}");
    Ok(())
}

/// The SQLite peer's members: one org's events by index, folded in log order.
fn sqlite_members(db: &Path, org: &str) -> Res {
    let conn = rusqlite::Connection::open(db).map_err(io("open sqlite"))?;
    let mut stmt = conn.prepare("SELECT envelope FROM events WHERE org = ?1 ORDER BY seq").map_err(io("prepare"))?;
    let rows = stmt.query_map([org], |r| r.get::<_, String>(0)).map_err(io("query"))?;
    let mut status: HashMap<String, bool> = HashMap::new();
    for row in rows {
        let v: Value = serde_json::from_str(&row.map_err(io("row"))?).map_err(io("json"))?;
        if v["date"].as_str().unwrap_or("") > QUERY_DAY {
            continue;
        }
        let joins = matches!(v["type"].as_str(), Some("founding" | "accession"));
        for m in v["members"].as_array().into_iter().flatten() {
            status.insert(m.as_str().unwrap_or("").to_owned(), joins);
        }
    }
    println!("{}", status.values().filter(|&&m| m).count());
    Ok(())
}

/// Raw sled: the same envelope bytes, one key per event.
fn raw_sled_import(export: &Path, dir: &Path) -> Res {
    let db = sled::Config::new().path(dir).cache_capacity(64 * 1024 * 1024).open().map_err(io("open sled"))?;
    let reader = BufReader::new(File::open(export).map_err(io("open the export"))?);
    let mut batch = sled::Batch::default();
    let mut seq = 0u64;
    for line in reader.lines() {
        let line = line.map_err(io("read"))?;
        seq += 1;
        let mut key = vec![b'E'];
        key.extend_from_slice(&seq.to_be_bytes());
        batch.insert(key, line.as_bytes());
        if seq.is_multiple_of(BATCH as u64) {
            db.apply_batch(std::mem::take(&mut batch)).map_err(io("batch"))?;
        }
    }
    db.apply_batch(batch).map_err(io("batch"))?;
    db.flush().map_err(io("flush"))?;
    File::open(dir.join("db")).and_then(|f| f.sync_all()).map_err(io("fsync"))?;
    println!("{seq}");
    Ok(())
}

/// Opens a sled database as accord configures it, and closes it: the floor
/// of any accord command on that ledger.
fn sled_open(dir: &Path) -> Res {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(16 * 1024 * 1024)
        .flush_every_ms(None)
        .open()
        .map_err(io("open sled"))?;
    drop(db);
    Ok(())
}

// ---------------------------------------------------------------- the run

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A rate rounded to a whole number, its digits in groups of three: `22 977`.
fn grouped(x: f64) -> String {
    let digits = format!("{x:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn compare(args: &[String]) -> Res {
    let mut events = 1_000_000u64;
    let mut orgs = 1000u64;
    let mut dir = PathBuf::from("target/bench-data");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--events" => events = value()?.parse().map_err(io("--events"))?,
            "--orgs" => orgs = value()?.parse().map_err(io("--orgs"))?,
            "--dir" => dir = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let exe = std::env::current_exe().map_err(io("current exe"))?;
    let bin_dir = exe.parent().ok_or("no bin dir")?.to_owned();
    let accord = bin_dir.join("accord");
    if !accord.exists() {
        return Err(format!("{} is missing: run `cargo build --release --workspace` first", accord.display()));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(io("create the bench dir"))?;
    let log = dir.join("events.ndjson");
    let t = Instant::now();
    let raw = generate(&log, events, orgs)?;
    eprintln!("generated {events} events in {orgs} orgs ({raw} bytes) in {:.1?}", t.elapsed());

    let ledger = dir.join("accord-ledger");
    let acc = |args: &[&str]| {
        let mut c = Command::new(&accord);
        c.arg("--ledger").arg(&ledger).args(args).env("ACCORD_ACTOR", "bench");
        c
    };
    let imp = measure(acc(&["import"]).arg(&log))?;
    eprintln!("accord import: {:.2?}", imp.wall);
    let acc_disk = dir_bytes(&ledger);
    let org = format!("org-{:04}", orgs / 2);
    let cli_members: Vec<Duration> = (0..11)
        .map(|_| measure(&mut acc(&["members", &org, "--at", QUERY_DAY, "--json"])).map(|m| m.wall))
        .collect::<Res<_>>()?;
    let sled_opens: Vec<Duration> = (0..11)
        .map(|_| measure(Command::new(&exe).arg("sled-open").arg(&ledger)).map(|m| m.wall))
        .collect::<Res<_>>()?;
    let open_and_query = in_process_members(&ledger, &org)?;
    let verify = measure(&mut acc(&["audit", "verify"]))?;
    let export = dir.join("export.ndjson");
    measure(acc(&["export", "-o"]).arg(&export))?;

    let sqlite_db = dir.join("peer.sqlite");
    let peer_imp = measure(Command::new(&exe).arg("sqlite-import").arg(&log).arg(&sqlite_db))?;
    eprintln!("sqlite import: {:.2?}", peer_imp.wall);
    let peer_disk: u64 = ["peer.sqlite", "peer.sqlite-wal", "peer.sqlite-shm"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()))
        .sum();
    let peer_members: Vec<Duration> = (0..11)
        .map(|_| measure(Command::new(&exe).arg("sqlite-members").arg(&sqlite_db).arg(&org)).map(|m| m.wall))
        .collect::<Res<_>>()?;

    let sled_dir = dir.join("raw-sled");
    let sled_imp = measure(Command::new(&exe).arg("sled-import").arg(&export).arg(&sled_dir))?;
    let sled_disk = dir_bytes(&sled_dir);

    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    let (am, pm, so) = (median(cli_members), median(peer_members), median(sled_opens));
    // stdout is exactly the table README.md shows between its `bench table`
    // comments, so that a run can be pasted there as it is.
    eprintln!("accord-bench: {events} events in {orgs} orgs, {raw} bytes of NDJSON; members of {org} on {QUERY_DAY}");
    println!("| figure | accord | SQLite peer | raw sled | goal | accord ÷ peer |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| import, events/s | {} | {} | {} | ≥ SQLite peer | {:.2} |",
        grouped(rate(imp.wall)),
        grouped(rate(peer_imp.wall)),
        grouped(rate(sled_imp.wall)),
        rate(imp.wall) / rate(peer_imp.wall)
    );
    println!(
        "| import, peak RSS MB | {:.0} | {:.0} | {:.0} | ≤ 256 | {:.1} |",
        imp.max_rss_kb as f64 / 1024.0,
        peer_imp.max_rss_kb as f64 / 1024.0,
        sled_imp.max_rss_kb as f64 / 1024.0,
        imp.max_rss_kb as f64 / peer_imp.max_rss_kb as f64
    );
    println!(
        "| disk ÷ raw NDJSON | {:.2} | {:.2} | {:.2} | ≤ 2.5 | {:.2} |",
        acc_disk as f64 / raw as f64,
        peer_disk as f64 / raw as f64,
        sled_disk as f64 / raw as f64,
        acc_disk as f64 / peer_disk as f64
    );
    println!(
        "| members, whole CLI process, ms (raw sled: open and close accord's ledger) | {:.1} | {:.1} | {:.1} | ≤ SQLite peer | {:.2} |",
        am.as_secs_f64() * 1e3,
        pm.as_secs_f64() * 1e3,
        so.as_secs_f64() * 1e3,
        am.as_secs_f64() / pm.as_secs_f64()
    );
    println!(
        "| members in-process: open / query, ms | {:.1} / {:.2} | – | – | query ≪ open | – |",
        open_and_query.0.as_secs_f64() * 1e3,
        open_and_query.1.as_secs_f64() * 1e3
    );
    println!("| audit verify, events/s | {} | – | – | ≥ 250 000 | – |", grouped(rate(verify.wall)));
    println!(
        "\n{org} on {QUERY_DAY}: accord counts {} members, the SQLite peer (a fold in log order, without uncertainty) {}",
        member_count(&accord, &ledger, &org)?,
        measure(Command::new(&exe).arg("sqlite-members").arg(&sqlite_db).arg(&org))?.stdout.trim()
    );
    Ok(())
}

/// accord's member count, to show both peers folded the same events.
fn member_count(accord: &Path, ledger: &Path, org: &str) -> Res<String> {
    let m =
        measure(Command::new(accord).arg("--ledger").arg(ledger).args(["members", org, "--at", QUERY_DAY, "--json"]))?;
    let v: Value = serde_json::from_str(&m.stdout).map_err(io("members json"))?;
    Ok(v["count"].to_string())
}

/// accord as a library: opening the ledger, then one org's members.
fn in_process_members(ledger: &Path, org: &str) -> Res<(Duration, Duration)> {
    let t = Instant::now();
    let l = accord::ledger::Ledger::open(ledger, &accord::ledger::Options::new(Duration::from_secs(10), false))
        .map_err(|e| e.to_string())?;
    let open = t.elapsed();
    let org = accord::model::id::OrgId::parse(org).map_err(|e| e.to_string())?;
    let day = accord::model::date::Day::parse(QUERY_DAY).map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let record = l.org(&org, u64::MAX).map_err(|e| e.to_string())?;
        let m = accord::projection::members(&record.org, record.upto, &record.timeline, day);
        std::hint::black_box(m.count);
        times.push(t.elapsed());
    }
    Ok((open, median(times)))
}
