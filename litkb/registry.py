"""A registry of named things (input formats, export formats) whose built-in modules are imported on
first use, so that naming a format costs nothing until one is needed."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """Things by name; `modules` (in `package`) register theirs when imported. `kind` names them in errors."""

    def __init__(self, kind: str, package: str, modules: tuple[str, ...]) -> None:
        self.kind = kind
        self._package = package
        self._modules = modules
        self._items: dict[str, T] = {}
        self._loaded = False

    def add(self, name: str, item: T) -> T:
        self._items[name] = item
        return item

    def load(self) -> dict[str, T]:
        """Every registered thing by name, the built-in modules imported first."""
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(f"{self._package}.{module}")
        return self._items

    def get(self, name: str) -> T:
        items = self.load()
        if name not in items:
            raise UsageError(f"unknown {self.kind} '{name}'; known formats: {', '.join(self.names())}")
        return items[name]

    def names(self) -> list[str]:
        return sorted(self.load())

    def __iter__(self) -> Iterator[T]:
        return iter(list(self.load().values()))
