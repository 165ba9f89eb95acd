//! Audit: verify, checkpoints, exports, replay, and damage of every kind: an
//! event rewritten in place, index entries removed or added, a broken chain,
//! altered exports (also checked by the independent Python verifier), random
//! byte flips and truncation of sled's data file. Damage must be exit 3 with
//! one sentence, never a panic, a hang, or exit 0 over changed content.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

// ---------------------------------------------------------------------------
// Helpers

/// Asserts exit 3 with one sentence naming `seq` (if given) and saying `phrase`.
#[track_caller]
fn damaged(r: &Run, seq: Option<u64>, phrase: &str) -> String {
    let msg = r.fails(3).to_owned();
    if let Some(seq) = seq {
        assert!(msg.contains(&format!("seq {seq}:")), "expected seq {seq} to be named: {msg}");
    }
    assert!(msg.contains(phrase), "expected `{phrase}` in: {msg}");
    msg
}

/// Opens the ledger's sled database directly (no accord running), lets `f`
/// change it, flushes and closes it.
fn with_sled(l: &Ledger, f: impl FnOnce(&sled::Db)) {
    let db = crate::support::sled_at(&l.path());
    f(&db);
    db.flush().expect("flush sled");
}

use accord::store::format::{
    Packed, block_key, id_bucket, id_chunk_key, org_chunk_key, org_prefix, pack, pack_ids, unpack, unpack_ids,
};

/// The log block holding `seq`: its key and envelopes.
fn block_of(db: &sled::Db, seq: u64) -> (sled::IVec, Packed) {
    let (key, value) = db.range(block_key(0)..=block_key(seq)).next_back().expect("a block").expect("sled read");
    (key, unpack(&value).expect("a block that decodes"))
}

/// Rewrites (or removes, if empty) a packed value.
fn put_packed(db: &sled::Db, key: &[u8], entries: &Packed) {
    if entries.is_empty() {
        db.remove(key).expect("remove");
    } else {
        db.insert(key, pack(entries.iter().map(|(q, b)| (*q, b.as_slice()))).expect("pack")).expect("insert");
    }
}

/// The stored bytes of the envelope at `seq`.
fn stored_bytes(db: &sled::Db, seq: u64) -> Vec<u8> {
    let (_, events) = block_of(db, seq);
    events.into_iter().find(|(q, _)| *q == seq).expect("event stored").1
}

/// Replaces the stored bytes of the envelope at `seq`, in its block.
fn set_stored(db: &sled::Db, seq: u64, bytes: &[u8]) {
    let (key, mut events) = block_of(db, seq);
    events.iter_mut().find(|(q, _)| *q == seq).expect("event stored").1 = bytes.to_vec();
    put_packed(db, &key, &events);
}

/// Removes the envelope at `seq` from its block.
fn remove_stored(db: &sled::Db, seq: u64) {
    let (key, mut events) = block_of(db, seq);
    events.retain(|(q, _)| *q != seq);
    put_packed(db, &key, &events);
}

/// The id-index chunks of `id`'s bucket.
fn id_chunks(db: &sled::Db, id: &uuid::Uuid) -> Vec<(sled::IVec, Vec<(uuid::Uuid, u64)>)> {
    let prefix = id_chunk_key(id_bucket(id), 0);
    db.scan_prefix(&prefix[..3])
        .map(|kv| {
            let (k, v) = kv.expect("sled read");
            (k, unpack_ids(&v).expect("id chunk"))
        })
        .collect()
}

/// Removes the id-index entry of `id`.
fn remove_id(db: &sled::Db, id: &str) {
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    for (key, mut entries) in id_chunks(db, &id) {
        let before = entries.len();
        entries.retain(|(e, _)| *e != id);
        if entries.len() < before {
            db.insert(key, pack_ids(&entries)).expect("insert");
        }
    }
}

/// Points the id-index entry of `id` to `seq`, adding it if it is not there.
fn set_id(db: &sled::Db, id: &str, seq: u64) {
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    let (key, mut entries) = id_chunks(db, &id)
        .into_iter()
        .next()
        .unwrap_or_else(|| (id_chunk_key(id_bucket(&id), 0).to_vec().into(), Vec::new()));
    entries.retain(|(e, _)| *e != id);
    entries.push((id, seq));
    entries.sort();
    db.insert(key, pack_ids(&entries)).expect("insert");
}

/// The org-copy chunks of `org`.
fn org_chunks(db: &sled::Db, org: &str) -> Vec<(sled::IVec, Packed)> {
    let org = accord::model::id::OrgId::parse(org).expect("org id");
    db.scan_prefix(org_prefix(&org))
        .map(|kv| {
            let (k, v) = kv.expect("sled read");
            (k, unpack(&v).expect("org chunk"))
        })
        .collect()
}

/// Removes the org copy of `seq` from `org`'s chunks (re-keying a chunk
/// whose first entry goes).
fn remove_org_copy(db: &sled::Db, org: &str, seq: u64) {
    let id = accord::model::id::OrgId::parse(org).expect("org id");
    for (key, mut entries) in org_chunks(db, org) {
        let before = entries.len();
        entries.retain(|(q, _)| *q != seq);
        if entries.len() < before {
            db.remove(&key).expect("remove");
            if let Some((first, _)) = entries.first() {
                put_packed(db, &org_chunk_key(&id, *first), &entries);
            }
        }
    }
}

/// Adds an org copy of `seq` (with these bytes) under `org`, in a chunk of its own.
fn add_org_copy(db: &sled::Db, org: &str, seq: u64, bytes: &[u8]) {
    let id = accord::model::id::OrgId::parse(org).expect("org id");
    put_packed(db, &org_chunk_key(&id, seq), &vec![(seq, bytes.to_vec())]);
}

/// The stored envelope at `seq`, parsed.
fn stored(db: &sled::Db, seq: u64) -> Value {
    serde_json::from_slice(&stored_bytes(db, seq)).expect("stored JSON")
}

/// Canonical JSON, as accord stores envelopes.
fn canonical(v: &Value) -> String {
    accord::model::canonical::to_canonical_string(v)
}

/// Gives an envelope the hash of its (changed) content.
fn reseal(mut env: Value) -> Value {
    let map = env.as_object_mut().expect("object");
    map.remove("hash");
    let hash = accord::model::canonical::sha256_hex(&Value::Object(map.clone()));
    map.insert("hash".into(), Value::String(hash));
    env
}

fn ledger_head_hash(l: &Ledger) -> String {
    l.head().1
}

