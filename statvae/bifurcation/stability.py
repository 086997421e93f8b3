"""Stability by inertia, block by block, for any gradient problem with flip symmetries.

A *problem* here is anything with ``hvp(theta, V, p)`` (stacked directions),
``layout.size``, ``characters`` (see :mod:`statvae.bifurcation.symmetry`) and
``zero_modes(theta)`` (tangents of continuous symmetry orbits).  The Hessian
at a point whose nonzero entries span the characters ``span`` is block
diagonal over the cosets of ``span``: ``max block size`` stacked HVPs give
every block, and the blocks of equal size are diagonalised together.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..symbolic.stability import ZERO_RTOL

if TYPE_CHECKING:
    from .problem import ContinuationProblem
    from .symmetry import Span

__all__ = ["Inertia", "block_hessians", "inertia", "block_eigenvalues", "span_hessian", "fixed_block"]


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
    positive : dict
        Coset character -> number of positive eigenvalues of that block (blocks without any are left out).
    zeros : dict
        Coset character -> number of eigenvalues within tolerance of zero (blocks without any are left out).
    """

    index: int
    zero: int
    symmetry_zero_modes: int
    positive: dict
    zeros: dict = field(default_factory=dict)

    def counts(self) -> dict:
        """Coset character -> number of positive eigenvalues (only blocks with some)."""
        return {k: v for k, v in self.positive.items() if v}


def _block_matrices(problem, theta, p, key, groups):
    """``{size: (count, size, size)}`` Hessian blocks, ``[k, i, j] = H[b_i, b_j]`` (not symmetrised).

    With ``problem.hessian_blocks`` (a :class:`ContinuationProblem`) only the entries of the blocks are
    computed; any other problem gives them from stacked HVPs along the compressed directions (one per
    position inside the largest block; blocks that do not couple share them).
    """
    if hasattr(problem, "hessian_blocks"):
        return problem.hessian_blocks(theta, p, key, lambda: {s: idx for s, (_, idx) in groups.items()}, check=False)
    width = max(s for s in groups)
    dirs = np.zeros((width, problem.layout.size))
    for s, (_, idx) in groups.items():
        dirs[np.broadcast_to(np.arange(s), idx.shape), idx] = 1.0
    cols = np.atleast_2d(problem.hvp(theta, dirs, p))
    return {s: cols[np.arange(s)[None, None, :], idx[:, :, None]] for s, (_, idx) in groups.items()}


def _eigenvalues(mats: np.ndarray) -> np.ndarray:
    """Eigenvalues of a stack of symmetric matrices (closed form for 1 x 1 and 2 x 2, else LAPACK).

    The closed form ``(a + d)/2 +- hypot((a - d)/2, b)`` is accurate to a few ulps of the block's largest
    entry, as LAPACK's are, far inside the zero tolerance of the counts; LAPACK's per-matrix overhead
    dominates for the thousands of 2 x 2 blocks of a large model's collapsed point.
    """
    size = mats.shape[-1]
    if size == 1:
        return mats[:, :, 0]
    if size == 2:
        a, d, b = mats[:, 0, 0], mats[:, 1, 1], mats[:, 0, 1]
        mid, r = (a + d) / 2, np.hypot((a - d) / 2, b)
        return np.stack([mid - r, mid + r], axis=1)
    return np.linalg.eigvalsh(mats)


