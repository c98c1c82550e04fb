//! Read-only readiness checks of a plan's target region: run as the first step of an
//! execution, and between executions against the standby region (`StandbyReady`), so that a
//! broken standby is found before the night it is needed.

use std::collections::HashSet;

use crate::context::Adapters;
use crate::crd::Region;
use crate::crd::failover_plan::{DatabaseTopology, FailoverPlanSpec, RegionSpec};
use crate::world;

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    /// `None` when the check passed, else what is wrong.
    pub failure: Option<String>,
}

impl Check {
    fn pass(name: &'static str) -> Self {
        Check {
            name,
            failure: None,
        }
    }

    fn fail(name: &'static str, failure: impl Into<String>) -> Self {
        Check {
            name,
            failure: Some(failure.into()),
        }
    }
}

/// The failed checks, one per line, or `None` when all passed.
pub fn failures(checks: &[Check]) -> Option<String> {
    let failed: Vec<String> = checks
        .iter()
        .filter_map(|c| c.failure.as_ref().map(|f| format!("{}: {f}", c.name)))
        .collect();
    (!failed.is_empty()).then(|| failed.join("; "))
}

/// Runs every check for moving the platform to `target`. The checks read different services
/// and do not depend on each other, so they run at once. `records`, when the caller has just
/// read them, spare the DNS check a second read.
pub async fn run(
    adapters: &Adapters,
    spec: &FailoverPlanSpec,
    target: &Region,
    records: Option<&[world::Record]>,
) -> Vec<Check> {
    let Some(target_spec) = spec.regions.iter().find(|r| &r.name == target) else {
        return vec![Check::fail(
            "target",
            format!("{target} is not one of spec.regions"),
        )];
    };

    let (cluster, replication, dns, flag_profile, audit_table) = tokio::join!(
        target_cluster(adapters, target_spec),
        replication(adapters, spec, target_spec),
        dns(adapters, spec, target, records),
        flag_profile(adapters, spec),
        audit_table(adapters),
    );

    // Limitation: replication lag is not read from CloudWatch (AuroraGlobalDBReplicationLag);
    // spec.database.maxReplicationLag is accepted but not checked yet. The synchronization
    // status checked by `replication` catches a detached or resynchronizing secondary.
    vec![cluster, replication, dns, flag_profile, audit_table]
}

async fn target_cluster(adapters: &Adapters, target_spec: &RegionSpec) -> Check {
    match adapters.rds.cluster(&target_spec.cluster_arn).await {
        Ok(cluster) if cluster.status == "available" => Check::pass("target-cluster"),
        Ok(cluster) => Check::fail(
            "target-cluster",
            format!(
                "{} is {}, not available",
                cluster.identifier, cluster.status
            ),
        ),
        Err(err) => Check::fail("target-cluster", err.to_string()),
    }
}

async fn replication(
    adapters: &Adapters,
    spec: &FailoverPlanSpec,
    target_spec: &RegionSpec,
) -> Check {
    let target = &target_spec.name;
    match spec.database.topology {
        DatabaseTopology::GlobalCluster => {
            let id = spec
                .database
                .global_cluster_identifier
                .as_deref()
                .unwrap_or_default();
            match adapters.rds.global_cluster(id, target.as_str()).await {
                Err(err) => Check::fail("replication", err.to_string()),
                Ok(global) => match global.member(&target_spec.cluster_arn) {
                    None => Check::fail(
                        "replication",
                        format!(
                            "{} is not a member of global cluster {id}",
                            target_spec.cluster_identifier()
                        ),
                    ),
                    Some(member) if member.is_writer => Check::pass("replication"),
                    Some(member)
                        if !member.synchronization_status.is_empty()
                            && member.synchronization_status != "connected" =>
                    {
                        Check::fail(
                            "replication",
                            format!(
                                "{} is {}, not connected",
                                target_spec.cluster_identifier(),
                                member.synchronization_status
                            ),
                        )
                    }
                    Some(_) => match &global.failover {
                        Some(f) if f.to_cluster_arn != target_spec.cluster_arn => Check::fail(
                            "replication",
                            format!("a {} to {} is in progress", f.status, f.to_cluster_arn),
                        ),
                        _ => Check::pass("replication"),
                    },
                },
            }
        }
        DatabaseTopology::ReadReplica => match adapters.rds.cluster(&target_spec.cluster_arn).await
        {
            Ok(cluster) if cluster.replication_source.is_some() => Check::pass("replication"),
            Ok(cluster) => Check::fail(
                "replication",
                format!(
                    "{} is not a read replica; there is nothing to promote",
                    cluster.identifier
                ),
            ),
            Err(err) => Check::fail("replication", err.to_string()),
        },
    }
}

async fn dns(
    adapters: &Adapters,
    spec: &FailoverPlanSpec,
    target: &Region,
    known: Option<&[world::Record]>,
) -> Check {
    let records = match known {
        Some(records) => Ok(records.to_vec()),
        None => world::observe_records(adapters, spec).await,
    };
    match records {
        Err(err) => Check::fail("dns", err.to_string()),
        Ok(records) => {
            let mut missing = Vec::new();
            // Each health check is read once, however many records name it; the PRIMARY
            // checks were read with the records.
            let mut seen: HashSet<&str> = records
                .iter()
                .filter_map(|r| r.primary_check.as_ref().map(|(id, _, _)| id.as_str()))
                .collect();
            for record in &records {
                if record.set_of(target).is_none() {
                    missing.push(format!("{} has no record for {target}", record.name));
                }
                for (_, set) in &record.sets {
                    if let Some(id) = &set.health_check_id
                        && seen.insert(id)
                        && let Err(err) = adapters.route53.health_check(id).await
                    {
                        missing.push(format!("health check {id} of {}: {err}", record.name));
                    }
                }
            }
            if missing.is_empty() {
                Check::pass("dns")
            } else {
                Check::fail("dns", missing.join(", "))
            }
        }
    }
}

async fn flag_profile(adapters: &Adapters, spec: &FailoverPlanSpec) -> Check {
    match adapters
        .flags
        .check_readable(&spec.maintenance.target)
        .await
    {
        Ok(()) => Check::pass("flag-profile"),
        Err(err) => Check::fail("flag-profile", err.to_string()),
    }
}

async fn audit_table(adapters: &Adapters) -> Check {
    match adapters.audit.check_reachable().await {
        Ok(()) => Check::pass("audit-table"),
        Err(err) => Check::fail("audit-table", err.to_string()),
    }
}