fn python3() -> bool {
    tool_available("python3")
}

fn verify_export_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/verify_export.py")
}

// ---------------------------------------------------------------------------
// Verify: a good log

#[test]
fn verify_prints_the_head_and_exits_0() {
    let l = isa();
    let (seq, hash) = l.head();
    assert_eq!(seq, 14);
    let out = l.run(&["audit", "verify"]).ok().to_owned();
    assert!(out.contains("14 events verified"), "{out}");
    assert!(out.contains(&format!("seq 14 {hash}")), "{out}");
    let v = l.run(&["audit", "verify", "--json"]).json();
    assert_eq!(v["ok"], json!(true));
    assert_eq!(v["events"], json!(14));
    assert_eq!(v["head"], json!({"seq": 14, "hash": hash}));
}

#[test]
fn verify_of_a_missing_ledger_is_not_found() {
    let l = Ledger::new();
    let msg = l.run(&["audit", "verify"]).fails(1).to_owned();
    assert!(msg.contains("no ledger"), "{msg}");
}

#[test]
fn verify_reads_no_index_through_point_lookups_and_checks_many_orgs() {
    // Several orgs interleaved: the index scans must match the log scan.
    let l = isa();
    l.import_text(&synthetic(120, 4)).ok();
    let out = l.run(&["audit", "verify"]).ok().to_owned();
    assert!(out.contains("134 events verified"), "{out}");
}

// ---------------------------------------------------------------------------
// Damage through sled: events, chain, indexes

#[test]
fn an_event_rewritten_in_place_is_named_by_its_seq() {
    let l = isa();
    with_sled(&l, |db| {
        let mut env = stored(db, 5);
        assert_eq!(env["members"], json!(["ISR"]));
        env["members"] = json!(["PSE"]);
        set_stored(db, 5, canonical(&env).as_bytes());
    });
    let msg = damaged(&l.run(&["audit", "verify"]), Some(5), "the hash does not match the content");
    assert!(msg.contains("altered"), "{msg}");
    // Replay checks as it goes, and stops there too; so does an export.
    damaged(&l.run(&["audit", "replay"]), Some(5), "the hash does not match");
    damaged(&l.run(&["export"]), Some(5), "hash does not match its content");
}

#[test]
fn stored_bytes_that_are_not_canonical_are_damage_even_with_the_same_content() {
    let l = isa();
    with_sled(&l, |db| {
        let bytes = stored_bytes(db, 3);
        let spaced = format!("{{ {}", std::str::from_utf8(&bytes[1..]).expect("UTF-8"));
        set_stored(db, 3, spaced.as_bytes());
    });
    damaged(&l.run(&["audit", "verify"]), Some(3), "not the canonical JSON");
}

#[test]
fn an_event_that_is_not_json_any_more_is_damage() {
    let l = isa();
    with_sled(&l, |db| {
        set_stored(db, 7, b"{\"seq\":7,\"garbage");
    });
    damaged(&l.run(&["audit", "verify"]), Some(7), "not valid JSON");
}

#[test]
fn an_event_resealed_with_a_correct_hash_breaks_the_chain_after_it() {
    let l = isa();
    with_sled(&l, |db| {
        let mut env = stored(db, 5);
        env["members"] = json!(["PSE"]);
        set_stored(db, 5, canonical(&reseal(env)).as_bytes());
    });
    // Seq 5 is consistent in itself; seq 6 no longer follows it.
    damaged(&l.run(&["audit", "verify"]), Some(6), "the chain is broken");
    // An export checks each link as it goes.
    damaged(&l.run(&["export"]), Some(6), "its `prev` is not the hash of seq 5");
}

#[test]
fn an_envelope_resealed_with_a_wrong_prev_is_named() {
    let l = isa();
    with_sled(&l, |db| {
        let mut env = stored(db, 8);
        env["prev"] = stored(db, 6)["hash"].clone();
        set_stored(db, 8, canonical(&reseal(env)).as_bytes());
    });
    damaged(&l.run(&["audit", "verify"]), Some(8), "`prev` is not the hash of seq 7");
    damaged(&l.run(&["export"]), Some(8), "its `prev` is not the hash of seq 7");
}

#[test]
fn the_whole_tail_resealed_still_fails_against_the_head_recorded_at_commit() {
    // A forger who rewrites seq 12 and re-seals everything after it keeps the
    // chain intact; the head accord recorded at its last commit tells.
    let l = isa();
    with_sled(&l, |db| {
        let mut prev = stored(db, 11)["hash"].clone();
        for seq in 12..=14 {
            let mut env = stored(db, seq);
            if seq == 12 {
                env["members"] = json!(["BEL"]);
            }
            env["prev"] = prev;
            let env = reseal(env);
            prev = env["hash"].clone();
            set_stored(db, seq, canonical(&env).as_bytes());
        }
    });
    damaged(&l.run(&["audit", "verify"]), Some(14), "accord.head");
    // The chain holds to the end, which is not the head committed.
    assert!(l.run(&["export"]).fails(3).contains("accord.head"));
}

#[test]
fn a_removed_event_is_a_gap() {
    let l = isa();
    with_sled(&l, |db| {
        let env = stored(db, 9);
        remove_stored(db, 9);
        remove_id(db, env["id"].as_str().expect("id"));
        remove_org_copy(db, "isa", 9);
    });
    damaged(&l.run(&["audit", "verify"]), Some(9), "gap");
}

