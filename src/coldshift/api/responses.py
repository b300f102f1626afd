"""JSON responses serialised with orjson (integers stay numbers, booleans stay booleans)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JsonResponse(JSONResponse):
    """A JSONResponse (so that FastAPI's OpenAPI description calls the body JSON) rendered by
    orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
