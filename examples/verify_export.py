#!/usr/bin/env python3
"""Checks an accord export (SPEC §4) with no accord code: python3 verify_export.py EXPORT.ndjson

For each line: parse the envelope, remove `hash`, check that `prev` is the previous
line's hash (64 zeros first) and `seq` the previous seq + 1, and that `hash` is the
SHA-256 of the rest as RFC 8785 canonical JSON. Prints `ok SEQ HASH` (the head) and
exits 0, or names the first bad line and exits 1.

json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) is exactly RFC 8785
(JCS) for accord exports as long as no floats appear in them: JCS writes numbers as
JavaScript does, which Python matches for integers but not for every float (1e-07 vs
1e-7), so a float in an event's `details` could make this script, not the log, fail.
(Keys are also sorted by code point here, by UTF-16 unit in JCS: they differ only for
keys with characters above U+FFFF.)
"""
import hashlib, json, sys

prev, seq = "0" * 64, 0
with open(sys.argv[1], encoding="utf-8") as lines:
    for n, line in enumerate(lines, 1):
        try:
            env = json.loads(line)
            claimed = env.pop("hash")
            body = json.dumps(env, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            why = ("`prev` is not the previous line's hash" if env.get("prev") != prev
                   else f"seq is {env.get('seq')!r}, not {seq + 1}" if env.get("seq") != seq + 1
                   else "`hash` does not match the content" if hashlib.sha256(body.encode()).hexdigest() != claimed
                   else None)
        except (ValueError, KeyError, AttributeError, TypeError) as e:
            why = f"not an envelope ({e!r})"
        if why:
            sys.exit(f"{sys.argv[1]} line {n}: {why}")
        prev, seq = claimed, seq + 1
print(f"ok {seq} {prev}")
