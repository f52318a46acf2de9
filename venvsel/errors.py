"""Error types that carry their exit code; the CLI catches them once at the entry point."""

from __future__ import annotations

# Stable exit codes (DESIGN.md): every command uses these and nothing else.
EXIT_OK = 0
EXIT_UNMET = 1  # a need or check not met: no env fits, fallback detected
EXIT_USAGE = 2  # bad input or usage
EXIT_FAILED = 3  # an operation failed (and was rolled back)
EXIT_INTERRUPTED = 130


class VenvselError(Exception):
    """A known failure: ``str(err)`` is one or two plain sentences for the user."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(VenvselError):
    """Bad input: a missing path, an unknown need, a value a shell cannot hold."""

    exit_code = EXIT_USAGE


class UnmetError(VenvselError):
    """A need or check is not met (no env fits, a silent CPU fallback was detected)."""

    exit_code = EXIT_UNMET


class OperationFailed(VenvselError):
    """An operation failed; anything it changed has been rolled back."""

    exit_code = EXIT_FAILED
