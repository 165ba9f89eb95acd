//! `accord panel` and `accord party`: the ISA facts of isa.md in COW codes, agreement with `members`, CSV that Python loads.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::support::{Ledger, isa, tool_available};

/// The CSV text as a header and records, read with the csv crate.
fn read_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.expect("record").iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

/// `panel --layout wide` as (date, party) → code.
fn wide(l: &Ledger, extra: &[&str]) -> BTreeMap<(String, String), i32> {
    let mut args = vec!["panel", "--layout", "wide"];
    args.extend_from_slice(extra);
    let (header, rows) = read_csv(l.run(&args).ok());
    assert_eq!(header[..2], ["org", "date"]);
    let mut codes = BTreeMap::new();
    for row in rows {
        for (party, code) in header.iter().zip(&row).skip(2) {
            codes.insert((row[1].clone(), party.clone()), code.parse().expect("a code"));
        }
    }
    codes
}

/// `panel` (long) as (date, party) → the row's fields by name.
fn long(l: &Ledger, extra: &[&str]) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut args = vec!["panel"];
    args.extend_from_slice(extra);
    let (header, rows) = read_csv(l.run(&args).ok());
    assert_eq!(header, ["org", "party", "date", "status", "code", "certain", "possible", "since", "source"]);
    rows.into_iter()
        .map(|row| {
            let fields: BTreeMap<String, String> = header.iter().cloned().zip(row).collect();
            ((fields["date"].clone(), fields["party"].clone()), fields)
        })
        .collect()
}

#[test]
fn the_isa_panel_says_what_isa_md_says() {
    let l = isa();
    let codes = wide(&l, &["--from", "2016", "--to", "2025"]);
    let code = |date: &str, party: &str| codes.get(&(date.to_owned(), party.to_owned())).copied();
    // Israel joined on 2020-12-09.
    assert_eq!((code("2019-12-31", "ISR"), code("2020-12-31", "ISR")), (Some(0), Some(1)));
    // Singapore joined some time between 2017-02 and 2018-03 (the launch of 2018-03-04/05 names it).
    assert_eq!((code("2017-12-31", "SGP"), code("2018-12-31", "SGP")), (Some(-9), Some(1)));
    // The Netherlands on 2022-04-03, Brazil in early November 2025.
    assert_eq!(code("2021-12-31", "NLD"), Some(0));
    for year in 2022..=2025 {
        assert_eq!(code(&format!("{year}-12-31"), "NLD"), Some(1), "NLD in {year}");
    }
    assert_eq!((code("2024-12-31", "BRA"), code("2025-12-31", "BRA")), (Some(0), Some(1)));
    // Created in February 2017: no row for 2016, when there was no ISA.
    assert!(codes.keys().all(|(date, _)| date.as_str() >= "2017"), "{codes:?}");

    let rows = long(&l, &["isa", "--from", "2016", "--to", "2025"]);
    let sgp = &rows[&("2017-12-31".to_owned(), "SGP".to_owned())];
    assert_eq!(
        (sgp["status"].as_str(), sgp["code"].as_str(), sgp["certain"].as_str(), sgp["possible"].as_str()),
        ("uncertain", "-9", "false", "none;full")
    );
    // The event that leaves it open: Singapore's accession, dated as isa.md has it.
    assert_eq!((sgp["since"].as_str(), sgp["source"].as_str()), ("2017-02/2018-03", "Sharjah24, 2018-03-05"));
    let isr = &rows[&("2020-12-31".to_owned(), "ISR".to_owned())];
    assert_eq!((isr["status"].as_str(), isr["code"].as_str(), isr["since"].as_str()), ("full", "1", "2020-12-09"));
    assert!(!isr["source"].is_empty());
    // Before its accession, a party is none with certainty: its rows are left out.
    assert!(!rows.contains_key(&("2019-12-31".to_owned(), "ISR".to_owned())));
}

