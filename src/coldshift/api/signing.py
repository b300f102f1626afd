"""SDK-HMAC-SHA256 request signatures, computed exactly as huaweicloudsdkcore's ``Signer`` does.

The server side of api.md §1.3: parse the ``Authorization`` header, rebuild the canonical request
from the request *as received* (§1.3.3), sign it with the access key's secret (§1.3.4) and compare
(§1.3.5 steps 1-4).  :func:`sign_request` is the client side, for tests and benchmarks.

Only the standard library is used.  Header mappings handed to this module have lower-case keys and
text values (header bytes decoded as UTF-8, §1.3.3).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
CONTENT_SHA256_HEADER = "x-sdk-content-sha256"
REQUIRED_SIGNED_HEADERS = ("host", "x-sdk-date")

_DATE_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_HEX64_RE = re.compile(r"[0-9a-fA-F]{64}")
_AUTH_PARTS = ("Access", "SignedHeaders", "Signature")


@dataclass(frozen=True, slots=True)
class Authorization:
    """A parsed ``Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...``."""

    access_key: str
    signed_headers: tuple[str, ...]  # lower-case names, in the order given
    signature: str  # 64 lower-case hex digits


class SignatureError(Exception):
    """Why a request's signature was refused; str(exc) is a message a user can act on."""


def parse_authorization(value: str) -> Authorization:
    """Parse an ``Authorization`` header value; :class:`SignatureError` if it is not ours."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        shown = algorithm if len(algorithm) <= 40 else algorithm[:40] + "..."
        raise SignatureError(
            f"unsupported Authorization scheme {shown!r}; sign requests with {ALGORITHM}"
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, part = item.strip().partition("=")
        if not sep or name not in _AUTH_PARTS:
            raise SignatureError(
                "malformed Authorization header; expected "
                f"'{ALGORITHM} Access=<AK>, SignedHeaders=<h1;h2;...>, Signature=<hex>'"
            )
        if name in parts:
            raise SignatureError(f"malformed Authorization header: {name} given twice")
        parts[name] = part.strip()
    for name in _AUTH_PARTS:
        if not parts.get(name):
            raise SignatureError(f"malformed Authorization header: {name} is missing or empty")
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    if any(not name or name != name.lower() for name in signed_headers):
        raise SignatureError(
            "malformed Authorization header: SignedHeaders must be non-empty lower-case "
            "header names joined by ';'"
        )
    signature = parts["Signature"]
    if not _HEX64_RE.fullmatch(signature):
        raise SignatureError(
            "malformed Authorization header: Signature must be 64 hexadecimal digits"
        )
    return Authorization(parts["Access"], signed_headers, signature.lower())


def _encode(text: str) -> str:
    """Percent-encode everything but the RFC 3986 unreserved set (upper-case hex, UTF-8)."""
    return quote(text, safe="")


def canonical_uri(raw_path: str) -> str:
    """§1.3.3 CanonicalURI of a path as received (still percent-encoded, no query)."""
    segments = unquote(raw_path).split("/")
    uri = "/".join(_encode(segment) for segment in segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(raw_query: str) -> str:
    """§1.3.3 CanonicalQueryString of a query string as received (no leading ``?``).

    Pairs are decoded as form data (``+`` is a space, like the application's own parser), so
    the signature covers the values the application will see; blank values are kept.
    """
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    pairs.sort()
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in pairs)


def payload_hash(body: bytes, headers: Mapping[str, str]) -> str:
    """§1.3.3 HexPayloadHash, in the SDK's order; ``headers`` keys are lower-case."""
    if not body:
        return EMPTY_PAYLOAD_SHA256
    declared = headers.get(CONTENT_SHA256_HEADER)
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """The §1.3.3 CanonicalRequest; ``headers`` keys are lower-case."""
    lines = []
    for name in signed_headers:
        key = name.lower()
        if key not in headers:
            raise SignatureError(f"signed header {key!r} is absent from the request")
        lines.append(f"{key}:{headers[key].strip()}\n")
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            "".join(lines),
            ";".join(signed_headers),
            payload_hash(body, headers),
        ]
    )


