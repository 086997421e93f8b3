"""On-disk cache of generated code, keyed by the model description.

The cache directory is ``$STATVAE_CACHE_DIR`` if set, else
``~/.cache/statvae``.  Entries are JSON files holding generated source text
and its metadata; nothing is pickled.  :func:`clear_cache` removes them.

Every entry carries the SHA-256 digest of its content (cache key, source
text, metadata, verification flag).  :func:`load` checks the file's
structure and recomputes the digest before returning anything, so an entry
that is truncated, malformed, edited or copied from another key is a miss:
the code is generated again and the entry rewritten.  The digest guards
against corruption and accidental edits; it is not a signature (whoever can
write the cache directory can write a consistent entry).

Entries are written to a temporary file in the cache directory and renamed
into place, so concurrent processes never see a partial entry.  When the
directory cannot be written, one :class:`~statvae.errors.CacheWarning` per
directory and process says so, and compiled code is regenerated each run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import CacheWarning, StatvaeError

__all__ = ["cache_dir", "cache_key", "load", "store", "clear_cache", "count_entries", "entry_digest"]

#: Version of the generated code and of the entry format (part of every key; bump on any change).
CODEGEN_VERSION = "5"

#: Format tag written in every entry.
ENTRY_FORMAT = f"statvae-cache-{CODEGEN_VERSION}"

_WARNED: set[str] = set()


def cache_dir() -> Path:
    """The cache directory: ``$STATVAE_CACHE_DIR`` if set, else ``~/.cache/statvae``.

    Returns
    -------
    pathlib.Path
        The directory (it need not exist).
    """
    return Path(os.environ.get("STATVAE_CACHE_DIR") or Path.home() / ".cache" / "statvae")


def cache_key(*parts: Any) -> str:
    """Key of the entry for ``parts`` (statvae version and :data:`CODEGEN_VERSION` included).

    Parameters
    ----------
    *parts
        What the entry depends on; their ``repr`` is hashed.

    Returns
    -------
    str
        32 hexadecimal digits.
    """
    from .._version import __version__

    text = repr((__version__, CODEGEN_VERSION) + tuple(parts))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def entry_digest(key: str, payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of an entry's key and payload (``source``, ``meta``, ``verified``) in canonical JSON.

    Parameters
    ----------
    key : str
        The entry's key.
    payload : dict
        ``source``, ``meta`` and ``verified``.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    text = json.dumps({"key": key, "source": payload["source"], "meta": payload["meta"],
                       "verified": payload["verified"]}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def load(key: str) -> dict[str, Any] | None:
    """The verified entry ``{"source", "meta", "verified"}`` stored under ``key``, or ``None`` (a miss).

    Missing, unreadable, malformed, truncated, tampered and mismatching
    entries are all misses; nothing of such an entry is returned.

    Parameters
    ----------
    key : str
        The entry's key (:func:`cache_key`).

    Returns
    -------
    dict or None
        The entry, or None.
    """
    p = cache_dir() / f"{key}.json"
    try:
        record = json.loads(p.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return _checked(record, key)


def _checked(record: Any, key: str) -> dict[str, Any] | None:
    if not isinstance(record, dict) or record.get("format") != ENTRY_FORMAT or record.get("key") != key:
        return None
    source, meta, verified, digest = (record.get(k) for k in ("source", "meta", "verified", "sha256"))
    if not (isinstance(source, str) and isinstance(meta, dict) and isinstance(verified, bool)
            and isinstance(digest, str)):
        return None
    payload = {"source": source, "meta": meta, "verified": verified}
    try:
        expected = entry_digest(key, payload)
    except (TypeError, ValueError, RecursionError):
        return None
    if not hmac.compare_digest(expected, digest):
        return None
    return payload


def store(key: str, entry: dict[str, Any]) -> bool:
    """Write ``entry`` (``source``, ``meta``, optional ``verified``) under ``key``, atomically.

    A directory that cannot be written is not an error: one
    :class:`~statvae.errors.CacheWarning` per directory and process says that
    code will be regenerated each run.

    Parameters
    ----------
    key : str
        The entry's key (:func:`cache_key`).
    entry : dict
        ``source`` (str), ``meta`` (JSON-serialisable dict) and optionally ``verified`` (bool).

    Returns
    -------
    bool
        Whether the entry was written.
    """
    payload = {"source": str(entry.get("source", "")), "meta": entry.get("meta", {}),
               "verified": bool(entry.get("verified", False))}
    payload = json.loads(json.dumps(payload))  # the digest is of exactly what is read back
    record = {"format": ENTRY_FORMAT, "key": key, "sha256": entry_digest(key, payload), **payload}
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
    warnings.warn(f"the statvae cache directory {d} is not writable ({reason}): compiled code will be regenerated "
                  f"each run (set STATVAE_CACHE_DIR to a writable directory)", CacheWarning,
                  stacklevel=_caller_level())


def _caller_level() -> int:
    """``stacklevel`` of the first frame outside statvae (the user's call)."""
    pkg = str(Path(__file__).resolve().parents[1]) + os.sep
    f: FrameType | None = sys._getframe(1)
    level = 1  # the frame calling warnings.warn is stacklevel 1
    while f is not None and str(Path(f.f_code.co_filename).resolve()).startswith(pkg):
        f, level = f.f_back, level + 1
    return level


def _entries(d: Path) -> list[Path]:
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
    return len(_entries(cache_dir()))


def clear_cache() -> int:
    """Delete every cached entry.

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
    for p in _entries(d):
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
