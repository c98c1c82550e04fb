//! The plan of an execution: the ordered steps, and what each would change given the world as
//! observed. A dry run, the `plan` subcommand and a real execution share this computation, so
//! what a preview shows is what an execution does.

use aws_sdk_route53::types::ResourceRecordSet;

use crate::aws::route53::with_routing;
use crate::crd::Region;
use crate::crd::failover_plan::{DatabaseTopology, DnsMethod, FailoverMode, FailoverPlanSpec};
use crate::error::{Error, Result};
use crate::world::{Database, Record, World};

/// The steps of every execution, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Preflight,
    MaintenanceOn,
    Database,
    Dns,
    Verify,
    MaintenanceOff,
}

pub const STEPS: [StepKind; 6] = [
    StepKind::Preflight,
    StepKind::MaintenanceOn,
    StepKind::Database,
    StepKind::Dns,
    StepKind::Verify,
    StepKind::MaintenanceOff,
];

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Preflight => "Preflight",
            StepKind::MaintenanceOn => "MaintenanceOn",
            StepKind::Database => "Database",
            StepKind::Dns => "Dns",
            StepKind::Verify => "Verify",
            StepKind::MaintenanceOff => "MaintenanceOff",
        }
    }
}

/// How the database writer moves to the target.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseChange {
    /// The target already holds the writer.
    None,
    Switchover {
        global: String,
        target_arn: String,
    },
    Failover {
        global: String,
        target_arn: String,
        allow_data_loss: bool,
    },
    Promote {
        cluster_arn: String,
    },
}

/// How traffic moves to the target.
#[derive(Debug, Clone, PartialEq)]
pub enum DnsChange {
    None,
    /// Health check id and the `Inverted` value it needs.
    Invert(Vec<(String, bool)>),
    /// Record sets to UPSERT in one change batch.
    Upsert(Vec<ResourceRecordSet>),
}

/// The database change that moves the writer to `target`.
pub fn database_change(
    spec: &FailoverPlanSpec,
    database: &Database,
    writer_region: Option<&Region>,
    target: &Region,
) -> Result<DatabaseChange> {
    let target_spec = spec
        .regions
        .iter()
        .find(|r| &r.name == target)
        .ok_or_else(|| Error::state(format!("{target} is not one of spec.regions")))?;
    if writer_region == Some(target) {
        return Ok(DatabaseChange::None);
    }
    match (database, spec.database.topology) {
        (Database::Global(global), DatabaseTopology::GlobalCluster) => {
            let target_arn = target_spec.cluster_arn.clone();
            if global.member(&target_arn).is_none() {
                return Err(Error::state(format!(
                    "{target_arn} is not a member of global cluster {}; add it as a secondary (Terraform) first",
                    global.identifier
                )));
            }
            let global = global.identifier.clone();
            Ok(match spec.mode {
                FailoverMode::Switchover => DatabaseChange::Switchover { global, target_arn },
                FailoverMode::Failover => DatabaseChange::Failover {
                    global,
                    target_arn,
                    allow_data_loss: spec.allow_data_loss,
                },
            })
        }
        (Database::Replica(clusters), DatabaseTopology::ReadReplica) => {
            let target_cluster = clusters
                .iter()
                .find(|(r, _)| r == target)
                .and_then(|(_, c)| c.as_ref());
            match target_cluster {
                Some(cluster) if cluster.replication_source.is_some() => {
                    Ok(DatabaseChange::Promote {
                        cluster_arn: target_spec.cluster_arn.clone(),
                    })
                }
                Some(_) => Err(failback_refused(spec, target)),
                None => Err(Error::Aws {
                    service: "rds",
                    operation: "DescribeDBClusters",
                    code: "Unreachable".into(),
                    message: format!("the cluster in {target} could not be read"),
                    request_id: None,
                    transient: true,
                }),
            }
        }
        _ => Err(Error::state(
            "the observed database does not match spec.database.topology",
        )),
    }
}

/// The error for a move back to a region whose read replica was promoted: promotion is one way.
pub fn failback_refused(spec: &FailoverPlanSpec, target: &Region) -> Error {
    let source = spec.regions.iter().find(|r| &r.name != target);
    let target_id = spec
        .regions
        .iter()
        .find(|r| &r.name == target)
        .map(|r| r.cluster_identifier())
        .unwrap_or("?");
    Error::state(format!(
        "cannot move the writer to {target}: cluster {target_id} there is not a read replica (a promotion is one way). \
         Rebuild {target_id} as a cross-region read replica of {} (Terraform), wait until it has caught up, then apply again",
        source
            .map(|s| s.cluster_arn.as_str())
            .unwrap_or("the active cluster")
    ))
}

