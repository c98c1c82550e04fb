"""WSGI application: control API, call log, fault injection, extension, then moto."""

from __future__ import annotations

import io
import json
import time
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from werkzeug.wsgi import get_input_stream

from .appconfig_ext import AppConfigExtension
from .aws import AwsError, AwsRequest, Response, error, is_mutating
from .rds_ext import RdsExtension
from .route53_ext import Route53Extension
from .state import EmulatorState, now

HTTP_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}

# (HTTP status, code) per fault kind and protocol family
THROTTLE = {
    "xml": (400, "Throttling"),
    "dynamodb": (400, "ThrottlingException"),
    "rest-json": (429, "ThrottlingException"),
}


def fault_error(kind: str, service: str | None, operation: str | None) -> Response:
    family = "dynamodb" if service == "dynamodb" else (
        "rest-json" if service in ("appconfig", "appconfigdata") else "xml"
    )
    json_like = family != "xml"
    if kind == "throttle":
        status, code = THROTTLE[family]
        return error(service, code, "Rate exceeded", status)
    if kind == "server_error":
        return error(service, "InternalFailure", "An internal error occurred. Please try again.", 500)
    if kind == "access_denied":
        code = "AccessDeniedException" if json_like else "AccessDenied"
        return error(service, code, f"User is not authorized to perform: {service}:{operation}", 403)
    if kind == "not_found":
        code, status = not_found_code(service, operation or "")
        return error(service, code, "The requested resource was not found.", status)
    if kind == "outage":
        return error(service, "ServiceUnavailable", "Service is unavailable. Please try again later.", 503)
    return error(service, "InternalFailure", f"unknown fault {kind}", 500)


def not_found_code(service: str | None, operation: str) -> tuple[str, int]:
    if service == "rds":
        if "GlobalCluster" in operation:
            return "GlobalClusterNotFoundFault", 404
        if "DBInstance" in operation:
            return "DBInstanceNotFound", 404
        return "DBClusterNotFoundFault", 404
    if service == "route53":
        if "HealthCheck" in operation:
            return "NoSuchHealthCheck", 404
        if operation == "GetChange":
            return "NoSuchChange", 404
        return "NoSuchHostedZone", 404
    if service == "dynamodb":
        return "ResourceNotFoundException", 400
    if service in ("appconfig", "appconfigdata"):
        return "ResourceNotFoundException", 404
    return "ResourceNotFoundException", 404


class EmulatorApp:
    def __init__(self, transition_seconds: float = 0.0, verbose: bool = False):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.state = EmulatorState(transition_seconds)
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.rds = RdsExtension(self.state)
        self.route53 = Route53Extension(self.state)
        self.appconfig = AppConfigExtension(self.state)
        self.handlers: dict[tuple[str, str], Callable[..., Response | None]] = {}
        for service, ext_handlers in (
            ("rds", self.rds.handlers()),
            ("route53", self.route53.handlers()),
            ("appconfig", self.appconfig.handlers()),
            ("appconfigdata", self.appconfig.data_handlers()),
        ):
            for op, fn in ext_handlers.items():
                self.handlers[(service, op)] = fn
        self.post_handlers = {("route53", op): fn for op, fn in self.route53.post_handlers().items()}
        self.base_url = ""
        self.verbose = verbose
        from .control import Control

        self.control = Control(self)

    # -- WSGI -------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path == "/_emulator" or path.startswith("/_emulator/"):
            status, headers, body = self.control.handle(environ)
            return self._send(start_response, status, headers, body)
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = True
        req = AwsRequest(environ, body)
        fault_kind: str | None = None
        try:
            (status, headers, resp_body), fault_kind = self.handle(req, environ)
        except Exception as exc:  # pragma: no cover - defensive
            status, headers, resp_body = error(req.service, "InternalFailure", f"emulator error: {exc!r}", 500)
            if self.verbose:
                import traceback

                traceback.print_exc()
        if not req.internal and req.service:
            self.state.count_request(req.service, req.operation or "", is_mutating(req.operation))
        if not req.internal and req.service and is_mutating(req.operation):
            self.state.record_call(
                {
                    "time": now(),
                    "service": req.service,
                    "operation": req.operation,
                    "region": req.region,
                    "status": status,
                    "fault": fault_kind,
                    "params": _jsonable(req.log_params()),
                }
            )
        return self._send(start_response, status, headers, resp_body)

    @staticmethod
    def _send(start_response: Callable, status: int, headers: dict[str, str], body: bytes) -> list[bytes]:
        out = [(k, v) for k, v in headers.items() if k.lower() not in ("content-length", "transfer-encoding", "status")]
        out.append(("Content-Length", str(len(body))))
        start_response(f"{status} {HTTP_REASONS.get(status, 'Unknown')}", out)
        return [body]

    def handle(self, req: AwsRequest, environ: dict[str, Any]) -> tuple[Response, str | None]:
        rollback = False
        if not req.internal:
            if self.state.in_outage():
                return fault_error("outage", req.service, req.operation), "outage"
            fault = self.state.take_fault(req.service, req.operation, req.region)
            if fault is not None:
                if fault.kind == "latency":
                    time.sleep(fault.latency_ms / 1000.0)
                elif fault.kind == "rollback":
                    rollback = True
                else:
                    return fault_error(fault.kind, req.service, req.operation), fault.kind
        with self.state.lock:
            self.rds.settle()
            resp = None
            handler = self.handlers.get((req.service or "", req.operation or ""))
            if handler is not None:
                try:
                    if req.operation == "StartDeployment":
                        resp = handler(req, rollback=rollback)
                    else:
                        resp = handler(req)
                except AwsError as exc:
                    resp = error(req.service, exc.code, exc.message, exc.status)
            if resp is None:
                resp = self.call_moto(environ)
                post = self.post_handlers.get((req.service or "", req.operation or ""))
                if post is not None:
                    resp = post(req, resp)
        kind = "rollback" if rollback else None
        return resp, kind

    def call_moto(self, environ: dict[str, Any]) -> Response:
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list, exc_info: Any = None):
            captured["status"] = status
            captured["headers"] = headers
            return chunks.append

        result = self.moto(environ, start_response)
        try:
            for chunk in result:
                chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        status = int(str(captured.get("status", "500")).split()[0])
        headers = {str(k): str(v) for k, v in captured.get("headers", [])}
        return status, headers, b"".join(c if isinstance(c, bytes) else str(c).encode() for c in chunks)

    # -- state ------------------------------------------------------------
    def reset(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        with self.state.lock:
            moto_api_backend.reset()
            self.rds.reset()
            self.route53.reset()
            self.appconfig.reset()
            self.state.clear_calls()
            self.state.clear_stats()
            self.state.clear_faults()
            self.state.outage_until = 0.0


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def query_args(environ: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
