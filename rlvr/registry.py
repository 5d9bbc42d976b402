"""One registry per kind of plug-in, picked by name from config.

Rewards, policy-loss objectives, loss aggregations and advantage estimators are plain functions chosen
by a string in a config file. A registry maps those strings to functions, refuses duplicates, and
answers an unknown name with the closest known ones, so a typo in a sweep fails loudly at start-up.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry(Generic[F]):
    name: str
    fn: F
    version: int = 0
    doc: str = ""


@dataclass
class Registry(Generic[F]):
    """A name -> function table for one kind of plug-in (e.g. ``REWARDS``)."""

    kind: str
    _entries: dict[str, Entry[F]] = field(default_factory=dict)

    def register(self, name: str, *, version: int = 0) -> Callable[[F], F]:
        """Decorator: ``@REWARDS.register("format", version=1)``."""

        def add(fn: F) -> F:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered (by {self._entries[name].fn.__module__})")
            self._entries[name] = Entry(name, fn, version, (fn.__doc__ or "").strip())
            return fn

        return add

    def entry(self, name: str) -> Entry[F]:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._entries, n=3)
            hint = f" did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(
                f"unknown {self.kind} {name!r};{hint} available: {', '.join(sorted(self._entries))}"
            ) from None

    def get(self, name: str) -> F:
        return self.entry(name).fn

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
