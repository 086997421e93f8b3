"""Collapse plans: a warm ``statvae critical`` that imports neither sympy nor networkx.

A *collapse plan* is the numeric part of the collapse analysis of one model
specification, written once by the full analysis and kept in the cache
directory (:mod:`statvae.storage`) like compiled code:

* the per-mode Hessian blocks at collapse and the roots of their
  determinants in the parameter, as the numpy source that
  :mod:`statvae.analysis.permode` generates and evaluates (with the names that
  source reads, each a dotted path into numpy or the standard library);
* what the self-check needs: the key and SHA-256 of the compiled objective of
  the reduced model in the code cache (:mod:`statvae.numeric.cache`), the
  layout of its parameter vector, the fixed-point subspace of the collapsed
  point, its representative Hessian blocks with their copies, and the other
  hyper-parameters' values;
* the words of the answer that do not depend on the data (the stability
  condition as text and LaTeX, the model's description, notes).

:func:`critical_record` answers from a plan and a spectrum exactly as
:func:`statvae.analysis.thresholds.critical_points` does (the same generated
code on the same numbers, the same clustering, probes and offsets), and
confirms the answer against the compiled Hessian just below and above it as
:func:`statvae.analysis.selfcheck.confirm_boundaries` does: the collapsed point
by the same damped Newton iteration, the representative blocks by
Hessian-vector products of the cached compiled code (the plan module's own
copies of those steps: the full path may organise its products differently,
so the blocks can differ in their last bits, not in their inertia at the
offsets checked).  Whatever it cannot
answer (a plan or code entry missing or damaged, data it does not take, an
answer that is not one confirmed boundary, a failed check) raises
:class:`PlanMiss`, and the caller takes the full path, which answers or words
the error.

A plan is keyed by the specification it answers for (:func:`plan_key`: the
command line's model options as given, with the versions of statvae, of the
plans, of the derivation, of numpy and sympy, and a fingerprint of the
package's source files, so that an edited or upgraded statvae never reads an
old plan).  It is written by the full path only after a run whose answer the
plan reproduces exactly, every field and every bit (:mod:`statvae.cli.fastpath`),
and read only after its digest is checked (:func:`statvae.storage.read_entry`).
Generated source from a checked entry is executed, as the code cache does: the
digest guards against corruption, it is not a signature.  ``statvae cache
--clear`` removes plans with the other entries.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Sequence
from itertools import combinations, product
from typing import Any

import numpy as np

from . import storage

__all__ = ["PlanMiss", "PLAN_FORMAT", "PLAN_VERSION", "CODE_FIELDS", "plan_key", "source_fingerprint", "sympy_version",
           "load_plan", "store_plan", "function_from_source", "describe_function", "critical_record", "DiagonalBlock",
           "NUMPY_NAMESPACE"]

#: Version of the plans' content (part of every key; bump on any change).
PLAN_VERSION = "1"
#: Format tag of a plan entry.
PLAN_FORMAT = f"statvae-plan-{PLAN_VERSION}"
#: The fields of a code entry (:data:`statvae.numeric.cache.FIELDS`; a plan is written only when the two agree).
CODE_FIELDS: dict[str, type] = {"source": str, "meta": dict, "verified": bool}
#: The fields of a plan entry.
_FIELDS: dict[str, type] = {"plan": dict}

#: Modules whose attributes generated source may name (nothing else is looked up).
_MODULES = ("numpy", "numpy.linalg", "numpy.emath", "functools", "math", "builtins")

#: Newton's method for the collapsed point (:func:`statvae.bifurcation.collapsed.collapsed_start`).
NEWTON_TOL = 1e-11
NEWTON_ITER = 100


class PlanMiss(Exception):
    """The plan cannot answer this question: the full analysis must (it answers, or words the error)."""


class _OutOfDomain(PlanMiss):
    """An evaluation outside the parameter's domain or the floating-point range (a failed Newton step)."""


