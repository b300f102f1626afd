"""Identifiers in Huawei's formats: UUIDv4 for servers and DeHs, 32 hex digits for jobs."""

from __future__ import annotations

import re
import uuid

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def is_job_id(value: str) -> bool:
    return bool(_HEX32.match(value))
