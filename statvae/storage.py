"""The on-disk cache directory and its checked, atomically written JSON entries.

This is the generic part of statvae's caches, below every layer that caches
something: generated code (:mod:`statvae.numeric.cache`) and derived per-mode
structures (:mod:`statvae.symbolic.modes`) are entries here, each with its
own format tag and fields.

The cache directory is ``$STATVAE_CACHE_DIR`` if set, else
``~/.cache/statvae``.  An entry is one JSON file ``KEY.json`` holding
``{"format": TAG, "key": KEY, "sha256": DIGEST, field: value, ...}``;
nothing is pickled.  :func:`read_entry` checks the file's structure (its
format tag, its key, the type of each field) and recomputes the SHA-256 digest
of the key and fields before returning anything, so an entry that is
truncated, malformed, edited or copied from another key is a miss.  The
digest guards against corruption and accidental edits; it is not a
signature (whoever can write the cache directory can write a consistent
entry).

Entries are written to a temporary file in the cache directory and renamed
into place, so concurrent processes never see a partial entry.  When the
directory cannot be written, one :class:`~statvae.errors.CacheWarning` per
directory and process says so, and what would have been cached is
recomputed each run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from .errors import CacheWarning, StatvaeError

__all__ = ["STRUCTURE_VERSION", "cache_dir", "entry_digest", "check_record", "read_entry", "write_entry", "entry_files",
           "count_entries", "clear_entries"]

#: Version of the per-mode structures derived by :mod:`statvae.symbolic.modes` (part of the keys of their entries and
#: of the collapse plans of :mod:`statvae.collapse_plan`, which hold what was derived; bump on any change of the
#: derivation's output).  Kept here, below every layer, so that a plan's key is computed without sympy.
STRUCTURE_VERSION = "2"

_WARNED: set[str] = set()


def cache_dir() -> Path:
    """The cache directory: ``$STATVAE_CACHE_DIR`` if set, else ``~/.cache/statvae``.

    Returns
    -------
    pathlib.Path
        The directory (it need not exist).
    """
    return Path(os.environ.get("STATVAE_CACHE_DIR") or Path.home() / ".cache" / "statvae")


def entry_digest(key: str, payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an entry's key and fields in canonical JSON.

    Parameters
    ----------
    key : str
        The entry's key.
    payload : mapping
        The entry's fields (JSON values; no field named ``key``).

    Returns
    -------
    str
        64 hexadecimal digits.

    Raises
    ------
    TypeError, ValueError
        If the fields are not JSON values (or hold a non-finite number).
    """
    text = json.dumps({"key": key, **payload}, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def check_record(record: Any, key: str, fmt: str, fields: Mapping[str, type]) -> dict[str, Any] | None:
    """The fields of a decoded entry if it is a valid entry of format ``fmt`` under ``key``, else ``None``.

    Parameters
    ----------
    record : object
        The decoded JSON of the entry's file.
    key : str
        The key it must carry.
    fmt : str
        The format tag it must carry.
    fields : mapping
        Field name -> the type its value must have (``isinstance``).

    Returns
    -------
    dict or None
        ``{field: value}`` for the fields named, or None if anything is
        missing, of the wrong type or does not match the digest.
    """
    if not isinstance(record, dict) or record.get("format") != fmt or record.get("key") != key:
        return None
    digest = record.get("sha256")
    if not isinstance(digest, str):
        return None
    payload = {}
    for name, kind in fields.items():
        value = record.get(name)
        if not isinstance(value, kind):
            return None
        payload[name] = value
    try:
        expected = entry_digest(key, payload)
    except (TypeError, ValueError, RecursionError):
        return None
    if not hmac.compare_digest(expected, digest):
        return None
    return payload


def read_entry(key: str, fmt: str, fields: Mapping[str, type]) -> dict[str, Any] | None:
    """The verified fields of the entry stored under ``key``, or ``None`` (a miss).

    Missing, unreadable, malformed, truncated, tampered and mismatching
    entries are all misses; nothing of such an entry is returned.

    Parameters
    ----------
    key : str
        The entry's key (the file is ``KEY.json`` in :func:`cache_dir`).
    fmt : str
        The format tag the entry must carry.
    fields : mapping
        Field name -> the type its value must have.

    Returns
    -------
    dict or None
        The fields, or None.
    """
    p = cache_dir() / f"{key}.json"
    try:
        record = json.loads(p.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return check_record(record, key, fmt, fields)


def write_entry(key: str, fmt: str, payload: Mapping[str, Any]) -> bool:
    """Write the fields ``payload`` as the entry of format ``fmt`` under ``key``, atomically, with its digest.

    A directory that cannot be written is not an error: one
    :class:`~statvae.errors.CacheWarning` per directory and process says that
    what is cached will be recomputed each run.

    Parameters
    ----------
    key : str
        The entry's key.
    fmt : str
        The format tag written in the entry.
    payload : mapping
        The fields: JSON values, exactly as they will be read back (the
        digest is of them).

    Returns
    -------
    bool
        Whether the entry was written.
    """
    record = {"format": fmt, "key": key, "sha256": entry_digest(key, payload), **payload}
    d = cache_dir()
    tmp = None
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=d)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, d / f"{key}.json")
        return True
    except OSError as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        _warn_unwritable(d, exc)
        return False


