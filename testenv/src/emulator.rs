//! The project's AWS emulator as a child process, one per test, and a typed client for
//! its control API (`/_emulator/...`).
//!
//! The emulator is the Python package in `<workspace>/emulator`, run with the interpreter
//! of `<workspace>/target/emulator-venv` (made by `scripts/setup-emulator.sh`) or the one
//! named by `COMMANDBRIDGE_EMULATOR_PYTHON`. It listens on a free loopback port and prints
//! `listening on http://127.0.0.1:PORT` as its first line of output.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tempfile::TempDir;

use crate::control_plane::workspace_root;
use crate::process::{self, ManagedChild};

/// How long the emulator may take to print its address and answer its health check.
pub const EMULATOR_START_TIMEOUT: Duration = Duration::from_secs(30);

/// The region the emulator's clients use by default.
pub const DEFAULT_REGION: &str = "eu-west-2";

const LOG_TAIL_LINES: usize = 30;

/// Options for [`Emulator::start_with`].
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Seconds the emulated resources spend in transitional states.
    pub transition_seconds: f64,
    /// The Python interpreter. `None`: `COMMANDBRIDGE_EMULATOR_PYTHON`, else
    /// `<workspace>/target/emulator-venv/bin/python`.
    pub python: Option<PathBuf>,
    /// The folder holding the `commandbridge_emulator` package. `None`:
    /// `<workspace>/emulator`.
    pub package_dir: Option<PathBuf>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            transition_seconds: 0.0,
            python: None,
            package_dir: None,
        }
    }
}

/// A running AWS emulator. Dropping it stops the process.
#[derive(Debug)]
pub struct Emulator {
    // Declared first so the process stops before its log folder is removed.
    child: ManagedChild,
    dir: Option<TempDir>,
    log: PathBuf,
    endpoint: String,
    http: reqwest::Client,
}

/// The interpreter used when none is given.
pub fn default_python() -> PathBuf {
    match std::env::var_os("COMMANDBRIDGE_EMULATOR_PYTHON") {
        Some(python) if !python.is_empty() => PathBuf::from(python),
        _ => workspace_root()
            .join("target")
            .join("emulator-venv")
            .join("bin")
            .join("python"),
    }
}

fn parse_listening_line(line: &str) -> Option<String> {
    let url = line.trim().strip_prefix("listening on ")?.trim();
    url.starts_with("http://").then(|| url.to_owned())
}

impl Emulator {
    /// Starts an emulator whose resources spend `transition_seconds` in transitional states.
    pub async fn start(transition_seconds: f64) -> Result<Emulator> {
        Self::start_with(EmulatorOptions {
            transition_seconds,
            ..EmulatorOptions::default()
        })
        .await
    }

