//! Aurora: who is the writer, and moving it. Global databases move with
//! `SwitchoverGlobalCluster` (planned) or `FailoverGlobalCluster`; a cross-region read-replica
//! cluster moves once, with `PromoteReadReplicaDBCluster`.

use aws_sdk_rds::operation::RequestId;

use crate::config::AwsClients;
use crate::error::{self, Error, Result};

use super::arn_region;

/// A global cluster as the plan needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalCluster {
    pub identifier: String,
    pub status: String,
    pub members: Vec<GlobalMember>,
    /// A switchover or failover in progress.
    pub failover: Option<FailoverState>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GlobalMember {
    pub cluster_arn: String,
    pub is_writer: bool,
    /// `connected`, `pending-resync`, or empty where AWS does not report it.
    pub synchronization_status: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailoverState {
    pub status: String,
    pub from_cluster_arn: String,
    pub to_cluster_arn: String,
    pub data_loss_allowed: bool,
}

impl GlobalCluster {
    pub fn writer(&self) -> Option<&GlobalMember> {
        self.members.iter().find(|m| m.is_writer)
    }

    pub fn member(&self, arn: &str) -> Option<&GlobalMember> {
        self.members.iter().find(|m| m.cluster_arn == arn)
    }
}

/// A DB cluster as the plan needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub arn: String,
    pub identifier: String,
    pub status: String,
    /// Set while the cluster is a read replica of another cluster.
    pub replication_source: Option<String>,
}

#[derive(Clone)]
pub struct Rds {
    clients: AwsClients,
}

impl Rds {
    pub fn new(clients: AwsClients) -> Self {
        Rds { clients }
    }

    /// Reads a global cluster through the region of `via_cluster_arn`.
    pub async fn global_cluster(
        &self,
        identifier: &str,
        via_region: &str,
    ) -> Result<GlobalCluster> {
        let output = self
            .clients
            .rds(via_region)
            .describe_global_clusters()
            .global_cluster_identifier(identifier)
            .send()
            .await
            .map_err(|e| error::aws("rds", "DescribeGlobalClusters", e))?;
        let cluster = output
            .global_clusters()
            .iter()
            .find(|g| g.global_cluster_identifier() == Some(identifier))
            .ok_or_else(|| Error::state(format!("global cluster {identifier} not found")))?;
        let members = cluster
            .global_cluster_members()
            .iter()
            .map(|m| GlobalMember {
                cluster_arn: m.db_cluster_arn().unwrap_or_default().to_string(),
                is_writer: m.is_writer().unwrap_or(false),
                synchronization_status: m
                    .synchronization_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect();
        let failover = cluster.failover_state().and_then(|f| {
            let status = f.status().map(|s| s.as_str().to_string())?;
            Some(FailoverState {
                status,
                from_cluster_arn: f.from_db_cluster_arn().unwrap_or_default().to_string(),
                to_cluster_arn: f.to_db_cluster_arn().unwrap_or_default().to_string(),
                data_loss_allowed: f.is_data_loss_allowed().unwrap_or(false),
            })
        });
        Ok(GlobalCluster {
            identifier: identifier.to_string(),
            status: cluster.status().unwrap_or_default().to_string(),
            members,
            failover,
        })
    }

    pub async fn cluster(&self, arn: &str) -> Result<Cluster> {
        let region = arn_region(arn).ok_or_else(|| Error::state(format!("{arn} is not an ARN")))?;
        let identifier = arn.rsplit(':').next().unwrap_or(arn);
        let output = self
            .clients
            .rds(region)
            .describe_db_clusters()
            .db_cluster_identifier(identifier)
            .send()
            .await
            .map_err(|e| error::aws("rds", "DescribeDBClusters", e))?;
        let cluster = output
            .db_clusters()
            .first()
            .ok_or_else(|| Error::state(format!("DB cluster {arn} not found")))?;
        Ok(Cluster {
            arn: cluster.db_cluster_arn().unwrap_or(arn).to_string(),
            identifier: identifier.to_string(),
            status: cluster.status().unwrap_or_default().to_string(),
            replication_source: cluster
                .replication_source_identifier()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }

    /// Planned move of the writer, no data loss. Called in the target's region.
    pub async fn switchover(&self, global: &str, target_arn: &str) -> Result<Option<String>> {
        let region = arn_region(target_arn)
            .unwrap_or(&self.clients.home_region)
            .to_string();
        let output = self
            .clients
            .rds(&region)
            .switchover_global_cluster()
            .global_cluster_identifier(global)
            .target_db_cluster_identifier(target_arn)
            .send()
            .await
            .map_err(|e| error::aws("rds", "SwitchoverGlobalCluster", e))?;
        Ok(output.request_id().map(str::to_string))
    }

    /// Unplanned move of the writer. Without `allow_data_loss` it asks for a managed
    /// switchover; with it, for a failover that may lose the writes not yet replicated.
    pub async fn failover(
        &self,
        global: &str,
        target_arn: &str,
        allow_data_loss: bool,
    ) -> Result<Option<String>> {
        let region = arn_region(target_arn)
            .unwrap_or(&self.clients.home_region)
            .to_string();
        let request = self
            .clients
            .rds(&region)
            .failover_global_cluster()
            .global_cluster_identifier(global)
            .target_db_cluster_identifier(target_arn);
        let request = if allow_data_loss {
            request.allow_data_loss(true)
        } else {
            request.switchover(true)
        };
        let output = request
            .send()
            .await
            .map_err(|e| error::aws("rds", "FailoverGlobalCluster", e))?;
        Ok(output.request_id().map(str::to_string))
    }

    /// Turns a cross-region read-replica cluster into a standalone writer. One way.
    pub async fn promote(&self, cluster_arn: &str) -> Result<Option<String>> {
        let region = arn_region(cluster_arn)
            .unwrap_or(&self.clients.home_region)
            .to_string();
        let identifier = cluster_arn.rsplit(':').next().unwrap_or(cluster_arn);
        let output = self
            .clients
            .rds(&region)
            .promote_read_replica_db_cluster()
            .db_cluster_identifier(identifier)
            .send()
            .await
            .map_err(|e| error::aws("rds", "PromoteReadReplicaDBCluster", e))?;
        Ok(output.request_id().map(str::to_string))
    }
}
