"""Counter-based noise for the sim market: random access, the same in every process.

`exchange.sim_market` needs the random numbers behind any minute without generating the ones
before it, so every value here is a pure function of (key, index): splitmix64 over lattice
indices, turned into uniforms, normals (Box–Muller) and value noise. Salted `hash()` would
differ between processes, so keys come from `stable_hash` (blake2b).
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


def stable_hash(*parts: object) -> int:
    """A 64-bit hash that is the same in every process (Python's `hash()` is salted)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def splitmix(key: int, index: np.ndarray) -> np.ndarray:
    """splitmix64 of (key, index): independent uniform 64-bit words per lattice index."""
    with np.errstate(over="ignore"):
        x = index.astype(np.int64).view(np.uint64) * _GOLDEN + np.uint64(key & _MASK64)
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


def uniform(key: int, index: np.ndarray) -> np.ndarray:
    """Uniform floats in the open interval (0, 1), so logs of them are finite."""
    return ((splitmix(key, index) >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def normals(key: int, first: int, count: int) -> np.ndarray:
    """Standard normals for the contiguous indices [first, first + count).

    Box–Muller on one hash per pair of indices: index i takes the cosine (even) or sine (odd)
    half of pair i >> 1, so each value still depends on its index alone.
    """
    pair0 = first >> 1
    h = splitmix(key, np.arange(pair0, ((first + count - 1) >> 1) + 1))
    radius = np.sqrt(-2.0 * np.log(((h >> np.uint64(32)).astype(np.float64) + 0.5) * 2.0**-32))
    angle = (h & np.uint64(0xFFFFFFFF)).astype(np.float64) * (2.0 * np.pi * 2.0**-32)
    out = np.empty(2 * len(h))
    out[0::2] = radius * np.cos(angle)
    out[1::2] = radius * np.sin(angle)
    skip = first - 2 * pair0
    return out[skip : skip + count]


def value_noise(key: int, minutes: np.ndarray, scale: int) -> np.ndarray:
    """Noise in [-1, 1], linear between hashed lattice values every `scale` minutes.

    For the few sorted points of the coarse component: one hash per spanned lattice cell.
    """
    cell = minutes // scale
    first = int(cell[0])
    lattice = 2.0 * uniform(key, np.arange(first, int(cell[-1]) + 2)) - 1.0
    frac = (minutes - cell * scale) / scale
    left = lattice[cell - first]
    return left + (lattice[cell - first + 1] - left) * frac


def smooth_noise(key: int, first: int, count: int, scale: int) -> np.ndarray:
    """Smoothstep value noise in [-1, 1] for the contiguous minutes [first, first + count).

    Computed as whole lattice cells (a row per cell, a column per minute offset), so a
    minute's value is the same arithmetic whatever range it was asked in, at two array
    operations per minute.
    """
    cell0 = first // scale
    cells = -(-(first + count) // scale) - cell0
    lattice = 2.0 * uniform(key, np.arange(cell0, cell0 + cells + 1)) - 1.0
    frac = np.arange(scale) / scale
    frac = frac * frac * (3.0 - 2.0 * frac)
    left = lattice[:-1, None]
    grid = left + (lattice[1:, None] - left) * frac
    skip = first - cell0 * scale
    return grid.ravel()[skip : skip + count]
