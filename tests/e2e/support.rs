//! The stack every end-to-end test runs on: the shared kube-apiserver of this test binary, an
//! emulator of its own seeded with the ScotAccount topology, a namespace of its own, and the
//! operator as a real process watching only that namespace.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use commandbridge_operator::crd::{FailoverPlan, MaintenanceWindow};
use commandbridge_testenv::{
    ControlPlane, Emulator, OperatorProcess, SeedOptions, TestNamespace, Topology, TopologyKind,
    install_crds,
};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

pub struct Stack {
    pub client: kube::Client,
    pub emulator: Emulator,
    pub topology: Topology,
    pub namespace: String,
    pub operator: Option<OperatorProcess>,
    /// Port of the operator's /healthz, /readyz and /metrics.
    pub http_port: u16,
    control_plane: &'static ControlPlane,
}

impl Stack {
    /// Starts a stack whose emulator takes `transition` seconds for each AWS transition.
    pub async fn start(transition: f64, topology: TopologyKind) -> Result<Stack> {
        let control_plane = ControlPlane::shared().await?;
        let client = control_plane.client()?;
        install_crds(&client, &commandbridge_operator::crd::all()).await?;
        let emulator = Emulator::start(transition).await?;
        let topology = emulator
            .seed(SeedOptions {
                topology,
                dns_ttl: 1,
                audit_table: "commandbridge-audit".into(),
            })
            .await?;
        let namespace = TestNamespace::create(&client, "e2e")
            .await?
            .name()
            .to_string();
        let mut stack = Stack {
            client,
            emulator,
            topology,
            namespace,
            operator: None,
            http_port: 0,
            control_plane,
        };
        stack.start_operator()?;
        Ok(stack)
    }

    pub fn start_operator(&mut self) -> Result<()> {
        let (operator, port) = self.spawn_operator(&[])?;
        self.operator = Some(operator);
        self.http_port = port;
        Ok(())
    }

    /// Starts one more operator process with `extra` environment variables on top of the
    /// stack's; returns it and the port of its HTTP endpoints.
    pub fn spawn_operator(&self, extra: &[(&str, &str)]) -> Result<(OperatorProcess, u16)> {
        let port = commandbridge_testenv::free_port()?;
        let mut envs = self.control_plane.kube_env();
        envs.extend(self.emulator.aws_env());
        envs.push(("COMMANDBRIDGE_NAMESPACE".into(), self.namespace.clone()));
        envs.push(("POD_NAMESPACE".into(), self.namespace.clone()));
        envs.push(("COMMANDBRIDGE_LEASE_SECONDS".into(), "4".into()));
        envs.push(("COMMANDBRIDGE_POLL_INTERVAL".into(), "200ms".into()));
        envs.push((
            "COMMANDBRIDGE_HTTP_ADDR".into(),
            format!("127.0.0.1:{port}"),
        ));
        envs.push(("COMMANDBRIDGE_LOG_FORMAT".into(), "text".into()));
        envs.push((
            "RUST_LOG".into(),
            "info,commandbridge_operator=debug".into(),
        ));
        for (key, value) in extra {
            envs.retain(|(k, _)| k != key);
            envs.push((key.to_string(), value.to_string()));
        }
        let operator =
            OperatorProcess::spawn(env!("CARGO_BIN_EXE_commandbridge-operator"), ["run"], envs)?;
        Ok((operator, port))
    }

    /// A GET of the operator's HTTP endpoint `path`: status and body.
    pub async fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
        let response = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// A kubeconfig that acts as `user` through impersonation (as `kubectl --as` does).
    pub fn impersonating_kubeconfig(&self, user: &str) -> Result<std::path::PathBuf> {
        let path = self
            .control_plane
            .kubeconfig_path()
            .context("a local control plane")?;
        let mut config: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        for entry in config["users"].as_array_mut().context("users")? {
            entry["user"]["as"] = json!(user);
        }
        let out = std::env::temp_dir().join(format!(
            "kubeconfig-{}-{}",
            self.namespace,
            user.replace(':', "-")
        ));
        std::fs::write(&out, serde_json::to_vec(&config)?)?;
        Ok(out)
    }

    /// Kills the operator with SIGKILL and starts a new one.
    pub fn restart_operator(&mut self) -> Result<()> {
        if let Some(mut operator) = self.operator.take() {
            operator.kill()?;
        }
        self.start_operator()
    }

