//! FailoverPlan end to end: executions against the emulator, checked through the emulator's
//! call log, the deployed flag, the audit table and the plan's status.

use std::time::Duration;

use commandbridge_testenv::{Fault, FaultKind, TopologyKind};
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

/// Counts of the mutations one switchover makes: one switchover, two health checks, two
/// flag versions and deployments (on and off).
async fn assert_one_switchover(stack: &Stack, switchovers: usize) {
    assert_eq!(
        stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls"),
        switchovers
    );
    assert_eq!(
        stack
            .mutations("route53", "UpdateHealthCheck")
            .await
            .expect("calls"),
        2 * switchovers
    );
    assert_eq!(
        stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls"),
        2 * switchovers
    );
    assert_eq!(
        stack
            .mutations("appconfig", "CreateHostedConfigurationVersion")
            .await
            .expect("calls"),
        2 * switchovers
    );
}

async fn converged_stack(
    transition: f64,
    topology: TopologyKind,
    customize: impl FnOnce(&mut commandbridge_operator::crd::FailoverPlan),
) -> Stack {
    let stack = Stack::start(transition, topology).await.expect("stack");
    let mut plan = stack
        .plan_manifest("scotaccount", "eu-west-2")
        .expect("manifest");
    customize(&mut plan);
    stack.create_plan(&plan).await.expect("created");
    stack
        .wait_active("scotaccount", "eu-west-2", TIMEOUT)
        .await
        .expect("converged at start");
    stack
}

#[tokio::test]
async fn killed_operator_resumes_every_waiting_step_without_repeating_a_mutation() {
    let mut stack = converged_stack(1.5, TopologyKind::Global, |_| {}).await;

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    for step in ["MaintenanceOn", "Database", "Dns", "MaintenanceOff"] {
        stack
            .wait_step("scotaccount", step, "Running", true)
            .await
            .expect("step waiting");
        stack
            .restart_operator()
            .expect("operator killed and restarted");
    }
    let moved = stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("resumed to the end");

    assert_one_switchover(&stack, 1).await;
    let execution = moved.status.and_then(|s| s.execution).expect("execution");
    let items = stack.audit_items(&execution.id).await.expect("audit");
    let mut keys: Vec<&str> = items.iter().map(|i| i["sk"].as_str()).collect();
    keys.dedup();
    assert_eq!(
        keys.len(),
        12,
        "one audit item per step transition: {keys:?}"
    );
    assert_eq!(
        stack.deployed_flag("maintenance_mode").await.expect("flag")["enabled"],
        false
    );
}

#[tokio::test]
async fn failover_with_data_loss_runs_while_the_old_primary_does_not_answer() {
    let stack = converged_stack(0.0, TopologyKind::Global, |plan| {
        plan.spec.mode = commandbridge_operator::crd::failover_plan::FailoverMode::Failover;
        plan.spec.allow_data_loss = true;
    })
    .await;
    stack
        .emulator
        .add_fault(
            Fault::new("rds", "*", FaultKind::ServerError)
                .in_region("eu-west-2")
                .times(1_000_000),
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
        .expect("failed over");

    let calls = stack.emulator.calls().await.expect("calls");
    let failovers: Vec<_> = calls
        .iter()
        .filter(|c| c.operation == "FailoverGlobalCluster" && c.succeeded())
        .collect();
    assert_eq!(failovers.len(), 1);
    assert_eq!(failovers[0].region, "eu-west-1");
    assert_eq!(failovers[0].params["AllowDataLoss"], "true");
    assert_eq!(
        stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls"),
        0
    );
}

#[tokio::test]
async fn read_replica_is_promoted_once_and_failback_is_refused_with_what_to_rebuild() {
    let stack = converged_stack(0.5, TopologyKind::Replica, |plan| {
        plan.spec.database.topology =
            commandbridge_operator::crd::failover_plan::DatabaseTopology::ReadReplica;
        plan.spec.database.global_cluster_identifier = None;
    })
    .await;

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("promoted");
    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-2"}))
        .await
        .expect("patched");
    let refused = stack
        .wait_plan("scotaccount", TIMEOUT, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "Stalled" && c.status == "True" && c.reason == "FailbackRefused"
                })
            })
        })
        .await
        .expect("failback refused");

    assert_eq!(
        stack
            .mutations("rds", "PromoteReadReplicaDBCluster")
            .await
            .expect("calls"),
        1
    );
    let message = refused.status.and_then(|s| s.message).unwrap_or_default();
    assert!(
        message.contains("Rebuild scotaccount-euw2 as a cross-region read replica"),
        "{message}"
    );
}