#[test]
fn a_lost_last_event_is_caught_by_the_head_recorded_at_commit() {
    let l = isa();
    let (_, hash) = l.head();
    with_sled(&l, |db| {
        let env = stored(db, 14);
        remove_stored(db, 14);
        remove_id(db, env["id"].as_str().expect("id"));
        remove_org_copy(db, "isa", 14);
        // A forger covers every trace in sled, the index watermark, the
        // Merkle tree's marker, the org's summary and roster and the summaries'
        // watermark (missing, they are no damage: an older ledger) and the
        // party index (BRA, which only seq 14 names, and its watermark)
        // included.
        db.insert(accord::store::format::INDEXED_KEY, &13u64.to_be_bytes()).expect("insert");
        db.insert(accord::store::format::TREE_KEY, &13u64.to_be_bytes()).expect("insert");
        let isa = accord::model::id::OrgId::parse("isa").expect("org id");
        db.remove(accord::store::format::summary_key(&isa)).expect("remove");
        db.remove(accord::store::format::roster_key(&isa)).expect("remove");
        db.remove(accord::store::format::SUMMARIES_KEY).expect("remove");
        let bra = accord::model::id::PartyId::parse("BRA").expect("party id");
        db.remove(accord::store::format::party_chunk_key(&bra, 0)).expect("remove").expect("BRA was indexed");
        db.insert(accord::store::format::PARTIES_KEY, &13u64.to_be_bytes()).expect("insert");
    });
    let msg = l.run(&["audit", "verify"]).fails(3).to_owned();
    assert!(msg.contains("ends at seq 13") && msg.contains("accord.head") && msg.contains("seq 14"), "{msg}");
    // Every command refuses the ledger, not only verify.
    l.run(&["head"]).fails(3);
    // Without the marker, only a checkpoint can tell: that is what they are for.
    std::fs::remove_file(l.path().join("accord.head")).expect("remove marker");
    let msg = l.run(&["audit", "verify"]).fails(3).to_owned();
    assert!(msg.contains("accord.head") && msg.contains("missing") && msg.contains("--checkpoint"), "{msg}");
    l.run(&["head"]).fails(3);
    let msg = l.run(&["audit", "verify", "--checkpoint", &format!("14:{hash}")]).fails(3).to_owned();
    assert!(msg.contains("names seq 14, but the log ends at seq 13"), "{msg}");
    assert!(!l.path().join("accord.head").exists(), "a failed verify restores nothing");
}

#[test]
fn a_missing_head_marker_is_reported_until_a_checkpoint_restores_it() {
    let l = isa();
    let (seq, hash) = l.head();
    let export = l.run(&["export"]).ok().to_owned();
    let old = l.run(&["log", "--json"]).ok().lines().nth(9).map(|line| {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        format!("10:{}", v["hash"].as_str().expect("hash"))
    });
    std::fs::remove_file(l.path().join("accord.head")).expect("remove marker");
    for args in [&["head"][..], &["export"], &["members", "isa"], &["log"], &["audit", "replay"]] {
        let msg = l.run(args).fails(3).to_owned();
        assert!(msg.contains("no accord.head") && msg.contains("audit verify --checkpoint"), "{args:?}: {msg}");
    }
    l.run(&["audit", "verify"]).fails(3);
    // An older checkpoint vouches for a prefix; the marker goes back at the head.
    let out = l.run(&["audit", "verify", "--checkpoint", &old.expect("seq 10")]).ok().to_owned();
    assert!(out.contains("restored at seq 14") && out.contains("up to seq 10"), "{out}");
    assert_eq!(l.head(), (seq, hash));
    assert_eq!(l.run(&["export"]).ok(), export);
}

#[test]
fn an_id_index_entry_removed_is_named() {
    let l = isa();
    let id = l
        .run(&["log", "--json"])
        .ok()
        .lines()
        .nth(6)
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON")["id"].as_str().expect("id").to_owned());
    let id = id.expect("seq 7");
    with_sled(&l, |db| {
        remove_id(db, &id);
    });
    let msg = damaged(&l.run(&["audit", "verify"]), Some(7), "the id index lacks event");
    assert!(msg.contains(&id), "{msg}");
}

#[test]
fn an_org_index_entry_removed_is_named() {
    let l = isa();
    with_sled(&l, |db| {
        remove_org_copy(db, "isa", 8);
    });
    damaged(&l.run(&["audit", "verify"]), Some(8), "the org index of `isa` lacks this event");
}

#[test]
fn an_id_index_entry_pointing_elsewhere_is_named() {
    let l = isa();
    with_sled(&l, |db| {
        let id = stored(db, 5)["id"].as_str().expect("id").to_owned();
        set_id(db, &id, 6);
    });
    damaged(&l.run(&["audit", "verify"]), Some(5), "points event");
}

#[test]
fn an_extra_id_index_entry_is_an_entry_with_no_event() {
    let l = isa();
    with_sled(&l, |db| {
        set_id(db, "00000000-0000-4000-8000-000000000001", 3);
    });
    damaged(&l.run(&["audit", "verify"]), None, "which is not in the log: an index entry has no event");
}

#[test]
fn extra_org_index_entries_are_named() {
    let l = isa();
    with_sled(&l, |db| {
        add_org_copy(db, "isa", 99, &stored_bytes(db, 3));
    });
    damaged(&l.run(&["audit", "verify"]), None, "the org index of `isa` names seq 99, which is not in the log");

    let l = isa();
    with_sled(&l, |db| {
        add_org_copy(db, "nato", 3, &stored_bytes(db, 3));
    });
    damaged(&l.run(&["audit", "verify"]), Some(3), "files it under `nato`, but it is an event of `isa`");
}

#[test]
fn an_org_copy_that_differs_from_the_log_is_named() {
    // The org index keeps each event again (what queries of one org read):
    // a copy changed there, and only there, must not pass.
    let l = isa();
    let before = l.run(&["members", "isa", "--at", "2021-06-01", "--json"]).ok().to_owned();
    with_sled(&l, |db| {
        let (key, mut copies) =
            org_chunks(db, "isa").into_iter().find(|(_, c)| c.iter().any(|(q, _)| *q == 5)).expect("seq 5");
        let copy = &mut copies.iter_mut().find(|(q, _)| *q == 5).expect("copy").1;
        let text = String::from_utf8(copy.clone()).expect("UTF-8").replace("\"ISR\"", "\"PSE\"");
        *copy = text.into_bytes();
        put_packed(db, &key, &copies);
    });
    damaged(&l.run(&["audit", "verify"]), Some(5), "holds a copy of this event that differs from the log");
    assert_ne!(
        l.run(&["members", "isa", "--at", "2021-06-01", "--json"]).ok(),
        before,
        "the copy is what members reads"
    );
}

#[test]
fn indexes_that_claim_more_than_the_log_holds_are_damage() {
    let l = isa();
    with_sled(&l, |db| {
        db.insert(accord::store::format::INDEXED_KEY, &99u64.to_be_bytes()).expect("insert");
    });
    let msg = l.run(&["members", "isa"]).fails(3).to_owned();
    assert!(msg.contains("indexes hold events up to seq 99, but its log ends at seq 14"), "{msg}");
}

