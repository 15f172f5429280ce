"""Errors that are part of the engine's interface: each says what was wrong and with what."""
from __future__ import annotations


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""


class BadInputError(EngineError, ValueError):
    """The caller's input (image, mask, class name, dataset, setting) is unusable.

    ``item`` names the offending file or value so a user can find it.
    """

    def __init__(self, message: str, item: str | None = None) -> None:
        super().__init__(f"{item}: {message}" if item else message)
        self.item = item
        self.detail = message  # the reason alone, for a caller that names the file itself


class MissingModelError(EngineError, RuntimeError):
    """Weights for a model role cannot be found; the message names the setting to change."""


class MissingDependencyError(EngineError, ImportError):
    """An optional dependency (e.g. detectron2 for CutLER) is needed but not installed."""


class CancelledError(EngineError):
    """Work was stopped because the caller's cancel flag was raised."""