# -- the entries -----------------------------------------------------------------------------------------------------
def plan_key(spec: Any) -> str:
    """Key of the plan of a model specification.

    Parameters
    ----------
    spec : object
        What the answer depends on besides the data (its ``repr`` is hashed),
        e.g. the command line's model options, the parameter and the data's
        dimension.

    Returns
    -------
    str
        32 hexadecimal digits; the versions of statvae, of the plans
        (:data:`PLAN_VERSION`), of the per-mode derivation
        (:data:`statvae.storage.STRUCTURE_VERSION`), of numpy and of sympy, and
        :func:`source_fingerprint` are part of it.
    """
    from ._version import __version__

    text = repr(("collapse plan", __version__, PLAN_VERSION, storage.STRUCTURE_VERSION, np.__version__,
                 sympy_version(), source_fingerprint(), spec))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def source_fingerprint() -> str:
    """SHA-256 of the name, size and modification time of every Python file of the statvae package.

    Part of every plan's key: a plan holds what the full analysis printed and
    derived, so any edit of the package (a development tree, an upgrade in
    place) makes every plan a miss, and the next run writes the plan again.
    About a millisecond (one ``stat`` per file); computed once per process
    (the code a process runs is the code it loaded).

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    if not _FINGERPRINT:
        _FINGERPRINT.append(_fingerprint())
    return _FINGERPRINT[0]


_FINGERPRINT: list[str] = []


def _fingerprint() -> str:
    import os

    root = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                h.update(f"{os.path.relpath(path, root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


_SYMPY_VERSION: list[str | None] = []


def sympy_version() -> str | None:
    """The installed sympy's version, read from its ``release.py`` without importing sympy (None if not found).

    The plans hold what sympy derived, so a plan of another sympy is another key.

    Returns
    -------
    str or None
        E.g. ``"1.14.0"``.
    """
    if not _SYMPY_VERSION:
        found = None
        try:
            import importlib.util
            import re

            spec = importlib.util.find_spec("sympy")
            origin = spec.origin if spec is not None else None
            if origin:
                with open(origin.rsplit("__init__.py", 1)[0] + "release.py", encoding="utf-8") as fh:
                    m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", fh.read())
                found = m.group(1) if m else None
        except (OSError, ImportError, ValueError):
            found = None
        _SYMPY_VERSION.append(found)
    return _SYMPY_VERSION[0]


def load_plan(key: str) -> dict[str, Any] | None:
    """The plan stored under ``key`` if its entry is valid (digest checked), else None.

    Parameters
    ----------
    key : str
        :func:`plan_key` of the specification.

    Returns
    -------
    dict or None
        The plan.
    """
    entry = storage.read_entry(key, PLAN_FORMAT, _FIELDS)
    return None if entry is None else entry["plan"]


def store_plan(key: str, plan: dict[str, Any]) -> bool:
    """Write ``plan`` under ``key`` (atomically, with its digest).

    Parameters
    ----------
    key : str
        :func:`plan_key` of the specification.
    plan : dict
        JSON values only, exactly as they are read back.

    Returns
    -------
    bool
        Whether it was written (an unwritable directory warns once, see :mod:`statvae.storage`).
    """
    return storage.write_entry(key, PLAN_FORMAT, {"plan": plan})


# -- generated functions ---------------------------------------------------------------------------------------------
def _module(name: str) -> Any:
    """A module of :data:`_MODULES` (``numpy.emath`` is an attribute of numpy, not an importable name)."""
    head, *rest = name.split(".")
    m = importlib.import_module(head)
    for part in rest:
        m = getattr(m, part)
    return m


def _resolve(path: str) -> Any:
    mod, _, attr = path.rpartition(".")
    if mod not in _MODULES:
        raise PlanMiss(f"generated code names {path}, outside {', '.join(_MODULES)}")
    return getattr(_module(mod), attr)


def function_from_source(source: str, name: str, names: dict[str, str]) -> Callable[..., Any]:
    """Execute generated ``source`` in a namespace of ``names`` and return its function ``name``.

    Parameters
    ----------
    source : str
        Python source defining the function (from :func:`describe_function`).
    name : str
        The function's name.
    names : dict
        Every global name the source reads -> a dotted path (``"numpy.sqrt"``)
        into one of numpy, numpy.linalg, numpy.emath, functools, math or builtins.

    Returns
    -------
    callable
        The function.

    Raises
    ------
    PlanMiss
        A name cannot be resolved, or the source does not define ``name``.
    """
    ns: dict[str, Any] = {}
    try:
        for k, path in names.items():
            ns[k] = _resolve(path)
        exec(compile(source, "<statvae collapse plan>", "exec"), ns)
    except PlanMiss:
        raise
    except Exception as exc:
        raise PlanMiss(f"generated code does not load ({type(exc).__name__})") from None
    fn = ns.get(name)
    if not callable(fn):
        raise PlanMiss(f"generated code defines no {name}")
    return fn  # type: ignore[no-any-return]


def _code_names(code: Any) -> list[str]:
    out = list(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            out += _code_names(c)
    return out


def describe_function(fn: Callable[..., Any]) -> dict[str, Any] | None:
    """The source of a generated function and the dotted path of every global name it reads, or None.

    For a function made by ``exec`` of source registered in :mod:`linecache`
    (as :func:`sympy.lambdify` does).  :func:`function_from_source` rebuilds it
    from the description, reading the very same objects.

    Parameters
    ----------
    fn : callable
        A generated function.

    Returns
    -------
    dict or None
        ``{"source", "name", "names"}``, or None when the source is not
        available or a name is not an attribute of the modules allowed.
    """
    import builtins
    import linecache

    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    source = "".join(linecache.getlines(code.co_filename))
    if not source:
        return None
    glb = getattr(fn, "__globals__", {})
    names: dict[str, str] = {}
    for n in dict.fromkeys(_code_names(code)):
        obj = glb[n] if n in glb else getattr(builtins, n, None)
        path = next((f"{m}.{n}" for m in _MODULES if getattr(_module(m), n, _NOTHING) is obj), None)
        if path is None:
            return None
        names[n] = path
    return {"source": source, "name": fn.__name__, "names": names}


_NOTHING = object()


# -- numeric helpers (as statvae.symbolic.stability and statvae.analysis.selfcheck / thresholds have them) -------------
def _scaled_eigenvalues(mats: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(mats)):
        raise PlanMiss("the Hessian blocks overflow")
    d = np.abs(np.diagonal(mats, axis1=1, axis2=2))
    with np.errstate(divide="ignore"):
        s = np.where(d > 0, 1 / np.sqrt(d), 1.0)
    return np.linalg.eigvalsh(mats * s[:, :, None] * s[:, None, :])


def _cluster(items: list, value: Callable[[Any], float], rtol: float) -> list:
    groups: list = []
    for it in sorted(items, key=value):
        v = value(it)
        if groups and abs(v - value(groups[-1][-1])) <= rtol * max(abs(v), 1e-300):
            groups[-1].append(it)
        else:
            groups.append([it])
    return groups


def _gap_probes(values: list[float]) -> list[float]:
    return [values[0] / 2] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] * 2 + 1]


def _sides(values: list, v: float, nonnegative: bool, offset: float) -> tuple[float, float]:
    others = [abs(u - v) / abs(v) for u in values if u != v]
    d = min([offset] + [0.3 * g for g in others if g > 0])
    lo = v * (1 - d)
    if lo <= 0 and not nonnegative:
        lo = v / 2
    return lo, v * (1 + d)


# -- the per-mode blocks -----------------------------------------------------------------------------------------------
class _Block:
    """One per-mode block type evaluated for every mode at once (as ``PerModeBlocks._evaluator``)."""

    def __init__(self, b: dict[str, Any], spectra: dict[str, np.ndarray], env: dict[str, float]) -> None:
        self.label: str = b["label"]
        self.depends: bool = b["depends"]
        self.size: int = b["size"]
        self.args: list = b["args"]
        self.env = env
        e = b["entries"]
        self.f = function_from_source(e["source"], e["name"], e["names"])
        self.roots = None if b["roots"] is None else [function_from_source(r["source"], r["name"], r["names"])
                                                      for r in b["roots"]]
        self.root_args: list = b["root_args"]
        per_var = [(var, dim, list(combinations(range(dim), count))) for var, dim, count in b["observed"]]
        if not per_var:
            self.arrays: dict = {}
            self.mode_ids: list[dict] = [dict()]
        else:
            modes = list(product(*[c for _, _, c in per_var]))
            arrays = {}
            for k, (var, _, _) in enumerate(per_var):
                for r in range(max(len(m[k]) for m in modes)):
                    arrays[(var, r)] = np.array([spectra[var][m[k][r]] for m in modes], dtype=float)
            self.arrays = arrays
            self.mode_ids = [{var: m[k] for k, (var, _, _) in enumerate(per_var)} for m in modes]

    def _value(self, a: list, k: int | None) -> Any:
        kind = a[0]
        if kind == "spectral":
            arr = self.arrays[(a[1], a[2])]
            return arr if k is None else arr[k]
        if kind == "const":
            return float(a[1])
        if kind == "trace":
            return self.env[a[1]]
        raise PlanMiss(f"unknown argument {a!r}")

    def at(self, pv: float) -> np.ndarray:
        nmodes, k = len(self.mode_ids), self.size
        vals = []
        for a in self.args:
            if a[0] == "p":
                vals.append(np.full(nmodes, pv, dtype=float))
            elif a[0] == "spectral":
                vals.append(self._value(a, None))
            else:
                vals.append(np.full(nmodes, self._value(a, None), dtype=float))
        with np.errstate(all="ignore"):
            entries = self.f(*vals)
        out = np.empty((nmodes, k, k))
        for idx, e in enumerate(entries):
            out[:, idx // k, idx % k] = np.broadcast_to(np.asarray(e, dtype=float), (nmodes,))
        return out


# -- the compiled objective of the reduced model (as statvae.numeric.bundle binds and calls it) ----------------------
class DiagonalBlock:
    """A data block that is zero off its diagonal, with the products the generated code performs.

    The same class as :class:`statvae.numeric.codegen.DiagonalBlock` (kept
    equal by a test), here so that cached compiled code runs without the
    code generator's imports.

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


