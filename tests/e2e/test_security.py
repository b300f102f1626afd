"""Security (issue 4): forged signatures, replayed requests older than the window, unknown keys,
another project's ids in the URL and in bodies: all refused, nothing changed, nothing leaked.

test_auth.py holds the first table of broken signatures and the isolation of reads; this module
adds what it left open, against one region per backend:

* forgeries aimed at a cold migration and a create: every part of the request changed after
  signing, every way to mangle ``Authorization`` and ``SignedHeaders``, captured requests
  replayed outside the window;
* every route whose URL or body carries an id, probed with the other project's id and with an
  id that exists nowhere: the two answers must be the same but for the id;
* "nothing changed" is judged on every row of every table of the region's database, and
  ``coldshift check`` must find no drift after the whole corpus;
* "nothing leaked": no refusal holds the other project's ids or names, a secret key, or a
  signature the client did not send.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine, MetaData, create_engine, select
from sqlalchemy.pool import NullPool

from coldshift.api import signing
from coldshift.persistence.db import normalise_url
from tests.e2e import admin, sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ADMIN, ALPHA, BETA
from tests.e2e.rawhttp import dumps, huawei_error, nova_error, ok_json, send, signed_headers
from tests.e2e.test_bad_input import server_with
from tests.e2e.test_durability import coldshift_check

Creds = tuple[str, str, str]
P_ALPHA, P_BETA = ALPHA[0], BETA[0]
SECRET_KEYS = (ALPHA[2], BETA[2], ADMIN[2])
HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Holdings:
    """What one project owns: two stopped servers on one DeH, a spare DeH, their jobs."""

    stopped: str
    other_stopped: str
    deh: str
    spare_deh: str
    job: str
    group: str  # an ECS group whose member is ``stopped``
    names: tuple[str, ...]

    def secrets(self, project_id: str) -> frozenset[str]:
        ids = [self.stopped, self.other_stopped, self.deh, self.spare_deh, self.job, self.group]
        ids.append(project_id)
        return frozenset((*ids, *self.names))


@dataclass(frozen=True)
class World:
    alpha: Holdings
    beta: Holdings


def _holdings(region: Region, creds: Creds, prefix: str) -> Holdings:
    deh, spare = sdk.allocate(region.deh(creds), name=f"{prefix}-hidden-deh", quantity=2)
    created = sdk.create_servers(
        region.ecs(creds),
        name=f"{prefix}-hidden-vm",
        count=2,
        tenancy="dedicated",
        dedicated_host_id=deh,
    )
    assert sdk.wait_job(region.ecs(creds), created.job_id).status == "SUCCESS"
    stopped, other = created.server_ids
    stopping = sdk.stop(region.ecs(creds), stopped, other).job_id
    assert sdk.wait_job(region.ecs(creds), stopping).status == "SUCCESS"
    group = sdk.create_group(region.ecs(creds), f"{prefix}-hidden-group").id
    sdk.add_member(region.ecs(creds), group, stopped)
    names = (f"{prefix}-hidden-deh", f"{prefix}-hidden-vm", f"{prefix}-hidden-group")
    return Holdings(stopped, other, deh, spare, created.job_id, group, names)


@pytest.fixture(scope="module")
def world(shared: Region) -> World:
    return World(_holdings(shared, ALPHA, "alpha"), _holdings(shared, BETA, "beta"))


# --- the whole state of the region, and the invariant checker ---------------------------------


@functools.cache
def _tables(db_url: str) -> tuple[Engine, MetaData]:
    """An engine holding no connection between uses (the database is dropped after the
    module), and the region's tables as they are in the database."""
    engine = create_engine(normalise_url(db_url), poolclass=NullPool)
    tables = MetaData()
    tables.reflect(engine)
    return engine, tables


