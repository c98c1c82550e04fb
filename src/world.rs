//! Reads what is true in AWS for one plan: which region holds the Aurora writer, which region
//! the Route 53 records send traffic to, and the deployed value of the maintenance flag.
//! Read-only; the plan (`plan.rs`) decides from this what to change.

use crate::aws::appconfig::DeployedFlag;
use crate::aws::arn_region;
use crate::aws::rds::{Cluster, GlobalCluster};
use crate::aws::route53::{HealthCheck, RecordSet};
use crate::context::Adapters;
use crate::crd::Region;
use crate::crd::failover_plan::{DatabaseTopology, FailoverPlanSpec, RegionSpec};
use crate::error::{Error, Result};

/// The database as observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Database {
    Global(GlobalCluster),
    /// Each region's cluster, where it could be read.
    Replica(Vec<(Region, Option<Cluster>)>),
}

/// One record name as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    /// The routed sets of this name, with the region each belongs to (by set identifier).
    pub sets: Vec<(Option<Region>, RecordSet)>,
    /// The PRIMARY set's health check: id, configuration, and whether Route 53 sees it healthy.
    pub primary_check: Option<(String, HealthCheck, bool)>,
    /// The region this name sends traffic to.
    pub serving: Option<Region>,
}

impl Record {
    pub fn set_of(&self, region: &Region) -> Option<&RecordSet> {
        self.sets
            .iter()
            .find(|(r, _)| r.as_ref() == Some(region))
            .map(|(_, s)| s)
    }