def _sc(c, m):
    if isinstance(m, DiagonalBlock):
        m = m.toarray()
    if isinstance(c, (float, int)):
        return c * m
    c = np.asarray(c)
    return c[..., None, None] * m if c.ndim else c * m


def _T(m):
    return m.T if m.ndim == 2 else np.swapaxes(m, -1, -2)


def _tr(m):
    if isinstance(m, DiagonalBlock):
        return m.trace()
    return np.trace(m) if m.ndim == 2 else np.trace(m, axis1=-2, axis2=-1)


def _trp(a, b):
    """``tr(a @ b)`` without the product: ``sum(a * b^T)`` (``sum(d * diag(other))`` for a diagonal block)."""
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


#: The namespace compiled code runs in (:data:`statvae.numeric.codegen.NUMPY_NAMESPACE`, kept equal by a test).
NUMPY_NAMESPACE: dict[str, Any] = {
    "np": np, "log": np.log, "sqrt": np.sqrt, "exp": np.exp, "pi": np.pi, "E": np.e,
    "rat": lambda p, q: p / q, "flt": float, "sc": _sc, "T": _T, "tr": _tr, "trp": _trp, "flat": _flat,
    "diag": _diag, "sym_upper": _sym_upper, "col": _col, "concat": _concat, "inv": np.linalg.inv,
    "logdet": _np_logdet, "eye": lambda k: np.eye(k), "zeros": np.zeros,
}


