"""AppConfig environments, deployment strategies, deployments, hosted versions and appconfigdata.

Applications and configuration profiles are moto's; everything else here is
kept by the extension. Deployment state is computed from elapsed time:
DEPLOYING for ``appconfig_deploy_seconds``, then BAKING for
``appconfig_bake_seconds``, then COMPLETE (or ROLLED_BACK when a rollback
fault was injected, or after StopDeployment).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from typing import Any, Callable

from . import ACCOUNT_ID
from .aws import AwsError, AwsRequest, Response, new_request_id, serialize
from .state import EmulatorState, now

IN_PROGRESS = ("DEPLOYING", "BAKING")

PREDEFINED_STRATEGIES = {
    "AppConfig.AllAtOnce": ("Quick", 0, 10, 100.0, "LINEAR"),
    "AppConfig.Linear50PercentEvery30Seconds": ("Test/Demo", 1, 1, 50.0, "LINEAR"),
    "AppConfig.Canary10Percent20Minutes": ("AWS Recommended", 20, 10, 10.0, "EXPONENTIAL"),
    "AppConfig.Linear20PercentEvery6Minutes": ("AWS Recommended", 30, 30, 20.0, "LINEAR"),
}


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def _not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message, 404)


class AppConfigExtension:
    def __init__(self, state: EmulatorState):
        self.state = state
        self.reset()

    def reset(self) -> None:
        # (region, app_id) -> env_id -> env
        self.environments: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        # region -> strategy_id -> strategy
        self.strategies: dict[str, dict[str, dict[str, Any]]] = {}
        # (region, app_id, env_id) -> list of deployments (index = number - 1)
        self.deployments: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        # appconfigdata token -> session
        self.sessions: dict[str, dict[str, Any]] = {}

    # -- moto access ------------------------------------------------------
    @staticmethod
    def backend(region: str):
        from moto.appconfig.models import appconfig_backends

        return appconfig_backends[ACCOUNT_ID][region]

    def application(self, region: str, ident: str, by_name: bool = False):
        apps = self.backend(region).applications
        if ident in apps:
            return apps[ident]
        if by_name:
            for app in apps.values():
                if app.name == ident:
                    return app
        raise _not_found(f"Application {ident} not found")

    def profile(self, region: str, app, ident: str, by_name: bool = False):
        profiles = app.config_profiles
        if ident in profiles:
            return profiles[ident]
        if by_name:
            for p in profiles.values():
                if p.name == ident:
                    return p
        raise _not_found(f"Configuration profile {ident} not found")

    def environment(self, region: str, app_id: str, ident: str, by_name: bool = False) -> dict[str, Any]:
        envs = self.environments.get((region, app_id), {})
        if ident in envs:
            return envs[ident]
        if by_name:
            for env in envs.values():
                if env["Name"] == ident:
                    return env
        raise _not_found(f"Environment {ident} not found")

    def strategy(self, region: str, ident: str) -> dict[str, Any]:
        if ident in PREDEFINED_STRATEGIES:
            desc, duration, bake, growth, gtype = PREDEFINED_STRATEGIES[ident]
            return {
                "Id": ident,
                "Name": ident,
                "Description": desc,
                "DeploymentDurationInMinutes": duration,
                "GrowthType": gtype,
                "GrowthFactor": growth,
                "FinalBakeTimeInMinutes": bake,
                "ReplicateTo": "NONE",
            }
        strategies = self.strategies.get(region, {})
        if ident in strategies:
            return strategies[ident]
        for s in strategies.values():
            if s["Name"] == ident:
                return s
        raise _not_found(f"Deployment strategy {ident} not found")

    # -- deployment state -------------------------------------------------
    @staticmethod
    def deployment_state(d: dict[str, Any], at: float | None = None) -> tuple[str, float, float | None]:
        """(state, percentage complete, completion time) of a deployment at ``at``."""
        t = now() if at is None else at
        if d["stopped_at"] is not None and t >= d["stopped_at"]:
            return "ROLLED_BACK", d.get("stopped_percentage", 0.0), d["stopped_at"]
        deploy_end = d["started"] + d["deploy_seconds"]
        bake_end = deploy_end + d["bake_seconds"]
        if t < deploy_end:
            pct = 100.0 * (t - d["started"]) / d["deploy_seconds"] if d["deploy_seconds"] else 100.0
            return "DEPLOYING", round(min(pct, 100.0), 1), None
        if t < bake_end:
            return "BAKING", 100.0, None
        if d["rollback"]:
            return "ROLLED_BACK", 0.0, bake_end
        return "COMPLETE", 100.0, bake_end

    def env_state(self, region: str, app_id: str, env_id: str) -> str:
        deps = self.deployments.get((region, app_id, env_id), [])
        if not deps:
            return "READY_FOR_DEPLOYMENT"
        state, _, _ = self.deployment_state(deps[-1])
        if state in IN_PROGRESS:
            return state
        if state == "ROLLED_BACK":
            return "ROLLED_BACK"
        return "READY_FOR_DEPLOYMENT"

    def render_env(self, env: dict[str, Any]) -> dict[str, Any]:
        return {**env, "State": self.env_state(env["_region"], env["ApplicationId"], env["Id"])}

    def render_deployment(self, d: dict[str, Any]) -> dict[str, Any]:
        state, pct, completed = self.deployment_state(d)
        events = [
            {
                "EventType": "DEPLOYMENT_STARTED",
                "TriggeredBy": "USER",
                "Description": "Deployment started",
                "OccurredAt": _ts(d["started"]),
            }
        ]
        deploy_end = d["started"] + d["deploy_seconds"]
        if state != "DEPLOYING" and (d["stopped_at"] is None or d["stopped_at"] >= deploy_end):
            events.append(
                {
                    "EventType": "BAKE_TIME_STARTED",
                    "TriggeredBy": "APPCONFIG",
                    "Description": "Deployment bake time started",
                    "OccurredAt": _ts(deploy_end),
                }
            )
        if state == "COMPLETE":
            events.append(
                {
                    "EventType": "DEPLOYMENT_COMPLETED",
                    "TriggeredBy": "APPCONFIG",
                    "Description": "Deployment completed",
                    "OccurredAt": _ts(completed),
                }
            )
        elif state == "ROLLED_BACK":
            events.append(
                {
                    "EventType": "ROLLBACK_COMPLETED",
                    "TriggeredBy": "USER" if d["stopped_at"] is not None else "CLOUDWATCH_ALARM",
                    "Description": "Deployment rolled back",
                    "OccurredAt": _ts(completed),
                }
            )
        events.reverse()
        out = {
            "ApplicationId": d["ApplicationId"],
            "EnvironmentId": d["EnvironmentId"],
            "DeploymentStrategyId": d["DeploymentStrategyId"],
            "ConfigurationProfileId": d["ConfigurationProfileId"],
            "DeploymentNumber": d["DeploymentNumber"],
            "ConfigurationName": d["ConfigurationName"],
            "ConfigurationLocationUri": d["ConfigurationLocationUri"],
            "ConfigurationVersion": d["ConfigurationVersion"],
            "Description": d.get("Description"),
            "DeploymentDurationInMinutes": d["DeploymentDurationInMinutes"],
            "GrowthType": d["GrowthType"],
            "GrowthFactor": d["GrowthFactor"],
            "FinalBakeTimeInMinutes": d["FinalBakeTimeInMinutes"],
            "State": state,
            "EventLog": events,
            "PercentageComplete": pct,
            "StartedAt": _ts(d["started"]),
        }
        if completed is not None:
            out["CompletedAt"] = _ts(completed)
        if d.get("VersionLabel"):
            out["VersionLabel"] = d["VersionLabel"]
        return {k: v for k, v in out.items() if v is not None}

    # -- dispatch ---------------------------------------------------------
    def handlers(self) -> dict[str, Callable[[AwsRequest], Response | None]]:
        return {
            "ListApplications": self.list_applications,
            "CreateEnvironment": self.create_environment,
            "GetEnvironment": self.get_environment,
            "ListEnvironments": self.list_environments,
            "CreateDeploymentStrategy": self.create_deployment_strategy,
            "GetDeploymentStrategy": self.get_deployment_strategy,
            "ListDeploymentStrategies": self.list_deployment_strategies,
            "StartDeployment": self.start_deployment,
            "GetDeployment": self.get_deployment,
            "ListDeployments": self.list_deployments,
            "StopDeployment": self.stop_deployment,
            "CreateHostedConfigurationVersion": self.create_hosted_configuration_version,
            "GetHostedConfigurationVersion": self.get_hosted_configuration_version,
            "ListHostedConfigurationVersions": self.list_hosted_configuration_versions,
        }

    def data_handlers(self) -> dict[str, Callable[[AwsRequest], Response | None]]:
        return {
            "StartConfigurationSession": self.start_configuration_session,
            "GetLatestConfiguration": self.get_latest_configuration,
        }

    @staticmethod
    def _body(req: AwsRequest) -> dict[str, Any]:
        if req.body and not isinstance(req.json, dict):
            raise AwsError("BadRequestException", "Request body is not valid JSON", 400)
        return req.json if isinstance(req.json, dict) else {}

    # -- applications -----------------------------------------------------
    def list_applications(self, req: AwsRequest) -> Response:
        # moto 5.2.5 has CreateApplication and GetApplication but no ListApplications.
        apps = self.backend(req.region).applications.values()
        items = [self._public({"Id": a.id, "Name": a.name, "Description": a.description}) for a in apps]
        return serialize("appconfig", "ListApplications", {"Items": items})

    # -- environments -----------------------------------------------------
    def create_environment(self, req: AwsRequest) -> Response:
        app = self.application(req.region, req.path_params["ApplicationId"])
        body = self._body(req)
        name = body.get("Name")
        if not name:
            raise AwsError("BadRequestException", "Name is required", 400)
        env_id = secrets.token_hex(4)[:7]
        env = {
            "_region": req.region,
            "ApplicationId": app.id,
            "Id": env_id,
            "Name": name,
            "Description": body.get("Description"),
            "Monitors": body.get("Monitors") or [],
        }
        self.environments.setdefault((req.region, app.id), {})[env_id] = env
        return serialize("appconfig", "CreateEnvironment", self._public(self.render_env(env)))

    @staticmethod
    def _public(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if not k.startswith("_") and v is not None}

    def get_environment(self, req: AwsRequest) -> Response:
        app = self.application(req.region, req.path_params["ApplicationId"])
        env = self.environment(req.region, app.id, req.path_params["EnvironmentId"])
        return serialize("appconfig", "GetEnvironment", self._public(self.render_env(env)))

    def list_environments(self, req: AwsRequest) -> Response:
        app = self.application(req.region, req.path_params["ApplicationId"])
        envs = self.environments.get((req.region, app.id), {}).values()
        items = [self._public(self.render_env(e)) for e in envs]
        return serialize("appconfig", "ListEnvironments", {"Items": items})

    # -- strategies -------------------------------------------------------
    def create_deployment_strategy(self, req: AwsRequest) -> Response:
        body = self._body(req)
        for key in ("Name", "DeploymentDurationInMinutes", "GrowthFactor"):
            if key not in body:
                raise AwsError("BadRequestException", f"{key} is required", 400)
        sid = secrets.token_hex(4)[:7]
        strategy = {
            "Id": sid,
            "Name": body["Name"],
            "Description": body.get("Description"),
            "DeploymentDurationInMinutes": int(body["DeploymentDurationInMinutes"]),
            "GrowthType": body.get("GrowthType", "LINEAR"),
            "GrowthFactor": float(body["GrowthFactor"]),
            "FinalBakeTimeInMinutes": int(body.get("FinalBakeTimeInMinutes", 0)),
            "ReplicateTo": body.get("ReplicateTo", "NONE"),
        }
        self.strategies.setdefault(req.region, {})[sid] = strategy
        return serialize("appconfig", "CreateDeploymentStrategy", self._public(strategy))

    def get_deployment_strategy(self, req: AwsRequest) -> Response:
        strategy = self.strategy(req.region, req.path_params["DeploymentStrategyId"])
        return serialize("appconfig", "GetDeploymentStrategy", self._public(strategy))

    def list_deployment_strategies(self, req: AwsRequest) -> Response:
        items = [self._public(self.strategy(req.region, sid)) for sid in PREDEFINED_STRATEGIES]
        items += [self._public(s) for s in self.strategies.get(req.region, {}).values()]
        return serialize("appconfig", "ListDeploymentStrategies", {"Items": items})

    # -- deployments ------------------------------------------------------
    def start_deployment(self, req: AwsRequest, rollback: bool = False) -> Response:
        app = self.application(req.region, req.path_params["ApplicationId"])
        env = self.environment(req.region, app.id, req.path_params["EnvironmentId"])
        body = self._body(req)
        for key in ("DeploymentStrategyId", "ConfigurationProfileId", "ConfigurationVersion"):
            if not body.get(key):
                raise AwsError("BadRequestException", f"{key} is required", 400)
        profile = self.profile(req.region, app, body["ConfigurationProfileId"])
        strategy = self.strategy(req.region, body["DeploymentStrategyId"])
        version = str(body["ConfigurationVersion"])
        if profile.location_uri == "hosted":
            if not version.isdigit() or int(version) not in profile.config_versions:
                raise _not_found(f"Hosted configuration version {version} not found")
        key = (req.region, app.id, env["Id"])
        deps = self.deployments.setdefault(key, [])
        latest = body.get("LatestDeploymentNumber")
        if latest is not None and int(latest) != len(deps):
            raise AwsError(
                "ConflictException",
                f"LatestDeploymentNumber {latest} does not match the latest deployment number {len(deps)}",
                409,
            )
        if deps and self.deployment_state(deps[-1])[0] in IN_PROGRESS:
            raise AwsError(
                "ConflictException",
                f"Deployment #{deps[-1]['DeploymentNumber']} is already in progress for environment {env['Id']}.",
                409,
            )
        cfg = self.state.config
        d = {
            "_region": req.region,
            "ApplicationId": app.id,
            "EnvironmentId": env["Id"],
            "DeploymentStrategyId": strategy["Id"],
            "ConfigurationProfileId": profile.id,
            "DeploymentNumber": len(deps) + 1,
            "ConfigurationName": profile.name,
            "ConfigurationLocationUri": profile.location_uri,
            "ConfigurationVersion": version,
            "Description": body.get("Description"),
            "DeploymentDurationInMinutes": strategy["DeploymentDurationInMinutes"],
            "GrowthType": strategy["GrowthType"],
            "GrowthFactor": strategy["GrowthFactor"],
            "FinalBakeTimeInMinutes": strategy["FinalBakeTimeInMinutes"],
            "started": now(),
            "deploy_seconds": cfg.seconds("appconfig_deploy_seconds"),
            "bake_seconds": cfg.seconds("appconfig_bake_seconds"),
            "stopped_at": None,
            "rollback": rollback,
        }
        if profile.location_uri == "hosted":
            hv = profile.config_versions[int(version)]
            if hv.version_label:
                d["VersionLabel"] = hv.version_label
        deps.append(d)
        return serialize("appconfig", "StartDeployment", self.render_deployment(d))

    def _deployment(self, req: AwsRequest) -> dict[str, Any]:
        app = self.application(req.region, req.path_params["ApplicationId"])
        env = self.environment(req.region, app.id, req.path_params["EnvironmentId"])
        deps = self.deployments.get((req.region, app.id, env["Id"]), [])
        number = req.path_params.get("DeploymentNumber", "")
        if not number.isdigit() or not 1 <= int(number) <= len(deps):
            raise _not_found(f"Deployment {number} not found")
        return deps[int(number) - 1]

    def get_deployment(self, req: AwsRequest) -> Response:
        return serialize("appconfig", "GetDeployment", self.render_deployment(self._deployment(req)))

    def list_deployments(self, req: AwsRequest) -> Response:
        app = self.application(req.region, req.path_params["ApplicationId"])
        env = self.environment(req.region, app.id, req.path_params["EnvironmentId"])
        deps = self.deployments.get((req.region, app.id, env["Id"]), [])
        items = []
        for d in reversed(deps):
            r = self.render_deployment(d)
            r.pop("EventLog", None)
            items.append(r)
        return serialize("appconfig", "ListDeployments", {"Items": items})

    def stop_deployment(self, req: AwsRequest) -> Response:
        d = self._deployment(req)
        state, pct, _ = self.deployment_state(d)
        if state not in IN_PROGRESS:
            raise AwsError(
                "BadRequestException",
                f"Deployment #{d['DeploymentNumber']} is {state} and cannot be stopped.",
                400,
            )
        d["stopped_at"] = now()
        d["stopped_percentage"] = pct
        return serialize("appconfig", "StopDeployment", self.render_deployment(d))

    def force_complete(self, region: str, app_id: str, env_id: str, number: int) -> None:
        d = self.deployments[(region, app_id, env_id)][number - 1]
        d["deploy_seconds"] = 0.0
        d["bake_seconds"] = 0.0
        d["started"] = now() - 0.001

    def last_complete(self, region: str, app, env: dict[str, Any], profile) -> dict[str, Any] | None:
        for d in reversed(self.deployments.get((region, app.id, env["Id"]), [])):
            if d["ConfigurationProfileId"] == profile.id and self.deployment_state(d)[0] == "COMPLETE":
                return d
        return None

    # -- hosted configuration versions -----------------------------------
    def _hosted_headers(self, hv) -> dict[str, str]:
        headers = {
            "Application-Id": hv.app_id,
            "Configuration-Profile-Id": hv.config_id,
            "Version-Number": str(hv.version),
            "Content-Type": hv.content_type or "application/octet-stream",
            "x-amzn-RequestId": new_request_id(),
        }
        if hv.description:
            headers["Description"] = hv.description
        if hv.version_label:
            headers["VersionLabel"] = hv.version_label
        return headers

    def create_hosted_configuration_version(self, req: AwsRequest) -> Response:
        app = self.application(req.region, req.path_params["ApplicationId"])
        profile = self.profile(req.region, app, req.path_params["ConfigurationProfileId"])
        current = max(profile.config_versions) if profile.config_versions else 0
        latest = req.headers.get("latest-version-number")
        if latest is not None and latest != "":
            if not latest.strip().isdigit() or int(latest) != current:
                raise AwsError(
                    "ConflictException",
                    f"The latest version number {current} does not match the specified "
                    f"LatestVersionNumber {latest}.",
                    409,
                )
        content_type = req.headers.get("content-type")
        if not content_type:
            raise AwsError("BadRequestException", "Content-Type header is required", 400)
        hv = profile.create_version(
            app_id=app.id,
            config_id=profile.id,
            description=req.headers.get("description"),
            content=req.body,
            content_type=content_type,
            version_label=req.headers.get("versionlabel"),
        )
        return 201, self._hosted_headers(hv), req.body

    def get_hosted_configuration_version(self, req: AwsRequest) -> Response:
        app = self.application(req.region, req.path_params["ApplicationId"])
        profile = self.profile(req.region, app, req.path_params["ConfigurationProfileId"])
        number = req.path_params.get("VersionNumber", "")
        if not number.isdigit() or int(number) not in profile.config_versions:
            raise _not_found(f"Hosted configuration version {number} not found")
        hv = profile.config_versions[int(number)]
        content = hv.content if isinstance(hv.content, bytes) else str(hv.content or "").encode("utf-8")
        return 200, self._hosted_headers(hv), content

    def list_hosted_configuration_versions(self, req: AwsRequest) -> Response:
        app = self.application(req.region, req.path_params["ApplicationId"])
        profile = self.profile(req.region, app, req.path_params["ConfigurationProfileId"])
        label = req.query.get("version_label")
        items = []
        for number in sorted(profile.config_versions, reverse=True):
            hv = profile.config_versions[number]
            if label and hv.version_label != label:
                continue
            item = {
                "ApplicationId": hv.app_id,
                "ConfigurationProfileId": hv.config_id,
                "VersionNumber": hv.version,
                "Description": hv.description,
                "ContentType": hv.content_type,
                "VersionLabel": hv.version_label,
            }
            items.append({k: v for k, v in item.items() if v is not None})
        return serialize("appconfig", "ListHostedConfigurationVersions", {"Items": items})

    def content_of(self, region: str, app, profile, version: str) -> tuple[bytes, str]:
        if version.isdigit() and int(version) in profile.config_versions:
            hv = profile.config_versions[int(version)]
            content = hv.content if isinstance(hv.content, bytes) else str(hv.content or "").encode("utf-8")
            return content, hv.content_type or "application/octet-stream"
        return b"", "application/octet-stream"

    # -- appconfigdata ----------------------------------------------------
    def resolve(self, region: str, app_ident: str, env_ident: str, profile_ident: str):
        app = self.application(region, app_ident, by_name=True)
        env = self.environment(region, app.id, env_ident, by_name=True)
        profile = self.profile(region, app, profile_ident, by_name=True)
        return app, env, profile

    def start_configuration_session(self, req: AwsRequest) -> Response:
        body = self._body(req)
        for key in ("ApplicationIdentifier", "EnvironmentIdentifier", "ConfigurationProfileIdentifier"):
            if not body.get(key):
                raise AwsError("BadRequestException", f"{key} is required", 400)
        app, env, profile = self.resolve(
            req.region,
            body["ApplicationIdentifier"],
            body["EnvironmentIdentifier"],
            body["ConfigurationProfileIdentifier"],
        )
        interval = int(body.get("RequiredMinimumPollIntervalInSeconds") or 60)
        token = secrets.token_urlsafe(24)
        self.sessions[token] = {
            "region": req.region,
            "app": app.id,
            "env": env["Id"],
            "profile": profile.id,
            "interval": interval,
            "served": None,
        }
        return serialize("appconfigdata", "StartConfigurationSession", {"InitialConfigurationToken": token})

    def get_latest_configuration(self, req: AwsRequest) -> Response:
        token = req.query.get("configuration_token")
        if not isinstance(token, str) or token not in self.sessions:
            raise AwsError("BadRequestException", "The configuration token is invalid or has expired.", 400)
        session = self.sessions.pop(token)
        region = session["region"]
        app = self.application(region, session["app"])
        env = self.environment(region, app.id, session["env"])
        profile = self.profile(region, app, session["profile"])
        d = self.last_complete(region, app, env, profile)
        next_token = secrets.token_urlsafe(24)
        self.sessions[next_token] = session
        headers = {
            "Next-Poll-Configuration-Token": next_token,
            "Next-Poll-Interval-In-Seconds": str(session["interval"]),
            "x-amzn-RequestId": new_request_id(),
        }
        if d is None:
            headers["Content-Type"] = "application/octet-stream"
            return 200, headers, b""
        marker = (d["DeploymentNumber"], d["ConfigurationVersion"])
        content, content_type = self.content_of(region, app, profile, d["ConfigurationVersion"])
        headers["Content-Type"] = content_type
        if d.get("VersionLabel"):
            headers["Version-Label"] = d["VersionLabel"]
        if session["served"] == marker:
            return 200, headers, b""
        session["served"] = marker
        return 200, headers, content

    # -- control ----------------------------------------------------------
    def deployed(self, application: str, environment: str, profile: str, region: str | None = None) -> dict[str, Any]:
        regions = [region] if region else self._regions()
        for r in regions:
            try:
                app, env, prof = self.resolve(r, application, environment, profile)
            except AwsError:
                continue
            d = self.last_complete(r, app, env, prof)
            if d is None:
                continue
            content, _ = self.content_of(r, app, prof, d["ConfigurationVersion"])
            try:
                parsed: Any = json.loads(content) if content else None
            except ValueError:
                parsed = content.decode("utf-8", "replace")
            version = d["ConfigurationVersion"]
            return {
                "version_number": int(version) if version.isdigit() else version,
                "deployment_number": d["DeploymentNumber"],
                "state": "COMPLETE",
                "content": parsed,
            }
        raise _not_found("No COMPLETE deployment for that application, environment and profile")

    def _regions(self) -> list[str]:
        from moto.appconfig.models import appconfig_backends

        try:
            return list(appconfig_backends[ACCOUNT_ID].keys())
        except Exception:
            return ["eu-west-2", "eu-west-1"]
