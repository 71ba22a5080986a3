"""The one error type users see. Its message names where the problem is and what to do."""

from __future__ import annotations

from pathlib import Path


class ProcevalError(Exception):
    """An error caused by the user's input or environment, printed by the CLI without a traceback.

    ``file``, ``line`` and ``field`` locate the problem; ``hint`` says what to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        field = f"{self.field}: " if self.field else ""
        text = f"{where}{field}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class TemplateError(ProcevalError):
    """A causal template that cannot be loaded or is inconsistent."""


class SourceError(ProcevalError):
    """Input data for scenarios (a table, a lexicon) that cannot be used."""


class DatasetError(ProcevalError):
    """A dataset directory that is missing, incomplete or inconsistent."""


class ModelError(ProcevalError):
    """A model backend that cannot be reached, loaded or understood."""


class RunError(ProcevalError):
    """A run directory or run configuration that cannot be used."""


class AnalysisError(ProcevalError):
    """Responses that cannot support the analysis asked of them."""


class StudyError(ProcevalError):
    """A study file that cannot be used."""


class HumansError(ProcevalError):
    """Human data or the web study's configuration that cannot be used."""


def describe_error(exc: BaseException) -> str:
    """An unexpected exception in words: its type and message (``LinAlgError: Singular matrix``)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
