"""The dashboard's pages: sign-in, the region page and the fragments it polls, sign-out.

Sync endpoints: Starlette runs them on its thread pool, as the API's reads are run, so the
event loop never waits on the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from coldshift.dashboard.sessions import (
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    Session,
    Sessions,
    new_token,
    same_token,
)
from coldshift.dashboard.views import Dashboard
from coldshift.dashboard.what_if import AskWhatIf, WhatIfAnswer, ask

PREFIX = "/dashboard"
MAX_FORM_BYTES = 4096
#: the browser may run only this page's own script and style, and nobody may frame it
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
        "img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class DashboardPages:
    def __init__(
        self, dashboard: Dashboard, sessions: Sessions, what_if: AskWhatIf | None = None
    ) -> None:
        self._dashboard = dashboard
        self._sessions = sessions
        self._what_if = what_if
        self._templates = Environment(
            loader=PackageLoader("coldshift.dashboard", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates.filters["mib"] = _mib

    def routes(self) -> list[BaseRoute]:
        static = StaticFiles(directory=Path(__file__).parent / "static")
        return [
            Route(PREFIX, self.page, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login, methods=["POST"]),
            Route(f"{PREFIX}/logout", self.logout, methods=["POST"]),
            Route(f"{PREFIX}/what-if", self.what_if, methods=["POST"]),
            Route(f"{PREFIX}/live/hosts", self.hosts, methods=["GET"]),
            Route(f"{PREFIX}/live/jobs", self.jobs, methods=["GET"]),
            Mount(f"{PREFIX}/static", static),
        ]

    # ---- pages -----------------------------------------------------------------------------
    def page(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return self._login_page(request)
        return self._page(session)

    async def what_if(self, request: Request) -> Response:
        """The what-if form's answer, on the page (it changes nothing, but is a form that
        carries the session's CSRF token as every form does)."""
        form = await _form(request)
        session = self._session(request)
        if session is None or not same_token(session.csrf, form.get("csrf")):
            return self._plain("refused: sign in again", 403)
        if self._what_if is None:
            return self._plain("what-if is not available here", 404)
        answer = await run_in_threadpool(
            ask,
            self._what_if,
            self._dashboard.queries,
            self._dashboard.catalog,
            session.project,
            form.get("server_id", ""),
            form.get("target", ""),
        )
        return await run_in_threadpool(self._page, session, answer)

    def _page(self, session: Session, answer: WhatIfAnswer | None = None) -> Response:
        project = session.project
        return self._render(
            "dashboard.html",
            session=session,
            project=project,
            zones=self._dashboard.zones(project),
            jobs=self._dashboard.jobs(project),
            what_if_enabled=self._what_if is not None,
            answer=answer,
        )

    async def login(self, request: Request) -> Response:
        form = await _form(request)
        if not same_token(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
            return self._login_page(request, "The sign-in form expired: try again.", 403)
        project = self._sessions.sign_in(form.get("access_key", ""), form.get("secret_key", ""))
        if project is None:
            return self._login_page(request, "Access key or secret key refused.", 401)
        response = RedirectResponse(PREFIX, status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        self._set_cookie(
            request,
            response,
            SESSION_COOKIE,
            self._sessions.cookie_for(project),
            self._sessions.max_age,
        )
        return response

    async def logout(self, request: Request) -> Response:
        form = await _form(request)
        session = self._session(request)
        if session is None or not same_token(session.csrf, form.get("csrf")):
            return self._plain("refused: sign in again", 403)
        response = RedirectResponse(PREFIX, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    def hosts(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return self._plain("signed out", 401)
        return self._render(
            "_hosts.html", zones=self._dashboard.zones(session.project), session=session
        )

    def jobs(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return self._plain("signed out", 401)
        return self._render(
            "_jobs.html", jobs=self._dashboard.jobs(session.project), session=session
        )

    # ---- helpers ---------------------------------------------------------------------------
    def _session(self, request: Request) -> Session | None:
        return self._sessions.read(request.cookies.get(SESSION_COOKIE))

    def _login_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = request.cookies.get(LOGIN_COOKIE) or new_token()
        response = self._render("login.html", csrf=token, error=error, status=status)
        self._set_cookie(request, response, LOGIN_COOKIE, token, LOGIN_SECONDS)
        return response

    def _render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = self._templates.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def _plain(self, text: str, status: int) -> Response:
        return Response(text, status_code=status, media_type="text/plain", headers=SECURITY_HEADERS)

    @staticmethod
    def _set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=age,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (the dashboard posts no other kind), bounded in size."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _mib(value: int) -> str:
    return f"{value / 1024:.0f} GiB" if value >= 1024 else f"{value} MiB"
