"""Huawei's time formats (api.md §1.1)."""

from __future__ import annotations

from datetime import UTC, datetime


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def seconds_z(epoch: float | None) -> str | None:
    """``YYYY-MM-DDThh:mm:ssZ`` (created/updated, DeH allocated_at)."""
    return _dt(epoch).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch is not None else None


def millis_z(epoch: float | None) -> str:
    """``YYYY-MM-DDThh:mm:ss.fffZ`` (job begin/end); ``""`` while unknown."""
    if epoch is None:
        return ""
    return _dt(epoch).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_dt(epoch).microsecond // 1000:03d}Z"


def micros(epoch: float | None) -> str | None:
    """``YYYY-MM-DDThh:mm:ss.ffffff`` without zone (launched_at)."""
    return _dt(epoch).strftime("%Y-%m-%dT%H:%M:%S.%f") if epoch is not None else None
