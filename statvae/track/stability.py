"""Stability by inertia, block by block, for any gradient problem with flip symmetries.

A *problem* here is anything with ``hvp(theta, V, p)`` (stacked directions),
``characters`` (see :mod:`statvae.track.symmetry`) and ``zero_modes(theta)``
(tangents of continuous symmetry orbits).  The Hessian at a point whose
nonzero entries span the characters ``span`` is block diagonal over the
cosets of ``span``; ``max block size`` stacked HVPs give every block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Inertia", "block_hessians", "inertia", "block_eigenvalues"]


@dataclass
class Inertia:
    """Stability of a stationary point.

    Attributes
    ----------
    index : int
        Number of positive Hessian eigenvalues (ascent directions of the
        objective), symmetry zero modes excluded: 0 for a local maximum.
    zero : int
        Eigenvalues within tolerance of zero (after removing symmetry zero modes).
    symmetry_zero_modes : int
        Exact zero modes of continuous symmetries that were projected out.
    blocks : dict
        Coset character -> (entry indices, sorted eigenvalues, scale).
    """

    index: int
    zero: int
    symmetry_zero_modes: int
    blocks: dict

    def counts(self, rtol: float = 1e-9) -> dict:
        """Coset character -> number of positive eigenvalues."""
        return {k: int((ev > rtol * sc).sum()) for k, (_, ev, sc) in self.blocks.items()}


def block_hessians(problem, theta, p, span, only=None) -> list:
    """``[(coset, indices, H_block)]`` for every coset of ``span`` (or only the cosets in ``only``)."""
    blocks = span.blocks()
    if only is not None:
        blocks = [b for b in blocks if span.coset_of(int(b[0])) in only]
    if not blocks:
        return []
    width = max(len(b) for b in blocks)
    dirs = np.zeros((width, problem.layout.size))
    for b in blocks:
        dirs[np.arange(len(b)), b] = 1.0
    cols = np.atleast_2d(problem.hvp(theta, dirs, p))
    out = []
    for b in blocks:
        hb = cols[: len(b)][:, b].T
        out.append((span.coset_of(int(b[0])), b, (hb + hb.T) / 2))
    return out


def _complement(gens: np.ndarray, b: np.ndarray):
    """Orthonormal basis of the complement of the symmetry tangents inside block ``b`` (or None)."""
    if not len(gens):
        return None, 0
    sub = gens[:, b]
    sub = sub[np.abs(sub).max(axis=1) > 0]
    if not len(sub):
        return None, 0
    _, s, vt = np.linalg.svd(sub, full_matrices=True)
    rank = int((s > 1e-10 * s.max()).sum())
    return (vt[rank:].T, rank) if rank else (None, 0)


def block_eigenvalues(hb: np.ndarray, q=None) -> np.ndarray:
    """Sorted (descending) eigenvalues of a block, restricted to ``q``'s columns if given."""
    m = hb if q is None else q.T @ hb @ q
    if m.size == 0:
        return np.zeros(0)
    return np.linalg.eigvalsh(m)[::-1]


def inertia(problem, theta, p, span, rtol: float = 1e-9, only=None) -> Inertia:
    """Morse index at ``theta``: positive Hessian eigenvalues, symmetry zero modes removed."""
    gens = problem.zero_modes(theta)
    index = zero = nsym = 0
    info = {}
    for key, b, hb in block_hessians(problem, theta, p, span, only):
        q, rank = _complement(gens, b)
        nsym += rank
        ev = block_eigenvalues(hb, q)
        scale = max(float(np.abs(hb).max()), 1e-300)
        index += int((ev > rtol * scale).sum())
        zero += int((np.abs(ev) <= rtol * scale).sum())
        info[key] = (b, ev, scale)
    return Inertia(index, zero, nsym, info)
