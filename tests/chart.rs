//! Production packaging, checked with the tools a release pipeline runs on it: the Helm
//! chart (lint, render, schema, RBAC, a server-side dry run against a real API server), the
//! Terraform in `infra/`, the Dockerfile (checkov), and the Argo CD health script.
//!
//! Tools come from `scripts/setup-tools.sh` (helm, checkov, Lua) and, for the dry runs, the
//! control plane from `scripts/setup-k8s.sh`. A missing tool fails the test with the command
//! that installs it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, anyhow, bail};
use commandbridge_testenv::{ControlPlane, TestNamespace, install_crds};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use serde_json::Value;

const CHART: &str = "charts/commandbridge-operator";
const FULL_VALUES: &str = "charts/commandbridge-operator/ci/values-full.yaml";
const RELEASE: &str = "cb";
const NAMESPACE: &str = "commandbridge";
const FIELD_MANAGER: &str = "commandbridge-chart-test";

/// Kinds the chart can render whose API is not part of Kubernetes itself; a dry run against a
/// cluster without their CRDs leaves them out.
const OPTIONAL_KINDS: &[&str] = &["ServiceMonitor"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(relative: &str) -> PathBuf {
    let path = repo().join(relative);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup-tools.sh from the repository root",
        path.display()
    );
    path
}

fn helm() -> Command {
    let home = repo().join("target/tools/helm-home");
    let mut command = Command::new(tool("target/tools/bin/helm"));
    command
        .current_dir(repo())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    command
}

fn checkov() -> Command {
    let mut command = Command::new(tool("target/tools/checkov-venv/bin/checkov"));
    // --skip-download keeps checkov off the network: no policy or guideline downloads.
    command
        .current_dir(repo())
        .args(["--skip-download", "--output", "json"]);
    command
}

fn output(command: &mut Command) -> Result<Output> {
    command
        .output()
        .with_context(|| format!("running {command:?}"))
}

fn stdout_of_success(command: &mut Command) -> Result<String> {
    let out = output(command)?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// `helm template` of the chart as release `cb` in `namespace`, with `args` appended.
fn render_in(namespace: &str, args: &[&str]) -> Result<String> {
    stdout_of_success(
        helm()
            .args(["template", RELEASE, CHART, "--namespace", namespace])
            .args(args),
    )
}

fn render(args: &[&str]) -> Result<String> {
    render_in(NAMESPACE, args)
}

fn render_failure(args: &[&str]) -> Result<String> {
    let out = output(
        helm()
            .args(["template", RELEASE, CHART, "--namespace", NAMESPACE])
            .args(args),
    )?;
    if out.status.success() {
        bail!("helm template {args:?} succeeded, expected a schema error");
    }
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

fn documents(yaml: &str) -> Result<Vec<Value>> {
    let documents: Vec<Option<Value>> =
        serde_saphyr::from_multiple(yaml).context("parsing rendered manifests")?;
    Ok(documents
        .into_iter()
        .flatten()
        .filter(|document| document.is_object())
        .collect())
}

fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

fn only<'a>(objects: &'a [Value], wanted: &str) -> &'a Value {
    let matching: Vec<&Value> = objects.iter().filter(|o| kind(o) == wanted).collect();
    assert_eq!(
        matching.len(),
        1,
        "expected one {wanted}, found {}",
        matching.len()
    );
    matching[0]
}

fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().map(|o| kind(o).to_owned()).collect()
}

fn container(objects: &[Value]) -> &Value {
    &only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|variable| variable["name"] == name)
}

/// Every (apiGroup, resource, verb) a rule list grants, and whether a rule names objects.
fn grants(rules: &Value) -> BTreeSet<(String, String, String, bool)> {
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut granted = BTreeSet::new();
    for rule in rules.as_array().into_iter().flatten() {
        let named = rule.get("resourceNames").is_some();
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    granted.insert((group.clone(), resource.clone(), verb, named));
                }
            }
        }
    }
    granted
}

fn grant(group: &str, resource: &str, verb: &str, named: bool) -> (String, String, String, bool) {
    (group.into(), resource.into(), verb.into(), named)
}

