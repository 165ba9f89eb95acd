//! An export verified with no ledger: line by line, the fast way for lines in canonical form, the general way else.

use std::io::BufRead;

use super::verifier::Verifier;
use super::{AuditError, Report};
use crate::error::Result;
use crate::model::envelope::Head;

/// Verifies an export (NDJSON of envelopes) with no ledger; errors name the line.
pub fn verify_export(label: &str, reader: impl BufRead, checkpoint: Option<Head>) -> Result<Report> {
    let mut verifier = Verifier::for_export(checkpoint);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|error| AuditError::CannotRead { label: label.to_owned(), error })?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        verifier.check_line(line).map_err(|e| e.at(format!("{label} line {}", i + 1)))?;
    }
    verifier.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::testing::{keep_refused, plans, random_log, raw_ledger};
    use crate::store::Store;
    use proptest::prelude::*;
    use serde_json::json;

    /// An export is verified the same with or without the fast way.
    fn exports_agree(store: &Store) {
        let lines: Vec<String> = store.scan(1).map(|e| e.unwrap().to_json()).collect();
        let export = lines.join("\n");
        let fast = verify_export("x", export.as_bytes(), None);
        let mut slow = Verifier::for_export(None);
        let general = lines
            .iter()
            .enumerate()
            .try_for_each(|(i, l)| slow.check(l.as_bytes()).map(drop).map_err(|e| e.at(format!("x line {}", i + 1))))
            .and_then(|()| slow.finish());
        assert_eq!(fast.map_err(|e| e.to_string()), general.map_err(|e| e.to_string()));
    }

    #[test]
    fn an_id_given_to_two_events_is_refused_the_same_both_ways() {
        let id = "00000000-0000-0000-0000-000000000001";
        let founding = json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"], "id": id});
        let accession = json!({"type": "accession", "org": "isa", "date": "2001", "members": ["B"], "id": id});
        let (_dir, store) = raw_ledger(&[founding, accession]);
        exports_agree(&store);
    }

    #[test]
    fn an_export_that_cannot_be_read_is_an_io_error() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let err = verify_export("x.ndjson", std::io::BufReader::new(Broken), None).unwrap_err();
        assert!(matches!(err, crate::Error::Audit(AuditError::CannotRead { .. })), "{err:?}");
        assert_eq!(err.kind(), crate::error::ErrorKind::Io);
        assert_eq!(err.to_string(), "cannot read x.ndjson: disk on fire");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_fast_way_verifies_an_export_as_the_general_way_does(
            plans in plans(),
            keep_refused in keep_refused(),
        ) {
            let events = random_log(&plans, &keep_refused);
            prop_assume!(!events.is_empty());
            let (_dir, store) = raw_ledger(&events);
            exports_agree(&store);
        }
    }
}
