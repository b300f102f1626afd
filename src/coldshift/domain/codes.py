"""Every error code coldshift answers with, in one table.

Request errors reach a client through ``api/errors.py``, which maps each domain exception to
one of these per API family; job errors are a job's ``error_code``. The values are Huawei's
(api.md): a code keeps one meaning everywhere it is used.
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class Code(StrEnum):
    # ---- ECS API ---------------------------------------------------------------------------
    #: instance quota exceeded
    QUOTA = "Ecs.0001"
    #: the request is invalid (a field missing, of the wrong type or out of range)
    BAD_REQUEST = "Ecs.0005"
    #: flavor does not exist
    FLAVOR_NOT_FOUND = "Ecs.0029"
    #: description too long or with forbidden characters
    DESCRIPTION_INVALID = "Ecs.0041"
    #: an ECS group would have more members than allowed
    GROUP_MEMBER_QUOTA = "Ecs.0022"
    #: the ECS is in a state that does not allow the operation
    WRONG_STATE = "Ecs.0100"
    #: a valid key used outside its project or privileges
    FORBIDDEN = "Ecs.0110"
    #: the ECS does not exist (or no longer does)
    SERVER_NOT_FOUND = "Ecs.0114"
    #: the creation of an ECS failed
    CREATE_FAILED = "Ecs.0204"
    #: the target DeH is the server's current DeH
    SAME_DEDICATED_HOST = "Ecs.0221"
    #: starting an ECS failed
    START_FAILED = "Ecs.0226"
    #: rebooting an ECS failed
    REBOOT_FAILED = "Ecs.0227"
    #: the ECS group does not exist (Huawei: "ECS group query failed")
    GROUP_NOT_FOUND = "Ecs.0313"
    #: no host has room (capacity, the NUMA rules or an ECS group's anti-affinity)
    NO_CAPACITY = "Ecs.0319"
    #: deleting an ECS failed
    DELETE_FAILED = "Ecs.0501"
    #: the ECS is locked
    SERVER_LOCKED = "Ecs.0605"
    #: more ECSs in one create than allowed
    TOO_MANY_SERVERS = "Ecs.0913"
    #: ECS name too long
    NAME_TOO_LONG = "Ecs.0914"
    #: ECS name with forbidden characters
    NAME_INVALID = "Ecs.0915"
    #: the hypervisor failed (stop, migration steps, an injected fault)
    SYSTEM_ERROR = "Ecs.1000"
    # ---- shared by the ECS and DeH APIs ----------------------------------------------------
    #: an unexpected server error
    INTERNAL = "Common.0001"
    #: the request needs a body and has none
    EMPTY_BODY = "Common.0002"
    #: the job does not exist
    JOB_NOT_FOUND = "Common.0011"
    #: signature, key or date refused
    AUTHENTICATION_FAILED = "Common.0013"
    #: no workflow is registered for a job's type (coldshift's own)
    UNKNOWN_JOB_TYPE = "Common.0020"
    #: a job interrupted by a crash before its commit point, undone (coldshift's own)
    INTERRUPTED = "Common.0999"
    # ---- DeH API ---------------------------------------------------------------------------
    #: malformed body
    DEH_MALFORMED = "DEH.0001"
    #: invalid parameter (also not found, quota and offer errors)
    DEH_BAD_REQUEST = "DEH.0018"
    #: forbidden
    DEH_FORBIDDEN = "DEH.0033"
    #: the DeH is in use or released
    DEH_CONFLICT = "DEH.0055"
    # ---- API gateway -----------------------------------------------------------------------
    #: no such API
    UNKNOWN_API = "APIGW.0101"