def string_to_sign(sdk_date: str, canonical: str) -> str:
    """§1.3.4 StringToSign."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def sign(secret_key: str, sdk_date: str, canonical: str) -> str:
    """§1.3.4 Signature (lower-case hex) of a canonical request."""
    message = string_to_sign(sdk_date, canonical).encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


@lru_cache(maxsize=1024)  # strptime is slow, and concurrent requests share their second
def parse_sdk_date(value: str) -> datetime:
    """Parse ``X-Sdk-Date`` (``20240101T000000Z``) into an aware UTC datetime."""
    if not _DATE_RE.fullmatch(value):
        raise SignatureError(
            f"X-Sdk-Date {value[:40]!r} is not a UTC time of the form 20240101T000000Z"
        )
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(f"X-Sdk-Date {value!r} is not a valid date and time") from exc


def _check_declared_payload(body: bytes, headers: Mapping[str, str], allow_unsigned: bool) -> None:
    """Refuse a body the signature does not actually cover.

    The SDK puts ``X-Sdk-Content-Sha256`` into the canonical request verbatim, so a declared hash
    must really be the body's hash, and ``UNSIGNED-PAYLOAD`` (which the SDK only sends for
    non-JSON content types) leaves the body unauthenticated.
    """
    declared = headers.get(CONTENT_SHA256_HEADER)
    if not body or not declared:
        return
    if declared == UNSIGNED_PAYLOAD:
        if allow_unsigned:
            return
        raise SignatureError(
            "unsigned payloads are not accepted: send the body as application/json so that "
            "its SHA-256 is signed"
        )
    if not hmac.compare_digest(declared.lower(), hashlib.sha256(body).hexdigest()):
        raise SignatureError("the body does not match its X-Sdk-Content-Sha256 header")


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = timedelta(minutes=15),
    allow_unsigned_payload: bool = False,
) -> Authorization:
    """Check a signed request (api.md §1.3.5 steps 1-4) and return its authorization.

    ``headers`` has lower-case keys; ``raw_path`` is the path exactly as received (still
    percent-encoded) and ``raw_query`` the query string as received.  ``now`` must be
    timezone-aware.  Raises :class:`SignatureError` on any refusal; its message never contains
    the expected signature.
    """
    if now.tzinfo is None:
        raise ValueError("verify() needs a timezone-aware 'now'")
    value = headers.get("authorization")
    if not value:
        raise SignatureError("the request is not signed: it has no Authorization header")
    auth = parse_authorization(value)
    secret = secret_for(auth.access_key)
    if secret is None:
        raise SignatureError(f"unknown access key {auth.access_key[:64]!r}")

    sdk_date = headers.get("x-sdk-date", "").strip()
    if not sdk_date:
        raise SignatureError("the request has no X-Sdk-Date header")
    sent_at = parse_sdk_date(sdk_date)
    if abs(sent_at - now) > max_skew:
        raise SignatureError(
            f"X-Sdk-Date {sdk_date} is more than {_minutes(max_skew)} away from the "
            f"server time {now.astimezone(UTC).strftime(DATE_FORMAT)}; check the client's clock"
        )

    for required in REQUIRED_SIGNED_HEADERS:
        if required not in auth.signed_headers:
            raise SignatureError(f"SignedHeaders must include {required!r}")
    for name in auth.signed_headers:
        if name not in headers:
            raise SignatureError(f"signed header {name!r} is absent from the request")
    _check_declared_payload(body, headers, allow_unsigned_payload)

    canonical = canonical_request(method, raw_path, raw_query, headers, auth.signed_headers, body)
    expected = sign(secret, sdk_date, canonical)
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError(
            "the signature does not match the request; check the secret key and that the "
            "request was not changed after signing (method, path, query, signed headers, body)"
        )
    return auth


def _minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60:
        return f"{seconds} seconds"
    return f"{seconds // 60} minutes"


def sign_request(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    when: datetime,
) -> dict[str, str]:
    """Sign a request as the SDK would and return its headers (for tests and benchmarks).

    Returns a new dict: ``headers`` plus ``X-Sdk-Date``, ``Host`` (the URL's netloc, port
    included, unless ``headers`` already has a Host) and ``Authorization``.  Every given header
    is signed (names lower-cased, sorted), together with ``host`` and ``x-sdk-date``.  ``when``
    must be timezone-aware.
    """
    if when.tzinfo is None:
        raise ValueError("sign_request() needs a timezone-aware 'when'")
    parts = urlsplit(url)
    sdk_date = when.astimezone(UTC).strftime(DATE_FORMAT)
    result = {
        name: value
        for name, value in headers.items()
        if name.lower() not in ("x-sdk-date", "authorization")
    }
    if not any(name.lower() == "host" for name in result):
        result["Host"] = parts.netloc
    result["X-Sdk-Date"] = sdk_date
    lowered = {name.lower(): value for name, value in result.items()}
    if len(lowered) != len(result):
        raise ValueError("headers name the same header twice (names differ only in case)")
    signed_headers = sorted(lowered)
    canonical = canonical_request(
        method, parts.path or "/", parts.query, lowered, signed_headers, body
    )
    result["Authorization"] = (
        f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed_headers)}, "
        f"Signature={sign(secret_key, sdk_date, canonical)}"
    )
    return result
