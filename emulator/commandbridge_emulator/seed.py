"""Create the reference ScotAccount topology through the emulator's own AWS endpoints."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import ACCOUNT_ID

if TYPE_CHECKING:  # pragma: no cover
    from .app import EmulatorApp

PRIMARY = "eu-west-2"
SECONDARY = "eu-west-1"
ZONE = "scotaccount.gov.scot."
SERVICES = ("portal", "api")
GLOBAL_ID = "scotaccount-global"
CLUSTERS = {PRIMARY: "scotaccount-euw2", SECONDARY: "scotaccount-euw1"}
FEATURE_FLAGS = {
    "version": "1",
    "flags": {
        "maintenance_mode": {
            "name": "maintenance_mode",
            "attributes": {"message": {"constraints": {"type": "string"}}},
        },
        "new_login_flow": {"name": "new_login_flow"},
        "webauthn": {"name": "webauthn"},
    },
    "values": {
        "maintenance_mode": {"enabled": False, "message": ""},
        "new_login_flow": {"enabled": True},
        "webauthn": {"enabled": False},
    },
}


def _client(app: "EmulatorApp", service: str, region: str):
    import boto3
    from botocore.config import Config

    client = boto3.client(
        service,
        region_name=region,
        endpoint_url=app.base_url,
        aws_access_key_id="emulator",
        aws_secret_access_key="emulator",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )

    def mark_internal(request, **_kwargs):
        request.headers["X-Emulator-Internal"] = "1"

    client.meta.events.register("before-sign", mark_internal)
    return client


def seed(app: "EmulatorApp", body: dict[str, Any]) -> dict[str, Any]:
    topology = body.get("topology", "global")
    if topology not in ("global", "replica"):
        raise ValueError("topology must be 'global' or 'replica'")
    ttl = int(body.get("dns_ttl", 60))
    audit_table = str(body.get("audit_table", "commandbridge-audit"))

    r53 = _client(app, "route53", "us-east-1")
    zone_id = r53.create_hosted_zone(Name=ZONE, CallerReference=f"seed-{ZONE}")["HostedZone"]["Id"]
    zone_id = zone_id.split("/")[-1]
    health_checks: dict[str, list[str]] = {PRIMARY: [], SECONDARY: []}
    hc_ids: dict[tuple[str, str], str] = {}
    for region in (PRIMARY, SECONDARY):
        for svc in SERVICES:
            fqdn = f"{svc}.{region}.scotaccount.internal"
            hc = r53.create_health_check(
                CallerReference=f"seed-{svc}-{region}",
                HealthCheckConfig={
                    "Type": "HTTPS",
                    "FullyQualifiedDomainName": fqdn,
                    "Port": 443,
                    "ResourcePath": "/healthz",
                    "RequestInterval": 30,
                    "FailureThreshold": 3,
                },
            )["HealthCheck"]["Id"]
            r53.change_tags_for_resource(
                ResourceType="healthcheck", ResourceId=hc, AddTags=[{"Key": "Name", "Value": f"{svc}-{region}"}]
            )
            health_checks[region].append(hc)
            hc_ids[(svc, region)] = hc
    records = []
    changes = []
    for svc in SERVICES:
        name = f"{svc}.{ZONE}"
        entry: dict[str, Any] = {"name": name, "type": "CNAME", "ttl": ttl}
        for role, region in (("primary", PRIMARY), ("secondary", SECONDARY)):
            value = f"{svc}.{region}.scotaccount.internal"
            entry[role] = {"set_identifier": region, "value": value, "health_check_id": hc_ids[(svc, region)]}
            changes.append(
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "CNAME",
                        "SetIdentifier": region,
                        "Failover": role.upper(),
                        "TTL": ttl,
                        "HealthCheckId": hc_ids[(svc, region)],
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            )
        records.append(entry)
    change = r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    # The seeded records are in place from the start.
    change_id = change["ChangeInfo"]["Id"].split("/")[-1]
    with app.state.lock:
        if change_id in app.route53.changes:
            app.route53.changes[change_id]["duration"] = 0.0

    rds_w = _client(app, "rds", PRIMARY)
    rds_s = _client(app, "rds", SECONDARY)
    writer = rds_w.create_db_cluster(
        DBClusterIdentifier=CLUSTERS[PRIMARY],
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername="scotaccount",
        MasterUserPassword="emulator-password",
    )["DBCluster"]
    clusters = {
        region: {"identifier": ident, "arn": f"arn:aws:rds:{region}:{ACCOUNT_ID}:cluster:{ident}"}
        for region, ident in CLUSTERS.items()
    }
    if topology == "global":
        rds_w.create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, SourceDBClusterIdentifier=writer["DBClusterArn"])
        rds_s.create_db_cluster(
            DBClusterIdentifier=CLUSTERS[SECONDARY],
            Engine="aurora-postgresql",
            EngineVersion="15.4",
            GlobalClusterIdentifier=GLOBAL_ID,
        )
        global_id: str | None = GLOBAL_ID
    else:
        rds_s.create_db_cluster(
            DBClusterIdentifier=CLUSTERS[SECONDARY],
            Engine="aurora-postgresql",
            EngineVersion="15.4",
            ReplicationSourceIdentifier=writer["DBClusterArn"],
            MasterUsername="scotaccount",
            MasterUserPassword="emulator-password",
        )
        global_id = None
    for region in (PRIMARY, SECONDARY):
        client = rds_w if region == PRIMARY else rds_s
        client.describe_db_clusters(DBClusterIdentifier=CLUSTERS[region])  # settles "creating" -> "available"

    ac = _client(app, "appconfig", PRIMARY)
    application_id = ac.create_application(Name="scotaccount")["Id"]
    environment_id = ac.create_environment(ApplicationId=application_id, Name="production")["Id"]
    profile_id = ac.create_configuration_profile(
        ApplicationId=application_id, Name="feature-flags", LocationUri="hosted", Type="AWS.AppConfig.FeatureFlags"
    )["Id"]
    strategy_id = ac.create_deployment_strategy(
        Name="commandbridge-immediate",
        DeploymentDurationInMinutes=0,
        FinalBakeTimeInMinutes=0,
        GrowthFactor=100,
        GrowthType="LINEAR",
        ReplicateTo="NONE",
    )["Id"]
    version = ac.create_hosted_configuration_version(
        ApplicationId=application_id,
        ConfigurationProfileId=profile_id,
        Content=json.dumps(FEATURE_FLAGS, separators=(",", ":")).encode(),
        ContentType="application/json",
    )["VersionNumber"]
    deployment = ac.start_deployment(
        ApplicationId=application_id,
        EnvironmentId=environment_id,
        DeploymentStrategyId=strategy_id,
        ConfigurationProfileId=profile_id,
        ConfigurationVersion=str(version),
    )
    with app.state.lock:
        app.appconfig.force_complete(PRIMARY, application_id, environment_id, deployment["DeploymentNumber"])

    ddb = _client(app, "dynamodb", PRIMARY)
    ddb.create_table(
        TableName=audit_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "day", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-time",
                "KeySchema": [{"AttributeName": "day", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    app.state.clear_calls()
    app.state.clear_stats()
    return {
        "account_id": ACCOUNT_ID,
        "hosted_zone_id": zone_id,
        "zone_name": ZONE,
        "records": records,
        "health_checks": health_checks,
        "global_cluster_id": global_id,
        "clusters": clusters,
        "appconfig": {
            "application": "scotaccount",
            "environment": "production",
            "profile": "feature-flags",
            "deployment_strategy": "commandbridge-immediate",
            "application_id": application_id,
            "environment_id": environment_id,
            "profile_id": profile_id,
            "deployment_strategy_id": strategy_id,
        },
        "audit_table": audit_table,
    }