/// The DNS change that sends traffic to `target`.
pub fn dns_change(
    spec: &FailoverPlanSpec,
    records: &[Record],
    target: &Region,
) -> Result<DnsChange> {
    match spec.dns.method {
        DnsMethod::HealthCheckInversion => {
            let mut changes: Vec<(String, bool)> = Vec::new();
            for record in records {
                let (primary_region, _) = record.primary().ok_or_else(|| {
                    Error::state(format!(
                        "{} has no PRIMARY failover record; HealthCheckInversion needs one",
                        record.name
                    ))
                })?;
                let (check_id, check, _) = record.primary_check.as_ref().ok_or_else(|| {
                    Error::state(format!(
                        "the PRIMARY record of {} has no health check to invert",
                        record.name
                    ))
                })?;
                let want_inverted = primary_region.as_ref() != Some(target);
                if check.inverted != want_inverted && !changes.iter().any(|(id, _)| id == check_id)
                {
                    changes.push((check_id.clone(), want_inverted));
                }
            }
            Ok(if changes.is_empty() {
                DnsChange::None
            } else {
                DnsChange::Invert(changes)
            })
        }
        DnsMethod::RecordUpsert => {
            let mut upserts = Vec::new();
            for record in records {
                let failover = record.sets.iter().any(|(_, s)| s.failover.is_some());
                for (region, set) in &record.sets {
                    let is_target = region.as_ref() == Some(target);
                    if failover {
                        let role = if is_target { "PRIMARY" } else { "SECONDARY" };
                        if set.failover.as_deref() != Some(role) {
                            upserts.push(with_routing(set, Some(role), None));
                        }
                    } else {
                        let weight = if is_target { 100 } else { 0 };
                        if set.weight != Some(weight) {
                            upserts.push(with_routing(set, None, Some(weight)));
                        }
                    }
                }
                if record.set_of(target).is_none() {
                    return Err(Error::state(format!(
                        "{} has no record for {target}; add one with set identifier {target} (or set spec.regions[].setIdentifier)",
                        record.name
                    )));
                }
            }
            Ok(if upserts.is_empty() {
                DnsChange::None
            } else {
                DnsChange::Upsert(upserts)
            })
        }
    }
}

/// Longest TTL of the records that carry traffic: how long resolvers may keep the old answer.
pub fn max_ttl(records: &[Record]) -> u64 {
    records
        .iter()
        .flat_map(|r| r.sets.iter())
        .filter_map(|(_, s)| s.ttl)
        .max()
        .unwrap_or(0)
        .max(0) as u64
}

/// One line per step saying what it would change.
pub fn describe(
    spec: &FailoverPlanSpec,
    world: &World,
    target: &Region,
) -> Vec<(StepKind, String)> {
    let flag = &spec.maintenance.target;
    let flag_name = format!(
        "{} in {}/{}/{}",
        flag.flag, flag.application, flag.environment, flag.profile
    );
    let flag_on = world.flag.as_ref().map(|f| f.enabled);
    STEPS
        .iter()
        .map(|step| {
            let text = match step {
                StepKind::Preflight => format!(
                    "check the {target} cluster is available and replicating, the health checks exist, the flag profile is readable{}",
                    if spec.mode == FailoverMode::Failover { " (failures do not block mode Failover)" } else { "" }
                ),
                StepKind::MaintenanceOn => match flag_on {
                    Some(true) => format!("{flag_name} is already on; no change"),
                    _ => format!("turn {flag_name} on, deploy with {}", flag.deployment_strategy),
                },
                StepKind::Database => match database_change(spec, &world.database, world.writer_region.as_ref(), target) {
                    Ok(DatabaseChange::None) => format!("the writer is already in {target}; no change"),
                    Ok(DatabaseChange::Switchover { global, target_arn }) => {
                        format!("SwitchoverGlobalCluster {global} to {target_arn}")
                    }
                    Ok(DatabaseChange::Failover { global, target_arn, allow_data_loss }) => {
                        format!("FailoverGlobalCluster {global} to {target_arn} (AllowDataLoss: {allow_data_loss})")
                    }
                    Ok(DatabaseChange::Promote { cluster_arn }) => {
                        format!("PromoteReadReplicaDBCluster {cluster_arn} (one way)")
                    }
                    Err(err) => format!("cannot move the writer: {err}"),
                },
                StepKind::Dns => match dns_change(spec, &world.records, target) {
                    Ok(DnsChange::None) => format!("traffic already goes to {target}; no change"),
                    Ok(DnsChange::Invert(checks)) => checks
                        .iter()
                        .map(|(id, inverted)| format!("set health check {id} Inverted={inverted}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                        + &format!("; then wait {}s (TTL)", max_ttl(&world.records)),
                    Ok(DnsChange::Upsert(sets)) => format!(
                        "UPSERT {} record sets in one change batch ({}); wait for INSYNC, then {}s (TTL)",
                        sets.len(),
                        sets.iter()
                            .map(|s| format!("{} {}", s.name(), s.set_identifier().unwrap_or("")))
                            .collect::<Vec<_>>()
                            .join(", "),
                        max_ttl(&world.records)
                    ),
                    Err(err) => format!("cannot move traffic: {err}"),
                },
                StepKind::Verify => format!("check the writer and DNS both point at {target}"),
                StepKind::MaintenanceOff => format!("turn {flag_name} off unless a MaintenanceWindow holds it on"),
            };
            (*step, text)
        })
        .collect()
}
