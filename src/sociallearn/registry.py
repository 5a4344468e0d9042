"""A tiny name -> factory registry shared by models, tasks, methods and aggregators.

Built-ins register themselves on import; third-party packages add entries through the
``sociallearn`` entry-point group, as ``<kind>.<name> = "module:factory"``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from sociallearn.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; unknown names fail with the list of known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._entry_points_loaded = False

    def register(self, name: str, factory: Callable[..., T] | None = None) -> Callable[..., T]:
        """Register ``factory`` under ``name``; a decorator when ``factory`` is omitted."""

        def add(fn: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories and self._factories[name] is not fn:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = fn
            return fn

        if factory is not None:
            return add(factory)
        return add  # type: ignore[return-value]

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        prefix = f"{self.kind}."
        for ep in entry_points(group="sociallearn"):
            if ep.name.startswith(prefix):
                name = ep.name[len(prefix) :]
                if name not in self._factories:
                    self._factories[name] = ep.load()

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Callable[..., T]:
        self._load_entry_points()
        try:
            return self._factories[name]
        except KeyError:
            raise UserError(self.unknown_message(name)) from None

    def create(self, name: str, *args: object, **kwargs: object) -> T:
        return self.get(name)(*args, **kwargs)

    def unknown_message(self, name: str, where: str = "") -> str:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        location = f"{where}: " if where else ""
        return f"{location}unknown {self.kind} {name!r}.{hint} Known: {', '.join(known)}"
