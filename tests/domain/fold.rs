//! The uncertainty fold (SPEC §5): given events, on a day, then each party's reading.

use crate::harness::{accepted, check, given, then};

// ---------------------------------------------------------------------------
// Each event type's effect

#[test]
fn a_founding_makes_its_members_full_members_from_its_day() {
    check(
        r#"{"type":"founding","date":"2000-01-01","members":["A","B"]}"#,
        &[("1999-12-31", "A=none B=none"), ("2000-01-01", "A=full@1 B=full@1"), ("2090-01-01", "A=full@1 B=full@1")],
    );
}

#[test]
fn a_launch_makes_new_parties_full_members_and_leaves_members_as_they_are() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A","S"]}
        {"type":"suspension","date":"2000-06-01","members":["S"]}
        {"type":"launch","date":"2001-05","members":["A","L","S"]}
        "#,
        &[
            ("2001-05-15", "A=full@1 L~none|full@3 S=suspended@2"),
            // A keeps its founding as `since`; S stays suspended.
            ("2001-06-01", "A=full@1 L=full@3 S=suspended@2"),
        ],
    );
}

#[test]
fn an_exercise_changes_no_standing_and_its_participants_are_not_parties() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"exercise","date":"2001","name":"Drill","participants":["A","X"]}
        "#,
        &[("2001-06-01", "A=full@1"), ("2002-01-01", "A=full@1")],
    );
}

#[test]
fn an_accession_is_full_unless_it_gives_a_status() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"accession","date":"2001-01-01","members":["F"]}
        {"type":"accession","date":"2001-01-01","members":["S"],"status":"associate"}
        {"type":"accession","date":"2001-01-01","members":["O","P"],"status":"observer"}
        "#,
        &[
            ("2000-12-31", "A=full@1 F=none O=none P=none S=none"),
            ("2001-01-01", "A=full@1 F=full@2 O=observer@4 P=observer@4 S=associate@3"),
        ],
    );
}

#[test]
fn a_status_change_gives_the_new_status_from_its_date() {
    check(
        r#"
        {"type":"founding","date":"2000","members":["A","B"]}
        {"type":"status_change","date":"2002","members":["B"],"status":"associate"}
        {"type":"status_change","date":"2008-04","members":["B"],"status":"observer"}
        "#,
        &[
            // Possible statuses are listed none, full, associate, observer, suspended.
            ("2002-06-01", "A=full@1 B~full|associate@2"),
            ("2003-01-01", "A=full@1 B=associate@2"),
            ("2008-04-15", "A=full@1 B~associate|observer@3"),
            ("2008-05-01", "A=full@1 B=observer@3"),
        ],
    );
}

#[test]
fn a_status_change_to_the_status_held_changes_nothing_not_even_since() {
    // SPEC leaves it open; the rules accept it, and `since` stays with the
    // event that gave the status.
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"status_change","date":"2001","members":["A"],"status":"full"}
        "#,
        &[("2001-06-01", "A=full@1"), ("2002-01-01", "A=full@1")],
    );
}

#[test]
fn a_withdrawal_and_an_expulsion_end_membership_that_very_day() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A","B"]}
        {"type":"withdrawal","date":"2005-02-01","members":["A"]}
        {"type":"expulsion","date":"2005-02-01","members":["B"]}
        "#,
        &[("2005-01-31", "A=full@1 B=full@1"), ("2005-02-01", "A=none@2 B=none@3")],
    );
}

#[test]
fn a_dissolution_ends_every_membership_including_suspended_ones() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A","C"]}
        {"type":"accession","date":"2001-01-01","members":["B"],"status":"observer"}
        {"type":"suspension","date":"2002-01-01","members":["C"]}
        {"type":"dissolution","date":"2010-06/2010-08"}
        "#,
        &[
            ("2010-05-31", "A=full@1 B=observer@2 C=suspended@3"),
            ("2010-07-01", "A~none|full@4 B~none|observer@4 C~none|suspended@4"),
            ("2010-09-01", "A=none@4 B=none@4 C=none@4"),
        ],
    );
}

