#!/usr/bin/env python3
"""Opens a Veil escrowed identity with PyNaCl, independently of Veil's Swift code (docs/crypto.md).

Reads a JSON object on stdin with base64 fields `escrow_secret`, `sealed_data_key`, `nonce`,
`ciphertext` and hex `pseudonym`; prints the recovered raw ID on stdout.

  data_key = crypto_box_seal_open(sealed_data_key, escrow public key, escrow secret key)
  raw_id   = crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad = 16 pid bytes, nonce, data_key)
"""
import base64
import json
import sys

from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt
from nacl.public import PrivateKey, SealedBox

record = json.load(sys.stdin)
secret = PrivateKey(base64.b64decode(record["escrow_secret"]))
data_key = SealedBox(secret).decrypt(base64.b64decode(record["sealed_data_key"]))
raw_id = crypto_aead_xchacha20poly1305_ietf_decrypt(
    base64.b64decode(record["ciphertext"]), bytes.fromhex(record["pseudonym"]),
    base64.b64decode(record["nonce"]), data_key)
sys.stdout.write(raw_id.decode("utf-8"))
