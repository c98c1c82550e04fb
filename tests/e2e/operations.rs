//! Running it in production: leader election, metrics and probes, the chart's RBAC, secrets
//! kept out of logs.

use std::time::Duration;

use commandbridge_testenv::TopologyKind;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

use crate::support::Stack;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn converged(stack: &Stack) {
    let plan = stack
        .plan_manifest("scotaccount", "eu-west-2")
        .expect("manifest");
    stack.create_plan(&plan).await.expect("created");
    stack
        .wait_active("scotaccount", "eu-west-2", TIMEOUT)
        .await
        .expect("converged");
}

/// The value of one sample in Prometheus text, by metric name and label text.
fn sample(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_show_the_execution_its_steps_and_the_aws_calls_it_made() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    converged(&stack).await;

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved");
    let (status, metrics) = Stack::http_get(stack.http_port, "/metrics")
        .await
        .expect("scraped");

    assert_eq!(status, 200);
    assert_eq!(
        Stack::http_get(stack.http_port, "/readyz")
            .await
            .expect("readyz"),
        (200, "ready".to_string()),
        "the leader is ready once its caches synced"
    );
    assert_eq!(
        sample(
            &metrics,
            "commandbridge_executions_total",
            "outcome=\"Succeeded\""
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "commandbridge_failover_duration_seconds_count",
            "outcome=\"Succeeded\""
        ),
        Some(1.0)
    );
    for step in [
        "Preflight",
        "MaintenanceOn",
        "Database",
        "Dns",
        "Verify",
        "MaintenanceOff",
    ] {
        assert_eq!(
            sample(
                &metrics,
                "commandbridge_step_duration_seconds_count",
                &format!("step=\"{step}\"")
            ),
            Some(1.0),
            "{step}"
        );
    }
    assert_eq!(
        sample(
            &metrics,
            "commandbridge_aws_calls_total",
            "operation=\"SwitchoverGlobalCluster\""
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "commandbridge_aws_calls_total",
            "operation=\"StartDeployment\""
        ),
        Some(2.0)
    );
    assert!(
        sample(
            &metrics,
            "commandbridge_reconciles_total",
            "kind=\"FailoverPlan\""
        )
        .unwrap_or(0.0)
            >= 2.0
    );
    assert_eq!(sample(&metrics, "commandbridge_leader", ""), Some(1.0));
    assert_eq!(
        sample(&metrics, "commandbridge_audit_items_pending", "resource="),
        Some(0.0)
    );
}

