"""JSON control API under ``/_emulator/`` (same port as the AWS endpoints)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from werkzeug.wsgi import get_input_stream

from .aws import AwsError

if TYPE_CHECKING:  # pragma: no cover
    from .app import EmulatorApp

Response = tuple[int, dict[str, str], bytes]


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _json(status: int, payload: Any) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


class Control:
    def __init__(self, app: "EmulatorApp"):
        self.app = app
        self.state = app.state

    def handle(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = (environ.get("PATH_INFO", "") or "/").rstrip("/")
        from .app import query_args

        query = query_args(environ)
        raw = get_input_stream(environ).read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _json(400, {"error": "body must be JSON"})
        if not isinstance(body, dict):
            return _json(400, {"error": "body must be a JSON object"})
        try:
            return self.route(method, path, query, body)
        except ControlError as exc:
            return _json(exc.status, {"error": exc.message})
        except AwsError as exc:
            return _json(exc.status if exc.status in (400, 404, 409) else 400, {"error": exc.message, "code": exc.code})
        except (ValueError, KeyError, TypeError) as exc:
            return _json(400, {"error": str(exc)})

    def route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Response:
        p = path[len("/_emulator"):] or "/"
        if p == "/health" and method == "GET":
            return _json(200, {"status": "ok"})
        if p == "/config":
            if method == "PUT":
                self.state.config.update(body)
            elif method != "GET":
                raise ControlError(405, "method not allowed")
            return _json(200, self.state.config.to_json())
        if p == "/calls":
            if method == "GET":
                return _json(200, {"calls": self.state.list_calls(query.get("service"), query.get("operation"))})
            if method == "DELETE":
                self.state.clear_calls()
                return _json(200, {"calls": []})
        if p == "/stats":
            if method == "GET":
                return _json(200, self.state.stats_json())
            if method == "DELETE":
                self.state.clear_stats()
                return _json(200, self.state.stats_json())
        if p == "/faults":
            if method == "POST":
                fault = self.state.add_fault(body)
                return _json(200, {"id": fault.id})
            if method == "GET":
                with self.state.meta:
                    faults = [f.to_json() for f in self.state.faults]
                return _json(200, {"faults": faults})
            if method == "DELETE":
                self.state.clear_faults()
                return _json(200, {"faults": []})
        if p == "/outage" and method == "POST":
            seconds = float(body.get("seconds", 0))
            if seconds < 0:
                raise ControlError(400, "seconds must be >= 0")
            until = self.state.start_outage(seconds)
            return _json(200, {"until": until})
        m = re.fullmatch(r"/route53/health-checks/([^/]+)/endpoint", p)
        if m and method == "PUT":
            if not isinstance(body.get("healthy"), bool):
                raise ControlError(400, "healthy must be true or false")
            with self.state.lock:
                self.app.route53.set_endpoint_health(m.group(1), body["healthy"])
            return _json(200, {"health_check_id": m.group(1), "healthy": body["healthy"]})
        if p == "/rds/members" and method == "PUT":
            arn = body.get("cluster_arn")
            status = body.get("synchronization_status")
            if not arn or not status:
                raise ControlError(400, "cluster_arn and synchronization_status are required")
            with self.state.lock:
                self.app.rds.settle()
                self.app.rds.set_sync_status(arn, status)
            return _json(200, {"cluster_arn": arn, "synchronization_status": status})
        if p == "/appconfig/deployed" and method == "GET":
            missing = [k for k in ("application", "environment", "profile") if not query.get(k)]
            if missing:
                raise ControlError(400, f"missing query parameters: {', '.join(missing)}")
            with self.state.lock:
                result = self.app.appconfig.deployed(
                    query["application"], query["environment"], query["profile"], query.get("region")
                )
            return _json(200, result)
        if p == "/reset" and method == "POST":
            self.app.reset()
            return _json(200, {"status": "reset"})
        if p == "/seed" and method == "POST":
            from .seed import seed

            return _json(200, seed(self.app, body))
        raise ControlError(404, f"no control endpoint {method} {path}")
