"""AppConfig deployments, hosted configuration versions and appconfigdata."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status


def seeded(emu):
    out = emu.seed()
    ac = out["appconfig"]
    return out, ac, emu.client("appconfig")


def new_version(client, ac, content, latest=None):
    kwargs = {"LatestVersionNumber": latest} if latest is not None else {}
    return client.create_hosted_configuration_version(
        ApplicationId=ac["application_id"],
        ConfigurationProfileId=ac["profile_id"],
        Content=json.dumps(content).encode(),
        ContentType="application/json",
        **kwargs,
    )


def start(client, ac, version):
    return client.start_deployment(
        ApplicationId=ac["application_id"],
        EnvironmentId=ac["environment_id"],
        DeploymentStrategyId=ac["deployment_strategy_id"],
        ConfigurationProfileId=ac["profile_id"],
        ConfigurationVersion=str(version),
    )


def get(client, ac, number):
    return client.get_deployment(
        ApplicationId=ac["application_id"], EnvironmentId=ac["environment_id"], DeploymentNumber=number
    )


def env_state(client, ac):
    return client.get_environment(ApplicationId=ac["application_id"], EnvironmentId=ac["environment_id"])["State"]


def test_seeded_deployment_is_complete(emu):
    emu.ok("PUT", "/config", {"transition_seconds": 30})
    out, ac, client = seeded(emu)
    d = get(client, ac, 1)
    assert d["State"] == "COMPLETE"
    assert env_state(client, ac) == "READY_FOR_DEPLOYMENT"
    strategy = client.get_deployment_strategy(DeploymentStrategyId=ac["deployment_strategy_id"])
    assert strategy["Name"] == "commandbridge-immediate"
    assert strategy["DeploymentDurationInMinutes"] == 0 and strategy["GrowthFactor"] == 100
    assert strategy["ReplicateTo"] == "NONE"
    deployed = emu.ok(
        "GET", f"/appconfig/deployed?application={ac['application_id']}&environment={ac['environment_id']}&profile={ac['profile_id']}"
    )
    assert deployed["version_number"] == 1 and deployed["deployment_number"] == 1
    assert deployed["state"] == "COMPLETE"
    assert deployed["content"]["values"]["new_login_flow"] == {"enabled": True}
    envs = client.list_environments(ApplicationId=ac["application_id"])["Items"]
    assert [e["Name"] for e in envs] == ["production"]


def test_deployment_states_in_order_and_conflict(emu):
    out, ac, client = seeded(emu)
    emu.ok("PUT", "/config", {"appconfig_deploy_seconds": 0.6, "appconfig_bake_seconds": 0.6})
    v = new_version(client, ac, {"values": {"webauthn": {"enabled": True}}})["VersionNumber"]
    assert v == 2
    d = start(client, ac, v)
    assert d["DeploymentNumber"] == 2
    assert d["State"] == "DEPLOYING"
    assert env_state(client, ac) == "DEPLOYING"
    with pytest.raises(ClientError) as exc:
        start(client, ac, v)
    assert error_code(exc.value) == "ConflictException"
    assert http_status(exc.value) == 409
    seen = []
    deadline = time.time() + 5
    while time.time() < deadline:
        state = get(client, ac, 2)["State"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "BAKING":
            assert env_state(client, ac) == "BAKING"
            with pytest.raises(ClientError):
                start(client, ac, v)
        if state == "COMPLETE":
            break
        time.sleep(0.1)
    assert seen == ["DEPLOYING", "BAKING", "COMPLETE"]
    assert env_state(client, ac) == "READY_FOR_DEPLOYMENT"
    items = client.list_deployments(ApplicationId=ac["application_id"], EnvironmentId=ac["environment_id"])["Items"]
    assert [(i["DeploymentNumber"], i["State"]) for i in items] == [(2, "COMPLETE"), (1, "COMPLETE")]
    # A new deployment is accepted once the previous one completed.
    assert start(client, ac, 1)["DeploymentNumber"] == 3


def test_stop_deployment_rolls_back(emu):
    out, ac, client = seeded(emu)
    emu.ok("PUT", "/config", {"transition_seconds": 10})
    v = new_version(client, ac, {"values": {}})["VersionNumber"]
    start(client, ac, v)
    stopped = client.stop_deployment(ApplicationId=ac["application_id"], EnvironmentId=ac["environment_id"], DeploymentNumber=2)
    assert stopped["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert stopped["State"] == "ROLLED_BACK"
    assert get(client, ac, 2)["State"] == "ROLLED_BACK"
    assert env_state(client, ac) == "ROLLED_BACK"
    deployed = emu.ok(
        "GET", f"/appconfig/deployed?application=scotaccount&environment=production&profile=feature-flags"
    )
    assert deployed["version_number"] == 1
    with pytest.raises(ClientError) as exc:
        client.stop_deployment(ApplicationId=ac["application_id"], EnvironmentId=ac["environment_id"], DeploymentNumber=1)
    assert error_code(exc.value) == "BadRequestException"


def test_rollback_fault(emu):
    out, ac, client = seeded(emu)
    emu.ok("POST", "/faults", {"service": "appconfig", "operation": "StartDeployment", "kind": "rollback"})
    v = new_version(client, ac, {"values": {"maintenance_mode": {"enabled": True}}})["VersionNumber"]
    d = start(client, ac, v)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert get(client, ac, 2)["State"] == "ROLLED_BACK"
    assert env_state(client, ac) == "ROLLED_BACK"
    assert emu.ok("GET", "/appconfig/deployed?application=scotaccount&environment=production&profile=feature-flags")["version_number"] == 1
    # The fault was consumed: the next deployment completes.
    start(client, ac, v)
    assert get(client, ac, 3)["State"] == "COMPLETE"
    call = emu.calls(operation="StartDeployment")[0]
    assert call["fault"] == "rollback" and call["status"] == 201


def test_hosted_version_optimistic_concurrency(emu):
    out, ac, client = seeded(emu)
    resp = new_version(client, ac, {"v": 2}, latest=1)
    assert resp["VersionNumber"] == 2
    assert resp["ResponseMetadata"]["HTTPHeaders"]["version-number"] == "2"
    with pytest.raises(ClientError) as exc:
        new_version(client, ac, {"v": 3}, latest=1)
    assert error_code(exc.value) == "ConflictException"
    assert http_status(exc.value) == 409
    got = client.get_hosted_configuration_version(
        ApplicationId=ac["application_id"], ConfigurationProfileId=ac["profile_id"], VersionNumber=2
    )
    assert json.loads(got["Content"].read()) == {"v": 2}
    assert got["ContentType"] == "application/json"
    items = client.list_hosted_configuration_versions(
        ApplicationId=ac["application_id"], ConfigurationProfileId=ac["profile_id"]
    )["Items"]
    assert [i["VersionNumber"] for i in items] == [2, 1]
    with pytest.raises(ClientError) as exc:
        client.get_hosted_configuration_version(
            ApplicationId=ac["application_id"], ConfigurationProfileId=ac["profile_id"], VersionNumber=9
        )
    assert error_code(exc.value) == "ResourceNotFoundException"


def test_appconfigdata_serves_last_complete_deployment(emu):
    out, ac, client = seeded(emu)
    data = emu.client("appconfigdata")
    token = data.start_configuration_session(
        ApplicationIdentifier="scotaccount", EnvironmentIdentifier="production", ConfigurationProfileIdentifier="feature-flags"
    )["InitialConfigurationToken"]
    first = data.get_latest_configuration(ConfigurationToken=token)
    assert json.loads(first["Configuration"].read())["values"]["webauthn"] == {"enabled": False}
    assert first["ContentType"] == "application/json"
    emu.ok("PUT", "/config", {"transition_seconds": 0.5})
    v = new_version(client, ac, {"values": {"webauthn": {"enabled": True}}})["VersionNumber"]
    start(client, ac, v)
    # Still deploying: an unchanged configuration is an empty body.
    second = data.get_latest_configuration(ConfigurationToken=first["NextPollConfigurationToken"])
    assert second["Configuration"].read() == b""
    time.sleep(1.1)
    third = data.get_latest_configuration(ConfigurationToken=second["NextPollConfigurationToken"])
    assert json.loads(third["Configuration"].read()) == {"values": {"webauthn": {"enabled": True}}}
    deployed = emu.ok(
        "GET", f"/appconfig/deployed?application={ac['application_id']}&environment={ac['environment_id']}&profile={ac['profile_id']}"
    )
    assert deployed == {"version_number": 2, "deployment_number": 2, "state": "COMPLETE", "content": {"values": {"webauthn": {"enabled": True}}}}
    # Ids work as identifiers too; unknown ones are not found.
    data.start_configuration_session(
        ApplicationIdentifier=ac["application_id"], EnvironmentIdentifier=ac["environment_id"], ConfigurationProfileIdentifier=ac["profile_id"]
    )
    with pytest.raises(ClientError) as exc:
        data.start_configuration_session(
            ApplicationIdentifier="scotaccount", EnvironmentIdentifier="staging", ConfigurationProfileIdentifier="feature-flags"
        )
    assert error_code(exc.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        data.get_latest_configuration(ConfigurationToken=token)  # tokens are single use
    assert error_code(exc.value) == "BadRequestException"


def test_applications_profiles_and_strategies_are_listed_by_name(emu):
    out, ac, client = seeded(emu)

    apps = client.list_applications()["Items"]
    profiles = client.list_configuration_profiles(ApplicationId=ac["application_id"])["Items"]
    strategies = client.list_deployment_strategies()["Items"]

    assert {"Id": ac["application_id"], "Name": "scotaccount"}.items() <= apps[0].items()
    assert [p["Id"] for p in profiles if p["Name"] == "feature-flags"] == [ac["profile_id"]]
    assert ac["deployment_strategy_id"] in [s["Id"] for s in strategies if s["Name"] == "commandbridge-immediate"]
