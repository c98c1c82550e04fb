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
