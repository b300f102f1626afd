"""What ``/openapi.json`` says about each route: request body, query, headers and responses.

Routes parse their bodies and query strings themselves (parsing.py), so that a bad request gets
Huawei's error code and words rather than FastAPI's 422. FastAPI therefore cannot see what a
route takes, and it documents a 422 that never comes. :func:`operation` gives a route decorator
the description instead, without touching how anything is parsed, and :func:`install` makes the
document from FastAPI's with the 422s dropped and the request body models added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from coldshift.api import response_models as r
from coldshift.api.errors import Family

_REF = "#/components/schemas/{model}"

# Every route can answer these: a bad URL or body (400), a bad signature (401), a key of another
# project (403), a path that names no route or thing (404) and a body over the limit (413). DeH
# and Nova have conflicts of their own (409); ECS reports its conflicts as 400 (errors.TABLE).
_ERROR_STATUSES: Mapping[Family, tuple[int, ...]] = {
    Family.ECS: (400, 401, 403, 404, 413),
    Family.DEH: (400, 401, 403, 404, 409, 413),
    Family.NOVA: (400, 401, 403, 404, 409, 413),
}

# Models named by request bodies: install() adds them to components/schemas.
_BODY_MODELS: dict[str, type[BaseModel]] = {}


def operation(
    family: Family,
    ok: Mapping[int, type[BaseModel] | str],
    *,
    body: type[BaseModel] | dict[str, Any] | None = None,
    body_required: bool = True,
    parameters: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Keyword arguments for ``@router.<method>(path, ...)``.

    ``ok`` maps each success status to its body model, or to a description when it has no body;
    the first is the route's own status code. ``body`` is a model or a raw JSON schema.
    """
    statuses = list(ok)
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": shape} if isinstance(shape, type) else {"description": shape}
        for status, shape in ok.items()
    }
    error_model = r.NovaErrorBody if family is Family.NOVA else r.HuaweiErrorBody
    for status in _ERROR_STATUSES[family]:
        responses[status] = {"model": error_model}
    extra: dict[str, Any] = {}
    if body is not None:
        extra["requestBody"] = _request_body(body, body_required)
    if parameters:
        extra["parameters"] = list(parameters)
    described = {"status_code": statuses[0], "responses": responses, "openapi_extra": extra or None}
    if isinstance(ok[statuses[0]], str):
        # Only the description reads the response class (routes return their responses):
        # a plain Response tells FastAPI that this status has no JSON body.
        described["response_class"] = Response
    return described


def _request_body(body: type[BaseModel] | dict[str, Any], required: bool) -> dict[str, Any]:
    if isinstance(body, dict):
        schema = body
    else:
        _BODY_MODELS[body.__name__] = body
        schema = {"$ref": _REF.format(model=body.__name__)}
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def query(
    name: str, schema: dict[str, Any], description: str = "", *, empty_is_absent: bool = True
) -> dict[str, Any]:
    """An optional query parameter; parsing.query_str and query_int take ``name=`` as absent."""
    found = {"name": name, "in": "query", "required": False, "schema": schema}
    if empty_is_absent:
        found["allowEmptyValue"] = True
    return found | ({"description": description} if description else {})


def header(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    found = {"name": name, "in": "header", "required": False, "schema": schema}
    return found | ({"description": description} if description else {})


def text_queries(*names: str) -> list[dict[str, Any]]:
    return [query(name, {"type": "string"}) for name in names]


def limit_query(maximum: int, minimum: int = 1) -> dict[str, Any]:
    return query("limit", {"type": "integer", "minimum": minimum, "maximum": maximum})


def install(app: FastAPI) -> None:
    """Serve the description built here at ``/openapi.json`` (built once, on first request)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _drop_validation_errors(document)
            _add_body_models(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def _drop_validation_errors(document: dict[str, Any]) -> None:
    """FastAPI documents 422 for any route with parameters; ours answer 400 instead."""
    for methods in document.get("paths", {}).values():
        for described in methods.values():
            described.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _add_body_models(document: dict[str, Any]) -> None:
    pairs = [(model, "validation") for model in _BODY_MODELS.values()]
    _, top = models_json_schema(pairs, ref_template=_REF)  # type: ignore[arg-type]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in top.get("$defs", {}).items():
        # A response model of the same name would be silently replaced: refuse to start.
        assert schemas.get(name, schema) == schema, f"two OpenAPI schemas named {name}"
        schemas[name] = schema
