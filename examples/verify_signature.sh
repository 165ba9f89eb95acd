#!/usr/bin/env bash
# Checks the Ed25519 signature of a signed checkpoint (a C2SP signed note, as
# `accord checkpoint --sign` writes it) with OpenSSL alone, no accord code:
#
#   examples/verify_signature.sh CHECKPOINT_FILE VERIFIER_KEY
#
# VERIFIER_KEY is the line `accord key generate` printed:
# name+keyid+base64(0x01 || 32-byte public key). The signed text is every
# line before the blank line (each with its newline); the signature line is
# "— name base64(4-byte key id || 64-byte signature)". Prints
# "Signature Verified Successfully" and exits 0, or fails.
set -euo pipefail
note=$1
vkey=$2
name=${vkey%%+*}
rest=${vkey#*+}
key_b64=${rest#*+} # after the name and the key id (base64 may hold a +)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The public key as DER SubjectPublicKeyInfo: the fixed Ed25519 prefix, then the key.
{ printf '302a300506032b6570032100'; printf '%s' "$key_b64" | base64 -d | tail -c 32 | xxd -p -c 64; } \
  | tr -d '\n' | xxd -r -p > "$work/key.der"
# The text: the lines before the first blank line.
awk 'BEGIN { ORS = "" } /^$/ { exit } { print $0 "\n" }' "$note" > "$work/text"
# The signature of this key's name (the note may carry others).
sig=$(grep -F -- "— $name " "$note" | head -n 1 | awk '{ print $NF }')
[ -n "$sig" ] || { echo "verify_signature.sh: no signature by $name in $note" >&2; exit 1; }
printf '%s' "$sig" | base64 -d | tail -c 64 > "$work/sig"
openssl pkeyutl -verify -pubin -inkey "$work/key.der" -keyform DER -rawin -in "$work/text" -sigfile "$work/sig"
