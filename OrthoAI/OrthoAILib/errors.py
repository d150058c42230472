"""Errors that reach users.

Every message says what is wrong and what to do about it; the GUI shows it
through ``slicer.util.tryWithErrorDisplay`` and the command line prints it and
exits non-zero.
"""


class OrthoAIError(Exception):
    """Base class of the errors OrthoAI raises on purpose (bad input, missing model...)."""


class InputError(OrthoAIError, ValueError):
    """The input (file, node, points, parameters) cannot be used as given."""


class ModelError(OrthoAIError):
    """A model is unknown, missing, corrupt, or cannot be loaded."""


class DownloadError(ModelError):
    """A model file could not be downloaded."""


class Cancelled(OrthoAIError):
    """The user cancelled a long-running operation; nothing was changed."""
