//! Signed notes against Go's `golang.org/x/mod/sumdb/note` tests
//! (note_test.go, golang/mod commit fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db),
//! and tampered with.

use super::*;

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str =
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str =
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter() -> Verifier {
    Verifier::from_verifier_key_str(PETER_VKEY).unwrap()
}

fn enoch() -> Verifier {
    Verifier::from_verifier_key_str(ENOCH_VKEY).unwrap()
}

/// TestSign: Ed25519 is deterministic, so the note is Go's byte for byte.
#[test]
fn signing_gives_go_notes_byte_for_byte() {
    let signer = Signer::from_private_key_str(PETER_SKEY).unwrap();
    let want = "If you think cryptography is the answer to your problem,
then you don't know what your problem is.

— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=
";
    assert_eq!(signer.sign(TEXT).unwrap(), want);
    assert_eq!(format!("{TEXT}\n{PETER_SIG}"), want);
    assert_eq!(open(want, &[peter()]).unwrap(), TEXT);
}

#[test]
fn keys_read_and_write_go_key_strings() {
    let signer = Signer::from_private_key_str(PETER_SKEY).unwrap();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(signer.private_key_string(), PETER_SKEY);
    assert_eq!(signer.verifier().to_key_string(), PETER_VKEY);
    assert_eq!(signer.verifier(), peter());
    assert_eq!(peter().name(), "PeterNeumann");
    assert_eq!(peter().key_id(), 0xc74f20a3);
    assert_eq!(enoch().to_key_string(), ENOCH_VKEY);
    let debug = format!("{signer:?}");
    assert_eq!(debug, "Signer(PeterNeumann+c74f20a3)");
    assert!(!debug.contains("AYEKFALV"), "Debug never shows the private key");
}

