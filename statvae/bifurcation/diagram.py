"""The bifurcation diagram: branches and special points in a networkx graph, saved and loaded exactly.

Nodes are ``("branch", id)`` and ``("point", id)``; edges ``branch -> point``
(the point lies on the branch) and ``point -> branch`` (the branch emanates
from the point).  Branch data are tables (numpy arrays) of the parameter,
the Morse index and every recorded observable; parameter vectors are kept if
asked.  ``save`` writes strict JSON (floats written with ``repr``: exact;
NaN and infinities as ``{"__float__": "nan"}`` markers) or npz (arrays as
arrays, the rest as JSON); every field is saved, kernel vectors and their
coset keys included, so a reloaded diagram can be certified.  ``load`` reads
either back to an equal diagram, after checking the file's structure: any
problem is one :class:`~statvae.errors.DataError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike

from ..errors import DataError
from .locate import SpecialPoint

__all__ = ["Branch", "BifurcationDiagram"]

FORMAT = "statvae-diagram-2"


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
    span: list[int]
    parameter: np.ndarray
    index: np.ndarray
    data: dict[str, np.ndarray]
    theta: np.ndarray | None = None
    stop_reason: str = ""
    duplicate_of: int | None = None

    @property
    def points(self) -> int:
        """Number of points on the branch."""
        return len(self.parameter)

    @property
    def stable(self) -> np.ndarray:
        """Boolean array: True where the Morse index is 0 (a local maximum of the ELBO)."""
        return np.asarray(self.index == 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Branch):
            return NotImplemented
        same = all(getattr(self, k) == getattr(other, k) for k in
                   ("id", "parent", "origin", "label", "span", "stop_reason", "duplicate_of"))
        same = same and _arr_eq(self.parameter, other.parameter) and _arr_eq(self.index, other.index)
        same = same and set(self.data) == set(other.data) and all(_arr_eq(self.data[k], other.data[k])
                                                                  for k in self.data)
        return same and _arr_eq(self.theta, other.theta)


def _arr_eq(a: ArrayLike | None, b: ArrayLike | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = np.asarray(a), np.asarray(b)
    return x.shape == y.shape and np.array_equal(x, y, equal_nan=True)


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
        Id -> :class:`~statvae.bifurcation.locate.SpecialPoint`.
    meta : dict
        Model, data, options, timings, stop reasons.
    """

    parameter: str
    branches: dict[int, Branch] = field(default_factory=dict)
    points: dict[int, SpecialPoint] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    # -- graph ----------------------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        """The diagram as a directed graph: ``branch -> point`` (contains) and ``point -> branch`` (emanates)."""
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

    def special_points(self, kind: str | None = None, branch: int | None = None) -> list[SpecialPoint]:
        """The special points of a kind and/or on a branch, sorted by branch, then parameter.

        Parameters
        ----------
        kind : str, optional
            ``"branch point"`` or ``"fold"``; all kinds if omitted.
        branch : int, optional
            Id of a branch; all branches if omitted.

        Returns
        -------
        list of SpecialPoint
        """
        out = [s for s in self.points.values() if (kind is None or s.kind == kind)
               and (branch is None or s.branch == branch)]
        return sorted(out, key=lambda s: (s.branch, s.parameter))

    def children(self, point_id: int) -> list[Branch]:
        """The branches that emanate from a special point.

        Parameters
        ----------
        point_id : int
            Id of the special point.

        Returns
        -------
        list of Branch
            Empty if no branch was switched onto from that point (or the id is unknown).
        """
        return [b for b in self.branches.values() if b.origin == point_id]

    def summary(self) -> str:
        """A text summary: one line per branch (range, stability, stop reason), one per special point.

        Digits of each point's parameter follow its precision; a point only
        detected (bracketed) is printed with its bracket.
        """
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
    def to_dict(self, arrays: bool = False) -> dict[str, Any]:
        """Every field as plain, strictly JSON-compatible data; :meth:`from_dict` rebuilds an equal diagram.

        Parameters
        ----------
        arrays : bool
            Keep the branch tables, parameter vectors and kernel vectors as
            numpy arrays (for npz) instead of nested lists.

        Returns
        -------
        dict
            Non-finite floats are written as ``{"__float__": "nan"}`` (``"inf"``,
            ``"-inf"``; a NaN other than the default one as ``"nan:<64-bit hex>"``),
            so ``json.dumps(d, allow_nan=False)`` succeeds; kernel vectors and the
            coset keys of their Hessian blocks are saved, so a reloaded diagram
            can be certified.
        """
        conv: Callable[[Any], Any] = ((lambda a: None if a is None else np.asarray(a)) if arrays else
                                      (lambda a: None if a is None else encode_json(np.asarray(a))))
        branches = []
        for b in self.branches.values():
            branches.append({
                "id": int(b.id), "parent": encode_json(b.parent), "origin": encode_json(b.origin),
                "label": str(b.label), "span": [int(x) for x in b.span],
                "parameter": conv(np.asarray(b.parameter, dtype=float)), "index": conv(np.asarray(b.index)),
                "stop_reason": str(b.stop_reason), "duplicate_of": encode_json(b.duplicate_of),
                "theta": conv(b.theta), "data": {str(k): conv(v) for k, v in b.data.items()}})
        points = []
        for s in self.points.values():
            vecs, keys = s.info.get("kernel_vectors"), s.info.get("coset_keys")
            points.append({
                "id": int(s.id), "kind": str(s.kind), "branch": int(s.branch), "parameter": encode_json(s.parameter),
                "interval": encode_json(list(s.interval)), "precision": encode_json(s.precision),
                "status": str(s.status), "kernel_dim": int(s.kernel_dim),
                "kernel": [{str(k): encode_json(v) for k, v in kv.items()} for kv in s.kernel],
                "index_change": int(s.index_change), "characters": [str(c) for c in s.characters],
                "theta": conv(s.theta),
                "kernel_vectors": None if vecs is None else [conv(np.asarray(v, dtype=float)) for v in vecs],
                "coset_keys": None if keys is None else encode_json(list(keys)),
                "info": encode_json({k: v for k, v in s.info.items() if k not in _SAVED_APART})})
        return {"format": FORMAT, "parameter": str(self.parameter), "meta": encode_json(self.meta),
                "branches": branches, "points": points}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the diagram as ``.json`` (strict JSON) or ``.npz`` (by suffix); :meth:`load` reads it back.

        Parameters
        ----------
        path : str or os.PathLike
            Ends in ``.json`` or ``.npz``.  The file is written to a temporary
            name and renamed, so a failed write leaves no partial file.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        DataError
            Wrong suffix, missing parent directory, a directory at ``path``,
            or the file cannot be written (one line, naming the file).
        """
        path = output_path(path, (".json", ".npz"), "diagram")
        if path.suffix == ".npz":
            arrays: dict[str, Any] = {}  # Any: np.savez's stub types **kwds against its own keywords
            text = strict_json(_strip_arrays(self.to_dict(arrays=True), arrays), path)
            arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}

            def write(fh: IO[bytes]) -> None:
                np.savez(fh, __meta__=np.array(text), **arrays)
        else:
            data = strict_json(self.to_dict(), path).encode("utf-8")

            def write(fh: IO[bytes]) -> None:
                fh.write(data)
        write_atomic(path, write)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BifurcationDiagram:
        """Read a diagram written by :meth:`save` (``.json`` or ``.npz``).

        Parameters
        ----------
        path : str or os.PathLike
            A ``.json`` or ``.npz`` file.

        Returns
        -------
        BifurcationDiagram
            Equal to the diagram that was saved.

        Raises
        ------
        DataError
            One line naming the file: missing, a directory, unreadable, wrong
            suffix, not JSON / not an npz archive (truncated), not a statvae
            diagram, or a structural problem (missing key, wrong type, array
            lengths inconsistent with a branch's points, bad kernel keys).
        """
        path = input_path(path, (".json", ".npz"), "diagram")
        tree = read_npz_tree(path, "diagram") if path.suffix == ".npz" else read_json_result(
            path, _READABLE_FORMATS, "diagram")
        return cls.from_dict(tree, source=str(path))

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str | None = None) -> BifurcationDiagram:
        """Rebuild a diagram from :meth:`to_dict` data, checking its structure.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict` (or read from a saved file).
        source : str, optional
            Named in error messages (the file it was read from).

        Raises
        ------
        DataError
            One line saying what is wrong.

        Returns
        -------
        BifurcationDiagram
        """
        try:
            return cls._checked_from_dict(decode_json(d))
        except InvalidData as exc:
            raise DataError(f"{source or 'the data'} is not a valid statvae diagram: {exc}") from None

    @classmethod
    def _checked_from_dict(cls, d: Any) -> BifurcationDiagram:
        if not isinstance(d, dict):
            raise InvalidData(f"expected an object at the top level, got {json_kind(d)}")
        fmt = d.get("format")
        if fmt not in _READABLE_FORMATS:
            raise InvalidData(f"format {fmt!r}, expected {FORMAT!r}")
        diag = cls(take(d, "parameter", "the diagram", "str"), meta=take(d, "meta", "the diagram", "dict"))
        _check_meta(diag.meta)
        for i, b in enumerate(take(d, "branches", "the diagram", "list")):
            br = _branch_from(b, i)
            if br.id in diag.branches:
                raise InvalidData(f"branch id {br.id} appears twice")
            diag.branches[br.id] = br
        for i, s in enumerate(take(d, "points", "the diagram", "list")):
            sp = _point_from(s, i)
            if sp.id in diag.points:
                raise InvalidData(f"special point id {sp.id} appears twice")
            diag.points[sp.id] = sp
        for b in diag.branches.values():
            for name in ("parent", "duplicate_of"):
                ref = getattr(b, name)
                if ref is not None and ref not in diag.branches:
                    raise InvalidData(f"branch {b.id}: {name} {ref} is not a branch of the diagram")
            if b.origin is not None and b.origin not in diag.points:
                raise InvalidData(f"branch {b.id}: origin {b.origin} is not a special point of the diagram")
        for s in diag.points.values():
            if s.branch not in diag.branches:
                raise InvalidData(f"special point {s.id}: branch {s.branch} is not a branch of the diagram")
        return diag

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BifurcationDiagram):
            return NotImplemented
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(other.to_dict(), sort_keys=True)


# -- reading and writing saved results (shared with track/phase.py) ------------------------------------------------
_SAVED_APART = ("kernel_vectors", "coset_keys")   # info entries saved as fields of their own (arrays in npz)
_READABLE_FORMATS = ("statvae-diagram-1", FORMAT)  # version 1: no kernel vectors (cannot be certified)
_MARKERS = ("__float__", "__array__", "__dict__")
_CANONICAL_NAN = struct.unpack("<Q", struct.pack("<d", float("nan")))[0]


class InvalidData(Exception):
    """A structural problem of saved data (the message names the place, not the file)."""


def encode_json(x: Any) -> Any:
    """``x`` as strict JSON data: numpy scalars and arrays to Python, non-finite floats to markers.

    ``{"__float__": "nan" | "inf" | "-inf"}`` stands for a non-finite float
    (``"nan:<hex>"`` keeps the bits of a NaN other than the default one); a
    dict whose only key is a marker is wrapped as ``{"__dict__": ...}``.
    :func:`decode_json` inverts it exactly.

    Parameters
    ----------
    x : object
        Nested dicts, lists, tuples, numpy arrays and scalars, numbers, strings,
        ``None``; other objects are returned unchanged (``json.dumps`` then rejects them).

    Returns
    -------
    object
        Dicts with string keys, lists, bools, ints, finite floats, strings, ``None``.

    Examples
    --------
    >>> encode_json({"a": np.array([1.0, np.inf]), "b": (1, np.int64(2))})
    {'a': [1.0, {'__float__': 'inf'}], 'b': [1, 2]}
    >>> decode_json(encode_json([float("-inf"), {"__float__": 1}]))
    [-inf, {'__float__': 1}]
    """
    if isinstance(x, dict):
        out = {str(k): encode_json(v) for k, v in x.items()}
        return {"__dict__": out} if len(out) == 1 and next(iter(out)) in _MARKERS else out
    if isinstance(x, (list, tuple)):
        return [encode_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return encode_json(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isfinite(x):
            return x
        if math.isinf(x):
            return {"__float__": "inf" if x > 0 else "-inf"}
        bits = struct.unpack("<Q", struct.pack("<d", x))[0]
        return {"__float__": "nan" if bits == _CANONICAL_NAN else f"nan:{bits:016x}"}
    return x


def decode_json(x: Any) -> Any:
    """Inverse of :func:`encode_json` (numpy arrays pass through); raises ``InvalidData`` on a bad marker.

    Parameters
    ----------
    x : object
        Data written by :func:`encode_json` (typically parsed JSON).

    Returns
    -------
    object
        The data with the float markers replaced by floats and ``{"__dict__": ...}`` unwrapped.
    """
    if isinstance(x, dict):
        if len(x) == 1:
            ((k, v),) = x.items()
            if k == "__float__":
                return _special_float(v)
            if k == "__dict__" and isinstance(v, dict):
                return {kk: decode_json(vv) for kk, vv in v.items()}
        return {k: decode_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [decode_json(v) for v in x]
    return x


def _special_float(v: Any) -> float:
    if v in ("inf", "-inf"):
        return float(v)
    if v == "nan":
        return float("nan")
    if isinstance(v, str) and v.startswith("nan:"):
        try:
            bits = int(v[4:], 16)
            value = struct.unpack("<d", struct.pack("<Q", bits))[0]
        except (ValueError, struct.error):
            value = 0.0
        if math.isnan(value):
            return float(value)
    raise InvalidData(f"bad non-finite float marker {v!r}")


def strict_json(tree: Any, path: Path) -> str:
    """``tree`` as strict JSON (no NaN or infinity: those are encoded before), for saving to ``path``.

    Parameters
    ----------
    tree : object
        Plain data.
    path : pathlib.Path
        Where it will be written (named in the error).

    Returns
    -------
    str

    Raises
    ------
    DataError
        If a value is not plain data.
    """
    try:
        return json.dumps(tree, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DataError(f"cannot save {path}: a value is not plain data ({exc})") from None


def output_path(path: str | os.PathLike[str], suffixes: tuple[str, ...], what: str) -> Path:
    """``path`` as a Path, checked for writing a statvae ``what`` (suffix, parent directory, not a directory).

    Parameters
    ----------
    path : str or os.PathLike
        Where the file is to be written.
    suffixes : tuple of str
        Accepted suffixes (``(".json", ".npz")``).
    what : str
        What the file holds, for messages (``"diagram"``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        Not a path, wrong suffix, missing parent directory, or a directory at ``path``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"a {what} is saved to a file path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix not in suffixes:
        raise DataError(f"save a {what} to {' or '.join(suffixes)}, got {path.name or str(path)!r}")
    parent = path.parent
    if not parent.is_dir():
        raise DataError(f"cannot write {path}: directory {parent} does not exist")
    if path.is_dir():
        raise DataError(f"cannot write {path}: it is a directory")
    return path


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(binary file)`` on a temporary file next to ``path``, then rename it to ``path``.

    Any ``OSError`` (permissions, full disk) becomes one :class:`DataError`
    naming the file; the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : pathlib.Path
        The file to write (checked by :func:`output_path`).
    write : callable
        Called once with the temporary file, opened in binary mode.

    Raises
    ------
    DataError
        The file cannot be written.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "xb") as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise DataError(f"cannot write {path}: {exc.strerror or exc}") from None


def input_path(path: str | os.PathLike[str], suffixes: tuple[str, ...], what: str) -> Path:
    """``path`` as a Path, checked for reading a statvae ``what``: suffix, existence, a regular file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    suffixes : tuple of str
        Accepted suffixes.
    what : str
        What the file holds, for messages.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        Not a path, wrong suffix, missing, or a directory.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"a {what} is read from a file path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix not in suffixes:
        raise DataError(f"cannot read {path}: a statvae {what} is a {' or '.join(suffixes)} file")
    try:
        if not path.exists():
            raise DataError(f"file not found: {path}")
        if path.is_dir():
            raise DataError(f"cannot read {path}: it is a directory, not a statvae {what}")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return path


def read_json_result(path: str | os.PathLike[str], fmt: str | tuple[str, ...], what: str) -> dict[str, Any]:
    """Read a saved statvae result (JSON), checking that it is a readable object with format ``fmt``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.json`` file.
    fmt : str or tuple of str
        Accepted values of the ``format`` key.
    what : str
        What the file holds, for messages (``"phase diagram"``).

    Returns
    -------
    dict
        The parsed object as written (decode its float markers with
        :func:`decode_json`, as ``from_dict`` does).

    Raises
    ------
    DataError
        One line naming the file and what is wrong.
    """
    path = input_path(path, (".json",), what)
    formats = (fmt,) if isinstance(fmt, str) else tuple(fmt)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        d = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a statvae {what}: not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not a statvae {what}: not valid JSON ({exc.msg} at line {exc.lineno} "
                        f"column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path} is not a statvae {what}: not valid JSON ({type(exc).__name__})") from None
    if not isinstance(d, dict):
        raise DataError(f"{path} is not a statvae {what}: expected a JSON object, got {json_kind(d)}")
    if d.get("format") not in formats:
        raise DataError(f"{path} is not a statvae {what} (format {d.get('format')!r}, expected {formats[-1]!r})")
    return d


def read_npz_tree(path: Path, what: str) -> dict[str, Any]:
    """The metadata tree of a statvae ``.npz`` with its arrays put back in place (checked, one-line errors).

    Parameters
    ----------
    path : pathlib.Path
        An ``.npz`` file written by a statvae ``save`` (checked by :func:`input_path`).
    what : str
        What the file holds, for messages.

    Returns
    -------
    dict
        The ``__meta__`` JSON record, each ``{"__array__": key}`` replaced by the array stored under ``key``.

    Raises
    ------
    DataError
        Not an npz archive, unreadable or truncated, or its ``__meta__`` record missing or malformed.
    """
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DataError(f"{path} is not a statvae {what}: not an npz archive")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, struct.error, NotImplementedError,
            KeyError) as exc:
        raise DataError(f"{path} is not a statvae {what}: unreadable npz archive, truncated or damaged "
                        f"({type(exc).__name__})") from None
    try:
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise InvalidData("a single .npy array, not an npz archive")
        if "__meta__" not in z.files:
            raise InvalidData("no '__meta__' record")
        meta = z["__meta__"]
        if meta.shape != () or meta.dtype.kind != "U":
            raise InvalidData("the '__meta__' record is not a text")
        try:
            tree = json.loads(str(meta))
        except (ValueError, RecursionError):
            raise InvalidData("the '__meta__' record is not valid JSON") from None
        if not isinstance(tree, dict):
            raise InvalidData(f"expected an object in '__meta__', got {json_kind(tree)}")
        restored: dict[str, Any] = _restore_arrays(tree, z)
        return restored
    except InvalidData as exc:
        raise DataError(f"{path} is not a valid statvae {what}: {exc}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, struct.error, NotImplementedError,
            KeyError) as exc:
        raise DataError(f"{path} is not a statvae {what}: unreadable npz archive, truncated or damaged "
                        f"({type(exc).__name__})") from None
    finally:
        if hasattr(z, "close"):
            z.close()


def _strip_arrays(x: Any, store: dict[str, np.ndarray]) -> Any:
    if isinstance(x, dict):
        if len(x) == 1 and "__dict__" in x and isinstance(x["__dict__"], dict):
            return {"__dict__": {k: _strip_arrays(v, store) for k, v in x["__dict__"].items()}}
        return {k: _strip_arrays(v, store) for k, v in x.items()}
    if isinstance(x, list):
        return [_strip_arrays(v, store) for v in x]
    if isinstance(x, np.ndarray):
        key = f"a{len(store)}"
        store[key] = x
        return {"__array__": key}
    return x


def _restore_arrays(x: Any, z: Any) -> Any:
    if isinstance(x, dict):
        if len(x) == 1 and "__dict__" in x and isinstance(x["__dict__"], dict):
            return {"__dict__": {k: _restore_arrays(v, z) for k, v in x["__dict__"].items()}}
        if len(x) == 1 and "__array__" in x:
            key = x["__array__"]
            if not isinstance(key, str) or key == "__meta__" or key not in z.files:
                raise InvalidData(f"array {key!r} is missing from the archive")
            return z[key]
        return {k: _restore_arrays(v, z) for k, v in x.items()}
    if isinstance(x, list):
        return [_restore_arrays(v, z) for v in x]
    return x


# -- structural checks ------------------------------------------------------------------------------------------
_KINDS = {"int": "an integer", "num": "a number", "str": "a string", "dict": "an object", "list": "a list",
          "bool": "true or false"}


def json_kind(v: Any) -> str:
    """The JSON word for the kind of ``v`` (``null``, ``a boolean``, ``a number``...), for messages.

    Parameters
    ----------
    v : object

    Returns
    -------
    str
    """
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return "a boolean"
    if isinstance(v, (int, np.integer)):
        return "an integer"
    if isinstance(v, (float, np.floating)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    return type(v).__name__


def check_value(v: Any, kind: str, what: str) -> Any:
    """``v`` checked to be of ``kind`` (``int``, ``num``, ``str``, ``dict``, ``list``, ``bool``; ``?`` = or null).

    Parameters
    ----------
    v : object
        The value read.
    kind : str
        One of the kinds above, with a trailing ``?`` if ``None`` is allowed.
    what : str
        Names the value in the error message.

    Returns
    -------
    object
        ``v`` as a Python ``int``, ``float`` or ``bool`` for those kinds, else unchanged.

    Raises
    ------
    InvalidData
        ``v`` is not of that kind (booleans are not numbers).
    """
    optional = kind.endswith("?")
    k = kind.rstrip("?")
    if v is None and optional:
        return None
    isbool = isinstance(v, (bool, np.bool_))
    ok = {"int": isinstance(v, (int, np.integer)) and not isbool,
          "num": isinstance(v, (int, float, np.integer, np.floating)) and not isbool,
          "str": isinstance(v, str), "dict": isinstance(v, dict), "list": isinstance(v, (list, tuple)),
          "bool": isbool}[k]
    if not ok:
        raise InvalidData(f"{what} must be {_KINDS[k]}{' or null' if optional else ''}, got {json_kind(v)}")
    return int(v) if k == "int" else float(v) if k == "num" else bool(v) if k == "bool" else v


def take(d: dict[str, Any], key: str, where: str, kind: str) -> Any:
    """``d[key]`` checked with :func:`check_value`; a missing key is an error naming ``where``.

    Parameters
    ----------
    d : dict
        The object read.
    key : str
        The key to take.
    where : str
        Names ``d`` in error messages (``"branch 3"``).
    kind : str
        As for :func:`check_value`.

    Returns
    -------
    object
        The checked value.
    """
    if key not in d:
        raise InvalidData(f"{where} has no {key!r}")
    return check_value(d[key], kind, f"{where}: {key!r}")


def check_array(v: Any, what: str, kind: str = "float", ndim: tuple[int, ...] | None = (1,), rows: int | None = None,
                per: str = "point of the branch") -> np.ndarray:
    """``v`` (array or nested lists) as a float or int array with ``ndim`` dimensions and ``rows`` rows.

    Parameters
    ----------
    v : object
        A numpy array, or nested lists of numbers.
    what : str
        Names the array in error messages.
    kind : {"float", "int"}
        ``"float"`` accepts integers too; ``"int"`` only integers.
    ndim : tuple of int or None
        Accepted numbers of dimensions (``None``: any, but not 0).
    rows : int, optional
        Required length of the first axis.
    per : str
        What one row stands for, in the message when ``rows`` is wrong.

    Returns
    -------
    numpy.ndarray
        Of dtype float64 or int64.

    Raises
    ------
    InvalidData
        Not an array of numbers of that shape.
    """
    if isinstance(v, np.ndarray):
        a = v
    elif isinstance(v, (list, tuple)):
        try:
            a = np.asarray(v)
        except (ValueError, TypeError, RecursionError):
            raise InvalidData(f"{what} is not a rectangular array of numbers") from None
    else:
        raise InvalidData(f"{what} must be an array, got {json_kind(v)}")
    allowed = "iuf" if kind == "float" else "iu"
    if a.dtype.kind not in allowed and not (a.size == 0 and a.dtype.kind == "f"):
        found = "non-numbers" if a.dtype.kind in "OUSV" else f"{a.dtype} values"
        raise InvalidData(f"{what} must hold {'numbers' if kind == 'float' else 'integers'}, found {found}")
    if ndim is not None and a.ndim not in ndim:
        raise InvalidData(f"{what} must be {' or '.join(f'{n}-D' for n in ndim)}, got shape {a.shape}")
    if a.ndim == 0:
        raise InvalidData(f"{what} must be an array, got a single number")
    if rows is not None and a.shape[0] != rows:
        unit = "entries" if a.ndim == 1 else "rows"
        raise InvalidData(f"{what} has {a.shape[0]} {unit}, expected {rows} (one per {per})")
    target = np.float64 if kind == "float" else np.int64
    return a if a.dtype == target else a.astype(target)


def _check_meta(meta: dict[str, Any]) -> None:
    spectra = meta.get("spectra")
    if spectra is not None:
        for k, v in check_value(spectra, "dict", "meta: 'spectra'").items():
            check_array(v, f"meta: spectrum of {k}")
    values = meta.get("values")
    if values is not None:
        for k, v in check_value(values, "dict", "meta: 'values'").items():
            check_value(v, "num", f"meta: value of {k}")


def _branch_from(b: Any, i: int) -> Branch:
    where = f"branch #{i + 1}"
    if not isinstance(b, dict):
        raise InvalidData(f"{where} must be an object, got {json_kind(b)}")
    bid = take(b, "id", where, "int")
    where = f"branch {bid}"
    span = [check_value(x, "int", f"{where}: 'span' entry") for x in take(b, "span", where, "list")]
    parameter = check_array(required_key(b, "parameter", where), f"{where}: 'parameter'")
    n = len(parameter)
    if n == 0:
        raise InvalidData(f"{where} has no points")
    index = check_array(required_key(b, "index", where), f"{where}: 'index'", "int", (1,), n)
    theta = required_key(b, "theta", where)
    theta = None if theta is None else check_array(theta, f"{where}: 'theta'", "float", (2,), n)
    data: dict[str, np.ndarray] = {}
    for k, v in take(b, "data", where, "dict").items():
        data[check_value(k, "str", f"{where}: observable name")] = check_array(v, f"{where}: observable {k!r}",
                                                                               "float", None, n)
    return Branch(bid, take(b, "parent", where, "int?"), take(b, "origin", where, "int?"),
                  take(b, "label", where, "str"), span, parameter, index, data, theta,
                  take(b, "stop_reason", where, "str"), take(b, "duplicate_of", where, "int?"))


def plain_array(v: Any) -> Any:
    """A list as a numpy array when it is a rectangular array of numbers, else unchanged.

    Parameters
    ----------
    v : object

    Returns
    -------
    numpy.ndarray or object
    """
    if not isinstance(v, list):
        return v
    try:
        a = np.asarray(v)
    except (ValueError, TypeError, RecursionError):
        return v
    return a if a.dtype.kind in "iufb" or a.size == 0 else v


def required_key(d: dict[str, Any], key: str, where: str) -> Any:
    """``d[key]``, or :class:`InvalidData` naming ``where`` when it is missing.

    Parameters
    ----------
    d : dict
    key : str
    where : str
        The place in the file (for the message).

    Returns
    -------
    object
    """
    if key not in d:
        raise InvalidData(f"{where} has no {key!r}")
    return d[key]


def _point_from(s: Any, i: int) -> SpecialPoint:
    where = f"special point #{i + 1}"
    if not isinstance(s, dict):
        raise InvalidData(f"{where} must be an object, got {json_kind(s)}")
    pid = take(s, "id", where, "int")
    where = f"special point {pid}"
    interval = take(s, "interval", where, "list")
    if len(interval) != 2:
        raise InvalidData(f"{where}: 'interval' must hold 2 numbers, got {len(interval)}")
    interval = tuple(check_value(x, "num", f"{where}: 'interval' entry") for x in interval)
    theta = required_key(s, "theta", where)
    theta = None if theta is None else check_array(theta, f"{where}: 'theta'")
    size = None if theta is None else len(theta)
    kernel: list[dict[int, float]] = []
    for kv in take(s, "kernel", where, "list"):
        kv = check_value(kv, "dict", f"{where}: 'kernel' vector")
        vec: dict[int, float] = {}
        for k, v in kv.items():
            idx = _kernel_index(k, size, where)
            vec[idx] = check_value(v, "num", f"{where}: 'kernel' entry {k!r}")
        kernel.append(vec)
    characters = [check_value(c, "str", f"{where}: 'characters' entry") for c in take(s, "characters", where, "list")]
    info = take(s, "info", where, "dict")
    vecs, keys = s.get("kernel_vectors"), s.get("coset_keys")  # absent in format 1
    if vecs is not None:
        vecs = [check_array(v, f"{where}: kernel vector {k + 1}") for k, v in
                enumerate(check_value(vecs, "list", f"{where}: 'kernel_vectors'"))]
        want = size if size is not None else (len(vecs[0]) if vecs else 0)
        for k, v in enumerate(vecs):
            if len(v) != want:
                raise InvalidData(f"{where}: kernel vector {k + 1} has {len(v)} entries, expected {want} "
                               f"(the size of the parameter vector)")
    if keys is not None:
        keys = [check_value(k, "int", f"{where}: coset key")
                for k in check_value(keys, "list", f"{where}: 'coset_keys'")]
    if (vecs is None) != (keys is None) or (vecs is not None and keys is not None and len(vecs) != len(keys)):
        raise InvalidData(f"{where}: {0 if vecs is None else len(vecs)} kernel vector(s) but "
                       f"{0 if keys is None else len(keys)} coset key(s)")
    info = dict(info)
    if vecs is not None:
        info["kernel_vectors"], info["coset_keys"] = vecs, keys
    try:
        return SpecialPoint(pid, take(s, "kind", where, "str"), take(s, "branch", where, "int"),
                            take(s, "parameter", where, "num"), interval, take(s, "precision", where, "num"),
                            take(s, "status", where, "str"), take(s, "kernel_dim", where, "int"), kernel,
                            take(s, "index_change", where, "int"), characters, theta, info)
    except DataError as exc:  # an unknown kind or status: named with its place in the file
        raise InvalidData(f"{where}: {exc}") from None


def _kernel_index(k: Any, size: int | None, where: str) -> int:
    try:
        idx = int(k) if isinstance(k, (str, int, np.integer)) and not isinstance(k, bool) else None
    except ValueError:
        idx = None
    if idx is None or idx < 0 or (size is not None and idx >= size):
        bound = f" (0 to {size - 1})" if size else ""
        raise InvalidData(f"{where}: kernel key {k!r} is not a parameter index{bound}")
    return idx


def _digits(precision: float) -> int:
    """Significant digits a relative precision supports (1 to 12)."""
    if not np.isfinite(precision) or precision <= 0:
        return 12
    return int(min(12, max(1, np.floor(-np.log10(precision)))))
