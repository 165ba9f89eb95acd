//! The ledger core: append, import, export, idempotency, rules, exit codes.

use crate::support::*;

#[test]
fn bundled_isa_log_imports_and_shows_twelve_members() {
    let l = Ledger::new();
    l.run(&["import", isa_log().to_str().unwrap()]).ok();
    let m = l.members("isa", "2026-11-29", &[]);
    assert_eq!(m["count"], 12, "{m}");
}
