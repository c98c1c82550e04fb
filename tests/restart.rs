//! The kube-apiserver and etcd restarted during executions: the operator reconnects and
//! finishes. A test binary of its own, because restarting the control plane would disturb the
//! tests that share it.

#[allow(dead_code)]
#[path = "e2e/support.rs"]
mod support;

use std::time::Duration;

use commandbridge_testenv::TopologyKind;
use serde_json::json;

use support::Stack;

#[tokio::test]
async fn executions_finish_across_api_server_and_etcd_restarts() {
    let stack = Stack::start(1.5, TopologyKind::Global)
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
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-1"}))
        .await
        .expect("patched");
    stack
        .wait_step("scotaccount", "MaintenanceOn", "Running", true)
        .await
        .expect("running");
    stack
        .control_plane()
        .restart_apiserver()
        .await
        .expect("kube-apiserver restarted");
    stack
        .wait_active("scotaccount", "eu-west-1", Duration::from_secs(120))
        .await
        .expect("finished after the API server restart");

    stack
        .patch_plan_spec("scotaccount", json!({"activeRegion": "eu-west-2"}))
        .await
        .expect("patched");
    stack
        .wait_step("scotaccount", "Database", "Running", true)
        .await
        .expect("running");
    stack
        .control_plane()
        .restart_etcd()
        .await
        .expect("etcd restarted");
    stack
        .wait_active("scotaccount", "eu-west-2", Duration::from_secs(120))
        .await
        .expect("finished after the etcd restart");

    assert_eq!(
        stack
            .mutations("rds", "SwitchoverGlobalCluster")
            .await
            .expect("calls"),
        2
    );
    assert_eq!(
        stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls"),
        4
    );
    assert_eq!(
        stack
            .mutations("route53", "UpdateHealthCheck")
            .await
            .expect("calls"),
        4
    );
}
