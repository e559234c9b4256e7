"""Domain errors. The web layer maps them to HTTP statuses in one place."""


class DomainError(Exception):
    """Base of every rule the domain refuses."""


class InvalidFact(DomainError):
    """A fact that cannot be true (422): names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ConflictingState(DomainError):
    """A command the file's current state forbids (409)."""


class NotFound(DomainError):
    """No such aggregate (404)."""


class Forbidden(DomainError):
    """The caller's role may not do this (403)."""