#[tokio::test]
async fn aws_retries_are_counted_in_metrics() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    converged(&stack).await;
    stack
        .emulator
        .add_fault(
            commandbridge_testenv::Fault::new(
                "rds",
                "SwitchoverGlobalCluster",
                commandbridge_testenv::FaultKind::Throttle,
            )
            .times(2),
        )
        .await
        .expect("fault");

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved");
    let (_, metrics) = Stack::http_get(stack.http_port, "/metrics")
        .await
        .expect("scraped");

    assert_eq!(
        sample(
            &metrics,
            "commandbridge_aws_retries_total",
            "operation=\"SwitchoverGlobalCluster\""
        ),
        Some(2.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn standby_takes_over_and_finishes_the_execution_without_repeating_a_mutation() {
    let mut stack = Stack::start(1.5, TopologyKind::Global)
        .await
        .expect("stack");
    converged(&stack).await;
    let (mut standby, standby_port) = stack
        .spawn_operator(&[("POD_NAME", "standby")])
        .expect("standby");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        Stack::http_get(standby_port, "/readyz")
            .await
            .expect("readyz")
            .0,
        200,
        "a standby is ready"
    );

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_step("scotaccount", "Database", "Running", true)
        .await
        .expect("switchover in flight");
    let standby_quiet = !standby.logs().contains("step transition");
    stack
        .operator
        .take()
        .expect("leader")
        .kill()
        .expect("leader killed");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("the standby finished it");

    assert!(
        standby_quiet,
        "the standby did not act while the leader lived"
    );
    assert!(standby.logs().contains("became leader"));
    assert!(standby.logs().contains("resuming execution"));
    assert_eq!(
        stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls"),
        1
    );
    assert_eq!(
        stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls"),
        2
    );
    assert_eq!(
        stack
            .mutations("route53", "UpdateHealthCheck")
            .await
            .expect("calls"),
        2
    );
    standby.kill().expect("stopped");
}

#[tokio::test]
async fn sigterm_pauses_the_execution_and_releases_the_lease_for_the_next_leader() {
    let mut stack = Stack::start(1.5, TopologyKind::Global)
        .await
        .expect("stack");
    converged(&stack).await;

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_step("scotaccount", "Database", "Running", true)
        .await
        .expect("switchover in flight");
    let mut leader = stack.operator.take().expect("leader");
    let exit = leader.terminate().await.expect("terminated");
    let paused = leader.logs();
    stack.start_operator().expect("next leader");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("finished by the next leader");

    assert!(exit.success(), "graceful exit: {exit:?}");
    assert!(paused.contains("execution paused for shutdown"), "{paused}");
    assert!(paused.contains("lease released"), "{paused}");
    assert_eq!(
        stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls"),
        1
    );
}

#[tokio::test]
async fn aws_credentials_never_appear_in_the_logs() {
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY";
    let key_id = "AKIAZZZEXAMPLE4242";
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    let (mut operator, _) = stack
        .spawn_operator(&[
            ("AWS_ACCESS_KEY_ID", key_id),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"),
            ("RUST_LOG", "debug"),
            ("COMMANDBRIDGE_LOG_FORMAT", "json"),
            ("POD_NAME", "second"),
        ])
        .expect("operator");
    let mut stack = stack;
    stack
        .operator
        .take()
        .expect("first")
        .kill()
        .expect("killed");
    converged(&stack).await;

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved");
    let logs = operator.logs();

    assert!(logs.lines().count() > 50, "debug logs were written");
    for credential in [secret, key_id, "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"] {
        assert!(!logs.contains(credential), "a log line holds a credential");
    }
    operator.kill().expect("stopped");
}

/// The chart's ClusterRole, Role and bindings for a release named after the namespace, with
/// `without` (a resource and verb) taken out of the ClusterRole.
fn chart_rbac(namespace: &str, without: Option<(&str, &str)>) -> Vec<Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let helm = root.join("target/tools/bin/helm");
    assert!(
        helm.exists(),
        "{} is missing; run scripts/setup-tools.sh",
        helm.display()
    );
    let output = std::process::Command::new(helm)
        .args([
            "template",
            namespace,
            "charts/commandbridge-operator",
            "--namespace",
            namespace,
        ])
        .args([
            "--show-only",
            "templates/clusterrole.yaml",
            "--show-only",
            "templates/role.yaml",
        ])
        .current_dir(root)
        .output()
        .expect("helm runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut objects: Vec<Value> = text
        .split("\n---")
        .filter_map(|doc| serde_saphyr::from_str::<Value>(doc).ok())
        .filter(|v| v.is_object())
        .collect();
    if let Some((resource, verb)) = without {
        for object in objects.iter_mut().filter(|o| o["kind"] == "ClusterRole") {
            for rule in object["rules"].as_array_mut().expect("rules") {
                if rule["resources"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == resource))
                {
                    let verbs: Vec<Value> = rule["verbs"]
                        .as_array()
                        .expect("verbs")
                        .iter()
                        .filter(|v| *v != verb)
                        .cloned()
                        .collect();
                    rule["verbs"] = json!(verbs);
                }
            }
        }
    }
    objects
}

async fn apply_all(stack: &Stack, objects: &[Value]) {
    for object in objects {
        let kind = object["kind"].as_str().expect("kind");
        let gvk = GroupVersionKind::gvk("rbac.authorization.k8s.io", "v1", kind);
        let (resource, _) = kube::discovery::pinned_kind(&stack.client, &gvk)
            .await
            .expect("discovered");
        let name = object["metadata"]["name"].as_str().expect("name");
        let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(stack.client.clone(), ns, &resource),
            None => Api::all_with(stack.client.clone(), &resource),
        };
        api.patch(
            name,
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(object),
        )
        .await
        .expect("applied");
    }
}

