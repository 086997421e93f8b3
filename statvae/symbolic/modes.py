"""Per-mode structure of the Hessian at the collapsed point, for symbolic sizes.

Why a handful of tiny models determine the Hessian of every size
----------------------------------------------------------------
Work in the canonical gauge: each observed variable rotated to the
eigenbasis of its (residual) covariance, so the data covariance is
diagonal.  Then the objective is invariant under the sign flip of any
single coordinate (of data or latent), and the collapsed point is a fixed
point of all of them.  Each parameter entry is odd under the flips of the
coordinates it touches an odd number of times (its *character*), so

1. (symmetry) the Hessian entry between two entries with different
   characters vanishes;
2. (restriction) the Hessian entry between two entries depends only on the
   coordinates they touch: setting every other parameter to its collapsed
   value, the untouched coordinates contribute constants, because at the
   collapsed point coordinates are uncoupled.  A pair of entries touches at
   most two coordinates of each variable.

Hence every entry of the Hessian of a model of any size equals an entry of
the Hessian of the *representative* model with two coordinates per
variable (``R2``), with the spectral symbols renamed.  statvae derives
``R2``'s Hessian, groups its entries by the set of coordinates they touch,
*checks* that entries of different groups do not couple, and keeps one
block per pattern (e.g. one data coordinate ``i`` and one latent ``j``).
The full Hessian is the direct sum of these blocks over all index choices;
:func:`assemble_hessian` builds it for explicit sizes and the tests compare
it with the explicit-entry Hessian.

Parameters that touch no coordinate (a learned decoder variance, an
isotropic encoder scale) are global: their collapsed values depend on the
whole spectrum (through its trace).  They are solved from the collapsed
objective of the one-coordinate model ``R1`` in which each variable's single
coordinate carries the multiplicity of its dimension: at the collapsed
point all coordinates of a variable contribute the same function of their
eigenvalue, and the objective is affine in the covariance, so the sum over
coordinates is the dimension times the value at the mean eigenvalue.

The structure is cached on disk like compiled code
--------------------------------------------------
Deriving the structure is symbolic work (a second or more); it depends only
on the model's structure (:meth:`Model.structure_key`), so
:func:`mode_structure` keeps it, per process, in memory and, across
processes, as an entry of the cache directory (:mod:`statvae.storage`:
``$STATVAE_CACHE_DIR`` or ``~/.cache/statvae``; ``statvae cache --clear``
removes it).  Every sympy object of the entry is written with
:func:`sympy.srepr`; an entry is read back with :func:`sympy.parse_expr` only
after its SHA-256 digest has been checked, and an entry that is missing,
damaged, edited or cannot be rebuilt is a miss: the structure is derived
again and the entry rewritten.  An entry is written only if it rebuilds to a
structure equal to the derived one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from itertools import combinations
from typing import Any

import sympy as sp

from .. import storage
from ..errors import AnalysisError
from ..model import hyper as H
from ..model.graph import ModelGraph
from ..model.vae import Model
from . import names as NM
from .derivatives import gradient, hessian
from .objective import build_objective
from .stationary import solve_stationary, verify_stationary

__all__ = ["ModeBlock", "ModeStructure", "mode_structure", "assemble_hessian", "structure_cache_key",
           "structure_to_json", "structure_from_json", "same_structure", "STRUCTURE_FORMAT"]

#: Version of the derivation's output and of its cached form (part of every key, and of the collapse plans' keys;
#: bump on any change).  Defined in :mod:`statvae.storage`, so that a plan's key is computed without sympy.
STRUCTURE_VERSION = storage.STRUCTURE_VERSION

#: Format tag of the cache entries holding a structure.
STRUCTURE_FORMAT = f"statvae-structure-{STRUCTURE_VERSION}"

#: The fields of such an entry and their types.
_FIELDS: dict[str, type] = {"structure": dict}


@dataclass
class ModeBlock:
    """One independent block of the Hessian at the collapsed point.

    Attributes
    ----------
    pattern : tuple
        ``((variable, count), ...)``: how many distinct coordinates of each
        variable the block's parameters touch (``(("x", 1), ("z", 1))`` is
        one data eigen-direction and one latent).
    labels : list of str
        LaTeX labels of the parameters, in generic indices (``W_{ij}``).
    template : list of tuple
        ``(block name, roles)`` per parameter: how to find the parameter in a
        model of explicit size (see :func:`assemble_hessian`).
    matrix : sympy.Matrix
        The block (generic spectral symbols, symbolic hyper-parameters).
    multiplicity : sympy.Expr
        Number of copies in a model of symbolic size (``N n``).
    spectral : list of sympy.Symbol
        Generic eigenvalue symbols the block depends on (``xi_i^2``).
    indices : dict
        Variable name -> list of index letters used by the block.
    touches_latent : bool
        ``True`` for blocks of parameters that couple a latent to something
        (their loss of negativity is the instability of collapse);
        ``False`` for directions along the collapsed manifold.
    """

    pattern: tuple
    labels: list
    template: list
    matrix: sp.Matrix
    multiplicity: sp.Expr
    spectral: list
    indices: dict
    touches_latent: bool

    @property
    def size(self) -> int:
        """Number of parameters in the block (rows of :attr:`matrix`)."""
        return self.matrix.shape[0]

    def determinant(self) -> sp.Expr:
        """The determinant of the block, simplified and factored.

        Returns
        -------
        sympy.Expr
            ``det(matrix)``.
        """
        return sp.factor(sp.simplify(self.matrix.det()))

    def eigenvalues(self) -> dict[sp.Expr, int]:
        """The eigenvalues of the block with their multiplicities.

        Returns
        -------
        dict
            Simplified eigenvalue -> algebraic multiplicity.
        """
        return {sp.simplify(k): v for k, v in self.matrix.eigenvals().items()}

    def name(self) -> str:
        """A short name of the block's pattern (``"x:1, z:1"``; ``"global"`` for the global parameters).

        Returns
        -------
        str
            The pattern as ``variable:count`` pairs.
        """
        return ", ".join(f"{v}:{c}" for v, c in self.pattern) or "global"


@dataclass
class ModeStructure:
    """Everything the collapse analysis needs, for symbolic sizes.

    Attributes
    ----------
    model : Model
        The model (hyper-parameters kept symbolic here).
    blocks : list of ModeBlock
        The independent blocks, one per pattern.
    collapsed : dict
        Block name -> collapsed value, as a LaTeX-ready sympy object, e.g.
        ``{"W": 0, "D": sigma_0^2 I, "sigma2": tr(Sigma)/N}`` (generic).
    global_values : dict
        Global parameter symbol -> value (in trace and dimension symbols).
    diagonal_values : dict
        Block name -> collapsed value of its diagonal entries.
    dims : dict
        Variable name -> its symbolic dimension.
    traces : dict
        Observed variable name -> the symbol of the trace of its covariance.
    """

    model: Model
    blocks: list
    collapsed: dict
    global_values: dict
    diagonal_values: dict = field(default_factory=dict)
    dims: dict = field(default_factory=dict)
    traces: dict = field(default_factory=dict)


_CACHE: dict = {}


def mode_structure(model: Model, backend: str = "auto") -> ModeStructure:
    """Derive (and cache) the per-mode structure of ``model``'s collapse Hessian.

    Parameters
    ----------
    model : Model
        The model; only its structure matters (values are made symbolic, and
        the result is cached by :meth:`Model.structure_key`).
    backend : {"auto", "sympy", "symengine"}, optional
        Who differentiates (see :func:`statvae.symbolic.derivatives.resolve_backend`).

    Returns
    -------
    ModeStructure
        The blocks and collapsed values, for symbolic sizes.

    Raises
    ------
    AnalysisError
        If the collapsed point cannot be found or the per-mode decomposition
        does not hold for this model.

    Examples
    --------
    >>> from statvae.model.presets import LinearVAE
    >>> [b.name() for b in mode_structure(LinearVAE(3, 2)).blocks]
    ['x:1, z:1', 'z:1']
    """
    key = model.structure_key()
    if key not in _CACHE:
        _CACHE[key] = _stored_or_derived(model, backend)
    return _CACHE[key]


def structure_cache_key(model: Model) -> str:
    """Key of the cache entry of ``model``'s structure.

    It depends on the model's structure only (not on dimensions or values),
    on the statvae and sympy versions and on :data:`STRUCTURE_VERSION`.

    Parameters
    ----------
    model : Model
        The model.

    Returns
    -------
    str
        32 hexadecimal digits.
    """
    from .._version import __version__

    text = repr(("mode structure", __version__, STRUCTURE_VERSION, sp.__version__, model.structure_key()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _stored_or_derived(model: Model, backend: str) -> ModeStructure:
    """The structure from its cache entry if there is a valid one, else derived (and the entry written)."""
    key = structure_cache_key(model)
    entry = storage.read_entry(key, STRUCTURE_FORMAT, _FIELDS)  # the digest is checked before anything is parsed
    if entry is not None:
        try:
            return structure_from_json(entry["structure"], model)
        except Exception:  # an entry that does not rebuild (another sympy's srepr, say) is a miss
            pass
    structure = _derive(model, backend)
    try:
        data = json.loads(json.dumps(structure_to_json(structure), allow_nan=False))
        exact = same_structure(structure_from_json(data, model), structure)
    except Exception:  # what cannot be written and read back exactly is not cached
        exact = False
    if exact:
        storage.write_entry(key, STRUCTURE_FORMAT, {"structure": data})
    return structure


def _expr_text(e: Any) -> str:
    return sp.srepr(e)


_NAMESPACE: dict[str, Any] = {}
_NAME = re.compile(r"[A-Za-z_]\w*")


def _parse(text: Any) -> Any:
    """A sympy object from its :func:`sympy.srepr` (only ever called on an entry whose digest was checked)."""
    if not isinstance(text, str):
        raise TypeError(f"expected the srepr of a sympy object, got {type(text).__name__}")
    for name in set(_NAME.findall(text)) - set(_NAMESPACE):  # the names srepr writes: Symbol, Integer, MatMul, ...
        if hasattr(sp, name):  # not `from sympy import *`, which loads all of sympy's lazy submodules
            _NAMESPACE[name] = getattr(sp, name)
    return sp.parse_expr(text, local_dict={}, global_dict=_NAMESPACE, transformations=())


def structure_to_json(structure: ModeStructure) -> dict[str, Any]:
    """The structure as JSON values, sympy objects as their :func:`sympy.srepr` (the model left out).

    Parameters
    ----------
    structure : ModeStructure
        A derived structure.

    Returns
    -------
    dict
        Lists, strings, numbers and booleans only; :func:`structure_from_json`
        reads it back.
    """
    blocks = [{"pattern": [[v, c] for v, c in b.pattern],
               "labels": list(b.labels),
               "template": [[name, [[v, r] for v, r in roles]] for name, roles in b.template],
               "matrix": _expr_text(b.matrix),
               "multiplicity": _expr_text(b.multiplicity),
               "spectral": [_expr_text(x) for x in b.spectral],
               "indices": [[v, list(letters)] for v, letters in b.indices.items()],
               "touches_latent": bool(b.touches_latent)} for b in structure.blocks]
    free: set[sp.Symbol] = set()
    for obj in _sympy_objects(structure):
        free |= getattr(obj, "free_symbols", set())
    hyper = H.latex_names()
    names = NM.latex_names()  # LaTeX the derivation registered for its symbols (x_eig_i -> \xi_{i}^{2}, ...)
    latex = [[_expr_text(x), names[x]] for x in sorted(free, key=sp.srepr) if x in names and x not in hyper]
    return {"blocks": blocks,
            "latex": latex,
            "collapsed": [[k, _expr_text(v)] for k, v in structure.collapsed.items()],
            "global_values": [[_expr_text(k), _expr_text(v)] for k, v in structure.global_values.items()],
            "diagonal_values": [[k, _expr_text(v)] for k, v in structure.diagonal_values.items()],
            "dims": [[k, _expr_text(v)] for k, v in structure.dims.items()],
            "traces": [[k, _expr_text(v)] for k, v in structure.traces.items()]}


def structure_from_json(data: dict[str, Any], model: Model) -> ModeStructure:
    """Rebuild a structure written by :func:`structure_to_json`.

    The strings are evaluated by :func:`sympy.parse_expr`: call this only on
    data from a checked cache entry (or from :func:`structure_to_json`).

    Parameters
    ----------
    data : dict
        What :func:`structure_to_json` returned (after a JSON round trip).
    model : Model
        A model of the structure's :meth:`Model.structure_key` (its values
        are made symbolic, as in a derivation).

    Returns
    -------
    ModeStructure
        The structure.

    Raises
    ------
    Exception
        Whatever reading malformed data raises (``KeyError``,
        ``TypeError``, ``ValueError``, ``SyntaxError``...).
    """
    def pairs(items: Any) -> list[tuple[str, Any]]:
        return [(str(k), _parse(v)) for k, v in items]

    blocks = []
    for b in data["blocks"]:
        matrix = _parse(b["matrix"])
        if not isinstance(matrix, sp.MatrixBase):
            raise TypeError("a block's matrix is not a matrix")
        blocks.append(ModeBlock(
            pattern=tuple((str(v), int(c)) for v, c in b["pattern"]),
            labels=[str(x) for x in b["labels"]],
            template=[(str(name), tuple((str(v), int(r)) for v, r in roles)) for name, roles in b["template"]],
            matrix=matrix,
            multiplicity=_parse(b["multiplicity"]),
            spectral=[_parse(x) for x in b["spectral"]],
            indices={str(v): [str(x) for x in letters] for v, letters in b["indices"]},
            touches_latent=bool(b["touches_latent"])))
    latex = [(_parse(x), str(t)) for x, t in data["latex"]]
    for x, t in latex:  # as a derivation would have registered them
        if isinstance(x, sp.Symbol):
            NM.register_latex(x, t)
    return ModeStructure(_symbolic(model), blocks, dict(pairs(data["collapsed"])),
                         {_parse(k): _parse(v) for k, v in data["global_values"]},
                         dict(pairs(data["diagonal_values"])), dict(pairs(data["dims"])),
                         dict(pairs(data["traces"])))


def _sympy_objects(structure: ModeStructure) -> list[Any]:
    """Every sympy object the structure holds."""
    out: list[Any] = []
    for b in structure.blocks:
        out += [b.matrix, b.multiplicity, *b.spectral]
    out += [*structure.collapsed.values(), *structure.global_values, *structure.global_values.values(),
            *structure.diagonal_values.values(), *structure.dims.values(), *structure.traces.values()]
    return out


def same_structure(a: ModeStructure, b: ModeStructure) -> bool:
    """Whether two structures agree in everything but their :attr:`~ModeStructure.model`.

    Blocks are compared field by field (patterns, labels, templates, matrices,
    multiplicities, spectral symbols, index letters) and the dictionaries
    entry by entry, in order; sympy objects structurally (``==``) and by type.

    Parameters
    ----------
    a, b : ModeStructure
        The structures.

    Returns
    -------
    bool
        True if they are the same.
    """
    def same(x: Any, y: Any) -> bool:
        if isinstance(x, (list, tuple)):
            return (type(x) is type(y) and len(x) == len(y)
                    and all(same(u, v) for u, v in zip(x, y)))
        if isinstance(x, dict):
            return (isinstance(y, dict) and list(x) == list(y) and all(same(x[k], y[k]) for k in x))
        return type(x) is type(y) and bool(x == y)

    if len(a.blocks) != len(b.blocks):
        return False
    for p, q in zip(a.blocks, b.blocks):
        if not all(same(getattr(p, f.name), getattr(q, f.name)) for f in fields(ModeBlock)):
            return False
    return all(same(getattr(a, name), getattr(b, name))
               for name in ("collapsed", "global_values", "diagonal_values", "dims", "traces"))


def _symbolic(model: Model) -> Model:
    return model.with_values(**{n: None for n in model.values})


def _derive(model: Model, backend: str) -> ModeStructure:
    model = _symbolic(model)
    g = model.graph
    dims = {v.name: NM.dim_symbol(v) for v in g.variables()}
    traces = {v.name: NM.trace_symbol(v) for v in g.observed()}

    # --- collapsed values from the weighted one-coordinate model --------
    r1 = model.resized(**{v.name: 1 for v in g.variables()})
    obj1 = build_objective(r1, "eigen", substitute=False, weights=dims)
    mean = {NM.spectral_symbol(v, 1): traces[v.name] / dims[v.name] for v in g.observed()}
    total1 = obj1.total.xreplace(mean)
    p1 = obj1.parameters
    assert p1 is not None, "the eigen form has explicit parameters"
    zero1 = {e.symbol: 0 for e in p1.entries if e.odd_coordinates()}
    even1 = [e.symbol for e in p1.entries if not e.odd_coordinates()]
    grad1 = dict(zip(p1.symbols, gradient(total1, p1.symbols, backend=backend)))
    sol1 = solve_stationary(grad1, even1, zero1) if even1 else {}
    point1 = {**zero1, **sol1}
    verify_stationary(grad1, point1)
    globals_ = {e.symbol: sol1[e.symbol] for e in p1.entries if not e.coords}
    diag_vals = {e.block: sol1[e.symbol] for e in p1.entries if e.coords and not e.odd_coordinates()}
    for b, val in diag_vals.items():
        if val.free_symbols & (set(traces.values()) | set(dims.values())):
            raise AnalysisError(f"the collapsed value of {b} depends on the spectrum; per-mode analysis does not apply")

    # --- Hessian of the two-coordinate model at its collapsed point ------
    r2 = model.resized(**{v.name: 2 for v in g.variables()})
    obj2 = build_objective(r2, "eigen", substitute=False)
    p2 = obj2.parameters
    assert p2 is not None, "the eigen form has explicit parameters"
    point2 = {}
    for e in p2.entries:
        if e.odd_coordinates():
            point2[e.symbol] = 0
        elif not e.coords:
            point2[e.symbol] = globals_[e.symbol]
        else:
            point2[e.symbol] = diag_vals[e.block]
    glob2 = [e.symbol for e in p2.entries if not e.coords]
    grad2 = dict(zip(p2.symbols, gradient(obj2.total, p2.symbols, backend=backend)))
    verify_stationary(grad2, point2, skip=glob2)
    h2 = hessian(obj2.total, p2.symbols, backend=backend).xreplace(point2)
    h2 = h2.applyfunc(lambda x: sp.factor(sp.simplify(x)))

    groups: dict = {}
    for k, e in enumerate(p2.entries):
        groups.setdefault(e.coordinate_set, []).append(k)
    for ga, gb in combinations(groups, 2):
        for a in groups[ga]:
            for b in groups[gb]:
                if h2[a, b] != 0:
                    raise AnalysisError(
                        f"Hessian entries {p2.symbols[a]} and {p2.symbols[b]} couple across modes "
                        f"({h2[a, b]}); the per-mode decomposition does not hold for this model"
                    )

    blocks, seen = [], set()
    latent_names = {v.name for v in g.latents()}
    for cs, idx in sorted(groups.items(), key=lambda kv: kv[1][0]):
        pattern = _pattern(cs)
        if pattern in seen:
            continue
        seen.add(pattern)
        entries = [p2.entries[k] for k in idx]
        if not cs:  # global parameters: their block comes from the weighted R1 model
            gsyms = [e.symbol for e in entries]
            hm = hessian(total1, gsyms, backend=backend).xreplace(point1)
            mat = hm.applyfunc(lambda x: sp.factor(sp.simplify(x)))
            rename: dict[sp.Symbol, sp.Symbol] = {}
            letters: dict[str, list[str]] = {}
        else:
            rename, letters = _generic_names(cs, g)
            mat = sp.Matrix(len(idx), len(idx), lambda a, b: h2[idx[a], idx[b]]).xreplace(rename)
            leftover = {s for s in mat.free_symbols if s.name.split("_eig_")[-1].isdigit() and "_eig_" in s.name}
            if leftover:
                raise AnalysisError(f"block {pattern} depends on eigenvalues of other modes: {leftover}")
        roles = [(e.block, _roles(e, cs)) for e in entries]
        labels = [_label(e, cs, g, letters) for e in entries]
        mult = sp.Mul(*[sp.binomial(dims[v], c) for v, c in pattern])
        spectral = sorted({s for s in mat.free_symbols if "_eig_" in s.name}, key=lambda s: s.name)
        touches = bool(_odd_pattern(entries) & latent_names)
        blocks.append(ModeBlock(pattern, labels, roles, mat, sp.simplify(mult), spectral, letters, touches))

    collapsed = _collapsed_description(model, p1, sol1, dims)
    return ModeStructure(model, blocks, collapsed, globals_, diag_vals, dims, traces)


def _pattern(cs: frozenset) -> tuple:
    count: dict = {}
    for v, _ in cs:
        count[v] = count.get(v, 0) + 1
    return tuple(sorted(count.items()))


def _odd_pattern(entries) -> set:
    out = set()
    for e in entries:
        out |= {v for v, _ in e.odd_coordinates()}
    return out


def _ranks(cs: frozenset) -> dict:
    """Coordinate -> rank (0, 1) among the set's coordinates of the same variable."""
    out = {}
    for v in {c[0] for c in cs}:
        for r, c in enumerate(sorted(c for c in cs if c[0] == v)):
            out[c] = r
    return out


