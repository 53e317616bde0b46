"""Authentication, the role each endpoint declares, the request-time cap and the audit log.

``AccessMiddleware`` (pure ASGI) works out who is calling once per request (API key,
OIDC bearer token or the anonymous role; wrong credentials are 401 at once), answers 504
when a request runs past ``GEO_API_REQUEST_TIMEOUT_S`` and writes one audit entry per
request when it completes. Every route declares the least role that may call it with one of
``ANYONE``/``PUBLIC``/``PARTNER``/``ANALYST``/``ADMIN`` (a test checks each route has
exactly one); routes that need the caller take ``PrincipalDep``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.requests import Request as StarletteRequest
from starlette.routing import Match

from geo_api.deadline import CHEAPER, DEADLINE
from geo_api.errors import GeoApiError, Timeout, Unauthorized
from geo_api.services.access import Principal, authenticate, require
from geo_api.services.disclosure import Policy
from geo_api.services.lru import LRU
from geo_api.web.api.models.disclosure import KEEP, RANK, declared_by_name, spec_of
from geo_api.web.exception_handlers import DISCLOSURE, error_response

NOT_AUDITED = ("/static/", "/docs", "/openapi.json", "/favicon.ico")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STOP_GRACE_S = 1.0  # past the deadline before the backstop answers 504 for the route


def current_principal(request: Request) -> Principal | None:
    """The caller (None: anonymous where anonymous access is off)."""
    return request.scope.get("state", {}).get("principal")


class RoleCheck:
    """A route's access dependency: ``required_role`` (or a higher one) may call it; it
    answers with the caller (None: anonymous where anonymous access is off)."""

    def __init__(self, role: str) -> None:
        self.required_role = role

    async def __call__(self, request: Request) -> Principal | None:
        # async: a dictionary look-up, not worth a hop to the thread pool on every request
        principal = current_principal(request)
        if self.required_role == "anyone":
            return principal
        if principal is None:
            raise Unauthorized(f"this needs the {self.required_role} role; send an API key "
                               "(X-API-Key) or a bearer token")
        require(principal, self.required_role)
        return principal


def allow(role: str):
    """The dependency declaring that ``role`` (or a higher one) may call a route."""
    return Depends(RoleCheck(role))


ANYONE, PUBLIC, PARTNER, ANALYST, ADMIN = (allow(r) for r in
                                           ("anyone", "public", "partner", "analyst", "admin"))


def caller(request: Request) -> Principal:
    principal = current_principal(request)
    if principal is None:  # routes taking the caller also declare a role, so not reached
        raise Unauthorized("credentials required")
    return principal


PrincipalDep = Annotated[Principal, Depends(caller)]


def disclosure(request: Request):
    """The disclosure policy for this request (None unless the caller is ``public``)."""
    return request.scope.get("state", {}).get("disclosure")


def audit_note(request: Request, *, rows: int | None = None,
               point_level: bool = False) -> None:
    """What a response returned, for its audit entry (rows or units; point-level or not)."""
    note = request.scope.setdefault("state", {}).setdefault("audit", {})
    if rows is not None:
        note["rows"] = rows
    note["point_level"] = note.get("point_level", False) or point_level


def _error(scope, status: int, code: str, message: str, headers: dict | None = None):
    """The one error shape (web.exception_handlers), sent from here before any route runs."""
    return error_response(StarletteRequest(scope), status, code, message, None, headers)


JSON_TYPES = (b"application/json", b"application/geo+json")
# answers as protected for the public role, by (the answer, its plan, the policy): the same
# bytes always protect to the same bytes, so an unchanged answer (a boundary layer, a cached
# page) is not parsed and protected again on every request
PROTECTED = LRU(512, max_bytes=64 * 2**20, weigh=lambda v: len(v) * 2)


def _protecting_send(send, policy, scope):
    """``send`` that passes successful JSON / GeoJSON answers through the disclosure policy
    (the one place for every JSON output path of the public role), field by field as the
    route's response model declares them (``models.disclosure``)."""
    held: dict = {}

    async def protecting_send(message):
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", []))
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip()
            done = b"x-disclosure-control" in headers  # protected by the route (tiles)
            if message["status"] == 200 and ctype in JSON_TYPES and not done:
                held["start"], held["body"] = message, []
                return
            await send(message)
            return
        if "start" not in held:
            await send(message)
            return
        held["body"].append(message.get("body", b""))
        if message.get("more_body"):
            return
        spec = merged(response_spec(route_of(scope)),
                      (scope.get("state") or {}).get("disclosure_spec"))
        answer = b"".join(held["body"])
        key = (answer, policy, repr(spec))
        if (body := PROTECTED.get(key)) is None:
            body = PROTECTED.put(key, json.dumps(
                policy.protect(json.loads(answer), spec=spec), separators=(",", ":"),
                allow_nan=False).encode())
        headers = [(k, v) for k, v in held["start"].get("headers", [])
                   if k.lower() not in (b"content-length", b"etag")]
        headers += [(b"content-length", str(len(body)).encode()),
                    (b"x-disclosure-control", policy.label.encode())]
        await send({**held["start"], "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return protecting_send


def merged(model: dict | None, answer: dict | None) -> dict | None:
    """A route's response-model plan with what the route declared for this answer (the
    properties of a collection's features, ``shared.declare_properties``) laid over it."""
    if not answer:
        return model
    out = dict(model or {})
    for key, value in answer.items():
        out[key] = merged(out.get(key), value) if isinstance(value, dict) else value
    return out


_SPECS: dict[int, dict | None] = {}


def route_of(scope):
    """The route that answers ``scope`` - also for an answer the page cache gave without
    routing (so a cached answer is protected by the same declarations)."""
    route = scope.get("route")
    if route is not None:
        return route
    app = scope.get("app")
    for r in getattr(getattr(app, "state", None), "api_routes", []):
        if r.matches({**scope, "type": "http"})[0] == Match.FULL:
            return r
    return None


def response_spec(route) -> dict | None:
    """The disclosure plan of a route's response model (built once per route)."""
    model = getattr(route, "response_model", None)
    if model is None:
        return None
    if id(route) not in _SPECS:
        _SPECS[id(route)] = spec_of(model)
    return _SPECS[id(route)]


def _noting(send, status: list):
    """``send`` noting the response's status in ``status[0]`` (for the audit entry)."""

    async def noting(message):
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        await send(message)

    return noting


class AccessMiddleware:
    def __init__(self, app, settings, keys, audit, prebuilt=None):
        self.app, self.settings, self.keys, self.audit = app, settings, keys, audit
        self.prebuilt = prebuilt  # answers already built (web.prebuilt): scope -> response

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        audited = not path.startswith(NOT_AUDITED)
        api_key = authorization = None
        for name, value in scope["headers"]:  # (the last of a repeated header counts)
            name = name.lower()
            if name == b"x-api-key":
                api_key = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        state = scope.setdefault("state", {})
        t0, status = time.perf_counter(), [None]
        principal = None
        try:
            principal = authenticate(self.settings, self.keys, api_key, authorization)
        except Unauthorized as e:  # wrong credentials: 401 whatever the route
            await _error(scope, 401, e.code, e.user_msg, e.headers)(scope, receive, send)
            self._log(scope, None, 401, t0, audited, str(e.user_msg))
            return
        principal = self._cap_anonymous(scope, principal)
        if (principal is not None and principal.method == "anonymous"
                and scope["method"] in WRITES and not self.settings.anonymous_writes):
            refused = Unauthorized(
                "anonymous callers may not upload, replace or delete site sets or indicators "
                "here (they would all share one owner); send an API key (X-API-Key) or a "
                "bearer token")
            await _error(scope, 401, refused.code, refused.user_msg,
                         refused.headers)(scope, receive, send)
            self._log(scope, principal, 401, t0, audited, refused.user_msg)
            return
        state["principal"] = principal
        policy = None
        if principal is not None and principal.role == "public" and audited:
            policy = state["disclosure"] = Policy.from_settings(self.settings)
        DISCLOSURE.set(policy)  # error messages too (every request sets its own)
        if policy is not None:
            try:
                policy.check_request(dict(parse_qsl(scope.get("query_string", b"").decode(
                    "latin-1"), keep_blank_values=True)))
            except GeoApiError as e:
                await _error(scope, e.status_code, e.code, e.user_msg)(scope, receive, send)
                self._log(scope, principal, e.status_code, t0, audited, e.user_msg)
                return
            send = _protecting_send(send, policy, scope)

        ready = self.prebuilt(scope) if self.prebuilt is not None else None
        try:
            if ready is not None:  # already built: sent at once, with no work to cap
                await ready(scope, receive, _noting(send, status))
            else:
                await self._capped(scope, receive, send, status)
        except Exception:
            status[0] = status[0] or 500  # answered by the server's error handler
            raise
        finally:
            self._log(scope, principal, status[0], t0, audited)

    async def _capped(self, scope, receive, send, status: list) -> None:
        """The route run as a task, answered 504 when it runs past the time cap."""
        timed_out = False

        async def send_status(message):
            if timed_out:  # the 504 has been sent; a late answer is dropped
                return
            await noting(message)

        noting = _noting(send, status)
        limit_s = self.settings.request_timeout_s
        DEADLINE.set(time.monotonic() + limit_s)  # the work's own stop (geo_api.deadline)
        loop = asyncio.get_running_loop()
        task = loop.create_task(self.app(scope, receive, send_status))  # (in this context)
        woken = loop.create_future()

        def wake(_=None) -> None:
            if not woken.done():
                woken.set_result(None)

        task.add_done_callback(wake)
        # the route stops itself at the deadline (504 from its next step); this is the
        # backstop for a step that does not look at the clock
        backstop = loop.call_later(limit_s + STOP_GRACE_S, wake)
        try:
            await woken
            if not task.done() and status[0] is None:
                # the client is answered now; the task is left to end at its next step (its
                # answer is dropped) so its analysis slot is freed when its work has stopped,
                # not before
                timed_out = True
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
                late = Timeout(f"the request took longer than {limit_s:g} s; {CHEAPER}")
                await _error(scope, 504, late.code, late.user_msg)(scope, receive, send)
                status[0] = 504
            else:
                await task  # a response already streaming finishes; errors propagate
        finally:
            backstop.cancel()

    def _cap_anonymous(self, scope, principal):
        """When the run command chose the anonymous role itself (loopback, police.uk data
        only), anonymous callers drop to ``public`` as soon as force-export records (exact
        locations, ages) are loaded - an ingest can add them to a running service."""
        if (principal is None or principal.method != "anonymous" or principal.role == "public"
                or not self.settings.anonymous_role_auto):
            return principal
        service = getattr(scope.get("app").state, "service", None) if scope.get("app") else None
        try:
            sources = service.store.sources() if service is not None else set()
        except Exception:  # noqa: BLE001 - an empty store has no sources
            sources = set()
        if "force_export" in sources:
            return Principal("anonymous", "public", "anonymous")
        return principal

    def _log(self, scope, principal, status, t0, audited, error: str | None = None) -> None:
        if not audited:
            return
        note = scope.get("state", {}).get("audit", {})
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        entry = {"who": principal.who if principal else "anonymous",
                 "client": (scope.get("client") or [None])[0],
                 "role": principal.role if principal else None,
                 "key_id": principal.key_id if principal else None,
                 "action": f"{'HEAD' if scope.get('geo_api.head') else scope['method']} "
                           f"{scope['path']}",
                 "params": [[k, redact(k, v)[:200]] for k, v in query[:50]],
                 "status": status, "rows": note.get("rows"),
                 "point_level": bool(note.get("point_level")),
                 "ms": round((time.perf_counter() - t0) * 1000, 1)}
        if error:
            entry["error"] = SECRET_VALUES.sub("[redacted]", error)
        try:
            self.audit.write_soon(entry)  # by the writer thread, in batches (data.audit)
        except OSError:  # an unwritable log must be noticed: say so loudly
            logging.getLogger("geo_api").exception("audit log write failed")
            raise


# credentials a caller may put in the query by mistake: never written to the audit log
SECRET_NAMES = re.compile(r"(api[-_]?key|x[-_]api[-_]key|^key$|token|secret|password|passwd|"
                          r"authorization|credential|session)", re.IGNORECASE)
SECRET_VALUES = re.compile(r"gk_[A-Za-z0-9_\-]{8,}|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"
                           r"\.[A-Za-z0-9_\-]*|Bearer\s+\S+", re.IGNORECASE)


def redact(name: str, value: str) -> str:
    """A query parameter's value as the audit log keeps it: credentials (by the parameter's
    name, or an API key, JWT or bearer token anywhere in the value) replaced."""
    if SECRET_NAMES.search(name):
        return "[redacted]"
    return SECRET_VALUES.sub("[redacted]", value)


def required_role(route) -> str | None:
    """The role a route declares (None: it declares none - a test forbids that)."""
    roles = [getattr(d.dependency, "required_role", None) for d in route.dependencies]
    roles = [r for r in roles if r]
    return roles[0] if len(roles) == 1 else None


SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "An API key from `geo_api keys create --role ...` (also "
                              "accepted as `Authorization: Bearer gk_...`)"},
    "oidc": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
             "description": "An OpenID Connect access token from the force's identity "
                            "provider (when configured)"},
}
ROLE_SEES = {"public": "You see counts and maps for areas; counts of 1-4 are hidden and "
                       "others rounded to 5 to protect victims",
             "partner": "You see counts and maps for areas (small counts included), the "
                        "planning tools and site sets",
             "analyst": "You see everything partners see plus offence points, location lists "
                        "and exports; every request is recorded in the audit log",
             "admin": "You see everything and may change anyone's site sets"}
