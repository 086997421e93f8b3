"""The canonical form of a data set for a model, and whether it exists.

The per-mode analysis of collapse (:mod:`statvae.symbolic.modes`) works in a
basis where the joint second moment of the observed variables is *diagonal*:
every observed variable in the eigenbasis of its own block, and no
cross-moment between two observed variables.  A data set can be brought to
that form only by symmetries of the objective:

* a rotation of one observed variable (always a symmetry: the noise is
  isotropic, maps and weight decays are rotation invariant), which
  diagonalises its own block;
* a regression shift ``y -> y - K x`` of an observed ``y`` by observed
  generative parents ``x``, which removes the cross-moment of ``x`` and ``y``.
  It is a symmetry only if every map that reads ``y`` can absorb ``K``: the
  direct map ``x -> y`` becomes ``C - K``, and every other map ``y -> t`` needs
  a sibling ``x -> t`` of the same role that becomes ``A + B K``.  Each map
  changed must carry no weight decay (a decay is not shift invariant).

Every other cross-moment must already vanish.  :func:`canonical_form`
applies the valid shifts, then *checks* the remaining cross-moments on the
data in hand, relative to the scale of the blocks they couple.  When one
does not vanish the per-mode reduction does not apply to these data and the
analysis falls back to the compiled Hessian (``CanonicalForm.valid`` is
``False``; ``violations`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from .spectra import validate_covariance

if TYPE_CHECKING:
    from ..model.graph import ModelGraph

__all__ = ["CanonicalForm", "Violation", "canonical_form", "regression_shifts", "shift_decays", "observed_slices",
           "CROSS_RTOL"]

#: A cross-moment counts as zero below this size relative to ``sqrt(|S_aa| |S_bb|)``
#: (spectral norms): round-off of a regression is ~1e-15 of that.
CROSS_RTOL = 1e-10


@dataclass(frozen=True)
class Violation:
    """A cross-moment that no symmetry removes, so the per-mode reduction fails.

    Attributes
    ----------
    a, b : str
        The two observed variables.
    size : float
        ``|S_ab| / sqrt(|S_aa| |S_bb|)`` (spectral norms) after the valid shifts.
    reason : str
        Why it could not be removed (one line).
    """

    a: str
    b: str
    size: float
    reason: str

    def __str__(self) -> str:
        return f"|Σ_{self.a}{self.b}| = {self.size:.3g} (relative): {self.reason}"


@dataclass
class CanonicalForm:
    """A data set in the canonical gauge of a model, or the reason it has none.

    Attributes
    ----------
    covariance : numpy.ndarray
        The validated joint second moment of the observed variables, as given.
    shifted : numpy.ndarray
        The same after the valid regression shifts.
    spectra : dict
        Variable name -> descending eigenvalues of its block of ``shifted``.
    shifts : dict
        Variable name -> the observed variables it was regressed on.
    violations : list of Violation
        Cross-moments left non-zero; empty when the form is canonical.
    """

    covariance: np.ndarray
    shifted: np.ndarray
    spectra: dict[str, np.ndarray]
    shifts: dict[str, list[str]] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Whether the per-mode reduction applies to these data."""
        return not self.violations

    def describe(self) -> str:
        """One line: why the per-mode reduction does not apply (empty when it does)."""
        return "; ".join(str(v) for v in self.violations)


def observed_slices(graph: ModelGraph) -> dict[str, slice]:
    """Variable name -> slice of its coordinates in the joint data vector (graph order).

    Parameters
    ----------
    graph : ModelGraph
        The model graph.

    Returns
    -------
    dict
        A slice by observed variable name.

    Examples
    --------
    >>> import statvae
    >>> observed_slices(statvae.ConditionalVAE(2, 3, 1).graph)
    {'x': slice(0, 2, None), 'y': slice(2, 5, None)}
    """
    out: dict[str, slice] = {}
    off = 0
    for v in graph.observed():
        out[v.name] = slice(off, off + v.dim)
        off += v.dim
    return out


def _decay_zero(name: str | None, hyper: dict[str, Any]) -> bool:
    """Whether a weight decay named ``name`` is known to vanish (``None``: no decay at all)."""
    if name is None:
        return True
    v = hyper.get(name)
    return v is not None and float(v) == 0.0


def regression_shifts(graph: ModelGraph, hyper: dict[str, Any]) -> dict[str, list[str]]:
    """Which regression shifts are symmetries of the objective for these hyper-parameter values.

    Parameters
    ----------
    graph : ModelGraph
        The model graph.
    hyper : dict
        Hyper-parameter name -> number, or ``None`` when unknown (free, or
        being solved for): an unknown weight decay counts as non-zero.

    Returns
    -------
    dict
        Observed variable ``y`` -> list of observed ``x`` such that ``y -> y - K x``
        is a symmetry (``y`` generated from ``x`` through a map without
        weight decay, and every other map reading ``y`` absorbed by an
        undecayed sibling from ``x``).
    """
    out: dict[str, list[str]] = {}
    for y in graph.observed():
        ok = [c.source for c in graph.parents(y.name, "generative")
              if (d := shift_decays(graph, y.name, c.source)) is not None and all(_decay_zero(n, hyper) for n in d)]
        if ok:
            out[y.name] = ok
    return out


