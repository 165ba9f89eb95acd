//! The compiled SQLite peer: what a user would write instead of accord, with
//! its own parsing and hashing and no accord code at all. Each NDJSON line is
//! parsed into a `serde_json::Value`, given `seq`, `recorded_at`,
//! `recorded_by` and `prev`, hashed with SHA-256 over `serde_json::to_vec`
//! (sorted keys), and inserted as `(seq, org, date, body, hash)` into a table
//! indexed on `(org, date, seq)`: WAL, `synchronous=FULL`, one transaction.
//! `members` selects the org's rows up to the day in `(date, seq)` order and
//! folds them. It checks no rules and knows no uncertainty. Its `verify`
//! checks the chain only (each body's SHA-256 against its stored hash, its
//! `seq` and `prev` against the row before); its `export` writes the bodies
//! in `seq` order, a line each, to a file it syncs, as accord's does.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Res, io};

/// Imports an NDJSON file into a new database; prints the events recorded.
pub fn import(log: &Path, db: &Path) -> Res {
    // serde_json's Map is a BTreeMap unless some crate in the build turns on
    // its `preserve_order` feature: then `to_vec` would not sort the keys.
    let probe = serde_json::to_vec(&serde_json::json!({"b": 0, "a": 0})).map_err(io("serialize"))?;
    if probe != br#"{"a":0,"b":0}"# {
        return Err("serde_json preserves insertion order here: the peer's keys would not be sorted".into());
    }
    let mut conn = rusqlite::Connection::open(db).map_err(io("open sqlite"))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE events(seq INTEGER PRIMARY KEY, org TEXT NOT NULL, date TEXT, body BLOB NOT NULL, hash TEXT NOT NULL);
         CREATE INDEX events_org_date ON events(org, date, seq);",
    )
    .map_err(io("create the schema"))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let recorded_at = chrono::DateTime::from_timestamp(now.as_secs() as i64, now.subsec_nanos())
        .ok_or("the clock")?
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let tx = conn.transaction().map_err(io("begin"))?;
    let mut seq = 0u64;
    let mut prev = "0".repeat(64);
    {
        let mut insert = tx.prepare("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5)").map_err(io("prepare"))?;
        for line in BufReader::new(File::open(log).map_err(io("open the log"))?).lines() {
            let line = line.map_err(io("read the log"))?;
            if line.trim().is_empty() {
                continue;
            }
            seq += 1;
            let mut event: Value = serde_json::from_str(&line).map_err(|e| format!("line {seq}: {e}"))?;
            let map = event.as_object_mut().ok_or_else(|| format!("line {seq}: not an object"))?;
            map.insert("seq".into(), seq.into());
            map.insert("recorded_at".into(), recorded_at.as_str().into());
            map.insert("recorded_by".into(), "bench".into());
            map.insert("prev".into(), std::mem::take(&mut prev).into());
            let body = serde_json::to_vec(&event).map_err(io("serialize"))?;
            let hash = hex(&Sha256::digest(&body));
            let (org, date) = (event["org"].as_str().unwrap_or(""), event["date"].as_str());
            insert.execute(rusqlite::params![seq as i64, org, date, body, hash]).map_err(io("insert"))?;
            prev = hash;
        }
    }
    tx.commit().map_err(io("commit"))?;
    println!("{seq}");
    Ok(())
}

/// Checks the chain from the first row to the last: each body hashes to its
/// row's hash, and holds its row's seq and the hash of the row before as
/// `prev`; prints the rows checked.
pub fn verify(db: &Path) -> Res {
    let conn = rusqlite::Connection::open(db).map_err(io("open sqlite"))?;
    let mut stmt = conn.prepare("SELECT seq, body, hash FROM events ORDER BY seq").map_err(io("prepare"))?;
    let mut rows = stmt.query([]).map_err(io("query"))?;
    let (mut prev, mut n) = ("0".repeat(64), 0u64);
    while let Some(row) = rows.next().map_err(io("row"))? {
        let seq: i64 = row.get(0).map_err(io("seq"))?;
        let body = row.get_ref(1).and_then(|v| Ok(v.as_blob()?)).map_err(io("body"))?;
        let hash = row.get_ref(2).and_then(|v| Ok(v.as_str()?)).map_err(io("hash"))?;
        if hex(&Sha256::digest(body)) != hash {
            return Err(format!("seq {seq}: the body does not hash to the stored hash"));
        }
        let e: Value = serde_json::from_slice(body).map_err(io("json"))?;
        if e["seq"].as_i64() != Some(seq) || e["prev"].as_str() != Some(prev.as_str()) {
            return Err(format!("seq {seq}: not linked to the row before"));
        }
        prev = hash.to_owned();
        n += 1;
    }
    println!("{n}");
    Ok(())
}

/// Writes every body, in seq order, a line each, to `out`, synced; prints
/// the lines written.
pub fn export(db: &Path, out: &Path) -> Res {
    use std::io::Write;
    let conn = rusqlite::Connection::open(db).map_err(io("open sqlite"))?;
    let mut stmt = conn.prepare("SELECT body FROM events ORDER BY seq").map_err(io("prepare"))?;
    let mut rows = stmt.query([]).map_err(io("query"))?;
    let file = File::create(out).map_err(io("create the export"))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut n = 0u64;
    while let Some(row) = rows.next().map_err(io("row"))? {
        let body = row.get_ref(0).and_then(|v| Ok(v.as_blob()?)).map_err(io("body"))?;
        w.write_all(body).and_then(|()| w.write_all(b"\n")).map_err(io("write the export"))?;
        n += 1;
    }
    let file = w.into_inner().map_err(|e| format!("write the export: {e}"))?;
    file.sync_all().map_err(io("sync the export"))?;
    println!("{n}");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Prints how many parties are members of `org` on `day` (full, associate,
/// observer or suspended), folding its events in `(date, seq)` order.
pub fn members(db: &Path, org: &str, day: &str) -> Res {
    let conn = rusqlite::Connection::open(db).map_err(io("open sqlite"))?;
    let mut stmt = conn
        .prepare("SELECT body FROM events WHERE org = ?1 AND date <= ?2 ORDER BY date, seq")
        .map_err(io("prepare"))?;
    let mut rows = stmt.query([org, day]).map_err(io("query"))?;
    // A member's status, and whether it is suspended.
    let mut standing: HashMap<String, (String, bool)> = HashMap::new();
    while let Some(row) = rows.next().map_err(io("row"))? {
        let body = row.get_ref(0).and_then(|v| Ok(v.as_blob()?)).map_err(io("body"))?;
        let e: Value = serde_json::from_slice(body).map_err(io("json"))?;
        let status = e["status"].as_str().unwrap_or("full");
        let kind = e["type"].as_str().unwrap_or("");
        if kind == "dissolution" {
            standing.clear();
        }
        for party in e["members"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let now = standing.get(party).cloned();
            let next = match (kind, now) {
                ("founding" | "accession", _) => Some((status.to_owned(), false)),
                ("launch", None) => Some(("full".to_owned(), false)),
                ("status_change", Some((_, suspended))) => Some((status.to_owned(), suspended)),
                ("suspension", Some((s, _))) => Some((s, true)),
                ("reinstatement", Some((s, _))) => Some((s, false)),
                ("withdrawal" | "expulsion", _) => None,
                (_, now) => now,
            };
            match next {
                Some(s) => standing.insert(party.to_owned(), s),
                None => standing.remove(party),
            };
        }
    }
    println!("{}", standing.len());
    Ok(())
}
