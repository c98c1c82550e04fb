//! Child processes: captured output, termination, and the guarantee that none outlives the
//! test process.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use commandbridge_testenv::OperatorProcess;
use commandbridge_testenv::process::pid_is_alive;

const HELPER_PID_FILE: &str = "COMMANDBRIDGE_TESTENV_HELPER_PID_FILE";

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

async fn wait_until_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !pid_is_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !pid_is_alive(pid)
}

#[tokio::test]
async fn process_output_goes_to_its_log_file() {
    let mut process = OperatorProcess::spawn(
        "/bin/sh",
        [
            "-c",
            "echo \"to stdout $GREETING\"; echo to stderr >&2; sleep 30",
        ],
        [("GREETING", "hello")],
    )
    .expect("process starts");

    process
        .wait_for_log("to stderr", Duration::from_secs(10))
        .await
        .expect("stderr reaches the log");

    let logs = process.logs();
    assert!(logs.contains("to stdout hello"), "{logs}");
    assert!(process.log_path().exists());
    assert!(process.is_running());
}

#[tokio::test]
async fn terminate_sends_sigterm_and_waits_for_exit() {
    let mut process = OperatorProcess::spawn(
        "/bin/sh",
        [
            "-c",
            "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done",
        ],
        no_env(),
    )
    .expect("process starts");
    process
        .wait_for_log("ready", Duration::from_secs(10))
        .await
        .expect("process is ready");

    let status = process.terminate().await.expect("process exits");

    assert_eq!(status.code(), Some(7));
    assert!(process.logs().contains("got TERM"));
    assert!(!process.is_running());
}

#[tokio::test]
async fn kill_stops_a_process_that_ignores_sigterm() {
    let mut process = OperatorProcess::spawn(
        "/bin/sh",
        [
            "-c",
            "trap '' TERM; echo ready; while true; do sleep 0.1; done",
        ],
        no_env(),
    )
    .expect("process starts");
    process
        .wait_for_log("ready", Duration::from_secs(10))
        .await
        .expect("process is ready");
    let pid = process.pid();

    let ignored = process.terminate_within(Duration::from_millis(500)).await;
    process.kill().expect("kill succeeds");

    assert!(ignored.is_err());
    assert!(!process.is_running());
    assert!(!pid_is_alive(pid));
}

#[tokio::test]
async fn dropping_a_process_handle_kills_the_process() {
    let process = OperatorProcess::spawn("/bin/sleep", ["30"], no_env()).expect("process starts");
    let pid = process.pid();

    drop(process);

    assert!(!pid_is_alive(pid));
}

#[tokio::test]
async fn process_outlives_the_thread_that_started_it() {
    let mut process = std::thread::spawn(|| {
        OperatorProcess::spawn("/bin/sleep", ["30"], no_env()).expect("process starts")
    })
    .join()
    .expect("spawning thread finishes");

    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(
        process.is_running(),
        "the process died with its spawning thread"
    );
}

#[tokio::test]
async fn missing_binary_gives_an_error_naming_it() {
    let binary = PathBuf::from("/nonexistent/commandbridge-operator");

    let result = OperatorProcess::spawn(&binary, ["--help"], no_env());

    let error = format!("{:#}", result.expect_err("spawn fails"));
    assert!(
        error.contains("/nonexistent/commandbridge-operator"),
        "{error}"
    );
}

/// Run as a child by `children_die_when_the_test_process_is_killed`: starts a long sleep
/// through this crate, reports its pid, then waits to be killed.
#[test]
#[ignore = "helper run as a separate process by another test"]
fn helper_starts_a_child_and_waits() {
    let Ok(pid_file) = std::env::var(HELPER_PID_FILE) else {
        return;
    };
    let log = std::path::Path::new(&pid_file).with_extension("log");
    let process = OperatorProcess::spawn_logging_to("/bin/sleep", ["120"], no_env(), log)
        .expect("child starts");
    std::fs::write(&pid_file, process.pid().to_string()).expect("pid file written");
    std::thread::sleep(Duration::from_secs(120));
}

#[tokio::test]
async fn children_die_when_the_test_process_is_killed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("child.pid");
    let mut helper = Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--exact", "helper_starts_a_child_and_waits", "--ignored"])
        .env(HELPER_PID_FILE, &pid_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("helper starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let child_pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "helper did not report its child");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let alive_before = pid_is_alive(child_pid);

    helper.kill().expect("SIGKILL to the helper");
    helper.wait().expect("helper reaped");

    assert!(alive_before);
    assert!(
        wait_until_gone(child_pid, Duration::from_secs(5)).await,
        "child {child_pid} outlived the killed test process"
    );
}
