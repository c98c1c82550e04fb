//! The operator's performance budget, measured on a local stack: a real kube-apiserver with
//! etcd, the AWS emulator seeded with the ScotAccount topology, and the operator binary as a
//! process: `--operator PATH`, by default `target/debug/commandbridge-operator` (the dev
//! profile the tests use). `scripts/bench.sh` passes the release build of the full form.
//!
//! Run it through `scripts/bench.sh [--short]`, which prepares the machine and builds. It
//! prints one table, each figure beside its budget with PASS or MISS, and exits 0 whether or
//! not a budget is met; it fails only when something does not work at all.
//!
//! Phases, each with an operator process of its own (the Lease lives in a namespace of the
//! phase, so no phase waits for the previous one's Lease):
//!
//! 1. idle: no FailoverPlan or MaintenanceWindow anywhere; VmRSS after it is steady, VmHWM.
//! 2. startup: one converged plan and one window without status exist; the time from spawning
//!    the operator to the first status write (seen through a watch).
//! 3. switchover: one plan; spec.activeRegion flipped with transitions of 0 s, then back with
//!    transitions of 2 s; wall time from the patch to Ready (watch). Then one annotation on
//!    the converged plan and one on a window, to count the AWS calls and status writes of a
//!    single converged reconcile.
//! 4. scale: N plans and N windows created before the operator starts; time until all have an
//!    up-to-date status; memory; then an observation window counting AWS calls (emulator
//!    `/_emulator/stats`) and resourceVersion changes (watch).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use commandbridge_testenv::{
    ControlPlane, Emulator, OperatorProcess, SeedOptions, Topology, TopologyKind, workspace_root,
};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{
    Api, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

const MIB: f64 = 1024.0;
/// TTL of the seeded records; the Dns step waits this long after the change took.
const DNS_TTL: u64 = 1;
/// Transition time of the second switchover.
const SLOW_TRANSITION: f64 = 2.0;
/// Requests in flight while creating the scale phase's objects.
const CREATE_CONCURRENCY: usize = 16;

struct Options {
    short: bool,
    plans: usize,
    observe: Duration,
    operator: Option<PathBuf>,
}

fn options() -> Result<Options> {
    let mut short = false;
    let mut plans = None;
    let mut observe = None;
    let mut operator = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--short" => short = true,
            "--plans" => plans = Some(args.next().context("--plans needs a value")?.parse()?),
            "--observe-seconds" => {
                observe = Some(Duration::from_secs(
                    args.next()
                        .context("--observe-seconds needs a value")?
                        .parse()?,
                ))
            }
            "--operator" => {
                operator = Some(PathBuf::from(
                    args.next().context("--operator needs a path")?,
                ))
            }
            "-h" | "--help" => {
                println!(
                    "bench [--short] [--plans N] [--observe-seconds S] [--operator PATH]\n\
                     full: 1000 plans + 1000 windows, 120 s observation; --short: 20 + 20, 20 s"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    Ok(Options {
        short,
        plans: plans.unwrap_or(if short { 20 } else { 1000 }),
        observe: observe.unwrap_or(Duration::from_secs(if short { 20 } else { 120 })),
        operator,
    })
}

/// One row of the result table.
struct Row {
    figure: String,
    value: String,
    budget: String,
    pass: Option<bool>,
    detail: String,
}

fn row(
    figure: impl Into<String>,
    value: impl Into<String>,
    budget: &str,
    pass: Option<bool>,
    detail: impl Into<String>,
) -> Row {
    Row {
        figure: figure.into(),
        value: value.into(),
        budget: budget.into(),
        pass,
        detail: detail.into(),
    }
}

struct Bench {
    started: Instant,
    root: PathBuf,
    control_plane: ControlPlane,
    client: kube::Client,
    emulator: Emulator,
    topology: Topology,
    http: reqwest::Client,
    operator: PathBuf,
    logs: PathBuf,
    notes: std::sync::Mutex<Vec<String>>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = options()?;
    let started = Instant::now();
    print_header(&options);

    let root = workspace_root();
    let operator = options
        .operator
        .clone()
        .unwrap_or_else(|| root.join("target/debug/commandbridge-operator"));
    if !operator.exists() {
        bail!(
            "{} is missing; run scripts/bench.sh, which builds it",
            operator.display()
        );
    }
    let logs = root.join("target/bench");
    std::fs::create_dir_all(&logs)?;

    say(started, "starting etcd and kube-apiserver");
    let control_plane = ControlPlane::start().await?;
    let client = control_plane.client()?;
    let crds = read_crds(&root)?;
    commandbridge_testenv::install_crds(&client, &crds).await?;
    say(started, "starting the AWS emulator");
    let emulator = Emulator::start(0.0).await?;
    let topology = emulator
        .seed(SeedOptions {
            topology: TopologyKind::Global,
            dns_ttl: DNS_TTL as u32,
            audit_table: "commandbridge-audit".into(),
        })
        .await?;
    let bench = Bench {
        started,
        root,
        control_plane,
        client,
        emulator,
        topology,
        http: reqwest::Client::new(),
        operator,
        logs,
        notes: Default::default(),
    };

    let mut rows = Vec::new();
    rows.extend(bench.idle().await?);
    rows.extend(bench.startup().await?);
    rows.extend(bench.switchover().await?);
    rows.extend(bench.scale(&options).await?);

    println!();
    print_table(&rows);
    for note in bench.notes.lock().unwrap().iter() {
        println!("note: {note}");
    }
    println!();
    println!(
        "operator logs: {}; total bench time {:.0} s",
        bench.logs.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

impl Bench {
    fn say(&self, text: impl AsRef<str>) {
        say(self.started, text)
    }

    async fn namespace(&self, name: &str) -> Result<String> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": name}}))?,
            )
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(name.to_string())
    }

    /// The operator as a process; `watch` limits it to one namespace, the Lease lives in
    /// `lease_namespace`.
    fn spawn_operator(
        &self,
        phase: &str,
        watch: Option<&str>,
        lease_namespace: &str,
    ) -> Result<OperatorProcess> {
        let mut envs = self.control_plane.kube_env();
        envs.extend(self.emulator.aws_env());
        if let Some(namespace) = watch {
            envs.push(("COMMANDBRIDGE_NAMESPACE".into(), namespace.into()));
        }
        envs.push(("POD_NAMESPACE".into(), lease_namespace.into()));
        envs.push(("POD_NAME".into(), format!("bench-{phase}")));
        envs.push(("COMMANDBRIDGE_HTTP_ADDR".into(), "127.0.0.1:0".into()));
        envs.push(("COMMANDBRIDGE_LOG_FORMAT".into(), "json".into()));
        envs.push(("RUST_LOG".into(), "info".into()));
        let log = self.logs.join(format!("operator-{phase}.log"));
        let _ = std::fs::remove_file(&log);
        OperatorProcess::spawn_logging_to(&self.operator, ["run"], envs, log)
    }

    fn plan(&self, namespace: &str, name: &str, region: &str) -> Result<Value> {
        let mut plan: Value = serde_saphyr::from_str(&std::fs::read_to_string(
            self.root.join("examples/failoverplan.yaml"),
        )?)?;
        plan["metadata"] = json!({"name": name, "namespace": namespace});
        plan["spec"]["activeRegion"] = json!(region);
        plan["spec"]["dns"]["hostedZoneId"] = json!(self.topology.hosted_zone_id);
        plan["spec"]["cooldown"] = json!("0s");
        Ok(plan)
    }

    /// The weekly example window, moved to a weekday three days from today so that it is not
    /// open while the bench runs.
    fn window(&self, namespace: &str, name: &str) -> Result<Value> {
        let mut window: Value = serde_saphyr::from_str(&std::fs::read_to_string(
            self.root.join("examples/maintenancewindow.yaml"),
        )?)?;
        let weekday = jiff::Zoned::now().weekday().to_sunday_zero_offset();
        window["metadata"] = json!({"name": name, "namespace": namespace});
        window["spec"]["schedule"] = json!(format!("0 2 * * {}", (weekday + 3) % 7));
        Ok(window)
    }

    /// SIGTERM, then SIGKILL when the operator has not exited within 5 s (noted in the output
    /// and in the table's notes).
    async fn stop(&self, operator: &mut OperatorProcess) {
        let asked = Instant::now();
        match operator.terminate_within(Duration::from_secs(5)).await {
            Ok(_) => self.say(format!(
                "  operator exited {:.2} s after SIGTERM",
                asked.elapsed().as_secs_f64()
            )),
            Err(_) => {
                let _ = operator.kill();
                self.say("  operator had not exited 5 s after SIGTERM; killed");
                self.notes.lock().unwrap().push(format!(
                    "{} did not exit within 5 s of SIGTERM (killed)",
                    operator.log_path().display()
                ));
            }
        }
    }

    async fn emulator_stats(&self) -> Result<Value> {
        Ok(self
            .http
            .get(format!("{}/_emulator/stats", self.emulator.endpoint_url()))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    async fn reset_stats(&self) -> Result<()> {
        self.http
            .delete(format!("{}/_emulator/stats", self.emulator.endpoint_url()))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Phase 3: switchover wall times, then one converged reconcile counted.
    async fn switchover(&self) -> Result<Vec<Row>> {
        let namespace = self.namespace("bench-switchover").await?;
        let plans = api(&self.client, &namespace, "FailoverPlan", "failoverplans");
        let windows = api(
            &self.client,
            &namespace,
            "MaintenanceWindow",
            "maintenancewindows",
        );
        plans
            .create(
                &PostParams::default(),
                &serde_json::from_value(self.plan(&namespace, "scotaccount", "eu-west-2")?)?,
            )
            .await?;
        windows
            .create(
                &PostParams::default(),
                &serde_json::from_value(self.window(&namespace, "weekly")?)?,
            )
            .await?;
        let mut operator = self.spawn_operator("switchover", Some(&namespace), &namespace)?;
        self.say("switchover: waiting for the plan to be Ready in eu-west-2");
        wait_object(&plans, "scotaccount", Duration::from_secs(120), |o| {
            plan_ready(o, "eu-west-2")
        })
        .await?;

        // Transitions of zero.
        self.emulator.set_transition_seconds(0.0).await?;
        self.emulator.clear_calls().await?;
        self.say("switchover: eu-west-2 -> eu-west-1, transitions 0 s");
        let fast = self.timed_switch(&plans, "eu-west-1").await?;
        let fast_transitions = self.transition_sum(0.0).await?;
        let fast_overhead = fast - fast_transitions.total;
        self.say(format!(
            "  Ready after {fast:.3} s; subtracting {}",
            fast_transitions.describe()
        ));

        // Transitions of 2 s each.
        self.emulator
            .set_transition_seconds(SLOW_TRANSITION)
            .await?;
        self.emulator.clear_calls().await?;
        self.say(format!(
            "switchover: eu-west-1 -> eu-west-2, transitions {SLOW_TRANSITION} s"
        ));
        let slow = self.timed_switch(&plans, "eu-west-2").await?;
        let slow_transitions = self.transition_sum(SLOW_TRANSITION).await?;
        let slow_overhead = slow - slow_transitions.total;
        self.say(format!(
            "  Ready after {slow:.3} s; subtracting {}",
            slow_transitions.describe()
        ));
        self.emulator.set_transition_seconds(0.0).await?;

        // One converged reconcile of the plan and of the window, counted.
        // An execution drops the operator's shared reads, so the first reconcile after it
        // reads the world and runs the standby checks: what every requeue at
        // spec.preflight.interval costs. The second one, within the interval, reads the world
        // only.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let settle = self.poke(&plans, "scotaccount").await?;
        self.say(format!(
            "  converged reconcile with standby checks: {} AWS reads {}, {} status writes",
            settle.reads, settle.breakdown, settle.writes
        ));
        let plan_poke = self.poke(&plans, "scotaccount").await?;
        self.poke(&windows, "weekly").await?;
        let window_poke = self.poke(&windows, "weekly").await?;
        self.say(format!(
            "  one converged plan reconcile: {} AWS reads {}, {} mutating, {} status writes",
            plan_poke.reads, plan_poke.breakdown, plan_poke.mutating, plan_poke.writes
        ));
        self.say(format!(
            "  one window reconcile: {} AWS reads {}, {} mutating, {} status writes",
            window_poke.reads, window_poke.breakdown, window_poke.mutating, window_poke.writes
        ));
        self.stop(&mut operator).await;

        let mut rows = vec![
            row(
                "switchover overhead, transitions 0 s (spec change to Ready)",
                format!("{fast_overhead:.3} s"),
                "< 1 s",
                Some(fast_overhead < 1.0),
                format!("wall {fast:.3} s − {}", fast_transitions.describe()),
            ),
            row(
                format!("switchover, transitions {SLOW_TRANSITION} s: time above the transitions"),
                format!("{slow_overhead:.3} s"),
                "< 0.5 s",
                Some(slow_overhead < 0.5),
                format!("wall {slow:.3} s − {}", slow_transitions.describe()),
            ),
        ];
        rows.push(row(
            "(info) one converged plan reconcile at the interval",
            format!("{} reads", settle.reads),
            "",
            None,
            format!(
                "world and standby checks: {}; {} mutating",
                settle.breakdown, settle.mutating
            ),
        ));
        rows.push(row(
            "(info) one converged plan reconcile within the interval",
            format!("{} reads", plan_poke.reads),
            "",
            None,
            format!(
                "{}; {} mutating; {} status writes",
                plan_poke.breakdown, plan_poke.mutating, plan_poke.writes
            ),
        ));
        PER_RECONCILE.store(settle.reads, Ordering::Relaxed);
        PER_RECONCILE_MUTATING.store(settle.mutating + plan_poke.mutating, Ordering::Relaxed);
        PER_RECONCILE_WRITES.store(plan_poke.writes, Ordering::Relaxed);
        Ok(rows)
    }

    /// Patches spec.activeRegion and returns the seconds until the plan is Ready there with
    /// the new generation observed, as seen through a watch.
    async fn timed_switch(&self, plans: &Api<DynamicObject>, region: &str) -> Result<f64> {
        let current = plans.get("scotaccount").await?;
        let version = current
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default();
        let params = WatchParams::default()
            .fields("metadata.name=scotaccount")
            .timeout(290);
        let mut stream = plans.watch(&params, &version).await?.boxed();
        let started = Instant::now();
        plans
            .patch(
                "scotaccount",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"activeRegion": region}})),
            )
            .await?;
        let deadline = Duration::from_secs(120);
        loop {
            let event = tokio::time::timeout(deadline.saturating_sub(started.elapsed()), async {
                stream.try_next().await
            })
            .await
            .context("the switchover did not finish in 120 s")??;
            match event {
                Some(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                    if plan_ready(&o, region) {
                        return Ok(started.elapsed().as_secs_f64());
                    }
                }
                Some(WatchEvent::Error(e)) => bail!("watch error: {e:?}"),
                Some(_) => {}
                None => bail!("watch ended before the switchover finished"),
            }
        }
    }

    /// The time the emulator spent in transitions for the calls logged since the last clear,
    /// plus the DNS TTL wait.
    async fn transition_sum(&self, seconds: f64) -> Result<Transitions> {
        let calls = self.emulator.calls().await?;
        let ok = |op: &str| {
            calls
                .iter()
                .filter(|c| c.operation == op && c.succeeded())
                .count()
        };
        let deployments = ok("StartDeployment");
        let database = ok("SwitchoverGlobalCluster")
            + ok("FailoverGlobalCluster")
            + ok("PromoteReadReplicaDBCluster");
        let dns_changes = ok("ChangeResourceRecordSets");
        let health_updates = ok("UpdateHealthCheck");
        let ttl = if dns_changes + health_updates > 0 {
            DNS_TTL as f64
        } else {
            0.0
        };
        let total =
            deployments as f64 * 2.0 * seconds + (database + dns_changes) as f64 * seconds + ttl;
        Ok(Transitions {
            seconds,
            deployments,
            database,
            dns_changes,
            health_updates,
            ttl,
            total,
        })
    }

    /// Annotates the object (which wakes its reconciler) and counts what follows in 3 s: AWS
    /// calls (emulator stats) and resourceVersion changes other than the annotation's own.
    async fn poke(&self, api: &Api<DynamicObject>, name: &str) -> Result<Poke> {
        self.reset_stats().await?;
        let current = api.get(name).await?;
        let version = current
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default();
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(60);
        let stream = api.watch(&params, &version).await?.boxed();
        let versions = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = versions.clone();
        let watch = tokio::spawn(async move {
            let mut stream = stream;
            while let Ok(Some(event)) = stream.try_next().await {
                if let WatchEvent::Modified(o) = event {
                    seen.lock()
                        .unwrap()
                        .push(o.metadata.resource_version.unwrap_or_default());
                }
            }
        });
        let patched = api
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {
                    "bench.commandbridge.io/poke": jiff::Timestamp::now().to_string()}}})),
            )
            .await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        watch.abort();
        let ours = patched.metadata.resource_version.unwrap_or_default();
        let writes = versions
            .lock()
            .unwrap()
            .iter()
            .filter(|v| **v != ours)
            .count();
        let stats = self.emulator_stats().await?;
        Ok(Poke {
            reads: stats["reads"].as_u64().unwrap_or(0) as usize,
            mutating: stats["mutating"].as_u64().unwrap_or(0) as usize,
            breakdown: breakdown(&stats),
            writes,
        })
    }

    /// Phase 2: time from spawning the operator to its first status write.
    async fn startup(&self) -> Result<Vec<Row>> {
        let namespace = self.namespace("bench-startup").await?;
        let plans = api(&self.client, &namespace, "FailoverPlan", "failoverplans");
        let windows = api(
            &self.client,
            &namespace,
            "MaintenanceWindow",
            "maintenancewindows",
        );
        plans
            .create(
                &PostParams::default(),
                &serde_json::from_value(self.plan(&namespace, "scotaccount", "eu-west-2")?)?,
            )
            .await?;
        windows
            .create(
                &PostParams::default(),
                &serde_json::from_value(self.window(&namespace, "weekly")?)?,
            )
            .await?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(&'static str, Instant)>();
        for (kind, api) in [
            ("FailoverPlan", plans.clone()),
            ("MaintenanceWindow", windows),
        ] {
            let version = api
                .list(&ListParams::default())
                .await?
                .metadata
                .resource_version
                .unwrap_or_default();
            let mut stream = api
                .watch(&WatchParams::default().timeout(120), &version)
                .await?
                .boxed();
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Ok(Some(event)) = stream.try_next().await {
                    if let WatchEvent::Modified(o) = event
                        && o.data.get("status").is_some_and(|s| !s.is_null())
                    {
                        let _ = tx.send((kind, Instant::now()));
                    }
                }
            });
        }
        // Give the watches a moment to be established before the clock starts.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.say("startup: spawning the operator with one plan and one window waiting");
        let spawned = Instant::now();
        let mut operator = self.spawn_operator("startup", Some(&namespace), &namespace)?;
        let mut first: BTreeMap<&str, f64> = BTreeMap::new();
        let deadline = Duration::from_secs(60);
        while first.len() < 2 {
            let (kind, at) =
                tokio::time::timeout(deadline.saturating_sub(spawned.elapsed()), rx.recv())
                    .await
                    .context("no status written within 60 s of the operator's start")?
                    .context("watch ended")?;
            first
                .entry(kind)
                .or_insert(at.duration_since(spawned).as_secs_f64());
        }
        self.stop(&mut operator).await;
        let earliest = first.values().cloned().fold(f64::INFINITY, f64::min);
        self.say(format!("  first status writes: {first:?}"));
        Ok(vec![row(
            "process start to first status write (API server up)",
            format!("{earliest:.3} s"),
            "< 0.25 s",
            Some(earliest < 0.25),
            first
                .iter()
                .map(|(k, v)| format!("{k} {v:.3} s"))
                .collect::<Vec<_>>()
                .join(", "),
        )])
    }

    /// Phase 1: memory of an operator with nothing to reconcile (it watches a namespace
    /// without resources).
    async fn idle(&self) -> Result<Vec<Row>> {
        let namespace = self.namespace("bench-idle").await?;
        self.say("idle: operator with no resources; sampling VmRSS until steady");
        let mut operator = self.spawn_operator("idle", Some(&namespace), &namespace)?;
        let (rss, hwm) = steady_memory(operator.pid(), Duration::from_secs(4)).await?;
        let split = rss_split(operator.pid());
        self.stop(&mut operator).await;
        Ok(vec![row(
            "resident memory, idle, no resources",
            format!("{:.1} MiB", rss as f64 / MIB),
            "< 16 MiB",
            Some((rss as f64 / MIB) < 16.0 && (hwm as f64 / MIB) < 16.0),
            format!(
                "VmRSS {:.1} MiB ({split}), VmHWM {:.1} MiB",
                rss as f64 / MIB,
                hwm as f64 / MIB
            ),
        )])
    }

    /// Phase 4: N plans and N windows.
    async fn scale(&self, options: &Options) -> Result<Vec<Row>> {
        let n = options.plans;
        let namespace = self.namespace("bench-scale").await?;
        let plans = api(&self.client, &namespace, "FailoverPlan", "failoverplans");
        let windows = api(
            &self.client,
            &namespace,
            "MaintenanceWindow",
            "maintenancewindows",
        );
        self.say(format!(
            "scale: creating {n} plans and {n} windows ({CREATE_CONCURRENCY} requests in flight)"
        ));
        let creating = Instant::now();
        let mut objects = Vec::with_capacity(2 * n);
        for i in 0..n {
            objects.push((
                plans.clone(),
                self.plan(&namespace, &format!("plan-{i:04}"), "eu-west-2")?,
            ));
            objects.push((
                windows.clone(),
                self.window(&namespace, &format!("window-{i:04}"))?,
            ));
        }
        create_all(objects).await?;
        self.say(format!(
            "  created in {:.1} s",
            creating.elapsed().as_secs_f64()
        ));

        // Watch both kinds from now on; the operator starts after the watches.
        let up_to_date = Arc::new(AtomicUsize::new(0));
        let changes = Arc::new(AtomicUsize::new(0));
        let counting = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut watches = Vec::new();
        for (is_plan, api) in [(true, plans.clone()), (false, windows.clone())] {
            let list = api.list(&ListParams::default()).await?;
            let version = list.metadata.resource_version.clone().unwrap_or_default();
            let (up_to_date, changes, counting) =
                (up_to_date.clone(), changes.clone(), counting.clone());
            let api = api.clone();
            watches.push(tokio::spawn(async move {
                let mut done: HashSet<String> = HashSet::new();
                let mut version = version;
                loop {
                    let params = WatchParams::default().timeout(280);
                    let Ok(stream) = api.watch(&params, &version).await else {
                        return;
                    };
                    let mut stream = stream.boxed();
                    while let Some(Ok(event)) = stream.next().await {
                        let o = match event {
                            WatchEvent::Added(o) | WatchEvent::Modified(o) => o,
                            WatchEvent::Bookmark(b) => {
                                version = b.metadata.resource_version;
                                continue;
                            }
                            _ => continue,
                        };
                        version = o.metadata.resource_version.clone().unwrap_or_default();
                        if counting.load(Ordering::Relaxed) {
                            changes.fetch_add(1, Ordering::Relaxed);
                        }
                        let fresh = if is_plan {
                            plan_ready(&o, "eu-west-2")
                        } else {
                            window_current(&o)
                        };
                        let name = o.metadata.name.clone().unwrap_or_default();
                        if fresh && done.insert(name) {
                            up_to_date.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.reset_stats().await?;
        self.say("scale: starting the operator");
        let spawned = Instant::now();
        let mut operator = self.spawn_operator("scale", Some(&namespace), &namespace)?;
        let pid = operator.pid();
        let mut peak_during = 0;
        let limit = Duration::from_secs(if options.short { 120 } else { 600 });
        let mut last_report = Instant::now();
        let converged = loop {
            let done = up_to_date.load(Ordering::Relaxed);
            if done >= 2 * n {
                break Some(spawned.elapsed().as_secs_f64());
            }
            if spawned.elapsed() > limit {
                self.say(format!(
                    "  only {done} of {} up to date after {limit:?}",
                    2 * n
                ));
                break None;
            }
            if !operator.is_running() {
                bail!("the operator exited; log {}", operator.log_path().display());
            }
            if let Ok((rss, _)) = memory(pid) {
                peak_during = peak_during.max(rss);
            }
            if last_report.elapsed() > Duration::from_secs(10) {
                self.say(format!("  {done} of {} up to date", 2 * n));
                last_report = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let startup_stats = self.emulator_stats().await?;
        if let Some(t) = converged {
            self.say(format!("  all {} up to date after {t:.2} s", 2 * n));
        }
        self.say(format!(
            "  AWS calls while converging: {} reads, {} mutating ({:.1} reads per plan)",
            startup_stats["reads"],
            startup_stats["mutating"],
            startup_stats["reads"].as_f64().unwrap_or(0.0) / n as f64
        ));
        let (rss, hwm) = steady_memory(pid, Duration::from_secs(3)).await?;

        // The observation window.
        self.say(format!(
            "scale: observing for {} s (AWS calls, resourceVersion changes)",
            options.observe.as_secs()
        ));
        self.reset_stats().await?;
        changes.store(0, Ordering::Relaxed);
        counting.store(true, Ordering::Relaxed);
        let observing = Instant::now();
        tokio::time::sleep(options.observe).await;
        counting.store(false, Ordering::Relaxed);
        let seconds = observing.elapsed().as_secs_f64();
        let stats = self.emulator_stats().await?;
        let (rss_after, hwm_after) = memory(pid)?;
        let split = rss_split(pid);
        self.stop(&mut operator).await;
        for watch in watches {
            watch.abort();
        }

        let hour = 3600.0 / seconds;
        let reads = stats["reads"].as_f64().unwrap_or(0.0);
        let mutating = stats["mutating"].as_u64().unwrap_or(0) as usize;
        let window_reads = reads / n as f64 * hour;
        let per_reconcile = PER_RECONCILE.load(Ordering::Relaxed);
        let per_reconcile_mutating = PER_RECONCILE_MUTATING.load(Ordering::Relaxed);
        let per_reconcile_writes = PER_RECONCILE_WRITES.load(Ordering::Relaxed);
        // Converged plans are requeued every spec.preflight.interval (10m by default): six
        // converged reconciles per plan per hour. The observation window is shorter than that
        // interval and starts right after every plan was reconciled, so it sees few of them;
        // the steady state is the larger of the two.
        let requeues_per_hour = 3600.0 / 600.0;
        // At scale the plans share their reads: the start-up reconciled every plan once, with
        // the world read and the standby checks run, as each interval repeats.
        let startup_per_plan = startup_stats["reads"].as_f64().unwrap_or(0.0) / n as f64;
        let shared_reads = startup_per_plan * requeues_per_hour;
        let reconcile_reads = per_reconcile as f64 * requeues_per_hour;
        let reads_figure = window_reads.max(reconcile_reads);
        let changed = changes.load(Ordering::Relaxed);
        let window_writes = changed as f64 / (2 * n) as f64 * hour;
        let writes_figure = window_writes.max(per_reconcile_writes as f64 * requeues_per_hour);
        let rss_scale = rss.max(rss_after);
        let hwm_scale = hwm.max(hwm_after).max(peak_during);

        Ok(vec![
            row(
                format!("resident memory, {n} plans + {n} windows, converged"),
                format!("{:.1} MiB", rss_scale as f64 / MIB),
                "< 48 MiB",
                Some((rss_scale as f64 / MIB) < 48.0),
                format!(
                    "VmRSS {:.1} MiB after convergence, {:.1} MiB after the observation ({split}); VmHWM {:.1} MiB",
                    rss as f64 / MIB,
                    rss_after as f64 / MIB,
                    hwm_scale as f64 / MIB
                ),
            ),
            row(
                format!("time until all {} have an up-to-date status", 2 * n),
                converged
                    .map(|t| format!("{t:.2} s"))
                    .unwrap_or_else(|| format!("> {} s", limit.as_secs())),
                "< 15 s",
                Some(converged.is_some_and(|t| t < 15.0)),
                format!(
                    "from process start; {} AWS reads while converging ({:.1} per plan), {} mutating",
                    startup_stats["reads"],
                    startup_stats["reads"].as_f64().unwrap_or(0.0) / n as f64,
                    startup_stats["mutating"]
                ),
            ),
            row(
                "AWS read calls per converged plan per hour",
                format!("{reads_figure:.1}"),
                "≤ 12, 0 mutating",
                Some(reads_figure <= 12.0 && mutating == 0 && per_reconcile_mutating == 0),
                format!(
                    "window: {reads:.0} reads, {mutating} mutating in {seconds:.0} s → {window_reads:.1}/plan/h; \
                     one plan alone: {per_reconcile} reads per converged reconcile at the interval × 6/h (preflight.interval 10m) = {reconcile_reads:.0}; \
                     {n} plans on one topology: {startup_per_plan:.2} reads per plan per interval × 6/h = {shared_reads:.1}; \
                     {per_reconcile_mutating} mutating per reconcile; window ops: {}",
                    breakdown(&stats)
                ),
            ),
            row(
                "API-server writes per converged resource per hour",
                format!("{writes_figure:.2}"),
                "0",
                Some(writes_figure == 0.0),
                format!(
                    "window: {changed} resourceVersion changes on {} objects in {seconds:.0} s; \
                     {per_reconcile_writes} status writes per converged plan reconcile",
                    2 * n
                ),
            ),
        ])
    }
}

static PER_RECONCILE: AtomicUsize = AtomicUsize::new(0);
static PER_RECONCILE_MUTATING: AtomicUsize = AtomicUsize::new(0);
static PER_RECONCILE_WRITES: AtomicUsize = AtomicUsize::new(0);

struct Poke {
    reads: usize,
    mutating: usize,
    breakdown: String,
    writes: usize,
}

struct Transitions {
    seconds: f64,
    deployments: usize,
    database: usize,
    dns_changes: usize,
    health_updates: usize,
    ttl: f64,
    total: f64,
}

impl Transitions {
    fn describe(&self) -> String {
        format!(
            "{:.3} s of transitions: {} AppConfig deployments × (deploy {s} + bake {s}) + {} database switchover × {s} + {} Route 53 change × {s} ({} health-check inversions, immediate) + DNS TTL wait {} s",
            self.total,
            self.deployments,
            self.database,
            self.dns_changes,
            self.health_updates,
            self.ttl,
            s = self.seconds
        )
    }
}

/// `service:Operation×count` of the stats, largest first.
fn breakdown(stats: &Value) -> String {
    let mut ops: Vec<(String, u64)> = stats["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                format!(
                    "{}:{}",
                    o["service"].as_str().unwrap_or(""),
                    o["operation"].as_str().unwrap_or("")
                ),
                o["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let text = ops
        .iter()
        .map(|(op, n)| format!("{op}×{n}"))
        .collect::<Vec<_>>()
        .join(" ");
    format!("[{text}]")
}

/// Creates every object with a bounded number of requests in flight.
async fn create_all(objects: Vec<(Api<DynamicObject>, Value)>) -> Result<()> {
    let results: Vec<Result<()>> = futures::stream::iter(objects)
        .map(|(api, object)| async move {
            let object: DynamicObject = serde_json::from_value(object)?;
            api.create(&PostParams::default(), &object).await?;
            Ok(())
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

fn plan_ready(object: &DynamicObject, region: &str) -> bool {
    let status = &object.data["status"];
    let ready = status["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    });
    ready
        && status["activeRegion"] == region
        && status["observedGeneration"].as_i64() == object.metadata.generation
}

fn window_current(object: &DynamicObject) -> bool {
    let status = &object.data["status"];
    status["phase"].is_string()
        && status["observedGeneration"]
            .as_i64()
            .is_none_or(|g| Some(g) == object.metadata.generation)
}

async fn wait_object(
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Duration,
    check: impl Fn(&DynamicObject) -> bool,
) -> Result<DynamicObject> {
    let deadline = Instant::now() + timeout;
    loop {
        let object = api.get(name).await?;
        if check(&object) {
            return Ok(object);
        }
        if Instant::now() > deadline {
            bail!(
                "{name} did not get there in {timeout:?}; status: {}",
                object.data["status"]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (VmRSS, VmHWM) in KiB.
fn memory(pid: u32) -> Result<(u64, u64)> {
    Ok((status_kib(pid, "VmRSS:")?, status_kib(pid, "VmHWM:")?))
}

/// One `kB` field of /proc/<pid>/status.
fn status_kib(pid: u32, name: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0))
}

/// `RssAnon a MiB + RssFile f MiB` (heap and stacks vs. the mapped binary and libraries).
fn rss_split(pid: u32) -> String {
    let anon = status_kib(pid, "RssAnon:").unwrap_or(0) as f64 / MIB;
    let file = status_kib(pid, "RssFile:").unwrap_or(0) as f64 / MIB;
    format!("RssAnon {anon:.1} MiB + RssFile {file:.1} MiB")
}

/// Waits `settle`, then samples VmRSS every second until two samples agree within 1 %
/// (at most 15 samples); returns the last VmRSS and VmHWM.
async fn steady_memory(pid: u32, settle: Duration) -> Result<(u64, u64)> {
    tokio::time::sleep(settle).await;
    let mut last = memory(pid)?;
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = memory(pid)?;
        let delta = now.0.abs_diff(last.0) as f64;
        last = now;
        if delta <= now.0 as f64 * 0.01 {
            break;
        }
    }
    Ok(last)
}

fn api(client: &kube::Client, namespace: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("ops.commandbridge.io", "v1alpha1", kind);
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

fn read_crds(
    root: &Path,
) -> Result<
    Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>,
>{
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("crds"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            serde_saphyr::from_str(&std::fs::read_to_string(path)?)
                .with_context(|| format!("parsing {}", path.display()))
        })
        .collect()
}

fn say(started: Instant, text: impl AsRef<str>) {
    println!(
        "[{:>6.1}s] {}",
        started.elapsed().as_secs_f64(),
        text.as_ref()
    );
}

fn print_header(options: &Options) {
    let command = std::env::var("BENCH_COMMAND").unwrap_or_else(|_| {
        std::iter::once("target/debug/bench".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" ")
    });
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let revision = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("command: {command}");
    println!("machine: {cpus} CPUs (nproc), {cpu}");
    println!(
        "date:    {}",
        jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S %Z")
    );
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    let binary = options.operator.as_ref().map_or_else(
        || "target/debug/commandbridge-operator (dev profile, as the tests use)".to_string(),
        |p| p.display().to_string(),
    );
    println!(
        "commit:  {revision}{}",
        if dirty { " + uncommitted changes" } else { "" }
    );
    println!("binary:  {binary}");
    println!(
        "form:    {} ({} plans + {} windows, {} s observation)",
        if options.short { "short" } else { "full" },
        options.plans,
        options.plans,
        options.observe.as_secs()
    );
    println!();
}

fn print_table(rows: &[Row]) {
    println!("| figure | measured | budget | result | detail |");
    println!("| --- | --- | --- | --- | --- |");
    for r in rows {
        let result = match r.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "",
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            r.figure, r.value, r.budget, result, r.detail
        );
    }
    let missed = rows.iter().filter(|r| r.pass == Some(false)).count();
    let measured = rows.iter().filter(|r| r.pass.is_some()).count();
    println!();
    println!("{} of {measured} budgets met", measured - missed);
}