def snapshot(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the Alembic version too), in a stable order.

    Taken only while no job runs, so no column is volatile: a lease, a claim time or a
    progress counter that moves means some request was let through.
    """
    engine, tables = _tables(db_url)
    with engine.connect() as conn:
        return {
            name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for name, table in sorted(tables.tables.items())
        }


@contextmanager
def nothing_changes(region: Region) -> Iterator[None]:
    before = snapshot(region.db_url)
    yield
    after = snapshot(region.db_url)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert not changed, f"tables changed by a refused request: {sorted(changed)}"


def assert_no_drift(region: Region) -> None:
    """``coldshift check`` (the CLI, as an operator runs it) finds the region consistent."""
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "no drift" in result.stdout, result.stdout


# --- nothing leaked -----------------------------------------------------------------------------


def assert_nothing_leaked(response: httpx.Response, secrets: frozenset[str], sent: str) -> None:
    """The refusal names none of ``secrets`` but what the caller itself ``sent``, no secret
    key, and no signature (an expected signature would be a forging oracle)."""
    text = response.text
    for secret in secrets:
        if secret not in sent:
            assert secret not in text, (secret, text)
    for key in SECRET_KEYS:
        assert key not in text, text
    assert HEX64.findall(text) == [h for h in HEX64.findall(text) if h in sent], text


# --- forged, mangled and replayed signatures ----------------------------------------------------


@dataclass(frozen=True)
class Wire:
    """One request as it goes on the wire."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    before: tuple[tuple[str, str], ...] = ()  # header lines sent ahead of ``headers``

    def send(self) -> httpx.Response:
        if not self.before:
            return send(self.method, self.url, self.headers, self.body)
        lines = [*self.before, *self.headers.items()]
        return httpx.request(self.method, self.url, headers=lines, content=self.body, timeout=30)

    def with_headers(self, **changes: str) -> Wire:
        return replace(self, headers={**self.headers, **changes})

    def with_authorization(self, change: Callable[[str], str]) -> Wire:
        return self.with_headers(Authorization=change(self.headers["Authorization"]))

    @property
    def sent(self) -> str:
        """All the caller put on the wire, as text."""
        return f"{self.url} {self.before} {self.headers} {self.body.decode()}"

    @property
    def signature(self) -> str:
        return self.headers["Authorization"].rsplit("Signature=", 1)[1]


def sign_wire(
    method: str,
    url: str,
    body: bytes,
    creds: Creds = ALPHA,
    when: datetime | None = None,
    extra: dict[str, str | None] | None = None,
) -> Wire:
    return Wire(method, url, signed_headers(method, url, creds, body, extra, when), body)


@dataclass(frozen=True)
class Target:
    """A request that changes the region if it is let through, and a sibling of it."""

    path: str
    sibling_path: str  # another real resource: a signature moved there must not work
    body: dict[str, Any]


def targets(world: World) -> dict[str, Target]:
    a = world.alpha
    migrate = "/v1/{p}/cloudservers/{s}/migrate"
    return {
        "migrate": Target(
            migrate.format(p=P_ALPHA, s=a.stopped),
            migrate.format(p=P_ALPHA, s=a.other_stopped),
            {"migrate": {"dedicated_host_id": a.spare_deh}},
        ),
        "create": Target(
            f"/v1/{P_ALPHA}/cloudservers",
            f"/v1.1/{P_ALPHA}/cloudservers",
            json.loads(server_with("name", "forged")),
        ),
    }


def wire_for(
    region: Region,
    target: Target,
    when: datetime | None = None,
    extra: dict[str, str | None] | None = None,
) -> Wire:
    return sign_wire("POST", region.url + target.path, dumps(target.body), when=when, extra=extra)


Forgery = Callable[[Region, Target], Wire]


def _changed(change: Callable[[Wire, Region, Target], Wire]) -> Forgery:
    """Sign the target correctly, then change the wire."""
    return lambda region, target: change(wire_for(region, target), region, target)


def _authorization(change: Callable[[str], str]) -> Forgery:
    return _changed(lambda wire, _r, _t: wire.with_authorization(change))


def _signature(change: Callable[[str], str]) -> Forgery:
    return _authorization(lambda v: v.rsplit("=", 1)[0] + "=" + change(v.rsplit("=", 1)[1]))


def _scheme(name: str) -> Forgery:
    return _authorization(lambda v: name + v.removeprefix(signing.ALGORITHM))


def _flip_last(signature: str) -> str:
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


def _resigned(names: Callable[[list[str]], list[str]], listed: Callable[[str], str]) -> Forgery:
    """A signature computed correctly over the headers ``names`` picks out of the signed ones,
    with the SignedHeaders entry rewritten by ``listed``."""

    def forgery(region: Region, target: Target) -> Wire:
        wire = wire_for(region, target)
        headers = {k.lower(): v for k, v in wire.headers.items() if k != "Authorization"}
        chosen = names(sorted(headers))
        parts = urlsplit(wire.url)
        canonical = signing.canonical_request("POST", parts.path, "", headers, chosen, wire.body)
        date = headers["x-sdk-date"]
        value = (
            f"{signing.ALGORITHM} Access={ALPHA[1]}, SignedHeaders={listed(';'.join(chosen))}, "
            f"Signature={signing.sign(ALPHA[2], date, canonical)}"
        )
        return wire.with_headers(Authorization=value)

    return forgery


def _replayed(offset: timedelta) -> Forgery:
    """A request signed correctly at now + offset, as a captured request is replayed later."""
    return lambda region, target: wire_for(region, target, when=datetime.now(UTC) + offset)


def _elsewhere(region: Region, target: Target) -> Wire:
    wire = wire_for(region, target)
    return replace(wire, url=region.url + target.sibling_path)


