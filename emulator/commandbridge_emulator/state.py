"""Run-time state of the emulator: timing config, call log, faults, outage."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

TRANSITION_KINDS = (
    "rds_transition_seconds",
    "appconfig_deploy_seconds",
    "appconfig_bake_seconds",
    "route53_insync_seconds",
)
FAULT_KINDS = ("throttle", "server_error", "latency", "access_denied", "not_found", "rollback")


def now() -> float:
    return time.time()


class Config:
    def __init__(self, transition_seconds: float = 0.0):
        self.transition_seconds = float(transition_seconds)
        self.overrides: dict[str, float | None] = {k: None for k in TRANSITION_KINDS}

    def seconds(self, kind: str) -> float:
        value = self.overrides.get(kind)
        return self.transition_seconds if value is None else value

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"transition_seconds": self.transition_seconds}
        for kind in TRANSITION_KINDS:
            out[kind] = self.seconds(kind)
        out["overrides"] = {k: v for k, v in self.overrides.items() if v is not None}
        return out

    def update(self, body: dict[str, Any]) -> None:
        if "transition_seconds" in body:
            self.transition_seconds = _non_negative(body["transition_seconds"], "transition_seconds")
        for kind in TRANSITION_KINDS:
            if kind in body:
                value = body[kind]
                self.overrides[kind] = None if value is None else _non_negative(value, kind)


def _non_negative(value: Any, name: str) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None
    if f < 0:
        raise ValueError(f"{name} must be >= 0")
    return f


class Fault:
    _ids = itertools.count(1)

    def __init__(self, spec: dict[str, Any]):
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        self.id = next(Fault._ids)
        self.service = str(spec.get("service") or "*")
        self.operation = str(spec.get("operation") or "*")
        self.region = str(spec.get("region") or "*")
        self.kind = kind
        count = spec.get("count", 1)
        if not isinstance(count, int) or (count < 1 and count != -1):
            raise ValueError("count must be a positive integer or -1")
        self.remaining = count
        self.latency_ms = int(spec.get("latency_ms", 1000))
        self.hits = 0

    def matches(self, service: str | None, operation: str | None, region: str | None) -> bool:
        if self.remaining == 0:
            return False
        if self.service != "*" and self.service != service:
            return False
        if self.operation != "*" and self.operation != operation:
            return False
        if self.region != "*" and self.region != region:
            return False
        if self.kind == "rollback" and operation != "StartDeployment":
            return False
        return True

    def consume(self) -> None:
        self.hits += 1
        if self.remaining > 0:
            self.remaining -= 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "operation": self.operation,
            "region": self.region,
            "kind": self.kind,
            "remaining": self.remaining,
            "hits": self.hits,
            "latency_ms": self.latency_ms,
        }


class EmulatorState:
    def __init__(self, transition_seconds: float = 0.0):
        self.lock = threading.RLock()  # serialises AWS request handling
        self.meta = threading.Lock()  # guards calls/faults/outage
        self.config = Config(transition_seconds)
        self.calls: list[dict[str, Any]] = []
        self._seq = 0
        # (service, operation) -> [requests, mutating]; every AWS request, reads included
        self.stats: dict[tuple[str, str], list[int]] = {}
        self.stats_since = now()
        self.faults: list[Fault] = []
        self.outage_until = 0.0

    # -- call log ---------------------------------------------------------
    def record_call(self, entry: dict[str, Any]) -> None:
        with self.meta:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            self.calls.append(entry)

    def list_calls(self, service: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
        with self.meta:
            return [
                c
                for c in self.calls
                if (service is None or c["service"] == service)
                and (operation is None or c["operation"] == operation)
            ]

    def clear_calls(self) -> None:
        with self.meta:
            self.calls.clear()

    # -- request counters -------------------------------------------------
    def count_request(self, service: str, operation: str, mutating: bool) -> None:
        with self.meta:
            entry = self.stats.setdefault((service, operation), [0, 0])
            entry[0] += 1
            if mutating:
                entry[1] += 1

    def stats_json(self) -> dict[str, Any]:
        with self.meta:
            operations = [
                {"service": service, "operation": operation, "count": count, "mutating": mutating > 0}
                for (service, operation), (count, mutating) in sorted(self.stats.items())
            ]
            since = self.stats_since
        reads = sum(o["count"] for o in operations if not o["mutating"])
        writes = sum(o["count"] for o in operations if o["mutating"])
        return {
            "since": since,
            "now": now(),
            "total": reads + writes,
            "reads": reads,
            "mutating": writes,
            "operations": operations,
        }

    def clear_stats(self) -> None:
        with self.meta:
            self.stats.clear()
            self.stats_since = now()

    # -- faults -----------------------------------------------------------
    def add_fault(self, spec: dict[str, Any]) -> Fault:
        fault = Fault(spec)
        with self.meta:
            self.faults.append(fault)
        return fault

    def take_fault(self, service: str | None, operation: str | None, region: str | None) -> Fault | None:
        with self.meta:
            for fault in self.faults:
                if fault.matches(service, operation, region):
                    fault.consume()
                    return fault
        return None

    def clear_faults(self) -> None:
        with self.meta:
            self.faults.clear()

    # -- outage -----------------------------------------------------------
    def start_outage(self, seconds: float) -> float:
        with self.meta:
            self.outage_until = now() + seconds
            return self.outage_until

    def in_outage(self) -> bool:
        with self.meta:
            return now() < self.outage_until
