"""Control API: faults, outage, call log, seed output, process lifecycle."""

import signal
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status, start_emulator

GLOBAL = "scotaccount-global"


def fault(emu, **spec):
    return emu.ok("POST", "/faults", spec)["id"]


def expect_error(fn, code, status):
    with pytest.raises(ClientError) as exc:
        fn()
    assert error_code(exc.value) == code, exc.value.response
    assert http_status(exc.value) == status
    assert exc.value.response["ResponseMetadata"].get("RequestId")
    return exc.value


def test_health_and_config(emu):
    assert emu.ok("GET", "/health") == {"status": "ok"}
    cfg = emu.ok("PUT", "/config", {"transition_seconds": 2.0, "appconfig_bake_seconds": 0.5})
    assert cfg["transition_seconds"] == 2.0
    assert cfg["rds_transition_seconds"] == 2.0
    assert cfg["appconfig_bake_seconds"] == 0.5
    assert emu.ok("GET", "/config")["route53_insync_seconds"] == 2.0
    status, _ = emu.control("PUT", "/config", {"transition_seconds": -1})
    assert status == 400


def test_throttle_per_service(emu):
    out = emu.seed()
    for service in ("rds", "route53", "appconfig", "appconfigdata", "dynamodb"):
        fault(emu, service=service, operation="*", kind="throttle")
    rds = emu.client("rds")
    expect_error(lambda: rds.describe_global_clusters(), "Throttling", 400)
    r53 = emu.client("route53", "us-east-1")
    expect_error(lambda: r53.get_health_check(HealthCheckId=out["health_checks"]["eu-west-2"][0]), "Throttling", 400)
    ac = emu.client("appconfig")
    expect_error(lambda: ac.list_environments(ApplicationId=out["appconfig"]["application_id"]), "ThrottlingException", 429)
    data = emu.client("appconfigdata")
    expect_error(
        lambda: data.start_configuration_session(
            ApplicationIdentifier="scotaccount", EnvironmentIdentifier="production", ConfigurationProfileIdentifier="feature-flags"
        ),
        "ThrottlingException",
        429,
    )
    ddb = emu.client("dynamodb")
    expect_error(lambda: ddb.describe_table(TableName="commandbridge-audit"), "ThrottlingException", 400)
    # Each fault had count 1 and is now used up.
    rds.describe_global_clusters()
    ddb.describe_table(TableName="commandbridge-audit")
    assert all(f["remaining"] == 0 for f in emu.ok("GET", "/faults")["faults"])


def test_other_fault_kinds(emu):
    out = emu.seed()
    rds = emu.client("rds")
    fault(emu, service="rds", operation="SwitchoverGlobalCluster", kind="server_error")
    expect_error(
        lambda: rds.switchover_global_cluster(GlobalClusterIdentifier=GLOBAL, TargetDbClusterIdentifier=out["clusters"]["eu-west-1"]["arn"]),
        "InternalFailure",
        500,
    )
    fault(emu, service="rds", operation="DescribeGlobalClusters", kind="access_denied")
    expect_error(lambda: rds.describe_global_clusters(), "AccessDenied", 403)
    fault(emu, service="rds", operation="DescribeGlobalClusters", kind="not_found")
    expect_error(lambda: rds.describe_global_clusters(), "GlobalClusterNotFoundFault", 404)
    fault(emu, service="rds", operation="DescribeDBClusters", kind="not_found")
    expect_error(lambda: rds.describe_db_clusters(), "DBClusterNotFoundFault", 404)
    r53 = emu.client("route53", "us-east-1")
    hc = out["health_checks"]["eu-west-2"][0]
    fault(emu, service="route53", operation="GetHealthCheckStatus", kind="not_found")
    expect_error(lambda: r53.get_health_check_status(HealthCheckId=hc), "NoSuchHealthCheck", 404)
    fault(emu, service="appconfig", operation="*", kind="access_denied")
    ac = emu.client("appconfig")
    expect_error(lambda: ac.list_deployment_strategies(), "AccessDeniedException", 403)
    fault(emu, service="appconfig", operation="GetEnvironment", kind="not_found")
    expect_error(
        lambda: ac.get_environment(ApplicationId=out["appconfig"]["application_id"], EnvironmentId=out["appconfig"]["environment_id"]),
        "ResourceNotFoundException",
        404,
    )
    ddb = emu.client("dynamodb")
    fault(emu, service="dynamodb", operation="PutItem", kind="not_found")
    expect_error(
        lambda: ddb.put_item(TableName="commandbridge-audit", Item={"pk": {"S": "a"}, "sk": {"S": "b"}}),
        "ResourceNotFoundException",
        400,
    )
    fault(emu, service="dynamodb", operation="*", kind="server_error")
    expect_error(lambda: ddb.describe_table(TableName="commandbridge-audit"), "InternalFailure", 500)
    # Everything consumed: the calls now succeed.
    rds.describe_global_clusters()
    ac.list_deployment_strategies()
    # The switchover was never applied.
    gc = rds.describe_global_clusters(GlobalClusterIdentifier=GLOBAL)["GlobalClusters"][0]
    assert "FailoverState" not in gc


