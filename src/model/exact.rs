//! The exact reader: one envelope from its bytes, with a typed reason for anything wrong with it.

use serde_json::Value;

use crate::model::ModelError;
use crate::model::canonical;
use crate::model::envelope::{Envelope, is_hash};
use crate::model::error::Damage;
use crate::model::event::{inexact_number, parse_json_keys};

/// Reads one envelope from its bytes, the checks that need no other
/// envelope: JSON, hash, form (`exact`: the bytes must be the canonical JSON,
/// as accord stores it), ids as accord writes them, decoding. `seq` is the
/// position it should have, for messages. `buf` is scratch space.
pub fn read_envelope(bytes: &[u8], seq: u64, exact: bool, buf: &mut Vec<u8>) -> Result<Envelope, ModelError> {
    let fail = |damage: Damage| ModelError::Damaged { seq, damage };
    let value: Value = if exact {
        // Exact canonical bytes (checked below) cannot give a key twice.
        serde_json::from_slice(bytes).ok()
    } else {
        // An export line may be spelled otherwise, but a key given twice
        // would let the hashed value differ from what another reader sees.
        let text = std::str::from_utf8(bytes).ok();
        let value = text.and_then(|text| parse_json_keys(text).ok());
        // So would a number the canonical form does not keep: accord never
        // writes one (and import refuses it).
        if let (Some(_), Some(what)) = (&value, text.and_then(inexact_number)) {
            return Err(fail(Damage::Inexact(what)));
        }
        value
    }
    .ok_or_else(|| fail(Damage::NotJson))?;
    let Value::Object(mut map) = value else {
        return Err(fail(Damage::NotObject));
    };
    let hash = match map.remove("hash") {
        Some(Value::String(hash)) if is_hash(&hash) => hash,
        Some(_) => return Err(fail(Damage::BadHash)),
        None => return Err(fail(Damage::NoHash)),
    };
    // The hash is checked over the content as given, before decoding
    // could normalize anything.
    let hashed = canonical_with_hash(&map, &hash, buf);
    if hashed != hash {
        return Err(fail(Damage::HashMismatch(hashed)));
    }
    if exact && buf.as_slice() != bytes {
        return Err(fail(Damage::NotCanonical));
    }
    // Decoding writes ids in lowercase; one written otherwise was not written by accord.
    for key in ["id", "supersedes", "retracts"] {
        if let Some(Value::String(s)) = map.get(key)
            && s.bytes().any(|b| b.is_ascii_uppercase())
        {
            return Err(fail(Damage::UppercaseId(key)));
        }
    }
    map.insert("hash".into(), Value::String(hash));
    Envelope::from_value(Value::Object(map)).map_err(|e| fail(Damage::DoesNotDecode(Box::new(e))))
}

/// Writes the canonical JSON of `map` plus the member `"hash"` into `out`
/// (cleared first), and returns the lowercase hex SHA-256 of the canonical
/// JSON of `map` alone, which is the same text without that member.
fn canonical_with_hash(map: &serde_json::Map<String, Value>, hash: &str, out: &mut Vec<u8>) -> String {
    out.clear();
    let (start, end) = canonical::write_canonical_map_with(map, "hash", hash, out);
    canonical::sha256_hex_parts(&[out.get(..start).unwrap_or_default(), out.get(end..).unwrap_or_default()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, json};

    /// `canonical_with_hash` must agree with the canonical module: the whole
    /// form with `hash`, and the hash of the form without it.
    fn agrees(map: &Map<String, Value>) {
        let hash = "ab".repeat(32);
        let mut buf = Vec::new();
        let hashed = canonical_with_hash(map, &hash, &mut buf);
        assert_eq!(hashed, canonical::sha256_hex(&Value::Object(map.clone())));
        let mut with = map.clone();
        with.insert("hash".into(), Value::String(hash));
        assert_eq!(String::from_utf8(buf).unwrap(), canonical::to_canonical_string(&Value::Object(with)));
    }

    #[test]
    fn the_hash_member_is_cut_out_wherever_it_sorts() {
        for v in [
            json!({}),
            json!({"a": 1}),
            json!({"z": 1}),
            json!({"a": 1, "z": [1.5, "x", null]}),
            json!({"id": "x", "org": "isa", "seq": 3, "prev": "0", "date": "2019"}),
            json!({"\u{10000}": 1, "\u{e000}": 2, "h": {"b": 1, "a": 2}, "quote\"d": "\n"}),
            json!({"hash2": 1, "has": 2, "hasg": 3, "hasi": 4}),
        ] {
            agrees(v.as_object().unwrap());
        }
    }

    proptest! {
        #[test]
        fn any_object_agrees(map in prop::collection::btree_map(".{0,6}", prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
        ], 0..8)) {
            let mut m: Map<String, Value> = map.into_iter().collect();
            m.remove("hash");
            agrees(&m);
        }
    }

    #[test]
    fn damage_is_typed_with_the_seq_it_should_have() {
        let damaged = |bytes: &[u8]| read_envelope(bytes, 7, true, &mut Vec::new()).unwrap_err();
        let e = damaged(b"{");
        assert!(matches!(e, ModelError::Damaged { seq: 7, damage: Damage::NotJson }), "{e:?}");
        assert_eq!(e.kind(), crate::ErrorKind::Integrity);
        assert!(matches!(damaged(b"[]"), ModelError::Damaged { damage: Damage::NotObject, .. }));
        assert!(matches!(damaged(b"{}"), ModelError::Damaged { damage: Damage::NoHash, .. }));
        let e = damaged(br#"{"hash":"00"}"#);
        assert_eq!(e.to_string(), "seq 7: the envelope's `hash` is not 64 lowercase hex digits");
        let hash = "ab".repeat(32);
        let e = damaged(format!(r#"{{"a":1,"hash":"{hash}"}}"#).as_bytes());
        assert!(
            matches!(&e, ModelError::Damaged { damage: Damage::HashMismatch(h), .. } if *h == canonical::sha256_hex(&json!({"a": 1}))),
            "{e:?}"
        );
    }
}
