"""Errors MiniCloud raises on purpose.  Every one of them reads as one line a user can act on."""

from __future__ import annotations


class MiniCloudError(Exception):
    """Base: ``str(err)`` is the one line the user interface shows."""


class ValidationError(MiniCloudError):
    """The request itself is wrong (bad name, bad CIDR, overlap...)."""


class NotFoundError(MiniCloudError):
    """A named object does not exist (in MiniCloud's view)."""


class AmbiguousError(MiniCloudError):
    """A name matches objects in several clouds."""


class InUseError(MiniCloudError):
    """An object cannot be removed while others depend on it."""


class StaleError(MiniCloudError):
    """Another MiniCloud changed the object since it was read; nothing was written."""


class StoreError(MiniCloudError):
    """The store cannot be opened or written."""


class ConfigError(MiniCloudError):
    """The configuration is wrong or incomplete."""


class LeftoverError(MiniCloudError):
    """An operation failed and undoing it failed too: names what is left behind."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during an operation, raised in place of its KeyboardInterrupt (so every
    ``except KeyboardInterrupt`` still takes it): ``str(err)`` says in one line what it left
    pending or behind, and is empty when there is nothing to say."""

    def __init__(self, *parts: str) -> None:
        super().__init__("; ".join(p for p in parts if p))

    @classmethod
    def adding(cls, interrupt: KeyboardInterrupt, text: str) -> Interrupted:
        """``interrupt`` (a plain one, or one that says something already), saying ``text``
        too."""
        return cls(str(interrupt) if isinstance(interrupt, Interrupted) else "", text)


# Why a cloud call failed; drivers map their own exceptions onto these.
UNREACHABLE = "unreachable"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not found"
CONFLICT = "conflict"
QUOTA = "quota exceeded"
SERVER = "server error"
TIMEOUT = "timed out"
FAILED = "failed"
INVALID = "refused as invalid"


class DriverError(MiniCloudError):
    """A cloud refused or failed a call.  The one error type every driver raises."""

    def __init__(self, cloud: str, operation: str, reason: str = FAILED, detail: str = ""):
        self.cloud = cloud
        self.operation = operation
        self.reason = reason
        self.detail = detail
        text = f"cloud {cloud}: {operation} {reason}"
        if detail:
            text += f": {detail}"
        super().__init__(text)


class CredentialsNeeded(DriverError):
    """The cloud needs a password MiniCloud was not given: ask for it, or set OS_PASSWORD."""
