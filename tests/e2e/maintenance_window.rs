//! MaintenanceWindow end to end: the flag follows windows of a few seconds, read back from the
//! configuration the emulator has deployed.

use std::time::Duration;

use commandbridge_testenv::TopologyKind;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::support::Stack;

fn seconds(at: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(at.as_second()).expect("in range")
}

async fn phase(stack: &Stack, name: &str) -> String {
    let window = stack.windows().get(name).await.expect("window");
    window
        .status
        .and_then(|s| s.phase)
        .map(|p| format!("{p:?}"))
        .unwrap_or_default()
}

async fn wait_phase(stack: &Stack, name: &str, wanted: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while phase(stack, name).await != wanted {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never became {wanted}: {}",
            stack.operator_logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn flag_is_on_from_window_start_to_end_and_other_flags_are_untouched() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");

    let (start, end) = stack.create_window("work", 3, 7).await.expect("window");
    wait_phase(&stack, "work", "Scheduled").await;
    stack.wait_flag(true).await.expect("flag on");
    let on_at = jiff::Timestamp::now();
    stack.wait_flag(false).await.expect("flag off");
    let off_at = jiff::Timestamp::now();
    wait_phase(&stack, "work", "Completed").await;

    assert!(
        on_at >= start && on_at.duration_since(start).as_secs_f64() < 3.0,
        "on at {on_at}, start {start}"
    );
    assert!(
        off_at >= end && off_at.duration_since(end).as_secs_f64() < 3.0,
        "off at {off_at}, end {end}"
    );
    assert_eq!(
        stack.deployed_flag("new_login_flow").await.expect("flag"),
        json!({"enabled": true})
    );
    let items = stack
        .audit_of(&format!(
            "WINDOW#{}/work#{}",
            stack.namespace,
            seconds(start)
        ))
        .await
        .expect("audit");
    let states: Vec<&str> = items.iter().map(|i| i["state"].as_str()).collect();
    assert_eq!(
        states,
        ["Off", "On"],
        "one item per change, keyed by the window start"
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
async fn overlapping_windows_hold_the_flag_until_the_last_one_ends() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");

    stack.create_window("first", 2, 6).await.expect("window");
    let (_, last_end) = stack.create_window("second", 4, 11).await.expect("window");
    wait_phase(&stack, "first", "Completed").await;
    let still_on = stack.deployed_flag("maintenance_mode").await.expect("flag")["enabled"].clone();
    stack.wait_flag(false).await.expect("flag off at the end");

    assert_eq!(
        still_on, true,
        "the second window still holds the flag when the first ends"
    );
    assert!(jiff::Timestamp::now() >= last_end);
    assert_eq!(
        stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls"),
        2,
        "one on, one off"
    );
}

#[tokio::test]
async fn operator_down_across_the_window_end_turns_the_flag_off_when_it_returns() {
    let mut stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    let (start, end) = stack.create_window("work", 2, 6).await.expect("window");
    stack.wait_flag(true).await.expect("flag on");
    stack
        .operator
        .take()
        .expect("operator")
        .kill()
        .expect("killed");

    tokio::time::sleep(Duration::from_secs(8)).await;
    let on_while_down =
        stack.deployed_flag("maintenance_mode").await.expect("flag")["enabled"].clone();
    stack.start_operator().expect("restarted");
    stack
        .wait_flag(false)
        .await
        .expect("flag off after restart");

    assert_eq!(on_while_down, true);
    let items = stack
        .audit_of(&format!(
            "WINDOW#{}/work#{}",
            stack.namespace,
            seconds(start)
        ))
        .await
        .expect("audit");
    let off = items
        .iter()
        .find(|i| i["state"] == "Off")
        .expect("off item");
    assert_eq!(
        off.get("dueAt").map(String::as_str),
        Some(seconds(end).to_string().as_str()),
        "says when it should have happened"
    );
    assert!(off["at"] > off["dueAt"], "and when it did: {off:?}");
}

#[tokio::test]
async fn operator_restarted_mid_window_keeps_the_flag_on_without_a_second_change() {
    let mut stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    stack.create_window("work", 1, 12).await.expect("window");
    stack.wait_flag(true).await.expect("flag on");

    stack.restart_operator().expect("restarted");
    tokio::time::sleep(Duration::from_secs(3)).await;

    assert_eq!(phase(&stack, "work").await, "Active");
    assert_eq!(
        stack.deployed_flag("maintenance_mode").await.expect("flag")["enabled"],
        true
    );
    assert_eq!(
        stack
            .mutations("appconfig", "StartDeployment")
            .await
            .expect("calls"),
        1
    );
}

#[tokio::test]
async fn suspending_an_open_window_ends_it() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    stack.create_window("work", 0, 600).await.expect("window");
    stack.wait_flag(true).await.expect("flag on");

    stack
        .windows()
        .patch(
            "work",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .expect("suspended");
    stack.wait_flag(false).await.expect("flag off");

    wait_phase(&stack, "work", "Suspended").await;
}

#[tokio::test]
async fn deleting_an_open_window_turns_the_flag_off_unless_another_holds_it() {
    let stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    stack.create_window("short", 0, 600).await.expect("window");
    stack.create_window("long", 0, 900).await.expect("window");
    wait_phase(&stack, "short", "Active").await;
    wait_phase(&stack, "long", "Active").await;

    stack
        .windows()
        .delete("short", &DeleteParams::default())
        .await
        .expect("deleted");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = stack.deployed_flag("maintenance_mode").await.expect("flag")["enabled"].clone();
    stack
        .windows()
        .delete("long", &DeleteParams::default())
        .await
        .expect("deleted");
    stack
        .wait_flag(false)
        .await
        .expect("flag off after the last delete");

    assert_eq!(held, true, "the other window still held the flag");
    let gone = stack.windows().get_opt("long").await.expect("read");
    assert!(gone.is_none(), "the finalizer was removed");
}