def test_latency_fault(emu):
    emu.seed()
    fault(emu, service="rds", operation="DescribeGlobalClusters", kind="latency", latency_ms=400)
    rds = emu.client("rds")
    t0 = time.time()
    rds.describe_global_clusters()
    assert time.time() - t0 >= 0.4
    t0 = time.time()
    rds.describe_global_clusters()
    assert time.time() - t0 < 0.4


def test_fault_count_region_filter_and_clear(emu):
    emu.seed()
    fid = fault(emu, service="rds", operation="DescribeGlobalClusters", region="eu-west-1", kind="throttle", count=2)
    assert isinstance(fid, int)
    west2, west1 = emu.client("rds", "eu-west-2"), emu.client("rds", "eu-west-1")
    west2.describe_global_clusters()  # other region unaffected
    expect_error(lambda: west1.describe_global_clusters(), "Throttling", 400)
    expect_error(lambda: west1.describe_global_clusters(), "Throttling", 400)
    west1.describe_global_clusters()
    fault(emu, service="*", operation="*", kind="server_error", count=-1)
    for _ in range(3):
        expect_error(lambda: west2.describe_db_clusters(), "InternalFailure", 500)
    faults = emu.ok("GET", "/faults")["faults"]
    assert [f["kind"] for f in faults] == ["throttle", "server_error"]
    assert faults[1]["remaining"] == -1 and faults[1]["hits"] == 3
    emu.ok("DELETE", "/faults")
    west2.describe_db_clusters()
    assert emu.ok("GET", "/faults")["faults"] == []
    status, _ = emu.control("POST", "/faults", {"service": "rds", "kind": "explode"})
    assert status == 400


def test_outage(emu):
    emu.seed()
    emu.ok("POST", "/outage", {"seconds": 0.8})
    expect_error(lambda: emu.client("rds").describe_global_clusters(), "ServiceUnavailable", 503)
    expect_error(lambda: emu.client("dynamodb").list_tables(), "ServiceUnavailable", 503)
    expect_error(lambda: emu.client("appconfig").list_applications(), "ServiceUnavailable", 503)
    assert emu.ok("GET", "/health") == {"status": "ok"}
    time.sleep(0.9)
    emu.client("rds").describe_global_clusters()