    /// Starts an emulator with explicit options.
    pub async fn start_with(options: EmulatorOptions) -> Result<Emulator> {
        let python = options.python.unwrap_or_else(default_python);
        if !python.exists() {
            bail!(
                "the emulator's Python interpreter {} does not exist; run `scripts/setup-emulator.sh` \
                 from the repository root (it creates target/emulator-venv), or set \
                 COMMANDBRIDGE_EMULATOR_PYTHON to a Python that can import commandbridge_emulator",
                python.display()
            );
        }
        let package_dir = options
            .package_dir
            .unwrap_or_else(|| workspace_root().join("emulator"));
        let dir = tempfile::Builder::new()
            .prefix("commandbridge-emulator-")
            .tempdir()
            .context("creating the emulator's temporary folder")?;
        let log = dir.path().join("emulator.log");

        let mut command = Command::new(&python);
        command
            .args([
                "-m",
                "commandbridge_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .arg("--transition-seconds")
            .arg(options.transition_seconds.to_string())
            .env("PYTHONPATH", &package_dir)
            .env("PYTHONUNBUFFERED", "1")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(process::log_file(&log)?);
        let mut child = ManagedChild::spawn("AWS emulator", command)?;

        let started = Self::await_listening(&mut child, &log).await;
        let endpoint = match started {
            Ok(endpoint) => endpoint,
            Err(error) => {
                drop(child);
                let kept = dir.keep();
                return Err(error.context(format!(
                    "starting the AWS emulator (logs kept in {})",
                    kept.display()
                )));
            }
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            // No pooled connections: an emulator may be used from more than one runtime.
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .context("building an HTTP client")?;
        let mut emulator = Emulator {
            child,
            dir: Some(dir),
            log,
            endpoint,
            http,
        };
        if let Err(error) = emulator.await_healthy().await {
            let kept = emulator.dir.take().map(TempDir::keep);
            return Err(error.context(format!(
                "starting the AWS emulator (logs kept in {})",
                kept.unwrap_or_default().display()
            )));
        }
        Ok(emulator)
    }

    async fn await_listening(child: &mut ManagedChild, log: &Path) -> Result<String> {
        let stdout = child
            .child_mut()
            .stdout
            .take()
            .ok_or_else(|| anyhow!("the emulator's stdout was not captured"))?;
        let (first_line_sender, first_line) = tokio::sync::oneshot::channel();
        let log_path = log.to_path_buf();
        // Reads the address line, then copies the rest of stdout into the log until the
        // process exits.
        std::thread::Builder::new()
            .name("emulator-stdout".to_owned())
            .spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                let first = lines.next().and_then(|line| line.ok());
                let _ = first_line_sender.send(first);
                let Ok(mut log) = process::log_file(&log_path) else {
                    return;
                };
                for line in lines.map_while(|line| line.ok()) {
                    let _ = writeln!(log, "{line}");
                }
            })
            .context("starting the emulator's output reader")?;

        let line = match tokio::time::timeout(EMULATOR_START_TIMEOUT, first_line).await {
            Ok(Ok(Some(line))) => line,
            Ok(_) => {
                let status = child.wait_async(Duration::from_secs(2)).await;
                bail!(
                    "the emulator closed its output before printing its address (exit: {status:?}); \
                     last lines of {}:\n{}",
                    log.display(),
                    process::tail(log, LOG_TAIL_LINES)
                );
            }
            Err(_) => bail!(
                "the emulator printed no address within {EMULATOR_START_TIMEOUT:?}; last lines of {}:\n{}",
                log.display(),
                process::tail(log, LOG_TAIL_LINES)
            ),
        };
        parse_listening_line(&line).ok_or_else(|| {
            anyhow!(
                "the emulator's first line was {line:?}, expected `listening on http://127.0.0.1:PORT`"
            )
        })
    }

    async fn await_healthy(&mut self) -> Result<()> {
        let deadline = Instant::now() + EMULATOR_START_TIMEOUT;
        let url = self.url("/_emulator/health");
        loop {
            if let Some(status) = self.child.try_exit_status() {
                bail!(
                    "the emulator exited ({status}) before it was healthy; last lines of {}:\n{}",
                    self.log.display(),
                    process::tail(&self.log, LOG_TAIL_LINES)
                );
            }
            if let Ok(response) = self.http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the emulator at {} was not healthy within {EMULATOR_START_TIMEOUT:?}",
                    self.endpoint
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The emulator's base URL, for `AWS_ENDPOINT_URL` or an SDK's endpoint override.
    pub fn endpoint_url(&self) -> String {
        self.endpoint.clone()
    }

    /// The emulator's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The file holding the emulator's output.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Environment variables that point an AWS SDK process at this emulator.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", DEFAULT_REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint.trim_end_matches('/'))
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("emulator request {what}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("emulator request {what} answered {status}: {body}");
        }
        Ok(response)
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T> {
        let response = self.send(request, what).await?;
        let body = response
            .text()
            .await
            .with_context(|| format!("reading the answer to emulator request {what}"))?;
        serde_json::from_str(&body)
            .with_context(|| format!("decoding the answer to emulator request {what}: {body}"))
    }

    /// `GET /_emulator/health`: whether the emulator answers `{"status":"ok"}`.
    pub async fn health(&self) -> Result<bool> {
        let body: Value = self
            .send_json(
                self.http.get(self.url("/_emulator/health")),
                "GET /_emulator/health",
            )
            .await?;
        Ok(body.get("status").and_then(Value::as_str) == Some("ok"))
    }

    /// Changes how long resources spend in transitional states.
    pub async fn set_transition_seconds(&self, seconds: f64) -> Result<()> {
        let body = serde_json::json!({ "transition_seconds": seconds });
        self.send(
            self.http.put(self.url("/_emulator/config")).json(&body),
            "PUT /_emulator/config",
        )
        .await
        .map(drop)
    }

    /// The mutating AWS calls received so far, oldest first.
    pub async fn calls(&self) -> Result<Vec<Call>> {
        let body: CallsResponse = self
            .send_json(
                self.http.get(self.url("/_emulator/calls")),
                "GET /_emulator/calls",
            )
            .await?;
        Ok(body.calls)
    }

    /// Forgets the recorded calls.
    pub async fn clear_calls(&self) -> Result<()> {
        self.send(
            self.http.delete(self.url("/_emulator/calls")),
            "DELETE /_emulator/calls",
        )
        .await
        .map(drop)
    }

    /// How many recorded calls of `service`/`operation` succeeded (2xx).
    pub async fn count(&self, service: &str, operation: &str) -> Result<usize> {
        Ok(count_successful(&self.calls().await?, service, operation))
    }

    /// Injects a fault into matching calls.
    pub async fn add_fault(&self, fault: Fault) -> Result<()> {
        self.send(
            self.http.post(self.url("/_emulator/faults")).json(&fault),
            "POST /_emulator/faults",
        )
        .await
        .map(drop)
    }

    /// Removes every injected fault.
    pub async fn clear_faults(&self) -> Result<()> {
        self.send(
            self.http.delete(self.url("/_emulator/faults")),
            "DELETE /_emulator/faults",
        )
        .await
        .map(drop)
    }

    /// Makes every AWS call fail for `seconds`.
    pub async fn outage(&self, seconds: f64) -> Result<()> {
        let body = serde_json::json!({ "seconds": seconds });
        self.send(
            self.http.post(self.url("/_emulator/outage")).json(&body),
            "POST /_emulator/outage",
        )
        .await
        .map(drop)
    }

    /// Sets whether the endpoint behind a Route 53 health check is healthy.
    pub async fn set_endpoint_health(&self, health_check_id: &str, healthy: bool) -> Result<()> {
        let path = format!("/_emulator/route53/health-checks/{health_check_id}/endpoint");
        let body = serde_json::json!({ "healthy": healthy });
        self.send(
            self.http.put(self.url(&path)).json(&body),
            &format!("PUT {path}"),
        )
        .await
        .map(drop)
    }

    /// Sets the synchronization status of a global-cluster member, e.g. `pending-resync`.
    pub async fn set_synchronization_status(&self, cluster_arn: &str, status: &str) -> Result<()> {
        let body = serde_json::json!({
            "cluster_arn": cluster_arn,
            "synchronization_status": status,
        });
        self.send(
            self.http
                .put(self.url("/_emulator/rds/members"))
                .json(&body),
            "PUT /_emulator/rds/members",
        )
        .await
        .map(drop)
    }

    /// The configuration currently deployed for an AppConfig application, environment and
    /// profile (by id).
    pub async fn deployed_config(
        &self,
        application_id: &str,
        environment_id: &str,
        profile_id: &str,
    ) -> Result<DeployedConfig> {
        let request = self
            .http
            .get(self.url("/_emulator/appconfig/deployed"))
            .query(&[
                ("application", application_id),
                ("environment", environment_id),
                ("profile", profile_id),
            ]);
        self.send_json(request, "GET /_emulator/appconfig/deployed")
            .await
    }

    /// Creates the platform's resources (DNS, health checks, databases, AppConfig, audit
    /// table) and describes them.
    pub async fn seed(&self, options: SeedOptions) -> Result<Topology> {
        self.send_json(
            self.http.post(self.url("/_emulator/seed")).json(&options),
            "POST /_emulator/seed",
        )
        .await
    }

    /// Forgets all state: resources, calls, faults and outages.
    pub async fn reset(&self) -> Result<()> {
        self.send(
            self.http.post(self.url("/_emulator/reset")),
            "POST /_emulator/reset",
        )
        .await
        .map(drop)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.stop(Duration::from_secs(2));
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!(
                "commandbridge-testenv: AWS emulator logs kept in {}",
                kept.display()
            );
        }
    }
}

#[derive(Debug, Deserialize)]
struct CallsResponse {
    calls: Vec<Call>,
}

/// One mutating AWS call the emulator received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// Seconds since the emulator started.
    pub time: f64,
    /// `rds`, `route53`, `appconfig`, `appconfigdata` or `dynamodb`.
    pub service: String,
    /// The API operation, e.g. `SwitchoverGlobalCluster`.
    pub operation: String,
    /// The region the call was sent to.
    pub region: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The kind of fault injected into this call, if any.
    #[serde(default)]
    pub fault: Option<String>,
    /// The call's parameters.
    #[serde(default)]
    pub params: Value,
}

impl Call {
    /// Whether the call was answered with a 2xx status.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// How many of `calls` are `service`/`operation` and succeeded (2xx).
pub fn count_successful(calls: &[Call], service: &str, operation: &str) -> usize {
    calls
        .iter()
        .filter(|call| call.service == service && call.operation == operation && call.succeeded())
        .count()
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A throttling error.
    Throttle,
    /// An HTTP 500.
    ServerError,
    /// The answer is delayed by `latency_ms`.
    Latency,
    /// An access-denied error.
    AccessDenied,
    /// A not-found error.
    NotFound,
    /// The operation starts but rolls back.
    Rollback,
}

/// A fault to inject with [`Emulator::add_fault`]. `*` matches any service, operation or
/// region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// `rds`, `route53`, `appconfig`, `appconfigdata`, `dynamodb` or `*`.
    pub service: String,
    /// An operation name or `*`.
    pub operation: String,
    /// A region or `*`.
    pub region: String,
    /// What happens to matching calls.
    pub kind: FaultKind,
    /// How many matching calls are affected; `None` leaves it to the emulator's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The delay for [`FaultKind::Latency`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

impl Fault {
    /// A fault for `service`/`operation` in every region, affecting one call.
    pub fn new(service: &str, operation: &str, kind: FaultKind) -> Self {
        Self {
            service: service.to_owned(),
            operation: operation.to_owned(),
            region: "*".to_owned(),
            kind,
            count: Some(1),
            latency_ms: None,
        }
    }