ROLE_TEXT = {"public": "Anyone with the public role or higher (public answers are under "
                       "disclosure control: counts 1-4 suppressed, others rounded to 5)",
             "partner": "Partners, analysts and admins",
             "analyst": "Analysts and admins (point-level data; every call is audited)",
             "admin": "Admins"}


def declare_access(schema: dict, routes) -> dict:
    """Put each operation's role (``x-required-role``), its security requirement and its
    401/403 answers in the OpenAPI document; idempotent."""
    by_op = {r.operation_id or r.unique_id: required_role(r) for r in routes}
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
        SECURITY_SCHEMES)
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            role = by_op.get(op.get("operationId"))
            if role is None:
                continue
            op["x-required-role"] = role
            if role == "anyone":
                op["security"] = []
                continue
            op["security"] = [{"apiKey": []}, {"oidc": []}]
            op["description"] = (op.get("description", "") + f"\n\n**Who may call it:** "
                                 f"{ROLE_TEXT[role]}.").strip() \
                if "**Who may call it:**" not in op.get("description", "") else op["description"]
            responses = op.setdefault("responses", {})
            responses.setdefault("401", {"description": "No or wrong credentials (and "
                                                        "anonymous callers may not do this)"})
            responses.setdefault("403", {"description": f"Needs the {role} role" if role !=
                                         "public" else "Finer than the disclosure floors "
                                         "for the public role"})
    _nullable_for_public(schema, declared_by_name(r.response_model for r in routes
                                                  if getattr(r, "response_model", None)))
    return schema


