//! Merkle proofs and signed checkpoints (issue 14), checked by an outsider:
//! examples/verify_proof.py, Python's standard library only, written from
//! RFC 6962/9162 and not from accord's code.

use std::path::Path;
use std::process::Command;

use crate::support::{Ledger, synthetic, tool_available};

fn verifier() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/verify_proof.py")
}

/// Runs verify_proof.py; its stdout if it accepts, `None` if it refuses.
fn python(args: &[&Path]) -> Option<String> {
    let out = Command::new("python3").arg(verifier()).args(args).output().expect("run python3");
    match out.status.code() {
        Some(0) => Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        Some(1) => None,
        _ => panic!("verify_proof.py failed: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// A ledger of 700 events recorded by three commands (so the tree grows
/// across commits), its export, and a scratch directory.
fn ledger() -> (Ledger, tempfile::TempDir, std::path::PathBuf) {
    let l = Ledger::new();
    let text = synthetic(700, 3);
    let lines: Vec<&str> = text.lines().collect();
    for part in [&lines[..300], &lines[300..301], &lines[301..]] {
        l.import_text(&(part.join("\n") + "\n")).ok();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let export = dir.path().join("export.ndjson");
    l.run(&["export", "-o", export.to_str().expect("UTF-8 path")]).ok();
    (l, dir, export)
}

#[test]
fn inclusion_and_consistency_proofs_check_with_an_independent_verifier() {
    if !tool_available("python3") {
        return;
    }
    let (l, dir, export) = ledger();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let sizes = [1u64, 2, 255, 256, 257, 300, 301, 512, 513, 700];
    for size in sizes {
        // The root accord proves against is the root of the export's first
        // `size` lines, hashed from scratch.
        let naive = python(&[Path::new("root"), &export, Path::new(&size.to_string())]).expect("root");
        for seq in [1, size / 2 + 1, size] {
            let proof = l.run(&["--json", "prove", "inclusion", &seq.to_string(), "--size", &size.to_string()]);
            let value = proof.json();
            assert_eq!(value["root_base64"], naive.as_str(), "size {size}");
            let path = file("inclusion.json", proof.ok());
            assert_eq!(python(&[Path::new("inclusion"), &path]).as_deref(), Some("ok"), "seq {seq} of {size}");
            // Any hash of its path or its index changed: refused. (Its size
            // alone is not bound by the path, only by the signed checkpoint
            // that names size and root together: checked below.)
            let mut tampered: Vec<serde_json::Value> = Vec::new();
            for i in 0..value["path"].as_array().expect("path").len() {
                let mut t = value.clone();
                let h = t["path"][i].as_str().expect("hex").to_owned();
                let flipped = if h.starts_with('0') { "1" } else { "0" };
                t["path"][i] = format!("{flipped}{}", &h[1..]).into();
                tampered.push(t);
            }
            let index = value["index"].as_u64().expect("index");
            for other in [index.wrapping_sub(1), index + 1, index ^ 2] {
                if other < size && other != index {
                    let mut t = value.clone();
                    t["index"] = other.into();
                    tampered.push(t);
                }
            }
            // Tampering is checked on two trees (one of them the whole log).
            for t in tampered.into_iter().filter(|_| size == 257 || size == 700) {
                let path = file("tampered.json", &t.to_string());
                assert_eq!(python(&[Path::new("inclusion"), &path]), None, "accepted {t}");
            }
        }
        for from in sizes.iter().copied().filter(|&f| f <= size) {
            let proof =
                l.run(&["--json", "prove", "consistency", "--from", &from.to_string(), "--to", &size.to_string()]);
            let path = file("consistency.json", proof.ok());
            assert_eq!(python(&[Path::new("consistency"), &path]).as_deref(), Some("ok"), "{from} -> {size}");
            let value = proof.json();
            if let Some(first) = value["path"][0].as_str() {
                let mut t = value.clone();
                t["path"][0] = format!("{}{}", if first.starts_with('0') { "1" } else { "0" }, &first[1..]).into();
                let path = file("tampered.json", &t.to_string());
                assert_eq!(python(&[Path::new("consistency"), &path]), None, "{from} -> {size} tampered");
            }
        }
    }
    // The checkpoint names the whole tree; a proof against another tree is refused.
    let checkpoint = file("checkpoint.txt", l.run(&["checkpoint"]).ok());
    let whole = file("whole.json", l.run(&["--json", "prove", "inclusion", "5"]).ok());
    assert_eq!(python(&[Path::new("inclusion"), &whole, &checkpoint]).as_deref(), Some("ok"));
    let part = file("part.json", l.run(&["--json", "prove", "inclusion", "5", "--size", "600"]).ok());
    assert_eq!(python(&[Path::new("inclusion"), &part, &checkpoint]), None);
    // Asked past the log: not found.
    assert!(l.run(&["prove", "inclusion", "701"]).fails(1).contains("no seq 701"));
    assert!(l.run(&["prove", "consistency", "--from", "0"]).fails(1).contains("not in the tree"));
}

#[test]
fn a_signed_checkpoint_opens_with_the_verifier_key_and_the_origin_is_kept() {
    use accord::proof::{Checkpoint, Verifier};
    let l = Ledger::new();
    l.import_text(&synthetic(40, 2)).ok();
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("isa.key");
    let key_arg = key.to_str().expect("UTF-8 path");
    let generated = l.run(&["key", "generate", "example.org/isa-ledger", "-o", key_arg]);
    let vkey = generated.ok().trim().to_owned();
    assert!(vkey.starts_with("example.org/isa-ledger+"), "{vkey}");
    assert!(
        !generated.stdout.contains("PRIVATE") && !generated.stderr.contains("PRIVATE"),
        "a private key was printed"
    );
    let private = std::fs::read_to_string(&key).expect("read the key");
    assert!(private.starts_with("PRIVATE+KEY+example.org/isa-ledger+"), "{private}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key is readable by others");
    }
    // An existing key file is never overwritten.
    l.run(&["key", "generate", "other", "-o", key_arg]).fails(1);
    assert_eq!(std::fs::read_to_string(&key).expect("read"), private);

    let unsigned = l.run(&["checkpoint", "--origin", "example.org/isa-ledger"]).ok().to_owned();
    let signed = l.run(&["checkpoint", "--sign", key_arg]).ok().to_owned();
    let verifier = Verifier::from_verifier_key_str(&vkey).expect("verifier key");
    let opened = Checkpoint::open(&signed, &[verifier]).expect("the signature checks");
    assert_eq!(opened.to_text(), unsigned);
    assert_eq!((opened.origin.as_str(), opened.size), ("example.org/isa-ledger", 40));
    // Another key does not open it; a changed size breaks the signature.
    let other = Verifier::from_verifier_key_str("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        .expect("Go's test key");
    assert!(Checkpoint::open(&signed, &[other]).is_err());
    let verifier = Verifier::from_verifier_key_str(&vkey).expect("verifier key");
    assert!(Checkpoint::open(&signed.replacen("\n40\n", "\n41\n", 1), &[verifier]).is_err());
    // The origin is set once.
    assert!(
        l.run(&["checkpoint", "--origin", "example.org/other"]).fails(1).contains("already `example.org/isa-ledger`")
    );
    l.run(&["checkpoint", "--origin", "bad origin"]).fails(1);
}

/// `audit verify --checkpoint FILE` proves the ledger, or an export, still
/// holds the tree a signed checkpoint names, after the log grew; it refuses
/// another log's checkpoint, a wrong key, a signed one without a key.
#[test]
fn audit_verify_checks_the_log_against_a_signed_checkpoint() {
    let l = Ledger::new();
    let text = synthetic(600, 2);
    let lines: Vec<&str> = text.lines().collect();
    l.import_text(&(lines[..300].join("\n") + "\n")).ok();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8 path").to_owned();
    let vkey = l.run(&["key", "generate", "example.org/log", "-o", &path("k")]).ok().trim().to_owned();
    std::fs::write(path("vkey"), &vkey).expect("write");
    let signed = l.run(&["checkpoint", "--origin", "example.org/log", "--sign", &path("k")]).ok().to_owned();
    std::fs::write(path("cp"), &signed).expect("write");
    // The log grows; the checkpoint of its first 300 events still holds.
    l.import_text(&(lines[300..].join("\n") + "\n")).ok();
    for key in [vkey.as_str(), &path("vkey")] {
        let ok = l.run(&["audit", "verify", "--checkpoint", &path("cp"), "--key", key]).ok().to_owned();
        assert!(ok.contains("consistent with the checkpoint of example.org/log at 300 events (signed)"), "{ok}");
    }
    l.run(&["export", "-o", &path("export")]).ok();
    let run = l.run(&["audit", "verify", "--file", &path("export"), "--checkpoint", &path("cp"), "--key", &vkey]);
    assert!(run.ok().contains("at 300 events"));
    // An export cut before the checkpoint's size lost events it vouched for.
    let export = std::fs::read_to_string(path("export")).expect("read");
    let short: String = export.lines().take(200).map(|l| format!("{l}\n")).collect();
    std::fs::write(path("short"), short).expect("write");
    let run = l.run(&["audit", "verify", "--file", &path("short"), "--checkpoint", &path("cp"), "--key", &vkey]);
    assert!(run.fails(3).contains("names 300 events, but the log holds 200"), "{}", run.stderr);
    // Another log of the same events (recorded at other times): another root.
    let other = Ledger::new();
    other.import_text(&(lines[..300].join("\n") + "\n")).ok();
    other.run(&["checkpoint", "--origin", "example.org/log"]).ok();
    let run = other.run(&["audit", "verify", "--checkpoint", &path("cp"), "--key", &vkey]);
    assert!(run.fails(3).contains("do not hash to the root of the checkpoint"), "{}", run.stderr);
    // A checkpoint of another origin, a wrong key, no key, a key for an unsigned one.
    let third = Ledger::new();
    third.import_text(&(lines[..300].join("\n") + "\n")).ok();
    third.run(&["checkpoint", "--origin", "example.org/third"]).ok();
    assert!(
        third
            .run(&["audit", "verify", "--checkpoint", &path("cp"), "--key", &vkey])
            .fails(1)
            .contains("not of this one")
    );
    let go = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert!(l.run(&["audit", "verify", "--checkpoint", &path("cp"), "--key", go]).code != 0);
    assert!(l.run(&["audit", "verify", "--checkpoint", &path("cp")]).fails(2).contains("give --key"));
    std::fs::write(path("unsigned"), l.run(&["checkpoint"]).ok()).expect("write");
    l.run(&["audit", "verify", "--checkpoint", &path("unsigned")]).ok();
    assert!(
        l.run(&["audit", "verify", "--checkpoint", &path("unsigned"), "--key", &vkey]).fails(2).contains("not signed")
    );
    // A changed size in the signed text breaks its signature.
    std::fs::write(path("forged"), signed.replacen("\n300\n", "\n299\n", 1)).expect("write");
    l.run(&["audit", "verify", "--checkpoint", &path("forged"), "--key", &vkey]).fails(3);
}

/// `prove member` writes a claim anyone can check with `verify-claim` and
/// the verifier key alone: ISR a full member of the ISA on 2021-01-01 since
/// its accession of 2020-12-09 (isa.md), not yet in 2019, SGP uncertain at
/// the end of 2017 (its founding membership is dated 2017-02/2018-03).
/// A claim changed in any part is refused.
#[test]
fn a_membership_claim_is_checked_with_no_ledger_and_refused_when_changed() {
    let l = Ledger::new();
    l.run(&["import", crate::support::s(&crate::support::isa_log())]).ok();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8 path").to_owned();
    let vkey = l.run(&["key", "generate", "example.org/isa-ledger", "-o", &path("k")]).ok().trim().to_owned();
    l.run(&["checkpoint", "--origin", "example.org/isa-ledger"]).ok();
    let claim = |party: &str, day: &str| -> serde_json::Value {
        let file = path(&format!("{party}-{day}.json"));
        l.run(&["prove", "member", "isa", party, "--at", day, "--sign", &path("k"), "-o", &file]).ok();
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read the claim")).expect("JSON")
    };
    let check = |value: &serde_json::Value| {
        let file = path("check.json");
        std::fs::write(&file, value.to_string()).expect("write");
        // verify-claim needs no ledger: run it where there is none.
        let out = std::process::Command::new(crate::support::BIN)
            .args(["--ledger", &path("no-ledger-here"), "verify-claim", &file, "--key", &vkey])
            .output()
            .expect("run accord");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let isr = claim("ISR", "2021-01-01");
    assert_eq!(isr["reading"]["status"], "full");
    assert_eq!(isr["reading"]["since"], "2020-12-09");
    assert!(isr["proves"].as_str().expect("text").contains("not proved here"));
    let seqs: Vec<u64> =
        isr["events"].as_array().expect("events").iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert_eq!(seqs.first(), Some(&1), "the founding decides every reading: {seqs:?}");
    let (code, said) = check(&isr);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("ok: ISR in isa on 2021-01-01: full"), "{said}");
    assert!(!std::path::Path::new(&path("no-ledger-here")).exists(), "verify-claim created a ledger");
    assert_eq!(claim("ISR", "2019-06-01")["reading"]["status"], "none");
    let sgp = claim("SGP", "2017-12-31");
    assert_eq!(sgp["reading"]["certain"], false, "{sgp}");
    assert_eq!(check(&sgp).0, Some(0));

    // Changed: the reading, an event's bytes, an event left out, a path hash, the checkpoint.
    let mut changed = Vec::new();
    let mut t = isr.clone();
    t["reading"]["status"] = "observer".into();
    changed.push(t);
    let mut t = isr.clone();
    let env = t["events"][1]["envelope"].as_str().expect("envelope").replacen("2020", "2019", 1);
    t["events"][1]["envelope"] = env.into();
    changed.push(t);
    let mut t = isr.clone();
    let last = t["events"].as_array().expect("events").len() - 1;
    t["events"].as_array_mut().expect("events").remove(last);
    changed.push(t);
    let mut t = isr.clone();
    let h = t["events"][0]["path"][0].as_str().expect("hex").to_owned();
    t["events"][0]["path"][0] = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]).into();
    changed.push(t);
    let mut t = isr.clone();
    t["checkpoint"] = t["checkpoint"].as_str().expect("note").replacen("\n14\n", "\n13\n", 1).into();
    changed.push(t);
    // The outsider's check of the proofs agrees (Python, no accord code).
    let python_claim = |value: &serde_json::Value| {
        let file = dir.path().join("python.json");
        std::fs::write(&file, value.to_string()).expect("write");
        python(&[Path::new("claim"), &file])
    };
    if tool_available("python3") {
        assert_eq!(python_claim(&isr).as_deref(), Some("ok 2"), "the founding and ISR's accession");
        assert_eq!(python_claim(&changed[1]), None, "a changed envelope passed the outsider's check");
        assert_eq!(python_claim(&changed[3]), None, "a changed path hash passed the outsider's check");
    }
    for t in changed {
        let (code, said) = check(&t);
        assert_eq!(code, Some(3), "accepted a changed claim: {said}");
    }
}

/// A signed checkpoint is checked by OpenSSL alone
/// (examples/verify_signature.sh, as README shows it), and a changed one
/// is refused.
#[test]
fn openssl_checks_a_signed_checkpoint() {
    if !crate::support::tool_answers("openssl", "version") || !tool_available("xxd") {
        return;
    }
    let l = Ledger::new();
    l.import_text(&synthetic(20, 2)).ok();
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("k");
    let vkey = l.run(&["key", "generate", "example.org/log", "-o", crate::support::s(&key)]).ok().trim().to_owned();
    let signed =
        l.run(&["checkpoint", "--origin", "example.org/log", "--sign", crate::support::s(&key)]).ok().to_owned();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/verify_signature.sh");
    let check = |note: &str| {
        let file = dir.path().join("note");
        std::fs::write(&file, note).expect("write");
        Command::new("bash").arg(&script).arg(&file).arg(&vkey).output().expect("run bash")
    };
    let ok = check(&signed);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Signature Verified Successfully"));
    assert!(!check(&signed.replacen("\n20\n", "\n21\n", 1)).status.success(), "a changed size was accepted");
    assert!(!check(&signed.replacen("example.org/log\n", "example.org/lag\n", 1)).status.success());
}
