//! `FailoverPlan`: which region is active, and how to move the platform there.
//!
//! The spec names the two regions with their Aurora clusters, the database topology, the
//! Route 53 records that send traffic, and the maintenance flag to hold on while moving. The
//! status reports what is true in AWS, the execution in progress and each of its steps.

// The printer-column attributes repeat `type_ = "string"`, which this lint mistakes for a
// duplicated attribute.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{FlagTarget, Region, duration_schema, nullable};

/// Desired state of a FailoverPlan.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "ops.commandbridge.io",
    version = "v1alpha1",
    kind = "FailoverPlan",
    namespaced,
    status = "FailoverPlanStatus",
    shortname = "fp",
    category = "commandbridge",
    doc = "Which AWS region serves the platform, and the ordered, resumable plan that moves it there.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Active",
        type_ = "string",
        json_path = ".status.activeRegion",
        description = "Region that holds the database writer and receives DNS traffic"
    ),
    printcolumn(name = "Desired", type_ = "string", json_path = ".spec.activeRegion"),
    printcolumn(
        name = "Execution",
        type_ = "string",
        json_path = ".status.executionId",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.regions.exists(r, r.name == self.activeRegion)").message("spec.activeRegion must be the name of one of spec.regions; add the region to spec.regions or fix the name"),
    validation = Rule::new("size(self.regions) != 2 || self.regions[0].name != self.regions[1].name").message("spec.regions must name two different regions; change one of them"),
    validation = Rule::new("!self.allowDataLoss || self.mode == 'Failover'").message("spec.allowDataLoss: true is only allowed with spec.mode: Failover; remove allowDataLoss or set mode: Failover"),
    validation = Rule::new("self.database.topology != 'GlobalCluster' || has(self.database.globalClusterIdentifier)").message("spec.database.globalClusterIdentifier is required when spec.database.topology is GlobalCluster; name the Aurora global cluster"),
    validation = Rule::new("self.database.topology != 'ReadReplica' || !self.allowDataLoss").message("spec.allowDataLoss has no meaning for spec.database.topology: ReadReplica; remove it"),
    validation = Rule::new("self.regions.all(r, r.clusterArn.split(':').size() < 4 || r.clusterArn.split(':')[3] == r.name)").message("spec.regions[].clusterArn must be in the region it is listed under; fix the ARN or the region name"),
)]
pub struct FailoverPlanSpec {
    /// The region that should hold the database writer and receive traffic. Changing it runs an
    /// execution that moves the platform there.
    pub active_region: Region,

    /// `Switchover` is planned and loses no data (blocked by a failed preflight). `Failover` is
    /// for an unhealthy primary region and runs even when the old primary does not answer.
    #[serde(default)]
    pub mode: FailoverMode,

    /// With mode Failover on a global cluster: accept losing the writes that had not reached
    /// the target region. Never assumed; it must be written here.
    #[serde(default)]
    pub allow_data_loss: bool,

    /// The two regions of the platform and their Aurora clusters.
    #[schemars(length(min = 2, max = 2))]
    pub regions: Vec<RegionSpec>,

    pub database: DatabaseSpec,

    pub dns: DnsSpec,

    /// The maintenance flag held on while the platform moves.
    pub maintenance: PlanMaintenanceSpec,

    #[serde(default)]
    pub approval: ApprovalSpec,

    /// Report in status what an execution would change, and change nothing.
    #[serde(default)]
    pub dry_run: bool,

    /// Minimum time between the end of one execution and the start of the next.
    #[serde(default = "default_cooldown")]
    #[schemars(schema_with = "duration_schema")]
    pub cooldown: String,

    #[serde(default)]
    pub preflight: PreflightSpec,
}

fn default_cooldown() -> String {
    "10m".to_string()
}

/// Planned or unplanned move.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum FailoverMode {
    #[default]
    Switchover,
    Failover,
}

/// One region of the platform.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionSpec {
    pub name: Region,

    /// ARN of this region's Aurora DB cluster.
    #[schemars(
        length(max = 256),
        regex(
            pattern = r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:cluster:[a-zA-Z][a-zA-Z0-9-]{0,62}$"
        )
    )]
    pub cluster_arn: String,

    /// Route 53 set identifier of this region's records. Defaults to the region name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub set_identifier: Option<String>,
}

impl RegionSpec {
    pub fn set_identifier(&self) -> &str {
        self.set_identifier.as_deref().unwrap_or(self.name.as_str())
    }

    /// The DB cluster identifier, the last part of the ARN.
    pub fn cluster_identifier(&self) -> &str {
        self.cluster_arn
            .rsplit(':')
            .next()
            .unwrap_or(&self.cluster_arn)
    }
}

/// How the database writer moves.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// `GlobalCluster`: an Aurora global database (switchover or failover, reversible).
    /// `ReadReplica`: a cross-region read-replica cluster, promoted once (one way).
    pub topology: DatabaseTopology,

    /// Identifier of the Aurora global cluster (topology GlobalCluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-zA-Z][a-zA-Z0-9-]*$"))]
    pub global_cluster_identifier: Option<String>,

    /// Preflight refuses a switchover when the target lags more than this.
    #[serde(default = "default_max_lag")]
    #[schemars(schema_with = "duration_schema")]
    pub max_replication_lag: String,
}