def _refs(obj, found: set[str]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "$ref" and isinstance(v, str):
                found.add(v.rsplit("/", 1)[-1])
            else:
                _refs(v, found)
    elif isinstance(obj, list):
        for v in obj:
            _refs(v, found)


def _nullable_for_public(schema: dict, kinds: dict[str, dict[str, str]]) -> None:
    """Numbers the disclosure policy may suppress or withhold are declared nullable in every
    schema a public operation answers with (idempotent): every number but those its model
    declares kept or ranked (``kinds``: a schema's name -> its fields' declared kinds)."""
    comps = schema.get("components", {}).get("schemas", {})
    reached: set[str] = set()
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            if op.get("x-required-role") == "public":
                _refs(op.get("responses", {}), reached)
    todo = list(reached)
    while todo:
        found: set[str] = set()
        _refs(comps.get(todo.pop(), {}), found)
        todo += [n for n in found - reached]
        reached |= found
    for name in reached:
        kept = {key for key, kind in kinds.get(name, {}).items() if kind in (KEEP, RANK)}
        for key, prop in comps.get(name, {}).get("properties", {}).items():
            if key in kept or "anyOf" in prop and any(
                    p.get("type") == "null" for p in prop["anyOf"]):
                continue
            if prop.get("type") in ("integer", "number"):
                inner = {k: v for k, v in prop.items() if k not in ("title", "description",
                                                                    "examples")}
                outer = {k: v for k, v in prop.items() if k in ("title", "description",
                                                                "examples")}
                prop.clear()
                prop.update({"anyOf": [inner, {"type": "null"}], **outer})