#[test]
fn chart_lints_cleanly_with_default_values() {
    let out = output(helm().args(["lint", "--strict", CHART])).unwrap();

    assert!(
        out.status.success(),
        "helm lint failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn chart_lints_cleanly_with_every_feature_enabled() {
    let out = output(helm().args(["lint", "--strict", CHART, "--values", FULL_VALUES])).unwrap();

    assert!(
        out.status.success(),
        "helm lint failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn default_values_render_the_operator_with_its_rbac_and_policies_but_no_service_monitor() {
    let objects = documents(&render(&[]).unwrap()).unwrap();

    let expected: BTreeSet<String> = [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(kinds(&objects), expected);
    for object in objects.iter().filter(|o| !kind(o).starts_with("Cluster")) {
        assert_eq!(
            object["metadata"]["namespace"],
            NAMESPACE,
            "{} has no explicit namespace",
            kind(object)
        );
    }
}

#[test]
fn full_values_render_service_monitor_irsa_annotation_and_endpoint_override() {
    let objects = documents(&render(&["--values", FULL_VALUES]).unwrap()).unwrap();

    let service_account = only(&objects, "ServiceAccount");
    let monitor = only(&objects, "ServiceMonitor");
    let container = container(&objects);
    assert_eq!(
        service_account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/commandbridge-operator"
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(
        env_value(container, "AWS_ENDPOINT_URL").unwrap()["value"],
        "http://aws-emulator.commandbridge-test.svc:5000"
    );
    assert!(
        container["image"].as_str().unwrap().contains("@sha256:"),
        "a digest in values pins the image by digest"
    );
}

#[test]
fn deployment_runs_two_spread_replicas_under_restricted_pod_security() {
    let objects = documents(&render(&[]).unwrap()).unwrap();

    let deployment = only(&objects, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = container(&objects);
    let security = &container["securityContext"];
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
            ["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "http");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "http");
    assert!(container["resources"]["limits"]["memory"].is_string());
}

#[test]
fn deployment_configures_the_operator_through_its_documented_environment() {
    let objects = documents(&render(&[]).unwrap()).unwrap();

    let container = container(&objects);
    let value = |name: &str| {
        env_value(container, name)
            .unwrap_or_else(|| panic!("{name} is not set"))
            .clone()
    };
    assert_eq!(container["args"], serde_json::json!(["run"]));
    assert_eq!(value("COMMANDBRIDGE_LOG_FORMAT")["value"], "json");
    assert_eq!(value("RUST_LOG")["value"], "info");
    assert_eq!(value("AWS_REGION")["value"], "eu-west-2");
    assert_eq!(
        value("COMMANDBRIDGE_AUDIT_TABLE")["value"],
        "commandbridge-audit"
    );
    assert_eq!(value("COMMANDBRIDGE_AWS_MAX_ATTEMPTS")["value"], "5");
    assert_eq!(value("COMMANDBRIDGE_HTTP_ADDR")["value"], "0.0.0.0:8080");
    assert_eq!(value("COMMANDBRIDGE_CLUSTER_NAME")["value"], "default");
    assert_eq!(value("COMMANDBRIDGE_POLL_INTERVAL")["value"], "2s");
    assert_eq!(value("COMMANDBRIDGE_LEADER_ELECTION")["value"], "true");
    assert_eq!(
        value("COMMANDBRIDGE_LEASE_NAME")["value"],
        "cb-commandbridge-operator"
    );
    assert_eq!(
        value("POD_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(
        value("POD_NAMESPACE")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert!(
        env_value(container, "AWS_ENDPOINT_URL").is_none(),
        "no endpoint override unless one is configured"
    );
}

#[test]
fn cluster_role_grants_exactly_the_verbs_the_controller_uses() {
    let objects = documents(&render(&[]).unwrap()).unwrap();

    let cluster_role = only(&objects, "ClusterRole");
    let mut expected = BTreeSet::new();
    for resource in ["failoverplans", "maintenancewindows"] {
        for verb in ["get", "list", "watch", "patch", "update"] {
            expected.insert(grant("ops.commandbridge.io", resource, verb, false));
        }
        for verb in ["get", "patch", "update"] {
            let status = format!("{resource}/status");
            expected.insert(grant("ops.commandbridge.io", &status, verb, false));
        }
        let finalizers = format!("{resource}/finalizers");
        expected.insert(grant("ops.commandbridge.io", &finalizers, "update", false));
    }
    for verb in ["create", "patch"] {
        expected.insert(grant("events.k8s.io", "events", verb, false));
    }
    assert_eq!(grants(&cluster_role["rules"]), expected);
    assert!(cluster_role["aggregationRule"].is_null());
}

#[test]
fn leases_are_granted_only_in_the_release_namespace_and_only_for_leader_election() {
    let objects = documents(&render(&[]).unwrap()).unwrap();

    let role = only(&objects, "Role");
    let binding = only(&objects, "RoleBinding");
    let expected: BTreeSet<_> = [
        grant("coordination.k8s.io", "leases", "create", false),
        grant("coordination.k8s.io", "leases", "get", true),
        grant("coordination.k8s.io", "leases", "update", true),
        grant("coordination.k8s.io", "leases", "patch", true),
    ]
    .into_iter()
    .collect();
    assert_eq!(role["metadata"]["namespace"], NAMESPACE);
    assert_eq!(grants(&role["rules"]), expected);
    assert_eq!(
        role["rules"][1]["resourceNames"],
        serde_json::json!(["cb-commandbridge-operator"])
    );
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"][0]["name"],
        only(&objects, "ServiceAccount")["metadata"]["name"]
    );
}

#[test]
fn network_policy_admits_only_metrics_scrapes_and_egress_to_dns_and_https() {
    let objects = documents(&render(&[]).unwrap()).unwrap();

    let spec = &only(&objects, "NetworkPolicy")["spec"];
    let ingress = spec["ingress"].as_array().unwrap();
    let egress = spec["egress"].as_array().unwrap();
    let egress_ports: BTreeSet<String> = egress
        .iter()
        .flat_map(|rule| rule["ports"].as_array().cloned().unwrap_or_default())
        .map(|port| format!("{}/{}", port["protocol"].as_str().unwrap(), port["port"]))
        .collect();
    assert_eq!(
        spec["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert_eq!(ingress.len(), 1);
    assert_eq!(
        ingress[0]["ports"],
        serde_json::json!([{"port": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        ingress[0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "monitoring"
    );
    assert_eq!(
        egress_ports,
        ["TCP/443", "TCP/53", "UDP/53"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}

#[test]
fn pod_disruption_budget_uses_policy_v1_only_where_the_cluster_serves_it() {
    let pdb_version = |args: &[&str]| -> String {
        let objects = documents(&render(args).unwrap()).unwrap();
        only(&objects, "PodDisruptionBudget")["apiVersion"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let old_cluster = pdb_version(&["--kube-version", "1.20.0"]);
    let discovered = pdb_version(&[
        "--kube-version",
        "1.20.0",
        "--api-versions",
        "policy/v1/PodDisruptionBudget",
    ]);
    let current_cluster = pdb_version(&["--kube-version", "1.33.0"]);

    assert_eq!(old_cluster, "policy/v1beta1");
    assert_eq!(discovered, "policy/v1");
    assert_eq!(current_cluster, "policy/v1");
}

#[test]
fn values_that_break_the_schema_fail_to_render() {
    let cases: &[(&str, &str)] = &[
        ("replicaCount=two", "/replicaCount"),
        ("logFormat=xml", "/logFormat"),
        ("region=null", "region"),
        ("region=London", "/region"),
        ("awsMaxAttempts=0", "/awsMaxAttempts"),
        ("pollInterval=soon", "/pollInterval"),
        ("image.digest=latest", "/image/digest"),
        (
            "serviceAccount.roleArn=commandbridge",
            "/serviceAccount/roleArn",
        ),
        ("networkPolicy.enabeld=true", "enabeld"),
    ];

    for (set, field) in cases {
        let stderr = render_failure(&["--set", set]).unwrap();

        assert!(
            stderr.contains("schema") && stderr.contains(field),
            "--set {set}: expected a schema error naming {field}, got:\n{stderr}"
        );
    }
}

#[test]
fn helm_lint_rejects_a_value_that_breaks_the_schema() {
    let out = output(helm().args(["lint", CHART, "--set", "logFormat=xml"])).unwrap();

    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "helm lint accepted logFormat=xml:\n{report}"
    );
    assert!(report.contains("/logFormat"), "{report}");
}

#[test]
fn chart_crds_are_identical_to_the_generated_crds() {
    let generated = repo().join("crds");
    let packaged = repo().join(CHART).join("crds");
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };

    let generated_names = names(&generated);
    let packaged_names = names(&packaged);

    let expected: BTreeSet<String> = [
        "failoverplans.ops.commandbridge.io.yaml",
        "maintenancewindows.ops.commandbridge.io.yaml",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(generated_names, expected);
    assert_eq!(packaged_names, expected, "chart crds/ holds other files");
    for name in &expected {
        let want = std::fs::read(generated.join(name)).unwrap();
        let got = std::fs::read(packaged.join(name)).unwrap();
        assert!(
            want == got,
            "{CHART}/crds/{name} differs from crds/{name}: copy crds/*.yaml into the chart"
        );
    }
}

/// What a server-side dry run of rendered manifests did.
struct DryRun {
    accepted: Vec<String>,
    skipped: Vec<String>,
}

/// The strings `helm install` would see in `.Capabilities.APIVersions` on this cluster.
fn api_versions(discovery: &Discovery) -> Vec<String> {
    let mut versions = Vec::new();
    for group in discovery.groups() {
        for version in group.versions() {
            let group_version = if group.name().is_empty() {
                version.to_owned()
            } else {
                format!("{}/{version}", group.name())
            };
            for (resource, _) in group.versioned_resources(version) {
                versions.push(format!("{group_version}/{}", resource.kind));
            }
            versions.push(group_version);
        }
    }
    versions
}

fn group_version_kind(object: &Value) -> Result<GroupVersionKind> {
    let api_version = object["apiVersion"]
        .as_str()
        .ok_or_else(|| anyhow!("object without apiVersion: {object}"))?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Ok(GroupVersionKind::gvk(group, version, kind(object)))
}

/// Renders the chart for the live cluster's version and API list, as `helm install` would,
/// and sends every object to the API server as a server-side apply with dry run. Kinds the
/// cluster does not serve are skipped and reported.
async fn dry_run_chart(values: &[&str]) -> Result<DryRun> {
    let control_plane = ControlPlane::shared().await?;
    let client = control_plane.client()?;
    let namespace = TestNamespace::create(&client, "chart").await?;
    let discovery = Discovery::new(client.clone()).run().await?;
    let server = client.apiserver_version().await?;
    let mut args = vec![
        "--kube-version".to_owned(),
        server.git_version.clone(),
        "--api-versions".to_owned(),
        api_versions(&discovery).join(","),
    ];
    for file in values {
        args.extend(["--values".to_owned(), (*file).to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let objects = documents(&render_in(namespace.name(), &args)?)?;

    let params = PatchParams::apply(FIELD_MANAGER).dry_run();
    let mut report = DryRun {
        accepted: Vec::new(),
        skipped: Vec::new(),
    };
    for object in objects {
        let gvk = group_version_kind(&object)?;
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some((resource, capabilities)) = discovery.resolve_gvk(&gvk) else {
            eprintln!(
                "dry run: skipped {}/{name}: {}/{} is not served by kube-apiserver {}",
                gvk.kind, gvk.group, gvk.version, server.git_version
            );
            report.skipped.push(gvk.kind);
            continue;
        };
        let api: Api<DynamicObject> = match capabilities.scope {
            Scope::Namespaced => Api::namespaced_with(client.clone(), namespace.name(), &resource),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(&name, &params, &Patch::Apply(&object))
            .await
            .with_context(|| format!("server-side dry run of {}/{name}", gvk.kind))?;
        report.accepted.push(gvk.kind);
    }
    Ok(report)
}

#[tokio::test]
async fn default_chart_passes_a_server_side_dry_run_on_a_real_api_server() {
    let report = dry_run_chart(&[]).await.unwrap();

    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    assert!(report.accepted.iter().any(|kind| kind == "Deployment"));
    assert_eq!(report.accepted.len(), 9, "accepted: {:?}", report.accepted);
}

#[tokio::test]
async fn full_chart_passes_a_server_side_dry_run_except_kinds_without_their_crd() {
    let report = dry_run_chart(&[FULL_VALUES]).await.unwrap();

    let unexpected: Vec<&String> = report
        .skipped
        .iter()
        .filter(|kind| !OPTIONAL_KINDS.contains(&kind.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "not served: {unexpected:?}");
    assert_eq!(
        report.accepted.len() + report.skipped.len(),
        10,
        "accepted {:?}, skipped {:?}",
        report.accepted,
        report.skipped
    );
}

#[tokio::test]
async fn chart_crds_are_accepted_and_served_by_a_real_api_server() {
    let control_plane = ControlPlane::shared().await.unwrap();
    let client = control_plane.client().unwrap();
    let dir = repo().join(CHART).join("crds");
    let mut crds: Vec<CustomResourceDefinition> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        crds.push(serde_saphyr::from_str(&text).unwrap());
    }

    // Installed for real rather than dry run: a v1.20 server refuses a dry-run create of a
    // single-version CRD ("per-version schemas may not all be set to identical values") that
    // it accepts as a real create. The control plane is thrown away after the run.
    install_crds(&client, &crds).await.unwrap();

    let api: Api<CustomResourceDefinition> = Api::all(client);
    for name in [
        "failoverplans.ops.commandbridge.io",
        "maintenancewindows.ops.commandbridge.io",
    ] {
        let served = api.get(name).await.unwrap();
        assert!(
            served.spec.versions.iter().any(|version| version.served),
            "{name} serves no version"
        );
    }
}

/// Runs checkov and fails on any failed check, on a run that checked nothing, and on a skip
/// without a reason.
fn assert_checkov_clean(args: &[&str]) {
    let out = output(checkov().args(args)).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!(
            "checkov {args:?} printed no JSON report ({error}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let reports = match report {
        Value::Array(reports) => reports,
        single => vec![single],
    };

    let mut failures = Vec::new();
    let mut unexplained_skips = Vec::new();
    let mut passed = 0;
    for framework in &reports {
        let results = &framework["results"];
        passed += framework["summary"]["passed"].as_u64().unwrap_or(0);
        for failed in results["failed_checks"].as_array().into_iter().flatten() {
            failures.push(format!(
                "{} {} ({}:{})",
                failed["check_id"].as_str().unwrap_or_default(),
                failed["resource"].as_str().unwrap_or_default(),
                failed["file_path"].as_str().unwrap_or_default(),
                failed["file_line_range"]
            ));
        }
        for skipped in results["skipped_checks"].as_array().into_iter().flatten() {
            let reason = skipped["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or_default();
            if reason.trim().is_empty() || reason == "No comment provided" {
                unexplained_skips.push(skipped["check_id"].to_string());
            }
        }
    }

    assert!(
        failures.is_empty(),
        "checkov {args:?} failed checks:\n{}",
        failures.join("\n")
    );
    assert!(
        unexplained_skips.is_empty(),
        "skips without a reason: {unexplained_skips:?}"
    );
    assert!(passed > 0, "checkov {args:?} checked nothing");
    assert!(
        out.status.success(),
        "checkov {args:?} exited {}",
        out.status
    );
}

#[test]
fn checkov_finds_no_failed_check_in_the_terraform() {
    assert_checkov_clean(&["--directory", "infra", "--framework", "terraform"]);
}

#[test]
fn checkov_finds_no_failed_check_in_the_rendered_chart() {
    // checkov does not look into hidden folders, so not tempfile's default ".tmp" prefix.
    let dir = tempfile::Builder::new()
        .prefix("rendered-chart-")
        .tempdir()
        .unwrap();
    std::fs::write(dir.path().join("default.yaml"), render(&[]).unwrap()).unwrap();
    std::fs::write(
        dir.path().join("full.yaml"),
        render(&["--values", FULL_VALUES]).unwrap(),
    )
    .unwrap();

    assert_checkov_clean(&[
        "--directory",
        dir.path().to_str().unwrap(),
        "--framework",
        "kubernetes",
    ]);
}

#[test]
fn checkov_finds_no_failed_check_in_the_dockerfile() {
    assert_checkov_clean(&["--file", "Dockerfile", "--framework", "dockerfile"]);
}

#[test]
fn terraform_files_are_formatted() {
    let Ok(out) = Command::new("terraform")
        .args(["fmt", "-check", "-recursive", "-diff", "infra"])
        .current_dir(repo())
        .output()
    else {
        // Limitation: terraform comes from no registry this project installs from; where the
        // machine has none, formatting is left to review.
        eprintln!("skipped: terraform is not on PATH");
        return;
    };

    assert!(
        out.status.success(),
        "terraform fmt -check found unformatted files:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn argo_cd_config_map_carries_the_health_script_unchanged_for_both_kinds() {
    let script = std::fs::read_to_string(repo().join("gitops/argocd-health.lua")).unwrap();
    let config_map = std::fs::read_to_string(repo().join("gitops/argocd-cm.yaml")).unwrap();

    let config_map: Value = serde_saphyr::from_str(&config_map).unwrap();

    for kind in ["FailoverPlan", "MaintenanceWindow"] {
        let key = format!("resource.customizations.health.ops.commandbridge.io_{kind}");
        assert_eq!(
            config_map["data"][&key].as_str(),
            Some(script.as_str()),
            "{key} in gitops/argocd-cm.yaml differs from gitops/argocd-health.lua"
        );
    }
}

#[test]
fn argo_cd_health_script_gives_the_expected_health_for_every_case() {
    let out = output(Command::new("bash").arg(repo().join("gitops/test/run.sh"))).unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gitops/test/run.sh failed (install Lua with scripts/setup-tools.sh):\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
