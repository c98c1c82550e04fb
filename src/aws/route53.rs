//! Route 53: the failover and weighted records that send traffic, their health checks, and
//! change batches. Reads are cheap and consistent; a change is PENDING until `GetChange` says
//! INSYNC.

use aws_sdk_route53::operation::RequestId;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet,
    ResourceRecordSetFailover, RrType,
};

use crate::config::AwsClients;
use crate::error::{self, Error, Result};

/// One record set with a set identifier (failover or weighted routing).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSet {
    pub name: String,
    pub record_type: String,
    pub set_identifier: String,
    /// `PRIMARY` or `SECONDARY` for failover routing.
    pub failover: Option<String>,
    pub weight: Option<i64>,
    pub ttl: Option<i64>,
    pub health_check_id: Option<String>,
    pub values: Vec<String>,
    /// Alias records are kept as they are, except for the routing fields.
    pub raw: ResourceRecordSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheck {
    pub inverted: bool,
    pub disabled: bool,
}

#[derive(Clone)]
pub struct Route53 {
    client: aws_sdk_route53::Client,
}

impl Route53 {
    pub fn new(clients: &AwsClients) -> Self {
        Route53 {
            client: clients.route53.clone(),
        }
    }

    /// The routed record sets (those with a set identifier) named `name` (with final dot).
    pub async fn record_sets(&self, zone_id: &str, name: &str) -> Result<Vec<RecordSet>> {
        let mut sets = Vec::new();
        let mut next: Option<(String, Option<RrType>, Option<String>)> =
            Some((name.to_string(), None, None));
        while let Some((start_name, start_type, start_id)) = next.take() {
            let output = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .start_record_name(start_name)
                .set_start_record_type(start_type)
                .set_start_record_identifier(start_id)
                .max_items(100)
                .send()
                .await
                .map_err(|e| error::aws("route53", "ListResourceRecordSets", e))?;
            let mut past_name = false;
            for set in output.resource_record_sets() {
                if !set.name().eq_ignore_ascii_case(name) {
                    past_name = true;
                    break;
                }
                if let Some(id) = set.set_identifier() {
                    sets.push(RecordSet {
                        name: set.name().to_string(),
                        record_type: set.r#type().as_str().to_string(),
                        set_identifier: id.to_string(),
                        failover: set.failover().map(|f| f.as_str().to_string()),
                        weight: set.weight(),
                        ttl: set.ttl(),
                        health_check_id: set.health_check_id().map(str::to_string),
                        values: set
                            .resource_records()
                            .iter()
                            .map(|r| r.value().to_string())
                            .collect(),
                        raw: set.clone(),
                    });
                }
            }
            if output.is_truncated() && !past_name {
                next = output.next_record_name().map(|n| {
                    (
                        n.to_string(),
                        output.next_record_type().cloned(),
                        output.next_record_identifier().map(str::to_string),
                    )
                });
            }
        }
        Ok(sets)
    }

    pub async fn health_check(&self, id: &str) -> Result<HealthCheck> {
        let output = self
            .client
            .get_health_check()
            .health_check_id(id)
            .send()
            .await
            .map_err(|e| error::aws("route53", "GetHealthCheck", e))?;
        let config = output
            .health_check()
            .and_then(|h| h.health_check_config())
            .ok_or_else(|| Error::state(format!("health check {id} has no configuration")))?;
        Ok(HealthCheck {
            inverted: config.inverted().unwrap_or(false),
            disabled: config.disabled().unwrap_or(false),
        })
    }

    /// Whether Route 53 considers the health check healthy: most checkers report success.
    pub async fn is_healthy(&self, id: &str) -> Result<bool> {
        let output = self
            .client
            .get_health_check_status()
            .health_check_id(id)
            .send()
            .await
            .map_err(|e| error::aws("route53", "GetHealthCheckStatus", e))?;
        let observations = output.health_check_observations();
        if observations.is_empty() {
            return Ok(true);
        }
        let healthy = observations
            .iter()
            .filter(|o| {
                o.status_report()
                    .and_then(|r| r.status())
                    .is_some_and(|s| s.starts_with("Success"))
            })
            .count();
        Ok(healthy * 2 > observations.len())
    }

    /// Inverts or restores a health check. Takes effect without a change batch.
    pub async fn set_inverted(&self, id: &str, inverted: bool) -> Result<Option<String>> {
        let output = self
            .client
            .update_health_check()
            .health_check_id(id)
            .inverted(inverted)
            .send()
            .await
            .map_err(|e| error::aws("route53", "UpdateHealthCheck", e))?;
        Ok(output.request_id().map(str::to_string))
    }

    /// UPSERTs record sets in one change batch. Returns the change id and request id.
    pub async fn upsert(
        &self,
        zone_id: &str,
        sets: Vec<ResourceRecordSet>,
        comment: &str,
    ) -> Result<(String, Option<String>)> {
        let changes = sets
            .into_iter()
            .map(|set| {
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::state(format!("invalid record change: {e}")))?;
        let batch = ChangeBatch::builder()
            .comment(comment)
            .set_changes(Some(changes))
            .build()
            .map_err(|e| Error::state(format!("invalid change batch: {e}")))?;
        let output = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| error::aws("route53", "ChangeResourceRecordSets", e))?;
        let change_id = output
            .change_info()
            .map(|c| c.id().to_string())
            .unwrap_or_default();
        Ok((change_id, output.request_id().map(str::to_string)))
    }

    /// Whether a change batch has reached every Route 53 name server.
    pub async fn is_insync(&self, change_id: &str) -> Result<bool> {
        let output = self
            .client
            .get_change()
            .id(change_id)
            .send()
            .await
            .map_err(|e| error::aws("route53", "GetChange", e))?;
        Ok(output.change_info().map(|c| c.status()) == Some(&ChangeStatus::Insync))
    }
}

/// A copy of `set` with new failover role and weight, everything else as it was.
pub fn with_routing(
    set: &RecordSet,
    failover: Option<&str>,
    weight: Option<i64>,
) -> ResourceRecordSet {
    let mut raw = set.raw.clone();
    raw.failover = failover.map(ResourceRecordSetFailover::from);
    raw.weight = weight;
    raw
}

/// Builds a plain record value list (used by tests and the plan preview).
pub fn values(set: &ResourceRecordSet) -> Vec<String> {
    set.resource_records()
        .iter()
        .map(ResourceRecord::value)
        .map(str::to_string)
        .collect()
}