#[tokio::test]
async fn failed_preflight_blocks_a_switchover_and_names_the_check() {
    let stack = converged_stack(0.0, TopologyKind::Global, |_| {}).await;
    let standby = stack.topology.clusters["eu-west-1"].arn.clone();
    stack
        .emulator
        .set_synchronization_status(&standby, "pending-resync")
        .await
        .expect("sync status");

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    let failed = stack
        .wait_phase("scotaccount", "Failed")
        .await
        .expect("execution failed");

    let status = failed.status.expect("status");
    assert_eq!(status.steps[0].state, "Failed");
    assert!(
        status.steps[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("replication: scotaccount-euw1 is pending-resync")
    );
    assert!(condition_true(&status.conditions, "Stalled"));
    assert_eq!(
        stack.platform_mutations().await.expect("calls"),
        0,
        "nothing changed"
    );
}

#[tokio::test]
async fn approval_gate_waits_for_the_annotation_naming_the_execution() {
    let stack = converged_stack(0.0, TopologyKind::Global, |plan| {
        plan.spec.approval.required = true
    })
    .await;

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    let waiting = stack
        .wait_phase("scotaccount", "AwaitingApproval")
        .await
        .expect("waiting");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stack.platform_mutations().await.expect("calls"), 0);
    let execution = waiting
        .status
        .and_then(|s| s.execution_id)
        .expect("execution id shown");
    let annotations = json!({"metadata": {"annotations": {
        "ops.commandbridge.io/approve": execution, "ops.commandbridge.io/approved-by": "alice"}}});
    stack
        .plans()
        .patch(
            "scotaccount",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(annotations),
        )
        .await
        .expect("approved");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved after approval");

    let items = stack.audit_items(&execution).await.expect("audit");
    assert!(
        items.iter().all(|i| i["actor"] == "approved by alice"),
        "{items:?}"
    );
    assert_one_switchover(&stack, 1).await;
}

#[tokio::test]
async fn dry_run_lists_each_step_and_changes_nothing() {
    let stack = converged_stack(0.0, TopologyKind::Global, |plan| plan.spec.dry_run = true).await;

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    let planned = stack
        .wait_phase("scotaccount", "DryRun")
        .await
        .expect("dry run");

    let steps = planned.status.expect("status").steps;
    assert_eq!(
        steps.iter().map(|s| s.state.as_str()).collect::<Vec<_>>(),
        ["Planned"; 6]
    );
    assert!(
        steps[2]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("SwitchoverGlobalCluster scotaccount-global")
    );
    assert!(
        steps[3]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("Inverted=true")
    );
    assert_eq!(
        stack.emulator.calls().await.expect("calls").len(),
        0,
        "no mutating call at all"
    );
}

#[tokio::test]
async fn cooldown_holds_the_next_execution_until_it_ends() {
    let stack = converged_stack(0.0, TopologyKind::Global, |plan| {
        plan.spec.cooldown = "6s".into()
    })
    .await;
    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved");

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-2"}))
        .await
        .expect("patched");
    let cooling = stack
        .wait_phase("scotaccount", "CoolingDown")
        .await
        .expect("cooling down");
    let back = stack
        .wait_active("scotaccount", "eu-west-2", TIMEOUT)
        .await
        .expect("moved back after the cooldown");

    let first_end = cooling
        .status
        .and_then(|s| s.execution)
        .and_then(|e| e.finished_at)
        .expect("first end")
        .0;
    let second_start = back
        .status
        .and_then(|s| s.execution)
        .and_then(|e| e.started_at)
        .expect("second start")
        .0;
    assert!(second_start.duration_since(first_end).as_secs_f64() >= 6.0);
    assert_one_switchover(&stack, 2).await;
}

