"""Seal an answer set while it waits for its batch, so the database alone never reads it.

A response waits in ``SealedResponse`` until enough answers of its group have arrived (see
``survey_run_publish_ready``). Its row is written right after the respondent's invitation is marked
answered, so its system columns (PostgreSQL's xmin and ctid, SQLite's rowid) sit next to that
invitation's: in plain text it would name the respondent to anyone who can read the database. Sealed,
it says only that *someone* answered, which the invitation says anyway.

The construction uses the standard library only: a keystream from HMAC-SHA256 in counter mode over a
random 16-byte nonce (a pseudo-random function in counter mode), then encrypt-then-MAC with
HMAC-SHA256 under a second key. Both keys are derived from ``SECRET_KEY`` (and its fallbacks when
opening), which lives in the server's settings, never in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from django.conf import settings

NONCE_BYTES = 16
TAG_BYTES = 32
BLOCK = 32  # bytes of keystream per HMAC-SHA256 call
# The plain text is padded (JSON allows trailing white space) to a power of two of at least this many
# bytes, so the length of a sealed row does not tell the length of the answers in it: one sealed row can be
# told apart from the invitation next to it, and a published free-text answer must not be matched to it
# by its length. Answers of scales and short texts all seal to the same size; only very long texts fall
# into a larger bucket (8, 16, 32 ... KB).
PADDED_BYTES = 4096


class SealBroken(ValueError):
    """A sealed value was written under a key this server no longer has, or it was altered."""


def _keys(secret: str) -> tuple[bytes, bytes]:
    root = hashlib.sha256(b"dealflow.people.sealed-response\x00" + secret.encode()).digest()
    return (
        hmac.new(root, b"encrypt", hashlib.sha256).digest(),
        hmac.new(root, b"authenticate", hashlib.sha256).digest(),
    )


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = []
    for counter in range(-(-length // BLOCK)):
        blocks.append(hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest())
    return b"".join(blocks)[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(left ^ right for left, right in zip(data, stream, strict=True))


def seal(value: Any) -> str:
    """Encrypt and authenticate a JSON-serialisable value; returns ASCII text for a TextField."""
    encrypt_key, mac_key = _keys(settings.SECRET_KEY)
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    padded = PADDED_BYTES
    while padded < len(plain):
        padded *= 2
    plain += b" " * (padded - len(plain))
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = nonce + _xor(plain, _keystream(encrypt_key, nonce, len(plain)))
    tag = hmac.new(mac_key, body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(body + tag).decode("ascii")


def unseal(token: str) -> Any:
    """Open a sealed value (trying ``SECRET_KEY`` and then its fallbacks); SealBroken when none fits."""
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise SealBroken("not a sealed value") from error
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise SealBroken("not a sealed value")
    body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        encrypt_key, mac_key = _keys(secret)
        if hmac.compare_digest(hmac.new(mac_key, body, hashlib.sha256).digest(), tag):
            nonce, cipher = body[:NONCE_BYTES], body[NONCE_BYTES:]
            return json.loads(_xor(cipher, _keystream(encrypt_key, nonce, len(cipher))).decode())
    raise SealBroken("sealed under a key this server does not have")
