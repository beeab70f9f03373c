"""YACS configuration: the default schema, loading with clear errors, and kwargs helpers."""

from __future__ import annotations

from .defaults import *  # noqa: F403 -- the public names are defaults.__all__
from .defaults import __all__  # noqa: F401
