"""Error types. Anything a user can fix is a :class:`UserError` and is shown as one line."""

from __future__ import annotations


class SocialLearnError(Exception):
    """Base class of every error raised on purpose by sociallearn."""


class UserError(SocialLearnError):
    """Bad input the user can fix: a wrong name, a missing file, a malformed field.

    The CLI prints ``str(error)`` as a single line, without a traceback, so the message must say
    *where* (file, field or option) and *what is expected*.
    """


class ConfigError(UserError):
    """A configuration file or option is invalid."""


class DataError(UserError):
    """A data file is missing, unreadable or lacks the expected fields."""


class CapabilityError(UserError):
    """A model backend lacks a capability that the requested work needs (e.g. prompt log-probs)."""


class BackendError(SocialLearnError):
    """A model backend failed after retries (server unreachable, repeated 5xx, ...)."""
