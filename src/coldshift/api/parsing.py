"""Parse bodies and query parameters into typed values, or raise a domain error with words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from coldshift.domain.errors import BadRequest, EmptyBody, MalformedBody

M = TypeVar("M", bound=BaseModel)


def raw_body(request: Request) -> bytes:
    body: bytes = request.state.raw_body
    return body


def json_body(request: Request) -> Any:
    body = raw_body(request)
    if not body.strip():
        raise EmptyBody("the request body must not be empty")
    return parse_json(body)


def parse_json(body: bytes) -> Any:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the request body is not valid JSON: {exc}") from exc
    # PostgreSQL refuses NUL in text; the cheap byte test keeps the walk off the usual path.
    if b"\\u0000" in body and _holds_nul(data):
        raise MalformedBody("strings in the request body must not contain NUL characters")
    return data


def _holds_nul(data: Any) -> bool:
    pending = [data]  # a loop, not recursion: JSON may nest deeper than Python's stack
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


# (location of the field, pydantic error type or None for any) → the specific error to raise
FieldErrors = Mapping[tuple[tuple[str | int, ...], str | None], type[BadRequest]]


def parse_model(request: Request, model: type[M], specific: FieldErrors | None = None) -> M:
    data = json_body(request)
    if not isinstance(data, dict):
        raise MalformedBody("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _specific(exc, specific or {})(describe(exc)) from exc


def _specific(exc: ValidationError, specific: FieldErrors) -> type[BadRequest]:
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        found = specific.get((loc, err["type"])) or specific.get((loc, None))
        if found is not None:
            return found
    return BadRequest


def describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        problems.append(f"{where}: {err['msg']}")
    return "invalid request: " + "; ".join(problems[:5])


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"query parameter {name} must be an integer, got {raw!r}") from exc
    if not lo <= value <= hi:
        raise BadRequest(f"query parameter {name} must be between {lo} and {hi}, got {value}")
    return value


def query_str(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value not in (None, "") else None


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise BadRequest(f"query parameter {name} must be true or false, got {raw!r}")