def test_calls_log(emu):
    out = emu.seed()
    assert emu.calls() == []  # seeding is not logged
    rds = emu.client("rds", "eu-west-1")
    rds.describe_global_clusters()
    target = out["clusters"]["eu-west-1"]["arn"]
    rds.switchover_global_cluster(GlobalClusterIdentifier=GLOBAL, TargetDbClusterIdentifier=target)
    ddb = emu.client("dynamodb")
    ddb.put_item(TableName="commandbridge-audit", Item={"pk": {"S": "op#9"}, "sk": {"S": "s#1"}})
    ddb.query(TableName="commandbridge-audit", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "op#9"}})
    r53 = emu.client("route53", "us-east-1")
    r53.get_health_check_status(HealthCheckId=out["health_checks"]["eu-west-2"][0])
    fault(emu, service="appconfig", operation="StopDeployment", kind="throttle")
    ac = emu.client("appconfig")
    expect_error(
        lambda: ac.stop_deployment(ApplicationId=out["appconfig"]["application_id"], EnvironmentId=out["appconfig"]["environment_id"], DeploymentNumber=1),
        "ThrottlingException",
        429,
    )
    calls = emu.calls()
    assert [(c["service"], c["operation"]) for c in calls] == [
        ("rds", "SwitchoverGlobalCluster"),
        ("dynamodb", "PutItem"),
        ("appconfig", "StopDeployment"),
    ]
    sw, put, stop = calls
    assert sw["seq"] < put["seq"] < stop["seq"]
    assert sw["region"] == "eu-west-1" and sw["status"] == 200 and sw["fault"] is None
    assert sw["params"] == {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": target}
    assert isinstance(sw["time"], float)
    assert put["params"] == {"TableName": "commandbridge-audit", "pk": "op#9", "sk": "s#1"}
    assert stop["fault"] == "throttle" and stop["status"] == 429
    assert stop["params"]["DeploymentNumber"] == "1"
    assert stop["params"]["path"].endswith("/deployments/1")
    assert [c["operation"] for c in emu.calls(service="dynamodb")] == ["PutItem"]
    assert [c["operation"] for c in emu.calls(operation="SwitchoverGlobalCluster")] == ["SwitchoverGlobalCluster"]
    emu.ok("DELETE", "/calls")
    assert emu.calls() == []


def test_seed_output(emu):
    out = emu.seed(dns_ttl=5, audit_table="audit-x")
    assert out["account_id"] == "123456789012"
    assert out["zone_name"] == "scotaccount.gov.scot."
    assert not out["hosted_zone_id"].startswith("/")
    assert [r["name"] for r in out["records"]] == ["portal.scotaccount.gov.scot.", "api.scotaccount.gov.scot."]
    portal = out["records"][0]
    assert portal["type"] == "CNAME" and portal["ttl"] == 5
    assert portal["primary"]["set_identifier"] == "eu-west-2"
    assert portal["primary"]["value"] == "portal.eu-west-2.scotaccount.internal"
    assert portal["secondary"] == {
        "set_identifier": "eu-west-1",
        "value": "portal.eu-west-1.scotaccount.internal",
        "health_check_id": out["health_checks"]["eu-west-1"][0],
    }
    assert out["records"][1]["primary"]["health_check_id"] == out["health_checks"]["eu-west-2"][1]
    assert out["global_cluster_id"] == GLOBAL
    assert out["clusters"] == {
        "eu-west-2": {"identifier": "scotaccount-euw2", "arn": "arn:aws:rds:eu-west-2:123456789012:cluster:scotaccount-euw2"},
        "eu-west-1": {"identifier": "scotaccount-euw1", "arn": "arn:aws:rds:eu-west-1:123456789012:cluster:scotaccount-euw1"},
    }
    ac = out["appconfig"]
    assert (ac["application"], ac["environment"], ac["profile"], ac["deployment_strategy"]) == (
        "scotaccount", "production", "feature-flags", "commandbridge-immediate"
    )
    assert all(ac[k] for k in ("application_id", "environment_id", "profile_id", "deployment_strategy_id"))
    assert out["audit_table"] == "audit-x"
    profile = emu.client("appconfig").get_configuration_profile(ApplicationId=ac["application_id"], ConfigurationProfileId=ac["profile_id"])
    assert profile["Type"] == "AWS.AppConfig.FeatureFlags"
    # Reset clears everything.
    emu.ok("POST", "/reset")
    assert emu.client("rds").describe_global_clusters()["GlobalClusters"] == []
    assert emu.client("dynamodb").list_tables()["TableNames"] == []


def test_process_lifecycle():
    proc, url = start_emulator("--transition-seconds", "1.5")
    try:
        with urllib.request.urlopen(url + "/_emulator/config", timeout=10) as resp:
            assert b'"transition_seconds": 1.5' in resp.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stats_count_every_request(emu):
    out = emu.seed()
    stats = emu.ok("GET", "/stats")
    assert stats["total"] == 0  # seeding is not counted
    rds = emu.client("rds", "eu-west-1")
    rds.describe_global_clusters()
    rds.describe_global_clusters()
    r53 = emu.client("route53", "us-east-1")
    r53.get_health_check_status(HealthCheckId=out["health_checks"]["eu-west-2"][0])
    ddb = emu.client("dynamodb")
    ddb.put_item(TableName="commandbridge-audit", Item={"pk": {"S": "op#9"}, "sk": {"S": "s#1"}})
    fault(emu, service="rds", operation="DescribeDBClusters", kind="throttle")
    with pytest.raises(ClientError):
        rds.describe_db_clusters()
    stats = emu.ok("GET", "/stats")
    ops = {(o["service"], o["operation"]): (o["count"], o["mutating"]) for o in stats["operations"]}
    assert ops == {
        ("rds", "DescribeGlobalClusters"): (2, False),
        ("rds", "DescribeDBClusters"): (1, False),  # answered by a fault, still counted
        ("route53", "GetHealthCheckStatus"): (1, False),
        ("dynamodb", "PutItem"): (1, True),
    }
    assert (stats["reads"], stats["mutating"], stats["total"]) == (4, 1, 5)
    assert stats["now"] >= stats["since"]
    cleared = emu.ok("DELETE", "/stats")
    assert cleared["total"] == 0 and cleared["operations"] == []
    assert cleared["since"] >= stats["since"]
    rds.describe_global_clusters()
    assert emu.ok("GET", "/stats")["reads"] == 1
    emu.ok("POST", "/reset")
    assert emu.ok("GET", "/stats")["total"] == 0
