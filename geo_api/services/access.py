"""Who is calling, and what their role may do.

Roles, least to most: ``public`` (aggregates under disclosure control, maps), ``partner``
(aggregates with small counts, planning, site sets), ``analyst`` (offence points, location
lists, exports), ``admin`` (any site set, keys, ingest). Credentials:

- an API key in ``X-API-Key`` (or ``Authorization: Bearer gk_...``), checked against the
  hashed key store;
- an OpenID Connect bearer token (a JWT), verified with PyJWT against the identity
  provider's JWKS (signature, ``exp``, ``iss``, ``aud``); the role is the highest one named
  in the configured roles claim (``public`` when none is).

No credentials: the configured anonymous role (or 401 when it is ``none``). Wrong
credentials are always 401 - never a silent fall back to anonymous.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import jwt

from geo_api.data.keys import ROLES, KeyStore
from geo_api.errors import Forbidden, InvalidParameter, Unauthorized
from geo_api.settings import Settings

RANK = {"anyone": -1, **{r: i for i, r in enumerate(ROLES)}}


@dataclass(frozen=True)
class Principal:
    who: str  # "key:<id>", "oidc:<sub>" or "anonymous"
    role: str
    method: str  # api_key | oidc | anonymous
    key_id: str | None = None

    def at_least(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    @property
    def owner(self) -> str:
        return self.who


ANONYMOUS_NONE = "none"


def anonymous(settings: Settings) -> Principal | None:
    role = settings.anonymous_role
    return None if role == ANONYMOUS_NONE else Principal("anonymous", role, "anonymous")


@functools.lru_cache(maxsize=8)
def _jwk_client(url: str):
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=600, timeout=5)


@functools.lru_cache(maxsize=8)
def _jwks_file(path: str, mtime_ns: int):
    return jwt.PyJWKSet.from_dict(json.loads(open(path).read()))


def _signing_key(settings: Settings, token: str):
    if settings.oidc_jwks_file is not None:
        p = settings.oidc_jwks_file
        kid = jwt.get_unverified_header(token).get("kid")
        keys = _jwks_file(str(p), p.stat().st_mtime_ns).keys
        match = [k for k in keys if kid is None or k.key_id == kid]
        if not match:
            raise jwt.PyJWKError(f"no key {kid!r} in the JWKS file")
        return match[0]
    return _jwk_client(settings.oidc_jwks_url).get_signing_key_from_jwt(token)


def role_from_claims(claims: dict, settings: Settings) -> str:
    value: Any = claims  # a dict, then each claim down the dotted path
    for part in settings.oidc_roles_claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    names = [value] if isinstance(value, str) else list(value or [])
    prefix = settings.oidc_role_prefix
    roles = [n[len(prefix):] for n in names if isinstance(n, str) and n.startswith(prefix)]
    known = [r for r in roles if r in ROLES]
    return max(known, key=RANK.__getitem__) if known else "public"


def verify_token(settings: Settings, token: str) -> Principal:
    if not settings.oidc_enabled:
        raise Unauthorized("bearer tokens are not accepted here (no identity provider "
                           "configured); use an API key")
    allowed = [a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()]
    try:
        key = _signing_key(settings, token)  # a PyJWK: decode checks its algorithm
        if key.algorithm_name not in allowed:
            raise jwt.InvalidAlgorithmError(f"key algorithm {key.algorithm_name}")
        claims = jwt.decode(
            token, key, algorithms=[key.algorithm_name],
            audience=settings.oidc_audience, issuer=settings.oidc_issuer,
            options={"require": ["exp", "iss", "sub"] + (["aud"] if settings.oidc_audience
                                                           else [])})
    except Exception as e:  # noqa: BLE001 - any failure to verify is a refusal, never a 500
        raise Unauthorized(f"bearer token refused: {type(e).__name__}") from None
    return Principal(f"oidc:{claims['sub']}", role_from_claims(claims, settings), "oidc")


def authenticate(settings: Settings, keys: KeyStore, api_key: str | None,
                 authorization: str | None) -> Principal | None:
    """The principal of a request from its ``X-API-Key`` and ``Authorization`` headers
    (None: no credentials and anonymous access is off; routes then answer 401)."""
    bearer = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization: use 'Bearer <token or API key>'")
        bearer = value.strip()
    if api_key is None and bearer is not None and bearer.startswith("gk_"):
        api_key, bearer = bearer, None
    if api_key is not None:
        rec = keys.verify(api_key.strip())
        if rec is None:
            raise Unauthorized("API key not recognised (or revoked)")
        return Principal(f"key:{rec.key_id}", rec.role, "api_key", rec.key_id)
    if bearer is not None:
        return verify_token(settings, bearer)
    return anonymous(settings)


def require(principal: Principal, role: str) -> None:
    """403 (or 401 for an anonymous caller, who may log in) below ``role``."""
    if principal.at_least(role):
        return
    if principal.method == "anonymous":
        raise Unauthorized(f"this needs the {role} role; send an API key or bearer token")
    raise Forbidden(f"this needs the {role} role; you have {principal.role}")


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class StartupDecision:
    settings: Settings
    messages: list[str]
    admin_key: str | None = None  # created now; printed once


def startup(settings: Settings, host: str, sources: set[str], keys: KeyStore
            ) -> StartupDecision:
    """The run command's access rules. On loopback with only police.uk data (already public),
    anonymous callers are analysts unless GEO_API_ANONYMOUS_ROLE says otherwise, and an admin
    key is created (printed once) when there is none. On any other address the service
    refuses to start without authentication (an active API key or OIDC), and anonymous
    callers are ``public`` at most."""

    explicit = "anonymous_role" in settings.model_fields_set
    role = settings.anonymous_role
    messages = []
    if host in LOOPBACK:
        if not explicit:
            role = "analyst" if sources <= {"police_uk"} else "public"
        messages.append(f"anonymous callers on this machine are '{role}'"
                        + ("" if explicit else " (loopback, "
                           + ("public police.uk data only)" if role == "analyst" else
                              "force-export data loaded)")))
        key = None
        if not keys.has_active("admin"):
            key, rec = keys.create("admin", "created by geo_api serve")
            messages.append(f"admin API key (shown once, stored hashed; key id {rec.key_id}): "
                            f"{key}")
        # the run command's own single-user default: anonymous writes too, unless set
        writes = settings.anonymous_writes if "anonymous_writes" in settings.model_fields_set \
            else not explicit
        return StartupDecision(settings.model_copy(update={"anonymous_role": role,
                                                           "anonymous_role_auto": not explicit,
                                                           "anonymous_writes": writes}),
                               messages, key)
    if not (keys.has_active() or settings.oidc_enabled):
        raise InvalidParameter(
            f"refusing to serve on {host}: no authentication is configured. Create a key "
            "(geo_api keys create --role admin --name you) or configure OpenID Connect "
            "(GEO_API_OIDC_ISSUER and GEO_API_OIDC_JWKS_URL), or serve on 127.0.0.1")
    if RANK.get(role, -1) > RANK["public"]:
        raise InvalidParameter(f"refusing to serve on {host} with anonymous callers as "
                               f"'{role}': anonymous may be 'public' at most "
                               "(GEO_API_ANONYMOUS_ROLE=public or none)")
    messages.append(f"anonymous callers are '{role}'; everything else needs an API key or a "
                    "bearer token")
    return StartupDecision(settings, messages)
