"""The bifurcation diagram: branches and special points in a networkx graph, saved and loaded exactly.

Nodes are ``("branch", id)`` and ``("point", id)``; edges ``branch -> point``
(the point lies on the branch) and ``point -> branch`` (the branch emanates
from the point).  Branch data are tables (numpy arrays) of the parameter,
the Morse index and every recorded observable; parameter vectors are kept if
asked.  ``save`` writes JSON (floats written with ``repr``: exact) or npz
(arrays as arrays, metadata as JSON); ``load`` reads either back to an equal
diagram.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np

from ..errors import DataError
from .locate import SpecialPoint

__all__ = ["Branch", "BifurcationDiagram"]

FORMAT = "statvae-diagram-1"


@dataclass
class Branch:
    """One branch of stationary points.

    Attributes
    ----------
    id : int
    parent : int or None
        Branch it emanates from.
    origin : int or None
        Special point it emanates from.
    label : str
        ``"collapsed"`` or the characters of its isotropy subspace (``x1+z1``).
    span : list of int
        Generators of its character span (identifies the isotropy subspace).
    parameter : numpy.ndarray
    index : numpy.ndarray
        Morse index (ascent directions) at each point.
    data : dict
        Observable name -> array (per latent: 2-D arrays).
    theta : numpy.ndarray or None
        Parameter vectors, one row per point.
    stop_reason : str
    duplicate_of : int or None
        Set when the branch is a symmetry copy of another one.
    """

    id: int
    parent: int | None
    origin: int | None
    label: str
    span: list
    parameter: np.ndarray
    index: np.ndarray
    data: dict
    theta: np.ndarray | None = None
    stop_reason: str = ""
    duplicate_of: int | None = None

    @property
    def points(self) -> int:
        return len(self.parameter)

    @property
    def stable(self) -> np.ndarray:
        return self.index == 0

    def __eq__(self, other):
        if not isinstance(other, Branch):
            return NotImplemented
        same = all(getattr(self, k) == getattr(other, k) for k in
                   ("id", "parent", "origin", "label", "span", "stop_reason", "duplicate_of"))
        same = same and _arr_eq(self.parameter, other.parameter) and _arr_eq(self.index, other.index)
        same = same and set(self.data) == set(other.data) and all(_arr_eq(self.data[k], other.data[k])
                                                                  for k in self.data)
        return same and _arr_eq(self.theta, other.theta)


def _arr_eq(a, b):
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@dataclass
class BifurcationDiagram:
    """Result of :func:`statvae.track`.

    Attributes
    ----------
    parameter : str
        Name of the continuation parameter.
    branches : dict
        Id -> :class:`Branch`.
    points : dict
        Id -> :class:`~statvae.track.locate.SpecialPoint`.
    meta : dict
        Model, data, options, timings, stop reasons.
    """

    parameter: str
    branches: dict = field(default_factory=dict)
    points: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    # -- graph ----------------------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for b in self.branches.values():
            g.add_node(("branch", b.id), label=b.label, points=b.points, stop_reason=b.stop_reason)
        for s in self.points.values():
            g.add_node(("point", s.id), kind=s.kind, parameter=s.parameter, kernel_dim=s.kernel_dim)
            g.add_edge(("branch", s.branch), ("point", s.id), relation="contains")
        for b in self.branches.values():
            if b.origin is not None:
                g.add_edge(("point", b.origin), ("branch", b.id), relation="emanates")
        return g

    def special_points(self, kind: str | None = None, branch: int | None = None) -> list:
        out = [s for s in self.points.values() if (kind is None or s.kind == kind)
               and (branch is None or s.branch == branch)]
        return sorted(out, key=lambda s: (s.branch, s.parameter))

    def children(self, point_id: int) -> list:
        return [b for b in self.branches.values() if b.origin == point_id]

    def summary(self) -> str:
        lines = [f"bifurcation diagram in {self.parameter}: {len(self.branches)} branches, "
                 f"{len(self.points)} special points"]
        for b in self.branches.values():
            st = b.stable
            stab = "stable" if st.all() else ("unstable" if not st.any() else "partly stable")
            lines.append(f"  branch {b.id} ({b.label}): {b.points} points, p in "
                         f"[{b.parameter.min():.6g}, {b.parameter.max():.6g}], {stab}; {b.stop_reason}"
                         + (f"; copy of {b.duplicate_of}" if b.duplicate_of is not None else ""))
            for s in self.special_points(branch=b.id):
                if s.status == "detected":  # only bracketed: print the bracket and the digits it supports
                    lo, hi = s.interval
                    lines.append(f"    {s.kind} in {self.parameter} = [{lo:.{_digits(s.precision) + 1}g}, "
                                 f"{hi:.{_digits(s.precision) + 1}g}] (~{s.parameter:.{_digits(s.precision)}g}; "
                                 f"kernel {s.kernel_dim}, detected, precision {s.precision:.1e})")
                    continue
                lines.append(f"    {s.kind} at {self.parameter} = {s.parameter:.{_digits(s.precision)}g} "
                             f"(kernel {s.kernel_dim}, {s.status}, precision {s.precision:.1e})")
        return "\n".join(lines)

    # -- persistence ------------------------------------------------------------------
    def to_dict(self, arrays: bool = False) -> dict:
        """Plain data (``arrays=True`` keeps numpy arrays for npz)."""
        conv = (lambda a: a) if arrays else (lambda a: None if a is None else np.asarray(a).tolist())
        return {
            "format": FORMAT,
            "parameter": self.parameter,
            "meta": self.meta,
            "branches": [
                {"id": b.id, "parent": b.parent, "origin": b.origin, "label": b.label, "span": [int(x) for x in b.span],
                 "parameter": conv(b.parameter), "index": conv(b.index), "stop_reason": b.stop_reason,
                 "duplicate_of": b.duplicate_of, "theta": conv(b.theta),
                 "data": {k: conv(v) for k, v in b.data.items()}}
                for b in self.branches.values()
            ],
            "points": [
                {"id": s.id, "kind": s.kind, "branch": s.branch, "parameter": s.parameter,
                 "interval": list(s.interval), "precision": s.precision, "status": s.status,
                 "kernel_dim": s.kernel_dim, "kernel": [{str(k): v for k, v in d.items()} for d in s.kernel],
                 "index_change": s.index_change, "characters": list(s.characters),
                 "theta": conv(s.theta), "info": _plain(s.info)}
                for s in self.points.values()
            ],
        }

    def save(self, path) -> Path:
        """Write ``.json`` or ``.npz`` (by suffix); load it back with :meth:`load`."""
        path = Path(path)
        if path.suffix == ".npz":
            d = self.to_dict(arrays=True)
            arrays: dict = {}
            meta = json.loads(json.dumps(_strip_arrays(d, arrays, "r")))
            np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
        elif path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict()))
        else:
            raise DataError(f"save to .json or .npz, got {path.name}")
        return path

    @classmethod
    def load(cls, path) -> "BifurcationDiagram":
        path = Path(path)
        if not path.exists():
            raise DataError(f"file not found: {path}")
        try:
            if path.suffix == ".npz":
                z = np.load(path, allow_pickle=False)
                d = _restore_arrays(json.loads(str(z["__meta__"])), z)
            else:
                d = json.loads(path.read_text())
        except (ValueError, KeyError, OSError) as exc:
            raise DataError(f"{path} is not a statvae diagram ({exc})") from None
        if d.get("format") != FORMAT:
            raise DataError(f"{path} is not a statvae diagram (format {d.get('format')!r})")
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict) -> "BifurcationDiagram":
        arr = lambda x, dt=float: None if x is None else np.asarray(x, dtype=dt)  # noqa: E731
        diag = cls(d["parameter"], meta=d["meta"])
        for b in d["branches"]:
            diag.branches[b["id"]] = Branch(
                b["id"], b["parent"], b["origin"], b["label"], [int(x) for x in b["span"]], arr(b["parameter"]),
                arr(b["index"], int), {k: arr(v) for k, v in b["data"].items()}, arr(b["theta"]),
                b["stop_reason"], b["duplicate_of"])
        for s in d["points"]:
            diag.points[s["id"]] = SpecialPoint(
                s["id"], s["kind"], s["branch"], s["parameter"], tuple(s["interval"]), s["precision"], s["status"],
                s["kernel_dim"], [{int(k): v for k, v in kv.items()} for kv in s["kernel"]], s["index_change"],
                list(s["characters"]), arr(s["theta"]), s["info"])
        return diag

    def __eq__(self, other):
        if not isinstance(other, BifurcationDiagram):
            return NotImplemented
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(other.to_dict(), sort_keys=True)


def read_json_result(path, fmt: str, what: str) -> dict:
    """Read a saved statvae result (JSON), checking that it exists and has format ``fmt``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    try:
        d = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} is not a statvae {what} ({exc})") from None
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise DataError(f"{path} is not a statvae {what}")
    return d


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items() if k not in ("kernel_vectors", "coset_keys")}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def _strip_arrays(x, store, prefix):
    if isinstance(x, dict):
        return {k: _strip_arrays(v, store, f"{prefix}.{k}") for k, v in x.items()}
    if isinstance(x, list):
        return [_strip_arrays(v, store, f"{prefix}.{i}") for i, v in enumerate(x)]
    if isinstance(x, np.ndarray):
        key = f"a{len(store)}"
        store[key] = x
        return {"__array__": key}
    return _plain(x)


def _restore_arrays(x, z):
    if isinstance(x, dict):
        if set(x) == {"__array__"}:
            return z[x["__array__"]]
        return {k: _restore_arrays(v, z) for k, v in x.items()}
    if isinstance(x, list):
        return [_restore_arrays(v, z) for v in x]
    return x


def _digits(precision: float) -> int:
    """Significant digits a relative precision supports (1 to 12)."""
    if not np.isfinite(precision) or precision <= 0:
        return 12
    return int(min(12, max(1, np.floor(-np.log10(precision)))))
