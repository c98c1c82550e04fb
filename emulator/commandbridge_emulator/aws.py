"""AWS protocol helpers: request identification, response serialisation, errors."""

from __future__ import annotations

import json
import re
import uuid
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote


# Response as produced by handlers: (status, headers, body bytes)
Response = tuple[int, dict[str, str], bytes]

# Signing names whose botocore model name differs, or that share a signing name.
APPCONFIGDATA_PATHS = ("/configurationsessions", "/configuration")

MUTATING_EXEMPT_PREFIXES = (
    "Describe",
    "Get",
    "List",
    "Query",
    "Scan",
    "BatchGet",
    "StartConfigurationSession",
    "TestDNSAnswer",
)

@lru_cache(maxsize=64)
def service_model(service: str):
    from moto.core.utils import get_service_model

    return get_service_model(service)


def is_mutating(operation: str | None) -> bool:
    if not operation:
        return False
    return not operation.startswith(MUTATING_EXEMPT_PREFIXES)


def new_request_id() -> str:
    return str(uuid.uuid4())


@lru_cache(maxsize=64)
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str, list[str], int]]:
    """Compile (method, regex, operation, label names, specificity) for a REST service."""
    model = service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/").split("?", 1)[0]
        uri = uri.rstrip("/") or "/"
        labels: list[str] = []
        pattern = ""
        literal = 0
        for part in re.split(r"(\{[^}]+\})", uri):
            if part.startswith("{") and part.endswith("}"):
                label = part[1:-1]
                if label.endswith("+"):
                    label = label[:-1]
                    pattern += f"(?P<{_group(label)}>.+)"
                else:
                    pattern += f"(?P<{_group(label)}>[^/]+)"
                labels.append(label)
            else:
                pattern += re.escape(part)
                literal += len(part)
        routes.append((http.get("method", "GET"), re.compile(f"^{pattern}/?$"), name, labels, literal))
    routes.sort(key=lambda r: -r[4])
    return routes


