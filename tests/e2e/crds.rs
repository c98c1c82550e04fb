//! The CRDs: generated YAML matches `crds/`, installs on a real API server, and the schema
//! refuses what it can.

use commandbridge_operator::crd::{self, FailoverPlan, MaintenanceWindow};
use commandbridge_testenv::{ControlPlane, TestNamespace, install_crds};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn checked_in_crds_match_the_generated_ones() {
    for definition in crd::all() {
        let name = crd::file_name(&definition);

        let generated = crd::one_to_yaml(&definition).expect("serializes");

        assert_eq!(
            repo_file(&format!("crds/{name}")),
            generated,
            "crds/{name} is stale; run `cargo run -- crd --out crds`"
        );
    }
}

#[test]
fn crd_command_prints_every_checked_in_crd() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_commandbridge-operator"))
        .args(["--log-format", "text", "crd"])
        .output()
        .expect("runs");

    let printed = String::from_utf8(output.stdout).expect("utf-8");

    assert!(output.status.success());
    let expected: String = crd::all()
        .iter()
        .map(|d| repo_file(&format!("crds/{}", crd::file_name(d))))
        .collect();
    assert_eq!(printed, expected);
}

#[tokio::test]
async fn resources_round_trip_through_the_api_server_and_status_subresource() {
    let control_plane = ControlPlane::shared().await.expect("control plane");
    let client = control_plane.client().expect("client");
    install_crds(&client, &crd::all())
        .await
        .expect("CRDs install");
    let ns = TestNamespace::create(&client, "crds")
        .await
        .expect("namespace");
    let plans: Api<FailoverPlan> = Api::namespaced(client.clone(), ns.name());
    let windows: Api<MaintenanceWindow> = Api::namespaced(client.clone(), ns.name());
    let mut plan: FailoverPlan =
        serde_saphyr::from_str(&repo_file("examples/failoverplan.yaml")).expect("example");
    plan.metadata.namespace = None;
    let mut window: MaintenanceWindow =
        serde_saphyr::from_str(&repo_file("examples/maintenancewindow.yaml")).expect("example");
    window.metadata.namespace = None;

    plans
        .create(&PostParams::default(), &plan)
        .await
        .expect("plan created");
    windows
        .create(&PostParams::default(), &window)
        .await
        .expect("window created");
    let status = json!({"status": {"phase": "Converged", "activeRegion": "eu-west-2"}});
    plans
        .patch_status(
            "scotaccount",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .expect("plan status");
    let status = json!({"status": {"phase": "Scheduled", "nextStart": "2026-12-06T02:00:00Z"}});
    windows
        .patch_status(
            "weekly-patching",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .expect("window status");

    let plan = plans.get("scotaccount").await.expect("read back");
    let window = windows.get("weekly-patching").await.expect("read back");
    assert_eq!(plan.spec.active_region.as_str(), "eu-west-2");
    assert_eq!(plan.spec.cooldown, "10m", "defaults applied");
    assert_eq!(
        plan.status.and_then(|s| s.active_region).as_deref(),
        Some("eu-west-2")
    );
    assert_eq!(window.spec.time_zone, "Europe/London");
    assert!(window.status.and_then(|s| s.next_start).is_some());
}

#[tokio::test]
async fn printer_columns_show_phase_active_region_and_next_window() {
    let control_plane = ControlPlane::shared().await.expect("control plane");
    let client = control_plane.client().expect("client");
    install_crds(&client, &crd::all())
        .await
        .expect("CRDs install");
    let ns = TestNamespace::create(&client, "columns")
        .await
        .expect("namespace");
    let plans: Api<FailoverPlan> = Api::namespaced(client.clone(), ns.name());
    let mut plan: FailoverPlan =
        serde_saphyr::from_str(&repo_file("examples/failoverplan.yaml")).expect("example");
    plan.metadata.namespace = None;
    plans
        .create(&PostParams::default(), &plan)
        .await
        .expect("created");
    let status = json!({"status": {"phase": "Converged", "activeRegion": "eu-west-1"}});
    plans
        .patch_status(
            "scotaccount",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .expect("status");

    // What `kubectl get fp` asks for: the server-side table.
    let request = http::Request::get(format!(
        "/apis/ops.commandbridge.io/v1alpha1/namespaces/{}/failoverplans",
        ns.name()
    ))
    .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
    .body(Vec::new())
    .expect("request");
    let table: serde_json::Value = client.request(request).await.expect("table");

    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        ["Name", "Phase", "Active", "Desired", "Execution", "Age"]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[1], "Converged");
    assert_eq!(cells[2], "eu-west-1");
    assert_eq!(cells[3], "eu-west-2");
    let window_columns: Vec<String> = crd::all()[1].spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(window_columns, ["Phase", "Next Window", "Schedule", "Age"]);
}

#[tokio::test]
async fn schema_refuses_unknown_regions_enums_and_bad_patterns() {
    let control_plane = ControlPlane::shared().await.expect("control plane");
    let client = control_plane.client().expect("client");
    install_crds(&client, &crd::all())
        .await
        .expect("CRDs install");
    let ns = TestNamespace::create(&client, "schema")
        .await
        .expect("namespace");
    let base: serde_json::Value =
        serde_saphyr::from_str(&repo_file("examples/failoverplan.yaml")).expect("example");
    let cases = [
        (
            "/spec/activeRegion",
            json!("eu-wset-1"),
            "spec.activeRegion",
        ),
        ("/spec/mode", json!("Sideways"), "spec.mode"),
        (
            "/spec/regions/0/clusterArn",
            json!("arn:aws:s3:::bucket"),
            "spec.regions.clusterArn",
        ),
        ("/spec/cooldown", json!("ten minutes"), "spec.cooldown"),
        ("/spec/dns/method", json!("Telepathy"), "spec.dns.method"),
        (
            "/spec/dns/hostedZoneId",
            json!("/hostedzone/Z1"),
            "spec.dns.hostedZoneId",
        ),
        ("/spec/regions", json!([]), "spec.regions"),
        (
            "/spec/regions/1/name",
            json!("eu-west-9"),
            "spec.regions.name",
        ),
        ("/spec/allowDataLoss", json!("yes"), "spec.allowDataLoss"),
    ];
    let api: Api<kube::core::DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns.name(),
        &kube::core::ApiResource::erase::<FailoverPlan>(&()),
    );

    for (index, (pointer, value, field)) in cases.iter().enumerate() {
        let mut manifest = base.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        manifest.pointer_mut(parent).expect("parent exists")[key] = value.clone();
        manifest["metadata"] = json!({"name": format!("bad-{index}")});
        let object: kube::core::DynamicObject = serde_json::from_value(manifest).expect("object");

        let err = api
            .create(&PostParams::default(), &object)
            .await
            .expect_err("refused by the schema");

        assert!(
            err.to_string().contains(field),
            "{pointer}: expected the error to name {field}: {err}"
        );
    }
}
