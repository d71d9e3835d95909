"""Deterministic randomness for the draft engine.

Every random choice (palette, motion, camera direction) comes from a generator seeded by a SHA-256 of
its inputs, so the same request renders the same pixels on every run and every host. Python's `hash()`
is salted per process and is never used.
"""

from __future__ import annotations

import hashlib

import numpy as np


def rng_for(*parts: object) -> np.random.Generator:
    """A PCG64 generator determined only by `parts` (e.g. `rng_for("scene", prompt, seed)`)."""
    digest = hashlib.sha256("\x1f".join(repr(p) for p in parts).encode("utf-8")).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "big")))
