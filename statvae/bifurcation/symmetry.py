"""Symmetries of the objective in the canonical basis, used by the tracker.

In the canonical basis (data covariance diagonal) the objective is invariant
under the sign flip of any single coordinate, data or latent.  A parameter
entry is odd under the flips of the coordinates it touches an odd number of
times: its *character*, a vector over GF(2) stored as an integer bit mask.

At a point whose nonzero entries have characters spanning a subspace ``R``,
the flips that fix the point are those orthogonal to ``R``; two entries then
transform alike iff their characters differ by an element of ``R``.  So

* the **fixed-point subspace** of the point (where its branch lives, by the
  principle of symmetric criticality) is the set of entries whose character
  lies in ``R``;
* the Hessian at the point is **block diagonal** over the cosets of ``R``;
  entries of different cosets never couple.  This makes inertia cheap: a
  handful of Hessian-vector products, one per position inside the largest
  block, give every block at once.

Latent groups whose encoder covariance is rotation invariant (``full``,
``isotropic``, ``fixed``) also have continuous rotation symmetry; its
generators give the exact zero modes of the Hessian on non-collapsed
branches, which :func:`rotation_generators` provides so they can be removed
from inertia counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from ..model.layout import Layout

if TYPE_CHECKING:
    from ..model.vae import Model

_T = TypeVar("_T")

__all__ = ["CharacterTable", "Characters", "Span", "rotation_generators"]


class CharacterTable:
    """Characters of the entries of a parameter vector, for any problem.

    Parameters
    ----------
    chars : list of int
        Character (bit mask over symmetry coordinates) of each entry.
    latent_bits : dict
        Name -> bits of a group of interchangeable coordinates (permuting
        them is a symmetry), used to recognise equivalent branches.
    coords : list
        Name of each bit, for descriptions.
    """

    def __init__(self, chars: Iterable[int], latent_bits: Mapping[str, list[int]] | None = None,
                 coords: Iterable[tuple[str, int]] | None = None):
        self.chars = list(chars)
        self.latent_bits = dict(latent_bits or {})
        self.coords = list(coords or [])

    def describe(self, char: int) -> str:
        """``"x3+z1"``-style name of a character.

        Parameters
        ----------
        char : int
            A character (bit mask); bits without a coordinate name print as ``b<k>``.

        Returns
        -------
        str
            ``"0"`` for the trivial character.

        Examples
        --------
        >>> CharacterTable([1, 2, 3], coords=[("x", 0), ("z", 0)]).describe(3)
        'x1+z1'
        """
        parts = []
        for k in range(char.bit_length()):
            if char >> k & 1:
                if k < len(self.coords):
                    v, i = self.coords[k]
                    parts.append(f"{v}{i + 1}")
                else:
                    parts.append(f"b{k}")
        return "+".join(parts) or "0"

    def distinct(self) -> tuple[list[int], np.ndarray]:
        """The distinct characters (in order of first appearance) and each entry's position among them (cached).

        Returns
        -------
        tuple
            ``(characters, indices)`` with ``chars[k] == characters[indices[k]]``.

        Examples
        --------
        >>> CharacterTable([3, 1, 3]).distinct()
        ([3, 1], array([0, 1, 0]))
        """
        hit = getattr(self, "_distinct", None)
        if hit is None or hit[0] is not self.chars or hit[1] != len(self.chars):
            ids: dict[int, int] = {}
            idx = np.fromiter((ids.setdefault(c, len(ids)) for c in self.chars), dtype=np.intp, count=len(self.chars))
            hit = self._distinct = (self.chars, len(self.chars), list(ids), idx)
        return hit[2], hit[3]

    def span_of(self, theta: ArrayLike, rtol: float = 1e-9) -> Span:
        """The span of the characters of the nonzero entries of ``theta``.

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.
        rtol : float
            Entries below ``rtol * max(1, max|theta|)`` in absolute value count as zero.

        Returns
        -------
        Span

        Examples
        --------
        >>> CharacterTable([1, 2, 3]).span_of([0.5, 0.0, 2.0]).generators()
        [1, 2]
        """
        theta = np.asarray(theta, dtype=float)
        tol = rtol * max(1.0, float(np.abs(theta).max()))
        s = Span(self)
        for k in np.nonzero(np.abs(theta) > tol)[0]:
            s.add(self.chars[k])
        return s


class Characters(CharacterTable):
    """Characters of every entry of a model's parameter vector.

    Attributes
    ----------
    coords : list of (variable, index)
        Bit ``k`` of a character is coordinate ``coords[k]``.
    chars : list of int
        Character of each entry of the flat vector.
    latent_bits : dict
        Latent variable name -> list of its coordinate bits.

    With ``canonical=False`` (data in an arbitrary basis) only latent flips
    are symmetries: data coordinates carry no bit.
    """

    def __init__(self, model: Model, canonical: bool = True):
        g = model.graph
        self.model = model
        self.layout = Layout(model)
        self.coords = [(v.name, i) for v in g.variables() for i in range(v.dim)
                       if canonical or not v.observed]
        bit = {c: k for k, c in enumerate(self.coords)}
        self.bit = bit

        def bitof(var: str, i: int) -> int:
            return 1 << bit[(var, i)] if (var, i) in bit else 0

        self.latent_bits = {v.name: [bit[(v.name, i)] for i in range(v.dim)] for v in g.latents()}
        chars = []
        for e in self.layout.entries():  # an entry flips with the coordinates it touches an odd number of times
            c = 0
            for var, i in e.coords:
                c ^= bitof(var, i)
            chars.append(c)
        self.chars = chars


@dataclass
class Span:
    """A subspace of characters over GF(2), kept in echelon form.

    Attributes
    ----------
    chars : CharacterTable
        The characters of the parameter entries.
    basis : dict
        Leading bit -> basis vector (reduced echelon form).
    """

    chars: CharacterTable

    def __post_init__(self) -> None:
        self.basis: dict[int, int] = {}
        self._cache: dict[tuple[str, tuple[int, ...]], Any] = {}

    def copy(self) -> Span:
        """A copy with its own basis (the cache is not shared)."""
        s = Span(self.chars)
        s.basis = dict(self.basis)
        return s

    def _cached(self, name: str, build: Callable[[], _T]) -> _T:
        key = (name, self.key())
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def reduce(self, v: int) -> int:
        """Canonical representative of ``v`` modulo the span.

        Parameters
        ----------
        v : int
            A character.

        Returns
        -------
        int
            0 iff ``v`` lies in the span.
        """
        for p in sorted(self.basis, reverse=True):
            if v >> p & 1:
                v ^= self.basis[p]
        return v

    def add(self, v: int) -> bool:
        """Add a character to the span.

        Parameters
        ----------
        v : int
            A character.

        Returns
        -------
        bool
            Whether the span grew (False if ``v`` was already in it).
        """
        v = self.reduce(v)
        if v == 0:
            return False
        p = v.bit_length() - 1
        for q, w in list(self.basis.items()):
            if w >> p & 1:
                self.basis[q] = w ^ v
        self.basis[p] = v
        return True

    def generators(self) -> list[int]:
        """The basis vectors of the span, sorted (identifies the span)."""
        return sorted(self.basis.values())

    def key(self) -> tuple[int, ...]:
        """The generators as a tuple (hashable)."""
        return tuple(self.generators())

    def _reduced_distinct(self) -> list[int]:
        """The distinct characters of the table (:meth:`CharacterTable.distinct`) reduced modulo the span."""
        def build() -> list[int]:
            basis = [(q, self.basis[q]) for q in sorted(self.basis, reverse=True)]  # as :meth:`reduce` runs
            out = []
            for c in self.chars.distinct()[0]:
                for q, w in basis:
                    if c >> q & 1:
                        c ^= w
                out.append(c)
            return out
        return self._cached("reduced", build)

    def _partition(self) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """Cached cosets: keys ascending, entries ordered by coset (each ascending), coset sizes and starts."""
        def build() -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
            red = self._reduced_distinct()
            ids: dict[int, int] = {}
            rid = np.fromiter((ids.setdefault(c, len(ids)) for c in red), dtype=np.intp, count=len(red))
            distinct = list(ids)
            order = sorted(range(len(distinct)), key=distinct.__getitem__)
            rank = np.empty(len(distinct), dtype=np.intp)
            rank[order] = np.arange(len(distinct))
            r = rank[rid][self.chars.distinct()[1]]  # every entry's coset, numbered in ascending key order
            perm = np.argsort(r, kind="stable")
            sizes = np.bincount(r, minlength=len(distinct))
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
            return [distinct[i] for i in order], perm, sizes, starts
        return self._cached("partition", build)

    def fixed_subspace(self) -> np.ndarray:
        """Indices of entries whose character lies in the span (the branch's own parameters)."""
        def build() -> np.ndarray:
            keys, perm, sizes, _ = self._partition()
            return perm[:sizes[0]].copy() if keys and keys[0] == 0 else np.zeros(0, dtype=np.intp)
        return self._cached("fixed", build)

    def blocks(self) -> list[np.ndarray]:
        """Cosets: lists of entry indices whose characters agree modulo the span (Hessian blocks)."""
        def build() -> list[np.ndarray]:
            _, perm, _, starts = self._partition()
            return np.split(perm, starts[1:])
        return self._cached("blocks", build)

    def groups(self) -> dict[int, tuple[list[int], np.ndarray]]:
        """Cached blocks grouped by size: size -> (coset keys, indices ``(count, size)``), sizes ascending."""
        def build() -> dict[int, tuple[list[int], np.ndarray]]:
            keys, perm, sizes, starts = self._partition()
            out = {}
            for sz in np.unique(sizes).tolist():
                which = np.nonzero(sizes == sz)[0]
                out[sz] = ([keys[b] for b in which.tolist()], perm[starts[which][:, None] + np.arange(sz)])
            return out
        return self._cached("groups", build)

    def plan(self) -> tuple[np.ndarray, dict[int, tuple[list[int], np.ndarray]]]:
        """Cached layout of the compressed Hessian evaluation: directions and blocks grouped by size.

        Direction ``j`` has ones at the ``j``-th entry of every block longer than ``j``.
        """
        def build() -> tuple[np.ndarray, dict[int, tuple[list[int], np.ndarray]]]:
            groups = self.groups()
            dirs = np.zeros((max(groups), len(self.chars.chars)))
            for sz, (_, idx) in groups.items():
                dirs[np.broadcast_to(np.arange(sz), idx.shape), idx] = 1.0
            return dirs, groups
        return self._cached("plan", build)

    def block_keys(self) -> list[int]:
        """The coset representative of each of :meth:`blocks`, in the same order."""
        return self._partition()[0]

    def block_index(self) -> dict[int, int]:
        """Coset key -> position of its block in :meth:`blocks` (cached)."""
        return self._cached("index", lambda: {k: m for m, k in enumerate(self.block_keys())})

    def coset_of(self, index: int) -> int:
        """The coset (block key) of a parameter entry.

        Parameters
        ----------
        index : int
            Position of the entry in the flat parameter vector.

        Returns
        -------
        int
            Its character reduced modulo the span.
        """
        return self._reduced_distinct()[int(self.chars.distinct()[1][index])]

    def involved_latents(self) -> set[int]:
        """Latent coordinates touched by the span (active at the point)."""
        used = 0
        for v in self.basis.values():
            used |= v
        out: set[int] = set()
        for z, bits in self.chars.latent_bits.items():
            for b in bits:
                if used >> b & 1:
                    out.add(b)
        return out

    def candidate_key(self, char: int) -> tuple[int, tuple[int, ...]]:
        """Key identifying a new character up to permutations of latents the span does not involve.

        Parameters
        ----------
        char : int
            A character that would be added to the span.

        Returns
        -------
        tuple
            The reduced character with its free latent bits cleared, and the
            number of free latent bits it had in each latent group.
        """
        used = self.involved_latents()
        rep = self.reduce(char)
        counts = []
        for z, bits in self.chars.latent_bits.items():
            free = [b for b in bits if b not in used]
            counts.append(sum(rep >> b & 1 for b in free))
            for b in free:
                rep &= ~(1 << b)
        return rep, tuple(counts)


#: A rotation generator whose entries are all below this times ``max|theta|`` vanishes at ``theta``
#: (the same relative tolerance as :meth:`CharacterTable.span_of` uses for a zero entry).
GENERATOR_RTOL = 1e-9


def rotation_generators(model: Model, theta: ArrayLike, rtol: float = GENERATOR_RTOL) -> np.ndarray:
    """Tangent vectors of the latent-rotation orbit through ``theta`` (rows; may be empty).

    For every latent group whose encoder covariance is rotation invariant and
    every pair ``j < k`` of its coordinates, ``E = e_j e_k^T - e_k e_j^T`` acts
    by ``M -> E M`` on maps into the latent, ``M -> -M E`` on maps out of it,
    and ``D -> E D - D E`` on a full covariance.  The objective is constant
    along these directions, so they are exact zero modes of the Hessian.

    A generator vanishes where both latents are collapsed; numerically it is then made of round-off
    (``D_jj - D_kk`` of two collapsed latents, or the 1e-32 left of an amplitude that Newton drove to
    zero), and its direction is noise: projecting it out of a Hessian block would remove an arbitrary
    direction and change the block's eigenvalues from point to point.  So a generator counts only
    if one of its entries exceeds ``rtol`` times the largest entry of ``theta`` (relative to the size of
    the point, never an absolute threshold).

    Parameters
    ----------
    model : VAEModel
        The model.
    theta : array_like
        Flat parameter vector.
    rtol : float
        Relative size below which a generator vanishes.

    Returns
    -------
    numpy.ndarray
        Shape ``(generators, parameters)``; generators that vanish at ``theta`` are left out.
    """
    g = model.graph
    lay = Layout(model)
    theta = np.asarray(theta, dtype=float)
    tol = rtol * (float(np.abs(theta).max()) if theta.size else 0.0)
    blocks = lay.unpack(theta)
    out = []
    for z in g.latents():
        if z.encoder not in ("full", "isotropic", "fixed") or z.dim < 2:
            continue
        n = z.dim
        for j in range(n):
            for k in range(j + 1, n):
                e = np.zeros((n, n))
                e[j, k], e[k, j] = 1.0, -1.0
                delta = {}
                for b in lay.blocks:
                    val = blocks[b.name]
                    if b.kind == "map":
                        m = next(mm for mm in g.maps() if mm.name == b.name)
                        d = np.zeros_like(val)
                        if m.target == z.name:
                            d = d + e @ val
                        if m.source == z.name:
                            d = d - val @ e
                        delta[b.name] = d
                    elif b.kind == "full" and b.name == z.covariance_name:
                        delta[b.name] = e @ val - val @ e
                    elif b.kind in ("diagonal", "full"):
                        delta[b.name] = np.zeros_like(val)
                    else:
                        delta[b.name] = 0.0
                vec = lay.pack(**{k2: (np.diag(v) if lay.by_name[k2].kind == "diagonal" else v)
                                  for k2, v in delta.items()})
                if np.abs(vec).max() > tol:
                    out.append(vec)
    return np.array(out).reshape(len(out), lay.size)
