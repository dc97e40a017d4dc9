"""Exceptions shared by every layer.

Dependency-free on purpose: every package may import it, and the command line turns each of
these into one line of cause and one line of remedy (never a traceback).
"""

from __future__ import annotations


class IPWhitelistError(Exception):
    """Base class: a problem a user can act on.

    Parameters
    ----------
    cause : str
        One line saying what is wrong, naming the table/file/column where relevant.
    remedy : str
        One line saying what to do about it.
    """

    exit_code = 2

    def __init__(self, cause: str, remedy: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.remedy = remedy

    def __str__(self) -> str:
        return self.cause

    def __reduce__(self):
        # keep the remedy when the error crosses a process boundary (parallel export)
        return (self.__class__, (self.cause, self.remedy))


class DataError(IPWhitelistError):
    """Input data cannot be used (missing required table, unreadable file...)."""


class ContractViolation(DataError):
    """A table breaks its contract as a whole (e.g. a required column is missing)."""


class ConfigError(IPWhitelistError):
    """A configuration file or parameter is invalid."""


class OutputError(IPWhitelistError):
    """The run's outputs cannot be written: a full disk, no permission on the output
    folder, or a package writer process killed by the system."""


class ModelError(IPWhitelistError):
    """A model cannot be fitted, loaded or applied."""


class FeatureMismatchError(ModelError):
    """A feature table does not match the columns a model was fitted on."""


class VerificationError(IPWhitelistError):
    """A package failed hash or signature verification."""