def _another_bodys_signature(region: Region, target: Target) -> Wire:
    other = sign_wire("POST", region.url + target.path, dumps({**target.body, "x": 1}))
    return wire_for(region, target).with_authorization(
        lambda v: v.replace(v.rsplit("=", 1)[1], other.signature)
    )


def _sent_twice(name: str, injected: str, signed: str | None = None) -> Forgery:
    """Sign with ``name: signed`` (or the usual value), then put ``name: injected`` ahead of
    it, as a proxy or an attacker on the path could: a value the signature does not cover must
    not be acted on (the application reads a header's first line, the verifier its last)."""

    def forgery(region: Region, target: Target) -> Wire:
        wire = wire_for(region, target, extra={name: signed} if signed else None)
        return replace(wire, before=((name, injected),))

    return forgery


def _localhost(url: str) -> str:
    return "localhost:" + url.rsplit(":", 1)[1].split("/", 1)[0]


def _sdk_date(seconds: int) -> Callable[[Wire, Region, Target], Wire]:
    def change(wire: Wire, _r: Region, _t: Target) -> Wire:
        sent = datetime.strptime(wire.headers["X-Sdk-Date"], signing.DATE_FORMAT)
        moved = (sent + timedelta(seconds=seconds)).strftime(signing.DATE_FORMAT)
        return wire.with_headers(**{"X-Sdk-Date": moved})

    return change


WITHOUT_SIGNATURE = f"{signing.ALGORITHM} Access={ALPHA[1]}, SignedHeaders=host;x-sdk-date"

