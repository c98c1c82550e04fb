//! FailoverPlan end to end: executions against the emulator, checked through the emulator's
//! call log, the deployed flag, the audit table and the plan's status.

use std::time::Duration;

use commandbridge_testenv::TopologyKind;
use serde_json::json;

use crate::support::{Stack, condition_true};

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn switchover_moves_writer_dns_and_flag_and_back_with_one_call_per_step() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    let plan = stack
        .plan_manifest("scotaccount", "eu-west-2")
        .expect("manifest");
    stack.create_plan(&plan).await.expect("created");
    stack
        .wait_active("scotaccount", "eu-west-2", TIMEOUT)
        .await
        .expect("converged at start");
    assert_eq!(
        stack
            .emulator
            .calls()
            .await
            .expect("calls")
            .iter()
            .filter(|c| c.service != "dynamodb")
            .count(),
        0,
        "a converged plan makes no mutating call"
    );

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    let moved = stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved to eu-west-1");

    let status = moved.status.expect("status");
    let execution = status.execution.clone().expect("execution");
    assert_eq!(execution.outcome, "Succeeded");
    assert_eq!(
        status
            .steps
            .iter()
            .map(|s| s.state.as_str())
            .collect::<Vec<_>>(),
        ["Succeeded"; 6]
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
    assert_eq!(
        stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls"),
        2
    );
    assert_eq!(
        stack
            .mutations("appconfig", "CreateHostedConfigurationVersion")
            .await
            .expect("calls"),
        2
    );
    assert_eq!(
        stack.deployed_flag("maintenance_mode").await.expect("flag")["enabled"],
        false
    );
    assert_eq!(
        stack.deployed_flag("new_login_flow").await.expect("flag"),
        json!({"enabled": true})
    );
    let items = stack.audit_items(&execution.id).await.expect("audit");
    assert_eq!(items.len(), 12, "one item per step transition: {items:?}");
    assert!(condition_true(&status.conditions, "Ready"));
    assert_eq!(
        status.observed.and_then(|o| o.writer_region).as_deref(),
        Some("eu-west-1")
    );

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-2"}))
        .await
        .expect("patched");
    stack
        .wait_active("scotaccount", "eu-west-2", TIMEOUT)
        .await
        .expect("moved back to eu-west-2");

    assert_eq!(
        stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls"),
        2
    );
    assert_eq!(
        stack
            .mutations("route53", "UpdateHealthCheck")
            .await
            .expect("calls"),
        4
    );
    assert_eq!(
        stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls"),
        4
    );
}
