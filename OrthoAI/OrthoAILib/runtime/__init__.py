"""Model runtime: registry, model files (shipped, cached, downloaded), device, inference."""

from .progress import CancelToken, ProgressCallback
from .registry import ModelEntry, ModelRegistry, default_registry_path
from .store import ModelStore, default_cache_dir

__all__ = [
    "CancelToken",
    "ProgressCallback",
    "ModelEntry",
    "ModelRegistry",
    "default_registry_path",
    "ModelStore",
    "default_cache_dir",
]
