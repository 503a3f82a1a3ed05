"""Name -> class/function tables behind the config groups (model, dataset source, logger)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def registrar(table: dict[str, T]) -> Callable[[str], Callable[[T], T]]:
    """A decorator factory that files the decorated item in ``table`` under the given name."""

    def register(name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            table[name] = item
            return item

        return add

    return register
