"""Route 53 change propagation and health status; DynamoDB audit-table behaviour."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code


def test_change_pending_then_insync(emu):
    out = emu.seed()
    emu.ok("PUT", "/config", {"route53_insync_seconds": 0.6})
    r53 = emu.client("route53", "us-east-1")
    rec = out["records"][0]
    change = r53.change_resource_record_sets(
        HostedZoneId=out["hosted_zone_id"],
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": rec["name"],
                        "Type": "CNAME",
                        "SetIdentifier": "eu-west-2",
                        "Failover": "PRIMARY",
                        "TTL": 5,
                        "HealthCheckId": rec["secondary"]["health_check_id"],
                        "ResourceRecords": [{"Value": rec["secondary"]["value"]}],
                    },
                }
            ]
        },
    )["ChangeInfo"]
    assert change["Status"] == "PENDING"
    assert r53.get_change(Id=change["Id"])["ChangeInfo"]["Status"] == "PENDING"
    time.sleep(0.7)
    assert r53.get_change(Id=change["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    with pytest.raises(ClientError) as exc:
        r53.get_change(Id="/change/CNOSUCH")
    assert error_code(exc.value) == "NoSuchChange"
    call = emu.calls(operation="ChangeResourceRecordSets")[0]
    assert call["service"] == "route53" and call["region"] == "us-east-1"
    assert call["params"]["Id"] == out["hosted_zone_id"]
    assert call["params"]["Changes"] == [
        {
            "Action": "UPSERT",
            "Name": rec["name"],
            "Type": "CNAME",
            "SetIdentifier": "eu-west-2",
            "Failover": "PRIMARY",
            "TTL": "5",
            "HealthCheckId": rec["secondary"]["health_check_id"],
            "Values": [rec["secondary"]["value"]],
        }
    ]
    zone = r53.create_hosted_zone(Name="other.example.", CallerReference="z2")
    assert r53.get_change(Id=zone["ChangeInfo"]["Id"])["ChangeInfo"]["Status"] == "INSYNC"


def test_failover_records_listed(emu):
    out = emu.seed(dns_ttl=5)
    r53 = emu.client("route53", "us-east-1")
    sets = r53.list_resource_record_sets(HostedZoneId=out["hosted_zone_id"])["ResourceRecordSets"]
    failover = {(s["Name"], s["SetIdentifier"]): s for s in sets if "Failover" in s}
    assert len(failover) == 4
    portal_primary = failover[("portal.scotaccount.gov.scot.", "eu-west-2")]
    assert portal_primary["Failover"] == "PRIMARY"
    assert portal_primary["TTL"] == 5
    assert portal_primary["HealthCheckId"] == out["records"][0]["primary"]["health_check_id"]
    assert portal_primary["ResourceRecords"] == [{"Value": "portal.eu-west-2.scotaccount.internal"}]
    assert failover[("api.scotaccount.gov.scot.", "eu-west-1")]["Failover"] == "SECONDARY"
    hc = r53.get_health_check(HealthCheckId=out["health_checks"]["eu-west-1"][0])["HealthCheck"]["HealthCheckConfig"]
    assert hc["FullyQualifiedDomainName"] == "portal.eu-west-1.scotaccount.internal"
    assert hc["ResourcePath"] == "/healthz" and hc["Type"] == "HTTPS"
    tags = r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=out["health_checks"]["eu-west-1"][0])
    assert {"Key": "Name", "Value": "portal-eu-west-1"} in tags["ResourceTagSet"]["Tags"]


def statuses(r53, hc_id):
    obs = r53.get_health_check_status(HealthCheckId=hc_id)["HealthCheckObservations"]
    assert len(obs) >= 3
    return {o["StatusReport"]["Status"].split(":")[0] for o in obs}


def test_health_check_status(emu):
    out = emu.seed()
    r53 = emu.client("route53", "us-east-1")
    hc = out["health_checks"]["eu-west-2"][0]
    assert statuses(r53, hc) == {"Success"}
    emu.ok("PUT", f"/route53/health-checks/{hc}/endpoint", {"healthy": False})
    assert statuses(r53, hc) == {"Failure"}
    r53.update_health_check(HealthCheckId=hc, Inverted=True)
    assert r53.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"]["Inverted"] is True
    assert statuses(r53, hc) == {"Success"}
    emu.ok("PUT", f"/route53/health-checks/{hc}/endpoint", {"healthy": True})
    assert statuses(r53, hc) == {"Failure"}
    r53.update_health_check(HealthCheckId=hc, Disabled=True)
    assert r53.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"]["Disabled"] is True
    assert statuses(r53, hc) == {"Success"}
    r53.update_health_check(HealthCheckId=hc, Inverted=False)
    emu.ok("PUT", f"/route53/health-checks/{hc}/endpoint", {"healthy": False})
    assert statuses(r53, hc) == {"Success"}  # disabled checks are always healthy
    r53.update_health_check(HealthCheckId=hc, Disabled=False)
    assert statuses(r53, hc) == {"Failure"}
    with pytest.raises(ClientError) as exc:
        r53.get_health_check_status(HealthCheckId="00000000-0000-0000-0000-000000000000")
    assert error_code(exc.value) == "NoSuchHealthCheck"
    status, _ = emu.control("PUT", "/route53/health-checks/nope/endpoint", {"healthy": False})
    assert status == 404


def test_dynamodb_audit_table(emu):
    out = emu.seed()
    ddb = emu.client("dynamodb")
    desc = ddb.describe_table(TableName=out["audit_table"])["Table"]
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert desc["GlobalSecondaryIndexes"][0]["IndexName"] == "by-time"
    item = {"pk": {"S": "op#1"}, "sk": {"S": "step#1"}, "day": {"S": "2026-01-01"}, "at": {"S": "10:00"}}
    ddb.put_item(TableName=out["audit_table"], Item=item, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=out["audit_table"], Item=item, ConditionExpression="attribute_not_exists(pk)")
    assert error_code(exc.value) == "ConditionalCheckFailedException"
    got = ddb.query(
        TableName=out["audit_table"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "op#1"}},
    )["Items"]
    assert len(got) == 1
    by_time = ddb.query(
        TableName=out["audit_table"],
        IndexName="by-time",
        KeyConditionExpression="#d = :d",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":d": {"S": "2026-01-01"}},
    )["Items"]
    assert by_time[0]["sk"] == {"S": "step#1"}
