"""Route 53 change propagation (PENDING -> INSYNC) and simulated health-check status."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable

from . import ACCOUNT_ID
from .aws import AwsError, AwsRequest, Response, serialize
from .state import EmulatorState, now

CHECKER_REGIONS = (
    ("us-east-1", "54.243.31.192"),
    ("eu-west-1", "176.34.159.192"),
    ("ap-southeast-1", "54.255.254.192"),
)


class Route53Extension:
    def __init__(self, state: EmulatorState):
        self.state = state
        self.reset()

    def reset(self) -> None:
        self.changes: dict[str, dict[str, float]] = {}
        self.endpoint_healthy: dict[str, bool] = {}

    @staticmethod
    def backend():
        from moto.route53.models import route53_backends

        return route53_backends[ACCOUNT_ID]["global"]

    def handlers(self) -> dict[str, Callable[[AwsRequest], Response | None]]:
        return {
            "GetChange": self.get_change,
            "GetHealthCheckStatus": self.get_health_check_status,
        }

    def post_handlers(self) -> dict[str, Callable[[AwsRequest, Response], Response]]:
        return {
            "ChangeResourceRecordSets": self.after_change_resource_record_sets,
            "CreateHostedZone": self.after_zone_change,
            "DeleteHostedZone": self.after_zone_change,
        }

    def after_zone_change(self, req: AwsRequest, resp: Response) -> Response:
        """Hosted-zone creation/deletion changes are reported INSYNC straight away."""
        status, _, body = resp
        if status in (200, 201):
            m = re.search(r"<ChangeInfo>\s*<Id>(?:/change/)?([^<]+)</Id>", body.decode("utf-8", "replace"))
            if m:
                self.changes[m.group(1)] = {"submitted": now(), "duration": 0.0}
        return resp

    # -- changes ----------------------------------------------------------
    def change_status(self, change_id: str) -> str:
        change = self.changes[change_id]
        return "INSYNC" if now() >= change["submitted"] + change["duration"] else "PENDING"

    def after_change_resource_record_sets(self, req: AwsRequest, resp: Response) -> Response:
        status, headers, body = resp
        if status != 200:
            return resp
        text = body.decode("utf-8")
        m = re.search(r"<Id>(?:/change/)?([^<]+)</Id>", text)
        if not m:
            return resp
        change_id = m.group(1)
        self.changes[change_id] = {
            "submitted": now(),
            "duration": self.state.config.seconds("route53_insync_seconds"),
        }
        text = text.replace("<Status>INSYNC</Status>", "<Status>PENDING</Status>")
        return status, headers, text.encode("utf-8")

    def get_change(self, req: AwsRequest) -> Response | None:
        change_id = req.path_params.get("Id", "")
        if change_id.startswith("/change/"):
            change_id = change_id[len("/change/"):]
        if change_id not in self.changes:
            raise AwsError("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}", 404)
        change = self.changes[change_id]
        return serialize(
            "route53",
            "GetChange",
            {
                "ChangeInfo": {
                    "Id": f"/change/{change_id}",
                    "Status": self.change_status(change_id),
                    "SubmittedAt": datetime.fromtimestamp(change["submitted"], tz=timezone.utc),
                }
            },
        )

    # -- health checks ----------------------------------------------------
    def health_check(self, health_check_id: str):
        hc = self.backend().health_checks.get(health_check_id)
        if hc is None:
            raise AwsError(
                "NoSuchHealthCheck", f"A health check with id {health_check_id} does not exist.", 404
            )
        return hc

    def is_healthy(self, health_check_id: str) -> tuple[bool, str]:
        hc = self.health_check(health_check_id)
        endpoint_ok = self.endpoint_healthy.get(health_check_id, True)
        observed = "HTTP Status Code 200, OK" if endpoint_ok else "HTTP Status Code 503, Service Unavailable"
        if hc.disabled:
            return True, "Health check is disabled; Route 53 considers it healthy"
        healthy = endpoint_ok != bool(hc.inverted)
        if hc.inverted:
            observed += " (inverted)"
        return healthy, observed

    def get_health_check_status(self, req: AwsRequest) -> Response:
        hc_id = req.path_params.get("HealthCheckId", "")
        healthy, observed = self.is_healthy(hc_id)
        checked = datetime.now(tz=timezone.utc)
        prefix = "Success: " if healthy else "Failure: "
        observations: list[dict[str, Any]] = [
            {
                "Region": region,
                "IPAddress": ip,
                "StatusReport": {"Status": prefix + observed, "CheckedTime": checked},
            }
            for region, ip in CHECKER_REGIONS
        ]
        return serialize("route53", "GetHealthCheckStatus", {"HealthCheckObservations": observations})

    def set_endpoint_health(self, health_check_id: str, healthy: bool) -> None:
        self.health_check(health_check_id)
        self.endpoint_healthy[health_check_id] = healthy