#[test]
fn a_retraction_takes_its_target_out_of_every_reading() {
    let mut g = given(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"accession","date":"2001-01-01","members":["C"]}
        "#,
    );
    then(&g, &[("2002-01-01", "A=full@1 C=full@2")]);
    g.when(r#"{"type":"retraction","retracts":"@2","reason":"no such decision"}"#).unwrap();
    // C is named by no event that counts: it has no reading at all.
    then(&g, &[("2002-01-01", "A=full@1")]);
    assert_eq!(g.order(), [1]);
}

// ---------------------------------------------------------------------------
// Suspension and reinstatement

#[test]
fn a_suspended_member_is_a_member_and_is_reinstated_to_the_status_it_had() {
    check(
        r#"
        {"type":"founding","date":"2000","members":["A"]}
        {"type":"accession","date":"2001-03","members":["C"],"status":"observer"}
        {"type":"suspension","date":"2003-05-10","members":["C"]}
        {"type":"reinstatement","date":"2004-01/2004-06","members":["C"]}
        "#,
        &[
            ("2003-05-09", "A=full@1 C=observer@2"),
            ("2003-05-10", "A=full@1 C=suspended@3"),
            ("2004-03-01", "A=full@1 C~observer|suspended@4"),
            // Back as an observer, not as a full member.
            ("2004-07-01", "A=full@1 C=observer@4"),
        ],
    );
}

#[test]
fn a_status_change_while_suspended_is_what_reinstatement_gives_back() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["C"]}
        {"type":"suspension","date":"2003-05-10","members":["C"]}
        {"type":"status_change","date":"2003-08","members":["C"],"status":"observer"}
        {"type":"reinstatement","date":"2004","members":["C"]}
        "#,
        &[
            // Suspended since the suspension: the status change did not make it so.
            ("2003-09-01", "C=suspended@2"),
            ("2004-06-01", "C~observer|suspended@4"),
            ("2005-01-01", "C=observer@4"),
        ],
    );
}

#[test]
fn an_expelled_suspended_member_is_no_member() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A","B"]}
        {"type":"suspension","date":"2001-01-01","members":["B"]}
        {"type":"expulsion","date":"2002-03","members":["B"]}
        "#,
        &[("2002-03-15", "A=full@1 B~none|suspended@3"), ("2002-04-01", "A=full@1 B=none@3")],
    );
}

// ---------------------------------------------------------------------------
// Uncertain dates: possible before, uncertain inside, certain after

#[test]
fn a_month_is_uncertain_through_the_month() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"accession","date":"2017-02","members":["B"]}
        "#,
        &[
            ("2017-01-31", "A=full@1 B=none"),
            ("2017-02-01", "A=full@1 B~none|full@2"),
            ("2017-02-27", "A=full@1 B~none|full@2"),
            ("2017-02-28", "A=full@1 B=full@2"),
        ],
    );
}

#[test]
fn a_qualifier_does_not_widen_the_range_of_its_date() {
    // `2017~` is the year 2017, `2018-03-05?` that one day: the range is
    // what is uncertain, not the qualifier.
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"accession","date":"2017~","members":["B"]}
        {"type":"accession","date":"2018-03-05?","members":["C"]}
        {"type":"accession","date":"2019-06%","members":["D"]}
        "#,
        &[
            ("2016-12-31", "A=full@1 B=none C=none D=none"),
            ("2017-01-01", "A=full@1 B~none|full@2 C=none D=none"),
            ("2017-12-31", "A=full@1 B=full@2 C=none D=none"),
            ("2018-03-04", "A=full@1 B=full@2 C=none D=none"),
            ("2018-03-05", "A=full@1 B=full@2 C=full@3 D=none"),
            ("2019-06-15", "A=full@1 B=full@2 C=full@3 D~none|full@4"),
            ("2019-06-30", "A=full@1 B=full@2 C=full@3 D=full@4"),
        ],
    );
}

#[test]
fn an_interval_runs_from_the_first_day_of_its_start_to_the_last_day_of_its_end() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"accession","date":"2017-02/2018-03","members":["SGP"]}
        "#,
        &[
            ("2017-01-31", "A=full@1 SGP=none"),
            ("2017-02-01", "A=full@1 SGP~none|full@2"),
            ("2018-03-30", "A=full@1 SGP~none|full@2"),
            ("2018-03-31", "A=full@1 SGP=full@2"),
        ],
    );
}