def shift_decays(graph: ModelGraph, y: str, x: str) -> list[str] | None:
    """Weight decays that must vanish for ``y -> y - K x`` to be a symmetry (None: never one).

    The shift needs a generative map ``x -> y`` and, for every other map
    reading ``y``, a sibling from ``x`` into the same target with the same
    role; the decays of the direct map and of those siblings must be zero.

    Parameters
    ----------
    graph : ModelGraph
        The model graph.
    y, x : str
        Observed variables: ``y`` is regressed on ``x``.

    Returns
    -------
    list of str or None
        The names of the decays (sorted; empty if none), or None if the shift is never a symmetry.
    """
    maps = graph.maps()
    direct = [m for m in graph.parents(y, "generative") if m.source == x]
    if not direct or not graph.variable(x).observed:
        return None
    out = [direct[0].weight_decay]
    for m in maps:
        if m.source != y:
            continue
        sib = [s for s in maps if s.source == x and s.target == m.target and s.role == m.role]
        if not sib:
            return None
        out.append(sib[0].weight_decay)
    return sorted({d for d in out if d is not None})


def _why(graph: ModelGraph, a: str, b: str, hyper: dict[str, Any]) -> str:
    """The reason a cross-moment of ``a`` and ``b`` is not removed by a shift."""
    for y, x in ((a, b), (b, a)):
        direct = [m for m in graph.parents(y, "generative") if m.source == x]
        if not direct:
            continue
        if not _decay_zero(direct[0].weight_decay, hyper):
            return f"the map {direct[0].name} from {x} to {y} is weight-decayed, which breaks the regression gauge"
        for m in graph.maps():
            if m.source != y:
                continue
            sib = [s for s in graph.maps() if s.source == x and s.target == m.target and s.role == m.role]
            if not sib:
                return (f"{m.name} reads {y} but no map from {x} into {m.target} can absorb the regression of "
                        f"{y} on {x}")
            if not _decay_zero(sib[0].weight_decay, hyper):
                return (f"a weight decay on {sib[0].name} (or solving for it) breaks the regression gauge of "
                        f"{y} given {x}")
    return f"{a} and {b} are correlated and no symmetry of the model removes it"


def _norm(m: np.ndarray) -> float:
    return float(np.linalg.norm(m, 2)) if m.size else 0.0


def canonical_form(graph: ModelGraph, covariance: Any, hyper: dict[str, Any] | None = None,
                   rtol: float = CROSS_RTOL) -> CanonicalForm:
    """Bring a joint second moment to the model's canonical gauge, checking that it exists.

    Parameters
    ----------
    graph : ModelGraph
        The model graph.
    covariance : array_like
        Joint second moment of the observed variables, in graph order.
    hyper : dict, optional
        Hyper-parameter values (``None`` for unknown: see :func:`regression_shifts`).
    rtol : float
        Cross-moments below ``rtol * sqrt(|S_aa| |S_bb|)`` count as zero.

    Returns
    -------
    CanonicalForm
        The shifted second moment, its spectra, and the violations (if any).

    Raises
    ------
    DataError
        If ``covariance`` is no valid covariance of the observed variables' total dimension.

    Examples
    --------
    >>> import numpy as np, statvae
    >>> g = statvae.ConditionalVAE(1, 1, 1).graph
    >>> c = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> f = canonical_form(g, c, {"weight_decay_enc": 0, "weight_decay_dec": 0})
    >>> f.valid, f.spectra["y"]
    (True, array([2.5]))
    >>> canonical_form(g, c, {"weight_decay_enc": 0.1, "weight_decay_dec": 0}).valid
    False
    """
    hyper = dict(hyper or {})
    c = validate_covariance(covariance)
    obs = graph.observed()
    k = sum(v.dim for v in obs)
    if c.shape[0] != k:
        raise DataError(f"covariance must be {k}x{k} for this model "
                        f"({', '.join(f'{v.name}: {v.dim}' for v in obs)}), got {c.shape[0]}x{c.shape[1]}")
    sl = observed_slices(graph)
    shifts = regression_shifts(graph, hyper)
    s = c.copy()
    import networkx as nx

    order = [n for n in nx.lexicographical_topological_sort(graph.role_graph("generative")) if n in sl]
    for name in order:  # parents before children: each is regressed on its (already shifted) parents
        v = graph.variable(name)
        xs = shifts.get(v.name)
        if not xs:
            continue
        idx = np.concatenate([np.arange(k)[sl[x]] for x in xs])
        sxx = s[np.ix_(idx, idx)]
        kmat = s[sl[v.name], idx] @ np.linalg.pinv(sxx, rcond=1e-12, hermitian=True)
        t = np.eye(k)
        t[sl[v.name], idx] = -kmat
        s = t @ s @ t.T
        s = (s + s.T) / 2
    spectra: dict[str, np.ndarray] = {}
    scale: dict[str, float] = {}
    for v in obs:
        blk = s[sl[v.name], sl[v.name]]
        ev = np.linalg.eigvalsh(blk)
        spectra[v.name] = np.sort(np.clip(ev, 0, None))[::-1]
        scale[v.name] = max(float(spectra[v.name][0]), 0.0)
    violations = []
    for ia, a in enumerate(obs):
        for b in obs[ia + 1:]:
            cross = _norm(s[sl[a.name], sl[b.name]])
            if cross == 0.0:
                continue
            ref = np.sqrt(scale[a.name] * scale[b.name])
            size = cross / ref if ref > 0 else np.inf
            if size > rtol:
                violations.append(Violation(a.name, b.name, float(size), _why(graph, a.name, b.name, hyper)))
    return CanonicalForm(c, s, spectra, shifts, violations)
