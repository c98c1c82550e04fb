"""Aurora global database switchover/failover, membership and replica promotion."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status

EUW2_ARN = "arn:aws:rds:eu-west-2:123456789012:cluster:scotaccount-euw2"
EUW1_ARN = "arn:aws:rds:eu-west-1:123456789012:cluster:scotaccount-euw1"


def members(gc):
    return {m["DBClusterArn"]: m for m in gc["GlobalClusterMembers"]}


def describe(rds, gid="scotaccount-global"):
    return rds.describe_global_clusters(GlobalClusterIdentifier=gid)["GlobalClusters"][0]


def test_seeded_global_cluster_has_writer_and_connected_secondary(emu):
    emu.seed()
    for region in ("eu-west-2", "eu-west-1"):
        gc = describe(emu.client("rds", region))
        assert gc["Status"] == "available"
        assert gc["Engine"] == "aurora-postgresql"
        m = members(gc)
        assert m[EUW2_ARN]["IsWriter"] is True
        assert m[EUW2_ARN]["Readers"] == [EUW1_ARN]
        assert m[EUW1_ARN]["IsWriter"] is False
        assert m[EUW1_ARN]["SynchronizationStatus"] == "connected"
        assert "FailoverState" not in gc


def test_describe_global_clusters_honours_identifier(emu):
    emu.seed()
    rds = emu.client("rds")
    rds.create_global_cluster(GlobalClusterIdentifier="other", Engine="aurora-postgresql")
    assert len(rds.describe_global_clusters()["GlobalClusters"]) == 2
    assert [g["GlobalClusterIdentifier"] for g in rds.describe_global_clusters(GlobalClusterIdentifier="other")["GlobalClusters"]] == ["other"]
    with pytest.raises(ClientError) as exc:
        rds.describe_global_clusters(GlobalClusterIdentifier="missing")
    assert error_code(exc.value) == "GlobalClusterNotFoundFault"
    assert http_status(exc.value) == 404


def test_switchover_moves_writer_only_after_transition(emu):
    emu.seed()
    emu.ok("PUT", "/config", {"rds_transition_seconds": 0.8})
    rds = emu.client("rds", "eu-west-1")
    resp = rds.switchover_global_cluster(GlobalClusterIdentifier="scotaccount-global", TargetDbClusterIdentifier=EUW1_ARN)
    gc = resp["GlobalCluster"]
    assert gc["Status"] == "switching-over"
    assert gc["FailoverState"] == {
        "Status": "switching-over",
        "FromDbClusterArn": EUW2_ARN,
        "ToDbClusterArn": EUW1_ARN,
        "IsDataLossAllowed": False,
    }
    gc = describe(rds)
    assert members(gc)[EUW2_ARN]["IsWriter"] is True
    assert gc["FailoverState"]["Status"] == "switching-over"
    # A second switchover while one is running is refused.
    with pytest.raises(ClientError) as exc:
        rds.switchover_global_cluster(GlobalClusterIdentifier="scotaccount-global", TargetDbClusterIdentifier=EUW1_ARN)
    assert error_code(exc.value) == "InvalidGlobalClusterStateFault"
    # Clusters themselves stay available during the transition.
    assert rds.describe_db_clusters(DBClusterIdentifier="scotaccount-euw1")["DBClusters"][0]["Status"] == "available"
    time.sleep(0.9)
    gc = describe(rds)
    assert gc["Status"] == "available"
    assert "FailoverState" not in gc
    m = members(gc)
    assert m[EUW1_ARN]["IsWriter"] is True
    assert m[EUW1_ARN]["Readers"] == [EUW2_ARN]
    assert m[EUW2_ARN]["IsWriter"] is False


def test_switchover_validation(emu):
    emu.seed()
    rds = emu.client("rds")
    with pytest.raises(ClientError) as exc:
        rds.switchover_global_cluster(GlobalClusterIdentifier="nope", TargetDbClusterIdentifier=EUW1_ARN)
    assert error_code(exc.value) == "GlobalClusterNotFoundFault"
    with pytest.raises(ClientError) as exc:
        rds.switchover_global_cluster(GlobalClusterIdentifier="scotaccount-global", TargetDbClusterIdentifier=EUW2_ARN)
    assert error_code(exc.value) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        rds.switchover_global_cluster(
            GlobalClusterIdentifier="scotaccount-global",
            TargetDbClusterIdentifier="arn:aws:rds:eu-west-1:123456789012:cluster:stranger",
        )
    assert error_code(exc.value) == "InvalidParameterValue"
    # A secondary that is not synchronised cannot be switched over to.
    emu.ok("PUT", "/rds/members", {"cluster_arn": EUW1_ARN, "synchronization_status": "pending-resync"})
    assert members(describe(rds))[EUW1_ARN]["SynchronizationStatus"] == "pending-resync"
    with pytest.raises(ClientError) as exc:
        rds.switchover_global_cluster(GlobalClusterIdentifier="scotaccount-global", TargetDbClusterIdentifier=EUW1_ARN)
    assert error_code(exc.value) == "InvalidDBClusterStateFault"


def test_failover_with_data_loss(emu):
    emu.seed()
    emu.ok("PUT", "/config", {"transition_seconds": 0.5})
    rds = emu.client("rds", "eu-west-1")
    for flags in ({}, {"AllowDataLoss": True, "Switchover": True}):
        with pytest.raises(ClientError) as exc:
            rds.failover_global_cluster(
                GlobalClusterIdentifier="scotaccount-global", TargetDbClusterIdentifier=EUW1_ARN, **flags
            )
        assert error_code(exc.value) == "InvalidParameterCombination"
    # An unsynchronised secondary is still a valid failover target when data loss is allowed.
    emu.ok("PUT", "/rds/members", {"cluster_arn": EUW1_ARN, "synchronization_status": "pending-resync"})
    gc = rds.failover_global_cluster(
        GlobalClusterIdentifier="scotaccount-global", TargetDbClusterIdentifier=EUW1_ARN, AllowDataLoss=True
    )["GlobalCluster"]
    assert gc["Status"] == "failing-over"
    assert gc["FailoverState"]["Status"] == "failing-over"
    assert gc["FailoverState"]["IsDataLossAllowed"] is True
    assert members(describe(rds))[EUW2_ARN]["IsWriter"] is True
    time.sleep(0.6)
    gc = describe(rds)
    assert gc["Status"] == "available"
    assert members(gc)[EUW1_ARN]["IsWriter"] is True
    assert "FailoverState" not in gc


def test_failover_with_switchover_flag(emu):
    emu.seed()
    rds = emu.client("rds")
    gc = rds.failover_global_cluster(
        GlobalClusterIdentifier="scotaccount-global", TargetDbClusterIdentifier=EUW1_ARN, Switchover=True
    )["GlobalCluster"]
    assert gc["Status"] == "switching-over"
    assert gc["FailoverState"]["IsDataLossAllowed"] is False
    assert members(describe(rds))[EUW1_ARN]["IsWriter"] is True  # transition time 0


def test_remove_from_global_cluster_detaches(emu):
    emu.seed()
    rds = emu.client("rds", "eu-west-1")
    gc = rds.remove_from_global_cluster(GlobalClusterIdentifier="scotaccount-global", DbClusterIdentifier=EUW1_ARN)["GlobalCluster"]
    assert list(members(gc)) == [EUW2_ARN]
    assert list(members(describe(rds))) == [EUW2_ARN]
    cluster = rds.describe_db_clusters(DBClusterIdentifier="scotaccount-euw1")["DBClusters"][0]
    assert cluster["Status"] == "available"
    assert not cluster.get("GlobalClusterIdentifier")
    with pytest.raises(ClientError) as exc:
        rds.remove_from_global_cluster(GlobalClusterIdentifier="scotaccount-global", DbClusterIdentifier=EUW1_ARN)
    assert error_code(exc.value) == "DBClusterNotFoundFault"


def test_secondary_joins_across_regions(emu):
    rds2, rds1 = emu.client("rds", "eu-west-2"), emu.client("rds", "eu-west-1")
    arn = rds2.create_db_cluster(
        DBClusterIdentifier="w", Engine="aurora-postgresql", MasterUsername="u", MasterUserPassword="password1"
    )["DBCluster"]["DBClusterArn"]
    gc = rds2.create_global_cluster(GlobalClusterIdentifier="g", SourceDBClusterIdentifier=arn)["GlobalCluster"]
    assert members(gc)[arn]["IsWriter"] is True
    rds1.create_db_cluster(DBClusterIdentifier="s", Engine="aurora-postgresql", GlobalClusterIdentifier="g")
    m = members(describe(rds1, "g"))
    assert m["arn:aws:rds:eu-west-1:123456789012:cluster:s"]["IsWriter"] is False
    with pytest.raises(ClientError) as exc:
        rds1.create_db_cluster(DBClusterIdentifier="t", Engine="aurora-postgresql", GlobalClusterIdentifier="nope")
    assert error_code(exc.value) == "GlobalClusterNotFoundFault"


def test_promote_read_replica_cluster(emu):
    out = emu.seed(topology="replica")
    assert out["global_cluster_id"] is None
    emu.ok("PUT", "/config", {"rds_transition_seconds": 0.6})
    rds1, rds2 = emu.client("rds", "eu-west-1"), emu.client("rds", "eu-west-2")
    replica = rds1.describe_db_clusters(DBClusterIdentifier="scotaccount-euw1")["DBClusters"][0]
    assert replica["ReplicationSourceIdentifier"] == EUW2_ARN
    assert rds2.describe_db_clusters(DBClusterIdentifier="scotaccount-euw2")["DBClusters"][0]["ReadReplicaIdentifiers"] == [EUW1_ARN]
    assert rds1.describe_global_clusters()["GlobalClusters"] == []

    resp = rds1.promote_read_replica_db_cluster(DBClusterIdentifier="scotaccount-euw1")["DBCluster"]
    assert resp["Status"] == "promoting"
    assert rds1.describe_db_clusters(DBClusterIdentifier="scotaccount-euw1")["DBClusters"][0]["Status"] == "promoting"
    with pytest.raises(ClientError) as exc:
        rds1.promote_read_replica_db_cluster(DBClusterIdentifier="scotaccount-euw1")
    assert error_code(exc.value) == "InvalidDBClusterStateFault"
    time.sleep(0.7)
    promoted = rds1.describe_db_clusters(DBClusterIdentifier="scotaccount-euw1")["DBClusters"][0]
    assert promoted["Status"] == "available"
    assert not promoted.get("ReplicationSourceIdentifier")
    assert not rds2.describe_db_clusters(DBClusterIdentifier="scotaccount-euw2")["DBClusters"][0].get("ReadReplicaIdentifiers")
    with pytest.raises(ClientError) as exc:
        rds2.promote_read_replica_db_cluster(DBClusterIdentifier="scotaccount-euw2")
    assert error_code(exc.value) == "InvalidDBClusterStateFault"
    with pytest.raises(ClientError) as exc:
        rds2.promote_read_replica_db_cluster(DBClusterIdentifier="missing")
    assert error_code(exc.value) == "DBClusterNotFoundFault"
