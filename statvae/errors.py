"""Exception types raised by statvae.

Every error that statvae raises on bad input is a :class:`StatvaeError`
(or a subclass), carrying a one-line, human-readable message.  The command
line interface prints that message on one line and exits with status 2.
"""

from __future__ import annotations

__all__ = ["StatvaeError", "ModelError", "DataError", "AnalysisError", "CacheWarning"]


class StatvaeError(ValueError):
    """Base class of every error statvae raises on bad input or failed analysis."""

    def __init__(self, message: str) -> None:
        # keep messages on one line: the CLI prints them verbatim
        super().__init__(" ".join(str(message).split()))


class ModelError(StatvaeError):
    """A model description is invalid (bad dimension, option, hyper-parameter, graph)."""


class DataError(StatvaeError):
    """Data are invalid (spectrum, covariance, samples, file)."""


class AnalysisError(StatvaeError):
    """An analysis cannot be carried out as asked (e.g. no critical value exists)."""


class CacheWarning(UserWarning):
    """The on-disk cache of compiled code cannot be written; code is regenerated on every run."""
