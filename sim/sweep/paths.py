"""Addressing values inside a nested spec: ``material.youngs_modulus``, ``loads[0].force[1]``.

A path is dot-separated keys, each optionally followed by ``[index]`` list subscripts. Setting
a path never changes the structure of the spec (a missing key or index is an error), so a typo
in a sweep is reported instead of silently adding an unused entry.
"""

from __future__ import annotations

import re
from typing import Any

from sim.errors import InputError

_TOKEN = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``"loads[0].force[1]"`` -> ``["loads", 0, "force", 1]``; InputError when malformed."""
    text = str(path).strip()
    if not text:
        raise InputError("A parameter path is empty.")
    tokens: list[str | int] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "." and tokens and pos + 1 < len(text):
            pos += 1
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InputError(f"The path '{path}' is not of the form key.key[index] "
                             f"(stopped at character {pos + 1}).")
        tokens.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return tokens


def _step(node: Any, token: str | int, path: str) -> Any:
    if isinstance(token, int):
        if not isinstance(node, list) or not -len(node) <= token < len(node):
            raise InputError(f"The path '{path}' has no item [{token}] (not a list that long).")
        return node[token]
    if not isinstance(node, dict) or token not in node:
        raise InputError(f"The path '{path}' names '{token}', which the base spec does not have.")
    return node[token]


def get_path(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data`` (InputError naming the path when absent)."""
    node = data
    for token in parse_path(path):
        node = _step(node, token, path)
    return node


def set_path(data: Any, path: str, value: Any) -> None:
    """Replace the value at ``path`` in ``data`` in place; the path must already exist."""
    tokens = parse_path(path)
    node = data
    for token in tokens[:-1]:
        node = _step(node, token, path)
    _step(node, tokens[-1], path)  # exists?
    node[tokens[-1]] = value


def lookup(data: Any, path: str) -> Any:
    """Like :func:`get_path` but None when absent (quantities a failed run did not produce)."""
    try:
        return get_path(data, path)
    except InputError:
        return None