    /// Used by the restart test binary, which shares this module.
    #[allow(dead_code)]
    pub fn control_plane(&self) -> &'static ControlPlane {
        self.control_plane
    }

    pub fn operator_logs(&self) -> String {
        self.operator.as_ref().map(|o| o.logs()).unwrap_or_default()
    }

    pub fn plans(&self) -> Api<FailoverPlan> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn windows(&self) -> Api<MaintenanceWindow> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates a one-off window from `opens` to `closes` seconds from now.
    pub async fn create_window(
        &self,
        name: &str,
        opens: i64,
        closes: i64,
    ) -> Result<(jiff::Timestamp, jiff::Timestamp)> {
        let now = jiff::Timestamp::now();
        let (start, end) = (
            now + jiff::SignedDuration::from_secs(opens),
            now + jiff::SignedDuration::from_secs(closes),
        );
        let window: MaintenanceWindow = serde_json::from_value(json!({
            "apiVersion": "ops.commandbridge.io/v1alpha1", "kind": "MaintenanceWindow",
            "metadata": {"name": name},
            "spec": {"start": start.to_string(), "end": end.to_string(), "message": "planned work",
                     "flag": {"application": "scotaccount", "environment": "production", "profile": "feature-flags",
                              "deploymentStrategy": "commandbridge-immediate"}}
        }))?;
        self.windows()
            .create(&PostParams::default(), &window)
            .await?;
        Ok((start, end))
    }

    /// Audit items of one key (`WINDOW#...` or `EXECUTION#...`).
    pub async fn audit_of(
        &self,
        pk: &str,
    ) -> Result<Vec<std::collections::HashMap<String, String>>> {
        let clients = self.aws_clients().await;
        Ok(commandbridge_operator::audit::AuditLog::new(&clients)
            .items_of(pk)
            .await?)
    }

    /// The example FailoverPlan, pointed at this stack's hosted zone.
    pub fn plan_manifest(&self, name: &str, active_region: &str) -> Result<FailoverPlan> {
        let mut plan: FailoverPlan =
            serde_saphyr::from_str(include_str!("../../examples/failoverplan.yaml"))?;
        plan.metadata.name = Some(name.into());
        plan.metadata.namespace = Some(self.namespace.clone());
        plan.spec.active_region = active_region.into();
        plan.spec.dns.hosted_zone_id = self.topology.hosted_zone_id.clone();
        plan.spec.cooldown = "0s".into();
        Ok(plan)
    }

    pub async fn create_plan(&self, plan: &FailoverPlan) -> Result<FailoverPlan> {
        Ok(self.plans().create(&PostParams::default(), plan).await?)
    }

    pub async fn patch_plan_spec(&self, name: &str, spec: Value) -> Result<()> {
        self.plans()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await?;
        Ok(())
    }

    /// Waits until the plan's status satisfies `check`, returning it.
    pub async fn wait_plan<F>(
        &self,
        name: &str,
        timeout: Duration,
        check: F,
    ) -> Result<FailoverPlan>
    where
        F: Fn(&FailoverPlan) -> bool,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let plan = self.plans().get(name).await?;
            if check(&plan) {
                return Ok(plan);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "plan {name} did not reach the expected state in {timeout:?}; status: {}\noperator log:\n{}",
                    serde_json::to_string_pretty(&plan.status).unwrap_or_default(),
                    tail(&self.operator_logs(), 60)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until step `step` of the plan's execution is in `state` (and, with `mutated`, has
    /// recorded that its mutating call started).
    pub async fn wait_step(
        &self,
        name: &str,
        step: &str,
        state: &str,
        mutated: bool,
    ) -> Result<FailoverPlan> {
        self.wait_plan(name, Duration::from_secs(60), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.steps.iter().any(|st| {
                    st.name == step
                        && st.state == state
                        && (!mutated || st.mutation_started_at.is_some())
                })
            })
        })
        .await
    }

    pub async fn wait_phase(&self, name: &str, phase: &str) -> Result<FailoverPlan> {
        self.wait_plan(name, Duration::from_secs(60), |p| {
            p.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(|ph| ph.as_str() == phase)
        })
        .await
    }

    /// Every mutating call the emulator answered with success, except audit and lock writes.
    pub async fn platform_mutations(&self) -> Result<usize> {
        Ok(self
            .emulator
            .calls()
            .await?
            .iter()
            .filter(|c| c.service != "dynamodb" && c.succeeded())
            .count())
    }

    /// Waits until the plan is Ready with `region` active and returns it.
    pub async fn wait_active(
        &self,
        name: &str,
        region: &str,
        timeout: Duration,
    ) -> Result<FailoverPlan> {
        self.wait_plan(name, timeout, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.active_region.as_deref() == Some(region)
                    && condition_true(&s.conditions, "Ready")
                    && s.observed_generation == p.metadata.generation
            })
        })
        .await
    }

    /// The value of `flag` in the configuration deployed to the environment.
    pub async fn deployed_flag(&self, flag: &str) -> Result<Value> {
        let app = &self.topology.appconfig;
        let deployed = self
            .emulator
            .deployed_config(&app.application_id, &app.environment_id, &app.profile_id)
            .await?;
        deployed
            .content
            .pointer(&format!("/values/{flag}"))
            .cloned()
            .context("flag missing from the deployed profile")
    }

    /// Waits until the deployed maintenance flag is `enabled`.
    pub async fn wait_flag(&self, enabled: bool) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            if self
                .deployed_flag("maintenance_mode")
                .await
                .ok()
                .and_then(|f| f["enabled"].as_bool())
                == Some(enabled)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "maintenance_mode never became {enabled}\noperator log:\n{}",
            tail(&self.operator_logs(), 40)
        )
    }

    /// The audit items of one execution, read back from the emulator's DynamoDB.
    pub async fn audit_items(
        &self,
        execution: &str,
    ) -> Result<Vec<std::collections::HashMap<String, String>>> {
        let clients = self.aws_clients().await;
        let audit = commandbridge_operator::audit::AuditLog::new(&clients);
        Ok(audit.items_of(&format!("EXECUTION#{execution}")).await?)
    }

    pub async fn aws_clients(&self) -> commandbridge_operator::config::AwsClients {
        let args = commandbridge_operator::config::AwsArgs {
            region: "eu-west-2".into(),
            aws_endpoint_url: Some(self.emulator.endpoint_url()),
            audit_table: "commandbridge-audit".into(),
            aws_max_attempts: 1,
        };
        let credentials = aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "emulator",
        );
        let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-2"))
            .endpoint_url(self.emulator.endpoint_url())
            .credentials_provider(credentials)
            .load()
            .await;
        commandbridge_operator::config::AwsClients::from_config(base, &args)
    }

    /// Number of successful mutating calls of `operation` the emulator received.
    pub async fn mutations(&self, service: &str, operation: &str) -> Result<usize> {
        self.emulator.count(service, operation).await
    }
}

pub fn condition_true(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
