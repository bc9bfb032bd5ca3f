#!/usr/bin/env python3
"""Verifies an aeo-registry statement or checkpoint with an implementation other than the
registry's own (Python `cryptography`), from the published JWK Set alone.

Input on stdin, one JSON object:
  {"token": "<compact JWS>", "jwks": {"keys": [...]}, "kind": "statement" | "checkpoint",
   "issuer": "CL", "subject": "CL-1" (statements only, optional)}
Prints "OK" and exits 0 when the token verifies; prints "FAIL: <why>" and exits 1 otherwise.
"""

import base64
import json
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TYPES = {"statement": "aeo-status+jwt", "checkpoint": "aeo-checkpoint+jwt"}
STATUSES = {"active", "suspended", "revoked", "expired"}
CLOCK_SKEW = 5


class Refused(Exception):
    pass


def b64url(text):
    if not isinstance(text, str) or any(c in text for c in "+/="):
        raise Refused("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def integer(claims, name):
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Refused(f"claim {name} is not an integer: {value!r}")
    return value


def verify(request):
    kind = request["kind"]
    if kind not in TYPES:
        raise Refused(f"unknown kind {kind!r}")
    parts = request["token"].split(".")
    if len(parts) != 3:
        raise Refused("not a compact JWS")
    header = json.loads(b64url(parts[0]))
    if header.get("alg") != "EdDSA":
        raise Refused(f"alg is {header.get('alg')!r}, not EdDSA")
    if header.get("typ") != TYPES[kind]:
        raise Refused(f"typ is {header.get('typ')!r}, not {TYPES[kind]}")
    kid = header.get("kid")
    keys = [
        key
        for key in request["jwks"].get("keys", [])
        if key.get("kid") == kid and key.get("kty") == "OKP" and key.get("crv") == "Ed25519"
    ]
    if not kid or len(keys) != 1:
        raise Refused(f"kid {kid!r} is not exactly one Ed25519 key of the JWK Set")
    public = Ed25519PublicKey.from_public_bytes(b64url(keys[0]["x"]))
    try:
        public.verify(b64url(parts[2]), (parts[0] + "." + parts[1]).encode("ascii"))
    except InvalidSignature:
        raise Refused("bad signature")

    claims = json.loads(b64url(parts[1]))
    if claims.get("iss") != request["issuer"]:
        raise Refused(f"iss is {claims.get('iss')!r}, not {request['issuer']!r}")
    now = int(time.time())
    iat, exp, seq = integer(claims, "iat"), integer(claims, "exp"), integer(claims, "seq")
    if iat > now + CLOCK_SKEW:
        raise Refused("issued in the future")
    if exp <= iat or exp + CLOCK_SKEW < now:
        raise Refused("expired")
    if seq < 0:
        raise Refused("negative seq")
    if kind == "statement":
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Refused("no sub")
        if request.get("subject") is not None and claims["sub"] != request["subject"]:
            raise Refused(f"sub is {claims['sub']!r}, not {request['subject']!r}")
        if claims.get("status") not in STATUSES:
            raise Refused(f"status is {claims.get('status')!r}")
        operator = claims.get("operator")
        if not isinstance(operator, dict) or not isinstance(operator.get("identifiers"), list):
            raise Refused("no operator identifiers")


def main():
    try:
        verify(json.load(sys.stdin))
    except (Refused, KeyError, ValueError, TypeError) as error:
        print(f"FAIL: {error}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
