//! The custom resources of `ops.commandbridge.io/v1alpha1`: their Rust types, the schema the
//! API server enforces, and the CRD manifests generated from them (`commandbridge-operator crd`).
//!
//! Types that both kinds use (regions, durations, the feature flag they drive, conditions) live
//! in `common`; each kind has a file of its own.

pub mod common;
pub mod failover_plan;
pub mod maintenance_window;

pub use common::{FlagTarget, Region};
pub use failover_plan::{FailoverPlan, FailoverPlanSpec, FailoverPlanStatus};
pub use maintenance_window::{MaintenanceWindow, MaintenanceWindowSpec, MaintenanceWindowStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every kind this operator owns.
pub const GROUP: &str = "ops.commandbridge.io";

/// Every CRD the operator serves, in the order `crd` prints them.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![FailoverPlan::crd(), MaintenanceWindow::crd()]
}

/// The CRDs as one multi-document YAML stream.
pub fn to_yaml() -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for crd in all() {
        out.push_str(&one_to_yaml(&crd)?);
    }
    Ok(out)
}

/// One CRD as a YAML document, exactly as checked in under `crds/`.
pub fn one_to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::SerializeError> {
    Ok(format!("---\n{}", serde_saphyr::to_string(crd)?))
}

/// File name under `crds/` for one CRD.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}
