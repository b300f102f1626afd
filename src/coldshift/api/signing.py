"""SDK-HMAC-SHA256 request signatures, exactly as huaweicloudsdkcore's Signer computes them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_UNRESERVED = "-_.~"


@dataclass(frozen=True, slots=True)
class Authorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


class SignatureError(Exception):
    """Why a request's signature was refused; str(exc) is a message a user can act on."""


def parse_authorization(value: str) -> Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(f"unsupported signing algorithm {algorithm!r}; use {ALGORITHM}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key] = val
    try:
        access, signed, signature = parts["Access"], parts["SignedHeaders"], parts["Signature"]
    except KeyError as exc:
        raise SignatureError(f"Authorization header lacks {exc.args[0]}") from exc
    if not access or not signed or not signature:
        raise SignatureError("Authorization header has an empty part")
    return Authorization(access, tuple(signed.split(";")), signature)


def _encode(text: str) -> str:
    return quote(text, safe=_UNRESERVED)


def canonical_uri(raw_path: str) -> str:
    segments = unquote(raw_path).split("/")
    uri = "/".join(_encode(s) for s in segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((unquote(key.replace("+", " ")), unquote(value.replace("+", " "))))
    pairs.sort()
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)


def payload_hash(body: bytes, headers: Mapping[str, str]) -> str:
    if not body:
        return EMPTY_PAYLOAD_SHA256
    declared = headers.get("x-sdk-content-sha256")
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def canonical_request(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
                      signed_headers: Sequence[str], body: bytes) -> str:
    header_block = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join([method.upper(), canonical_uri(raw_path), canonical_query(raw_query),
                      header_block, ";".join(signed_headers), payload_hash(body, headers)])


def string_to_sign(sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def sign(secret_key: str, sdk_date: str, canonical: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), string_to_sign(sdk_date, canonical)
                    .encode("utf-8"), hashlib.sha256).hexdigest()


def parse_sdk_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(f"X-Sdk-Date {value!r} is not in the form 20240101T000000Z") from exc


def verify(*, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
           body: bytes, secret_for: Callable[[str], str | None], now: datetime,
           max_skew: timedelta = timedelta(minutes=15)) -> Authorization:
    """Check a signed request (api.md §1.3.5 steps 1-4); ``headers`` has lower-case keys."""
    value = headers.get("authorization")
    if not value:
        raise SignatureError("the request is not signed: no Authorization header")
    auth = parse_authorization(value)
    secret = secret_for(auth.access_key)
    if secret is None:
        raise SignatureError(f"unknown access key {auth.access_key!r}")
    date = headers.get("x-sdk-date")
    if not date:
        raise SignatureError("the request has no X-Sdk-Date header")
    if abs(parse_sdk_date(date) - now) > max_skew:
        raise SignatureError(f"X-Sdk-Date {date} is more than {max_skew} away from server time")
    for required in ("host", "x-sdk-date"):
        if required not in auth.signed_headers:
            raise SignatureError(f"SignedHeaders must include {required}")
    missing = [h for h in auth.signed_headers if h not in headers]
    if missing:
        raise SignatureError(f"signed header {missing[0]!r} is absent from the request")
    canonical = canonical_request(method, raw_path, raw_query, headers, auth.signed_headers, body)
    if not hmac.compare_digest(sign(secret, date, canonical), auth.signature.lower()):
        raise SignatureError("signature does not match the request")
    return auth


def sign_request(*, access_key: str, secret_key: str, method: str, url: str,
                 headers: Mapping[str, str], body: bytes, when: datetime) -> dict[str, str]:
    """Headers that make a request verifiable, signed as the SDK signs (tests, benchmarks)."""
    parts = urlsplit(url)
    date = when.astimezone(UTC).strftime(DATE_FORMAT)
    signed = {k.lower(): v for k, v in headers.items()}
    signed.update({"host": parts.netloc, "x-sdk-date": date})
    names = sorted(signed)
    canonical = canonical_request(method, parts.path, parts.query, signed, names, body)
    result = dict(headers)
    result.update({"Host": parts.netloc, "X-Sdk-Date": date,
                   "Authorization": f"{ALGORITHM} Access={access_key}, "
                                    f"SignedHeaders={';'.join(names)}, "
                                    f"Signature={sign(secret_key, date, canonical)}"})
    return result