# name: (the forgery, a word the 401's message must hold)
FORGERIES: dict[str, tuple[Forgery, str]] = {
    # the request changed after signing
    "body-altered": (
        _changed(lambda w, _r, _t: replace(w, body=w.body.replace(b"{", b'{"x": 1, ', 1))),
        "does not match",
    ),
    "body-appended": (_changed(lambda w, _r, _t: replace(w, body=w.body + b" ")), "does not match"),
    "body-dropped": (_changed(lambda w, _r, _t: replace(w, body=b"")), "does not match"),
    "path-altered": (_elsewhere, "does not match"),
    "query-added": (_changed(lambda w, _r, _t: replace(w, url=w.url + "?x=1")), "does not match"),
    "method-altered": (_changed(lambda w, _r, _t: replace(w, method="PUT")), "does not match"),
    "host-altered": (
        _changed(lambda w, _r, _t: w.with_headers(Host=_localhost(w.url))),
        "does not match",
    ),
    "sdk-date-altered": (_changed(_sdk_date(1)), "does not match"),
    "project-header-altered": (
        _changed(lambda w, _r, _t: w.with_headers(**{"X-Project-Id": P_BETA})),
        "does not match",
    ),
    "content-type-altered": (
        _changed(lambda w, _r, _t: w.with_headers(**{"Content-Type": "application/json"})),
        "does not match",
    ),
    # a signed header sent twice: the signed line last, another value first
    "project-header-twice": (_sent_twice("X-Project-Id", P_BETA), "more than once"),
    "client-token-twice": (
        _sent_twice("X-Client-Token", str(uuid.uuid4()), str(uuid.uuid4())),
        "more than once",
    ),
    "nova-version-twice": (
        _sent_twice("OpenStack-API-Version", "compute 2.1", "compute 2.60"),
        "more than once",
    ),
    "sdk-date-twice": (_sent_twice("X-Sdk-Date", "20200101T000000Z"), "more than once"),
    "authorization-twice": (_sent_twice("Authorization", "garbage"), "more than once"),
    # a header the service acts on, added outside SignedHeaders
    "client-token-unsigned": (
        _changed(lambda w, _r, _t: w.with_headers(**{"X-Client-Token": str(uuid.uuid4())})),
        "not signed",
    ),
    "nova-version-unsigned": (
        _changed(lambda w, _r, _t: w.with_headers(**{"OpenStack-API-Version": "compute 2.60"})),
        "not signed",
    ),
    # the signature itself
    "signature-truncated": (_signature(lambda s: s[:-1]), "64 hexadecimal"),
    "signature-extended": (_signature(lambda s: s + "0"), "64 hexadecimal"),
    "signature-empty": (_signature(lambda _: ""), "Signature"),
    "signature-one-digit-off": (_signature(_flip_last), "does not match"),
    "signature-uppercased-and-off": (_signature(lambda s: _flip_last(s).upper()), "does not match"),
    "signature-all-zero": (_signature(lambda _: "0" * 64), "does not match"),
    "signature-not-hex": (_signature(lambda _: "z" * 64), "64 hexadecimal"),
    "signature-of-another-body": (_another_bodys_signature, "does not match"),
    # the algorithm
    **{
        f"algorithm-{name}": (_scheme(name), name)
        for name in (
            "SDK-HMAC-SHA1",
            "sdk-hmac-sha256",
            "V11-HMAC-SHA256",
            "SDK-ECDSA-P256-SHA256",
            "AWS4-HMAC-SHA256",
        )
    },
    "bearer-token": (_authorization(lambda _: "Bearer " + "a" * 40), "Bearer"),
    "basic-auth": (_authorization(lambda _: "Basic YWxwaGE6YWxwaGEtc2VjcmV0"), "Basic"),
    # SignedHeaders
    "signed-headers-without-sdk-date": (
        _resigned(lambda names: [n for n in names if n != "x-sdk-date"], str),
        "x-sdk-date",
    ),
    "signed-headers-naming-an-absent-header": (
        _resigned(lambda names: names, lambda listed: listed + ";x-absent"),
        "absent",
    ),
    "signed-headers-reordered": (
        _resigned(lambda names: names, lambda listed: ";".join(sorted(listed.split(";"))[::-1])),
        "does not match",
    ),
    "signed-headers-fewer-than-signed": (
        _resigned(lambda names: names, lambda listed: listed.replace("content-type;", "")),
        "does not match",
    ),
    "signed-headers-upper-case": (
        _resigned(lambda names: names, str.upper),
        "lower-case",
    ),
    "signed-headers-empty-entry": (
        _resigned(lambda names: names, lambda listed: listed.replace(";", ";;", 1)),
        "lower-case",
    ),
    # Authorization malformed
    "authorization-empty": (_authorization(lambda _: ""), "not signed"),
    "authorization-scheme-only": (_authorization(lambda _: signing.ALGORITHM), "malformed"),
    "authorization-without-commas": (_authorization(lambda v: v.replace(",", "")), "malformed"),
    "authorization-access-twice": (
        _authorization(lambda v: v.replace(", ", f", Access={BETA[1]}, ", 1)),
        "twice",
    ),
    "authorization-unknown-part": (
        _authorization(lambda v: v + ", Credential=x"),
        "malformed",
    ),
    "authorization-access-empty": (
        _authorization(lambda v: v.replace(f"Access={ALPHA[1]}", "Access=")),
        "Access",
    ),
    "authorization-without-signature-part": (
        _authorization(lambda _: WITHOUT_SIGNATURE),
        "Signature",
    ),
    "authorization-8-kib": (_authorization(lambda v: v + "a" * 8192), "64 hexadecimal"),
    # keys
    "access-key-unknown": (
        _authorization(lambda v: v.replace(ALPHA[1], "TESTNOSUCHKEY0000000")),
        "unknown access key",
    ),
    "access-key-lower-case": (
        _authorization(lambda v: v.replace(ALPHA[1], ALPHA[1].lower())),
        "unknown access key",
    ),
    "access-key-of-beta": (
        _authorization(lambda v: v.replace(ALPHA[1], BETA[1])),
        "does not match",
    ),
    "access-key-of-admin": (
        _authorization(lambda v: v.replace(ALPHA[1], ADMIN[1])),
        "does not match",
    ),
    "access-key-very-long": (
        _authorization(lambda v: v.replace(ALPHA[1], "K" * 4096)),
        "unknown access key",
    ),
    # replays of a correctly signed request
    "replayed-16-minutes-later": (_replayed(timedelta(minutes=-16)), "away from the server"),
    "replayed-a-day-later": (_replayed(timedelta(days=-1)), "away from the server"),
    "replayed-from-1970": (
        _replayed(datetime(1970, 1, 1, tzinfo=UTC) - datetime.now(UTC)),
        "away from the server",
    ),
    "dated-16-minutes-ahead": (_replayed(timedelta(minutes=16)), "away from the server"),
    "dated-a-year-ahead": (_replayed(timedelta(days=365)), "away from the server"),
    "sdk-date-impossible": (
        _changed(lambda w, _r, _t: w.with_headers(**{"X-Sdk-Date": "20241301T000000Z"})),
        "X-Sdk-Date",
    ),
    "sdk-date-lower-case": (
        _changed(
            lambda w, _r, _t: w.with_headers(**{"X-Sdk-Date": w.headers["X-Sdk-Date"].lower()})
        ),
        "X-Sdk-Date",
    ),
}


@pytest.mark.parametrize("target", ["migrate", "create"])
@pytest.mark.parametrize("case", FORGERIES)
def test_a_forged_request_is_refused_401_and_changes_nothing(
    shared: Region, world: World, case: str, target: str
) -> None:
    forgery, reason = FORGERIES[case]
    wire = forgery(shared, targets(world)[target])
    with nothing_changes(shared):
        response = wire.send()
    message = huawei_error(response, 401, "Common.0013")
    assert reason in message, message
    secrets = world.alpha.secrets(P_ALPHA) | world.beta.secrets(P_BETA)
    assert_nothing_leaked(response, secrets, wire.sent)


