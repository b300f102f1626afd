"""Domain exceptions: what went wrong, in terms a user can act on.

Each class carries typed fields and builds its message in ``__str__``; the HTTP layer maps the
class (by MRO) to a status and a Huawei error code in one table (``api/errors.py``).

    ColdshiftError
    ├── BadRequest                 the request itself is wrong
    │   ├── MalformedBody          not JSON, or not the expected top-level shape
    │   │   └── EmptyBody
    │   ├── TooManyServers, ServerNameTooLong, ServerNameInvalid, DescriptionInvalid
    │   ├── InvalidMarker          a paging marker that names nothing
    │   ├── FlavorNotFound
    │   ├── InvalidTarget          migrate/create target DeH unusable (unknown, wrong AZ, type...)
    │   │   └── GroupHostTaken     the target DeH holds another member of the ECS's group
    │   ├── SameDedicatedHost
    │   └── GroupMembershipRefused a server that cannot join or leave this ECS group
    ├── AuthError
    │   ├── AuthenticationFailed   signature, key or date refused
    │   └── Forbidden              a valid key used outside its project or privileges
    ├── PayloadTooLarge
    ├── NotFound
    │   ├── UnknownApi             (Huawei's API gateway answers APIGW.0101)
    │   │   └── MethodNotAllowed
    │   ├── ServerNotFound
    │   ├── JobNotFound
    │   ├── DedicatedHostNotFound
    │   ├── ServerGroupNotFound
    │   └── HostTypeNotFound
    ├── Conflict
    │   ├── ServerLocked
    │   ├── ServerBusy             wrong state or a task already runs on the server
    │   ├── HostInUse              release refused: servers on or migrating to/from the DeH
    │   └── HostReleased
    ├── QuotaExceeded
    │   └── GroupFull              an ECS group already has its most members
    └── HostTypeNotOffered
"""

from __future__ import annotations


class ColdshiftError(Exception):
    """Base of every error coldshift reports to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(ColdshiftError):
    """The request is invalid: a field is missing, of the wrong type or out of range."""


class MalformedBody(BadRequest):
    """The body is not JSON or not a JSON object of the expected shape."""


class EmptyBody(MalformedBody):
    """The request needs a body and has none."""


class TooManyServers(BadRequest):
    """More ECSs in one create than allowed."""


class ServerNameTooLong(BadRequest):
    """The ECS name is too long."""


class ServerNameInvalid(BadRequest):
    """The ECS name holds characters other than letters, digits, _ - and ."""


class DescriptionInvalid(BadRequest):
    """The description is too long or holds < or >."""


class InvalidMarker(BadRequest):
    """A paging marker that names no item of the listing."""

    def __init__(self, marker: str) -> None:
        super().__init__(f"invalid marker {marker!r}: no such item in this listing")


class FlavorNotFound(BadRequest):
    """The flavor named by the request does not exist in this region."""

    def __init__(self, flavor_id: str) -> None:
        super().__init__(f"flavor {flavor_id!r} does not exist")


class InvalidTarget(BadRequest):
    """The dedicated host a request targets cannot take the server."""


class SameDedicatedHost(BadRequest):
    """Cold migration to the DeH the server is already on."""

    def __init__(self, host_id: str) -> None:
        super().__init__(
            f"the ECS is already on dedicated host {host_id}; "
            "cold migration to the same DeH is not supported"
        )


class GroupHostTaken(InvalidTarget):
    """The target DeH already holds another member of the ECS's anti-affinity group."""

    def __init__(self, host_id: str, group_id: str) -> None:
        super().__init__(
            f"dedicated host {host_id} already holds another member of ECS group {group_id}; "
            "its anti-affinity policy puts no two members on one host: choose another DeH"
        )


class GroupMembershipRefused(BadRequest):
    """A server cannot join (or leave) this ECS group as asked."""


class AuthError(ColdshiftError):
    """Authentication or authorisation refused."""