#[test]
fn a_founding_dated_by_month_leaves_its_founders_open_through_the_month() {
    check(
        r#"{"type":"founding","date":"2017-02","members":["ARE","FRA"]}"#,
        &[
            ("2017-01-31", "ARE=none FRA=none"),
            ("2017-02-15", "ARE~none|full@1 FRA~none|full@1"),
            ("2017-02-28", "ARE=full@1 FRA=full@1"),
        ],
    );
}

#[test]
fn a_range_that_starts_before_the_founding_is_clipped_to_it() {
    check(
        r#"
        {"type":"founding","date":"2017-02","members":["ARE"]}
        {"type":"accession","date":"2016/2019-07-02","members":["SVK"]}
        "#,
        &[
            // Before the founding SVK cannot be a member, though its own range says it may.
            ("2016-06-01", "ARE=none SVK=none"),
            ("2017-02-01", "ARE~none|full@1 SVK~none|full@2"),
            ("2019-07-01", "ARE=full@1 SVK~none|full@2"),
            ("2019-07-02", "ARE=full@1 SVK=full@2"),
        ],
    );
}

#[test]
fn a_later_event_that_names_the_party_settles_an_earlier_open_range() {
    // SGP's own range runs to 2018-03-31, but the launch of 2018-03-04/05
    // lists it as a member: from 2018-03-05 it certainly is one.
    check(
        r#"
        {"type":"founding","date":"2017-02","members":["ARE"]}
        {"type":"accession","date":"2017-02/2018-03","members":["SGP"]}
        {"type":"launch","date":"2018-03-04/2018-03-05","members":["ARE","SGP"]}
        "#,
        &[("2018-03-04", "ARE=full@1 SGP~none|full@2"), ("2018-03-05", "ARE=full@1 SGP=full@2")],
    );
}

#[test]
fn events_of_one_party_happen_in_timeline_order_even_when_their_ranges_overlap() {
    // The accession sorts first (2001-01-01 before 2001-06-01): once the
    // withdrawal has certainly happened, so has the accession.
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"accession","date":"2001","members":["B"]}
        {"type":"withdrawal","date":"2001-06","members":["B"]}
        "#,
        &[
            ("2001-03-01", "A=full@1 B~none|full@2"),
            // Not yet a member, a member, or gone again: open since the accession.
            ("2001-06-15", "A=full@1 B~none|full@2"),
            ("2001-07-01", "A=full@1 B=none@3"),
        ],
    );
}

#[test]
fn a_status_that_an_open_event_leaves_as_it_was_is_certain() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A","B"]}
        {"type":"status_change","date":"2001-05","members":["A"],"status":"full"}
        {"type":"withdrawal","date":"2001-05","members":["B"]}
        {"type":"accession","date":"2001-05-20/2001-06","members":["B"]}
        "#,
        &[
            // A is full whether or not the status change has happened.
            ("2001-05-15", "A=full@1 B~none|full@3"),
            // B may not have left yet, may have left, or may be back.
            ("2001-05-25", "A=full@1 B~none|full@3"),
            // B has left, and may be back.
            ("2001-06-01", "A=full@1 B~none|full@4"),
            ("2001-07-01", "A=full@1 B=full@4"),
        ],
    );
}

// ---------------------------------------------------------------------------
// Leaving and coming back

#[test]
fn a_withdrawal_then_a_new_accession_leave_a_gap_with_no_membership() {
    check(
        r#"
        {"type":"founding","date":"2000","members":["A","B"]}
        {"type":"withdrawal","date":"2005-02-01","members":["A"]}
        {"type":"accession","date":"2006-03-01","members":["D"],"status":"associate"}
        {"type":"expulsion","date":"2006-09","members":["D"]}
        {"type":"accession","date":"2007~","members":["A"],"status":"observer"}
        "#,
        &[
            ("2005-01-31", "A=full@1 B=full@1 D=none"),
            ("2005-02-01", "A=none@2 B=full@1 D=none"),
            ("2006-06-01", "A=none@2 B=full@1 D=associate@3"),
            ("2006-09-15", "A=none@2 B=full@1 D~none|associate@4"),
            ("2006-12-31", "A=none@2 B=full@1 D=none@4"),
            ("2007-06-01", "A~none|observer@5 B=full@1 D=none@4"),
            // Back with the status of its new accession.
            ("2008-01-01", "A=observer@5 B=full@1 D=none@4"),
        ],
    );
}