/// On every sampled day, the long panel says what `members --at DAY` says:
/// the members with their status and since, the uncertain with their
/// possible statuses; in the log as it is, and as it stood at seq 5.
#[test]
fn every_panel_row_agrees_with_members_on_its_day_and_view() {
    let l = isa();
    for view in [&[][..], &["--seq", "5"][..], &["--seq", "9"][..]] {
        let mut args = vec!["isa", "--from", "2017", "--to", "2026", "--every", "month"];
        args.extend_from_slice(view);
        let rows = long(&l, &args);
        let days: Vec<String> = {
            let mut d: Vec<String> = rows.keys().map(|(day, _)| day.clone()).collect();
            d.dedup();
            d
        };
        assert_eq!(days.len(), 12 * 10 - 1, "every month end from 2017-02 on, {view:?}");
        for day in &days {
            let m = l.members("isa", day, view);
            let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new();
            for member in m["members"].as_array().expect("members") {
                let since = member["since"].as_str().unwrap_or("").to_owned();
                expected.insert(member["id"].as_str().unwrap_or("").to_owned(), (member["status"].to_string(), since));
            }
            for u in m["uncertain"].as_array().expect("uncertain") {
                let possible: Vec<&str> =
                    u["possible"].as_array().expect("possible").iter().filter_map(Value::as_str).collect();
                let date = u["date"].as_str().unwrap_or("").to_owned();
                expected.insert(
                    u["id"].as_str().unwrap_or("").to_owned(),
                    (format!("uncertain:{}", possible.join(";")), date),
                );
            }
            let got: BTreeMap<String, (String, String)> = rows
                .iter()
                .filter(|((d, _), r)| d == day && r["status"] != "none")
                .map(|((_, party), r)| {
                    let status = match r["certain"].as_str() {
                        "true" => Value::String(r["status"].clone()).to_string(),
                        _ => format!("uncertain:{}", r["possible"]),
                    };
                    (party.clone(), (status, r["since"].clone()))
                })
                .collect();
            assert_eq!(got, expected, "on {day}, view {view:?}");
        }
    }
}

#[test]
fn the_panel_reads_the_log_as_it_stood_at_a_seq() {
    let l = isa();
    // At seq 5 the December 2020 story: seven parties joined some time between 2017-02 and 2020-12-09.
    let codes = wide(&l, &["isa", "--from", "2018", "--to", "2020", "--seq", "5"]);
    assert_eq!(codes.get(&("2019-12-31".to_owned(), "SGP".to_owned())), Some(&-9));
    assert_eq!(codes.get(&("2020-12-31".to_owned(), "SGP".to_owned())), Some(&1));
    // Brazil, named at seq 14, is no column then.
    assert!(!codes.keys().any(|(_, p)| p == "BRA"));
}

#[test]
fn json_rows_have_the_csv_fields_and_a_day_of_the_year_can_be_chosen() {
    let l = isa();
    let r = l.run(&["panel", "isa", "--from", "2018", "--to", "2019", "--on", "06-30", "--format", "json"]);
    let rows: Vec<Value> = r.ok().lines().map(|line| serde_json::from_str(line).expect("a JSON row")).collect();
    let fields: Vec<&str> = rows[0].as_object().expect("object").keys().map(String::as_str).collect();
    let mut expected = ["org", "party", "date", "status", "code", "certain", "possible", "since", "source"];
    expected.sort();
    assert_eq!(fields, expected);
    assert!(rows.iter().all(|r| r["date"] == "2018-06-30" || r["date"] == "2019-06-30"));
    let sgp = rows.iter().find(|r| r["party"] == "SGP" && r["date"] == "2018-06-30").expect("SGP on 2018-06-30");
    assert_eq!((sgp["code"].as_i64(), sgp["certain"].as_bool()), (Some(1), Some(true)));
    let svk = rows.iter().find(|r| r["party"] == "SVK" && r["date"] == "2018-06-30").expect("SVK on 2018-06-30");
    assert_eq!((svk["code"].as_i64(), &svk["possible"]), (Some(-9), &serde_json::json!(["none", "full"])));
    // --json is --format json, in the wide layout too.
    let wide = l.run(&["panel", "--from", "2025", "--to", "2025", "--layout", "wide", "--json"]);
    let row: Value = serde_json::from_str(wide.ok().trim()).expect("one JSON row");
    assert_eq!(
        (row["org"].as_str(), row["date"].as_str(), row["codes"]["BRA"].as_i64()),
        (Some("isa"), Some("2025-12-31"), Some(1))
    );
}

