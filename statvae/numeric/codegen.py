"""Code generation: from symbolic objects to Python source for numpy or mpmath.

One generator serves both paths:

* scalar expressions (the explicit-entry path, and the coefficients of the
  matrix path) are printed after common-subexpression elimination
  (``sympy.cse``) with :class:`ScalarPrinter`, whose output runs unchanged on
  floats and on mpmath numbers (rationals print as ``rat(p, q)``);
* matrix chains (the matrix path) become ``@`` products in the cheapest
  order for the actual sizes (matrix-chain dynamic programming), with every
  product computed once and reused, transposes included, so that for
  example ``W (V Sigma)`` costs O(N^2 n) and ``(I - W V) Sigma`` is never
  formed.

The generated source is plain text: it is cached on disk and executed in a
backend namespace (:data:`NUMPY_NAMESPACE` or :func:`mpmath_namespace`).
Matrices may carry leading batch dimensions (stacks of directions or of
hyper-parameter values).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.str import StrPrinter

from ..errors import DataError
from .tracepoly import Factor, transpose_chain

__all__ = ["ScalarPrinter", "scalar_code", "ChainProgram", "NUMPY_NAMESPACE", "mpmath_namespace", "DiagonalBlock",
           "LowRankDiagonalBlock", "DATA_STRUCTURES", "LOWRANK_MAX_FRACTION", "LOWRANK_MIN_DIM", "lowrank_pays",
           "data_structure", "structured_blocks",
           "lowrank_blocks"]


class ScalarPrinter(StrPrinter):
    """Prints sympy scalars as Python that works with floats and mpmath numbers."""

    def _print_Rational(self, expr):
        return f"rat({expr.p}, {expr.q})"

    def _print_Half(self, expr):
        return "rat(1, 2)"

    def _print_Integer(self, expr):
        return str(expr.p)

    def _print_Float(self, expr):
        return f"flt({str(expr)!r})"

    def _print_Pi(self, expr):
        return "pi"

    def _print_Exp1(self, expr):
        return "E"

    def _print_Pow(self, expr, rational=False):
        b, e = expr.as_base_exp()
        if e == sp.Rational(1, 2):
            return f"sqrt({self._print(b)})"
        if e == -1:
            return f"(1/{self.parenthesize(b, 60)})"
        if e.is_Integer and e < 0:
            return f"(1/{self.parenthesize(b, 60)}**{-e.p})"
        return f"{self.parenthesize(b, 60)}**{self.parenthesize(e, 60)}"

    def _print_Symbol(self, expr):
        return expr.name


def scalar_code(exprs: list[sp.Expr], prefix: str = "c",
                printer: ScalarPrinter | None = None) -> tuple[list[str], list[str]]:
    """``cse`` then print: returns (assignment lines, printed outputs).

    Parameters
    ----------
    exprs : list of sympy.Expr
        The expressions.
    prefix : str, optional
        Prefix of the names of the common subexpressions (``c0``, ``c1``, ...).
    printer : ScalarPrinter, optional
        The printer (default: a :class:`ScalarPrinter`).

    Returns
    -------
    tuple of list of str
        Assignment lines of the subexpressions, and the code of each expression.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> scalar_code([sp.log(x + 1) / 2, (x + 1) ** 2])
    (['c0 = 1 + x'], ['log(c0)/2', 'c0**2'])
    """
    printer = printer or ScalarPrinter({"order": "none"})
    syms = sp.numbered_symbols(prefix)
    reps, red = sp.cse(exprs, symbols=syms, optimizations=None)
    lines = [f"{s.name} = {printer.doprint(e)}" for s, e in reps]
    return lines, [printer.doprint(e) for e in red]


# ---------------------------------------------------------------------------
# backends


class DiagonalBlock:
    """A data block that is zero off its diagonal, with the products the generated code performs.

    The matrix-path code multiplies data blocks (``S__x__y``) with parameter
    matrices (``X @ S``, ``S @ X``, possibly with leading batch dimensions),
    transposes them (``T(S)``) and takes traces (``tr(S)``, ``trp(S, X)``).
    For a diagonal block each of these costs O(size of the other factor)
    instead of a dense product; the results equal the dense ones (the dense
    products only add exact zeros).  ``__array_ufunc__ = None`` makes numpy
    defer ``X @ S`` to :meth:`__rmatmul__`.  A rectangular block keeps the
    leading diagonal (``min(rows, cols)`` entries); a zero block is a
    diagonal block of zeros.

    Parameters
    ----------
    d : array_like
        The diagonal, ``min(shape)`` entries.
    shape : tuple of int, optional
        ``(rows, cols)``; square by default.

    Raises
    ------
    ValueError
        If ``d`` is not one-dimensional or its length is not ``min(shape)``.

    Examples
    --------
    >>> S = DiagonalBlock([2.0, 3.0])
    >>> np.ones((1, 2)) @ S
    array([[2., 3.]])
    >>> _trp(S, np.eye(2))
    5.0
    """

    __array_ufunc__ = None
    ndim = 2

    def __init__(self, d: Any, shape: tuple[int, int] | None = None) -> None:
        dv = np.asarray(d, dtype=float)
        if dv.ndim != 1:
            raise ValueError(f"the diagonal must be one-dimensional, got shape {dv.shape}")
        rows, cols = (dv.size, dv.size) if shape is None else (int(shape[0]), int(shape[1]))
        if dv.size != min(rows, cols):
            raise ValueError(f"a {rows} x {cols} diagonal block has {min(rows, cols)} diagonal entries, got {dv.size}")
        self.d = dv
        self.shape = (rows, cols)

    @classmethod
    def from_dense(cls, m: Any) -> DiagonalBlock:
        """The diagonal block of a dense matrix (its off-diagonal entries are dropped, not checked).

        Parameters
        ----------
        m : array_like
            A two-dimensional array.

        Returns
        -------
        DiagonalBlock
            Its leading diagonal, same shape.
        """
        a = np.asarray(m, dtype=float)
        return cls(np.diagonal(a).copy(), (a.shape[0], a.shape[1]))

    def __repr__(self) -> str:
        return f"DiagonalBlock({self.d!r}, shape={self.shape})"

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the diagonal (float)."""
        return self.d.dtype

    @property
    def square(self) -> bool:
        """Whether the block is square."""
        return self.shape[0] == self.shape[1]

    @property
    def T(self) -> DiagonalBlock:
        """The transpose (the same object for a square block)."""
        return self if self.square else DiagonalBlock(self.d, (self.shape[1], self.shape[0]))

    def toarray(self) -> np.ndarray:
        """The dense matrix.

        Returns
        -------
        numpy.ndarray
            Of :attr:`shape`, zero off the diagonal.
        """
        out = np.zeros(self.shape)
        k = self.d.size
        out[np.arange(k), np.arange(k)] = self.d
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.toarray()
        return a if dtype is None else a.astype(dtype)

    def trace(self) -> float:
        """The trace.

        Returns
        -------
        float
            The sum of the diagonal.
        """
        return float(self.d.sum())

    def __matmul__(self, other: Any) -> Any:
        rows, cols = self.shape
        k = self.d.size
        if isinstance(other, DiagonalBlock):
            if cols != other.shape[0]:
                raise ValueError(f"matmul: shapes {self.shape} and {other.shape} do not match")
            j = min(k, other.d.size)
            d = np.zeros(min(rows, other.shape[1]))
            d[:j] = self.d[:j] * other.d[:j]
            return DiagonalBlock(d, (rows, other.shape[1]))
        x = np.asarray(other)
        if x.ndim == 1:
            return (self @ x[:, None])[:, 0]
        if x.shape[-2] != cols:
            raise ValueError(f"matmul: shapes {self.shape} and {x.shape} do not match")
        d = self.d if x.dtype != object else self.d.astype(object)
        if rows == cols:
            return d[:, None] * x
        out = np.zeros(x.shape[:-2] + (rows, x.shape[-1]), dtype=np.result_type(self.d, x))
        out[..., :k, :] = d[:, None] * x[..., :k, :]
        return out

    def __rmatmul__(self, other: Any) -> Any:
        rows, cols = self.shape
        k = self.d.size
        x = np.asarray(other)
        if x.ndim == 1:
            return (x[None, :] @ self)[0]
        if x.shape[-1] != rows:
            raise ValueError(f"matmul: shapes {x.shape} and {self.shape} do not match")
        d = self.d if x.dtype != object else self.d.astype(object)
        if rows == cols:
            return x * d
        out = np.zeros(x.shape[:-1] + (cols,), dtype=np.result_type(self.d, x))
        out[..., :k] = x[..., :k] * d
        return out


