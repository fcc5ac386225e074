"""The task list's ``filter`` (guide 2.4.1): a small MongoDB-style query.

A filter is compiled once into a predicate, so that a malformed filter is a
400 even when no task exists, and matching 20,000 tasks costs one call each.
Fields are dotted paths (``extraData.supervisor.email``) looked up by a
resolver the caller supplies; a path that names nothing is :data:`MISSING`,
which equals nothing and so satisfies ``$ne`` (as in MongoDB).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any, Final

MISSING: Final = object()
Resolver = Callable[[str], Any]
Predicate = Callable[[Resolver], bool]


class FilterError(ValueError):
    """The filter is not one this server understands; the message says why."""


def _equal(actual: Any, expected: Any) -> bool:
    # JSON true is not 1: compare booleans only with booleans.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(actual: Any, expected: Any) -> bool:
        numbers = (int, float)
        if isinstance(actual, bool) or isinstance(expected, bool):
            return False
        if isinstance(actual, numbers) and isinstance(expected, numbers):
            return compare(actual, expected)
        if isinstance(actual, str) and isinstance(expected, str):
            return compare(actual, expected)
        return False

    return check


def _in(actual: Any, expected: Any) -> bool:
    # The operand was checked to be an array when the filter was compiled.
    return any(_equal(actual, item) for item in expected)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": _equal,
    "$ne": lambda a, e: not _equal(a, e),
    "$gt": _ordered(operator.gt),
    "$gte": _ordered(operator.ge),
    "$lt": _ordered(operator.lt),
    "$lte": _ordered(operator.le),
    "$in": _in,
    "$nin": lambda a, e: not _in(a, e),
    "$exists": lambda a, e: (a is not MISSING) == bool(e),
}


def _satisfies(actual: Any, checks: list[tuple[Callable[[Any, Any], bool], Any]]) -> bool:
    return all(check(actual, operand) for check, operand in checks)


def _field(path: str, expected: Any) -> Predicate:
    if isinstance(expected, dict) and expected and all(k.startswith("$") for k in expected):
        checks: list[tuple[Callable[[Any, Any], bool], Any]] = []
        for name, operand in expected.items():
            if name not in _OPERATORS:
                raise FilterError(f"unknown operator {name!r} on {path!r}")
            if name in ("$in", "$nin") and not isinstance(operand, list):
                raise FilterError(f"{name} on {path!r} takes an array")
            checks.append((_OPERATORS[name], operand))
        return lambda resolve: _satisfies(resolve(path), checks)
    return lambda resolve: _equal(resolve(path), expected)


def _all_of(parts: list[Predicate]) -> Predicate:
    return lambda resolve: all(p(resolve) for p in parts)


def _any_of(parts: list[Predicate]) -> Predicate:
    return lambda resolve: any(p(resolve) for p in parts)


def _compile(node: Any) -> Predicate:
    if not isinstance(node, dict):
        raise FilterError(f"a filter condition must be a JSON object, got {json.dumps(node)}")
    parts: list[Predicate] = []
    for key, value in node.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list):
                raise FilterError(f"{key} takes an array of conditions")
            inner = [_compile(item) for item in value]
            parts.append(_all_of(inner) if key == "$and" else _any_of(inner))
        elif key.startswith("$"):
            raise FilterError(f"unknown operator {key!r}")
        else:
            parts.append(_field(key, value))
    return _all_of(parts)


def compile_filter(text: str | None) -> Predicate:
    """Parse the ``filter`` query parameter into a predicate over a field resolver.

    Raises :class:`FilterError` if the parameter is missing, is not JSON, or
    uses an operator this server does not know.
    """
    if text is None:
        raise FilterError("the filter query parameter is required (guide 2.4)")
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise FilterError(f"filter is not valid JSON: {exc}") from None
    return _compile(parsed)
