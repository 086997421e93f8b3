"""The flat parameter vector: documented layout, ``pack`` and ``unpack``, validation.

Order (the same as :func:`statvae.symbolic.parameters.build_parameters`):

1. every map, in graph order, row-major (``W`` is ``data_dim x latent_dim``);
2. every encoder covariance, in latent order: ``diagonal`` -> its ``n``
   diagonal entries; ``full`` -> the upper triangle row by row (an
   off-diagonal entry sets ``D[j, k]`` and ``D[k, j]``); ``isotropic`` -> the
   scale ``d`` (``D = d I``); ``fixed`` -> nothing;
3. every learned decoder variance.

No sympy symbols are created here, so the layout of a 784 x 64 model costs
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import StatvaeError

__all__ = ["ParameterError", "Block", "Entry", "Layout", "scale_name"]


class ParameterError(StatvaeError):
    """A parameter vector or block is invalid (length, NaN, a non-positive variance)."""


@dataclass(frozen=True)
class Block:
    """One named block of the flat vector.

    ``kind`` is ``map``, ``diagonal``, ``full``, ``isotropic`` or ``variance``;
    ``shape`` is the matrix shape (``(n, n)`` for covariances, ``()`` for
    scalars); ``offset`` and ``size`` locate it in the vector.
    """

    name: str
    kind: str
    shape: tuple
    offset: int
    size: int
    axes: tuple = ()

    @property
    def slice(self) -> slice:
        """The block's positions in the flat vector."""
        return slice(self.offset, self.offset + self.size)

    @property
    def is_scalar(self) -> bool:
        """Whether the block is one number (an isotropic scale or a learned variance)."""
        return self.kind in ("isotropic", "variance")

    def entries(self) -> list[Entry]:
        """The block's free entries in vector order (the one definition of that order).

        Returns
        -------
        list of Entry
        """
        if self.kind == "map":
            r, c = self.shape
            pos = [(i, j) for i in range(r) for j in range(c)]
        elif self.kind == "diagonal":
            pos = [(j, j) for j in range(self.shape[0])]
        elif self.kind == "full":
            n = self.shape[0]
            pos = [(j, k) for j in range(n) for k in range(j, n)]
        else:
            return [Entry(self.name, self.offset, (), ())]
        rows, cols = self.axes
        return [Entry(self.name, self.offset + k, (i, j), ((rows, i), (cols, j))) for k, (i, j) in enumerate(pos)]


@dataclass(frozen=True)
class Entry:
    """One entry of the flat parameter vector.

    Attributes
    ----------
    block : str
        The block it belongs to.
    position : int
        Its index in the flat vector.
    index : tuple of int
        ``(row, column)`` inside the block (``()`` for a scalar block).
    coords : tuple of (str, int)
        The coordinates (variable, 0-based index) of its row and column: the
        decoder entry ``W[i, j]`` touches ``(x, i)`` and ``(z, j)``, the encoder
        covariance entry ``D[j, k]`` touches ``(z, j)`` and ``(z, k)``; a
        scalar touches nothing.  Flipping the sign of a coordinate flips the
        entries that touch it an odd number of times.
    """

    block: str
    position: int
    index: tuple
    coords: tuple


def scale_name(covariance_name: str) -> str:
    """The parameter name of an isotropic encoder scale (``D`` -> ``d``, ``D1`` -> ``d1``).

    Parameters
    ----------
    covariance_name : str
        Name of the encoder covariance (``D``, ``D1``, ...).

    Returns
    -------
    str
        Its first letter replaced by ``d``.

    Examples
    --------
    >>> scale_name("D1")
    'd1'
    """
    return "d" + covariance_name[1:]


