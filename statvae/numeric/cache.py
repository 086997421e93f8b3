"""On-disk cache of generated code, keyed by the model description.

The cache directory is ``$STATVAE_CACHE_DIR`` if set, else
``~/.cache/statvae``.  Entries are JSON files holding generated source text
and its metadata; nothing is pickled.  :func:`clear_cache` removes them (and
the other entries of the directory: the derived per-mode structures of
:mod:`statvae.symbolic.modes`).

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
The directory, the digest, the checks and the atomic write are those of
:mod:`statvae.storage`; this module adds the code entries' format and keys.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..storage import (cache_dir, check_record, clear_entries, count_entries, entry_digest as _digest, read_entry,
                       write_entry)

__all__ = ["cache_dir", "cache_key", "load", "store", "clear_cache", "count_entries", "entry_digest"]

#: Version of the generated code and of the entry format (part of every key; bump on any change).
CODEGEN_VERSION = "7"

#: Format tag written in every entry.
ENTRY_FORMAT = f"statvae-cache-{CODEGEN_VERSION}"

#: The fields of an entry and their types.
FIELDS: dict[str, type] = {"source": str, "meta": dict, "verified": bool}


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
    return _digest(key, {k: payload[k] for k in FIELDS})


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
    return read_entry(key, ENTRY_FORMAT, FIELDS)


def _checked(record: Any, key: str) -> dict[str, Any] | None:
    return check_record(record, key, ENTRY_FORMAT, FIELDS)


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
    return write_entry(key, ENTRY_FORMAT, payload)


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
    return clear_entries()