/// TestNewVerifier and TestNewSigner: every part of a key string and every
/// byte of it changed are refused.
#[test]
fn mangled_key_strings_are_refused() {
    for (key, parse) in [
        (PETER_VKEY, (|k: &str| Verifier::from_verifier_key_str(k).is_ok()) as fn(&str) -> bool),
        (PETER_SKEY, |k: &str| Signer::from_private_key_str(k).is_ok()),
    ] {
        assert!(parse(key));
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    assert!(!parse(&key[i..j]), "{:?}", &key[i..j]);
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let m = String::from_utf8(m).unwrap();
            assert!(!parse(&m), "{m}");
        }
    }
    // Go's: a key of the wrong length and one of an unknown algorithm, each
    // with the key ID that goes with it.
    assert!(matches!(
        Verifier::from_verifier_key_str("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="),
        Err(Error::BadKey { .. })
    ));
    assert!(matches!(
        Verifier::from_verifier_key_str("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(Error::UnknownAlgorithm { algorithm: 0x65 })
    ));
    assert!(matches!(
        Verifier::from_verifier_key_str("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(Error::KeyIdMismatch { .. })
    ));
}

#[test]
fn key_names_with_spaces_or_plus_are_refused() {
    for bad in ["", "a b", "a+b", "tab\there", "nl\n", "nbsp\u{a0}x", "ideographic\u{3000}space"] {
        assert!(matches!(Signer::from_seed(bad, [7; 32]), Err(Error::BadKeyName(_))), "{bad:?}");
        assert!(matches!(Signer::generate(bad), Err(Error::BadKeyName(_))), "{bad:?}");
    }
    assert!(Signer::from_seed("example.org/isa-ledger", [7; 32]).is_ok());
}

#[test]
fn generated_keys_differ_and_work() {
    let (a, b) = (Signer::generate("accord").unwrap(), Signer::generate("accord").unwrap());
    assert_ne!(a.private_key_string(), b.private_key_string());
    let again = Signer::from_private_key_str(&a.private_key_string()).unwrap();
    assert_eq!(again.verifier(), a.verifier());
    let note = a.sign("hello\n").unwrap();
    assert_eq!(open(&note, &[a.verifier()]).unwrap(), "hello\n");
    assert!(matches!(open(&note, &[b.verifier()]), Err(Error::NotSigned)));
    let v = Verifier::from_verifier_key_str(&a.verifier().to_key_string()).unwrap();
    assert_eq!(open(&note, &[v]).unwrap(), "hello\n");
}

/// TestOpen.
#[test]
fn notes_open_as_go_opens_them() {
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(open(&both, &[peter()]).unwrap(), TEXT, "Enoch's signature, by an unknown key, is ignored");
    assert_eq!(open(&both, &[enoch()]).unwrap(), TEXT);
    assert_eq!(open(&both, &[peter(), enoch()]).unwrap(), TEXT);
    assert!(matches!(open(&both, &[]), Err(Error::NotSigned)));
    // The same key listed twice is one key.
    open(&format!("{TEXT}\n{ENOCH_SIG}"), &[enoch(), peter(), enoch()]).unwrap();

    // At most 100 signatures, known or not.
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert!(matches!(open(&many, &[peter()]), Err(Error::MalformedNote { .. })));
    assert!(matches!(open(&many, &[]), Err(Error::MalformedNote { .. })));
    open(&format!("{TEXT}\n{}", PETER_SIG.repeat(100)), &[peter()]).unwrap();

    // A signature by a known key that does not verify.
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(open(&bad, &[peter()]), Err(Error::BadSignature { key_id: 0xc74f20a3, .. })));

    // Repeated signatures, and a bad one by an unknown key.
    let repeated =
        format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    assert_eq!(open(&repeated, &[peter()]).unwrap(), TEXT);

    let bad_messages = [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!(
            "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        // Also: a name with '+', a signature too short, none at all, a hyphen for the dash.
        format!(
            "{TEXT}\n— Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!("{TEXT}\n— PeterNeumann x08gow==\n"),
        format!("{TEXT}\n— PeterNeumann\n"),
        format!(
            "{TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!("{TEXT}\r\n{PETER_SIG}"),
    ];
    for message in &bad_messages {
        assert!(matches!(open(message, &[peter()]), Err(Error::MalformedNote { .. })), "{message:?}");
    }

    // A signature under another name or key ID is by a key not known.
    let misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(open(&format!("{TEXT}\n{misnamed}"), &[peter()]), Err(Error::NotSigned)));
    let other_id = PETER_SIG.replace("x08g", "xxxx");
    assert!(matches!(open(&format!("{TEXT}\n{other_id}"), &[peter()]), Err(Error::NotSigned)));
}

#[test]
fn a_tampered_note_is_refused() {
    let signer = Signer::from_private_key_str(PETER_SKEY).unwrap();
    let note = signer.sign(TEXT).unwrap();
    let known = [peter()];
    // Every byte of the text changed.
    for i in 0..TEXT.len() - 1 {
        let mut t = TEXT.as_bytes().to_vec();
        t[i] = if t[i] == b'x' { b'y' } else { b'x' };
        let tampered = format!("{}\n{PETER_SIG}", String::from_utf8(t).unwrap());
        assert!(matches!(open(&tampered, &known), Err(Error::BadSignature { .. })), "text byte {i}");
    }
    // A line added or removed.
    assert!(open(&format!("extra\n{note}"), &known).is_err());
    assert!(open(&note[TEXT.find('\n').unwrap() + 1..], &known).is_err());
    // Every bit of the key ID and signature: a changed ID names an unknown
    // key, a changed signature does not verify.
    let line = PETER_SIG.trim_end().strip_prefix("— PeterNeumann ").unwrap();
    let sig = base64::decode(line).unwrap();
    for i in 0..sig.len() {
        for bit in 0..8 {
            let mut s = sig.clone();
            s[i] ^= 1 << bit;
            let tampered = format!("{TEXT}\n— PeterNeumann {}\n", base64::encode(&s));
            let got = open(&tampered, &known);
            if i < 4 {
                assert!(matches!(got, Err(Error::NotSigned)), "key ID byte {i}");
            } else {
                assert!(matches!(got, Err(Error::BadSignature { .. })), "signature byte {i} bit {bit}");
            }
        }
    }
    // Truncated or lengthened signatures.
    for s in [&sig[..67], &sig[..5], &[sig.clone(), vec![0]].concat()[..]] {
        let tampered = format!("{TEXT}\n— PeterNeumann {}\n", base64::encode(s));
        assert!(matches!(open(&tampered, &known), Err(Error::BadSignature { .. })));
    }
    // Another key name, with the key ID unchanged.
    let renamed = note.replace("— PeterNeumann", "— PeterNeuman");
    assert!(matches!(open(&renamed, &known), Err(Error::NotSigned)));
    // Another key with the same name and ID: impossible by construction
    // (the ID hashes the key), and so a forged verifier key is refused.
    let other = Signer::from_seed("PeterNeumann", [9; 32]).unwrap();
    assert_ne!(other.key_id(), 0xc74f20a3);
    assert!(matches!(open(&note, &[other.verifier()]), Err(Error::NotSigned)));
}

#[test]
fn only_note_text_can_be_signed() {
    let signer = Signer::from_private_key_str(PETER_SKEY).unwrap();
    for bad in ["", "no newline", "tab\there\n", "cr\r\n", "nul\0\n"] {
        assert!(matches!(signer.sign(bad), Err(Error::BadText { .. })), "{bad:?}");
    }
    // Blank lines inside a text are the text's: the signatures follow the last one.
    let text = "a\n\nb\n\n";
    let note = signer.sign(text).unwrap();
    assert_eq!(open(&note, &[peter()]).unwrap(), text);
}
