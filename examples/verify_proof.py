#!/usr/bin/env python3
"""Check accord's Merkle proofs with nothing but Python's standard library.

An outsider's check of what `accord prove ... --json` and `accord checkpoint`
print, written from RFC 6962 / RFC 9162 alone (not from accord's code):

  verify_proof.py inclusion PROOF.json [CHECKPOINT]
      the proof's leaf (the export line) is at its index in the tree of its
      size whose root is the proof's root (and the checkpoint's, if given:
      same size, same root)
  verify_proof.py consistency PROOF.json [CHECKPOINT]
      the tree of `from` leaves is a prefix of the tree of `to` leaves
      (and the checkpoint, if given, is the later tree)
  verify_proof.py claim CLAIM.json
      every event of a claim (`accord prove member`) is at its seq in the
      tree its checkpoint names (the signature is checked apart, e.g. with
      examples/verify_signature.sh)
  verify_proof.py root EXPORT [SIZE]
      print the root (base64) of the tree of the first SIZE lines of an
      export, hashed from scratch: compare it with a checkpoint

Exit status 0 if the proof checks, 1 (with one line on stderr) if not.
A checkpoint's signature is checked with the signer's key, e.g. with
OpenSSL (see README: Proofs).
"""
import base64
import hashlib
import json
import sys


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    """RFC 6962 section 2.1, straight from the definition."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def check_inclusion(index, size, leaf, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def check_consistency(size1, size2, root1, root2, path):
    """RFC 9162 section 2.1.4.2."""
    if size1 > size2:
        return False
    if size1 == size2:
        return not path and root1 == root2
    if size1 == 0 or not path:
        return False
    if size1 & (size1 - 1) == 0:  # a power of two: its root starts the path
        path = [root1] + path
    fn, sn = size1 - 1, size2 - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


def read_checkpoint(path):
    """origin, size, root of a C2SP checkpoint (signed or not)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    return lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)


def fail(why):
    print(f"verify_proof.py: {why}", file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("inclusion", "consistency", "claim", "root"):
        fail("usage: verify_proof.py inclusion|consistency PROOF.json [CHECKPOINT] | claim CLAIM.json | root EXPORT [SIZE]")
    what = argv[1]
    if what == "root":
        with open(argv[2], "rb") as f:
            lines = f.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        size = int(argv[3]) if len(argv) > 3 else len(lines)
        if size > len(lines):
            fail(f"the export holds {len(lines)} events, not {size}")
        print(base64.b64encode(mth([leaf_hash(l) for l in lines[:size]])).decode())
        return
    with open(argv[2], encoding="utf-8") as f:
        proof = json.load(f)
    if what == "claim":
        lines = proof["checkpoint"].split("\n")
        size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
        for event in proof["events"]:
            leaf = leaf_hash(event["envelope"].encode("utf-8"))
            path = [bytes.fromhex(h) for h in event["path"]]
            if json.loads(event["envelope"]).get("seq") != event["seq"]:
                fail(f"the envelope given for seq {event['seq']} is of another seq")
            if not check_inclusion(event["seq"] - 1, size, leaf, path, root):
                fail(f"the event at seq {event['seq']} is not in the tree of {size} the checkpoint names")
        print(f"ok {len(proof['events'])}")
        return
    path = [bytes.fromhex(h) for h in proof["path"]]
    if what == "inclusion":
        size, root = proof["size"], bytes.fromhex(proof["root"])
        leaf = leaf_hash(proof["leaf"].encode("utf-8"))
        if not check_inclusion(proof["index"], size, leaf, path, root):
            fail(f"the inclusion proof of leaf {proof['index']} in the tree of {size} does not check")
    else:
        size, root = proof["to"], bytes.fromhex(proof["to_root"])
        if not check_consistency(proof["from"], size, bytes.fromhex(proof["from_root"]), root, path):
            fail(f"the consistency proof from {proof['from']} to {size} does not check")
    if len(argv) > 3:
        origin, cp_size, cp_root = read_checkpoint(argv[3])
        if (cp_size, cp_root) != (size, root):
            fail(f"the checkpoint of {origin} is of another tree (size {cp_size})")
    print("ok")


if __name__ == "__main__":
    main(sys.argv)