#[test]
fn usage_errors_exit_2_with_one_sentence() {
    let l = isa();
    for (args, phrase) in [
        (&["panel", "--from", "2020", "--to", "2019"][..], "--from 2020 is after --to 2019"),
        (&["panel", "--from", "2020", "--to", "2021", "--on", "13-01"][..], "MM-DD"),
        (&["panel", "--from", "2020", "--to", "2021", "--on", "02-29"][..], "02-29"),
        (&["panel", "--from", "2020", "--to", "2021", "--every", "month", "--on", "01-31"][..], "--every month"),
        (&["panel", "--from", "0", "--to", "2021"][..], "--from 0"),
        (&["panel", "--to", "2021"][..], "--from"),
    ] {
        let r = l.run(args);
        let sentence = r.fails(2);
        assert!(sentence.contains(phrase), "{args:?}: {sentence}");
    }
    let r = l.run(&["panel", "nato", "--from", "2020", "--to", "2021"]);
    assert!(r.fails(1).contains("nato"));
    // An impossible day is refused as `members --at` refuses it.
    assert!(l.run(&["party", "ISR", "--at", "2021-02-30"]).fails(1).contains("2021-02-30"));
}

/// Writes `text` to a file and runs a Python script on it; `None` when python3 is missing.
fn python(script: &str, text: &str) -> Option<String> {
    if !tool_available("python3") {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("panel.csv");
    std::fs::write(&file, text).expect("write the CSV");
    let out = Command::new("python3").arg("-c").arg(script).arg(&file).output().expect("run python3");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn python_loads_the_csv_with_quotes_commas_and_newlines_in_sources() {
    let l = Ledger::new();
    let source = "Le \"Monde\", p. 3\nsecond line";
    let founding = serde_json::json!({"type":"founding","org":"o","date":"2000-01-01","members":["A"],"source":source});
    l.append(&founding.to_string());
    l.append(r#"{"type":"accession","org":"o","date":"2001","members":["B"],"source":{"publisher":"Agence, Paris","published":"2001"}}"#);
    let text = l.run(&["panel", "--from", "2000", "--to", "2002"]).ok().to_owned();
    let script = r#"
import csv, json, sys
with open(sys.argv[1], newline="") as f:
    rows = list(csv.DictReader(f))
print(json.dumps(rows))
"#;
    let Some(printed) = python(script, &text) else { return };
    let rows: Vec<BTreeMap<String, String>> = serde_json::from_str(&printed).expect("rows as JSON");
    let (_, ours) = read_csv(&text);
    assert_eq!(rows.len(), ours.len());
    let a = rows.iter().find(|r| r["party"] == "A" && r["date"] == "2000-12-31").expect("A in 2000");
    assert_eq!(a["source"], source);
    let b = rows.iter().find(|r| r["party"] == "B" && r["date"] == "2001-12-31").expect("B in 2001");
    assert_eq!((b["code"].as_str(), b["source"].as_str()), ("1", "Agence, Paris, 2001"));
    let wide = l.run(&["panel", "--from", "2000", "--to", "2002", "--layout", "wide"]).ok().to_owned();
    let Some(printed) = python(script, &wide) else { return };
    let rows: Vec<BTreeMap<String, String>> = serde_json::from_str(&printed).expect("rows as JSON");
    assert_eq!(rows.iter().map(|r| r["B"].as_str()).collect::<Vec<_>>(), ["0", "1", "1"]);
}

#[test]
fn party_lists_the_orgs_it_is_or_may_be_in_on_a_day() {
    let l = isa();
    let text = l.run(&["party", "ISR", "--at", "2021-01-01"]).ok().to_owned();
    assert!(text.lines().any(|line| line.trim_start().starts_with("isa ") && line.contains("full")), "{text}");
    let v = l.run(&["party", "ISR", "--at", "2021-01-01", "--json"]).json();
    assert_eq!((v["orgs"][0]["org"].as_str(), v["orgs"][0]["status"].as_str()), (Some("isa"), Some("full")));
    assert_eq!((v["orgs"][0]["since"].as_str(), v["count"].as_u64()), (Some("2020-12-09"), Some(1)));
    // Before its accession ISR is in no org, and it is named in none at seq 4.
    assert_eq!(l.run(&["party", "ISR", "--at", "2019-01-01", "--json"]).json()["count"], 0);
    assert!(l.run(&["party", "ISR", "--seq", "4"]).fails(1).contains("ISR"));
    // Singapore on 2018-01-01 may or may not be in the ISA yet.
    let v = l.run(&["party", "SGP", "--at", "2018-01-01", "--json"]).json();
    assert_eq!((v["count"].as_u64(), &v["uncertain"][0]["possible"]), (Some(0), &serde_json::json!(["none", "full"])));
    assert!(l.run(&["party", "XYZ"]).fails(1).contains("XYZ"));
}

#[test]
fn party_history_lists_its_spells_in_every_org() {
    let l = isa();
    for event in [
        r#"{"type":"founding","org":"xo","date":"2000-01-01","members":["ISR","FRA"]}"#,
        r#"{"type":"suspension","org":"xo","date":"2001-05","members":["ISR"]}"#,
        r#"{"type":"reinstatement","org":"xo","date":"2002-01-01","members":["ISR"]}"#,
        r#"{"type":"withdrawal","org":"xo","date":"2003","members":["ISR"]}"#,
    ] {
        l.append(event);
    }
    let text = l.run(&["party", "ISR", "--history", "--json"]).ok().to_owned();
    let rows: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).expect("a JSON row")).collect();
    let spells: Vec<(&str, &str, &str, Option<&str>)> = rows
        .iter()
        .map(|r| {
            (
                r["org"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
                r["from"].as_str().unwrap_or(""),
                r["to"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        spells,
        [
            ("isa", "full", "2020-12-09", None),
            ("xo", "full", "2000-01-01", Some("2001-05")),
            ("xo", "suspended", "2001-05", Some("2002-01-01")),
            ("xo", "full", "2002-01-01", Some("2003")),
        ]
    );
    // As the log stood before the second org: the ISA spell alone.
    let text = l.run(&["party", "ISR", "--history", "--seq", "14"]).ok().to_owned();
    assert!(text.contains("isa") && !text.contains("xo") && text.trim_end().ends_with("1 spell"), "{text}");
    assert!(l.run(&["party", "XYZ", "--history"]).fails(1).contains("XYZ"));
}

/// A ledger written before the party index (no `P` keys, no `Mparties`)
/// answers `party` as one with it, and has the index from its next open on;
/// the index names only the orgs whose events name the party.
#[test]
fn party_answers_the_same_on_a_ledger_written_before_the_party_index() {
    let l = isa();
    for event in [
        r#"{"type":"founding","org":"xo","date":"2000-01-01","members":["ISR","FRA"]}"#,
        r#"{"type":"founding","org":"yo","date":"2000-01-01","members":["FRA"]}"#,
    ] {
        l.append(event);
    }
    let asks: [&[&str]; 4] = [
        &["party", "ISR", "--at", "2021-01-01", "--json"],
        &["party", "FRA", "--at", "2021-01-01", "--json"],
        &["party", "ISR", "--history", "--json"],
        &["party", "ISR", "--at", "2021-01-01", "--seq", "15", "--json"],
    ];
    let with_index: Vec<String> = asks.iter().map(|a| l.run(a).ok().to_owned()).collect();
    let index = |l: &crate::support::Ledger| -> Vec<(Vec<u8>, Vec<u8>)> {
        let db = crate::support::sled_at(&l.path());
        let keys =
            db.scan_prefix(b"P").chain(db.get(b"Mparties").transpose().map(|v| v.map(|v| (b"Mparties"[..].into(), v))));
        keys.map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("read")).collect()
    };
    let before = index(&l);
    let isr: Vec<u8> = [&b"PISR\0"[..], &0u32.to_be_bytes()].concat();
    assert!(before.contains(&(isr, b"isa\0xo\0".to_vec())), "ISR is named in isa and xo only: {before:?}");
    {
        let db = crate::support::sled_at(&l.path());
        for (key, _) in &before {
            db.remove(key).expect("remove");
        }
        db.flush().expect("flush");
    }
    assert!(index(&l).is_empty());
    let without: Vec<String> = asks.iter().map(|a| l.run(a).ok().to_owned()).collect();
    assert_eq!(without, with_index);
    assert_eq!(index(&l), before, "the next open built the same index");
    l.run(&["audit", "verify"]).ok();
}