def block_hessians(problem: ContinuationProblem, theta: np.ndarray, p: float, span: Span,
                   only: Collection[int] | None = None) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``[(coset, indices, H_block)]`` for every coset of ``span`` (or only the cosets in ``only``).

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    theta : numpy.ndarray
        Flat parameter vector (internal units).
    p : float
        The continuation parameter (internal units).
    span : Span
        The character span at ``theta``: its cosets are the Hessian's blocks.
    only : collection of int, optional
        Coset keys of the blocks wanted (all if omitted).

    Returns
    -------
    list of tuple
        Coset key, entry indices and symmetrised Hessian block; empty if no block is wanted.
    """
    if only is None:
        keys = span.block_keys()
    else:
        by_key = span.block_index()
        keys = sorted(k for k in set(only) if k in by_key)
    if not keys:
        return []
    blocks = span.blocks() if only is None else [span.blocks()[span.block_index()[k]] for k in keys]
    positions: dict[int, list[int]] = {}
    for m, b in enumerate(blocks):
        positions.setdefault(len(b), []).append(m)
    groups = {s: (pos, np.array([blocks[m] for m in pos]).reshape(len(pos), s)) for s, pos in sorted(positions.items())}
    mats = _block_matrices(problem, theta, p, ("blocks", span.key(), None if only is None else tuple(keys)), groups)
    out: list[tuple[int, np.ndarray, np.ndarray]] = [None] * len(blocks)  # type: ignore[list-item]
    for s, (pos, _) in groups.items():
        for r, m in enumerate(pos):
            hb = mats[s][r]
            out[m] = (keys[m], blocks[m], (hb + hb.T) / 2)
    return out


def symmetry_complement(gens: np.ndarray, b: np.ndarray) -> tuple[np.ndarray | None, int]:
    """Orthonormal basis of the complement of the symmetry tangents inside block ``b`` (or None).

    Parameters
    ----------
    gens : numpy.ndarray
        Tangents of the continuous symmetries (rows), in the full vector.
    b : numpy.ndarray
        Indices of the block.

    Returns
    -------
    tuple
        ``(basis or None, number of symmetry directions inside the block)``.
    """
    if not len(gens):
        return None, 0
    sub = gens[:, b]
    sub = sub[np.abs(sub).max(axis=1) > 0]
    if not len(sub):
        return None, 0
    _, s, vt = np.linalg.svd(sub, full_matrices=True)
    rank = int((s > 1e-10 * s.max()).sum())
    return (vt[rank:].T, rank) if rank else (None, 0)


def block_eigenvalues(hb: np.ndarray, q: np.ndarray | None = None) -> np.ndarray:
    """Sorted (descending) eigenvalues of a block, restricted to ``q``'s columns if given.

    Parameters
    ----------
    hb : numpy.ndarray
        A symmetric Hessian block.
    q : numpy.ndarray, optional
        Orthonormal columns spanning the subspace kept (``q.T @ hb @ q``).

    Returns
    -------
    numpy.ndarray
        Empty for an empty block.

    Examples
    --------
    >>> block_eigenvalues(np.diag([1.0, 3.0, -2.0]))
    array([ 3.,  1., -2.])
    """
    m = hb if q is None else q.T @ hb @ q
    if m.size == 0:
        return np.zeros(0)
    return np.linalg.eigvalsh(m)[::-1]


def span_hessian(problem: ContinuationProblem, theta: np.ndarray, p: float, span: Span) -> dict[int, np.ndarray]:
    """Every diagonal block of the Hessian over the cosets of ``span``, symmetrised, grouped as :meth:`Span.groups`.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    theta : numpy.ndarray
        Flat parameter vector (internal units), known valid.
    p : float
        The continuation parameter (internal units).
    span : Span
        The character span at ``theta``.

    Returns
    -------
    dict
        Block size -> ``(count, size, size)`` array, ``[k, i, j] = (H[b_i, b_j] + H[b_j, b_i]) / 2`` for the
        ``k``-th coset of that size.
    """
    mats = _block_matrices(problem, theta, p, ("inertia", span.key()), span.groups())
    return {size: (m + np.swapaxes(m, 1, 2)) / 2 for size, m in mats.items()}


def fixed_block(span: Span, blocks: dict[int, np.ndarray]) -> np.ndarray:
    """The block of the trivial coset (the fixed-point subspace, :meth:`Span.fixed_subspace`) from :func:`span_hessian`.

    Parameters
    ----------
    span : Span
        The character span.
    blocks : dict
        As :func:`span_hessian` returns them.

    Returns
    -------
    numpy.ndarray
        ``H_SS`` on the fixed subspace in its order, symmetrised (``(0, 0)`` if the subspace is empty).
    """
    S = span.fixed_subspace()
    if not len(S):
        return np.zeros((0, 0))
    keys, _ = span.groups()[len(S)]
    return blocks[len(S)][keys.index(0)]


def inertia(problem: ContinuationProblem, theta: np.ndarray, p: float, span: Span,
            rtol: float = ZERO_RTOL, blocks: dict[int, np.ndarray] | None = None,
            common_scale: bool = False) -> Inertia:
    """Morse index at ``theta``: positive Hessian eigenvalues, symmetry zero modes removed.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    theta : numpy.ndarray
        Flat parameter vector (internal units).
    p : float
        The continuation parameter (internal units).
    span : Span
        The character span at ``theta`` (its cosets are the Hessian's blocks).
    rtol : float
        Eigenvalues within ``rtol`` times their block's largest entry count as zero.
    blocks : dict, optional
        :func:`span_hessian` at ``theta`` if already computed.
    common_scale : bool
        Measure every block against the largest entry of all blocks instead of its own (at a branch
        point a 1 x 1 block is its own vanishing eigenvalue, so its own scale would count it as nonzero).

    Returns
    -------
    Inertia
    """
    groups = span.groups()
    if blocks is None:
        blocks = span_hessian(problem, theta, p, span)
    common = max((float(np.abs(m).max()) for m in blocks.values() if m.size), default=0.0) if common_scale else 0.0
    gens = problem.zero_modes(theta)
    touched: set[int] = set()
    if len(gens):
        nz = np.nonzero(np.abs(gens).max(axis=0) > 0)[0]
        touched = {span.coset_of(int(i)) for i in nz}
    index = zero = nsym = 0
    positive: dict = {}
    zeros: dict = {}
    for size, (keys, idx) in groups.items():
        mats = blocks[size]
        scale = np.maximum(np.abs(mats).reshape(len(keys), -1).max(axis=1), 1e-300)
        if common_scale:
            scale = np.full(len(keys), max(common, 1e-300))
        ev = _eigenvalues(mats)
        pos = (ev > rtol * scale[:, None]).sum(axis=1)
        zer = (np.abs(ev) <= rtol * scale[:, None]).sum(axis=1)
        if touched:
            for m in (m for m, k in enumerate(keys) if k in touched):  # symmetry zero modes: project them out first
                q, rank = symmetry_complement(gens, idx[m])
                nsym += rank
                e = block_eigenvalues(mats[m], q)
                pos[m] = int((e > rtol * scale[m]).sum())
                zer[m] = int((np.abs(e) <= rtol * scale[m]).sum())
        index += int(pos.sum())
        zero += int(zer.sum())
        positive.update((keys[m], int(pos[m])) for m in np.nonzero(pos)[0])
        zeros.update((keys[m], int(zer[m])) for m in np.nonzero(zer)[0])
    return Inertia(index, zero, nsym, positive, zeros)
