#!/usr/bin/env python3
"""Computes Veil pseudonym known-answer vectors with PyNaCl, independently of Veil's Swift code.

libsodium's crypto_kdf_derive_from_key(subkey, 32, id, ctx, master) is, by its definition,
BLAKE2b(out=32, key=master, message=empty, salt=LE64(id) || 8 zero bytes, personal=ctx || 8 zero bytes).
A pid is then BLAKE2b(out=16, key=K_e, message=UTF-8 user ID). Every value is also recomputed with
Python's own hashlib BLAKE2 (a second, libsodium-free implementation) and the two must agree.

Usage: python3 scripts/reference/pid_vectors.py > Tests/VeilCryptoTests/Vectors/pid_vectors.json
"""
import hashlib
import json
import struct

import nacl.encoding
import nacl.hash


def derive_nacl(master: bytes, subkey_id: int, ctx: str) -> bytes:
    salt = struct.pack("<Q", subkey_id) + bytes(8)
    person = ctx.encode("ascii") + bytes(8)
    return nacl.hash.blake2b(b"", digest_size=32, key=master, salt=salt, person=person,
                             encoder=nacl.encoding.RawEncoder)


def derive_hashlib(master: bytes, subkey_id: int, ctx: str) -> bytes:
    salt = struct.pack("<Q", subkey_id) + bytes(8)
    person = ctx.encode("ascii") + bytes(8)
    return hashlib.blake2b(b"", digest_size=32, key=master, salt=salt, person=person).digest()


def pid(master: bytes, epoch: int, ctx: str, user_id: str) -> str:
    key = derive_nacl(master, epoch, ctx)
    assert key == derive_hashlib(master, epoch, ctx), "PyNaCl and hashlib disagree on the KDF"
    out = nacl.hash.blake2b(user_id.encode("utf-8"), digest_size=16, key=key,
                            encoder=nacl.encoding.RawEncoder)
    assert out == hashlib.blake2b(user_id.encode("utf-8"), digest_size=16, key=key).digest()
    return out.hex()


MASTERS = [bytes(range(32)), bytes.fromhex("5d" * 16 + "a7" * 16)]
EPOCHS = [1, 2, 4294967295]
USER_IDS = ["alice@example.com", "Alice@example.com", "user-000123", "Zoë 李", "x" * 256]

vectors = []
for master in MASTERS:
    for epoch in EPOCHS:
        for ctx in ("veil-pid", "veil-sid"):
            for user_id in USER_IDS:
                vectors.append({"master_key_hex": master.hex(), "epoch": epoch, "context": ctx,
                                "id": user_id, "pid": pid(master, epoch, ctx, user_id)})

print(json.dumps({"source": "scripts/reference/pid_vectors.py (PyNaCl, cross-checked with hashlib)",
                  "vectors": vectors}, indent=1, ensure_ascii=False))