def _roles(entry, cs) -> tuple:
    rk = _ranks(cs)
    return tuple((c[0], rk[c]) for c in entry.coords)


def _letter(var, rank: int) -> str:
    return var.index + "'" * rank


def _generic_names(cs: frozenset, g: ModelGraph) -> tuple[dict[sp.Symbol, sp.Symbol], dict[str, list[str]]]:
    rk = _ranks(cs)
    rename: dict[sp.Symbol, sp.Symbol] = {}
    letters: dict[str, list[str]] = {}
    for c, r in sorted(rk.items()):
        var = g.variable(c[0])
        letters.setdefault(c[0], []).append(_letter(var, r))
        if var.observed:
            rename[NM.spectral_symbol(var, c[1] + 1)] = NM.spectral_symbol(var, _letter(var, r))
    return rename, letters


def _label(entry, cs, g, letters) -> str:
    from .names import latex_names

    if not entry.coords:
        return latex_names().get(entry.symbol, str(entry.symbol))
    from .parameters import entry_latex_base

    rk = _ranks(cs)
    base = entry_latex_base(entry.block)
    sub = "".join(_letter(g.variable(c[0]), rk[c]) for c in entry.coords)
    return f"{base}_{{{sub}}}"


def _collapsed_description(model, p1, sol1, dims) -> dict:
    """Block name -> collapsed value in matrix notation (generic sizes)."""
    g = model.graph
    out = {}
    for name, b in p1.blocks.items():
        if b.kind == "map":
            # maps touching a latent vanish at collapse; an observed-to-observed map is the regression,
            # which is zero in the canonical gauge (its general value comes from explicit_hessian())
            out[name] = sp.Integer(0)
        elif b.kind == "covariance":
            z = g.variable(b.owner)
            val = b.value[0, 0] if b.encoder == "fixed" else sol1[b.entries[0].symbol]
            out[name] = sp.MatMul(val, sp.Identity(dims[z.name]))
        else:
            out[name] = sol1[b.entries[0].symbol]
    return out