    pub fn primary(&self) -> Option<(&Option<Region>, &RecordSet)> {
        self.sets
            .iter()
            .find(|(_, s)| s.failover.as_deref() == Some("PRIMARY"))
            .map(|(r, s)| (r, s))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub database: Database,
    pub writer_region: Option<Region>,
    pub records: Vec<Record>,
    pub dns_region: Option<Region>,
    pub flag: Option<DeployedFlag>,
}

impl World {
    /// The region where both the writer and the traffic are, if they agree.
    pub fn active_region(&self) -> Option<&Region> {
        match (&self.writer_region, &self.dns_region) {
            (Some(w), Some(d)) if w == d => Some(w),
            _ => None,
        }
    }
}

/// Reads the whole world of a plan. `previous_writer` breaks the tie when both clusters of a
/// promoted read replica are standalone writers.
pub async fn observe(
    adapters: &Adapters,
    spec: &FailoverPlanSpec,
    previous_writer: Option<&str>,
) -> Result<World> {
    // The three services answer independently; reading them at once keeps an execution's
    // Verify step and a reconcile as short as the slowest of them.
    let (database, records, flag) = tokio::join!(
        observe_database(adapters, spec, previous_writer),
        observe_records(adapters, spec),
        adapters.flags.deployed(&spec.maintenance.target),
    );
    let (database, writer_region) = database?;
    let records = records?;
    let dns_region = common_region(&records);
    let flag = flag.ok();
    Ok(World {
        database,
        writer_region,
        records,
        dns_region,
        flag,
    })
}

pub async fn observe_database(
    adapters: &Adapters,
    spec: &FailoverPlanSpec,
    previous_writer: Option<&str>,
) -> Result<(Database, Option<Region>)> {
    match spec.database.topology {
        DatabaseTopology::GlobalCluster => {
            let id = spec
                .database
                .global_cluster_identifier
                .as_deref()
                .unwrap_or_default();
            let global = read_global(adapters, spec, id).await?;
            let writer = global
                .writer()
                .and_then(|m| arn_region(&m.cluster_arn))
                .map(Region::from);
            Ok((Database::Global(global), writer))
        }
        DatabaseTopology::ReadReplica => {
            let mut clusters = Vec::new();
            for region in &spec.regions {
                let cluster = match adapters.rds.cluster(&region.cluster_arn).await {
                    Ok(cluster) => Some(cluster),
                    Err(err) if err.is_transient() => None,
                    Err(err) => return Err(err),
                };
                clusters.push((region.name.clone(), cluster));
            }
            let standalone: Vec<&Region> = clusters
                .iter()
                .filter(|(_, c)| c.as_ref().is_some_and(|c| c.replication_source.is_none()))
                .map(|(r, _)| r)
                .collect();
            let writer = match standalone.as_slice() {
                [one] => Some((*one).clone()),
                [] => None,
                many => many
                    .iter()
                    .find(|r| Some(r.as_str()) == previous_writer)
                    .map(|r| (*r).clone()),
            };
            Ok((Database::Replica(clusters), writer))
        }
    }
}

/// Reads the global cluster through the desired region first, then the other one, so that
/// it can be read while one region does not answer.
async fn read_global(
    adapters: &Adapters,
    spec: &FailoverPlanSpec,
    id: &str,
) -> Result<GlobalCluster> {
    let mut order: Vec<&RegionSpec> = spec.regions.iter().collect();
    order.sort_by_key(|r| r.name != spec.active_region);
    let mut last = Error::state("no region to read the global cluster from");
    for region in order {
        match adapters.rds.global_cluster(id, region.name.as_str()).await {
            Ok(global) => return Ok(global),
            Err(err) if err.is_transient() => last = err,
            Err(err) => return Err(err),
        }
    }
    Err(last)
}

pub async fn observe_records(adapters: &Adapters, spec: &FailoverPlanSpec) -> Result<Vec<Record>> {
    futures::future::try_join_all(
        spec.dns
            .record_names
            .iter()
            .map(|name| observe_record(adapters, spec, name.fqdn())),
    )
    .await
}

async fn observe_record(
    adapters: &Adapters,
    spec: &FailoverPlanSpec,
    fqdn: String,
) -> Result<Record> {
    let sets = adapters
        .route53
        .record_sets(&spec.dns.hosted_zone_id, &fqdn)
        .await?;
    if sets.is_empty() {
        return Err(Error::state(format!(
            "hosted zone {} has no failover or weighted records named {fqdn}",
            spec.dns.hosted_zone_id
        )));
    }
    let sets: Vec<(Option<Region>, RecordSet)> =
        sets.into_iter().map(|s| (region_of(spec, &s), s)).collect();

    let primary_check_id = sets
        .iter()
        .find(|(_, s)| s.failover.as_deref() == Some("PRIMARY"))
        .and_then(|(_, set)| set.health_check_id.clone());
    let primary_check = match primary_check_id {
        Some(id) => {
            let (check, healthy) = tokio::try_join!(
                adapters.route53.health_check(&id),
                adapters.route53.is_healthy(&id)
            )?;
            Some((id, check, healthy))
        }
        None => None,
    };

    let serving = serving_region(&sets, primary_check.as_ref().map(|c| c.2));
    Ok(Record {
        name: fqdn,
        sets,
        primary_check,
        serving,
    })
}

fn region_of(spec: &FailoverPlanSpec, set: &RecordSet) -> Option<Region> {
    spec.regions
        .iter()
        .find(|r| r.set_identifier() == set.set_identifier)
        .map(|r| r.name.clone())
}

/// Where Route 53 sends a name: the PRIMARY while it is healthy, else the SECONDARY; for
/// weighted records, the one region with all the weight.
fn serving_region(
    sets: &[(Option<Region>, RecordSet)],
    primary_healthy: Option<bool>,
) -> Option<Region> {
    let by_role = |role: &str| {
        sets.iter()
            .find(|(_, s)| s.failover.as_deref() == Some(role))
            .and_then(|(r, _)| r.clone())
    };
    if sets.iter().any(|(_, s)| s.failover.is_some()) {
        return if primary_healthy.unwrap_or(true) {
            by_role("PRIMARY")
        } else {
            by_role("SECONDARY")
        };
    }
    let weighted: Vec<_> = sets
        .iter()
        .filter(|(_, s)| s.weight.unwrap_or(0) > 0)
        .collect();
    match weighted.as_slice() {
        [(region, _)] => region.clone(),
        _ => None,
    }
}

fn common_region(records: &[Record]) -> Option<Region> {
    let first = records.first()?.serving.clone()?;
    records
        .iter()
        .all(|r| r.serving.as_ref() == Some(&first))
        .then_some(first)
}
