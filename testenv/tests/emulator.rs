//! The AWS emulator as a process and its control API. Needs `scripts/setup-emulator.sh`.

use commandbridge_testenv::process::pid_is_alive;
use commandbridge_testenv::{Emulator, Fault, FaultKind, SeedOptions, TopologyKind};

const AUDIT_TABLE: &str = "commandbridge-audit";

/// Sends a DynamoDB PutItem for the audit table the way an SDK would (the emulator reads the
/// region from the credential scope and does not check signatures).
async fn put_audit_item(emulator: &Emulator, id: &str) -> reqwest::StatusCode {
    let body =
        serde_json::json!({"TableName": AUDIT_TABLE, "Item": {"pk": {"S": id}, "sk": {"S": id}}});
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
        .post(emulator.endpoint_url())
        .header("X-Amz-Target", "DynamoDB_20120810.PutItem")
        .header("Content-Type", "application/x-amz-json-1.0")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20240101/eu-west-2/dynamodb/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .expect("PutItem is answered")
        .status()
}

#[tokio::test]
async fn emulator_starts_on_a_loopback_port_and_is_healthy() {
    let emulator = Emulator::start(0.0).await.expect("emulator starts");

    let healthy = emulator.health().await.expect("health answers");

    assert!(healthy);
    assert!(emulator.endpoint_url().starts_with("http://127.0.0.1:"));
    let env = emulator.aws_env();
    assert!(env.contains(&("AWS_ENDPOINT_URL".to_owned(), emulator.endpoint_url())));
    assert!(env.contains(&("AWS_REGION".to_owned(), "eu-west-2".to_owned())));
}

#[tokio::test]
async fn seed_describes_the_global_topology() {
    let emulator = Emulator::start(0.0).await.expect("emulator starts");

    let topology = emulator.seed(SeedOptions::default()).await.expect("seed");

    assert_eq!(
        topology.global_cluster_id.as_deref(),
        Some("scotaccount-global")
    );
    assert_eq!(topology.records.len(), 2);
    assert_eq!(topology.records[0].ttl, 5);
    assert_eq!(topology.records[0].primary.set_identifier, "eu-west-2");
    assert_eq!(topology.health_checks["eu-west-1"].len(), 2);
    assert!(
        topology.clusters["eu-west-1"]
            .arn
            .starts_with("arn:aws:rds:eu-west-1:")
    );
    assert_eq!(topology.audit_table, AUDIT_TABLE);
}

#[tokio::test]
async fn seed_with_a_replica_topology_has_no_global_cluster() {
    let emulator = Emulator::start(0.0).await.expect("emulator starts");
    let options = SeedOptions {
        topology: TopologyKind::Replica,
        dns_ttl: 30,
        ..SeedOptions::default()
    };

    let topology = emulator.seed(options).await.expect("seed");

    assert_eq!(topology.global_cluster_id, None);
    assert_eq!(topology.records[0].ttl, 30);
}

#[tokio::test]
async fn calls_are_recorded_and_count_only_successes() {
    let emulator = Emulator::start(0.0).await.expect("emulator starts");
    emulator.seed(SeedOptions::default()).await.expect("seed");
    let fault = Fault::new("dynamodb", "PutItem", FaultKind::ServerError).times(1);
    emulator.add_fault(fault).await.expect("fault added");

    let failed = put_audit_item(&emulator, "first").await;
    let succeeded = put_audit_item(&emulator, "second").await;

    let calls = emulator.calls().await.expect("calls");
    let count = emulator.count("dynamodb", "PutItem").await.expect("count");
    assert_eq!(failed.as_u16(), 500);
    assert!(succeeded.is_success(), "{succeeded}");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].fault.as_deref(), Some("server_error"));
    assert_eq!(calls[1].region, "eu-west-2");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn clearing_calls_and_faults_starts_afresh() {
    let emulator = Emulator::start(0.0).await.expect("emulator starts");
    emulator.seed(SeedOptions::default()).await.expect("seed");
    emulator
        .add_fault(Fault::new("*", "*", FaultKind::Throttle).times(100))
        .await
        .expect("fault added");
    put_audit_item(&emulator, "throttled").await;

    emulator.clear_calls().await.expect("calls cleared");
    emulator.clear_faults().await.expect("faults cleared");
    let status = put_audit_item(&emulator, "accepted").await;

    let calls = emulator.calls().await.expect("calls");
    assert!(status.is_success(), "{status}");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].fault, None);
}

#[tokio::test]
async fn control_endpoints_accept_the_documented_requests() {
    let emulator = Emulator::start(0.0).await.expect("emulator starts");
    let topology = emulator.seed(SeedOptions::default()).await.expect("seed");
    let health_check = topology.health_checks["eu-west-2"][0].clone();
    let member = topology.clusters["eu-west-1"].arn.clone();
    let appconfig = &topology.appconfig;

    let transition = emulator.set_transition_seconds(1.5).await;
    let endpoint_health = emulator.set_endpoint_health(&health_check, false).await;
    let sync = emulator
        .set_synchronization_status(&member, "pending-resync")
        .await;
    let deployed = emulator
        .deployed_config(
            &appconfig.application_id,
            &appconfig.environment_id,
            &appconfig.profile_id,
        )
        .await;
    let outage = emulator.outage(1.0).await;
    let reset = emulator.reset().await;

    assert!(transition.is_ok(), "{transition:?}");
    assert!(endpoint_health.is_ok(), "{endpoint_health:?}");
    assert!(sync.is_ok(), "{sync:?}");
    assert!(deployed.is_ok(), "{deployed:?}");
    assert!(outage.is_ok(), "{outage:?}");
    assert!(reset.is_ok(), "{reset:?}");
}

#[tokio::test]
async fn dropping_the_emulator_stops_its_process() {
    let emulator = Emulator::start(0.0).await.expect("emulator starts");
    let pid = emulator.pid();

    drop(emulator);

    assert!(!pid_is_alive(pid));
}