#[tokio::test]
async fn two_plans_on_one_global_cluster_never_execute_together() {
    let stack = converged_stack(1.0, TopologyKind::Global, |_| {}).await;
    let twin = stack
        .plan_manifest("scotaccount-twin", "eu-west-2")
        .expect("manifest");
    stack.create_plan(&twin).await.expect("created");
    stack
        .wait_active("scotaccount-twin", "eu-west-2", TIMEOUT)
        .await
        .expect("twin converged");

    let (a, b) = tokio::join!(
        stack.patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"})),
        stack.patch_plan_spec("scotaccount-twin", json!({"activeRegion": "eu-west-1"}))
    );
    a.expect("patched");
    b.expect("patched");
    let blocked = stack
        .wait_plan("scotaccount", TIMEOUT, |p| {
            p.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(|ph| ph.as_str() == "Blocked")
        })
        .await
        .ok()
        .or(None);
    let blocked_twin = stack
        .wait_plan("scotaccount-twin", Duration::from_secs(1), |p| {
            p.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(|ph| ph.as_str() == "Blocked")
        })
        .await
        .ok();
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("plan converged");
    stack
        .wait_active("scotaccount-twin", "eu-west-1", TIMEOUT)
        .await
        .expect("twin converged");

    let message = blocked
        .or(blocked_twin)
        .and_then(|p| p.status)
        .and_then(|s| s.message)
        .unwrap_or_default();
    assert!(
        message.contains("LOCK#") && message.contains("is held by"),
        "the blocked plan says who holds the lock: {message}"
    );
    assert_one_switchover(&stack, 1).await;
}

#[tokio::test]
async fn flag_stays_on_after_an_execution_while_a_window_holds_it() {
    let stack = converged_stack(0.0, TopologyKind::Global, |_| {}).await;
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(5);
    let window: commandbridge_operator::crd::MaintenanceWindow = serde_json::from_value(json!({
        "apiVersion": "ops.commandbridge.io/v1alpha1", "kind": "MaintenanceWindow",
        "metadata": {"name": "hold"},
        "spec": {"start": start.to_string(), "end": (start + jiff::SignedDuration::from_secs(600)).to_string(),
                 "flag": {"application": "scotaccount", "environment": "production", "profile": "feature-flags",
                          "deploymentStrategy": "commandbridge-immediate"}}
    }))
    .expect("window");
    kube::Api::<commandbridge_operator::crd::MaintenanceWindow>::namespaced(
        stack.client.clone(),
        &stack.namespace,
    )
    .create(&kube::api::PostParams::default(), &window)
    .await
    .expect("window created");
    stack
        .wait_flag(true)
        .await
        .expect("window turned the flag on");

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    let moved = stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved");

    let off = moved
        .status
        .expect("status")
        .steps
        .pop()
        .expect("MaintenanceOff");
    assert!(
        off.message
            .as_deref()
            .unwrap_or_default()
            .ends_with("/hold holds the flag"),
        "{off:?}"
    );
    assert_eq!(
        stack.deployed_flag("maintenance_mode").await.expect("flag")["enabled"],
        true
    );
    assert_eq!(
        stack.deployed_flag("webauthn").await.expect("flag"),
        json!({"enabled": false})
    );
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_without_extra_mutations() {
    let stack = converged_stack(0.0, TopologyKind::Global, |_| {}).await;
    for fault in [
        Fault::new("rds", "SwitchoverGlobalCluster", FaultKind::Throttle).times(3),
        Fault::new("appconfig", "StartDeployment", FaultKind::ServerError).times(2),
        Fault::new("route53", "*", FaultKind::Throttle).times(4),
        Fault::new("rds", "DescribeGlobalClusters", FaultKind::ServerError).times(8),
    ] {
        stack.emulator.add_fault(fault).await.expect("fault");
    }

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved despite the faults");

    let calls = stack.emulator.calls().await.expect("calls");
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.operation == "SwitchoverGlobalCluster" && c.fault.is_some())
            .count(),
        3
    );
    assert_one_switchover(&stack, 1).await;
}

#[tokio::test]
async fn audit_items_wait_in_status_while_the_table_is_unreachable_and_are_written_later() {
    let stack = converged_stack(1.0, TopologyKind::Global, |_| {}).await;
    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_step("scotaccount", "MaintenanceOn", "Running", false)
        .await
        .expect("running");
    stack
        .emulator
        .add_fault(Fault::new("dynamodb", "PutItem", FaultKind::ServerError).times(1_000_000))
        .await
        .expect("fault");

    let pending = stack
        .wait_plan("scotaccount", TIMEOUT, |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.pending_audit.len() >= 2)
        })
        .await
        .expect("items kept in status");
    stack.emulator.clear_faults().await.expect("faults cleared");
    let moved = stack
        .wait_active("scotaccount", "eu-west-1", TIMEOUT)
        .await
        .expect("moved");

    assert!(
        pending
            .status
            .expect("status")
            .pending_audit
            .iter()
            .all(|i| i.pk.starts_with("EXECUTION#"))
    );
    let status = moved.status.expect("status");
    assert!(
        status.pending_audit.is_empty(),
        "{:?}",
        status.pending_audit
    );
    let execution = status.execution.expect("execution");
    assert_eq!(
        stack.audit_items(&execution.id).await.expect("audit").len(),
        12
    );
}

