//! The rules (SPEC §3): given events, when one more, then refused with the timeline's sentence, or accepted.

// The recorder puts the sentence after "EVENT breaks a rule of org `ORG`: ".
// Recorded events are named by seq, the event checked (and those earlier in
// the same import) by date.

use crate::harness::{accepted, given, refused, then};

/// Founded on 2000-01-01 by A and B; C an observer from 2001-03.
const ORG: &str = r#"
    {"type":"founding","date":"2000-01-01","members":["A","B"]}
    {"type":"accession","date":"2001-03","members":["C"],"status":"observer"}
    "#;

// ---------------------------------------------------------------------------
// Who may be named

#[test]
fn an_accession_of_a_member_is_refused() {
    let sentence = "A is already a member (full), since the founding at seq 1 (event @1)";
    refused(ORG, r#"{"type":"accession","date":"2002","members":["A"]}"#, sentence);
    let sentence = "C is already a member (observer), since the accession at seq 2 (event @2)";
    refused(ORG, r#"{"type":"accession","date":"2002","members":["C"],"status":"full"}"#, sentence);
}

#[test]
fn an_accession_of_a_suspended_member_is_refused() {
    let log = format!("{ORG}\n{}", r#"{"type":"suspension","date":"2002-01-01","members":["C"]}"#);
    let sentence = "C is already a member (suspended), since the suspension at seq 3 (event @3)";
    refused(&log, r#"{"type":"accession","date":"2003","members":["C"]}"#, sentence);
}

#[test]
fn only_a_member_may_withdraw_be_expelled_suspended_reinstated_or_change_status() {
    for event in [
        r#"{"type":"withdrawal","date":"2002","members":["X"]}"#,
        r#"{"type":"expulsion","date":"2002","members":["X"]}"#,
        r#"{"type":"suspension","date":"2002","members":["X"]}"#,
        r#"{"type":"reinstatement","date":"2002","members":["X"]}"#,
        r#"{"type":"status_change","date":"2002","members":["X"],"status":"observer"}"#,
        // C is not a member yet in 2001-02.
        r#"{"type":"withdrawal","date":"2001-02","members":["C"]}"#,
    ] {
        let party = if event.contains("\"C\"") { "C" } else { "X" };
        refused(ORG, event, &format!("{party} is not a member"));
    }
}

#[test]
fn a_former_member_is_no_member_and_is_named_without_its_past() {
    let log = format!("{ORG}\n{}", r#"{"type":"withdrawal","date":"2002","members":["B"]}"#);
    refused(&log, r#"{"type":"withdrawal","date":"2003","members":["B"]}"#, "B is not a member");
    refused(&log, r#"{"type":"status_change","date":"2003","members":["B"],"status":"full"}"#, "B is not a member");
    // It may join again.
    accepted(&log, r#"{"type":"accession","date":"2003","members":["B"],"status":"associate"}"#);
}

#[test]
fn one_party_that_may_not_be_named_refuses_the_whole_event() {
    // The harness also checks that the refused event changed nothing.
    let log = r#"{"type":"founding","date":"2000","members":["A","B","C","D","E","F"]}"#;
    refused(log, r#"{"type":"withdrawal","date":"2001","members":["A","B","C","D","X"]}"#, "X is not a member");
    let g = accepted(log, r#"{"type":"withdrawal","date":"2001","members":["A","B","C","D","E"]}"#);
    then(&g, &[("2002-01-01", "A=none@2 B=none@2 C=none@2 D=none@2 E=none@2 F=full@1")]);
}

// ---------------------------------------------------------------------------
// Suspension and reinstatement

#[test]
fn a_suspended_member_cannot_be_suspended_again() {
    let log = format!("{ORG}\n{}", r#"{"type":"suspension","date":"2002-01-01","members":["C"]}"#);
    let sentence = "C is already suspended, since the suspension at seq 3 (event @3)";
    refused(&log, r#"{"type":"suspension","date":"2003","members":["C"]}"#, sentence);
}

#[test]
fn only_a_suspended_member_may_be_reinstated() {
    let sentence = "A is not suspended: it has been full since the founding at seq 1 (event @1)";
    refused(ORG, r#"{"type":"reinstatement","date":"2002","members":["A"]}"#, sentence);
    let sentence = "C is not suspended: it has been observer since the accession at seq 2 (event @2)";
    refused(ORG, r#"{"type":"reinstatement","date":"2002","members":["C"]}"#, sentence);
}

#[test]
fn a_suspended_member_may_change_status_be_expelled_or_be_listed_by_a_launch() {
    let log = format!("{ORG}\n{}", r#"{"type":"suspension","date":"2002-01-01","members":["C"]}"#);
    accepted(&log, r#"{"type":"status_change","date":"2003","members":["C"],"status":"full"}"#);
    accepted(&log, r#"{"type":"expulsion","date":"2003","members":["C"]}"#);
    let g = accepted(&log, r#"{"type":"launch","date":"2003","members":["A","C","L"]}"#);
    then(&g, &[("2004-01-01", "A=full@1 B=full@1 C=suspended@3 L=full@4")]);
}

// ---------------------------------------------------------------------------
// The founding and the dissolution bound the timeline

#[test]
fn an_org_without_a_founding_takes_only_a_founding() {
    let sentence = "the org has no founding: record its founding first";
    refused("", r#"{"type":"accession","date":"2001","members":["A"]}"#, sentence);
    refused("", r#"{"type":"dissolution","date":"2001"}"#, sentence);
    accepted("", r#"{"type":"founding","date":"2001","members":["A"]}"#);
}

#[test]
fn an_org_is_founded_once() {
    let sentence = "the org is already founded, by the founding at seq 1 (event @1)";
    refused(ORG, r#"{"type":"founding","date":"2000-01-01","members":["Z"]}"#, sentence);
    refused(ORG, r#"{"type":"founding","date":"2005","members":["Z"]}"#, sentence);
    // An earlier founding sorts first: the recorded one is what breaks.
    let sentence =
        "at the founding at seq 1 (event @1): the org is already founded, by the founding dated 1999 (event @3)";
    refused(ORG, r#"{"type":"founding","date":"1999","members":["Z"]}"#, sentence);
}

#[test]
fn an_event_dated_wholly_before_the_founding_is_refused() {
    // The founding's first day, whatever the founding's precision.
    let log = r#"{"type":"founding","date":"2000","members":["A"]}"#;
    let sentence = "it is dated before the org's founding (from 2000-01-01)";
    refused(log, r#"{"type":"accession","date":"1999","members":["X"]}"#, sentence);
    refused(log, r#"{"type":"exercise","date":"1999-12-31","name":"Drill"}"#, sentence);
    refused(log, r#"{"type":"accession","date":"1990/1999-12","members":["X"]}"#, sentence);
    // A range that may end after the founding is clipped to it, and counts.
    let g = accepted(log, r#"{"type":"accession","date":"1999/2000-03","members":["X"]}"#);
    then(
        &g,
        &[
            ("1999-06-01", "A=none X=none"),
            ("2000-02-01", "A~none|full@1 X~none|full@2"),
            ("2001-01-01", "A=full@1 X=full@2"),
        ],
    );
}

#[test]
fn nothing_comes_after_the_dissolution() {
    let log = format!("{ORG}\n{}", r#"{"type":"dissolution","date":"2010-06/2010-08"}"#);
    let sentence = "it comes after the dissolution at seq 3 (event @3)";
    for event in [
        r#"{"type":"exercise","date":"2011","name":"late"}"#,
        r#"{"type":"accession","date":"2010-07","members":["E"]}"#,
        r#"{"type":"withdrawal","date":"2011","members":["A"]}"#,
        r#"{"type":"dissolution","date":"2012"}"#,
        // Not even a new founding: the org is gone for good.
        r#"{"type":"founding","date":"2012","members":["A"]}"#,
    ] {
        refused(&log, event, sentence);
    }
    // An event that may precede it sorts before it, and counts.
    let g = accepted(&log, r#"{"type":"accession","date":"2010-05/2010-07","members":["E"]}"#);
    then(&g, &[("2010-05-15", "A=full@1 B=full@1 C=observer@2 E~none|full@4")]);
    accepted(&log, r#"{"type":"exercise","date":"2009","name":"Drill"}"#);
}

// ---------------------------------------------------------------------------
// Order: effective date, then log position

#[test]
fn on_one_day_events_count_in_log_order() {
    let log = r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"withdrawal","date":"2001-01-01","members":["A"]}
        "#;
    let g = accepted(log, r#"{"type":"accession","date":"2001-01-01","members":["A"]}"#);
    then(&g, &[("2001-01-01", "A=full@3")]);
}

#[test]
fn an_accepted_back_dated_event_takes_its_place_in_effective_order() {
    let mut g = given(ORG);
    g.when(r#"{"type":"exercise","date":"2005","name":"Drill"}"#).unwrap();
    g.when(r#"{"type":"accession","date":"2003","members":["D"]}"#).unwrap();
    g.when(r#"{"type":"accession","date":"2001-03-01","members":["E"]}"#).unwrap();
    assert_eq!(g.order(), [1, 2, 5, 4, 3]);
}

#[test]
fn a_back_dated_event_that_breaks_a_recorded_one_names_it() {
    let log = format!(
        "{ORG}\n{}\n{}",
        r#"{"type":"suspension","date":"2003-05-10","members":["C"]}"#,
        r#"{"type":"reinstatement","date":"2004","members":["C"]}"#
    );
    // Fine where it falls, but makes C's accession of 2001-03 name a member.
    let sentence = "at the accession at seq 2 (event @2): C is already a member (full), since the accession dated 2000-12 (event @5)";
    refused(&log, r#"{"type":"accession","date":"2000-12","members":["C"]}"#, sentence);
    // Fine where it falls, but leaves C's reinstatement with nobody suspended.
    let sentence = "at the reinstatement at seq 4 (event @4): C is not a member";
    refused(&log, r#"{"type":"withdrawal","date":"2003-07","members":["C"]}"#, sentence);
}

#[test]
fn events_earlier_in_the_same_import_are_named_by_date() {
    let mut g = given(ORG);
    let refusal = g.import(
        r#"
        {"type":"suspension","date":"2004","members":["B"]}
        {"type":"suspension","date":"2005","members":["B"]}
        "#,
    );
    let sentence = "B is already suspended, since the suspension dated 2004 (event @3), earlier in this import";
    assert_eq!(refusal.unwrap_err(), sentence);
}

// ---------------------------------------------------------------------------
// Corrections

#[test]
fn retracting_an_event_that_later_events_need_is_refused() {
    let log = r#"
        {"type":"founding","date":"2000","members":["A"]}
        {"type":"accession","date":"2001","members":["B"]}
        {"type":"withdrawal","date":"2002","members":["B"]}
        "#;
    let sentence = "at the withdrawal at seq 3 (event @3): B is not a member";
    refused(log, r#"{"type":"retraction","retracts":"@2","reason":"oops"}"#, sentence);
    // Superseding it by one dated after the withdrawal breaks it the same way.
    refused(log, r#"{"type":"accession","date":"2003","members":["B"],"supersedes":"@2"}"#, sentence);
    // By one dated earlier is fine.
    let g = accepted(log, r#"{"type":"accession","date":"2000-06","members":["B"],"supersedes":"@2"}"#);
    assert_eq!(g.order(), [1, 4, 3]);
}

#[test]
fn a_correction_that_breaks_a_rule_itself_is_named_by_its_date() {
    let log = r#"
        {"type":"founding","date":"2000","members":["A"]}
        {"type":"accession","date":"2001","members":["B"]}
        "#;
    let sentence = "A is already a member (full), since the founding at seq 1 (event @1)";
    refused(log, r#"{"type":"accession","date":"2001","members":["A"],"supersedes":"@2"}"#, sentence);
}

#[test]
fn the_founding_can_be_retracted_only_with_nothing_after_it() {
    let sentence = "the org has no founding: record its founding first";
    refused(ORG, r#"{"type":"retraction","retracts":"@1","reason":"never founded"}"#, sentence);
    // Alone, it leaves an empty timeline: the org may be founded anew.
    let log = r#"{"type":"founding","date":"2000","members":["A"]}"#;
    let mut g = accepted(log, r#"{"type":"retraction","retracts":"@1","reason":"never founded"}"#);
    assert_eq!(g.order(), [] as [u64; 0]);
    g.when(r#"{"type":"founding","date":"2001","members":["B"]}"#).unwrap();
    then(&g, &[("2001-06-01", "B~none|full@3"), ("2002-01-01", "B=full@3")]);
}

#[test]
fn a_later_founding_by_correction_leaves_earlier_events_before_it() {
    let sentence = "the accession at seq 2 (event @2) is dated before the org's founding (from 2002-01-01)";
    refused(ORG, r#"{"type":"founding","date":"2002","members":["A","B"],"supersedes":"@1"}"#, sentence);
    // Moved within the range the accession allows, it is fine.
    accepted(ORG, r#"{"type":"founding","date":"2001-02","members":["A","B"],"supersedes":"@1"}"#);
}
