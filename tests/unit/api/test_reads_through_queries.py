"""The HTTP layer reads through the query service: import-linter forbids it to name the storage
port, but the store stays reachable as ``Region.store``, which only a look at the source sees."""

from __future__ import annotations

import ast
from pathlib import Path

import coldshift.api

API = Path(coldshift.api.__file__).parent


def _store_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(API)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "store"
    ]


def test_no_route_or_helper_touches_the_store() -> None:
    uses = [use for path in sorted(API.rglob("*.py")) for use in _store_uses(path)]
    assert uses == []