#[tokio::test]
async fn invalid_plan_is_stalled_with_the_field_and_the_fix_and_nothing_is_called() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    let mut plan = stack
        .plan_manifest("broken", "eu-west-2")
        .expect("manifest");
    plan.spec.regions[1] = plan.spec.regions[0].clone();

    stack
        .create_plan(&plan)
        .await
        .expect("accepted by a server without CEL");
    let stalled = stack
        .wait_phase("broken", "Invalid")
        .await
        .expect("stalled");

    let status = stalled.status.expect("status");
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled")
        .expect("Stalled");
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("True", "InvalidSpec")
    );
    assert!(
        condition
            .message
            .contains("spec.regions: the two regions must differ; change one of them"),
        "{}",
        condition.message
    );
    assert!(stack.emulator.calls().await.expect("calls").is_empty());
}

#[tokio::test]
async fn plan_command_previews_the_steps_without_changing_anything() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    let mut plan = stack
        .plan_manifest("preview", "eu-west-1")
        .expect("manifest");
    plan.metadata.namespace = None;
    let file = std::env::temp_dir().join(format!("plan-{}.yaml", stack.namespace));
    std::fs::write(&file, serde_saphyr::to_string(&plan).expect("yaml")).expect("written");
    let mut broken = plan.clone();
    broken.spec.allow_data_loss = true;
    let broken_file = std::env::temp_dir().join(format!("plan-broken-{}.yaml", stack.namespace));
    std::fs::write(
        &broken_file,
        serde_saphyr::to_string(&broken).expect("yaml"),
    )
    .expect("written");
    let run = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_commandbridge-operator"))
            .args(["--log-format", "text", "plan"])
            .arg(path)
            .envs(stack.emulator.aws_env())
            .output()
            .expect("runs")
    };

    let preview = run(&file);
    let refused = run(&broken_file);

    let text = String::from_utf8_lossy(&preview.stdout);
    assert!(
        preview.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&preview.stderr)
    );
    assert!(
        text.contains("writer: eu-west-2   dns: eu-west-2   desired: eu-west-1"),
        "{text}"
    );
    assert!(
        text.contains("3. Database        SwitchoverGlobalCluster scotaccount-global"),
        "{text}"
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(
            "spec.allowDataLoss: allowDataLoss: true is only allowed with mode: Failover"
        )
    );
    assert!(
        stack
            .emulator
            .calls()
            .await
            .expect("calls")
            .iter()
            .all(|c| c.service == "dynamodb"),
        "no mutating call"
    );
}

#[tokio::test]
async fn standby_ready_names_the_failing_check_between_executions() {
    let stack = converged_stack(0.0, TopologyKind::Global, |plan| {
        plan.spec.preflight.interval = "10s".into()
    })
    .await;
    let ready = stack
        .plans()
        .get("scotaccount")
        .await
        .expect("plan")
        .status
        .expect("status");
    let standby = stack.topology.clusters["eu-west-1"].arn.clone();

    stack
        .emulator
        .set_synchronization_status(&standby, "pending-resync")
        .await
        .expect("broken standby");
    let broken = stack
        .wait_plan("scotaccount", Duration::from_secs(30), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "StandbyReady" && c.status == "False")
            })
        })
        .await
        .expect("standby reported broken");

    let before = ready
        .conditions
        .iter()
        .find(|c| c.type_ == "StandbyReady")
        .expect("condition");
    assert_eq!(before.status, "True");
    let after = broken
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.type_ == "StandbyReady")
        .expect("condition");
    assert_eq!(after.reason, "CheckFailed");
    assert!(
        after
            .message
            .contains("replication: scotaccount-euw1 is pending-resync"),
        "{}",
        after.message
    );
    assert_eq!(stack.platform_mutations().await.expect("calls"), 0);
}
