//! The allocator: mimalloc is started in the commands that allocate with it
//! (import, export, audit, serve), and in no other.

use crate::support::*;

/// What mimalloc writes on stderr when it starts with `MIMALLOC_VERBOSE=1`.
const STARTED: &str = "mimalloc: process init";

/// stderr of accord on `l` with `args`, mimalloc asked to say what it does.
fn verbose_stderr(l: &Ledger, args: &[&str]) -> String {
    let out = l.command(args).env("MIMALLOC_VERBOSE", "1").output().expect("run accord");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "accord {args:?} failed: {stderr}");
    stderr
}

/// An import, an export and an audit start mimalloc as its own constructor
/// did: it reads its environment (here, `MIMALLOC_VERBOSE`), which it does
/// only once started, not when merely called upon (it then takes itself for
/// preloading, reads no option and gives no memory back). A query, a
/// `head`, `--version` allocate with glibc's malloc and never start it.
/// An audit never gives memory back before it ends, the others within 10 ms.
#[test]
fn mimalloc_starts_in_the_bulk_commands_and_no_other() {
    let l = Ledger::new();
    let log = isa_log();
    for args in [&["import", s(&log)][..], &["export"], &["audit", "verify"]] {
        let stderr = verbose_stderr(&l, args);
        assert!(stderr.contains(STARTED), "accord {args:?} did not start mimalloc: {stderr}");
        // An audit keeps what it frees for itself; the others give it
        // back within 10 ms (the import's peak RSS depends on it).
        let delay = if args[0] == "audit" { "-1" } else { "10" };
        let option = format!("option 'purge_delay': {delay}");
        assert!(stderr.contains(&option), "accord {args:?} did not set {option}: {stderr}");
    }
    for args in [&["members", "isa", "--at", "2021-01-01"][..], &["head"], &["--version"], &["orgs", "--json"]] {
        let stderr = verbose_stderr(&l, args);
        assert!(!stderr.contains("mimalloc"), "accord {args:?} started mimalloc: {stderr}");
    }
}