#[test]
fn a_key_of_no_known_kind_is_damage() {
    let l = isa();
    with_sled(&l, |db| {
        db.insert(b"Zstray", &b"x"[..]).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "key of no known kind");
    // Before the log's keys too.
    let l = isa();
    with_sled(&l, |db| {
        db.insert(b"Astray", &b"x"[..]).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "key of no known kind");
}

#[test]
fn the_first_bad_seq_is_named_when_several_index_entries_are_wrong() {
    let l = isa();
    with_sled(&l, |db| {
        remove_org_copy(db, "isa", 12);
        let id = stored(db, 4)["id"].as_str().expect("id").to_owned();
        remove_id(db, &id);
    });
    damaged(&l.run(&["audit", "verify"]), Some(4), "the id index lacks event");
}

// ---------------------------------------------------------------------------
// Exports: `verify --file`, and the independent Python verifier

/// The export of the ISA log, its lines, and the head.
fn isa_export() -> (Ledger, Vec<String>, (u64, String)) {
    let l = isa();
    let lines = l.export().lines().map(str::to_owned).collect();
    let head = l.head();
    (l, lines, head)
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).expect("write export");
    path
}

fn verify_file(l: &Ledger, path: &Path) -> Run {
    l.run(&["audit", "verify", "--file", path.to_str().expect("UTF-8")])
}

fn python_verify(path: &Path) -> Run {
    let mut c = Command::new("python3");
    c.arg(verify_export_py()).arg(path);
    run_timeout(c, "python3 verify_export.py")
}

#[test]
fn exports_altered_removed_duplicated_or_swapped_name_the_line_and_python_agrees() {
    let (l, lines, (seq, hash)) = isa_export();
    let dir = tempfile::tempdir().expect("temp dir");
    let good = write_lines(dir.path(), "good.ndjson", &lines);
    let out = verify_file(&l, &good).ok().to_owned();
    assert!(out.contains(&format!("seq {seq} {hash}")), "{out}");

    let mut altered = lines.clone();
    altered[4] = altered[4].replace("\"ISR\"", "\"PSE\"");
    assert_ne!(altered[4], lines[4]);
    let mut removed = lines.clone();
    removed.remove(4);
    let mut duplicated = lines.clone();
    duplicated.insert(5, lines[4].clone());
    let mut swapped = lines.clone();
    swapped.swap(4, 5);
    let mut truncated = lines.clone();
    truncated[6].truncate(40);
    let cases = [
        ("altered", altered, 5, "the hash does not match"),
        ("removed", removed, 5, "says it is seq 6"),
        ("duplicated", duplicated, 6, "says it is seq 5"),
        ("swapped", swapped, 5, "says it is seq 6"),
        ("truncated", truncated, 7, "not valid JSON"),
    ];
    let mut bad = Vec::new();
    for (what, case, line, phrase) in cases {
        let path = write_lines(dir.path(), &format!("{what}.ndjson"), &case);
        let msg = verify_file(&l, &path).fails(3).to_owned();
        assert!(msg.contains(&format!("line {line}:")), "{what}: line {line} not named: {msg}");
        assert!(msg.contains(phrase), "{what}: expected `{phrase}`: {msg}");
        bad.push((what, path, line));
    }

    if !python3() {
        return;
    }
    let py = python_verify(&good);
    assert_eq!(py.code, 0, "python3 verify_export.py on the good export: {}{}", py.stdout, py.stderr);
    assert_eq!(py.stdout.trim(), format!("ok {seq} {hash}"), "python3 and `accord head` disagree");
    for (what, path, line) in bad {
        let py = python_verify(&path);
        assert_ne!(py.code, 0, "python3 accepted the {what} export: {}", py.stdout);
        assert!(py.stderr.contains(&format!("line {line}:")), "python3, {what}: {}", py.stderr);
    }
}

#[test]
fn an_export_line_spelled_differently_with_the_same_content_verifies_in_both() {
    // The hash is over the canonical form: whitespace and key order of an
    // export line do not matter (SPEC §4), to accord or to the script.
    let (l, mut lines, (seq, hash)) = isa_export();
    let v: Value = serde_json::from_str(&lines[2]).expect("JSON");
    lines[2] = serde_json::to_string_pretty(&v).expect("pretty").replace('\n', " ");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_lines(dir.path(), "spaced.ndjson", &lines);
    assert!(verify_file(&l, &path).ok().contains(&format!("seq {seq} {hash}")));
    if python3() {
        let py = python_verify(&path);
        assert_eq!((py.code, py.stdout.trim().to_owned()), (0, format!("ok {seq} {hash}")), "{}", py.stderr);
    }
}

#[test]
fn an_export_line_that_gives_a_key_twice_is_refused() {
    // `{"members":["EVIL"], …, "members":["ISR"]}` hashes like the real line
    // to a reader that keeps the last key, but another reader may keep the
    // first: the line is ambiguous, so it does not verify.
    let (l, mut lines, _) = isa_export();
    assert!(lines[4].starts_with('{'));
    lines[4] = format!("{{\"members\":[\"EVIL\"],{}", &lines[4][1..]);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_lines(dir.path(), "twice.ndjson", &lines);
    let msg = verify_file(&l, &path).fails(3).to_owned();
    assert!(msg.contains("line 5:") && msg.contains("twice"), "{msg}");
}

#[test]
fn a_well_sealed_export_that_breaks_a_rule_or_repeats_an_id_fails_by_replay() {
    let (l, lines, (_, head)) = isa_export();
    let dir = tempfile::tempdir().expect("temp dir");
    let last: Value = serde_json::from_str(&lines[13]).expect("JSON");
    let next = |body: Value| {
        let mut env = body;
        let map = env.as_object_mut().expect("object");
        for k in ["seq", "recorded_at", "recorded_by"] {
            map.insert(k.into(), last[k].clone());
        }
        map.insert("seq".into(), json!(15));
        map.insert("prev".into(), json!(head));
        canonical(&reseal(env))
    };
    // A withdrawal of a party that is not a member.
    let mut broken = lines.clone();
    broken.push(next(json!({"type": "withdrawal", "org": "isa", "date": "2026-01-01", "members": ["XYZ"],
        "id": "00000000-0000-4000-8000-000000000015"})));
    let path = write_lines(dir.path(), "rule.ndjson", &broken);
    let msg = verify_file(&l, &path).fails(3).to_owned();
    assert!(msg.contains("line 15:") && msg.contains("breaks a rule") && msg.contains("XYZ is not a member"), "{msg}");
    // The hash chain alone is fine: the Python script accepts it.
    if python3() {
        assert_eq!(python_verify(&path).code, 0);
    }
    // An id already in the log, with other content.
    let mut twice = lines.clone();
    let id = last["id"].clone();
    twice.push(next(json!({"type": "exercise", "org": "isa", "date": "2026-01-01", "name": "X", "id": id})));
    let path = write_lines(dir.path(), "twice.ndjson", &twice);
    let msg = verify_file(&l, &path).fails(3).to_owned();
    assert!(msg.contains("line 15:") && msg.contains("already recorded at seq 14"), "{msg}");
}

#[test]
fn verify_file_of_a_missing_file_is_not_found() {
    let l = Ledger::new();
    let msg = l.run(&["audit", "verify", "--file", "/nonexistent/export.ndjson"]).fails(1).to_owned();
    assert!(msg.contains("/nonexistent/export.ndjson"), "{msg}");
}

// ---------------------------------------------------------------------------
// Checkpoints

#[test]
fn a_checkpoint_taken_before_an_append_still_verifies_after_it() {
    let l = isa();
    let (seq, hash) = l.head();
    l.append(r#"{"type":"accession","org":"isa","date":"2026-01-05","members":["AUS"]}"#);
    assert_eq!(l.head().0, 15);
    let cp = format!("{seq}:{hash}");
    l.run(&["audit", "verify", "--checkpoint", &cp]).ok();
    // And on an export, with no ledger.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("x.ndjson");
    std::fs::write(&path, l.export()).expect("write");
    let p = path.to_str().expect("UTF-8");
    Ledger::new().run(&["audit", "verify", "--file", p, "--checkpoint", &cp]).ok();

    // Another hash at that seq: history was rewritten.
    let other = ledger_head_hash(&l);
    damaged(&l.run(&["audit", "verify", "--checkpoint", &format!("{seq}:{other}")]), Some(14), "rewritten");
    damaged(
        &Ledger::new().run(&["audit", "verify", "--file", p, "--checkpoint", &format!("3:{other}")]),
        Some(3),
        "rewritten",
    );
    // A seq beyond the head: events were lost (or it is of another log).
    let msg = l.run(&["audit", "verify", "--checkpoint", &format!("40:{hash}")]).fails(3).to_owned();
    assert!(msg.contains("names seq 40, but the log ends at seq 15"), "{msg}");
}

#[test]
fn a_malformed_checkpoint_is_a_usage_error() {
    let l = isa();
    for bad in ["14", "x:abc", "14:abc", "0:0000000000000000000000000000000000000000000000000000000000000000"] {
        let msg = l.run(&["audit", "verify", "--checkpoint", bad]).fails(2).to_owned();
        assert!(msg.contains("checkpoint"), "{bad}: {msg}");
    }
}

// ---------------------------------------------------------------------------
// Replay

#[test]
fn replay_says_what_each_event_did_and_ends_with_the_head() {
    let l = isa();
    let (_, hash) = l.head();
    let out = l.run(&["audit", "replay"]).ok().to_owned();
    let lines: Vec<&str> = out.lines().collect();
    // Each event is a line and its effect the next one.
    let effect = |needle: &str| {
        let at = lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in:\n{out}"));
        lines[at + 1].trim().to_owned()
    };
    assert_eq!(effect("accession: ISR (full)"), "→ joined: ISR (full)");
    assert_eq!(effect("founding of International Security Alliance"), "→ joined: ARE (full), FRA (full)");
    let e = effect("[supersedes 4e9f146d");
    assert!(e.starts_with("→ supersedes seq 4 (accession dated 2017-02/2020-12-09"), "{e}");
    assert!(e.ends_with("; left: SGP, SVK"), "{e}");
    let e = effect("[supersedes dc099eed");
    assert!(e.contains("supersedes seq 2 (launch dated 2018-03") && e.ends_with("no change in membership"), "{e}");
    assert!(effect("exercise ISALEX19 at Abu Dhabi [supersedes").contains("supersedes seq 3 (exercise dated 2019"));
    assert_eq!(lines.last().copied(), Some(format!("head is seq 14 {hash}").as_str()));
}

#[test]
fn replay_json_is_one_object_per_event_then_the_head() {
    let l = isa();
    let (_, hash) = l.head();
    let out = l.run(&["audit", "replay", "--json"]).ok().to_owned();
    let rows: Vec<Value> = out.lines().map(|line| serde_json::from_str(line).expect("NDJSON")).collect();
    assert_eq!(rows.len(), 15);
    assert_eq!(rows[4]["seq"], json!(5));
    assert_eq!(rows[4]["joined"], json!([{"id": "ISR", "status": "full"}]));
    assert_eq!(rows[5]["superseded"]["seq"], json!(4));
    assert_eq!(rows[5]["superseded"]["id"], json!("4e9f146d-9348-4750-88eb-905572a6eb3e"));
    assert_eq!(rows[5]["left"], json!(["SGP", "SVK"]));
    assert_eq!(rows[14], json!({"head": {"seq": 14, "hash": hash}}));
}

#[test]
fn replay_shows_retractions_and_status_changes() {
    let l = isa();
    l.append(r#"{"type":"suspension","org":"isa","date":"2026-01-05","members":["ISR"]}"#);
    l.append(r#"{"type":"retraction","org":"isa","retracts":"0768b8bf-f1d9-4203-90c9-4fa0285f295e","reason":"test"}"#);
    l.import_text(&synthetic(10, 2)).ok();
    let out = l.run(&["audit", "replay", "--org", "isa"]).ok().to_owned();
    assert!(out.contains("→ ISR: full → suspended"), "{out}");
    assert!(out.contains("→ retracts seq 12 (accession dated 2022-04-03, event 0768b8bf"), "{out}");
    assert!(out.contains("; left: NLD"), "{out}");
    assert!(!out.contains("syn-"), "--org isa shows only isa: {out}");
    assert!(out.trim_end().ends_with(&format!("head is seq 26 {}", l.head().1)), "{out}");
    l.run(&["audit", "replay", "--org", "nato"]).fails(1);
}

// ---------------------------------------------------------------------------
// Damage to sled's own files: random byte flips and truncation

/// A ledger with the ISA log and 300 synthetic events in 5 orgs, and its
/// export. `reopened`: as accord left it after a few commands (sled then has
/// written a snapshot, and reads older data through it); otherwise a copy of
/// the directory taken right after the import closed it (no snapshot: sled
/// rebuilds its state by scanning the log, and cuts it at any damage).
struct FlipBase {
    _ledger: Ledger,
    _copy: tempfile::TempDir,
    path: PathBuf,
    export: String,
}

fn flip_base(reopened: bool) -> FlipBase {
    let ledger = isa();
    ledger.import_text(&synthetic(300, 5)).ok();
    let copy = tempfile::tempdir().expect("temp dir");
    let fresh = copy.path().join("fresh");
    copy_dir(&ledger.path(), &fresh);
    let export = ledger.export();
    assert_eq!(export.lines().count(), 314);
    ledger.run(&["audit", "verify"]).ok();
    let path = if reopened { ledger.path() } else { fresh };
    FlipBase { _ledger: ledger, _copy: copy, path, export }
}

/// Runs `audit verify` on a damaged copy: exit 3 with one sentence, or exit 0
/// only if the content is exactly what it was. Returns the exit code.
fn check_damaged_copy(dir: &Path, export: &str, what: &str) -> i32 {
    let r = accord_at(dir, &["audit", "verify"], what);
    assert!(!r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"), "{what}: panic: {}", r.stderr);
    match r.code {
        0 => {
            let after = accord_at(dir, &["export"], what);
            assert_eq!(after.code, 0, "{what}: verify said ok, export failed: {}", after.stderr);
            assert!(after.stdout == export, "{what}: verify said ok, but the content changed");
        }
        3 => {
            let msg = r.stderr.trim_end();
            assert_eq!(msg.lines().count(), 1, "{what}: expected one line: {msg}");
            assert!(msg.starts_with("accord: "), "{what}: {msg}");
        }
        code => panic!("{what}: exit {code}, expected 0 or 3: {}", r.stderr),
    }
    r.code
}

fn flips(reopened: bool) {
    let base = flip_base(reopened);
    let db = std::fs::read(base.path.join("db")).expect("read db");
    let work = tempfile::tempdir().expect("temp dir");
    let mut codes = Vec::new();
    for seed in 1..=20u64 {
        let dir = work.path().join(format!("seed-{seed}"));
        copy_dir(&base.path, &dir);
        let mut rng = XorShift::new(seed);
        let mut bytes = db.clone();
        let mut at = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let offset = rng.below(bytes.len() as u64) as usize;
            bytes[offset] ^= 1 << rng.below(8);
            at.push(offset);
        }
        std::fs::write(dir.join("db"), &bytes).expect("write db");
        let what = format!("seed {seed} (reopened: {reopened}), bytes flipped at {at:?} of {}", bytes.len());
        codes.push((seed, check_damaged_copy(&dir, &base.export, &what)));
        std::fs::remove_dir_all(&dir).expect("remove copy");
    }
    eprintln!("byte flips (reopened: {reopened}): exit codes by seed {codes:?}");
}

#[test]
fn random_byte_flips_in_a_freshly_written_db_are_never_read_as_intact() {
    flips(false);
}

#[test]
fn random_byte_flips_in_a_reopened_db_are_never_read_as_intact() {
    flips(true);
}

#[test]
fn a_truncated_db_is_never_read_as_intact() {
    for reopened in [false, true] {
        let base = flip_base(reopened);
        let len = std::fs::metadata(base.path.join("db")).expect("db").len();
        let work = tempfile::tempdir().expect("temp dir");
        for cut in [0, 1, 100, len / 4, len / 2, len * 3 / 4, len - 4096, len - 1] {
            let dir = work.path().join(format!("cut-{cut}"));
            copy_dir(&base.path, &dir);
            let f = std::fs::OpenOptions::new().write(true).open(dir.join("db")).expect("open db");
            f.set_len(cut).expect("truncate");
            drop(f);
            let what = format!("db cut to {cut} of {len} bytes (reopened: {reopened})");
            check_damaged_copy(&dir, &base.export, &what);
            std::fs::remove_dir_all(&dir).expect("remove copy");
        }
    }
}

#[test]
fn a_damaged_head_marker_is_damage() {
    let l = isa();
    let good = std::fs::read(l.path().join("accord.head")).expect("read");
    let log = l.run(&["log", "--json"]).ok().to_owned();
    std::fs::write(l.path().join("accord.head"), "{\"seq\":14,\"hash\":\"zz\"}").expect("write");
    damaged(&l.run(&["audit", "verify"]), None, "accord.head is damaged");
    for args in [&["head"][..], &["export"], &["members", "isa"]] {
        assert!(l.run(args).fails(3).contains("accord.head is damaged"), "{args:?}");
    }
    // A marker that names an earlier head: the log goes on past what was committed.
    let seq13: Value = serde_json::from_str(log.lines().nth(12).expect("seq 13")).expect("json");
    let marker = json!({"seq": 13, "hash": seq13["hash"]}).to_string();
    std::fs::write(l.path().join("accord.head"), marker).expect("write");
    for args in [&["head"][..], &["export"], &["members", "isa"], &["audit", "verify"]] {
        let msg = l.run(args).fails(3).to_owned();
        assert!(msg.contains("seq 14") && msg.contains("seq 13"), "{args:?}: {msg}");
    }
    std::fs::write(l.path().join("accord.head"), good).expect("write");
    assert_eq!(l.run(&["log", "--json"]).ok(), log);
}

/// The summary `accord orgs` reads is checked against the org's events:
/// one that says something else, one ahead of the org's last event, one of
/// an org with no event, one that does not decode. One left behind by an
/// earlier commit (older than the org's last event) is not damage.
#[test]
fn org_summaries_that_differ_from_the_log_are_damage() {
    use accord::model::id::OrgId;
    use accord::store::format::{SUMMARIES_KEY, summary_key};
    let isa_key = summary_key(&OrgId::parse("isa").expect("org id"));
    let summary = |l: &Ledger| -> Value {
        let db = crate::support::sled_at(&l.path());
        let bytes = db.get(&isa_key).expect("get").expect("the import stored isa's summary");
        serde_json::from_slice(&bytes).expect("a summary is JSON")
    };
    let stored = summary(&isa());
    assert_eq!(stored["last"], 14);
    assert_eq!(stored["members"], 12);
    assert_eq!(stored["founded"], "2017-02");
    let cases = [
        ("members", json!(13), "differs from what its events give"),
        ("name", json!("Another Alliance"), "differs from what its events give"),
        ("founded", json!("2017"), "differs from what its events give"),
        ("last", json!(15), "says its last event is seq 15"),
    ];
    for (what, value, phrase) in cases {
        let l = isa();
        let mut forged = stored.clone();
        forged[what] = value;
        with_sled(&l, |db| {
            db.insert(&isa_key, serde_json::to_vec(&forged).expect("JSON")).expect("insert");
        });
        if what == "members" {
            // A current summary is what `orgs` reads: only the audit can tell.
            assert_eq!(l.run(&["orgs", "--json"]).json()[0]["members"], 13);
        }
        let msg = damaged(&l.run(&["audit", "verify"]), None, phrase);
        assert!(msg.contains("`isa`"), "{what}: {msg}");
    }
    let l = isa();
    with_sled(&l, |db| {
        let other = summary_key(&OrgId::parse("nato").expect("org id"));
        db.insert(other, serde_json::to_vec(&stored).expect("JSON")).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "`nato`, which has no event");
    let l = isa();
    with_sled(&l, |db| {
        db.insert(&isa_key, &b"{not json"[..]).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "damaged org summary");
    // Older than isa's last event, as a command that died past its commit
    // point leaves it (with the summaries' watermark at the head before
    // it): not used, not damage.
    let mut older = stored.clone();
    older["last"] = json!(13);
    older["members"] = json!(11);
    let older = serde_json::to_vec(&older).expect("JSON");
    let l = isa();
    with_sled(&l, |db| {
        db.insert(&isa_key, older.as_slice()).expect("insert");
        db.insert(SUMMARIES_KEY, &13u64.to_be_bytes()).expect("insert");
    });
    l.run(&["audit", "verify"]).ok();
    let rows = l.run(&["orgs", "--json"]).json();
    assert_eq!(rows[0]["members"], 12, "an older summary is not used: {rows}");
    // That open (any but an audit's) wrote the lost summary again and
    // brought the watermark to the head.
    let db = crate::support::sled_at(&l.path());
    assert_eq!(db.get(SUMMARIES_KEY).expect("get"), Some((&14u64.to_be_bytes()[..]).into()));
    let rewritten: Value =
        serde_json::from_slice(&db.get(&isa_key).expect("get").expect("isa's summary")).expect("JSON");
    drop(db);
    assert_eq!(rewritten, stored, "the summary the commit would have written");
    l.run(&["audit", "verify"]).ok();
    // The watermark vouches for every summary up to it, so `orgs` reads
    // them without the orgs' events: one it vouches for that misses an
    // event, or is missing, or a watermark past the log, is damage.
    let l = isa();
    assert_eq!(
        crate::support::sled_at(&l.path()).get(SUMMARIES_KEY).expect("get"),
        Some((&14u64.to_be_bytes()[..]).into())
    );
    with_sled(&l, |db| {
        db.insert(&isa_key, older.as_slice()).expect("insert");
    });
    let rows = l.run(&["orgs", "--json"]).json();
    assert_eq!(rows[0]["members"], 11, "what `orgs` reads is what the watermark vouches for: {rows}");
    damaged(&l.run(&["audit", "verify"]), None, "current up to seq 14, but the summary of org `isa` ends at seq 13");
    let l = isa();
    with_sled(&l, |db| {
        db.remove(&isa_key).expect("remove");
    });
    damaged(&l.run(&["audit", "verify"]), None, "org `isa` has no summary and has an event at seq 14");
    let l = isa();
    with_sled(&l, |db| {
        db.insert(SUMMARIES_KEY, &15u64.to_be_bytes()).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "current up to seq 15, but the log ends at seq 14");
    damaged(&l.run(&["orgs"]), None, "current up to seq 15, but its log ends at seq 14");
    let l = isa();
    with_sled(&l, |db| {
        db.insert(SUMMARIES_KEY, &b"15"[..]).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "summaries' watermark is damaged");
    damaged(&l.run(&["orgs"]), None, "summaries' watermark is damaged");
}

/// The roster `accord members` reads on a day after every event of an org
/// is checked against the org's events: one with a member's status,
/// founder mark or event changed, one ahead of the org's last event, one
/// of an org with no event, one that does not decode. `members` answers
/// from a current one (only the audit can tell a forged one), not from one
/// older than the org's last event, and one naming an event the org does
/// not have is damage.
#[test]
fn org_rosters_that_differ_from_the_log_are_damage() {
    use accord::model::id::OrgId;
    use accord::model::summary::Roster;
    use accord::store::format::{compress, decompress, roster_key};
    let isa_key = roster_key(&OrgId::parse("isa").expect("org id"));
    let stored = {
        let db = crate::support::sled_at(&isa().path());
        let value = db.get(&isa_key).expect("get").expect("the import stored isa's roster");
        Roster::from_bytes(&decompress(&value).expect("a roster decompresses")).expect("a roster")
    };
    assert_eq!(stored.last, 14);
    assert_eq!(stored.settled.map(|d| d.to_string()).as_deref(), Some("2025-11-06"));
    let names: Vec<&str> = stored.members.iter().map(|m| m.party.as_str()).collect();
    assert_eq!(names, ["ARE", "BHR", "BRA", "ESP", "FRA", "ISR", "ITA", "MAR", "NLD", "SEN", "SGP", "SVK"]);
    let put = |l: &Ledger, roster: &Roster| {
        let value = compress(&roster.to_bytes().expect("a roster that can be stored")).expect("compress");
        with_sled(l, |db| {
            db.insert(&isa_key, value).expect("insert");
        });
    };
    let members = |l: &Ledger, at: &str| l.run(&["members", "isa", "--at", at, "--json"]);
    let intact = members(&isa(), "2030-01-01").ok().to_owned();
    let isr = names.iter().position(|n| *n == "ISR").expect("ISR");
    type Forgery = (&'static str, fn(&mut Roster));
    let forgeries: [Forgery; 4] = [
        ("status", |r| r.members[5].status = "observer"),
        ("founder", |r| r.members[5].founder = true),
        ("event", |r| r.members[5].since_seq = 14),
        ("a member less", |r| {
            r.members.remove(5);
        }),
    ];
    for (what, forge) in forgeries {
        let l = isa();
        let mut forged = stored.clone();
        assert_eq!(forged.members[isr].party.as_str(), "ISR");
        forge(&mut forged);
        put(&l, &forged);
        // A current roster is what `members` reads after every event: only the audit can tell.
        assert_ne!(members(&l, "2030-01-01").ok(), intact, "{what}");
        // On a day before the last event, the roster does not answer.
        assert_eq!(members(&l, "2021-01-01").ok(), members(&isa(), "2021-01-01").ok(), "{what}");
        let msg =
            damaged(&l.run(&["audit", "verify"]), None, "the roster of org `isa` differs from what its events give");
        assert!(!msg.contains('\n'), "{what}: {msg}");
    }
    let l = isa();
    put(&l, &Roster { last: 15, ..stored.clone() });
    damaged(&l.run(&["audit", "verify"]), None, "the roster of org `isa` says its last event is seq 15");
    let l = isa();
    with_sled(&l, |db| {
        let value = db.remove(&isa_key).expect("remove").expect("the roster");
        db.insert(roster_key(&OrgId::parse("nato").expect("org id")), value).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "a roster of org `nato`, which has no event");
    // Without its roster, `members` reads the org's events.
    assert_eq!(members(&l, "2030-01-01").ok(), intact);
    let l = isa();
    with_sled(&l, |db| {
        db.insert(&isa_key, &b"z\x05\0\0\0not zstd"[..]).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "damaged org roster");
    damaged(&members(&l, "2030-01-01"), None, "damaged org roster");
    // Older than isa's last event, as a command that died past its commit
    // point leaves it: not used, not damage.
    let l = isa();
    let mut older = stored.clone();
    older.last = 13;
    older.members.remove(2);
    put(&l, &older);
    assert_eq!(members(&l, "2030-01-01").ok(), intact);
    l.run(&["audit", "verify"]).ok();
    // A current roster that names an event the org does not have.
    let l = isa();
    let mut dangling = stored.clone();
    dangling.members[isr].since_seq = 99;
    put(&l, &dangling);
    damaged(&members(&l, "2030-01-01"), None, "the roster of org `isa` names seq 99");
}

/// The Merkle tree's stored hashes are checked against the log: one
/// changed, one removed and one the log does not call for are damage,
/// named by the seqs the hash covers; a marker ahead of the log is too.
#[test]
fn a_merkle_tree_that_differs_from_the_log_is_damage() {
    use accord::store::format::{TREE_KEY, tree_key};
    let make = || {
        let l = Ledger::new();
        l.import_text(&synthetic(1100, 3)).ok();
        l
    };
    let l = make();
    let stored = |l: &Ledger| {
        let db = crate::support::sled_at(&l.path());
        let keys: Vec<Vec<u8>> = db.scan_prefix(b"H").keys().map(|k| k.expect("key").to_vec()).collect();
        let leaves = db.get(TREE_KEY).expect("get").map(|v| v.to_vec());
        (keys, leaves)
    };
    // 1100 events: four subtrees of 256, two of 512, one of 1024.
    let (keys, leaves) = stored(&l);
    assert_eq!(keys.len(), 7, "{keys:?}");
    assert_eq!(leaves, Some(1100u64.to_be_bytes().to_vec()));
    l.run(&["audit", "verify"]).ok();
    let l = make();
    with_sled(&l, |db| {
        db.insert(tree_key(9, 1), &[7u8; 32][..]).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "hash of seqs 513..=1024 differs from what the log gives");
    let l = make();
    with_sled(&l, |db| {
        db.remove(tree_key(8, 2)).expect("remove");
    });
    damaged(&l.run(&["audit", "verify"]), None, "hash of seqs 513..=768 is missing");
    let l = make();
    with_sled(&l, |db| {
        db.insert(tree_key(8, 4), &[7u8; 32][..]).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "hash of seqs 1025..=1280 differs");
    // A tree ahead of the indexes is damage, found by every open.
    let l = make();
    with_sled(&l, |db| {
        db.insert(TREE_KEY, &2000u64.to_be_bytes()[..]).expect("insert");
    });
    assert!(l.run(&["head"]).fails(3).contains("the Merkle tree says it covers 2000 events"));
}

/// A ledger recorded before the Merkle tree existed gains it on its first
/// open, and it is the tree the import had built.
#[test]
fn a_ledger_without_a_merkle_tree_gains_it_on_open() {
    use accord::store::format::TREE_KEY;
    let l = Ledger::new();
    l.import_text(&synthetic(700, 2)).ok();
    let tree = |l: &Ledger| {
        let db = crate::support::sled_at(&l.path());
        let hashes: Vec<(Vec<u8>, Vec<u8>)> =
            db.scan_prefix(b"H").map(|kv| kv.expect("entry")).map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        (hashes, db.get(TREE_KEY).expect("get").map(|v| v.to_vec()))
    };
    let built = tree(&l);
    assert_eq!(built.0.len(), 3, "two subtrees of 256 and one of 512");
    with_sled(&l, |db| {
        for key in db.scan_prefix(b"H").keys() {
            db.remove(key.expect("key")).expect("remove");
        }
        db.remove(TREE_KEY).expect("remove");
    });
    assert_eq!(tree(&l), (Vec::new(), None));
    l.run(&["head"]).ok();
    assert_eq!(tree(&l), built);
    l.run(&["audit", "verify"]).ok();
}

/// The party index `accord party` reads must hold exactly the (party, org)
/// pairs the log's events name: a pair removed, one no event names, one of
/// an org with no event, one held twice, a damaged chunk and a watermark
/// past the log are each damage, in one sentence.
#[test]
fn a_party_index_that_differs_from_the_log_is_damage() {
    use accord::model::id::PartyId;
    use accord::store::format::{PARTIES_KEY, party_chunk_key};
    let key = |party: &str, chunk: u32| party_chunk_key(&PartyId::parse(party).expect("party id"), chunk);
    let l = isa();
    with_sled(&l, |db| {
        assert_eq!(db.get(key("ISR", 0)).expect("get").as_deref(), Some(&b"isa\0"[..]), "the import indexed ISR");
        db.remove(key("ISR", 0)).expect("remove");
    });
    damaged(&l.run(&["audit", "verify"]), None, "the party index lacks party `ISR` in org `isa`");
    let cases: [(&str, u32, &[u8], &str); 4] = [
        ("ZZZ", 0, b"isa\0", "names party `ZZZ` in org `isa`, but no event of `isa` up to seq 14 names it"),
        ("ISR", 1, b"nato\0", "names party `ISR` in org `nato`, which has no event in the log"),
        ("ISR", 1, b"isa\0", "holds party `ISR` in org `isa` twice"),
        ("ISR", 0, b"isa", "damaged chunk 0 of party `ISR`"),
    ];
    for (party, chunk, value, phrase) in cases {
        let l = isa();
        with_sled(&l, |db| {
            db.insert(key(party, chunk), value).expect("insert");
        });
        damaged(&l.run(&["audit", "verify"]), None, phrase);
    }
    let l = isa();
    with_sled(&l, |db| {
        db.insert(PARTIES_KEY, &99u64.to_be_bytes()).expect("insert");
    });
    damaged(&l.run(&["audit", "verify"]), None, "the party index says it holds the events up to seq 99");
    let msg = l.run(&["party", "ISR"]).fails(3).to_owned();
    assert!(msg.contains("party index holds events up to seq 99, but its log ends at seq 14"), "{msg}");
}
