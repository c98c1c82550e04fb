//! The local stack: a real kube-apiserver with etcd, the AWS emulator seeded with the
//! ScotAccount topology, the CRDs, and the operator as a process; then a visible failover to
//! eu-west-1 and a maintenance window that opens and closes. Everything stops on Ctrl-C.
//!
//! Run it through `scripts/local-stack.sh`, which prepares the machine and builds the operator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use commandbridge_testenv::{
    ControlPlane, Emulator, OperatorProcess, SeedOptions, TopologyKind, workspace_root,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

const NAMESPACE: &str = "commandbridge";

struct Options {
    transition_seconds: f64,
    exit_when_done: bool,
}

fn options() -> Result<Options> {
    let mut options = Options {
        transition_seconds: 3.0,
        exit_when_done: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--exit-when-done" => options.exit_when_done = true,
            "--transition-seconds" => {
                options.transition_seconds = args
                    .next()
                    .context("--transition-seconds needs a value")?
                    .parse()?
            }
            "-h" | "--help" => {
                println!("local-stack [--transition-seconds 3] [--exit-when-done]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    Ok(options)
}

fn say(started: Instant, text: impl AsRef<str>) {
    println!(
        "[{:>6.1}s] {}",
        started.elapsed().as_secs_f64(),
        text.as_ref()
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = options()?;
    let started = Instant::now();
    let root = workspace_root();

    say(started, "starting etcd and kube-apiserver on loopback");
    let control_plane = ControlPlane::start().await?;
    let client = control_plane.client()?;
    say(
        started,
        format!("kube-apiserver ready at {}", control_plane.url()),
    );

    say(
        started,
        format!(
            "starting the AWS emulator (transitions take {}s)",
            options.transition_seconds
        ),
    );
    let emulator = Emulator::start(options.transition_seconds).await?;
    let topology = emulator
        .seed(SeedOptions {
            topology: TopologyKind::Global,
            dns_ttl: 5,
            audit_table: "commandbridge-audit".into(),
        })
        .await?;
    say(
        started,
        format!(
            "seeded: hosted zone {} ({}), global cluster {}, AppConfig {}/{}/{}, audit table {}",
            topology.hosted_zone_id,
            topology.zone_name,
            topology.global_cluster_id.clone().unwrap_or_default(),
            topology.appconfig.application,
            topology.appconfig.environment,
            topology.appconfig.profile,
            topology.audit_table
        ),
    );

    say(started, "installing the CRDs from crds/");
    let crds = read_crds(&root)?;
    commandbridge_testenv::install_crds(&client, &crds).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await?;

    let binary = root.join("target/debug/commandbridge-operator");
    if !binary.exists() {
        bail!(
            "{} is missing; run scripts/local-stack.sh, which builds it",
            binary.display()
        );
    }
    let log = root.join("target/local-stack/operator.log");
    std::fs::create_dir_all(log.parent().context("log folder")?)?;
    let _ = std::fs::remove_file(&log);
    let mut envs = control_plane.kube_env();
    envs.extend(emulator.aws_env());
    envs.extend([
        (
            "COMMANDBRIDGE_POLL_INTERVAL".to_string(),
            "500ms".to_string(),
        ),
        (
            "COMMANDBRIDGE_HTTP_ADDR".to_string(),
            "127.0.0.1:8080".to_string(),
        ),
        ("COMMANDBRIDGE_LOG_FORMAT".to_string(), "json".to_string()),
    ]);
    let mut operator = OperatorProcess::spawn_logging_to(&binary, ["run"], envs.clone(), &log)?;
    say(
        started,
        format!(
            "operator running (JSON log: {}; metrics: http://127.0.0.1:8080/metrics)",
            log.display()
        ),
    );

    let plans = api(&client, "FailoverPlan", "failoverplans");
    let mut plan: Value = serde_saphyr::from_str(&std::fs::read_to_string(
        root.join("examples/failoverplan.yaml"),
    )?)?;
    plan["spec"]["dns"]["hostedZoneId"] = json!(topology.hosted_zone_id);
    plan["spec"]["cooldown"] = json!("0s");
    say(
        started,
        format!(
            "applying examples/failoverplan.yaml (hosted zone {})",
            topology.hosted_zone_id
        ),
    );
    plans
        .create(&post_params(), &serde_json::from_value(plan)?)
        .await?;
    let status = wait_for(
        &plans,
        "scotaccount",
        Duration::from_secs(60),
        started,
        |s| ready_in(s, "eu-west-2"),
    )
    .await?;
    say(
        started,
        format!(
            "FailoverPlan scotaccount is Ready: active in {}",
            status["activeRegion"].as_str().unwrap_or("?")
        ),
    );

    let windows = api(&client, "MaintenanceWindow", "maintenancewindows");
    let opens = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(45);
    let closes = opens + jiff::SignedDuration::from_secs(20);
    let mut window: Value = serde_saphyr::from_str(&std::fs::read_to_string(
        root.join("examples/maintenancewindow-oneoff.yaml"),
    )?)?;
    window["spec"]["start"] = json!(opens.to_string());
    window["spec"]["end"] = json!(closes.to_string());
    windows
        .create(&post_params(), &serde_json::from_value(window)?)
        .await?;
    say(
        started,
        format!("applied a one-off MaintenanceWindow from {opens} to {closes}"),
    );

    say(
        started,
        "moving the platform to eu-west-1: spec.activeRegion: eu-west-1",
    );
    plans
        .patch(
            "scotaccount",
            &PatchParams {
                field_manager: Some("local-stack".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"spec": {"activeRegion": "eu-west-1"}})),
        )
        .await?;
    let status = wait_for(
        &plans,
        "scotaccount",
        Duration::from_secs(180),
        started,
        |s| ready_in(s, "eu-west-1"),
    )
    .await?;
    say(started, "execution finished; final status:");
    println!("{}", indent(&serde_saphyr::to_string(&status)?));

    let execution = status["executionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    say(started, format!("audit items of execution {execution}:"));
    let audit = std::process::Command::new(&binary)
        .args(["--log-format", "text", "audit", "--execution", &execution])
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()?;
    println!("{}", indent(&String::from_utf8_lossy(&audit.stdout)));

    let app = &topology.appconfig;
    say(started, "watching the maintenance flag through the window");
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let deployed = emulator
            .deployed_config(&app.application_id, &app.environment_id, &app.profile_id)
            .await?;
        let on = deployed
            .content
            .pointer("/values/maintenance_mode/enabled")
            .and_then(Value::as_bool);
        let phase = windows
            .get("aurora-upgrade")
            .await
            .ok()
            .and_then(|w| w.data["status"]["phase"].as_str().map(str::to_string));
        if last != Some((on, phase.clone())) {
            say(
                started,
                format!(
                    "maintenance_mode deployed: {:?}; window phase: {}",
                    on.unwrap_or(false),
                    phase.clone().unwrap_or_default()
                ),
            );
            last = Some((on, phase.clone()));
        }
        if phase.as_deref() == Some("Completed") && on == Some(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    if options.exit_when_done {
        say(started, "done; stopping");
        operator.terminate().await?;
        return Ok(());
    }
    say(
        started,
        "the stack keeps running; Ctrl-C stops everything. To look around:",
    );
    println!(
        "    export KUBECONFIG={}",
        control_plane
            .kubeconfig_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    println!("    kubectl get fp,mw -n {NAMESPACE} -o wide");
    println!(
        "    AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing target/debug/commandbridge-operator plan examples/failoverplan.yaml",
        emulator.endpoint_url()
    );
    tokio::signal::ctrl_c().await?;
    say(
        started,
        "stopping the operator, the emulator and the control plane",
    );
    operator.terminate().await?;
    Ok(())
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some("local-stack".into()),
        ..PostParams::default()
    }
}

fn api(client: &kube::Client, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("ops.commandbridge.io", "v1alpha1", kind);
    Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

fn read_crds(root: &std::path::Path) -> Result<Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>>{
    let mut crds = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("crds"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        crds.push(
            serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        );
    }
    Ok(crds)
}

fn ready_in(status: &Value, region: &str) -> bool {
    let ready = status["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    });
    ready && status["activeRegion"] == region
}

/// Waits for `check` on the plan's status, printing phase and step changes as they happen.
async fn wait_for(
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Duration,
    started: Instant,
    check: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let object = api.get(name).await?;
        let status = object.data.get("status").cloned().unwrap_or(Value::Null);
        let phase = status["phase"].as_str().unwrap_or("").to_string();
        if seen.get("phase") != Some(&phase) && !phase.is_empty() {
            say(started, format!("  phase {phase}"));
            seen.insert("phase".into(), phase);
        }
        for step in status["steps"].as_array().into_iter().flatten() {
            let name = step["name"].as_str().unwrap_or("").to_string();
            let state = step["state"].as_str().unwrap_or("").to_string();
            if seen.get(&name) != Some(&state) && state != "Pending" {
                say(
                    started,
                    format!(
                        "  {name:<15} {state:<10} {}",
                        step["message"].as_str().unwrap_or("")
                    ),
                );
                seen.insert(name, state);
            }
        }
        if check(&status) {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("{name} did not get there in {timeout:?}; status: {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