/// Runs a switchover and a window with an operator limited to the chart's RBAC.
async fn run_with_chart_rbac(without: Option<(&str, &str)>) -> (bool, String) {
    let mut stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    stack
        .operator
        .take()
        .expect("admin operator")
        .kill()
        .expect("killed");
    let namespace = stack.namespace.clone();
    apply_all(&stack, &chart_rbac(&namespace, without)).await;
    let user = format!("system:serviceaccount:{namespace}:{namespace}-commandbridge-operator");
    let kubeconfig = stack.impersonating_kubeconfig(&user).expect("kubeconfig");
    let lease = format!("{namespace}-commandbridge-operator");
    let (mut operator, _) = stack
        .spawn_operator(&[
            ("KUBECONFIG", kubeconfig.to_str().expect("path")),
            ("COMMANDBRIDGE_LEASE_NAME", &lease),
        ])
        .expect("operator");

    let plan = stack
        .plan_manifest("scotaccount", "eu-west-2")
        .expect("manifest");
    stack.create_plan(&plan).await.expect("created");
    let converged = stack
        .wait_active("scotaccount", "eu-west-2", Duration::from_secs(20))
        .await
        .is_ok();
    let moved = converged && {
        stack
            .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
            .await
            .expect("patched");
        stack
            .wait_active("scotaccount", "eu-west-1", Duration::from_secs(30))
            .await
            .is_ok()
    };
    let window_done = moved && {
        stack.create_window("work", 1, 3).await.expect("window");
        stack.wait_flag(true).await.is_ok() && stack.wait_flag(false).await.is_ok()
    };
    let logs = operator.logs();
    operator.kill().expect("stopped");
    (window_done, logs)
}

#[tokio::test]
async fn the_charts_rbac_is_enough_for_a_failover_and_a_window() {
    let (done, logs) = run_with_chart_rbac(None).await;

    assert!(
        done,
        "failover and window completed with the chart's RBAC:\n{}",
        crate::support::tail(&logs, 40)
    );
    assert!(!logs.contains("forbidden"), "no request was forbidden");
}

#[tokio::test]
async fn a_verb_missing_from_the_charts_cluster_role_stops_the_operator() {
    let (done, logs) = run_with_chart_rbac(Some(("failoverplans/status", "patch"))).await;

    assert!(!done);
    assert!(
        logs.contains("cannot patch resource \\\"failoverplans/status\\\"")
            || logs.contains("cannot patch resource \"failoverplans/status\""),
        "{}",
        crate::support::tail(&logs, 20)
    );
}

#[tokio::test]
async fn readyz_stays_unready_while_the_caches_cannot_sync() {
    let mut stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    stack
        .operator
        .take()
        .expect("admin operator")
        .kill()
        .expect("killed");
    let namespace = stack.namespace.clone();
    apply_all(
        &stack,
        &chart_rbac(&namespace, Some(("maintenancewindows", "list"))),
    )
    .await;
    let user = format!("system:serviceaccount:{namespace}:{namespace}-commandbridge-operator");
    let kubeconfig = stack.impersonating_kubeconfig(&user).expect("kubeconfig");
    let lease = format!("{namespace}-commandbridge-operator");

    let (mut operator, port) = stack
        .spawn_operator(&[
            ("KUBECONFIG", kubeconfig.to_str().expect("path")),
            ("COMMANDBRIDGE_LEASE_NAME", &lease),
        ])
        .expect("operator");
    operator
        .wait_for_log("became leader", TIMEOUT)
        .await
        .expect("leader");
    tokio::time::sleep(Duration::from_secs(3)).await;

    assert_eq!(
        Stack::http_get(port, "/healthz").await.expect("healthz").0,
        200
    );
    assert_eq!(
        Stack::http_get(port, "/readyz").await.expect("readyz").0,
        503
    );
    operator.kill().expect("stopped");
}