def _group(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", label)


def match_rest_operation(service: str, method: str, path: str) -> tuple[str | None, dict[str, str]]:
    try:
        routes = _rest_routes(service)
    except Exception:
        return None, {}
    norm = path.rstrip("/") or "/"
    for r_method, regex, name, labels, _ in routes:
        if r_method != method:
            continue
        m = regex.match(norm)
        if m:
            return name, {label: unquote(m.group(_group(label))) for label in labels}
    return None, {}


class AwsRequest:
    """The parts of an incoming AWS API request the emulator cares about."""

    def __init__(self, environ: dict[str, Any], body: bytes):
        self.environ = environ
        self.body = body
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        self.path = environ.get("PATH_INFO", "/") or "/"
        self.query_string = environ.get("QUERY_STRING", "")
        self.query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}
        self.headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            self.headers["content-type"] = environ["CONTENT_TYPE"]
        self.signing_service, self.region = _credential_scope(self.headers.get("authorization", ""))
        self.service = self._resolve_service()
        self.form: dict[str, str] = {}
        self.path_params: dict[str, str] = {}
        self.json: Any = None
        self.operation = self._resolve_operation()
        self.internal = self.headers.get("x-emulator-internal") == "1"

    # -- identification -------------------------------------------------
    def _resolve_service(self) -> str | None:
        svc = self.signing_service
        target = self.headers.get("x-amz-target", "")
        if svc is None:
            if target.startswith("DynamoDB"):
                return "dynamodb"
            return None
        if svc == "appconfig" and (self.path.rstrip("/") in APPCONFIGDATA_PATHS):
            return "appconfigdata"
        return svc

    def _resolve_operation(self) -> str | None:
        svc = self.service
        if svc is None:
            return None
        try:
            protocol = service_model(svc).protocol
        except Exception:
            protocol = None
        target = self.headers.get("x-amz-target")
        if target:
            self.json = self._parse_json()
            return target.split(".", 1)[-1]
        if protocol in ("query", "ec2") or self.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            form = {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
            form.update({k: v for k, v in self.query.items() if isinstance(v, str)})
            self.form = form
            if "Action" in form:
                return form["Action"]
        if protocol in ("rest-json", "rest-xml"):
            name, params = match_rest_operation(svc, self.method, self.path)
            self.path_params = params
            if name and protocol == "rest-json" and not self._has_blob_payload(svc, name):
                self.json = self._parse_json()
            return name
        return None

    @staticmethod
    def _has_blob_payload(service: str, operation: str) -> bool:
        shape = service_model(service).operation_model(operation).input_shape
        if shape is None:
            return False
        payload = shape.serialization.get("payload")
        return bool(payload and shape.members[payload].type_name == "blob")

    def _parse_json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def protocol(self) -> str:
        try:
            return service_model(self.service).protocol if self.service else "query"
        except Exception:
            return "query"

    def log_params(self) -> dict[str, Any]:
        """Identifying parameters recorded in the call log."""
        if self.service == "dynamodb":
            out: dict[str, Any] = {}
            data = self.json if isinstance(self.json, dict) else {}
            if "TableName" in data:
                out["TableName"] = data["TableName"]
            for container in ("Key", "Item"):
                item = data.get(container)
                if isinstance(item, dict):
                    for key in ("pk", "sk"):
                        if key in item:
                            out[key] = _plain_attr(item[key])
            return out
        if self.form and "Action" in self.form:
            return {k: v for k, v in self.form.items() if k not in ("Action", "Version")}
        out = {"path": self.path}
        out.update(self.path_params)
        out.update(self.query)
        if isinstance(self.json, dict):
            for k, v in self.json.items():
                if k in ("Content", "Configuration"):
                    continue
                out[k] = v
        elif self.protocol == "rest-xml" and self.body:
            out.update(_xml_params(self.body))
        return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_params(body: bytes) -> dict[str, Any]:
    """Top-level leaf elements of a REST-XML request, plus a summary of a Route 53 change batch."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    out: dict[str, Any] = {}
    for child in root:
        tag = _local(child.tag)
        if len(child) == 0:
            out[tag] = (child.text or "").strip()
        elif tag == "ChangeBatch":
            changes = []
            for change in child.iter():
                if _local(change.tag) != "Change":
                    continue
                entry: dict[str, Any] = {}
                for node in change.iter():
                    name = _local(node.tag)
                    if name in ("Action", "Name", "Type", "SetIdentifier", "Failover", "TTL", "HealthCheckId"):
                        entry[name] = (node.text or "").strip()
                    elif name == "Value":
                        entry.setdefault("Values", []).append((node.text or "").strip())
                changes.append(entry)
            out["Changes"] = changes
    return out


def _plain_attr(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return value


def _credential_scope(auth: str) -> tuple[str | None, str | None]:
    m = re.search(r"Credential=([^,\s]+)", auth)
    if not m:
        return None, None
    parts = m.group(1).split("/")
    if len(parts) < 5:
        return None, None
    return parts[-2].lower(), parts[-3]


# -- responses ------------------------------------------------------------

class _TransformerHolder:
    def __init__(self, transformers: dict | None = None):
        self.RESPONSE_KEY_PATH_TO_TRANSFORMER = transformers or {}


def serialize(service: str, operation: str, result: Any, transformers: dict | None = None) -> Response:
    """Serialise a result dict/object for an operation with moto's model-driven serialiser."""
    from moto.core.responses import ActionContext, ActionResult
    from moto.core.serialize import get_serializer_class

    model = service_model(service)
    op = model.operation_model(operation)
    cls = get_serializer_class(model.service_name, model.protocol)
    ctx = ActionContext(model, op, cls, _TransformerHolder(transformers))  # type: ignore[arg-type]
    status, headers, body = ActionResult(result).execute_result(ctx)
    headers = {str(k): str(v) for k, v in dict(headers).items()}
    headers.setdefault("x-amzn-RequestId", new_request_id())
    if isinstance(body, str):
        body = body.encode("utf-8")
    return int(status), headers, body or b""


XML_NAMESPACES = {
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
}


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def error(service: str | None, code: str, message: str, status: int) -> Response:
    """An AWS-shaped error response for the service's protocol."""
    rid = new_request_id()
    protocol = "query"
    if service:
        try:
            protocol = service_model(service).protocol
        except Exception:
            protocol = "query"
    if protocol == "json":
        prefix = "com.amazonaws.dynamodb.v20120810#" if service == "dynamodb" else ""
        body = json.dumps({"__type": prefix + code, "message": message})
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": rid,
            "x-amzn-ErrorType": code,
        }
        return status, headers, body.encode()
    if protocol == "rest-json":
        body = json.dumps({"Message": message, "message": message})
        headers = {
            "Content-Type": "application/json",
            "x-amzn-RequestId": rid,
            "x-amzn-ErrorType": code,
        }
        return status, headers, body.encode()
    ns = XML_NAMESPACES.get(service or "", "")
    xmlns = f' xmlns="{ns}"' if ns else ""
    kind = "Receiver" if status >= 500 else "Sender"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse{xmlns}><Error><Type>{kind}</Type>'
        f"<Code>{_xml_escape(code)}</Code><Message>{_xml_escape(message)}</Message></Error>"
        f"<RequestId>{rid}</RequestId></ErrorResponse>"
    )
    headers = {"Content-Type": "text/xml", "x-amzn-RequestId": rid}
    return status, headers, body.encode()


class AwsError(Exception):
    """Raised by extension handlers; rendered with :func:`error`."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
