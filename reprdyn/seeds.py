"""Seeds derived from names: every random stream of a run is keyed by what it is for, never by its
position."""

from __future__ import annotations

import zlib

import numpy as np


def derive_seed(*parts) -> int:
    """A 32-bit seed from ints and strings (floats by their repr), stable across processes and
    platforms."""
    words = [p if isinstance(p, int) and p >= 0 else zlib.crc32(repr(p).encode()) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0])