    /// Restricts the fault to one region.
    pub fn in_region(mut self, region: &str) -> Self {
        self.region = region.to_owned();
        self
    }

    /// Affects `count` matching calls.
    pub fn times(mut self, count: u32) -> Self {
        self.count = Some(count);
        self
    }

    /// Sets the delay (for [`FaultKind::Latency`]).
    pub fn latency_ms(mut self, latency_ms: u64) -> Self {
        self.latency_ms = Some(latency_ms);
        self
    }
}

/// The shape of the seeded database layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopologyKind {
    /// An Aurora global database with a member cluster per region.
    Global,
    /// A primary cluster with a cross-region read replica.
    Replica,
}

/// What [`Emulator::seed`] creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedOptions {
    /// The database layer.
    pub topology: TopologyKind,
    /// TTL of the failover DNS records, in seconds.
    pub dns_ttl: u32,
    /// Name of the DynamoDB audit table.
    pub audit_table: String,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            topology: TopologyKind::Global,
            dns_ttl: 5,
            audit_table: "commandbridge-audit".to_owned(),
        }
    }
}

/// The resources created by [`Emulator::seed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// The emulated AWS account.
    pub account_id: String,
    /// The Route 53 hosted zone.
    pub hosted_zone_id: String,
    /// The zone's name, with the trailing dot.
    pub zone_name: String,
    /// The failover record pairs.
    pub records: Vec<FailoverRecord>,
    /// Health-check ids by region.
    pub health_checks: BTreeMap<String, Vec<String>>,
    /// The Aurora global cluster, for the global topology.
    pub global_cluster_id: Option<String>,
    /// The database cluster in each region.
    pub clusters: BTreeMap<String, ClusterRef>,
    /// The AppConfig resources.
    pub appconfig: AppConfigRefs,
    /// The DynamoDB audit table.
    pub audit_table: String,
}

