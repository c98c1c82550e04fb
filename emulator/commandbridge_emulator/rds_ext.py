"""Aurora global database and read-replica promotion semantics on top of moto's RDS.

Global clusters live in moto's us-east-1 RDS backend (where moto keeps them);
member clusters stay in their own regional backends. Transitions are lazy:
each request first calls :meth:`RdsExtension.settle`, which applies every
switchover/failover/promotion whose time has elapsed to moto's objects.
"""

from __future__ import annotations

from typing import Any, Callable

from . import ACCOUNT_ID
from .aws import AwsError, AwsRequest, Response, serialize
from .state import EmulatorState, now

GLOBAL_REGION = "us-east-1"


def _truthy(value: Any) -> bool:
    return str(value).lower() == "true"


class RdsExtension:
    def __init__(self, state: EmulatorState):
        self.state = state
        self.reset()

    def reset(self) -> None:
        # global cluster id -> transition dict
        self.transitions: dict[str, dict[str, Any]] = {}
        # cluster arn -> promotion dict
        self.promotions: dict[str, dict[str, Any]] = {}
        # cluster arn -> synchronization status
        self.sync_status: dict[str, str] = {}

    # -- moto access ------------------------------------------------------
    @staticmethod
    def backend(region: str):
        from moto.rds.models import rds_backends

        return rds_backends[ACCOUNT_ID][region]

    def global_clusters(self) -> dict[str, Any]:
        return self.backend(GLOBAL_REGION).global_clusters

    def get_global(self, identifier: str | None):
        if not identifier:
            raise AwsError("InvalidParameterValue", "GlobalClusterIdentifier is required", 400)
        gc = self.global_clusters().get(identifier.lower())
        if gc is None:
            raise AwsError("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.", 404)
        return gc

    def find_cluster(self, identifier: str, region: str | None):
        """Find a DB cluster by ARN (any region) or by identifier in ``region``."""
        if identifier.startswith("arn:"):
            parts = identifier.split(":")
            if len(parts) < 7:
                raise AwsError("InvalidParameterValue", f"Malformed DB cluster ARN {identifier}", 400)
            region, name = parts[3], parts[6]
        else:
            name = identifier
        if region is None:
            raise AwsError("DBClusterNotFoundFault", f"DBCluster {identifier} not found.", 404)
        cluster = self.backend(region).clusters.get(name.lower())
        if cluster is None:
            raise AwsError("DBClusterNotFoundFault", f"DBCluster {identifier} not found.", 404)
        return cluster

    @staticmethod
    def writer(gc) -> Any:
        for member in gc.members:
            if member.is_writer:
                return member
        return None

    # -- lazy transitions -------------------------------------------------
    def settle(self) -> None:
        t = now()
        cfg_done = []
        for gid, tr in self.transitions.items():
            if t >= tr["start"] + tr["duration"]:
                cfg_done.append(gid)
        for gid in cfg_done:
            tr = self.transitions.pop(gid)
            gc = self.global_clusters().get(gid)
            if gc is None:
                continue
            for member in gc.members:
                member.is_writer = member.db_cluster_arn == tr["to_arn"]
            gc.status = "available"
        done = [arn for arn, p in self.promotions.items() if t >= p["start"] + p["duration"]]
        for arn in done:
            p = self.promotions.pop(arn)
            cluster = p["cluster"]
            source_arn = cluster.replication_source_identifier
            if source_arn:
                try:
                    source = self.find_cluster(source_arn, None)
                    if cluster.db_cluster_arn in source.read_replica_identifiers:
                        source.read_replica_identifiers.remove(cluster.db_cluster_arn)
                except AwsError:
                    pass
            cluster.replication_source_identifier = None
            cluster.status = "available"

    # -- dispatch ---------------------------------------------------------
    def handlers(self) -> dict[str, Callable[[AwsRequest], Response | None]]:
        return {
            "CreateGlobalCluster": self.create_global_cluster,
            "DescribeGlobalClusters": self.describe_global_clusters,
            "SwitchoverGlobalCluster": self.switchover_global_cluster,
            "FailoverGlobalCluster": self.failover_global_cluster,
            "RemoveFromGlobalCluster": self.remove_from_global_cluster,
            "DeleteGlobalCluster": self.delete_global_cluster,
            "PromoteReadReplicaDBCluster": self.promote_read_replica_db_cluster,
            "CreateDBCluster": self.create_db_cluster,
        }

    # -- rendering --------------------------------------------------------
    def render_global(self, gc) -> dict[str, Any]:
        tr = self.transitions.get(gc.global_cluster_identifier)
        members = []
        readers = [m.db_cluster_arn for m in gc.members if not m.is_writer]
        for member in gc.members:
            entry: dict[str, Any] = {
                "DBClusterArn": member.db_cluster_arn,
                "Readers": readers if member.is_writer else [],
                "IsWriter": bool(member.is_writer),
                "SynchronizationStatus": self.sync_status.get(member.db_cluster_arn, "connected"),
            }
            if not member.is_writer:
                entry["GlobalWriteForwardingStatus"] = "disabled"
            members.append(entry)
        out: dict[str, Any] = {
            "GlobalClusterIdentifier": gc.global_cluster_identifier,
            "GlobalClusterResourceId": gc.global_cluster_resource_id,
            "GlobalClusterArn": gc.global_cluster_arn,
            "Status": gc.status,
            "Engine": gc.engine,
            "EngineVersion": gc.engine_version,
            "StorageEncrypted": bool(gc.storage_encrypted),
            "DeletionProtection": bool(gc.deletion_protection),
            "GlobalClusterMembers": members,
            "Endpoint": gc.endpoint,
        }
        if tr is not None:
            out["FailoverState"] = {
                "Status": tr["status"],
                "FromDbClusterArn": tr["from_arn"],
                "ToDbClusterArn": tr["to_arn"],
                "IsDataLossAllowed": tr["data_loss"],
            }
        return out

    def _global_response(self, operation: str, gc) -> Response:
        return serialize("rds", operation, {"GlobalCluster": self.render_global(gc)})

    # -- handlers ---------------------------------------------------------
    def create_global_cluster(self, req: AwsRequest) -> Response | None:
        source = req.form.get("SourceDBClusterIdentifier")
        gid = req.form.get("GlobalClusterIdentifier", "")
        if not source:
            return None  # moto handles engine-only global clusters
        if gid.lower() in self.global_clusters():
            raise AwsError("GlobalClusterAlreadyExistsFault", f"Global cluster {gid} already exists", 400)
        if req.form.get("Engine"):
            raise AwsError(
                "InvalidParameterCombination",
                "When creating global cluster from existing db cluster, value for engineName should not be "
                "specified since it will be inherited from source cluster",
                400,
            )
        cluster = self.find_cluster(source, req.region)
        if self._membership(cluster) is not None:
            raise AwsError(
                "InvalidDBClusterStateFault",
                f"DB cluster {cluster.db_cluster_identifier} is already a member of a global cluster.",
                400,
            )
        from moto.rds.models import GlobalCluster

        gc = GlobalCluster(
            backend=self.backend(GLOBAL_REGION),
            global_cluster_identifier=gid,
            engine=cluster.engine,
            engine_version=cluster.engine_version,
            storage_encrypted=_truthy(req.form["StorageEncrypted"]) if "StorageEncrypted" in req.form else cluster.storage_encrypted,
            deletion_protection=_truthy(req.form.get("DeletionProtection", "false")),
        )
        self.global_clusters()[gc.global_cluster_identifier] = gc
        gc.members.append(cluster)
        cluster.is_writer = True
        cluster.global_cluster_identifier = gc.global_cluster_identifier
        return self._global_response("CreateGlobalCluster", gc)

    def create_db_cluster(self, req: AwsRequest) -> Response | None:
        gid = req.form.get("GlobalClusterIdentifier")
        if gid:
            gc = self.get_global(gid)
            if gc.global_cluster_identifier in self.transitions:
                raise AwsError(
                    "InvalidGlobalClusterStateFault",
                    f"Global cluster {gid} is in {gc.status} state.",
                    400,
                )
        source = req.form.get("ReplicationSourceIdentifier")
        if source:
            self.find_cluster(source, req.region)
        return None  # moto creates the cluster and joins it

    def _membership(self, cluster):
        for gc in self.global_clusters().values():
            if cluster in gc.members:
                return gc
        return None

    def describe_global_clusters(self, req: AwsRequest) -> Response:
        gid = req.form.get("GlobalClusterIdentifier")
        if gid:
            clusters = [self.get_global(gid)]
        else:
            clusters = list(self.global_clusters().values())
        return serialize(
            "rds", "DescribeGlobalClusters", {"GlobalClusters": [self.render_global(gc) for gc in clusters]}
        )

    def _start_transition(self, req: AwsRequest, operation: str, data_loss: bool, switchover: bool) -> Response:
        gc = self.get_global(req.form.get("GlobalClusterIdentifier"))
        target_id = req.form.get("TargetDbClusterIdentifier")
        if not target_id:
            raise AwsError("InvalidParameterValue", "TargetDbClusterIdentifier is required", 400)
        if gc.global_cluster_identifier in self.transitions or gc.status != "available":
            raise AwsError(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {gc.global_cluster_identifier} is in {gc.status} state; "
                "another switchover or failover is in progress.",
                400,
            )
        target = None
        for member in gc.members:
            if target_id in (member.db_cluster_arn, member.db_cluster_identifier) or (
                target_id.lower() == member.db_cluster_identifier
            ):
                target = member
        if target is None:
            raise AwsError(
                "InvalidParameterValue",
                f"The specified target DB cluster {target_id} is not a member of global cluster "
                f"{gc.global_cluster_identifier}.",
                400,
            )
        writer = self.writer(gc)
        if target is writer:
            raise AwsError(
                "InvalidParameterValue",
                f"The specified target DB cluster {target_id} is already the primary cluster of global cluster "
                f"{gc.global_cluster_identifier}.",
                400,
            )
        if target.db_cluster_arn in self.promotions or target.status != "available":
            raise AwsError(
                "InvalidDBClusterStateFault", f"DB cluster {target.db_cluster_identifier} is not available.", 400
            )
        if switchover and self.sync_status.get(target.db_cluster_arn, "connected") != "connected":
            raise AwsError(
                "InvalidDBClusterStateFault",
                f"DB cluster {target.db_cluster_identifier} is not synchronized with the primary cluster "
                f"(synchronization status {self.sync_status[target.db_cluster_arn]}).",
                400,
            )
        status = "switching-over" if switchover else "failing-over"
        gc.status = status
        self.transitions[gc.global_cluster_identifier] = {
            "status": status,
            "from_arn": writer.db_cluster_arn if writer is not None else None,
            "to_arn": target.db_cluster_arn,
            "data_loss": data_loss,
            "start": now(),
            "duration": self.state.config.seconds("rds_transition_seconds"),
        }
        return self._global_response(operation, gc)

    def switchover_global_cluster(self, req: AwsRequest) -> Response:
        return self._start_transition(req, "SwitchoverGlobalCluster", data_loss=False, switchover=True)

    def failover_global_cluster(self, req: AwsRequest) -> Response:
        allow = _truthy(req.form.get("AllowDataLoss", "false"))
        switchover = _truthy(req.form.get("Switchover", "false"))
        if allow == switchover:
            raise AwsError(
                "InvalidParameterCombination",
                "Exactly one of AllowDataLoss or Switchover must be set to true.",
                400,
            )
        return self._start_transition(req, "FailoverGlobalCluster", data_loss=allow, switchover=switchover)

    def remove_from_global_cluster(self, req: AwsRequest) -> Response:
        gc = self.get_global(req.form.get("GlobalClusterIdentifier"))
        cid = req.form.get("DbClusterIdentifier") or ""
        if gc.global_cluster_identifier in self.transitions:
            raise AwsError(
                "InvalidGlobalClusterStateFault", f"Global cluster {gc.global_cluster_identifier} is in {gc.status} state.", 400
            )
        member = None
        for m in gc.members:
            if cid in (m.db_cluster_arn, m.db_cluster_identifier):
                member = m
        if member is None:
            raise AwsError(
                "DBClusterNotFoundFault", f"DB cluster {cid} is not found in global cluster {gc.global_cluster_identifier}.", 404
            )
        if member.is_writer and len(gc.members) > 1:
            raise AwsError(
                "InvalidGlobalClusterStateFault",
                "The primary cluster cannot be removed while the global cluster has secondary clusters.",
                400,
            )
        gc.members.remove(member)
        member.is_writer = False
        member.global_cluster_identifier = None
        self.sync_status.pop(member.db_cluster_arn, None)
        return self._global_response("RemoveFromGlobalCluster", gc)

    def delete_global_cluster(self, req: AwsRequest) -> Response:
        gc = self.get_global(req.form.get("GlobalClusterIdentifier"))
        if gc.members:
            raise AwsError(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {gc.global_cluster_identifier} still has members.",
                400,
            )
        rendered = self.render_global(gc)
        self.global_clusters().pop(gc.global_cluster_identifier)
        self.transitions.pop(gc.global_cluster_identifier, None)
        return serialize("rds", "DeleteGlobalCluster", {"GlobalCluster": rendered})

    def promote_read_replica_db_cluster(self, req: AwsRequest) -> Response:
        cid = req.form.get("DBClusterIdentifier") or ""
        cluster = self.find_cluster(cid, req.region)
        if cluster.db_cluster_arn in self.promotions:
            raise AwsError("InvalidDBClusterStateFault", f"DB cluster {cid} is already being promoted.", 400)
        if not cluster.replication_source_identifier:
            raise AwsError("InvalidDBClusterStateFault", f"DB cluster {cid} is not a read replica.", 400)
        cluster.status = "promoting"
        self.promotions[cluster.db_cluster_arn] = {
            "cluster": cluster,
            "start": now(),
            "duration": self.state.config.seconds("rds_transition_seconds"),
        }
        return serialize("rds", "PromoteReadReplicaDBCluster", {"DBCluster": cluster})

    # -- control ----------------------------------------------------------
    def set_sync_status(self, cluster_arn: str, status: str) -> None:
        cluster = self.find_cluster(cluster_arn, None)
        if self._membership(cluster) is None:
            raise AwsError("DBClusterNotFoundFault", f"{cluster_arn} is not a global cluster member", 404)
        self.sync_status[cluster.db_cluster_arn] = status
