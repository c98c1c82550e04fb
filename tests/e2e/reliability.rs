//! AWS faults during an execution: an endpoint that stops answering, slow calls, and
//! permanent errors that must stop the execution before DNS moves.

use std::time::{Duration, Instant};

use commandbridge_testenv::{Fault, FaultKind, TopologyKind};
use serde_json::json;

use crate::support::Stack;

async fn converged(transition: f64) -> Stack {
    let stack = Stack::start(transition, TopologyKind::Global)
        .await
        .expect("stack");
    let plan = stack
        .plan_manifest("scotaccount", "eu-west-2")
        .expect("manifest");
    stack.create_plan(&plan).await.expect("created");
    stack
        .wait_active("scotaccount", "eu-west-2", Duration::from_secs(60))
        .await
        .expect("converged");
    stack
}

#[tokio::test]
async fn execution_survives_the_aws_endpoint_down_for_twenty_seconds() {
    let stack = converged(1.0).await;
    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_step("scotaccount", "Database", "Running", false)
        .await
        .expect("database step");

    let started = Instant::now();
    stack.emulator.outage(20.0).await.expect("outage");
    stack
        .wait_active("scotaccount", "eu-west-1", Duration::from_secs(120))
        .await
        .expect("finished after the outage");

    assert!(started.elapsed() >= Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "finished within 90 s: {:?}",
        started.elapsed()
    );
    assert_eq!(
        stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls"),
        1
    );
    assert_eq!(
        stack
            .mutations("route53", "UpdateHealthCheck")
            .await
            .expect("calls"),
        2
    );
}

#[tokio::test]
async fn execution_survives_two_seconds_of_latency_per_call() {
    let stack = converged(0.0).await;
    for service in ["rds", "route53", "appconfig"] {
        stack
            .emulator
            .add_fault(
                Fault::new(service, "*", FaultKind::Latency)
                    .latency_ms(2000)
                    .times(5),
            )
            .await
            .expect("fault");
    }

    let started = Instant::now();
    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_active("scotaccount", "eu-west-1", Duration::from_secs(120))
        .await
        .expect("moved");

    assert!(started.elapsed() >= Duration::from_secs(2));
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
}

#[tokio::test]
async fn access_denied_fails_the_step_with_the_aws_message_and_dns_never_moves() {
    let stack = converged(0.0).await;
    stack
        .emulator
        .add_fault(Fault::new("rds", "SwitchoverGlobalCluster", FaultKind::AccessDenied).times(1))
        .await
        .expect("fault");

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    let failed = stack
        .wait_phase("scotaccount", "Failed")
        .await
        .expect("failed");

    let status = failed.status.expect("status");
    let database = status
        .steps
        .iter()
        .find(|s| s.name == "Database")
        .expect("step");
    assert_eq!(database.state, "Failed");
    assert!(
        database
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("rds SwitchoverGlobalCluster: AccessDenied"),
        "{database:?}"
    );
    assert!(
        status
            .steps
            .iter()
            .filter(|s| s.name == "Dns" || s.name == "Verify")
            .all(|s| s.state == "Pending")
    );
    assert_eq!(
        stack
            .mutations("route53", "UpdateHealthCheck")
            .await
            .expect("calls"),
        0,
        "no DNS moved without the writer"
    );
    assert_eq!(
        stack.deployed_flag("maintenance_mode").await.expect("flag")["enabled"],
        true,
        "left in maintenance for a person to look"
    );
}