def _settle(region: Region, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert sdk.wait_job(region.ecs(), response.json()["job_id"]).status == "SUCCESS"


def test_the_targets_correctly_signed_are_accepted(shared: Region, world: World) -> None:
    """Control for the forgeries: each target goes through when nothing is changed (an extra
    header the service ignores may go unsigned; an upper-case signature is the same MAC,
    written differently: accepted, not a forgery)."""
    a, on_target = world.alpha, targets(world)
    unsigned_extra = {"X-Trace-Id": "not signed, not acted on"}
    _settle(shared, wire_for(shared, on_target["create"]).with_headers(**unsigned_extra).send())
    upper = wire_for(shared, on_target["migrate"]).with_authorization(
        lambda v: v[:-64] + v[-64:].upper()
    )
    _settle(shared, upper.send())
    assert sdk.show(shared.ecs(), a.stopped).osscheduler_hints.dedicated_host_id == [a.spare_deh]
    _settle(shared, sdk_migrate_back(shared, a))


def sdk_migrate_back(region: Region, holdings: Holdings) -> httpx.Response:
    """Put the stopped server back where the world fixture placed it."""
    url = f"{region.url}/v1/{P_ALPHA}/cloudservers/{holdings.stopped}/migrate"
    return sign_wire("POST", url, dumps({"migrate": {"dedicated_host_id": holdings.deh}})).send()


@pytest.mark.parametrize("minutes", [-14, 14])
def test_a_request_dated_inside_the_window_is_accepted_even_replayed(
    shared: Region, world: World, minutes: int
) -> None:
    """The window is ±15 minutes (api.md §1.3.5): inside it the same signed request works, as
    often as it is sent (no nonce; X-Client-Token is what makes a create idempotent)."""
    name = f"renamed{minutes + 100}"
    url = f"{shared.url}/v1.0/{P_ALPHA}/dedicated-hosts/{world.alpha.spare_deh}"
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    wire = sign_wire("PUT", url, dumps({"dedicated_host": {"name": name}}), when=when)
    for _ in range(2):
        assert wire.send().status_code == 204
        assert sdk.show_deh(shared.deh(), world.alpha.spare_deh).name == name


# --- another project's ids, in URLs and bodies --------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A request of ALPHA's carrying an id where ``{id}`` stands (in the path or the body)."""

    method: str
    path: str
    body: Any  # JSON value; None: no body
    status: int
    code: str  # the Huawei code, or the Nova fault name for /v2 paths
    foreign: Callable[[World], str]  # the id of BETA's to put in

    def wire(self, region: Region, world: World, probed: str) -> Wire:
        own = {
            "{p}": P_ALPHA,
            "{own}": world.alpha.stopped,
            "{own_deh}": world.alpha.spare_deh,
            "{own_group}": world.alpha.group,
        }
        path, body = self.path, b"" if self.body is None else dumps(self.body)
        for mark, value in {**own, "{id}": probed}.items():
            path, body = path.replace(mark, value), body.replace(mark.encode(), value.encode())
        return sign_wire(self.method, region.url + path, body)


def _server(world: World) -> str:
    return world.beta.stopped


def _deh(world: World) -> str:
    return world.beta.spare_deh


def _busy_deh(world: World) -> str:
    return world.beta.deh


def _job(world: World) -> str:
    return world.beta.job


def _project(_world: World) -> str:
    return P_BETA


def _group(world: World) -> str:
    return world.beta.group


def _batch(action: str, *ids: str) -> dict[str, Any]:
    return {action: {"servers": [{"id": i} for i in ids]}}


def _on_deh(**extra: Any) -> Any:
    hints = {"tenancy": "dedicated", "dedicated_host_id": "{id}"}
    body = json.loads(server_with("os:scheduler_hints", hints))
    return {**body, **extra}


NOVA_ACTIONS = ("lock", "unlock", "os-start", "os-stop")
NO_SERVER, NO_DEH, NO_GROUP = ("Ecs.0114", "DEH.0018", "Ecs.0313")
GROUPS = "/v1/{p}/cloudservers/os-server-groups"

PROBES: dict[str, Probe] = {
    # cold migration: the server in the URL, the target DeH in the body
    "migrate-onto-betas-deh": Probe(
        "POST",
        "/v1/{p}/cloudservers/{own}/migrate",
        {"migrate": {"dedicated_host_id": "{id}"}},
        400,
        "Ecs.0005",
        _deh,
    ),
    "migrate-onto-betas-deh-holding-her-server": Probe(
        "POST",
        "/v1/{p}/cloudservers/{own}/migrate",
        {"migrate": {"dedicated_host_id": "{id}"}},
        400,
        "Ecs.0005",
        _busy_deh,
    ),
    "migrate-betas-server-to-own-deh": Probe(
        "POST",
        "/v1/{p}/cloudservers/{id}/migrate",
        {"migrate": {"dedicated_host_id": "{own_deh}"}},
        404,
        NO_SERVER,
        _server,
    ),
    "migrate-betas-server-to-the-pool": Probe(
        "POST", "/v1/{p}/cloudservers/{id}/migrate", {"migrate": None}, 404, NO_SERVER, _server
    ),
    # create: the DeH in os:scheduler_hints
    **{
        f"create-{version}-on-betas-deh": Probe(
            "POST", f"/{version}/{{p}}/cloudservers", _on_deh(), 400, "Ecs.0005", _deh
        )
        for version in ("v1", "v1.1")
    },
    "create-dry-run-on-betas-deh": Probe(
        "POST", "/v1/{p}/cloudservers", _on_deh(dry_run=True), 400, "Ecs.0005", _deh
    ),
    # batch actions: the servers in the body, alone and beside one of ALPHA's own
    **{
        f"batch-{action}-betas-server": Probe(
            "POST", "/v1/{p}/cloudservers/action", _batch(action, "{id}"), 404, NO_SERVER, _server
        )
        for action in ("os-start", "os-stop", "reboot")
    },
    "batch-os-start-own-and-betas-server": Probe(
        "POST",
        "/v1/{p}/cloudservers/action",
        _batch("os-start", "{own}", "{id}"),
        404,
        NO_SERVER,
        _server,
    ),
    "delete-betas-server": Probe(
        "POST",
        "/v1/{p}/cloudservers/delete",
        {"servers": [{"id": "{id}"}]},
        404,
        NO_SERVER,
        _server,
    ),
    "delete-own-and-betas-server": Probe(
        "POST",
        "/v1/{p}/cloudservers/delete",
        {"servers": [{"id": "{own}"}, {"id": "{id}"}], "delete_volume": True},
        404,
        NO_SERVER,
        _server,
    ),
    # Nova-native: the server in the URL
    **{
        f"nova-{version}-{action}-betas-server": Probe(
            "POST",
            f"/{version}/{{p}}/servers/{{id}}/action",
            {action: None},
            404,
            "itemNotFound",
            _server,
        )
        for version in ("v2", "v2.1")
        for action in NOVA_ACTIONS
    },
    "nova-show-betas-server": Probe(
        "GET", "/v2/{p}/servers/{id}", None, 404, "itemNotFound", _server
    ),
    # ECS reads
    "show-betas-server": Probe("GET", "/v1/{p}/cloudservers/{id}", None, 404, NO_SERVER, _server),
    "show-betas-job": Probe("GET", "/v1/{p}/jobs/{id}", None, 400, "Common.0011", _job),
    # DeH: the host in the URL
    "update-betas-deh": Probe(
        "PUT",
        "/v1.0/{p}/dedicated-hosts/{id}",
        {"dedicated_host": {"name": "stolen", "auto_placement": "off"}},
        404,
        NO_DEH,
        _deh,
    ),
    "release-betas-deh": Probe("DELETE", "/v1.0/{p}/dedicated-hosts/{id}", None, 404, NO_DEH, _deh),
    "release-betas-deh-holding-her-server": Probe(
        "DELETE", "/v1.0/{p}/dedicated-hosts/{id}", None, 404, NO_DEH, _busy_deh
    ),
    "show-betas-deh": Probe("GET", "/v1.0/{p}/dedicated-hosts/{id}", None, 404, NO_DEH, _busy_deh),
    "list-servers-on-betas-deh": Probe(
        "GET", "/v1.0/{p}/dedicated-hosts/{id}/servers", None, 404, NO_DEH, _busy_deh
    ),
    # ids in queries: filters answer as for an id that exists nowhere
    "filter-v1.1-by-betas-server": Probe(
        "GET", "/v1.1/{p}/cloudservers/detail?id={id}", None, 200, "", _server
    ),
    "filter-dehs-by-betas-server": Probe(
        "GET", "/v1.0/{p}/dedicated-hosts?instance_uuid={id}", None, 200, "", _server
    ),
    "filter-dehs-by-betas-deh": Probe(
        "GET", "/v1.0/{p}/dedicated-hosts?dedicated_host_id={id}", None, 200, "", _busy_deh
    ),
    "betas-deh-as-a-marker": Probe(
        "GET", "/v1.0/{p}/dedicated-hosts?marker={id}", None, 400, NO_DEH, _deh
    ),
    # ECS groups: the group in the URL, the member in the body
    "show-betas-group": Probe("GET", GROUPS + "/{id}", None, 404, NO_GROUP, _group),
    "delete-betas-group": Probe("DELETE", GROUPS + "/{id}", None, 404, NO_GROUP, _group),
    **{
        f"{action}-own-server-in-betas-group": Probe(
            "POST",
            GROUPS + "/{id}/action",
            {action: {"instance_uuid": "{own}"}},
            404,
            NO_GROUP,
            _group,
        )
        for action in ("add_member", "remove_member")
    },
    **{
        f"batch-{path}-own-server-in-betas-group": Probe(
            "POST", GROUPS + f"/{{id}}/{path}", {"server_ids": ["{own}"]}, 404, NO_GROUP, _group
        )
        for path in ("add_members", "remove_members")
    },
    "add-betas-server-to-own-group": Probe(
        "POST",
        GROUPS + "/{own_group}/action",
        {"add_member": {"instance_uuid": "{id}"}},
        404,
        NO_SERVER,
        _server,
    ),
    "batch-add-own-and-betas-server-to-own-group": Probe(
        "POST",
        GROUPS + "/{own_group}/add_members",
        {"server_ids": ["{own}", "{id}"]},
        404,
        NO_SERVER,
        _server,
    ),
    "create-in-betas-group": Probe(
        "POST",
        "/v1/{p}/cloudservers",
        json.loads(server_with("os:scheduler_hints", {"group": "{id}"})),
        400,
        "Ecs.0005",
        _group,
    ),
    "betas-group-as-a-marker": Probe("GET", GROUPS + "?marker={id}", None, 400, "Ecs.0005", _group),
    **{
        f"nova-{version}-{method.lower()}-betas-group": Probe(
            method, f"/{version}/{{p}}/os-server-groups/{{id}}", None, 404, "itemNotFound", _group
        )
        for version in ("v2", "v2.1")
        for method in ("GET", "DELETE")
    },
    # BETA's project itself
    "betas-project-in-the-url": Probe(
        "POST",
        "/v1/{id}/cloudservers/action",
        _batch("os-start", "{own}"),
        403,
        "Ecs.0110",
        _project,
    ),
    "betas-quota": Probe("GET", "/v1.0/{p}/quota-sets/{id}", None, 403, "DEH.0033", _project),
    "betas-dehs-by-tenant": Probe(
        "GET", "/v1.0/{p}/dedicated-hosts?tenant={id}", None, 403, "DEH.0033", _project
    ),
}


def _unknown_like(foreign: str) -> str:
    """An id of the same form as ``foreign`` that exists nowhere."""
    return uuid.uuid4().hex if "-" not in foreign else str(uuid.uuid4())


def _answer(response: httpx.Response, probe: Probe, probed: str) -> Any:
    """The response without what may differ between two requests: the id asked about, the
    request id and a fault's time."""
    if probe.status >= 300 and probe.path.startswith("/v2"):
        nova_error(response, probe.status, probe.code)
    elif probe.status >= 300:
        huawei_error(response, probe.status, probe.code)
    else:
        ok_json(response)
    masked = response.text.replace(probed, "<id>")
    masked = masked.replace(response.headers.get("x-request-id", "-"), "<request>")
    return json.loads(masked)


@pytest.mark.parametrize("case", PROBES)
def test_another_projects_id_answers_exactly_like_an_unknown_one(
    shared: Region, world: World, case: str
) -> None:
    probe = PROBES[case]
    foreign = probe.foreign(world)
    unknown = _unknown_like(foreign)
    with nothing_changes(shared):
        foreign_wire = probe.wire(shared, world, foreign)
        answered = foreign_wire.send()
        as_unknown = probe.wire(shared, world, unknown).send()
    assert answered.status_code == probe.status, answered.text
    assert _answer(answered, probe, foreign) == _answer(as_unknown, probe, unknown)
    assert_nothing_leaked(answered, world.beta.secrets(P_BETA), foreign_wire.sent)


def test_the_probes_work_on_alphas_own_ids(shared: Region, world: World) -> None:
    """Control for the probes: the same kinds of request on ALPHA's own ids are served."""
    a = world.alpha
    own = [  # (path, ALPHA's id put in, what the answer must hold)
        ("/v1/{p}/cloudservers/{id}", a.stopped, a.stopped),
        ("/v2.1/{p}/servers/{id}", a.stopped, a.stopped),
        ("/v1/{p}/jobs/{id}", a.job, a.job),
        ("/v1.0/{p}/dedicated-hosts/{id}", a.spare_deh, a.spare_deh),
        ("/v1.0/{p}/dedicated-hosts/{id}/servers", a.deh, a.other_stopped),
        ("/v1.0/{p}/quota-sets/{id}", P_ALPHA, "quota_set"),
        ("/v1/{p}/cloudservers/os-server-groups/{id}", a.group, a.stopped),
        ("/v2.1/{p}/os-server-groups/{id}", a.group, a.stopped),
    ]
    for path, own_id, expected in own:
        response = Probe("GET", path, None, 200, "", _project).wire(shared, world, own_id).send()
        assert response.status_code == 200 and expected in response.text, (path, response.text)
    with_filter = f"{shared.url}/v1.1/{P_ALPHA}/cloudservers/detail?id={a.stopped}"
    [found] = ok_json(sign_wire("GET", with_filter, b"").send())["servers"]
    assert found["id"] == a.stopped


def _create_with_token(region: Region, creds: Creds, token: str, body: bytes) -> httpx.Response:
    url = f"{region.url}/v1/{creds[0]}/cloudservers"
    headers = signed_headers("POST", url, creds, body, {"X-Client-Token": token})
    response = send("POST", url, headers, body)
    assert response.status_code == 200, response.text
    assert sdk.wait_job(region.ecs(creds), response.json()["job_id"]).status == "SUCCESS"
    return response


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "other-body"])
def test_a_client_token_of_alphas_gives_beta_nothing_of_alphas(
    shared: Region, world: World, same_body: bool
) -> None:
    """X-Client-Token is per project: BETA repeating ALPHA's token creates BETA's own server,
    never answers with ALPHA's job or servers, nor says the token was used elsewhere."""
    token, body = str(uuid.uuid4()), server_with("name", "tokened")
    alphas = _create_with_token(shared, ALPHA, token, body).json()
    beta_body = body if same_body else server_with("name", "other")
    betas = _create_with_token(shared, BETA, token, beta_body)
    for alpha_id in [alphas["job_id"], *alphas["serverIds"]]:
        assert alpha_id not in betas.text
    assert sdk.show(shared.ecs(BETA), betas.json()["serverIds"][0]).name == "other" or same_body