class AuthenticationFailed(AuthError):
    """Signature, access key or date not accepted."""


class Forbidden(AuthError):
    """The key is valid but not allowed to act on this project or resource."""


class PayloadTooLarge(ColdshiftError):
    """The request body exceeds the size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")


class NotFound(ColdshiftError):
    """The named resource does not exist in the caller's project."""


class UnknownApi(NotFound):
    """No API at this path (or not with this method)."""


class MethodNotAllowed(UnknownApi):
    """The path exists, but not with this method."""


class ServerNotFound(NotFound):
    """No such ECS in this project."""

    def __init__(self, server_id: str) -> None:
        super().__init__(f"the ECS {server_id} does not exist")
        self.server_id = server_id


class JobNotFound(NotFound):
    """No such job in this project."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"invalid job ID {job_id!r}: no such job")


class DedicatedHostNotFound(NotFound):
    """No such dedicated host in this project."""

    def __init__(self, host_id: str) -> None:
        super().__init__(f"dedicated host {host_id} does not exist")


class ServerGroupNotFound(NotFound):
    """No such ECS group in this project (another project's answers the same)."""

    def __init__(self, group_id: str) -> None:
        super().__init__(f"ECS group {group_id} does not exist")


class HostTypeNotFound(NotFound):
    """The DeH host type does not exist."""

    def __init__(self, host_type: str) -> None:
        super().__init__(f"FlavorNotFound: host type {host_type!r} does not exist")


class Conflict(ColdshiftError):
    """The resource is in a state that does not allow the operation."""


class ServerLocked(Conflict):
    """The ECS is locked."""

    def __init__(self, server_id: str) -> None:
        super().__init__(f"the ECS {server_id} is locked; unlock it first")


class ServerBusy(Conflict):
    """The ECS is not in a state that allows the operation, or a task runs on it."""


class HostInUse(Conflict):
    """The DeH still has ECSs on it, or is the source or target of a migration: a DeH is
    released only once nothing is placed on, claimed on, or bound for it."""

    def __init__(self, host_id: str) -> None:
        super().__init__(
            f"dedicated host {host_id} still has ECSs on it or migrating to or from it; "
            "move or delete them first"
        )


class HostDraining(Conflict):
    """The DeH is being drained: it takes no new servers until the drain job ends."""

    def __init__(self, host_id: str, job_id: str | None = None) -> None:
        by = f" by job {job_id}" if job_id else ""
        super().__init__(
            f"dedicated host {host_id} is being drained{by}; it takes no new servers until "
            "the drain has ended"
        )


class HostReleased(Conflict):
    """The DeH has been released."""

    def __init__(self, host_id: str) -> None:
        super().__init__(f"dedicated host {host_id} has been released")


class QuotaExceeded(ColdshiftError):
    """The project's quota does not allow the request."""


class GroupFull(QuotaExceeded):
    """The ECS group would have more members than allowed."""

    def __init__(self, group_id: str, limit: int, members: int, adding: int) -> None:
        super().__init__(
            f"ECS group {group_id} has {members} of at most {limit} members; "
            f"{adding} more do not fit"
        )


class HostTypeNotOffered(ColdshiftError):
    """The host type is not offered in the requested AZ."""


class DedicatedHostsSoldOut(HostTypeNotOffered):
    """Too few free physical hosts of the type in the AZ for the DeHs asked for (a libvirt
    region's inventory is finite); the DeH API answers it as an offer it cannot make."""

    def __init__(self, host_type: str, availability_zone: str, free: int, wanted: int) -> None:
        super().__init__(
            f"insufficient capacity: {free} free host(s) of type {host_type} in availability "
            f"zone {availability_zone!r}, {wanted} requested"
        )


class MachineTaken(Conflict):
    """A concurrent allocation took a physical host first (the allocation tries again)."""

    def __init__(self, machines: list[str]) -> None:
        super().__init__(f"physical host(s) {', '.join(machines)} taken by another allocation")
