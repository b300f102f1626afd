"""The one place where domain errors become Huawei error bodies.

The codes are those of ``domain.codes``. The API family is chosen by the path: ``/v1.0/`` is
DeH, ``/v2`` and ``/v2.1/`` are Nova-native, everything else is the ECS API. Lookup walks the
exception's MRO, so a subclass inherits its parent's mapping unless it has its own row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import orjson
from starlette.requests import Request
from starlette.responses import Response

from coldshift.domain import errors as e
from coldshift.domain.codes import Code


class Family(StrEnum):
    ECS = "ecs"
    DEH = "deh"
    NOVA = "nova"


@dataclass(frozen=True, slots=True)
class Mapping:
    ecs: tuple[int, str]
    deh: tuple[int, str]
    nova: tuple[int, str]  # (status, fault name)


_BAD = Mapping((400, Code.BAD_REQUEST), (400, Code.DEH_BAD_REQUEST), (400, "badRequest"))

TABLE: dict[type[BaseException], Mapping] = {
    e.BadRequest: _BAD,
    e.MalformedBody: Mapping(
        (400, Code.BAD_REQUEST), (400, Code.DEH_MALFORMED), (400, "badRequest")
    ),
    e.EmptyBody: Mapping((400, Code.EMPTY_BODY), (400, Code.DEH_MALFORMED), (400, "badRequest")),
    e.TooManyServers: Mapping(
        (400, Code.TOO_MANY_SERVERS), (400, Code.DEH_BAD_REQUEST), (400, "badRequest")
    ),
    e.ServerNameTooLong: Mapping(
        (400, Code.NAME_TOO_LONG), (400, Code.DEH_BAD_REQUEST), (400, "badRequest")
    ),
    e.ServerNameInvalid: Mapping(
        (400, Code.NAME_INVALID), (400, Code.DEH_BAD_REQUEST), (400, "badRequest")
    ),
    e.DescriptionInvalid: Mapping(
        (400, Code.DESCRIPTION_INVALID), (400, Code.DEH_BAD_REQUEST), (400, "badRequest")
    ),
    e.InvalidMarker: _BAD,
    e.FlavorNotFound: Mapping(
        (400, Code.FLAVOR_NOT_FOUND), (400, Code.DEH_BAD_REQUEST), (400, "badRequest")
    ),
    e.InvalidTarget: _BAD,
    e.SameDedicatedHost: Mapping(
        (400, Code.SAME_DEDICATED_HOST), (400, Code.DEH_BAD_REQUEST), (400, "badRequest")
    ),
    e.AuthenticationFailed: Mapping(
        (401, Code.AUTHENTICATION_FAILED), (401, Code.AUTHENTICATION_FAILED), (401, "unauthorized")
    ),
    e.Forbidden: Mapping((403, Code.FORBIDDEN), (403, Code.DEH_FORBIDDEN), (403, "forbidden")),
    e.PayloadTooLarge: Mapping(
        (413, Code.BAD_REQUEST), (413, Code.DEH_BAD_REQUEST), (413, "overLimit")
    ),
    e.NotFound: Mapping(
        (404, Code.SERVER_NOT_FOUND), (404, Code.DEH_BAD_REQUEST), (404, "itemNotFound")
    ),
    e.UnknownApi: Mapping((404, Code.UNKNOWN_API), (404, Code.UNKNOWN_API), (404, "itemNotFound")),
    e.MethodNotAllowed: Mapping(
        (405, Code.UNKNOWN_API), (405, Code.UNKNOWN_API), (405, "badMethod")
    ),
    e.JobNotFound: Mapping(
        (400, Code.JOB_NOT_FOUND), (400, Code.JOB_NOT_FOUND), (404, "itemNotFound")
    ),
    e.Conflict: Mapping(
        (400, Code.WRONG_STATE), (409, Code.DEH_CONFLICT), (409, "conflictingRequest")
    ),
    e.ServerLocked: Mapping(
        (400, Code.SERVER_LOCKED), (409, Code.DEH_CONFLICT), (409, "conflictingRequest")
    ),
    e.HostInUse: Mapping(
        (409, Code.DEH_CONFLICT), (409, Code.DEH_CONFLICT), (409, "conflictingRequest")
    ),
    e.ServerGroupNotFound: Mapping(
        (404, Code.GROUP_NOT_FOUND), (404, Code.DEH_BAD_REQUEST), (404, "itemNotFound")
    ),
    e.GroupFull: Mapping(
        (400, Code.GROUP_MEMBER_QUOTA), (403, Code.DEH_BAD_REQUEST), (403, "forbidden")
    ),
    e.QuotaExceeded: Mapping((400, Code.QUOTA), (403, Code.DEH_BAD_REQUEST), (403, "forbidden")),
    e.HostTypeNotOffered: Mapping(
        (400, Code.BAD_REQUEST), (403, Code.DEH_BAD_REQUEST), (400, "badRequest")
    ),
    e.MachineTaken: Mapping(
        (409, Code.DEH_CONFLICT), (409, Code.DEH_CONFLICT), (409, "conflictingRequest")
    ),
    e.ColdshiftError: Mapping((500, Code.INTERNAL), (500, Code.INTERNAL), (500, "computeFault")),
}

_INTERNAL = Mapping((500, Code.INTERNAL), (500, Code.INTERNAL), (500, "computeFault"))


def family_of(path: str) -> Family:
    if path.startswith("/v1.0/"):
        return Family.DEH
    if path.startswith(("/v2/", "/v2.1/")):
        return Family.NOVA
    return Family.ECS


def lookup(exc: BaseException) -> Mapping:
    for cls in type(exc).__mro__:
        if cls in TABLE:
            return TABLE[cls]
    return _INTERNAL


def error_body(family: Family, status: int, code: str, message: str) -> bytes:
    if family is Family.NOVA:
        return orjson.dumps({code: {"code": status, "message": message}})
    return orjson.dumps({"error": {"code": code, "message": message}})


def error_response(path: str, exc: BaseException, request_id: str = "") -> Response:
    family = family_of(path)
    status, code = getattr(lookup(exc), family.value)
    message = str(exc) if isinstance(exc, e.ColdshiftError) else "internal error"
    headers = {"X-Request-Id": request_id} if request_id else {}
    return Response(
        error_body(family, status, code, message),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def handle(request: Request, exc: Exception) -> Response:
    return error_response(request.url.path, exc, getattr(request.state, "request_id", ""))
