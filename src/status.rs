//! Writing status: conditions with stable reasons, and server-side apply of the status
//! subresource with the operator's own field manager. Status is only written when it changed,
//! so converged resources cause no API-server writes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// Field manager of every status write.
pub const STATUS_MANAGER: &str = "commandbridge-operator-status";

pub fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// Sets a condition, keeping its transition time when its status does not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) {
    let status_text = if status { "True" } else { "False" };
    // An empty message would be serialized as null, which the schema refuses.
    let message: String = if message.is_empty() {
        reason.to_string()
    } else {
        message.chars().take(1024).collect()
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            if existing.status != status_text {
                existing.last_transition_time = now();
            }
            existing.status = status_text.into();
            existing.reason = reason.into();
            existing.message = message;
            existing.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.into(),
            status: status_text.into(),
            reason: reason.into(),
            message,
            observed_generation: generation,
            last_transition_time: now(),
        }),
    }
}

pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Applies `status` to the status subresource of `object`.
pub async fn apply<K, S>(client: &kube::Client, object: &K, status: &S) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    S: Serialize,
{
    let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(STATUS_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}