class LowRankDiagonalBlock:
    """A data block ``diag(d) + L R^T`` (``L``: rows x r, ``R``: cols x r), with the products the code performs.

    The same operations as :class:`DiagonalBlock` (``X @ S``, ``S @ X``, ``T(S)``,
    ``tr(S)``, ``trp(S, X)``, leading batch dimensions on ``X``), each as
    skinny products: ``S @ X = d X + L (R^T X)`` costs O((r + 1) rows k) for
    ``X`` of ``k`` columns instead of O(rows cols k).  A diagonal block of
    ``diag(d) + U U^T`` is ``LowRankDiagonalBlock(U_a, U_a, d_a)``; a cross block
    is ``LowRankDiagonalBlock(U_a, U_b)`` (no diagonal).  The results equal the
    dense products to rounding (the sums are taken in another order).
    Products with another structured block, and ``sc``, use the dense matrix.

    Parameters
    ----------
    left : array_like
        ``L``, ``(rows, r)``.
    right : array_like, optional
        ``R``, ``(cols, r)``; ``L`` itself by default (a symmetric block).
    d : array_like, optional
        The leading diagonal, ``min(rows, cols)`` entries (default: none, i.e. zero).

    Raises
    ------
    ValueError
        If the factors are not two-dimensional with equal numbers of columns, or ``d`` has
        the wrong length.

    Examples
    --------
    >>> S = LowRankDiagonalBlock([[1.0], [2.0]], d=[1.0, 0.0])
    >>> np.asarray(S)
    array([[2., 2.],
           [2., 4.]])
    >>> np.ones((1, 2)) @ S
    array([[4., 6.]])
    >>> _trp(S, np.eye(2))
    6.0
    """

    __array_ufunc__ = None
    ndim = 2

    def __init__(self, left: Any, right: Any = None, d: Any = None) -> None:
        lf = np.asarray(left, dtype=float)
        rf = lf if right is None else np.asarray(right, dtype=float)
        if lf.ndim != 2 or rf.ndim != 2 or lf.shape[1] != rf.shape[1]:
            raise ValueError(f"the factors must be 2-D with equal numbers of columns, got {lf.shape} and {rf.shape}")
        self.left, self.right = lf, rf
        self.shape = (lf.shape[0], rf.shape[0])
        self.d: np.ndarray | None = None
        if d is not None:
            dv = np.asarray(d, dtype=float)
            if dv.shape != (min(self.shape),):
                raise ValueError(f"a {self.shape[0]} x {self.shape[1]} block has {min(self.shape)} diagonal entries, "
                                 f"got shape {dv.shape}")
            self.d = dv

    def __repr__(self) -> str:
        return f"LowRankDiagonalBlock(shape={self.shape}, rank={self.rank}, diagonal={self.d is not None})"

    @property
    def rank(self) -> int:
        """``r``, the columns of the factors."""
        return int(self.left.shape[1])

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the factors (float)."""
        return self.left.dtype

    @property
    def T(self) -> LowRankDiagonalBlock:
        """The transpose (the same object for a symmetric block)."""
        if self.left is self.right:
            return self
        return LowRankDiagonalBlock(self.right, self.left, self.d)

    def toarray(self) -> np.ndarray:
        """The dense matrix.

        Returns
        -------
        numpy.ndarray
            ``diag(d) + L R^T``, of :attr:`shape`.
        """
        out = self.left @ self.right.T
        if self.d is not None:
            k = self.d.size
            out[np.arange(k), np.arange(k)] += self.d
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.toarray()
        return a if dtype is None else a.astype(dtype)

    def trace(self) -> float:
        """The trace.

        Returns
        -------
        float
            ``sum(d) + sum_i (L R^T)_ii`` without the product.
        """
        k = min(self.shape)
        t = float(np.einsum("ij,ij->", self.left[:k], self.right[:k]))
        return t + float(self.d.sum()) if self.d is not None else t

    def _diag_part(self, x: np.ndarray, out: np.ndarray, left: bool) -> np.ndarray:
        """``out + diag(d) @ x`` (``left``) or ``out + x @ diag(d)``."""
        d = self.d
        if d is None:
            return out
        if x.dtype == object:
            d = d.astype(object)
        k = d.size
        if self.shape[0] == self.shape[1]:
            out += d[:, None] * x if left else x * d
        elif left:
            out[..., :k, :] += d[:, None] * x[..., :k, :]
        else:
            out[..., :k] += x[..., :k] * d
        return out

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, (DiagonalBlock, LowRankDiagonalBlock)):
            other = other.toarray()
        x = np.asarray(other)
        if x.ndim == 1:
            return (self @ x[:, None])[:, 0]
        if x.shape[-2] != self.shape[1]:
            raise ValueError(f"matmul: shapes {self.shape} and {x.shape} do not match")
        lf, rf = (self.left, self.right) if x.dtype != object else (self.left.astype(object), self.right.astype(object))
        out = lf @ (rf.T @ x)
        return self._diag_part(x, out, left=True)

    def __rmatmul__(self, other: Any) -> Any:
        x = np.asarray(other)
        if x.ndim == 1:
            return (x[None, :] @ self)[0]
        if x.shape[-1] != self.shape[0]:
            raise ValueError(f"matmul: shapes {x.shape} and {self.shape} do not match")
        lf, rf = (self.left, self.right) if x.dtype != object else (self.left.astype(object), self.right.astype(object))
        out = (x @ lf) @ rf.T
        return self._diag_part(x, out, left=False)


#: The data structures a binding may use: ``auto`` (diagonal when the data are exactly diagonal, low-rank when
#: they come as a factor of small rank), ``dense``, ``diagonal`` (the data must be diagonal), ``lowrank`` (the data
#: must come as a factor: samples, or a :class:`statvae.data.LowRankPlusDiagonal`).
DATA_STRUCTURES = ("auto", "dense", "diagonal", "lowrank")

#: ``auto`` binds a ``diag(d) + U U^T`` of ``N`` dimensions with the low-rank products when the rank
#: ``r <= LOWRANK_MAX_FRACTION * N`` and ``N >= LOWRANK_MIN_DIM``, else as a dense matrix.  Measured
#: (``benchmarks/bench_lowrank.py``, one BLAS thread): the products by the factor break even near r = 0.4 N at
#: N = 784, and below N of about 150 the extra numpy calls cost more than the dense products save.
LOWRANK_MAX_FRACTION = 0.25
LOWRANK_MIN_DIM = 160


def lowrank_pays(rank: int, dim: int) -> bool:
    """Whether ``structure="auto"`` multiplies a rank-``rank`` factor of ``dim`` dimensions as a factor.

    Parameters
    ----------
    rank : int
        ``r``, the columns of the factor.
    dim : int
        ``N``, the dimension of the data.

    Returns
    -------
    bool
        ``N >= LOWRANK_MIN_DIM`` and ``r <= LOWRANK_MAX_FRACTION * N``.

    Examples
    --------
    >>> lowrank_pays(10, 784), lowrank_pays(400, 784), lowrank_pays(2, 64)
    (True, False, False)
    """
    return dim >= LOWRANK_MIN_DIM and rank <= LOWRANK_MAX_FRACTION * dim


def data_structure(cov: Any, structure: str = "auto") -> str:
    """Which products the bound code uses for the data ``cov``: ``"diagonal"``, ``"lowrank"`` or ``"dense"``.

    Parameters
    ----------
    cov : numpy.ndarray or statvae.data.LowRankPlusDiagonal
        The full (validated, float) second moment of the observed variables, or its low-rank-plus-diagonal form.
    structure : {"auto", "dense", "diagonal", "lowrank"}
        ``auto``: diagonal exactly when every off-diagonal entry of ``cov`` is zero (a low-rank form: when its
        factor is zero), low-rank for a low-rank form when :func:`lowrank_pays`, else dense;
        ``dense``: always dense products; ``diagonal``: the data must be diagonal; ``lowrank``: the data must
        be in low-rank form.

    Returns
    -------
    str
        ``"diagonal"``, ``"lowrank"`` or ``"dense"``.

    Raises
    ------
    DataError
        For an unknown ``structure``, ``"diagonal"`` with data that are not diagonal, or ``"lowrank"`` with
        data given as a matrix or spectrum.

    Examples
    --------
    >>> data_structure(np.diag([3.0, 1.0])), data_structure(np.ones((2, 2)))
    ('diagonal', 'dense')
    """
    from ..data.lowrank import LowRankPlusDiagonal

    if not isinstance(structure, str) or structure not in DATA_STRUCTURES:
        raise DataError(f"structure must be one of {', '.join(map(repr, DATA_STRUCTURES))}, got {structure!r}")
    if structure == "dense":
        return "dense"
    if isinstance(cov, LowRankPlusDiagonal):
        diagonal = not np.any(cov.factor)
        if structure == "lowrank":
            return "lowrank"
        if structure == "diagonal" and not diagonal:
            raise DataError("structure='diagonal' needs data that are zero off the diagonal")
        if diagonal:
            return "diagonal"
        return "lowrank" if lowrank_pays(cov.rank, cov.dim) else "dense"
    if structure == "lowrank":
        raise DataError("structure='lowrank' needs the data as samples= or a statvae.data.LowRankPlusDiagonal "
                        "covariance (a matrix or a spectrum has no low-rank factor)")
    a = np.asarray(cov)
    diagonal = a.ndim == 2 and a.shape[0] == a.shape[1] and a.dtype != object and \
        not np.count_nonzero(a - np.diag(np.diagonal(a)))
    if structure == "diagonal" and not diagonal:
        raise DataError("structure='diagonal' needs data that are zero off the diagonal")
    return "diagonal" if diagonal else "dense"


def structured_blocks(blocks: list[Any], structure: str) -> list[Any]:
    """The data blocks in the form the generated numpy code multiplies fastest.

    Parameters
    ----------
    blocks : list of numpy.ndarray
        The data blocks (``cov[x, y]`` for each pair of observed variables).
    structure : {"diagonal", "dense"}
        What :func:`data_structure` decided for the whole second moment (low-rank data are
        made into blocks by :func:`lowrank_blocks`, from their factor).

    Returns
    -------
    list
        The blocks unchanged (dense), or as :class:`DiagonalBlock` (diagonal).

    Raises
    ------
    ValueError
        For ``"lowrank"``: dense blocks have no factor.
    """
    if structure == "dense":
        return list(blocks)
    if structure != "diagonal":
        raise ValueError(f"structured_blocks makes dense or diagonal blocks, not {structure!r} (see lowrank_blocks)")
    return [DiagonalBlock.from_dense(b) for b in blocks]


def lowrank_blocks(factor: np.ndarray, diagonal: np.ndarray, pairs: list[tuple[slice, slice]]) -> list[Any]:
    """The blocks ``cov[a, b]`` of ``cov = diag(diagonal) + factor factor^T`` as :class:`LowRankDiagonalBlock`.

    Parameters
    ----------
    factor : numpy.ndarray
        ``U``, ``(N, r)``.
    diagonal : numpy.ndarray
        ``d``, ``(N,)``.
    pairs : list of tuple of slice
        The rows and columns of each block (one slice per observed variable, in order).

    Returns
    -------
    list of LowRankDiagonalBlock
        A diagonal block ``(a, a)`` is ``diag(d_a) + U_a U_a^T`` (one factor, so symmetric); a cross block
        is ``U_a U_b^T`` (no diagonal: the diagonal of ``cov`` has no entry there).
    """
    out: list[Any] = []
    for ra, rb in pairs:
        if (ra.start, ra.stop) == (rb.start, rb.stop):
            u = np.ascontiguousarray(factor[ra])
            out.append(LowRankDiagonalBlock(u, u, diagonal[ra].copy()))
        else:
            out.append(LowRankDiagonalBlock(np.ascontiguousarray(factor[ra]), np.ascontiguousarray(factor[rb])))
    return out


def _sc(c, m):
    if isinstance(m, (DiagonalBlock, LowRankDiagonalBlock)):
        m = m.toarray()
    if isinstance(c, (float, int)):
        return c * m
    c = np.asarray(c)
    return c[..., None, None] * m if c.ndim else c * m


def _T(m):
    return m.T if m.ndim == 2 else np.swapaxes(m, -1, -2)


def _tr(m):
    if isinstance(m, (DiagonalBlock, LowRankDiagonalBlock)):
        return m.trace()
    return np.trace(m) if m.ndim == 2 else np.trace(m, axis1=-2, axis2=-1)


def _trp(a, b):
    """``tr(a @ b)`` without the product: ``sum(a * b^T)`` (``sum(d * diag(other))`` for a diagonal block)."""
    if isinstance(a, LowRankDiagonalBlock) or isinstance(b, LowRankDiagonalBlock):
        structured = (DiagonalBlock, LowRankDiagonalBlock)
        if isinstance(a, structured) and isinstance(b, structured):
            return _trp(a.toarray(), b)
        lr, other = (a, b) if isinstance(a, LowRankDiagonalBlock) else (b, a)
        return _trp_lowrank(lr, np.asarray(other))
    if isinstance(a, DiagonalBlock) or isinstance(b, DiagonalBlock):
        if isinstance(a, DiagonalBlock) and isinstance(b, DiagonalBlock):
            j = min(a.d.size, b.d.size)
            return float(np.dot(a.d[:j], b.d[:j]))
        diag_, other = (a, b) if isinstance(a, DiagonalBlock) else (b, a)
        o = np.asarray(other)
        od = np.diagonal(o, axis1=-2, axis2=-1)
        if o.dtype == object:
            return (od * diag_.d.astype(object)).sum(axis=-1)
        out = od @ diag_.d
        return float(out) if o.ndim == 2 else out
    if a.ndim == 2 and b.ndim == 2 and a.dtype != object and b.dtype != object:
        return float(np.einsum("ij,ji->", a, b))
    return (a * np.swapaxes(b, -1, -2)).sum(axis=(-2, -1))


def _trp_lowrank(s, o):
    """``tr(s @ o) = tr(o @ s)`` for ``s = diag(d) + L R^T``: ``sum(d * diag(o)) + sum((R^T o) * L^T)``."""
    lf, rf = (s.left, s.right) if o.dtype != object else (s.left.astype(object), s.right.astype(object))
    out = ((rf.T @ o) * lf.T).sum(axis=(-2, -1))
    if s.d is not None:
        od = np.diagonal(o, axis1=-2, axis2=-1)[..., :s.d.size]
        out = out + ((od * s.d.astype(object)).sum(axis=-1) if o.dtype == object else od @ s.d)
    return float(out) if o.ndim == 2 and o.dtype != object else out


def _flat(m):
    return m.reshape(m.shape[:-2] + (-1,))


def _diag(m):
    return np.diagonal(m, axis1=-2, axis2=-1)


def _sym_upper(m):
    n = m.shape[-1]
    iu, ju = np.triu_indices(n)
    return m[..., iu, ju] + np.where(iu == ju, 0, 1) * m[..., ju, iu]


def _col(x):
    return np.asarray(x)[..., None]


def _concat(*pieces):
    pieces = [np.asarray(p) for p in pieces]
    if all(p.ndim == 1 for p in pieces):
        return np.concatenate(pieces)
    batch = np.broadcast_shapes(*[p.shape[:-1] for p in pieces])
    return np.concatenate([np.broadcast_to(p, batch + p.shape[-1:]) for p in pieces], axis=-1)


def _np_logdet(m):
    sign, ld = np.linalg.slogdet(m)
    return np.where(sign > 0, ld, np.nan)


NUMPY_NAMESPACE = {
    "np": np, "log": np.log, "sqrt": np.sqrt, "exp": np.exp, "pi": np.pi, "E": np.e,
    "rat": lambda p, q: p / q, "flt": float, "sc": _sc, "T": _T, "tr": _tr, "trp": _trp, "flat": _flat,
    "diag": _diag, "sym_upper": _sym_upper, "col": _col, "concat": _concat, "inv": np.linalg.inv,
    "logdet": _np_logdet, "eye": lambda k: np.eye(k), "zeros": np.zeros,
}


def mpmath_namespace(mp: Any) -> dict[str, Any]:
    """Backend namespace for mpmath (object arrays of mpf; ``mp`` carries the precision).

    Parameters
    ----------
    mp : mpmath.MPContext
        The context whose precision the generated code uses.

    Returns
    -------
    dict
        :data:`NUMPY_NAMESPACE` with the functions that must use mpmath replaced.
    """

    def inv(m):
        m = np.asarray(m, dtype=object)
        if m.ndim > 2:
            return np.array([inv(x) for x in m], dtype=object)
        return np.array((mp.matrix(m.tolist()) ** -1).tolist(), dtype=object)

    def logdet(m):
        m = np.asarray(m, dtype=object)
        if m.ndim > 2:
            return np.array([logdet(x) for x in m], dtype=object)
        return mp.log(mp.det(mp.matrix(m.tolist())))

    def eye(k):
        out = np.full((k, k), mp.mpf(0), dtype=object)
        for i in range(k):
            out[i, i] = mp.mpf(1)
        return out

    ns = dict(NUMPY_NAMESPACE)
    ns.update({
        "log": np.vectorize(mp.log, otypes=[object]), "sqrt": np.vectorize(mp.sqrt, otypes=[object]),
        "exp": np.vectorize(mp.exp, otypes=[object]), "pi": mp.pi, "E": mp.e,
        "rat": lambda p, q: mp.mpf(p) / q, "flt": lambda s: mp.mpf(s), "inv": inv, "logdet": logdet, "eye": eye,
        "zeros": lambda shape: np.full(shape, mp.mpf(0), dtype=object),
    })
    return ns


# ---------------------------------------------------------------------------
# matrix chains


class ChainProgram:
    """Emits numpy code for products and traces of matrix chains, sharing sub-products.

    Parameters
    ----------
    shapes : dict
        Matrix name -> (rows, cols) as integers (directions ``dX`` and
        inverses ``inv_X`` take the shape of ``X``).
    symmetric : frozenset
        Names of symmetric matrices (``X^T`` is ``X``).
    """

    def __init__(self, shapes: dict[str, tuple[int, int]], symmetric: frozenset[str]) -> None:
        self.shapes = dict(shapes)
        for k, v in list(shapes.items()):
            self.shapes.setdefault("d" + k, v)
            self.shapes.setdefault("inv_" + k, v)
        self.symmetric = frozenset(symmetric) | {"inv_" + s for s in symmetric} | {"d" + s for s in symmetric}
        self.lines: list[str] = []
        self.cache: dict = {}
        self.flops = 0
        self._n = 0

    def shape(self, f: Factor) -> tuple[int, int]:
        """The shape of factor ``f`` (transposed if it is).

        Parameters
        ----------
        f : Factor
            A factor of a chain.

        Returns
        -------
        tuple of int
            ``(rows, cols)``.
        """
        r, c = self.shapes[f.name]
        return (c, r) if f.t else (r, c)

    def _chain_shape(self, chain) -> tuple:
        return self.shape(chain[0])[0], self.shape(chain[-1])[1]

    def _cached(self, chain):
        if len(chain) == 1:
            f = chain[0]
            return f"T({f.name})" if f.t and f.name not in self.symmetric else f.name
        if chain in self.cache:
            return self.cache[chain]
        tc = transpose_chain(chain, self.symmetric)
        if tc in self.cache:
            return f"T({self.cache[tc]})"
        return None

    def _plan(self, chain, memo):
        """(cost, split) of the cheapest product of ``chain`` given what is cached."""
        if chain in memo:
            return memo[chain]
        if len(chain) == 1 or self._cached(chain) is not None:
            memo[chain] = (0, None)
            return memo[chain]
        best = None
        for m in range(1, len(chain)):
            left, right = chain[:m], chain[m:]
            cl, _ = self._plan(left, memo)
            cr, _ = self._plan(right, memo)
            r, k = self._chain_shape(left)
            c = self._chain_shape(right)[1]
            cost = cl + cr + r * k * c
            if best is None or cost < best[0]:
                best = (cost, m)
        memo[chain] = best
        return best

    def product(self, chain: tuple[Factor, ...]) -> str:
        """Name of a variable holding ``product(chain)`` (emitting code as needed).

        Parameters
        ----------
        chain : tuple of Factor
            The factors, left to right.

        Returns
        -------
        str
            A variable name, or code of a single (transposed) factor.
        """
        got = self._cached(chain)
        if got is not None:
            return got
        _, m = self._plan(chain, {})
        left, right = self.product(chain[:m]), self.product(chain[m:])
        r, k = self._chain_shape(chain[:m])
        self.flops += r * k * self._chain_shape(chain[m:])[1]
        name = f"p{self._n}"
        self._n += 1
        self.lines.append(f"{name} = {left} @ {right}")
        self.cache[chain] = name
        return name

    def trace(self, chain: tuple[Factor, ...]) -> str:
        """Code for ``tr(product(chain))``: the cheapest rotation and split, ``sum(L * R^T)``.

        Parameters
        ----------
        chain : tuple of Factor
            The factors, left to right (non-empty).

        Returns
        -------
        str
            A Python expression.
        """
        if len(chain) == 1:
            return f"tr({self.product(chain)})"
        best = None
        for r in range(len(chain)):
            rot = chain[r:] + chain[:r]
            for m in range(1, len(rot)):
                memo: dict = {}
                cl, _ = self._plan(rot[:m], memo)
                cr, _ = self._plan(rot[m:], memo)
                a, b = self._chain_shape(rot[:m])
                cost = cl + cr + a * b
                if best is None or cost < best[0]:
                    best = (cost, rot[:m], rot[m:])
        assert best is not None, "a chain of two or more factors has a split"
        _, left, right = best
        a, b = self._chain_shape(left)
        self.flops += a * b
        return f"trp({self.product(left)}, {self.product(right)})"

    def matrix_sum(self, parts: list[tuple[str, Any]], shape: tuple[int, int]) -> str:
        """Code for ``sum coef_k * product_k``.

        Parameters
        ----------
        parts : list of tuple
            ``(coefficient code, Contribution)`` pairs; a contribution with an
            empty chain is the identity.
        shape : tuple of int
            The shape of the sum.

        Returns
        -------
        str
            A Python expression (``zeros(shape)`` for no parts).
        """
        if not parts:
            return f"zeros({shape})"
        terms = []
        for coef, contrib in parts:
            if contrib.chain:
                mat = self.product(contrib.chain)
            else:
                mat = f"eye({int(shape[0])})"
            sign = "-" if contrib.sign < 0 else ""
            terms.append(f"{sign}sc({coef}, {mat})")
        return " + ".join(terms)