def _warn_unwritable(d: Path, exc: OSError) -> None:
    if str(d) in _WARNED:
        return
    _WARNED.add(str(d))
    reason = exc.strerror or type(exc).__name__
    warnings.warn(f"the statvae cache directory {d} is not writable ({reason}): compiled code and derived "
                  f"structures will be regenerated each run (set STATVAE_CACHE_DIR to a writable directory)",
                  CacheWarning,
                  stacklevel=_caller_level())


def _caller_level() -> int:
    """``stacklevel`` of the first frame outside statvae (the user's call)."""
    pkg = str(Path(__file__).resolve().parent) + os.sep
    f: FrameType | None = sys._getframe(1)
    level = 1  # the frame calling warnings.warn is stacklevel 1
    while f is not None and str(Path(f.f_code.co_filename).resolve()).startswith(pkg):
        f, level = f.f_back, level + 1
    return level


def entry_files(d: Path) -> list[Path]:
    """The entry files in directory ``d`` (none if it does not exist).

    Parameters
    ----------
    d : pathlib.Path
        A cache directory.

    Returns
    -------
    list of pathlib.Path
        The ``*.json`` files (temporary files left out).

    Raises
    ------
    StatvaeError
        ``d`` is not a directory, or cannot be read.
    """
    try:
        with os.scandir(d) as it:
            return [Path(e.path) for e in it if e.name.endswith(".json") and not e.name.startswith(".")
                    and e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise StatvaeError(f"the statvae cache directory {d} is not a directory") from None
    except OSError as exc:
        raise StatvaeError(f"cannot read the statvae cache directory {d} ({exc.strerror or exc})") from None


def count_entries() -> int:
    """Number of entries in the cache directory (0 if it does not exist).

    Returns
    -------
    int
        The number of entries.

    Raises
    ------
    StatvaeError
        The directory exists but cannot be read.
    """
    return len(entry_files(cache_dir()))


def clear_entries() -> int:
    """Delete every entry of the cache directory.

    Returns
    -------
    int
        How many were removed.

    Raises
    ------
    StatvaeError
        Entries exist that cannot be removed (read-only directory), or the
        directory cannot be read; the message names the directory.
    """
    d = cache_dir()
    removed, failed, reason = 0, 0, ""
    for p in entry_files(d):
        try:
            p.unlink()
            removed += 1
        except FileNotFoundError:  # removed by another process meanwhile
            pass
        except OSError as exc:
            failed += 1
            reason = exc.strerror or type(exc).__name__
    if failed:
        raise StatvaeError(f"cannot remove {failed} of {failed + removed} entries of the statvae cache directory "
                           f"{d} ({reason}); removed {removed}")
    return removed
