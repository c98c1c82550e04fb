//! Reads a FailoverPlan manifest from a file, for the `plan` command, as strictly as a user
//! needs: the API server would prune a misspelt field (`dryrun` for `dryRun`) without a word
//! and run a real failover where a dry run was meant, so a field that the CRD's schema does
//! not know is refused here with its path, and so are another kind or API version.

use kube::{CustomResourceExt, Resource};
use serde_json::Value;

use crate::crd::FailoverPlan;

/// Unknown fields named in one message, at most.
const MAX_NAMED: usize = 10;

/// The plan in `text`, or what is wrong with the manifest and how to fix it.
pub fn parse_failover_plan(text: &str) -> Result<FailoverPlan, String> {
    let mut value: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;

    let kind = value.get("kind").cloned().unwrap_or(Value::Null);
    let api_version = value.get("apiVersion").cloned().unwrap_or(Value::Null);
    let want = FailoverPlan::api_version(&());
    if kind != "FailoverPlan" || api_version != want.as_ref() {
        return Err(format!(
            "kind is {kind} of apiVersion {api_version}; set kind: FailoverPlan and apiVersion: {want}"
        ));
    }

    // As the API server takes it: status is not applied with the spec, and a null stands for a
    // field left out (so its default applies).
    if let Some(fields) = value.as_object_mut() {
        fields.remove("status");
    }
    if let Some(spec) = value.get_mut("spec") {
        drop_nulls(spec);
    }

    let mut unknown = Vec::new();
    if let (Some(spec), Some(schema)) = (value.get("spec"), spec_schema()) {
        unknown_fields("spec", spec, &schema, &mut unknown);
    }
    if !unknown.is_empty() {
        let more = unknown.len().saturating_sub(MAX_NAMED);
        unknown.truncate(MAX_NAMED);
        let and_more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        return Err(format!(
            "unknown field {}{and_more}: the API server would drop it silently; check its spelling (fields are camelCase, e.g. dryRun)",
            unknown.join(", ")
        ));
    }

    serde_path_to_error::deserialize(value).map_err(|e| match e.path().to_string() {
        path if path == "." => e.inner().to_string(),
        path => format!("{path}: {}", e.inner()),
    })
}

/// Removes the fields whose value is null, at any depth.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.retain(|_, v| !v.is_null());
            fields.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The OpenAPI schema of `spec`, as the CRD serves it.
fn spec_schema() -> Option<Value> {
    let crd = serde_json::to_value(FailoverPlan::crd()).ok()?;
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec")
        .cloned()
}

/// Collects the paths of the fields of `value` that `schema` does not declare.
fn unknown_fields(path: &str, value: &Value, schema: &Value, unknown: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (name, field) in fields {
                match properties.get(name) {
                    Some(field_schema) => {
                        unknown_fields(&format!("{path}.{name}"), field, field_schema, unknown)
                    }
                    None => unknown.push(format!("{path}.{}", name.escape_debug())),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    unknown_fields(&format!("{path}[{index}]"), item, item_schema, unknown);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../examples/failoverplan.yaml");

    #[test]
    fn the_example_plan_is_read_as_it_is() {
        let plan = parse_failover_plan(EXAMPLE).expect("example reads");

        assert_eq!(plan.spec.active_region.as_str(), "eu-west-2");
    }

    #[test]
    fn misspelt_fields_are_refused_with_their_path() {
        let misspelt = EXAMPLE.replace(
            "  activeRegion: eu-west-2",
            "  activeRegion: eu-west-2\n  dryrun: true",
        );
        let nested = EXAMPLE.replace("hostedZoneId:", "hostedZoneID:");

        let top = parse_failover_plan(&misspelt).expect_err("refused");
        let deep = parse_failover_plan(&nested).expect_err("refused");

        assert!(top.contains("unknown field spec.dryrun"), "{top}");
        assert!(top.contains("camelCase"), "{top}");
        assert!(deep.contains("spec.dns.hostedZoneID"), "{deep}");
    }

    #[test]
    fn a_wrong_type_is_reported_with_the_field_path() {
        let wrong = EXAMPLE.replace(
            "  activeRegion: eu-west-2",
            "  activeRegion: eu-west-2\n  dryRun: \"true\"",
        );

        let message = parse_failover_plan(&wrong).expect_err("refused");

        assert!(
            message.starts_with("spec.dryRun: invalid type"),
            "{message}"
        );
    }

    #[test]
    fn status_and_null_fields_are_taken_as_the_api_server_takes_them() {
        let with_status_and_nulls = format!(
            "{}\nstatus:\n  phase: Done\n",
            EXAMPLE.replace(
                "  activeRegion: eu-west-2",
                "  activeRegion: eu-west-2\n  dryRun: null\n  preflight: null",
            )
        );

        let plan = parse_failover_plan(&with_status_and_nulls).expect("accepted");

        assert!(!plan.spec.dry_run);
        assert_eq!(plan.spec.preflight.interval, "10m");
        assert!(plan.status.is_none());
    }

    #[test]
    fn many_unknown_fields_are_named_up_to_a_bound_with_control_characters_escaped() {
        let keys: String = (0..25).map(|i| format!("  bogus{i:02}: 1\n")).collect();
        let many = EXAMPLE.replace(
            "  activeRegion: eu-west-2\n",
            &format!("  activeRegion: eu-west-2\n{keys}  \"a\\nerror: fake\": 1\n"),
        );

        let message = parse_failover_plan(&many).expect_err("refused");

        assert!(message.contains("and 16 more"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn another_kind_or_version_is_refused_naming_the_fix() {
        let window = include_str!("../examples/maintenancewindow.yaml");
        let old_version = EXAMPLE.replace("v1alpha1", "v1beta1");

        let kind = parse_failover_plan(window).expect_err("refused");
        let version = parse_failover_plan(&old_version).expect_err("refused");

        assert!(kind.contains("\"MaintenanceWindow\""), "{kind}");
        assert!(
            version.contains("apiVersion: ops.commandbridge.io/v1alpha1"),
            "{version}"
        );
    }
}
