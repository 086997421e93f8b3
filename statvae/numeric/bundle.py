"""The compiled objective bundle: ``model.compile()``.

One object serves a whole sweep: the data (``covariance=`` or
``spectrum=``) and hyper-parameters (``sigma2=``, ``beta=``, ...) are keyword
arguments of every call, or bound once with :meth:`CompiledObjective.bind`.

Keyword calls reuse the binding of the data: the validated, converted data are
cached per data object (by identity) and re-used only while the object's
contents are bitwise unchanged (a byte comparison against a private snapshot on
every call, so an array mutated in place is re-bound); a change of the
hyper-parameters alone only redoes the hyper-parameter part.  Hot loops are
cheapest on a :class:`BoundObjective` (:meth:`CompiledObjective.bind`, then
:meth:`BoundObjective.with_hyper` to move along a hyper-parameter).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import DataError, ModelError, StatvaeError
from ..model import hyper as H
from ..model.vae import Model
from . import cache as C
from ..data.lowrank import LowRankPlusDiagonal
from .codegen import (
    DATA_STRUCTURES,
    NUMPY_NAMESPACE,
    data_structure,
    lowrank_blocks,
    lowrank_pays,
    mpmath_namespace,
    structured_blocks,
)
from ..model.layout import Layout, ParameterError

__all__ = ["CompiledObjective", "BoundObjective", "BlockPlan", "compile_model", "VerificationError",
           "EXPLICIT_MAX_PARAMETERS"]

#: The explicit-entry path is refused above this many parameters (its cost grows like their square).
EXPLICIT_MAX_PARAMETERS = 80


class VerificationError(StatvaeError):
    """A matrix-form derivative disagreed with the explicit-entry path."""


def compile_model(model: Model, backend: str = "numpy", path: str = "auto", cache: bool = True,
                  dps: int = 30, verify: bool = True, progress: Callable[[str], Any] | None = None
                  ) -> CompiledObjective:
    """Compile ``model`` to numeric value, gradient, Hessian, HVP and d(gradient)/d(hyper).

    Parameters
    ----------
    model : Model
        The model.
    backend : {"numpy", "mpmath"}
        ``mpmath`` evaluates with ``dps`` significant digits (object arrays).
    path : {"auto", "matrix", "explicit"}
        ``matrix``: matrix products, cost like O(N^2 n) (any size).
        ``explicit``: one symbol per entry, lambdified with cse (small models).
        ``auto``: explicit for mpmath on small models, matrix otherwise.
    cache : bool
        Read and write generated code in the on-disk cache
        (:func:`statvae.numeric.cache.clear_cache` empties it).
    dps : int
        Decimal digits of the mpmath backend.
    verify : bool
        Check the matrix-form derivatives against the explicit path on a
        small model of the same structure before trusting them (once per
        structure; the result is cached).
    progress : callable, optional
        Accepted for a uniform signature; not used.

    Returns
    -------
    CompiledObjective
        The compiled functions.

    Raises
    ------
    ModelError
        For an unknown backend or path, or the explicit path on a large model.
    VerificationError
        If the matrix path disagrees with the explicit path.

    Examples
    --------
    >>> import numpy as np, statvae
    >>> f = statvae.LinearVAE(3, 2).compile()
    >>> theta = f.pack(W=np.zeros((3, 2)), V=np.zeros((2, 3)), D=[1.0, 1.0])
    >>> round(float(f.value(theta, spectrum=[3.0, 2.0, 1.0], sigma2=2.0)), 6)  # -3/2 log(4 pi) - 6/4
    -5.296536
    """
    if backend not in ("numpy", "mpmath"):
        raise ModelError(f"backend must be 'numpy' or 'mpmath', got {backend!r}")
    if path not in ("auto", "matrix", "explicit"):
        raise ModelError(f"path must be 'auto', 'matrix' or 'explicit', got {path!r}")
    layout = Layout(model)
    if path == "auto":
        path = "explicit" if backend == "mpmath" and layout.size <= EXPLICIT_MAX_PARAMETERS else "matrix"
    if path == "explicit" and layout.size > EXPLICIT_MAX_PARAMETERS:
        raise ModelError(f"the explicit path is for small models ({layout.size} parameters > "
                         f"{EXPLICIT_MAX_PARAMETERS}); use path='matrix'")
    t0 = time.perf_counter()
    key = C.cache_key(path, model.structure_key(), model.graph.dims_key())
    # C.load returns only an entry whose digest matches its content: a malformed or edited entry is a miss,
    # regenerated here and rewritten below; nothing from it is executed
    entry = C.load(key) if cache else None
    hit = entry is not None
    if entry is None:
        if path == "matrix":
            from .matrixpath import matrix_source

            src, meta = matrix_source(model)
        else:
            from .explicitpath import explicit_source

            src, meta = explicit_source(model)
        entry = {"source": src, "meta": meta}
    newly_verified = path == "matrix" and verify and not entry.get("verified")
    if newly_verified:
        verify_structure(model, cache=cache)
        entry["verified"] = True
    if cache and (not hit or newly_verified):
        C.store(key, entry)
    obj = CompiledObjective(model, path, backend, entry["source"], entry["meta"], layout, dps)
    obj.compile_seconds = time.perf_counter() - t0
    obj.cache_hit = hit
    return obj


_VERIFIED: set[str] = set()


def verify_structure(model: Model, cache: bool = True, rtol: float = 1e-9) -> None:
    """Compare the matrix path with the explicit path on a small model of the same structure.

    Value, gradient, HVP and every d(gradient)/d(hyper) are evaluated at
    random parameters, covariance and hyper-parameters.  A structure that
    passed is remembered (in memory, and in the cache when ``cache``).

    Parameters
    ----------
    model : Model
        The model (only its structure matters).
    cache : bool, optional
        Use the on-disk cache (for the generated code and the verdict).
    rtol : float, optional
        Relative tolerance of the comparison.

    Raises
    ------
    VerificationError
        On disagreement.
    """
    key = C.cache_key("verified", model.structure_key())
    if key in _VERIFIED or (cache and (C.load(key) or {}).get("verified")):
        return
    small = model.resized(**{v.name: 2 for v in model.graph.variables()})
    m = compile_model(small, path="matrix", cache=cache, verify=False)
    e = compile_model(small, path="explicit", cache=cache, verify=False)
    rng = np.random.default_rng(12345)
    for trial in range(2):
        theta = random_parameters(m.layout, rng)
        k = sum(v.dim for v in small.graph.observed())
        a = rng.standard_normal((k, k))
        cov = a @ a.T + 0.5 * np.eye(k)
        hyper = {n: float(rng.uniform(0.3, 2.0)) for n in small.values}
        v = rng.standard_normal(m.layout.size)
        bm, be = m.bind(covariance=cov, **hyper), e.bind(covariance=cov, **hyper)
        checks = [("value", bm.value(theta), be.value(theta)), ("gradient", bm.gradient(theta), be.gradient(theta)),
                  ("hvp", bm.hvp(theta, v), be.hvp(theta, v))]
        checks += [(f"d gradient / d {n}", bm.gradient_hyper(theta, n), be.gradient_hyper(theta, n))
                   for n in small.values]
        for what, x, y in checks:
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            if not np.allclose(x, y, rtol=rtol, atol=rtol * max(1.0, float(np.abs(y).max()))):
                raise VerificationError(
                    f"matrix-form {what} disagrees with the explicit-entry path for {model.kind} models "
                    f"(max difference {float(np.abs(x - y).max()):.3g}); not trusted")
    _VERIFIED.add(key)
    if cache:
        C.store(key, {"source": "", "meta": {}, "verified": True})


def random_parameters(layout: Layout, rng: np.random.Generator, scale: float = 0.5) -> np.ndarray:
    """A random valid parameter vector (positive definite covariances, positive variances).

    Parameters
    ----------
    layout : Layout
        The parameter layout of a model.
    rng : numpy.random.Generator
        The random numbers.
    scale : float, optional
        Standard deviation of the map entries.

    Returns
    -------
    numpy.ndarray
        A flat parameter vector.

    Examples
    --------
    >>> import statvae
    >>> lay = Layout(statvae.LinearVAE(3, 2))
    >>> random_parameters(lay, np.random.default_rng(0)).shape
    (14,)
    """
    blocks: dict[str, Any] = {}
    for b in layout.blocks:
        if b.kind == "map":
            blocks[b.name] = rng.normal(scale=scale, size=b.shape)
        elif b.kind in ("diagonal", "full"):
            n = b.shape[0]
            a = rng.normal(scale=0.3, size=(n, n))
            d = a @ a.T + np.eye(n) * rng.uniform(0.5, 1.5)
            blocks[b.name] = np.diag(np.diag(d)) if b.kind == "diagonal" else d
        else:
            blocks[b.name] = rng.uniform(0.5, 2.0)
    return layout.pack(**blocks)


class CompiledObjective:
    """Numeric value, gradient, Hessian, HVP and d(gradient)/d(hyper) of a model.

    Every method takes the flat parameter vector ``theta`` (see
    :attr:`layout`) and keyword arguments: the data (``covariance=`` or
    ``spectrum=``) and hyper-parameters (names in :attr:`hyper_names`;
    defaults are the model's numeric values).

    Keyword calls cache the binding of the data: calling again with the same
    data object (or a different one with bitwise equal contents) skips the
    validation and conversion of the data, and a change of hyper-parameters
    only redoes the hyper-parameter part; the cache compares the contents
    byte for byte on every call, so an array changed in place is bound again.
    In hot loops the bound object is cheaper still (no keyword handling, no
    content comparison): bind once, move along a hyper-parameter with
    :meth:`BoundObjective.with_hyper`, e.g.::

        b = f.bind(covariance=C)
        for s in sigma2_values:
            g = b.with_hyper(sigma2=s).gradient(theta)

    Parameters
    ----------
    model : Model
        The model compiled.
    path : {"matrix", "explicit"}
        How the code was generated.
    backend : {"numpy", "mpmath"}
        What it evaluates with.
    source : str
        The generated code.
    meta : dict
        What the code generator says about it (argument order, blocks).
    layout : Layout
        The parameter layout of ``model``.
    dps : int, optional
        Decimal digits of the mpmath backend.

    Attributes
    ----------
    layout : Layout
        The parameter layout.
    path : str
        ``"matrix"`` or ``"explicit"``.
    backend : str
        ``"numpy"`` or ``"mpmath"``.
    source : str
        The generated code (its functions document their argument order).
    argument_order : list of str
        Arguments of the generated functions.
    compile_seconds : float
        Time :func:`compile_model` took (set by it).
    cache_hit : bool
        Whether :func:`compile_model` found the code in the cache (set by it).

    Raises
    ------
    ModelError
        If the generated code takes other hyper-parameters than the model has (a stale cache).
    """

    compile_seconds: float
    cache_hit: bool

    def __init__(self, model: Model, path: str, backend: str, source: str, meta: dict[str, Any], layout: Layout,
                 dps: int = 30) -> None:
        self.model, self.path, self.backend, self.source, self.meta = model, path, backend, source, meta
        self.layout = layout
        self.hyper_names = list(model.values)
        #: Order of the hyper-parameter arguments of the generated functions (bound by name, never by position
        #: in ``model.values``: cached code may have been generated from an equal model listing them otherwise).
        self.hyper_order = list(meta.get("hyper", self.hyper_names))
        if sorted(self.hyper_order) != sorted(self.hyper_names):
            raise ModelError(f"generated code takes hyper-parameters {', '.join(self.hyper_order)} but the model has "
                             f"{', '.join(self.hyper_names)}; clear the cache (statvae cache --clear)")
        self.argument_order = list(meta["args"])
        self.dps = dps
        if backend == "mpmath":
            import mpmath

            self.mp = mpmath.MPContext()
            self.mp.dps = dps
            ns = mpmath_namespace(self.mp)
        else:
            self.mp = None
            ns = dict(NUMPY_NAMESPACE)
        exec(compile(source, f"<statvae {path} code>", "exec"), ns)
        self._fn = {k: v for k, v in ns.items() if callable(v) and getattr(v, "__module__", None) is None}
        #: Bindings of the data of recent keyword calls, most recent first (see :meth:`_bound`).
        self._data_cache: list[_DataBinding] = []
        #: How a float parameter vector splits into blocks, and which blocks :meth:`_fast_check_unpack` checks.
        self._plan = [(b.name, b.kind, b.slice, b.shape) for b in layout.blocks]
        self._diag_index = {b.name: np.arange(b.shape[0]) for b in layout.blocks if b.kind == "diagonal"}
        self._triu_index = {b.name: np.triu_indices(b.shape[0]) for b in layout.blocks if b.kind == "full"}

    def __repr__(self) -> str:
        return (f"<CompiledObjective {self.path} path, {self.backend} backend, {self.layout.size} parameters, "
                f"hyper {', '.join(self.hyper_names)}>")

    def block_plan(self, blocks: list[np.ndarray] | dict[int, np.ndarray]) -> BlockPlan:
        """The evaluation plan of :meth:`BoundObjective.hessian_blocks` for disjoint index blocks.

        Parameters
        ----------
        blocks : list of numpy.ndarray or dict
            Disjoint, non-empty arrays of entry indices (of the flat parameter vector), or the same grouped
            by size: size -> ``(count, size)`` array.

        Returns
        -------
        BlockPlan
            Reusable for every binding of this compiled objective.
        """
        pairs = self.meta.get("hvp_pairs") if self.path == "matrix" and self.mp is None else None
        return BlockPlan(self.layout, blocks, pairs)

    # -- layout ---------------------------------------------------------------
    def pack(self, **blocks: Any) -> np.ndarray:
        """The flat parameter vector from blocks by name (:meth:`statvae.model.layout.Layout.pack`).

        Parameters
        ----------
        **blocks
            Every parameter block by name (maps as matrices, covariances as their stored form).

        Returns
        -------
        numpy.ndarray
            ``theta``.
        """
        return self.layout.pack(**blocks)

    def unpack(self, theta: npt.ArrayLike) -> dict[str, Any]:
        """The blocks of a flat parameter vector (:meth:`statvae.model.layout.Layout.unpack`).

        Parameters
        ----------
        theta : array_like
            A flat parameter vector.

        Returns
        -------
        dict
            Every block by name.
        """
        return self.layout.unpack(theta)

    # -- binding ----------------------------------------------------------------
    def bind(self, covariance: Any = None, spectrum: Any = None, structure: Any = "auto", samples: Any = None,
             ddof: Any = 1, **hyper: Any) -> BoundObjective:
        """Fix data and hyper-parameters; returns an object with the same methods minus the keywords.

        Parameters
        ----------
        covariance, spectrum, samples : array_like, optional
            The data: exactly one of them.  ``covariance`` may be a
            :class:`statvae.data.LowRankPlusDiagonal` (``diag(d) + U U^T``, never formed as a matrix
            unless bound dense); ``samples`` (rows) stand for their covariance, bound as the centred
            samples (a factor of rank M, the number of samples) when that is cheaper.
        structure : {"auto", "dense", "diagonal", "lowrank"}, optional
            Products by the data on the numpy matrix path
            (:func:`statvae.numeric.codegen.data_structure`): ``auto`` multiplies diagonal data
            (a spectrum, a covariance zero off its diagonal) as a diagonal, O(N n) instead of O(N^2 n),
            and data given as a factor (``samples``, a ``LowRankPlusDiagonal``) of rank ``r <= N / 4``,
            ``N >= 160`` (:func:`statvae.numeric.codegen.lowrank_pays`) as ``diag(d) + U U^T``,
            O((r + 1) N n); ``dense`` always as a dense matrix (materialised);
            ``diagonal`` insists on diagonal data; ``lowrank`` on the factor whatever its rank.
        ddof : {0, 1}, optional
            Delta degrees of freedom of the covariance of ``samples`` (1: as ``numpy.cov``).
        **hyper
            Hyper-parameter values by name (default: the model's numeric values).

        Returns
        -------
        BoundObjective
            The bound objective.

        Raises
        ------
        DataError
            For missing, doubled or invalid data.
        ModelError
            For an unknown hyper-parameter, or one without a valid value.
        """
        return BoundObjective(self, covariance, spectrum, hyper, structure=structure, samples=samples, ddof=ddof)

    #: Data bindings kept for keyword calls (each holds a snapshot of its data).
    DATA_CACHE_SIZE = 4
    #: Bound objectives (hyper-parameter settings) kept per data binding.
    HYPER_CACHE_SIZE = 16

    def _bound(self, kw: dict[str, Any]) -> BoundObjective:
        """The bound objective of a keyword call, re-using the binding of the data when it is unchanged.

        The cache is keyed on the data object's identity and checked against its contents: a hit needs the
        same dtype and shape and bitwise equal bytes (compared with a private snapshot taken when the data
        were bound), so an array mutated in place, or a list edited, is validated and bound again.  On an
        identity miss the snapshots of the same shape are compared too (a fresh array with equal contents
        re-uses the binding).  Only numeric (bool, integer, float) arrays of at most 8-byte items are cached.
        Hyper-parameters are then looked up per data binding; a new setting reuses the validated data
        (:meth:`BoundObjective.from_data`).
        """
        cov, spec = kw.pop("covariance", None), kw.pop("spectrum", None)
        samples, ddof = kw.pop("samples", None), kw.pop("ddof", 1)
        data = self._data_binding(cov, spec, samples, ddof)
        key = tuple(sorted((k, _hashable(v)) for k, v in kw.items()))
        b = data.bound.get(key)
        if b is None:
            b = BoundObjective.from_data(self, data, kw)
            if len(data.bound) >= self.HYPER_CACHE_SIZE:
                data.bound.pop(next(iter(data.bound)))
            data.bound[key] = b
        return b

    def _data_binding(self, cov: Any, spec: Any, samples: Any = None, ddof: Any = 1) -> _DataBinding:
        _check_given(cov, spec, samples)
        kind, obj = ("covariance", cov) if cov is not None else ("spectrum", spec) if spec is not None else \
            (f"samples, ddof={ddof!r}", samples)
        if isinstance(obj, LowRankPlusDiagonal):  # immutable: its binding is cached by identity
            hit = next((e for e in self._data_cache if e.source is obj and e.kind == "lowrank"), None)
            if hit is None:
                hit = _DataBinding.build(self, cov, None)
                hit.kind, hit.source = "lowrank", obj
                self._data_cache.insert(0, hit)
                del self._data_cache[self.DATA_CACHE_SIZE:]
            return hit
        raw = _raw_numeric(obj)
        if raw is not None:
            cache = self._data_cache
            hit = next((e for e in cache if e.source is obj and e.matches(kind, raw)), None)
            if hit is None:
                hit = next((e for e in cache if e.matches(kind, raw)), None)
            if hit is not None:
                if cache[0] is not hit:
                    cache.remove(hit)
                    cache.insert(0, hit)
                hit.source = obj
                return hit
        data = _DataBinding.build(self, cov, spec, samples=samples, ddof=ddof)
        if raw is not None:
            data.kind, data.source, data.snapshot = kind, obj, data.private_copy(raw)
            self._data_cache.insert(0, data)
            del self._data_cache[self.DATA_CACHE_SIZE:]
        return data

    def _fast_check_unpack(self, theta: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """:meth:`Layout.check_unpack` with the common valid case cheap; any doubt goes to it (same errors)."""
        t = theta
        if type(t) is not np.ndarray or t.dtype != np.float64 or t.ndim != 1 or t.shape[0] != self.layout.size \
                or not np.isfinite(t).all():
            return self.layout.check_unpack(theta)
        blocks = self._unpack(t)
        for name, kind, sl, _ in self._plan:
            if kind == "diagonal":
                if not (t[sl] > 0).all():
                    return self.layout.check_unpack(theta)
            elif kind == "full":
                try:
                    np.linalg.cholesky(blocks[name])
                except np.linalg.LinAlgError:
                    return self.layout.check_unpack(theta)
            elif kind != "map" and not blocks[name] > 0:
                return self.layout.check_unpack(theta)
        return t, blocks

    def _unpack(self, t: np.ndarray) -> dict[str, Any]:
        """:meth:`Layout.unpack` of one float vector (the same arrays, built from a precomputed plan)."""
        out: dict[str, Any] = {}
        for name, kind, sl, shape in self._plan:
            part = t[sl]
            if kind == "map":
                out[name] = part.reshape(shape)
            elif kind == "diagonal":
                m = np.zeros(shape, dtype=t.dtype)
                idx = self._diag_index[name]
                m[idx, idx] = part
                out[name] = m
            elif kind == "full":
                iu, ju = self._triu_index[name]
                m = np.zeros(shape, dtype=t.dtype)
                m[iu, ju] = part
                m[ju, iu] = part
                out[name] = m
            else:
                out[name] = part[0]
        return out

    def value(self, theta: npt.ArrayLike, **kw: Any) -> Any:
        """The objective (maximised).

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        **kw
            The data (``covariance=`` or ``spectrum=``) and hyper-parameter values, as for :meth:`bind`.

        Returns
        -------
        float
            The value (an mpmath number on that backend, an array for arrays of hyper-parameter values).
        """
        return self._bound(kw).value(theta)

    def gradient(self, theta: npt.ArrayLike, **kw: Any) -> np.ndarray:
        """Gradient with respect to ``theta``.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        **kw
            The data (``covariance=`` or ``spectrum=``) and hyper-parameter values, as for :meth:`bind`.

        Returns
        -------
        numpy.ndarray
            One entry per parameter.
        """
        return self._bound(kw).gradient(theta)

    def value_and_gradient(self, theta: npt.ArrayLike, **kw: Any) -> tuple[Any, np.ndarray]:
        """``(value, gradient)`` sharing every matrix product.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        **kw
            The data (``covariance=`` or ``spectrum=``) and hyper-parameter values, as for :meth:`bind`.

        Returns
        -------
        tuple
            The value (as :meth:`value`) and the gradient.
        """
        return self._bound(kw).value_and_gradient(theta)

    def hessian(self, theta: npt.ArrayLike, **kw: Any) -> np.ndarray:
        """Dense Hessian (for small and moderate models).

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        **kw
            The data (``covariance=`` or ``spectrum=``) and hyper-parameter values, as for :meth:`bind`.

        Returns
        -------
        numpy.ndarray
            Square and symmetric, one row per parameter.
        """
        return self._bound(kw).hessian(theta)

    def hvp(self, theta: npt.ArrayLike, v: npt.ArrayLike, **kw: Any) -> np.ndarray:
        """Hessian-vector product ``H v`` (``v`` may be a stack ``(k, P)``), matrix-free on the matrix path.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        v : array_like
            A direction of shape ``(P,)``, or ``k`` of them of shape ``(k, P)``.
        **kw
            The data and hyper-parameter values, as for :meth:`bind`.

        Returns
        -------
        numpy.ndarray
            Of the shape of ``v``.
        """
        return self._bound(kw).hvp(theta, v)

    def gradient_hyper(self, theta: npt.ArrayLike, name: str, **kw: Any) -> np.ndarray:
        """``d gradient / d name`` for a hyper-parameter ``name`` (for continuation).

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        name : str
            A hyper-parameter of the model.
        **kw
            The data and hyper-parameter values, as for :meth:`bind`.

        Returns
        -------
        numpy.ndarray
            One entry per parameter.
        """
        return self._bound(kw).gradient_hyper(theta, name)

    def value_batch(self, theta: npt.ArrayLike, **kw: Any) -> np.ndarray:
        """Value for arrays of hyper-parameter values (broadcast together); matrix products computed once.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        **kw
            The data (``covariance=`` or ``spectrum=``) and hyper-parameter values, as for :meth:`bind`.

        Returns
        -------
        numpy.ndarray
            One value per hyper-parameter point.
        """
        return self._bound(kw).value(theta)

    def gradient_batch(self, theta: npt.ArrayLike, **kw: Any) -> np.ndarray:
        """Gradients for arrays of hyper-parameter values, shape ``(batch, P)``.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        **kw
            The data (``covariance=`` or ``spectrum=``) and hyper-parameter values, as for :meth:`bind`.

        Returns
        -------
        numpy.ndarray
            One gradient per hyper-parameter point.
        """
        return self._bound(kw).gradient(theta)


def _hashable(v):
    if type(v) is float:
        return v.hex()
    a = np.asarray(v)
    return (a.shape, a.dtype.str, a.tobytes()) if a.dtype != object else repr(v)


def _plain_hyper(model: Model, hyper: dict[str, Any]) -> list[Any] | None:
    """The hyper-parameter values when all are plain finite numbers in their domain, else None.

    The common case of :meth:`BoundObjective._setup` without numpy conversions; anything else (arrays,
    symbolic values, missing or invalid values) returns None and takes the general path, which words the
    error.  The model's own numeric values (sympy numbers) are converted to floats once and remembered.
    """
    defaults = _default_floats(model)
    vals: list[Any] = []
    for n, default in model.values.items():
        v = hyper.get(n, _MISSING)
        if v is _MISSING:
            a = defaults.get(n)
            if a is None:
                return None
        elif type(v) is float or type(v) is int:
            a = float(v)
            if not math.isfinite(a) or not (a >= 0 if H.spec(n).nonnegative else a > 0):
                return None
        else:
            return None
        vals.append(a)
    return vals


_MISSING = object()
_DEFAULTS: dict[int, tuple[tuple[Any, ...], dict[str, float]]] = {}


def _default_floats(model: Model) -> dict[str, float]:
    """``model.values`` as floats, for the entries that are plain numbers in their domain (cached per model)."""
    items = tuple(model.values.items())
    hit = _DEFAULTS.get(id(model))
    if hit is not None and len(hit[0]) == len(items) and all(a[0] == b[0] and a[1] is b[1]
                                                               for a, b in zip(hit[0], items)):
        return hit[1]
    out: dict[str, float] = {}
    for n, v in items:
        if v is None or (hasattr(v, "is_number") and not (v.is_number and v.is_real)):
            continue
        try:
            a = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(a) and (a >= 0 if H.spec(n).nonnegative else a > 0):
            out[n] = a
    if len(_DEFAULTS) > 64:
        _DEFAULTS.clear()
    _DEFAULTS[id(model)] = (items, out)
    return out


def _raw_numeric(x: Any) -> np.ndarray | None:
    """``x`` as an array when its binding may be cached (bool, integer or float items of at most 8 bytes)."""
    if type(x) is not np.ndarray:
        try:
            x = np.asarray(x)
        except Exception:  # ragged or strange input: no caching, the validators word the error
            return None
    if x.dtype.kind not in "biuf" or x.dtype.itemsize not in (1, 2, 4, 8):
        return None
    return x


def _libc_memcmp() -> Callable[..., int] | None:
    try:
        import ctypes
        import ctypes.util

        fn = ctypes.CDLL(ctypes.util.find_library("c") or None).memcmp
        fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        return fn  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # no C library to load: numpy compares
        return None


_MEMCMP = _libc_memcmp()


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays of the same dtype and shape hold bitwise equal items.

    One pass of C ``memcmp`` over both buffers when both are contiguous (no temporary array; stops at the
    first difference); otherwise numpy compares the items as unsigned integers (so ``-0.0 != 0.0`` and a NaN
    equals the same NaN, as bytes do).

    Parameters
    ----------
    a, b : numpy.ndarray
        Arrays of equal dtype and shape.

    Returns
    -------
    bool
        True when every byte is equal.

    Examples
    --------
    >>> import numpy as np
    >>> same_bytes(np.array([0.0, 1.0]), np.array([-0.0, 1.0]))
    False
    """
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if _MEMCMP is not None and a.flags.c_contiguous and b.flags.c_contiguous:
        return a.nbytes == 0 or _MEMCMP(a.ctypes.data, b.ctypes.data, a.nbytes) == 0
    u = np.dtype(f"u{a.dtype.itemsize}")
    return bool(np.array_equal(a.view(u), b.view(u)))


def _check_given(covariance: Any, spectrum: Any, samples: Any) -> None:
    """Exactly one of the data keywords, or a one-line :class:`DataError`."""
    given = [n for n, x in (("covariance", covariance), ("spectrum", spectrum), ("samples", samples))
             if x is not None]
    if len(given) != 1:
        raise DataError(f"give exactly one of covariance=, spectrum= or samples=, got "
                        f"{' and '.join(given) if given else 'none'}")


class _DataBinding:
    """Validated, converted data of a :class:`BoundObjective`, shared by every hyper-parameter setting.

    ``kind``, ``source`` and ``snapshot`` are set when the binding is cached by
    :meth:`CompiledObjective._data_binding`; ``bound`` holds the bound objectives
    made from it, by hyper-parameter setting.  Data bound in low-rank form keep
    their :class:`~statvae.data.LowRankPlusDiagonal` in ``lowrank``, and the dense
    second moment (:attr:`cov`) is formed only if asked for.
    """

    def __init__(self, cov: np.ndarray | None, data: list[Any], structure: str = "dense",
                 lowrank: LowRankPlusDiagonal | None = None) -> None:
        self._cov, self.data, self.structure, self.lowrank = cov, data, structure, lowrank
        self.kind: str | None = None
        self.source: Any = None
        self.snapshot: np.ndarray | None = None
        self.bound: dict[Any, BoundObjective] = {}

    @property
    def cov(self) -> np.ndarray:
        """The dense second moment of the observed variables (formed on first use for low-rank data)."""
        if self._cov is None:
            assert self.lowrank is not None, "a binding holds a matrix or a low-rank form"
            self._cov = self.lowrank.toarray()
        return self._cov

    @classmethod
    def build(cls, owner: CompiledObjective, covariance: Any, spectrum: Any, structure: str = "auto",
              samples: Any = None, ddof: Any = 1) -> _DataBinding:
        """Validate and convert the data (raises :class:`DataError` as :meth:`CompiledObjective.bind`)."""
        g = owner.model.graph
        k = sum(v.dim for v in g.observed())
        _check_given(covariance, spectrum, samples)
        mp = owner.mp
        numpy_matrix = owner.path == "matrix" and mp is None  # the only code that takes structured blocks
        if structure not in DATA_STRUCTURES or not isinstance(structure, str):
            data_structure(np.zeros((1, 1)), structure)  # words the error
        lowrank: LowRankPlusDiagonal | None = None
        cov: np.ndarray | None = None
        if isinstance(covariance, LowRankPlusDiagonal):
            lowrank = covariance
        elif samples is not None:
            from ..data.spectra import covariance_from_samples, validate_samples

            m = validate_samples(samples).shape
            if structure == "lowrank" or (structure == "auto" and numpy_matrix and lowrank_pays(m[0], m[1])):
                lowrank = LowRankPlusDiagonal.from_samples(samples, ddof)
            else:
                cov = covariance_from_samples(samples, ddof)
        elif covariance is not None:
            from ..data.spectra import validate_covariance

            cov = validate_covariance(covariance)
        else:
            s = np.asarray(spectrum, dtype=float).ravel()
            if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s < 0):
                raise DataError("spectrum must be non-empty, finite and non-negative")
            cov = np.diag(s)
        dim = lowrank.dim if lowrank is not None else cov.shape[0]  # type: ignore[union-attr]
        if dim != k:
            raise DataError(f"the data must be {k}-dimensional for this model, got {dim}")
        kind = data_structure(lowrank if lowrank is not None else cov, structure) if numpy_matrix else "dense"
        conv = (lambda x: _to_mp(mp, x)) if mp is not None else (lambda x: x)
        if owner.path != "matrix":
            full = cov if cov is not None else lowrank.toarray()  # type: ignore[union-attr]
            return cls(full, [conv(full)], lowrank=lowrank)
        off, sl = 0, {}
        for v in g.observed():
            sl[v.name] = slice(off, off + v.dim)
            off += v.dim
        pairs = [(sl[a], sl[b]) for a, b in owner.meta["data_pairs"]]
        if kind == "lowrank":  # diag(d) + U U^T as codegen.LowRankDiagonalBlock: no N x N matrix
            assert lowrank is not None, "data_structure gives 'lowrank' only for a low-rank form"
            return cls(None, lowrank_blocks(lowrank.factor, lowrank.diagonal, pairs), kind, lowrank)
        if cov is None:
            assert lowrank is not None, "the data are a matrix or a low-rank form"
            cov = lowrank.toarray() if kind == "dense" else np.diag(lowrank.diagonal)  # diagonal: the factor is 0
        data = [conv(np.ascontiguousarray(cov[a, b])) for a, b in pairs]
        if mp is None:  # diagonal data are multiplied as a diagonal (codegen.DiagonalBlock)
            return cls(cov, structured_blocks(data, kind), kind, lowrank)
        return cls(cov, data, lowrank=lowrank)

    def private_copy(self, raw: np.ndarray) -> np.ndarray:
        """A private array equal, byte for byte, to ``raw``: the bound data block itself when it is one.

        Dense data of one block usually are the very bytes of the covariance given (symmetrising an exactly
        symmetric matrix changes nothing), so the check of a later call reads the array the generated
        code reads next, rather than a third copy.

        Parameters
        ----------
        raw : numpy.ndarray
            The data as given.

        Returns
        -------
        numpy.ndarray
            An array no caller holds.
        """
        block = self.data[0] if len(self.data) == 1 else None
        if type(block) is np.ndarray and block is not raw and not np.shares_memory(block, raw) \
                and same_bytes(raw, block):
            return block
        return raw.copy()

    def matches(self, kind: str, raw: np.ndarray) -> bool:
        """Whether ``raw`` is, byte for byte, the data this binding was made from."""
        snap = self.snapshot
        if snap is None or kind != self.kind or raw.dtype != snap.dtype or raw.shape != snap.shape:
            return False
        return same_bytes(raw, snap)


def _unpack_local(b: Any, vals: np.ndarray) -> np.ndarray:
    """:meth:`Layout.unpack_block` of stacked values of one block alone (``(k, b.size)``, not full vectors)."""
    k = vals.shape[0]
    if b.kind == "map":
        return vals.reshape((k,) + tuple(b.shape))
    if b.kind in ("diagonal", "full"):
        n = b.shape[0]
        m = np.zeros((k, n, n))
        if b.kind == "diagonal":
            idx = np.arange(n)
            m[:, idx, idx] = vals
        else:
            iu, ju = np.triu_indices(n)
            m[:, iu, ju] = vals
            m[:, ju, iu] = vals
        return m
    return vals[:, 0]


class BlockPlan:
    """How :meth:`BoundObjective.hessian_blocks` evaluates ``H[b, b]`` for disjoint index blocks ``b``.

    Direction ``j`` is the sum of the unit vectors ``e_{b[j]}`` of every block longer than ``j`` (a
    compressed Hessian evaluation: blocks that do not couple share directions).  For every parameter
    block ``x`` the plan keeps the directions' part in ``x`` (constant unit stacks, unpacked once), and
    for every generated Hessian block ``H[y, x]`` that reaches a wanted entry the directions it is needed
    on and where each result entry goes: ``[k, i, j] = H[b_i, b_j]`` in the array of the blocks of that
    size.  Contributions are added in the layout's block order (as :meth:`BoundObjective.hvp` adds its
    per-block products).

    Parameters
    ----------
    layout : Layout
        The parameter layout.
    blocks : list of numpy.ndarray or dict
        Disjoint, non-empty arrays of entry indices, or already grouped: size -> ``(count, size)`` array.
    pairs : list of [str, str, str] or None
        ``[x, y, function name]`` for every generated Hessian block ``H[y, x]`` that is not identically
        zero (``meta["hvp_pairs"]`` of the matrix path); None if there are none (then
        :meth:`BoundObjective.hessian_blocks` takes stacked HVPs).

    Attributes
    ----------
    groups : dict
        Block size -> indices ``(count, size)`` of the blocks of that size, sizes ascending (a list of blocks
        is grouped in its own order).
    width : int
        Number of compressed directions (the largest block's size).
    steps : list
        ``(function name, directions, result shape, target offsets, source offsets)`` per generated product
        (targets in one flat buffer holding the blocks of each size in turn).

    Raises
    ------
    ParameterError
        If a block is empty, blocks overlap, or an index is outside the parameter vector.
    """

    def __init__(self, layout: Layout, blocks: list[np.ndarray] | dict[int, np.ndarray],
                 pairs: list[list[str]] | None = None) -> None:
        self.layout = layout
        groups: dict[int, np.ndarray] = {}
        bl = [np.asarray(b, dtype=np.intp).ravel() for b in blocks] if not isinstance(blocks, dict) else []
        if not blocks or any(int(s) < 1 for s in (blocks if isinstance(blocks, dict) else map(len, bl))):
            raise ParameterError("every block of a Hessian-block plan needs at least one index")
        if isinstance(blocks, dict):
            for s, idx in sorted(blocks.items()):
                groups[int(s)] = np.asarray(idx, dtype=np.intp).reshape(-1, int(s))
        else:
            for s in sorted({len(b) for b in bl}):
                groups[s] = np.array([b for b in bl if len(b) == s], dtype=np.intp).reshape(-1, s)
        if not all(len(idx) for idx in groups.values()):
            raise ParameterError("every block of a Hessian-block plan needs at least one index")
        flat_all = np.concatenate([idx.ravel() for idx in groups.values()])
        if flat_all.min() < 0 or flat_all.max() >= layout.size or len(np.unique(flat_all)) != len(flat_all):
            raise ParameterError(f"Hessian blocks must be disjoint indices in [0, {layout.size})")
        self.width = max(groups)
        self.groups = groups
        #: Where the blocks of each size start in one flat result buffer.
        self._offsets: dict[int, int] = {}
        total = 0
        for s, idx in groups.items():
            self._offsets[s] = total
            total += idx.size * s
        self._total = total
        self.steps: list[tuple[str, np.ndarray, tuple[int, int], np.ndarray, np.ndarray]] = []
        if not pairs:
            return
        # every entry: its group size, block number within the group, position within the block
        size_of = np.concatenate([np.full(idx.size, s) for s, idx in groups.items()])
        kb_of = np.concatenate([np.repeat(np.arange(len(idx)), s) for s, idx in groups.items()])
        pos_of = np.concatenate([np.tile(np.arange(s), len(idx)) for s, idx in groups.items()])
        entry = flat_all
        part: dict[str, tuple[np.ndarray, np.ndarray]] = {}   # block -> (entries inside, local offsets)
        for b in layout.blocks:
            inside = np.nonzero((entry >= b.offset) & (entry < b.offset + b.size))[0]
            if len(inside):
                part[b.name] = (inside, entry[inside] - b.offset)
        for xname, yname, fname in pairs:  # x in the layout's order, so contributions add up in that order
            if xname not in part or yname not in part:
                continue
            xin, xloc = part[xname]
            rows_x = np.unique(pos_of[xin])  # directions with a component in x
            rows = rows_x[rows_x < size_of[part[yname][0]].max()]  # ... that reach a wanted entry of y
            if len(rows):
                self._add_step(fname, layout.by_name[xname], xin, xloc, rows, yname, pos_of, size_of, kb_of, part)

    def _add_step(self, fname, xb, xin, xloc, rows, yname, pos_of, size_of, kb_of, part) -> None:
        """One generated product ``H[y, x] dx`` on the directions ``rows``, scattered into the wanted entries."""
        vals = np.zeros((len(rows), xb.size))
        keep = np.isin(pos_of[xin], rows)
        vals[np.searchsorted(rows, pos_of[xin][keep]), xloc[keep]] = 1.0
        d = _unpack_local(xb, vals)
        width = self.layout.by_name[yname].size
        yin, yloc = part[yname]
        tgt, src = [], []
        for s, offset in self._offsets.items():
            sel = size_of[yin] == s
            js = rows[rows < s]
            if not sel.any() or not len(js):
                continue
            kb, i, loc = kb_of[yin][sel], pos_of[yin][sel], yloc[sel]
            tgt.append((offset + (kb[:, None] * s + i[:, None]) * s + js[None, :]).ravel())
            src.append((np.searchsorted(rows, js)[None, :] * width + loc[:, None]).ravel())
        if tgt:
            self.steps.append((fname, d, (len(rows), width), np.concatenate(tgt), np.concatenate(src)))

    def dense_directions(self) -> np.ndarray:
        """The compressed directions as full vectors, ``(width, parameters)`` (for the stacked-HVP route).

        Returns
        -------
        numpy.ndarray
            Row ``j`` has ones at ``b[j]`` of every block longer than ``j``.
        """
        dirs = np.zeros((self.width, self.layout.size))
        for s, idx in self.groups.items():
            dirs[np.broadcast_to(np.arange(s), idx.shape), idx] = 1.0
        return dirs


class BoundObjective:
    """A :class:`CompiledObjective` with data and hyper-parameters fixed (made by :meth:`CompiledObjective.bind`).

    Parameters
    ----------
    owner : CompiledObjective
        The compiled functions.
    covariance, spectrum : array_like or None
        The data: exactly one of them and ``samples`` (``covariance`` may be a
        :class:`statvae.data.LowRankPlusDiagonal`).
    hyper : dict
        Hyper-parameter values by name (default: the model's numeric values).
    structure : {"auto", "dense", "diagonal", "lowrank"}, optional
        Products by the data, as for :meth:`CompiledObjective.bind`.
    samples : array_like or None, optional
        The data as samples (rows), as for :meth:`CompiledObjective.bind`.
    ddof : {0, 1}, optional
        Delta degrees of freedom of the covariance of ``samples``.

    Raises
    ------
    DataError
        For missing, doubled or invalid data.
    ModelError
        For an unknown hyper-parameter, or one without a valid value.
    """

    #: mpmath numbers given to :meth:`with_hyper`, kept with all their digits (set by it; absent until then).
    _exact: dict[str, Any]

    def __init__(self, owner: CompiledObjective, covariance: Any, spectrum: Any, hyper: dict[str, Any],
                 structure: str = "auto", samples: Any = None, ddof: Any = 1) -> None:
        self._setup(owner, _DataBinding.build(owner, covariance, spectrum, structure, samples, ddof), hyper)

    @classmethod
    def from_data(cls, owner: CompiledObjective, data: _DataBinding, hyper: dict[str, Any]) -> BoundObjective:
        """A bound objective on data validated before (only the hyper-parameters are checked).

        Parameters
        ----------
        owner : CompiledObjective
            The compiled functions.
        data : _DataBinding
            The validated, converted data (shared, never modified).
        hyper : dict
            Hyper-parameter values by name (default: the model's numeric values).

        Returns
        -------
        BoundObjective
            The bound objective.

        Raises
        ------
        ModelError
            For an unknown hyper-parameter, or one without a valid value.
        """
        new = cls.__new__(cls)
        new._setup(owner, data, hyper)
        return new

    def _setup(self, owner: CompiledObjective, data: _DataBinding, hyper: dict[str, Any]) -> None:
        self.owner = owner
        model = owner.model
        model.require_hyper(*sorted(hyper))
        vals = _plain_hyper(model, hyper)  # plain numbers: checked without numpy
        if vals is None:
            vals = []
            for n in model.values:
                v = hyper.get(n, model.values[n])
                if v is None or (hasattr(v, "is_number") and not v.is_number):
                    raise ModelError(f"{n} has no value: pass {n}=...")
                a = np.asarray(v, dtype=float)
                if not np.all(np.isfinite(a)):
                    raise ModelError(f"{n} must be finite")
                lo_ok = (a >= 0) if H.spec(n).nonnegative else (a > 0)
                if not np.all(lo_ok):
                    raise ModelError(f"{n} must be {'>= 0' if H.spec(n).nonnegative else '> 0'}, got {v!r}")
                vals.append(a if a.ndim else float(a))
        self._binding = data
        self.hyper = dict(zip(model.values, vals))
        mp = owner.mp
        conv = (lambda x: _to_mp(mp, x)) if mp is not None else (lambda x: x)
        self._hyper_args = [conv(self.hyper[n]) for n in owner.hyper_order]
        self._data = data.data
        #: ``"diagonal"`` or ``"lowrank"`` if the generated code multiplies the data in that form, else ``"dense"``.
        self.structure = data.structure

    @property
    def cov(self) -> np.ndarray:
        """The dense second moment of the observed variables (formed on first use when bound in low-rank form)."""
        return self._binding.cov

    def with_hyper(self, **hyper: float) -> BoundObjective:
        """A copy with some hyper-parameters changed and the (validated) data kept.

        Parameters
        ----------
        **hyper
            New values by hyper-parameter name (on the mpmath backend an mpmath number keeps all
            its digits).

        Returns
        -------
        BoundObjective
            The copy.

        Raises
        ------
        ModelError
            For an unknown hyper-parameter or a value out of its domain.
        """
        import copy

        new = copy.copy(self)
        new.hyper = dict(self.hyper)
        exact = dict(getattr(self, "_exact", {}))
        mp = self.owner.mp
        for n, v in hyper.items():
            self.owner.model.require_hyper(n)
            a = float(v)
            if not (a >= 0 if H.spec(n).nonnegative else a > 0) or not np.isfinite(a):
                raise ModelError(f"{n} must be {'>= 0' if H.spec(n).nonnegative else '> 0'}, got {v!r}")
            new.hyper[n] = a
            if mp is not None:  # an mpmath number keeps every digit on the mpmath backend
                exact[n] = v if isinstance(v, mp.mpf) else mp.mpf(a)
            else:
                exact.pop(n, None)
        new._exact = exact
        conv = (lambda x: _to_mp(mp, x)) if mp is not None else (lambda x: x)
        new._hyper_args = [exact[n] if n in exact else conv(new.hyper[n]) for n in self.owner.hyper_order]
        return new

    # -- helpers ----------------------------------------------------------------
    def _theta(self, theta, check=True):
        """Theta (converted for mpmath) and its blocks; validated unless ``check`` is false.

        Unchecked, only the shape is tested (a wrong shape still raises through the checked path):
        finiteness, positive definite covariances and positive variances are the caller's promise.
        """
        owner = self.owner
        if owner.mp is not None:  # validated in floats; evaluated from the given numbers (mpf kept exact)
            if check:
                owner.layout.check_unpack(theta)
            t = _to_mp(owner.mp, theta)
            return t, owner.layout.unpack(t)
        if check:
            return owner._fast_check_unpack(theta)
        t = theta if type(theta) is np.ndarray and theta.dtype == np.float64 else np.asarray(theta, dtype=float)
        if t.ndim != 1 or t.shape[0] != owner.layout.size:
            return owner.layout.check_unpack(theta)
        return t, owner._unpack(t)

    def _matrix_args(self, blocks):
        meta = self.owner.meta
        return [blocks[n] for n in meta["matrices"]] + self._data + [blocks[n] for n in meta["scalars"]] \
            + self._hyper_args

    def _call(self, name, theta, *extra, check=True):
        t, blocks = self._theta(theta, check)
        fn = self.owner._fn[name]
        if self.owner.path == "matrix":
            return fn(*self._matrix_args(blocks), *extra)
        return fn(t, self._data[0], *self._hyper_args)

    def _out(self, x):
        if self.owner.mp is None:
            return np.asarray(x, dtype=float)
        return np.asarray(x, dtype=object)

    # -- evaluation -------------------------------------------------------------
    def value(self, theta: npt.ArrayLike, check: bool = True) -> Any:
        """The objective (maximised); see :meth:`CompiledObjective.value`.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        check : bool, optional
            Validate ``theta`` (the default).  ``False`` is the fast path for internal callers that
            made ``theta`` themselves and know it valid: only its shape is tested, and an invalid
            vector (NaN, a covariance not positive definite) gives meaningless numbers instead of
            a :class:`~statvae.model.layout.ParameterError`.

        Returns
        -------
        float
            The value (an mpmath number on that backend, an array for arrays of hyper-parameter values).
        """
        v = self._call("value", theta, check=check)
        return self._out(v) if np.ndim(v) else (float(v) if self.owner.mp is None else v)

    def gradient(self, theta: npt.ArrayLike, check: bool = True) -> np.ndarray:
        """Gradient with respect to ``theta``.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        check : bool, optional
            Validate ``theta`` (the default).  ``False`` is the fast path for internal callers that
            made ``theta`` themselves and know it valid: only its shape is tested, and an invalid
            vector (NaN, a covariance not positive definite) gives meaningless numbers instead of
            a :class:`~statvae.model.layout.ParameterError`.

        Returns
        -------
        numpy.ndarray
            One entry per parameter.
        """
        return self._out(self._call("gradient", theta, check=check))

    def value_and_gradient(self, theta: npt.ArrayLike, check: bool = True) -> tuple[Any, np.ndarray]:
        """``(value, gradient)`` sharing every matrix product.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        check : bool, optional
            Validate ``theta`` (the default).  ``False`` is the fast path for internal callers that
            made ``theta`` themselves and know it valid: only its shape is tested, and an invalid
            vector (NaN, a covariance not positive definite) gives meaningless numbers instead of
            a :class:`~statvae.model.layout.ParameterError`.

        Returns
        -------
        tuple
            The value (as :meth:`value`) and the gradient.
        """
        v, g = self._call("value_grad", theta, check=check)
        v = self._out(v) if np.ndim(v) else (float(v) if self.owner.mp is None else v)
        return v, self._out(g)

    def hessian(self, theta: npt.ArrayLike) -> np.ndarray:
        """Dense Hessian (on the matrix path: one HVP per parameter, symmetrised).

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.

        Returns
        -------
        numpy.ndarray
            Square and symmetric, one row per parameter.
        """
        return self._hessian(theta, True)

    def _hessian(self, theta, check):
        if self.owner.path == "explicit":
            return self._out(self._call("hessian", theta, check=check))
        p = self.owner.layout.size
        eye = np.eye(p) if self.owner.mp is None else _to_mp(self.owner.mp, np.eye(p))
        h = self._out(self.hvp(theta, eye, check=check))
        return (h + h.T) / 2

    def hvp(self, theta: npt.ArrayLike, v: npt.ArrayLike, check: bool = True) -> np.ndarray:
        """Hessian-vector product ``H v``, matrix-free on the matrix path.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        v : array_like
            A direction of shape ``(P,)``, or ``k`` of them of shape ``(k, P)``.
        check : bool, optional
            Validate ``theta`` (the default).  ``False`` is the fast path for internal callers that
            made ``theta`` themselves and know it valid: only the shapes of ``theta`` and ``v`` are
            tested, and an invalid vector (NaN, a covariance not positive definite) gives
            meaningless numbers instead of a :class:`~statvae.model.layout.ParameterError`.

        Returns
        -------
        numpy.ndarray
            Of the shape of ``v``.

        Raises
        ------
        ParameterError
            If ``v`` has the wrong shape or a NaN or infinite entry.
        """
        lay = self.owner.layout
        va = np.asarray(v, dtype=float if self.owner.mp is None else object)
        if va.shape[-1:] != (lay.size,) or va.ndim > 2:
            raise ParameterError(f"v must have shape ({lay.size},) or (k, {lay.size}), got {va.shape}")
        if check and self.owner.mp is None and not np.isfinite(va.sum()) and not np.all(np.isfinite(va)):
            raise ParameterError("v has NaN or infinite entries")
        if self.owner.mp is not None:
            va = _to_mp(self.owner.mp, va)
        if self.owner.path == "explicit":
            h = self._hessian(theta, check)
            return self._out(va @ h.T) if va.ndim == 2 else self._out(h @ va)
        _, blocks = self._theta(theta, check)
        args = self._matrix_args(blocks)
        two = va.ndim == 2
        vv = va if two else va[None, :]
        touched = [(b, np.nonzero(np.any(vv[:, b.slice] != 0, axis=1))[0]) for b in lay.blocks]
        touched = [(b, rows) for b, rows in touched if len(rows)]
        if not touched:
            return self._out(np.zeros(va.shape))
        if sum(len(rows) for _, rows in touched) > 1.5 * len(vv) or f"hvp_only_{lay.blocks[0].name}" not in \
                self.owner._fn:
            d = lay.unpack(va)
            extra = [d[n] for n in self.owner.meta["matrices"]] + [d[n] for n in self.owner.meta["scalars"]]
            return self._out(self.owner._fn["hvp"](*args, *extra))
        # sparse directions: one cheap HVP per block, only on the rows that touch it
        out: np.ndarray | None = None
        for b, rows in touched:
            every = len(rows) == len(vv)
            part = lay.unpack_block(vv if every else vv[rows], b.name)
            res = np.asarray(self.owner._fn[f"hvp_only_{b.name}"](*args, part))
            if out is None and every:
                out = res.copy() if res.shape == vv.shape else np.broadcast_to(res, vv.shape).copy()
                continue
            if out is None:
                out = np.zeros(vv.shape, dtype=float if self.owner.mp is None else object)
            if every:
                out += res
            else:
                out[rows] += res
        assert out is not None, "touched is not empty"
        return self._out(out if two else out[0])

    def hessian_blocks(self, theta: npt.ArrayLike, plan: BlockPlan, check: bool = True) -> dict[int, np.ndarray]:
        """Diagonal blocks ``H[b, b]`` of the Hessian for the index blocks of ``plan``, and nothing else.

        The blocks must be ones on which the Hessian is block diagonal (entries of different blocks do not
        couple, as the cosets of a symmetry span, :mod:`statvae.bifurcation.symmetry`); a plan of one block
        may hold any indices.  One compressed direction per position inside the largest block carries
        every block at once, and on the numpy matrix path only the Hessian blocks ``H[y, x]`` (generated
        per pair of parameter blocks, ``hvpb__x__y``) that land on a wanted entry are evaluated, on the
        directions that need them: no full-width HVP row is formed.  Other backends and paths (and code
        generated before the pair functions existed) take the stacked :meth:`hvp` and gather.

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        plan : BlockPlan
            The index blocks (:meth:`CompiledObjective.block_plan`, made once per set of blocks).
        check : bool, optional
            Validate ``theta`` (the default); ``False`` as for :meth:`hvp`.

        Returns
        -------
        dict
            Block size -> array ``(blocks, size, size)`` with ``[k, i, j] = H[b_i, b_j]`` for the ``k``-th block
            ``b`` of that size in :attr:`BlockPlan.groups`; not symmetrised.
        """
        owner = self.owner
        if owner.mp is not None or owner.path != "matrix" or not plan.steps:
            cols = np.atleast_2d(self.hvp(theta, plan.dense_directions(), check=check))
            return {s: cols[np.arange(s)[None, None, :], idx[:, :, None]] for s, idx in plan.groups.items()}
        _, blocks = self._theta(theta, check)
        args = self._matrix_args(blocks)
        fn = owner._fn
        buf = np.zeros(plan._total)
        for name, d, shape, tgt, src in plan.steps:
            res = np.asarray(fn[name](*args, d))
            buf[tgt] += (res if res.shape == shape else np.broadcast_to(res, shape)).reshape(-1)[src]
        return {s: buf[o:o + plan.groups[s].size * s].reshape(-1, s, s) for s, o in plan._offsets.items()}

    def gradient_hyper(self, theta: npt.ArrayLike, name: str, check: bool = True) -> np.ndarray:
        """``d gradient / d name`` for a hyper-parameter ``name`` (for continuation).

        Parameters
        ----------
        theta : array_like
            The flat parameter vector.
        name : str
            A hyper-parameter of the model.
        check : bool, optional
            Validate ``theta`` (the default).  ``False`` is the fast path for internal callers that
            made ``theta`` themselves and know it valid: only its shape is tested, and an invalid
            vector (NaN, a covariance not positive definite) gives meaningless numbers instead of
            a :class:`~statvae.model.layout.ParameterError`.

        Returns
        -------
        numpy.ndarray
            One entry per parameter.

        Raises
        ------
        ModelError
            If ``name`` is not a hyper-parameter of the model.
        """
        self.owner.model.require_hyper(name)
        return self._out(self._call(f"dgrad_{name}", theta, check=check))


def _to_mp(mp, x):
    a = np.asarray(x)
    if a.dtype == object:
        return np.vectorize(lambda e: mp.mpf(e), otypes=[object])(a) if a.ndim else mp.mpf(a.item())
    if a.ndim == 0:
        return mp.mpf(float(a))
    return np.vectorize(lambda e: mp.mpf(float(e)), otypes=[object])(a)