def test_a_project_named_in_a_body_is_ignored(shared: Region, world: World) -> None:
    """Ownership comes from the signed key and URL only: a create naming BETA in its body
    makes ALPHA's server, and BETA sees none of it."""
    body = json.loads(server_with("name", "claims-beta"))
    body["server"].update(tenant_id=P_BETA, project_id=P_BETA)
    created = sign_wire("POST", f"{shared.url}/v1/{P_ALPHA}/cloudservers", dumps(body)).send()
    _settle(shared, created)
    [server_id] = created.json()["serverIds"]
    assert sdk.show(shared.ecs(ALPHA), server_id).tenant_id == P_ALPHA
    listed = sign_wire("GET", f"{shared.url}/v1/{P_BETA}/cloudservers/detail", b"", BETA).send()
    assert server_id not in listed.text and "claims-beta" not in listed.text


# --- admin routes ---------------------------------------------------------------------------------

ADMIN_TRICKS = {
    "plain": "/v1/admin/driver/operations/copy_disks",
    "trailing-slash": "/v1/admin/driver/operations/copy_disks/",
    "double-slash": "/v1//admin/driver/operations/copy_disks",
    "upper-case": "/V1/admin/driver/operations/copy_disks",
    "percent-encoded": "/v1/%61dmin/driver/operations/copy_disks",
    "as-a-project": f"/v1/{P_ALPHA}/%2e%2e/admin/driver/operations/copy_disks",
}