// ---------------------------------------------------------------------------
// Corrections change which events count

#[test]
fn a_correction_by_supersedes_replaces_the_event_it_names() {
    let log = r#"
        {"type":"founding","date":"2015-01-01","members":["A"]}
        {"type":"accession","date":"2018-05-01","members":["B"]}
        "#;
    then(&given(log), &[("2017-01-01", "A=full@1 B=none"), ("2019-01-01", "A=full@1 B=full@2")]);
    let g = accepted(log, r#"{"type":"accession","date":"2016-05-01","members":["B"],"supersedes":"@2"}"#);
    // A member from the corrected date, `since` the correction.
    then(&g, &[("2016-04-30", "A=full@1 B=none"), ("2017-01-01", "A=full@1 B=full@3")]);
    assert_eq!(g.order(), [1, 3]);
}

#[test]
fn a_correction_may_change_the_type_and_the_parties() {
    // The seven-party accession, superseded by the five announced, then the
    // other two added on their own ranges (the ISA log, seqs 4, 6 and 7).
    check(
        r#"
        {"type":"founding","date":"2017-02","members":["ARE"]}
        {"type":"accession","date":"2017-02/2020-12-09","members":["BHR","SGP","SVK"]}
        {"type":"accession","date":"2017-02","members":["BHR"],"supersedes":"@2"}
        {"type":"accession","date":"2017-02/2018-03","members":["SGP"]}
        "#,
        &[("2018-01-01", "ARE=full@1 BHR=full@3 SGP~none|full@4")],
    );
}

#[test]
fn a_superseded_event_and_its_correction_take_their_own_places_in_the_order() {
    let g = given(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"exercise","date":"2003","name":"Drill"}
        {"type":"accession","date":"2005","members":["B"]}
        {"type":"accession","date":"2001","members":["B"],"supersedes":"@3"}
        {"type":"exercise","date":"2004","name":"Drill","supersedes":"@2"}
        "#,
    );
    assert_eq!(g.order(), [1, 4, 5]);
    then(&g, &[("2002-01-01", "A=full@1 B=full@4")]);
}

#[test]
fn a_retracted_accession_makes_way_for_another() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"accession","date":"2001-01-01","members":["C"]}
        {"type":"retraction","retracts":"@2","reason":"no such decision"}
        {"type":"accession","date":"2003-01-01","members":["C"],"status":"observer"}
        "#,
        &[("2002-01-01", "A=full@1 C=none"), ("2003-01-01", "A=full@1 C=observer@4")],
    );
}

#[test]
fn a_retracted_dissolution_brings_the_members_back() {
    let g = accepted(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A"]}
        {"type":"dissolution","date":"2005"}
        "#,
        r#"{"type":"retraction","retracts":"@2","reason":"it was a merger, not a dissolution"}"#,
    );
    then(&g, &[("2006-01-01", "A=full@1")]);
}

// ---------------------------------------------------------------------------
// Events that change nothing for a party are not its `since`

#[test]
fn since_names_the_event_that_gave_the_status_and_open_the_one_that_may_change_it() {
    check(
        r#"
        {"type":"founding","date":"2000-01-01","members":["A","C"]}
        {"type":"accession","date":"2001-01-01","members":["X"]}
        {"type":"launch","date":"2002","members":["X"]}
        {"type":"withdrawal","date":"2002-06","members":["X"]}
        "#,
        &[
            // The launch changes nothing for X: its status turns on the withdrawal.
            ("2002-03-01", "A=full@1 C=full@1 X=full@2"),
            ("2002-06-15", "A=full@1 C=full@1 X~none|full@4"),
        ],
    );
}