fn default_max_lag() -> String {
    "30s".to_string()
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DatabaseTopology {
    GlobalCluster,
    ReadReplica,
}

/// How traffic moves.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsSpec {
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^[A-Z0-9]+$"))]
    pub hosted_zone_id: String,

    /// `HealthCheckInversion` inverts the health checks of the PRIMARY failover records to send
    /// traffic to the SECONDARY (records stay as Terraform wrote them). `RecordUpsert` rewrites
    /// the failover or weighted records in one change batch.
    pub method: DnsMethod,

    /// Fully qualified names of the record sets that carry the platform's traffic.
    #[schemars(length(min = 1, max = 20))]
    pub record_names: Vec<RecordName>,
}

/// A DNS name, with or without the final dot.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(transparent)]
pub struct RecordName(
    #[schemars(
        length(min = 1, max = 255),
        regex(pattern = r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")
    )]
    pub String,
);

impl RecordName {
    /// The name as Route 53 returns it: lower case with a final dot.
    pub fn fqdn(&self) -> String {
        let lower = self.0.to_ascii_lowercase();
        if lower.ends_with('.') {
            lower
        } else {
            format!("{lower}.")
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DnsMethod {
    HealthCheckInversion,
    RecordUpsert,
}

/// The maintenance flag of a plan.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanMaintenanceSpec {
    #[serde(flatten)]
    pub target: FlagTarget,

    /// Banner text written to the flag's `message` attribute while the flag is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
}

/// Manual approval gate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSpec {
    /// When true, an execution waits in AwaitingApproval until the annotation
    /// `ops.commandbridge.io/approve` names its execution id.
    #[serde(default)]
    pub required: bool,
}

/// Read-only readiness checks between executions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreflightSpec {
    /// How often the standby checks run while nothing moves.
    #[serde(default = "default_preflight_interval")]
    #[schemars(schema_with = "duration_schema")]
    pub interval: String,
}

impl Default for PreflightSpec {
    fn default() -> Self {
        PreflightSpec {
            interval: default_preflight_interval(),
        }
    }
}

fn default_preflight_interval() -> String {
    "10m".to_string()
}

/// Annotation that approves an execution: its value is the execution id.
pub const APPROVE_ANNOTATION: &str = "ops.commandbridge.io/approve";
/// Annotation naming who approved, written to the audit record.
pub const APPROVED_BY_ANNOTATION: &str = "ops.commandbridge.io/approved-by";

/// Observed state of a FailoverPlan.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverPlanStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nullable::<PlanPhase>")]
    pub phase: Option<PlanPhase>,

    /// The region that holds the writer and receives traffic, as read from AWS. Empty while
    /// the two disagree (see `observed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_region: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<ObservedState>,

    /// Id of the current (or last) execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<ExecutionStatus>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepStatus>,

    /// Audit items not yet written because the audit table could not be reached; written in
    /// order as soon as it can be.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_audit: Vec<crate::audit::AuditItem>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PlanPhase {
    Pending,
    Converged,
    DryRun,
    AwaitingApproval,
    CoolingDown,
    Blocked,
    Executing,
    Failed,
    Invalid,
}

impl PlanPhase {
    pub fn as_str(&self) -> &'static str {
        match self {
            PlanPhase::Pending => "Pending",
            PlanPhase::Converged => "Converged",
            PlanPhase::DryRun => "DryRun",
            PlanPhase::AwaitingApproval => "AwaitingApproval",
            PlanPhase::CoolingDown => "CoolingDown",
            PlanPhase::Blocked => "Blocked",
            PlanPhase::Executing => "Executing",
            PlanPhase::Failed => "Failed",
            PlanPhase::Invalid => "Invalid",
        }
    }
}

/// What the operator last read from AWS.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedState {
    /// Region of the cluster that is the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_region: Option<String>,

    /// Region that the records send traffic to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_region: Option<String>,

    /// Whether the deployed flag is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_enabled: Option<bool>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<Time>,
}

/// The execution in progress, or the last one.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStatus {
    pub id: String,
    pub from_region: String,
    pub target_region: String,
    /// Generation of the spec the execution carries out.
    pub generation: i64,
    /// Who asked: the approver, or the manager of the change that triggered it.
    pub requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Running, Succeeded, Failed or DryRun.
    pub outcome: String,
}

/// One step of an execution.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    /// Preflight, MaintenanceOn, Database, Dns, Verify or MaintenanceOff.
    pub name: String,
    /// Pending, Running, Succeeded, Failed, Skipped or Planned (dry run).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Request id of the AWS call that changed something in this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_request_id: Option<String>,
    /// Identifier of what the step changed (ARN, change id, deployment number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Set just before the step's mutating call, so that a restarted controller knows to look
    /// in AWS for a change it may have made before it could record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation_started_at: Option<Time>,
    /// End of a wait the step must sit out (the records' TTL after a DNS change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<Time>,
}