@pytest.mark.parametrize("creds", [ALPHA, BETA], ids=["alpha", "beta"])
@pytest.mark.parametrize("trick", ADMIN_TRICKS)
def test_a_tenant_key_reaches_no_admin_route(
    shared: Region, world: World, creds: Creds, trick: str
) -> None:
    before = admin.operations(shared.url)
    wire = sign_wire("PUT", shared.url + ADMIN_TRICKS[trick], dumps({"fail_next": 5}), creds)
    with nothing_changes(shared):
        response = wire.send()
    assert response.status_code in (403, 404), response.text
    huawei_error(response, response.status_code)
    assert admin.operations(shared.url) == before


# --- the whole corpus, then the invariant checker -------------------------------------------------


def test_after_every_refusal_the_region_is_unchanged_and_has_no_drift(
    shared: Region, world: World
) -> None:
    """All the forgeries and probes back to back: the database is as it was, row for row, and
    ``coldshift check`` finds capacity, placement and jobs consistent."""
    on_target = targets(world)
    with nothing_changes(shared):
        for forgery, _ in FORGERIES.values():
            for target in on_target.values():
                assert forgery(shared, target).send().status_code == 401
        for probe in PROBES.values():
            response = probe.wire(shared, world, probe.foreign(world)).send()
            assert response.status_code == probe.status, response.text
    assert_no_drift(shared)