def assemble_hessian(structure: ModeStructure, model: Model, spectra: dict | None = None) -> sp.Matrix:
    """The full collapse Hessian of ``model`` (explicit size) from the blocks.

    Parameters
    ----------
    structure : ModeStructure
        The per-mode structure of the model (:func:`mode_structure`).
    model : Model
        The model at explicit sizes; its hyper-parameter values are substituted.
    spectra : dict, optional
        Eigenvalues by observed variable; None keeps the symbols of the
        ``"eigen"`` form (``x_eig_1``, ...).

    Returns
    -------
    sympy.Matrix
        Rows and columns in ``build_parameters(model)`` order.
    """
    from .parameters import build_parameters

    g = model.graph
    params = build_parameters(model)
    k = len(params)
    h = sp.zeros(k, k)
    groups: dict = {}
    for i, e in enumerate(params.entries):
        groups.setdefault(e.coordinate_set, []).append(i)
    by_pattern = {b.pattern: b for b in structure.blocks}
    dims_sub = {structure.dims[v.name]: v.dim for v in g.variables()}
    tr_sub = {}
    for v in g.observed():
        vals = [NM.spectral_symbol(v, i + 1) for i in range(v.dim)] if spectra is None else list(spectra[v.name])
        tr_sub[structure.traces[v.name]] = sp.Add(*vals)
    for cs, idx in groups.items():
        blk = by_pattern[_pattern(cs)]
        rk = _ranks(cs)
        sub = dict(dims_sub)
        sub.update(tr_sub)
        for c, r in rk.items():
            var = g.variable(c[0])
            if var.observed:
                val = NM.spectral_symbol(var, c[1] + 1) if spectra is None else spectra[var.name][c[1]]
                sub[NM.spectral_symbol(var, _letter(var, r))] = val
        mat = blk.matrix.xreplace(sub)
        pos = {(params.entries[i].block, _roles(params.entries[i], cs)): i for i in idx}
        order = [pos[t] for t in blk.template]
        for a, ia in enumerate(order):
            for b, ib in enumerate(order):
                h[ia, ib] = mat[a, b]
    return h.xreplace(model.substitutions())