/// A primary/secondary pair of Route 53 failover records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverRecord {
    /// The record name, with the trailing dot.
    pub name: String,
    /// The record type, e.g. `CNAME`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// The PRIMARY failover record.
    pub primary: FailoverTarget,
    /// The SECONDARY failover record.
    pub secondary: FailoverTarget,
}

/// One side of a failover record pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverTarget {
    /// The set identifier (the region).
    pub set_identifier: String,
    /// The record value.
    pub value: String,
    /// The associated health check.
    #[serde(default)]
    pub health_check_id: Option<String>,
}

/// A database cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRef {
    /// The cluster identifier.
    pub identifier: String,
    /// The cluster ARN.
    pub arn: String,
}

/// The seeded AppConfig resources, by name and by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppConfigRefs {
    /// Application name.
    pub application: String,
    /// Environment name.
    pub environment: String,
    /// Configuration profile name.
    pub profile: String,
    /// Deployment strategy name.
    pub deployment_strategy: String,
    /// Application id.
    pub application_id: String,
    /// Environment id.
    pub environment_id: String,
    /// Configuration profile id.
    pub profile_id: String,
    /// Deployment strategy id.
    pub deployment_strategy_id: String,
}

/// The configuration deployed to an AppConfig environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployedConfig {
    /// The hosted configuration version deployed.
    pub version_number: u64,
    /// The deployment's number.
    pub deployment_number: u64,
    /// The deployment's state, e.g. `COMPLETE`.
    pub state: String,
    /// The deployed content.
    pub content: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line_gives_the_endpoint() {
        let line = "listening on http://127.0.0.1:40123\n";

        let endpoint = parse_listening_line(line);

        assert_eq!(endpoint.as_deref(), Some("http://127.0.0.1:40123"));
    }

    #[test]
    fn other_first_lines_are_refused() {
        let line = "Traceback (most recent call last):";

        let endpoint = parse_listening_line(line);

        assert_eq!(endpoint, None);
    }

    #[test]
    fn fault_serialises_to_the_control_api_shape() {
        let fault = Fault::new("rds", "SwitchoverGlobalCluster", FaultKind::ServerError)
            .in_region("eu-west-2")
            .times(2);

        let json = serde_json::to_value(&fault).expect("fault serialises");

        assert_eq!(
            json,
            serde_json::json!({
                "service": "rds",
                "operation": "SwitchoverGlobalCluster",
                "region": "eu-west-2",
                "kind": "server_error",
                "count": 2
            })
        );
    }

    #[test]
    fn seed_answer_deserialises_into_a_topology() {
        let answer = serde_json::json!({
            "account_id": "123456789012", "hosted_zone_id": "Z1", "zone_name": "scotaccount.gov.scot.",
            "records": [{"name": "portal.scotaccount.gov.scot.", "type": "CNAME", "ttl": 5,
                "primary": {"set_identifier": "eu-west-2", "value": "portal.eu-west-2.scotaccount.internal", "health_check_id": "hc1"},
                "secondary": {"set_identifier": "eu-west-1", "value": "portal.eu-west-1.scotaccount.internal", "health_check_id": "hc2"}}],
            "health_checks": {"eu-west-2": ["hc1"], "eu-west-1": ["hc2"]},
            "global_cluster_id": null,
            "clusters": {"eu-west-2": {"identifier": "scotaccount-euw2", "arn": "arn:aws:rds:eu-west-2:123456789012:cluster:scotaccount-euw2"}},
            "appconfig": {"application": "scotaccount", "environment": "production", "profile": "feature-flags",
                "deployment_strategy": "commandbridge-immediate", "application_id": "a", "environment_id": "e",
                "profile_id": "p", "deployment_strategy_id": "d"},
            "audit_table": "commandbridge-audit"
        });

        let topology: Topology = serde_json::from_value(answer).expect("topology decodes");

        assert_eq!(topology.records[0].record_type, "CNAME");
        assert_eq!(topology.global_cluster_id, None);
        assert_eq!(
            topology.clusters["eu-west-2"].identifier,
            "scotaccount-euw2"
        );
    }

    #[test]
    fn count_considers_only_successful_matching_calls() {
        let call = |operation: &str, status: u16| Call {
            seq: 1,
            time: 0.0,
            service: "rds".to_owned(),
            operation: operation.to_owned(),
            region: "eu-west-2".to_owned(),
            status,
            fault: None,
            params: Value::Null,
        };
        let calls = vec![
            call("SwitchoverGlobalCluster", 200),
            call("SwitchoverGlobalCluster", 500),
            call("FailoverGlobalCluster", 200),
        ];

        let count = count_successful(&calls, "rds", "SwitchoverGlobalCluster");

        assert_eq!(count, 1);
    }
}