/// Runs switchovers back and forth, killing the operator with SIGKILL at a random moment of
/// each and starting it again. `COMMANDBRIDGE_KILL_RUNS` sets the number of runs (default 5).
#[tokio::test]
async fn operator_killed_at_random_moments_moves_the_platform_exactly_once_each_time() {
    let runs: usize = std::env::var("COMMANDBRIDGE_KILL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut stack = converged(0.5).await;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos() as u64;
    let (mut converged_runs, mut repeated, mut audit_problems) = (0, 0, 0);

    for run in 1..=runs {
        let target = if run % 2 == 1 {
            "eu-west-1"
        } else {
            "eu-west-2"
        };
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let kill_after = Duration::from_millis(200 + (seed >> 33) % 5000);
        stack
            .patch_plan_spec("scotaccount", json!({"activeRegion": target}))
            .await
            .expect("patched");
        tokio::time::sleep(kill_after).await;
        stack.restart_operator().expect("killed and restarted");
        let done = stack
            .wait_active("scotaccount", target, Duration::from_secs(120))
            .await;

        if let Ok(plan) = done {
            converged_runs += 1;
            let execution = plan.status.and_then(|s| s.execution).expect("execution");
            let items = stack.audit_items(&execution.id).await.expect("audit");
            if items.len() != 12 {
                audit_problems += 1;
            }
        }
        let switchovers = stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls");
        let deployments = stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls");
        let checks = stack
            .mutations("route53", "UpdateHealthCheck")
            .await
            .expect("calls");
        if (switchovers, deployments, checks) != (run, 2 * run, 2 * run) {
            repeated += 1;
        }
        eprintln!(
            "run {run}: killed after {kill_after:?}; switchovers {switchovers}, deployments {deployments}, health check updates {checks}"
        );
    }

    println!(
        "kill test: {runs} runs, {converged_runs} converged, {repeated} repeated mutations, {audit_problems} lost or duplicate audit items"
    );
    assert_eq!((converged_runs, repeated, audit_problems), (runs, 0, 0));
}

/// Two operators, as two clusters (one per region) run them, each with a plan on the same
/// global cluster and hosted zone, changed at the same instant: the lock in DynamoDB lets
/// exactly one execute.
#[tokio::test]
async fn two_operators_with_plans_on_one_global_cluster_execute_exactly_once() {
    let stack = converged(1.0).await;
    let other_namespace = commandbridge_testenv::TestNamespace::create(&stack.client, "e2e-other")
        .await
        .expect("namespace");
    let (mut other, _) = stack
        .spawn_operator(&[
            ("COMMANDBRIDGE_NAMESPACE", other_namespace.name()),
            ("POD_NAMESPACE", other_namespace.name()),
            ("COMMANDBRIDGE_CLUSTER_NAME", "eu-west-1-cluster"),
            ("POD_NAME", "other-cluster"),
        ])
        .expect("second operator");
    let mut twin = stack
        .plan_manifest("scotaccount", "eu-west-2")
        .expect("manifest");
    twin.metadata.namespace = Some(other_namespace.name().to_string());
    let others: kube::Api<commandbridge_operator::crd::FailoverPlan> =
        kube::Api::namespaced(stack.client.clone(), other_namespace.name());
    others
        .create(&kube::api::PostParams::default(), &twin)
        .await
        .expect("twin created");
    let ready_twin = |region: &'static str| {
        let others = others.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
            loop {
                let plan = others.get("scotaccount").await.expect("read");
                let status = plan.status.unwrap_or_default();
                if status.active_region.as_deref() == Some(region)
                    && status
                        .conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                    && status.observed_generation == plan.metadata.generation
                {
                    return status;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "twin never became Ready in {region}: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    ready_twin("eu-west-2").await;

    let patch = kube::api::Patch::Merge(json!({"spec": {"activeRegion": "eu-west-1"}}));
    let params = kube::api::PatchParams::default();
    let (a, b) = tokio::join!(
        stack.patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"})),
        others.patch("scotaccount", &params, &patch)
    );
    a.expect("patched");
    b.expect("patched");
    let mine = stack
        .wait_active("scotaccount", "eu-west-1", Duration::from_secs(90))
        .await
        .expect("converged");
    let theirs = ready_twin("eu-west-1").await;

    assert_eq!(
        stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls"),
        1,
        "exactly one executed"
    );
    assert_eq!(
        stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls"),
        2
    );
    let executed = [mine.status.and_then(|s| s.execution), theirs.execution]
        .into_iter()
        .flatten()
        .filter(|e| e.generation == 2 && e.outcome == "Succeeded")
        .count();
    assert_eq!(
        executed, 1,
        "the other plan found the platform already moved"
    );
    other.kill().expect("stopped");
}