class _Layout:
    """The flat parameter vector of the reduced model (as :class:`statvae.model.layout.Layout`)."""

    def __init__(self, blocks: list) -> None:
        self.blocks = [(str(n), str(kind), tuple(int(s) for s in shape), int(off), int(size))
                       for n, kind, shape, off, size in blocks]
        self.by_name = {b[0]: b for b in self.blocks}
        self.size = sum(b[4] for b in self.blocks)
        self.diag_index = {b[0]: np.arange(b[2][0]) for b in self.blocks if b[1] == "diagonal"}
        self.triu_index = {b[0]: np.triu_indices(b[2][0]) for b in self.blocks if b[1] == "full"}

    @staticmethod
    def slice(b: tuple) -> slice:
        return slice(b[3], b[3] + b[4])

    def unpack(self, theta: Any) -> dict[str, Any]:
        theta = np.asarray(theta)
        out = {}
        batch = theta.shape[:-1]
        for name, kind, shape, off, size in self.blocks:
            part = theta[..., off:off + size]
            if kind == "map":
                out[name] = part.reshape(batch + shape)
            elif kind == "diagonal":
                n = shape[0]
                m = np.zeros(batch + (n, n), dtype=theta.dtype)
                idx = np.arange(n)
                m[..., idx, idx] = part
                out[name] = m
            elif kind == "full":
                n = shape[0]
                iu, ju = np.triu_indices(n)
                m = np.zeros(batch + (n, n), dtype=theta.dtype)
                m[..., iu, ju] = part
                m[..., ju, iu] = part
                out[name] = m
            else:
                out[name] = part[..., 0]
        return out

    def unpack_block(self, theta: Any, name: str) -> np.ndarray:
        _, kind, shape, off, size = self.by_name[name]
        part = np.asarray(theta)[..., off:off + size]
        batch = part.shape[:-1]
        if kind == "map":
            return part.reshape(batch + shape)
        if kind in ("diagonal", "full"):
            n = shape[0]
            m = np.zeros(batch + (n, n), dtype=part.dtype)
            if kind == "diagonal":
                idx = np.arange(n)
                m[..., idx, idx] = part
            else:
                iu, ju = np.triu_indices(n)
                m[..., iu, ju] = part
                m[..., ju, iu] = part
            return m
        return part[..., 0]

    def valid(self, theta: Any) -> bool:
        """``Layout.check`` without raising."""
        try:
            t = np.asarray(theta, dtype=float)
        except (TypeError, ValueError):
            return False
        if t.ndim != 1 or t.size != self.size or not np.all(np.isfinite(t)):
            return False
        blocks = self.unpack(t)
        for name, kind, _, _, _ in self.blocks:
            if kind in ("diagonal", "full"):
                try:
                    np.linalg.cholesky(blocks[name])
                except np.linalg.LinAlgError:
                    return False
            elif kind in ("isotropic", "variance") and not blocks[name] > 0:
                return False
        return True

    def fast_unpack(self, t: np.ndarray) -> dict[str, Any]:
        """``CompiledObjective._unpack`` of one float vector."""
        out: dict[str, Any] = {}
        for name, kind, shape, off, size in self.blocks:
            part = t[off:off + size]
            if kind == "map":
                out[name] = part.reshape(shape)
            elif kind == "diagonal":
                m = np.zeros(shape, dtype=t.dtype)
                idx = self.diag_index[name]
                m[idx, idx] = part
                out[name] = m
            elif kind == "full":
                iu, ju = self.triu_index[name]
                m = np.zeros(shape, dtype=t.dtype)
                m[iu, ju] = part
                m[ju, iu] = part
                out[name] = m
            else:
                out[name] = part[0]
        return out

    def checked(self, theta: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """``CompiledObjective._fast_check_unpack``: the vector and its blocks; an invalid vector is a miss."""
        t = theta
        if type(t) is np.ndarray and t.dtype == np.float64 and t.ndim == 1 and t.shape[0] == self.size \
                and np.isfinite(t).all():
            blocks = self.fast_unpack(t)
            ok = True
            for name, kind, _, off, size in self.blocks:
                if kind == "diagonal":
                    ok = bool((t[off:off + size] > 0).all())
                elif kind == "full":
                    try:
                        np.linalg.cholesky(blocks[name])
                    except np.linalg.LinAlgError:
                        ok = False
                elif kind != "map":
                    ok = bool(blocks[name] > 0)
                if not ok:
                    break
            if ok:
                return t, blocks
        if not self.valid(theta):
            raise PlanMiss("an invalid parameter vector")
        t = np.asarray(theta, dtype=float)
        return t, self.unpack(t)


class _Problem:
    """The compiled objective of the reduced model on the data, along the parameter (``ContinuationProblem``)."""

    def __init__(self, c: dict[str, Any], spectra: dict[str, np.ndarray], parameter: str, nonnegative: bool) -> None:
        entry = storage.read_entry(c["code_key"], c["code_format"], CODE_FIELDS)
        if entry is None or not entry["verified"]:
            raise PlanMiss("the compiled code is not in the cache")
        source = entry["source"]
        if hashlib.sha256(source.encode()).hexdigest() != c["code_sha256"]:
            raise PlanMiss("the compiled code in the cache is not the plan's")
        meta = entry["meta"]
        self.meta = meta
        values: dict[str, float] = {k: float(v) for k, v in c["values"].items()}
        names = set(values) | {parameter}
        order = list(meta.get("hyper", c["hyper_names"]))
        if sorted(order) != sorted(names) or sorted(c["hyper_names"]) != sorted(names):
            raise PlanMiss("the compiled code takes other hyper-parameters")
        self.order, self.values, self.parameter, self.nonnegative = order, values, parameter, nonnegative
        ns = dict(NUMPY_NAMESPACE)
        exec(compile(source, "<statvae matrix code>", "exec"), ns)
        self.fn = {k: v for k, v in ns.items() if callable(v) and getattr(v, "__module__", None) is None}
        self.layout = _Layout(c["layout"])
        obs = [(str(n), int(d)) for n, d in c["observed"]]
        diag = np.concatenate([spectra[n] for n, _ in obs])
        cov = np.diag(diag)
        self.covariance = np.asarray(cov, dtype=float) / 1.0  # internal units: the identity
        cv = np.asarray(self.covariance, dtype=float)
        cv = 0.5 * cv + 0.5 * cv.T  # as validate_covariance leaves it
        off, sl = 0, {}
        for n, d in obs:
            sl[n] = slice(off, off + d)
            off += d
        data = [np.ascontiguousarray(cv[sl[a], sl[b]]) for a, b in meta["data_pairs"]]
        if c.get("structure") != "diagonal" or np.count_nonzero(cv - np.diag(np.diagonal(cv))):
            raise PlanMiss("the plan multiplies diagonal data only")
        self.data = [DiagonalBlock.from_dense(b) for b in data]
        self._hyper: dict[float, list[float]] = {}

    # -- evaluation -------------------------------------------------------------------------------------------------
    def p_ok(self, p: float) -> bool:
        return bool(np.isfinite(p)) and (p >= 0 if self.nonnegative else p > 0)

    def _hyper_args(self, p: float) -> list[float]:
        h = self._hyper.get(p)
        if h is None:
            a = float(p)
            if not (a >= 0 if self.nonnegative else a > 0) or not np.isfinite(a):
                raise PlanMiss(f"{self.parameter} out of its domain")
            h = [a if n == self.parameter else self.values[n] for n in self.order]
            if len(self._hyper) > 64:
                self._hyper.clear()
            self._hyper[p] = h
        return h

    def _guard(self, p: float, fn: Callable[[], Any]) -> Any:
        if not self.p_ok(p):
            raise _OutOfDomain()
        try:
            with np.errstate(over="raise", divide="raise", invalid="ignore"):
                return fn()
        except (OverflowError, ZeroDivisionError, FloatingPointError):
            raise _OutOfDomain() from None

    def _theta(self, theta: Any, check: bool) -> tuple[np.ndarray, dict[str, Any]]:
        if check:
            return self.layout.checked(theta)
        t = theta if type(theta) is np.ndarray and theta.dtype == np.float64 else np.asarray(theta, dtype=float)
        if t.ndim != 1 or t.shape[0] != self.layout.size:
            return self.layout.checked(theta)
        return t, self.layout.fast_unpack(t)

    def _args(self, blocks: dict[str, Any], p: float) -> list[Any]:
        meta = self.meta
        return [blocks[n] for n in meta["matrices"]] + self.data + [blocks[n] for n in meta["scalars"]] \
            + self._hyper_args(p)

    def value(self, theta: Any, p: float) -> Any:
        def run() -> Any:
            _, blocks = self._theta(theta, True)
            v = self.fn["value"](*self._args(blocks, p))
            return np.asarray(v, dtype=float) if np.ndim(v) else float(v)
        return self._guard(p, run)

    def gradient(self, theta: Any, p: float, check: bool = True) -> np.ndarray:
        def run() -> np.ndarray:
            _, blocks = self._theta(theta, check)
            return np.asarray(self.fn["gradient"](*self._args(blocks, p)), dtype=float)
        return self._guard(p, run)  # type: ignore[no-any-return]

    def hvp(self, theta: Any, v: Any, p: float, check: bool = True) -> np.ndarray:
        return self._guard(p, lambda: self._hvp(theta, v, p, check))  # type: ignore[no-any-return]

    def _hvp(self, theta: Any, v: Any, p: float, check: bool) -> np.ndarray:
        lay = self.layout
        va = np.asarray(v, dtype=float)
        if va.shape[-1:] != (lay.size,) or va.ndim > 2:
            raise PlanMiss("a direction of the wrong shape")
        if check and not np.isfinite(va.sum()) and not np.all(np.isfinite(va)):
            raise PlanMiss("a direction with NaN entries")
        _, blocks = self._theta(theta, check)
        args = self._args(blocks, p)
        two = va.ndim == 2
        vv = va if two else va[None, :]
        touched = [(b, np.nonzero(np.any(vv[:, lay.slice(b)] != 0, axis=1))[0]) for b in lay.blocks]
        touched = [(b, rows) for b, rows in touched if len(rows)]
        if not touched:
            return np.asarray(np.zeros(va.shape), dtype=float)
        if sum(len(rows) for _, rows in touched) > 1.5 * len(vv) or f"hvp_only_{lay.blocks[0][0]}" not in self.fn:
            d = lay.unpack(va)
            extra = [d[n] for n in self.meta["matrices"]] + [d[n] for n in self.meta["scalars"]]
            return np.asarray(self.fn["hvp"](*args, *extra), dtype=float)
        out: np.ndarray | None = None
        for b, rows in touched:
            every = len(rows) == len(vv)
            part = lay.unpack_block(vv if every else vv[rows], b[0])
            res = np.asarray(self.fn[f"hvp_only_{b[0]}"](*args, part))
            if out is None and every:
                out = res.copy() if res.shape == vv.shape else np.broadcast_to(res, vv.shape).copy()
                continue
            if out is None:
                out = np.zeros(vv.shape, dtype=float)
            if every:
                out += res
            else:
                out[rows] += res
        assert out is not None, "touched is not empty"
        return np.asarray(out if two else out[0], dtype=float)

    def reduced(self, theta: np.ndarray, p: float, S: np.ndarray) -> np.ndarray:
        self.gradient(theta, p)  # validates theta, as ContinuationProblem.reduced does
        e = np.zeros((len(S), self.layout.size))
        e[np.arange(len(S)), S] = 1.0
        h = self.hvp(theta, e, p, check=False)[:, S]
        return (h + h.T) / 2  # type: ignore[no-any-return]


def _correct_at(pr: _Problem, theta: np.ndarray, p: float, S: np.ndarray, tol: float, max_iter: int,
                ascent: bool) -> tuple[np.ndarray, int, bool]:
    """``statvae.bifurcation.continuation.correct_at`` without a Jacobian to start from."""
    try:
        return _newton(pr, theta, p, S, tol, max_iter, ascent)
    except _OutOfDomain:
        return np.array(theta, dtype=float), 0, False


def _newton(pr: _Problem, theta: np.ndarray, p: float, S: np.ndarray, tol: float, max_iter: int,
            ascent: bool) -> tuple[np.ndarray, int, bool]:
    theta = np.array(theta, dtype=float)
    h = None
    last: Any = np.inf
    first: Any = np.inf
    for it in range(max_iter + 1):
        g = pr.gradient(theta, p)[S]
        norm = np.linalg.norm(g)
        first = min(first, norm) if it == 0 else first
        if norm <= tol * (1 + np.linalg.norm(theta[S])):
            if h is not None and norm > 0:
                trial = theta.copy()
                trial[S] += np.linalg.lstsq(h, -g, rcond=None)[0]
                if pr.layout.valid(trial) and np.linalg.norm(pr.gradient(trial, p)[S]) < norm:
                    theta = trial
            return theta, it, True
        if h is None or norm > 0.5 * last:
            h = pr.reduced(theta, p, S)
        last = norm
        hh = h
        if ascent:
            top = float(np.linalg.eigvalsh(h).max()) if h.size else -1.0
            if top >= 0:
                hh = h - (top + 1e-3 * max(1.0, float(np.abs(h).max()))) * np.eye(len(h))
        step = np.linalg.lstsq(hh, -g, rcond=None)[0]
        if it > 0 and np.linalg.norm(step) <= 1e-14 * (1 + np.linalg.norm(theta[S])) and norm <= 1e-9 * first:
            return theta, it, True
        for _ in range(30):
            trial = theta.copy()
            trial[S] += step
            try:
                if np.all(np.isfinite(trial)) and pr.layout.valid(trial) and \
                        np.linalg.norm(pr.gradient(trial, p)[S]) < 10 * norm + 1e-300 and \
                        (not ascent or pr.value(trial, p) >= pr.value(theta, p) - 1e-12 * (
                            1 + abs(pr.value(theta, p)))):
                    break
            except _OutOfDomain:
                pass
            step = step / 2
        else:
            return theta, it, False
        theta = trial
    return theta, max_iter, False


class _Compiled:
    """The compiled Hessian at the collapsed point, per representative block (``CompiledCollapse``)."""

    def __init__(self, c: dict[str, Any], spectra: dict[str, np.ndarray], parameter: str, nonnegative: bool,
                 rtol: float) -> None:
        self.problem = _Problem(c, spectra, parameter, nonnegative)
        self.fixed = np.array([int(i) for i in c["fixed"]], dtype=int)
        self.start = [(str(n), int(off), int(d)) for n, off, d in c["start_variances"]]
        self.settle = [(int(i), int(d)) for i, d in c["settle"]]
        self.keys = [([int(i) for i in ix], int(copies)) for ix, copies in c["keys"]]
        self.rtol = rtol
        self.parameter = parameter
        self._points: dict[float, np.ndarray] = {}

    def _settle_variances(self, theta: np.ndarray, p: float, fixed: np.ndarray, rounds: int = 6) -> np.ndarray:
        pr = self.problem
        if not self.settle:
            return theta
        idx = [i for i, _ in self.settle]
        dims = [d for _, d in self.settle]
        rest = np.array([i for i in fixed if i not in idx], dtype=int)
        theta = np.array(theta, dtype=float)
        for _ in range(rounds):
            if len(rest):
                th, _, _ = _correct_at(pr, theta, p, rest, NEWTON_TOL, 50, True)
                theta = th
            grad = pr.gradient(theta, p)
            change = 0.0
            for k, d in zip(idx, dims):
                s = theta[k]
                new = s + 2 * s * s * grad[k] / d
                new = new if np.isfinite(new) and new > 1e-12 * s else s / 10
                change = max(change, abs(new - s) / s)
                theta[k] = new
            if change < 1e-6:
                break
        return theta

    def _start(self, p: float, theta0: np.ndarray | None) -> np.ndarray:
        pr = self.problem
        fixed = self.fixed
        if theta0 is not None:
            th, _, ok = _correct_at(pr, theta0, p, fixed, NEWTON_TOL, NEWTON_ITER, True)
            if ok:
                return th
        start_var = {}
        diag = np.diag(pr.covariance)
        for name, off, dim in self.start:
            start_var[name] = float(np.mean(diag[off:off + dim])) or 1.0
        theta = np.empty(pr.layout.size)
        for name, kind, shape, off, size in pr.layout.blocks:
            if kind == "map":
                theta[off:off + size] = np.zeros(shape).ravel()
            elif kind == "diagonal":
                theta[off:off + size] = np.diag(np.eye(shape[0]))
            elif kind == "full":
                theta[off:off + size] = np.eye(shape[0])[np.triu_indices(shape[0])]
            elif kind == "isotropic":
                theta[off:off + size] = 1.0
            else:
                theta[off:off + size] = max(start_var.get(name, 1.0), 1e-6)
        theta = self._settle_variances(theta, p, fixed)
        th, _, ok = _correct_at(pr, theta, p, fixed, NEWTON_TOL, NEWTON_ITER, True)
        if not ok:
            raise PlanMiss(f"could not find the collapsed point at {self.parameter} = {p}")
        return th

    def point(self, p: float) -> np.ndarray:
        p = float(p)
        th = self._points.get(p)
        if th is None:
            near = min(self._points, key=lambda q: abs(np.log(q / p)) if q > 0 and p > 0 else abs(q - p),
                       default=None)
            try:
                th = self._start(p, None if near is None else self._points[near])
            except (ZeroDivisionError, FloatingPointError, OverflowError):
                raise PlanMiss("the collapsed point is out of floating-point range") from None
            if len(self._points) > 512:
                self._points.clear()
            self._points[p] = th
        return th

    def index(self, p: float) -> int:
        """Ascent directions of the ELBO at the collapsed point of the real model (``CompiledCollapse.index``)."""
        p = float(p)
        if not self.keys:
            return 0
        th = self.point(p)
        size = self.problem.layout.size
        width = max(len(ix) for ix, _ in self.keys)
        dirs = np.zeros((width, size))
        for ix, _ in self.keys:
            dirs[np.arange(len(ix)), ix] = 1.0
        try:
            cols = np.atleast_2d(self.problem.hvp(th, dirs, p, check=False))
        except _OutOfDomain:
            raise PlanMiss("the Hessian is out of range") from None
        mats = []
        for ix, _ in self.keys:
            hb = cols[: len(ix)][:, ix].T
            mats.append((hb + hb.T) / 2)
        by_size: dict[int, list[int]] = {}
        for k, m in enumerate(mats):
            by_size.setdefault(m.shape[0], []).append(k)
        counts = [0] * len(mats)
        for ks in by_size.values():
            ev = _scaled_eigenvalues(np.array([mats[k] for k in ks]))
            for k, e in zip(ks, ev):
                counts[k] = int((e[::-1] > self.rtol).sum())
        return int(sum(copies * n for (_, copies), n in zip(self.keys, counts)))


def _confirm(cc: _Compiled, points: list[tuple[float, str]], nonnegative: bool,
             offsets: Sequence[float]) -> list[tuple[float, float]]:
    """``statvae.analysis.selfcheck.confirm_boundaries``; a disagreement is a miss (the full path words it)."""
    values = [v for v, _ in points]
    brackets = []
    for v, side in points:
        pairs: list[tuple[float, float]] = []
        for d in offsets:
            pair = _sides(values, v, nonnegative, d)
            if pair not in pairs:
                pairs.append(pair)
        for lo, hi in pairs:
            n_lo, n_hi = cc.index(lo), cc.index(hi)
            if ((n_lo == 0), (n_hi == 0)) == ((side == "below"), (side == "above")):
                brackets.append((lo, hi))
                break
        else:
            raise PlanMiss("the compiled Hessian does not confirm the value")
    return brackets


# -- the answer ------------------------------------------------------------------------------------------------------
def _spectra(plan: dict[str, Any], values: Sequence[float]) -> dict[str, np.ndarray]:
    """Validated canonical spectra per observed variable (as ``statvae.data.resolve.spectrum_dict``)."""
    raw = np.asarray(values, dtype=float).ravel()
    if raw.size == 0 or not np.all(np.isfinite(raw)) or np.any(raw < 0):
        raise PlanMiss("the full path words what is wrong with these data")
    obs = [(str(n), int(d)) for n, d in plan["observed"]]
    if raw.size != sum(d for _, d in obs):
        raise PlanMiss("the spectrum does not match the model")
    out, k = {}, 0
    for n, d in obs:
        out[n] = np.sort(raw[k:k + d])[::-1].copy()
        k += d
    return out


def critical_record(plan: dict[str, Any], values: Sequence[float]) -> dict[str, Any]:
    """The answer of ``statvae critical`` for a spectrum, from a plan, confirmed by the compiled Hessian.

    Parameters
    ----------
    plan : dict
        A plan (:func:`load_plan`).
    values : sequence of float
        The spectrum as given (the observed variables' eigenvalues one after
        the other, in graph order).

    Returns
    -------
    dict
        The plan's ``static`` fields and ``critical``, ``stable_side``,
        ``block``, ``mode``, ``method``, ``bracket``, ``spectra``, ``status``:
        what :func:`statvae.cli.main.render_critical` prints.

    Raises
    ------
    PlanMiss
        Whenever the plan cannot give the answer the full analysis would
        (then the full analysis must run).
    """
    try:
        return _critical_record(plan, values)
    except PlanMiss:
        raise
    except (ArithmeticError, LookupError, TypeError, ValueError, np.linalg.LinAlgError) as exc:
        raise PlanMiss(f"{type(exc).__name__}: {exc}") from None


def _critical_record(plan: dict[str, Any], values: Sequence[float]) -> dict[str, Any]:
    spectra = _spectra(plan, values)
    const = plan["constants"]
    parameter, nonnegative = str(plan["parameter"]), bool(plan["nonnegative"])
    env = {n: float(np.sum(s)) for n, s in spectra.items()}
    blocks = [_Block(b, spectra, env) for b in plan["blocks"]]
    cands = []
    for b in blocks:
        if not b.depends:
            continue
        if b.roots is None:
            raise PlanMiss("a block without closed-form roots")
        for k, mode in enumerate(b.mode_ids):
            args = [b._value(a, k) for a in b.root_args]
            for r in b.roots:
                v = complex(r(*args))
                if abs(v.imag) <= 1e-12 * max(1, abs(v.real)) and (v.real > 0 or (nonnegative and v.real == 0)):
                    cands.append((v.real, b, mode))
    cands = [g[-1] for g in _cluster(cands, lambda c: c[0], float(const["cluster_rtol"]))]
    if not cands:
        raise PlanMiss("no critical value")
    rtol = float(const["zero_rtol"])

    def stable_at(v: float) -> bool:
        return all(bool((_scaled_eigenvalues(b.at(v)).max(axis=1) <= rtol).all()) for b in blocks)

    found = [(c[0], c[1].label, {n: list(ix) for n, ix in c[2].items()}) for c in cands]
    probes = _gap_probes([f[0] for f in found])
    if nonnegative:
        probes[0] = 0.0
    status = [stable_at(v) for v in probes]
    out = [(v, "above" if status[k + 1] else "below", label, mode)
           for k, (v, label, mode) in enumerate(found) if status[k] != status[k + 1]]
    if len(out) != 1:
        raise PlanMiss("not one boundary")
    cc = _Compiled(plan["compiled"], spectra, parameter, nonnegative, float(const["compiled_rtol"]))
    brackets = _confirm(cc, [(v, side) for v, side, _, _ in out], nonnegative, [float(d) for d in const["offsets"]])
    v, side, label, mode = out[0]
    return {**plan["static"], "critical": v, "stable_side": side, "block": label, "mode": mode,
            "method": "closed form", "bracket": list(brackets[0]), "status": "confirmed",
            "spectra": {n: [float(x) for x in s] for n, s in spectra.items()}}
