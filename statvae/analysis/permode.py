"""The per-mode Hessian blocks at collapse, evaluated on numeric spectra and hyper-parameter values.

For data with a canonical form (:mod:`statvae.data.canonical`) the Hessian at
the collapsed point splits into small blocks, one per mode (one data
eigen-direction and one latent coordinate per observed and latent variable
the block touches; :mod:`statvae.symbolic.modes`).  Here each block type is
lambdified once and evaluated for every mode at once; the roots of its
determinant in the parameter are solved in closed form where sympy can, else
bracketed on an adaptive scan.

Everything here is a claim about canonical data; the numeric answers built on
it are confirmed by the compiled Hessian (:mod:`statvae.analysis.selfcheck`).
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import combinations, product
from typing import Any, NamedTuple
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..errors import AnalysisError
from ..model import hyper as H
from ..symbolic import names as NM
from ..symbolic.modes import ModeBlock, ModeStructure
from ..symbolic.stability import numeric_blocks_stable, positive_counts, scaled_eigenvalues

__all__ = ["Candidate", "PerModeBlocks", "hyper_numbers", "latent_copies"]


def hyper_numbers(model: Any, parameter: str | None, values: dict) -> dict:
    """Exact values of every hyper-parameter but ``parameter``: ``{symbol: number}``.

    Parameters
    ----------
    model : Model
    parameter : str or None
        The hyper-parameter left free (solved for).
    values : dict
        Values overriding the model's.

    Raises
    ------
    ModelError
        If ``values`` names something that is not a hyper-parameter.
    AnalysisError
        If a hyper-parameter other than ``parameter`` has no value.
    """
    model.require_hyper(*sorted(values))
    out = {}
    for n, v in model.values.items():
        if n == parameter:
            continue
        v = H.coerce_value(n, values[n]) if n in values else v
        if not v.is_number:
            raise AnalysisError(f"{n} has no value: pass {n}=... (or --{n.replace('_', '-')} on the command line)")
        out[H.symbol(n)] = v
    return out


def latent_copies(graph: Any, pattern: tuple) -> int:
    """Identical copies of a block with this pattern: one per choice of latent coordinates.

    Parameters
    ----------
    graph : ModelGraph
        The model's graph.
    pattern : tuple of (str, int)
        Variable name and how many of its coordinates the block involves.

    Returns
    -------
    int
        The product over latent variables of ``binomial(dim, count)`` (observed variables count once).
    """
    copies = 1
    for var_name, count in pattern:
        var = graph.variable(var_name)
        if not var.observed:
            copies *= int(sp.binomial(var.dim, count))
    return copies


class Candidate(NamedTuple):
    """A root of a block determinant for one mode: a possible crossing."""

    value: float
    block: ModeBlock
    mode: dict
    method: str
    mode_index: int


#: Closed-form roots of block determinants: ``id(block) -> (block, {key: result})``; the block is kept
#: with its entry so that its id cannot be reused while the entry lives.  Bounded (least recently used out).
_ROOTS: OrderedDict[int, tuple[ModeBlock, dict]] = OrderedDict()
_ROOTS_LIMIT = 256


class PerModeBlocks:
    """Every per-mode block at collapse as a numeric function of the parameter.

    Parameters
    ----------
    model : Model
    structure : ModeStructure
    parameter : str or None
        The parameter the blocks are functions of (None: evaluate at the
        model's values only).
    spectra : dict
        Canonical eigenvalues per observed variable.
    values : dict
        Values of the other hyper-parameters (override the model's).
    """

    def __init__(self, model: Any, structure: ModeStructure, parameter: str | None, spectra: dict,
                 values: dict) -> None:
        self.model = model
        self.structure = structure
        self.parameter = parameter
        self.spectra = spectra
        self.symbol = H.symbol(parameter) if parameter else None
        self.exact = hyper_numbers(model, parameter, values)
        env: dict = {k: float(v) for k, v in self.exact.items()}
        g = model.graph
        for v in g.variables():
            env[structure.dims[v.name]] = float(v.dim)
        for v in g.observed():
            env[structure.traces[v.name]] = float(np.sum(spectra[v.name]))
        self.env = env
        #: Per block: the arguments of its evaluator, the lambdified function and the spectral slots (see
        #: :meth:`plan_blocks`).
        self._made: list[tuple[list, Any, dict]] = []
        self.evals = [self._evaluator(b) for b in structure.blocks]

    def _mode_arrays(self, block: ModeBlock, slots: dict | None = None) -> tuple[dict, list]:
        """Arrays of spectral values for every mode of a block, and the mode indices.

        ``slots``, if given, receives ``symbol -> (variable, rank)`` for every array.
        """
        g = self.model.graph
        per_var = []
        for var_name, count in block.pattern:
            var = g.variable(var_name)
            if var.observed:
                per_var.append((var, list(combinations(range(var.dim), count))))
        if not per_var:
            return {}, [dict()]
        modes = list(product(*[c for _, c in per_var]))
        arrays = {}
        for k, (var, _) in enumerate(per_var):
            for r in range(max(len(m[k]) for m in modes)):
                sym = NM.spectral_symbol(var, var.index + "'" * r)
                arrays[sym] = np.array([self.spectra[var.name][m[k][r]] for m in modes], dtype=float)
                if slots is not None:
                    slots[sym] = (var.name, r)
        mode_ids = [{var.name: m[k] for k, (var, _) in enumerate(per_var)} for m in modes]
        return arrays, mode_ids

    def _evaluator(self, b: ModeBlock) -> tuple:
        """``(block, at, arrays, mode_ids)``: ``at(p)`` stacks the block of every mode at parameter ``p``."""
        st, p, env = self.structure, self.symbol, self.env
        args = ([p] if p is not None else []) + b.spectral + [H.symbol(n) for n in self.model.values] \
            + list(st.dims.values()) + list(st.traces.values())
        args = list(dict.fromkeys(args))
        f = sp.lambdify(args, list(b.matrix), "numpy")
        slots: dict = {}
        arrays, mode_ids = self._mode_arrays(b, slots)
        self._made.append((args, f, slots))
        nmodes, k = len(mode_ids), b.matrix.shape[0]

        def at(pv: float | None) -> np.ndarray:
            vals = []
            for a in args:
                if a is p:
                    vals.append(np.full(nmodes, pv, dtype=float))
                elif a in arrays:
                    vals.append(arrays[a])
                else:
                    vals.append(np.full(nmodes, env[a], dtype=float))
            with np.errstate(all="ignore"):
                entries = f(*vals)
            out = np.empty((nmodes, k, k))
            for idx, e in enumerate(entries):
                out[:, idx // k, idx % k] = np.broadcast_to(np.asarray(e, dtype=float), (nmodes,))
            return out

        return b, at, arrays, mode_ids

    # -- answers ----------------------------------------------------------------
    def index(self) -> int:
        """Ascent directions at collapse (the Morse index), at the model's values."""
        g = self.model.graph
        return sum(int(positive_counts(at(None)).sum()) * latent_copies(g, b.pattern)
                   for b, at, _, _ in self.evals)

    def stable_at(self, v: float) -> bool:
        """Whether every block is negative definite at parameter value ``v``.

        Parameters
        ----------
        v : float
            The parameter value.

        Returns
        -------
        bool
        """
        return all(numeric_blocks_stable(at(v)).all() for _, at, _, _ in self.evals)

    def candidates(self, nonnegative: bool, scale: float) -> list[Candidate]:
        """Roots of the block determinants in the parameter, per mode (closed form, else bracketed).

        ``scale`` centres the scan of blocks whose roots have no closed form.

        Parameters
        ----------
        nonnegative : bool
            The parameter may be 0.
        scale : float
            Centre of the numeric scan.

        Returns
        -------
        list of Candidate
        """
        p = self.symbol
        out = []
        for b, at, arrays, mode_ids in self.evals:
            if p not in b.matrix.free_symbols:
                continue
            roots, method = self._det_roots(b)
            for k, mode in enumerate(mode_ids):
                if roots is not None:
                    sub_env = dict(self.env)
                    for sym, arr in arrays.items():
                        sub_env[sym] = arr[k]
                    for r in roots:
                        v = complex(r(*[sub_env[a] for a in self._root_args(b)]))
                        if abs(v.imag) <= 1e-12 * max(1, abs(v.real)) and (v.real > 0 or (nonnegative and v.real == 0)):
                            out.append(Candidate(v.real, b, mode, method, k))
                else:
                    for v in _scan_roots(at, k, nonnegative, scale):
                        out.append(Candidate(v, b, mode, "bracketed root", k))
        return out

    def changes(self, cands: list[Candidate], nonnegative: bool) -> list[tuple[Candidate, int]]:
        """``[(candidate, change)]``: how many eigenvalues of its block cross at each root (0: a touch).

        Parameters
        ----------
        cands : list of Candidate
            From :meth:`candidates`.
        nonnegative : bool
            The parameter may be 0.

        Returns
        -------
        list of tuple
            Each candidate with the change of its block's count of positive eigenvalues across it.
        """
        from .selfcheck import sides

        at_of = {id(b): at for b, at, _, _ in self.evals}
        roots: dict = {}
        for c in cands:
            roots.setdefault((id(c.block), c.mode_index), []).append(c.value)
        out = []
        for c in cands:
            if c.value <= 0:
                out.append((c, 0))
                continue
            lo, hi = sides(roots[(id(c.block), c.mode_index)], c.value, nonnegative)
            at, k = at_of[id(c.block)], c.mode_index
            n_lo = int(positive_counts(at(lo)[k:k + 1])[0])
            n_hi = int(positive_counts(at(hi)[k:k + 1])[0])
            out.append((c, abs(n_hi - n_lo)))
        return out

    # -- the collapse plan ----------------------------------------------------------
    def _slot(self, a: Any, slots: dict) -> list | None:
        """How a collapse plan gets argument ``a`` of an evaluator (None: it cannot)."""
        if self.symbol is not None and a is self.symbol:
            return ["p"]
        if a in slots:
            return ["spectral", *slots[a]]
        for name, t in self.structure.traces.items():
            if a == t:
                return ["trace", name]
        if a in self.env:
            return ["const", float(self.env[a])]
        return None

    def plan_blocks(self) -> list[dict] | None:
        """Every block as a collapse plan holds it (:mod:`statvae.collapse_plan`), or None if one cannot be.

        Each block: its label, size, the observed variables it runs over
        (``[name, dim, count]``), whether it depends on the parameter, the
        generated source of its evaluator (:func:`statvae.collapse_plan.describe_function`)
        with the slot of each argument (``["p"]``, ``["spectral", variable, rank]``,
        ``["trace", variable]``, ``["const", value]``) and, for the blocks that
        depend on the parameter, the closed-form roots of the determinant the same
        way.  None when a root has no closed form or a function cannot be
        described: such models take the full path.

        Returns
        -------
        list of dict or None
        """
        from ..collapse_plan import describe_function

        g = self.model.graph
        out = []
        for (b, _, _, _), (args, f, slots) in zip(self.evals, self._made):
            arg_slots = [self._slot(a, slots) for a in args]
            entries = describe_function(f)
            if entries is None or any(x is None for x in arg_slots):
                return None
            depends = self.symbol is not None and self.symbol in b.matrix.free_symbols
            roots = root_slots = None
            if depends:
                fns, method = self._det_roots(b)
                if fns is None or method != "closed form":
                    return None
                roots = [describe_function(r) for r in fns]
                root_slots = [self._slot(a, slots) for a in self._root_args(b)]
                if any(r is None for r in roots) or any(x is None for x in root_slots) \
                        or any(x[0] == "p" for x in root_slots if x is not None):
                    return None
            observed = [[v, g.variable(v).dim, c] for v, c in b.pattern if g.variable(v).observed]
            out.append({"label": ", ".join(b.labels), "size": int(b.matrix.shape[0]), "observed": observed,
                        "depends": depends, "args": arg_slots, "entries": entries, "roots": roots,
                        "root_args": root_slots if root_slots is not None else []})
        return out

    # -- roots ---------------------------------------------------------------------
    def _root_args(self, b: ModeBlock) -> list:
        st = self.structure
        return list(dict.fromkeys(b.spectral + list(st.dims.values()) + list(st.traces.values())))

    def _det_roots(self, b: ModeBlock) -> tuple[list | None, str]:
        """Roots of ``det B = 0`` in the parameter with the other hyper-parameters substituted exactly."""
        p, exact = self.symbol, self.exact
        key = (p, tuple(sorted((k.name, sp.srepr(v)) for k, v in exact.items())))
        entry = _ROOTS.get(id(b))
        if entry is not None and entry[0] is b and key in entry[1]:
            _ROOTS.move_to_end(id(b))
            return entry[1][key]
        det = sp.numer(sp.together(sp.simplify(b.matrix.xreplace(exact).det())))
        res: tuple[list | None, str]
        try:
            roots = sp.solve(det, p)
            fns = [sp.lambdify(self._root_args(b), r, modules=["numpy", {"sqrt": np.emath.sqrt}]) for r in roots]
            res = (fns, "closed form")
        except (NotImplementedError, sp.PolynomialError):
            res = (None, "bracketed root")
        if entry is None or entry[0] is not b:
            entry = (b, dict[tuple, tuple]())
        entry[1][key] = res
        _ROOTS[id(b)] = entry
        _ROOTS.move_to_end(id(b))
        while len(_ROOTS) > _ROOTS_LIMIT:
            _ROOTS.popitem(last=False)
        return res


def _scan_roots(at: Callable, k: int, nonnegative: bool, scale: float = 1.0) -> list[float]:
    """Every value where an eigenvalue of mode ``k``'s block changes sign (adaptive scan + Brent)."""
    from scipy.optimize import brentq

    from .scan import adaptive_scan

    def eig(v: float) -> np.ndarray:
        return scaled_eigenvalues(at(v)[k:k + 1])[0]

    res = adaptive_scan(eig, scale, nonnegative)
    out = []
    for a, b, fa, fb in zip(res.grid, res.grid[1:], res.values, res.values[1:]):
        if fa is None or fb is None:
            continue
        for r in range(len(fa)):  # eigenvalues sorted: the r-th changes sign (counts differ)
            if (fa[r] > 0) != (fb[r] > 0):
                out.append(brentq(lambda v, r=r: float(eig(v)[r]), a, b, xtol=1e-300, rtol=4e-16, maxiter=500))
    return out
