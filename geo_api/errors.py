"""Domain error family and the single map from domain errors to HTTP status codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


class GeoApiError(Exception):
    """Base class: ``user_msg`` is safe to show; ``detail`` is structured context."""

    status_code = 400
    code = "bad_request"

    def __init__(self, user_msg: str, detail: Any | None = None):
        super().__init__(user_msg)
        self.user_msg = user_msg
        self.detail = detail


class InvalidParameter(GeoApiError):
    status_code = 422
    code = "invalid_parameter"


class UnknownParameter(InvalidParameter):
    """A query parameter the endpoint does not take (never ignored in silence): 422, and
    400 on the OGC API paths (OGC API - Features /req/core/query-param-unknown)."""

    code = "unknown_parameter"


class NotFound(GeoApiError):
    status_code = 404
    code = "not_found"


class StoreEmpty(GeoApiError):
    status_code = 409
    code = "store_empty"


class StoreBusy(GeoApiError):
    status_code = 503
    code = "store_busy"


class BoundaryError(GeoApiError):
    status_code = 422
    code = "invalid_boundaries"


@dataclass(frozen=True)
class RowError:
    """One validation problem: ``line`` is the 1-based line in the file (header = line 1)."""

    line: int | None
    field: str | None
    message: str
    value: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        fld = f", field '{self.field}'" if self.field else ""
        val = f" (value {self.value!r})" if self.value is not None else ""
        return f"{where}{fld}: {self.message}{val}"


MAX_ERRORS_SHOWN = 50


@dataclass
class IngestRejected(GeoApiError):
    """A file was rejected; nothing was written to the store."""

    source: str
    errors: list[RowError] = field(default_factory=list)
    n_rows: int | None = None

    status_code = 422
    code = "ingest_rejected"

    def __post_init__(self):
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        # the body lists the first MAX_ERRORS_SHOWN problems and says how many there were
        detail = {"n_errors": len(self.errors),
                  "errors": [e.__dict__ for e in self.errors[:MAX_ERRORS_SHOWN]]}
        GeoApiError.__init__(self, f"{self.source}: rejected, store unchanged: {shown}{more}",
                             detail)


class Unauthorized(GeoApiError):
    """No (or wrong) credentials for something that needs them."""

    status_code = 401
    code = "unauthorized"
    headers: ClassVar[dict] = {"WWW-Authenticate": 'Bearer realm="geo_api"'}


class Forbidden(GeoApiError):
    status_code = 403
    code = "forbidden"


class PayloadTooLarge(GeoApiError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(GeoApiError):
    status_code = 415
    code = "unsupported_media_type"


class ServerBusy(GeoApiError):
    """Too many analyses running at once in this process; the client should retry."""

    status_code = 503
    code = "busy"
    retry_after_s = 5
    headers: ClassVar[dict] = {"Retry-After": str(retry_after_s)}


class Timeout(GeoApiError):
    status_code = 504
    code = "timeout"
