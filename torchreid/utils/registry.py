"""A small name → object registry shared by datasets, models, samplers, transforms and losses.

Every kind of pluggable component has one ``Registry``; looking up an unknown name raises
:class:`RegistryKeyError`, which lists the valid names and the closest matches.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry", "RegistryKeyError"]


class RegistryKeyError(KeyError, ValueError):
    """Unknown or duplicate registry name.

    Subclasses both ``KeyError`` (what the original raised for models) and ``ValueError`` (what it raised for
    datasets), so existing ``except`` clauses keep working.
    """

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Maps names to objects (classes or factory functions).

    ``kind`` is used in error messages, e.g. ``Registry("image dataset")``.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self,
        name: str | None = None,
        obj: T | None = None,
        *,
        aliases: tuple[str, ...] = (),
        overwrite: bool = False,
    ) -> Any:
        """Register ``obj`` under ``name``; without ``obj`` it returns a decorator.

        ``name`` defaults to the decorated object's ``__name__``.
        """

        def _add(item: T) -> T:
            key = name or getattr(item, "__name__", None)
            if not key:
                raise ValueError(f"a name is required to register this {self.kind}")
            for k in (key, *aliases):
                if not overwrite and (k in self._items or k in self._aliases):
                    raise RegistryKeyError(f"{self.kind} {k!r} is already registered")
            self._items[key] = item
            for alias in aliases:
                self._aliases[alias] = key
            return item

        if obj is not None:
            return _add(obj)
        return _add

    def resolve(self, name: str) -> str:
        """Return the canonical name for ``name`` (following aliases); raise if unknown."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise RegistryKeyError(self.unknown_message(name))

    def get(self, name: str) -> T:
        return self._items[self.resolve(name)]

    def unknown_message(self, name: str) -> str:
        names = self.names()
        close = difflib.get_close_matches(str(name), names + list(self._aliases), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Available {self.kind}s: {', '.join(names)}"

    def names(self) -> list[str]:
        return list(self._items)

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"


def lazy_getattr(module_name: str, mapping: dict[str, str]) -> Callable[[str], Any]:
    """Build a PEP 562 ``__getattr__`` that imports ``mapping[name]`` (a submodule) on first access."""
    import importlib

    def __getattr__(name: str) -> Any:
        sub = mapping.get(name)
        if sub is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{module_name}.{sub}"), name)
        import sys

        setattr(sys.modules[module_name], name, value)
        return value

    return __getattr__


def lazy_exports(
    module_name: str, mapping: dict[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` of a package whose public names ``mapping`` resolves lazily (PEP 562).

    One call replaces the three module-level definitions every lazily exporting ``__init__`` needs::

        __all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
    """
    names = sorted(mapping)

    def __dir__() -> list[str]:
        return names

    return names, lazy_getattr(module_name, mapping), __dir__