class Layout:
    """Layout of the flat parameter vector of a model (its current dimensions).

    Examples
    --------
    >>> import statvae
    >>> lay = Layout(statvae.LinearVAE(3, 2))
    >>> [(b.name, b.kind, b.size) for b in lay.blocks]
    [('W', 'map', 6), ('V', 'map', 6), ('D', 'diagonal', 2)]
    >>> theta = lay.pack(W=np.ones((3, 2)), V=np.zeros((2, 3)), D=[1.0, 2.0])
    >>> lay.unpack(theta)["D"]
    array([[1., 0.],
           [0., 2.]])
    """

    def __init__(self, model):
        g = model.graph
        blocks, off = [], 0

        def add(name, kind, shape, size, axes=()):
            nonlocal off
            blocks.append(Block(name, kind, shape, off, size, axes))
            off += size

        for m in g.maps():
            r, c = g.variable(m.target).dim, g.variable(m.source).dim
            add(m.name, "map", (r, c), r * c, (m.target, m.source))
        for z in g.latents():
            n = z.dim
            if z.encoder == "diagonal":
                add(z.covariance_name, "diagonal", (n, n), n, (z.name, z.name))
            elif z.encoder == "full":
                add(z.covariance_name, "full", (n, n), n * (n + 1) // 2, (z.name, z.name))
            elif z.encoder == "isotropic":
                add(scale_name(z.covariance_name), "isotropic", (), 1, (z.name,))
        for v in g.variables():
            if v.variance == "learned":
                add(g.learned_variance_name(v.name), "variance", (), 1, (v.name,))
        self.blocks: list[Block] = blocks
        self.by_name = {b.name: b for b in blocks}
        self.size = off

    def __repr__(self) -> str:
        return "Layout(" + ", ".join(f"{b.name}[{b.offset}:{b.offset + b.size}]" for b in self.blocks) + ")"

    def labels(self) -> list[str]:
        """A name per entry of the flat vector (``W[0,1]``, ``D[1,1]``, ``sigma2``), 0-based indices."""
        return [f"{e.block}[{e.index[0]},{e.index[1]}]" if e.index else e.block for e in self.entries()]

    def entries(self) -> list[Entry]:
        """Every entry of the flat vector, in order, with the coordinates it touches.

        Returns
        -------
        list of Entry

        Examples
        --------
        >>> import statvae
        >>> [(e.block, e.index, e.coords) for e in Layout(statvae.LinearVAE(1, 1)).entries()]
        [('W', (0, 0), (('x', 0), ('z', 0))), ('V', (0, 0), (('z', 0), ('x', 0))), ('D', (0, 0), (('z', 0), ('z', 0)))]
        """
        return [e for b in self.blocks for e in b.entries()]

    def describe(self) -> str:
        """One line per block: name, kind, shape and position."""
        return "\n".join(f"{b.name:>8}  {b.kind:<9} shape {b.shape}  theta[{b.offset}:{b.offset + b.size}]"
                         for b in self.blocks)

    # -- pack / unpack ------------------------------------------------------
    def pack(self, **blocks: ArrayLike) -> np.ndarray:
        """Flat vector from blocks given by name (every block is required).

        Covariances may be given as matrices or, for ``diagonal``, as the vector
        of diagonal entries; an ``isotropic`` scale as a number.

        Parameters
        ----------
        **blocks : array_like
            One value per block name (see :attr:`blocks`).

        Returns
        -------
        numpy.ndarray
            The flat vector, of length :attr:`size`.

        Raises
        ------
        ParameterError
            An unknown or missing block, or a block of the wrong shape.
        """
        unknown = sorted(set(blocks) - set(self.by_name))
        if unknown:
            raise ParameterError(f"unknown block(s) {', '.join(unknown)}; blocks are {', '.join(self.by_name)}")
        missing = [b.name for b in self.blocks if b.name not in blocks]
        if missing:
            raise ParameterError(f"missing block(s) {', '.join(missing)}")
        theta = np.empty(self.size)
        for b in self.blocks:
            a = np.asarray(blocks[b.name], dtype=float)
            if b.kind == "map":
                if a.shape != b.shape:
                    raise ParameterError(f"block {b.name} must have shape {b.shape}, got {a.shape}")
                theta[b.slice] = a.ravel()
            elif b.kind == "diagonal":
                if a.shape == b.shape:
                    a = np.diag(a)
                if a.shape != (b.shape[0],):
                    raise ParameterError(f"block {b.name} must be a {b.shape} matrix or {b.shape[0]} diagonal entries")
                theta[b.slice] = a
            elif b.kind == "full":
                if a.shape != b.shape:
                    raise ParameterError(f"block {b.name} must have shape {b.shape}, got {a.shape}")
                iu = np.triu_indices(b.shape[0])
                theta[b.slice] = a[iu]
            else:
                if a.size != 1:
                    raise ParameterError(f"block {b.name} is a scalar, got shape {a.shape}")
                theta[b.slice] = a.ravel()
        return theta

    def unpack(self, theta: ArrayLike, check: bool = False) -> dict[str, Any]:
        """Blocks by name: maps and covariances as matrices, scalars as numbers.

        Leading batch dimensions of ``theta`` are kept.  With ``check=True``
        the vector is validated (length, NaN, positive definite covariances,
        positive variances).

        Parameters
        ----------
        theta : array_like
            Flat parameter vector(s), the last axis of length :attr:`size`.
        check : bool
            Validate ``theta`` first (a single vector only).

        Returns
        -------
        dict
            Block name -> array (scalars: arrays of the batch shape, 0-d for one vector).

        Raises
        ------
        ParameterError
            With ``check=True``, an invalid vector.
        """
        theta = np.asarray(theta)
        if check:
            self.check(theta)
        out = {}
        batch = theta.shape[:-1]
        for b in self.blocks:
            part = theta[..., b.slice]
            if b.kind == "map":
                out[b.name] = part.reshape(batch + b.shape)
            elif b.kind == "diagonal":
                n = b.shape[0]
                m = np.zeros(batch + (n, n), dtype=theta.dtype)
                idx = np.arange(n)
                m[..., idx, idx] = part
                out[b.name] = m
            elif b.kind == "full":
                n = b.shape[0]
                iu, ju = np.triu_indices(n)
                m = np.zeros(batch + (n, n), dtype=theta.dtype)
                m[..., iu, ju] = part
                m[..., ju, iu] = part
                out[b.name] = m
            else:
                out[b.name] = part[..., 0]
        return out

    def unpack_block(self, theta: ArrayLike, name: str) -> np.ndarray:
        """One block of ``theta`` (leading batch dimensions kept), as :meth:`unpack` gives it.

        Parameters
        ----------
        theta : array_like
            Flat parameter vector(s).
        name : str
            Name of the block.

        Returns
        -------
        numpy.ndarray
        """
        b = self.by_name[name]
        part = np.asarray(theta)[..., b.slice]
        batch = part.shape[:-1]
        if b.kind == "map":
            return part.reshape(batch + b.shape)
        if b.kind in ("diagonal", "full"):
            n = b.shape[0]
            m = np.zeros(batch + (n, n), dtype=part.dtype)
            if b.kind == "diagonal":
                idx = np.arange(n)
                m[..., idx, idx] = part
            else:
                iu, ju = np.triu_indices(n)
                m[..., iu, ju] = part
                m[..., ju, iu] = part
            return m
        return part[..., 0]

    def check(self, theta: ArrayLike) -> np.ndarray:
        """Validate a parameter vector; returns it as a float array.

        Parameters
        ----------
        theta : array_like
            A flat parameter vector.

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        ParameterError
            Not a vector of :attr:`size` finite numbers, a covariance not
            positive definite, or a variance not positive.
        """
        return self.check_unpack(theta)[0]

    def check_unpack(self, theta: ArrayLike) -> tuple[np.ndarray, dict[str, Any]]:
        """Validate a parameter vector; returns it and its blocks.

        Parameters
        ----------
        theta : array_like
            A flat parameter vector.

        Returns
        -------
        tuple
            The vector as a float array and :meth:`unpack` of it.

        Raises
        ------
        ParameterError
            As for :meth:`check`.
        """
        try:
            t = np.asarray(theta, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError("theta must be a vector of numbers") from None
        if t.ndim != 1 or t.size != self.size:
            raise ParameterError(f"theta must be a vector of length {self.size} ({self.describe_short()}), "
                                 f"got shape {t.shape}")
        if not np.all(np.isfinite(t)):
            raise ParameterError(f"theta has {int((~np.isfinite(t)).sum())} NaN or infinite entries")
        blocks = self.unpack(t)
        for b in self.blocks:
            if b.kind in ("diagonal", "full"):
                try:
                    np.linalg.cholesky(blocks[b.name])
                except np.linalg.LinAlgError:
                    raise ParameterError(f"encoder covariance {b.name} is not positive definite") from None
            elif b.is_scalar and not blocks[b.name] > 0:
                raise ParameterError(f"{b.name} must be > 0, got {float(blocks[b.name]):g}")
        return t, blocks

    def describe_short(self) -> str:
        """The blocks and their sizes, ``"W: 6, V: 6, D: 2"``."""
        return ", ".join(f"{b.name}: {b.size}" for b in self.blocks)

