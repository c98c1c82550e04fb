//! Hostile manifests (`tests/hostile/`): each one is refused, either by the API server's schema
//! or by the operator's validation (which marks it Stalled), and none of them disturbs a valid
//! plan or the operator process.
//!
//! Every file starts with `# expect: <text>` (a substring of the refusal) and
//! `# by: schema` (the API server refuses the create) or `# by: controller` (the server accepts
//! it, because a v1.20 server drops the CRD's CEL rules, and the operator marks it Stalled).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use commandbridge_operator::crd::{
    FailoverPlan, FailoverPlanSpec, MaintenanceWindow, MaintenanceWindowSpec,
};
use commandbridge_operator::validation::{
    describe, validate_failover_plan, validate_maintenance_window,
};
use commandbridge_testenv::TopologyKind;
use kube::api::{Api, ApiResource, PostParams};
use kube::core::DynamicObject;
use serde_json::Value;

use crate::support::{Stack, tail};

const TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefusedBy {
    Schema,
    Controller,
}

struct Hostile {
    file: String,
    kind: String,
    refused_by: RefusedBy,
    expect: String,
    manifest: Value,
}

impl Hostile {
    fn stem(&self) -> &str {
        self.file.trim_end_matches(".yaml")
    }

    /// The manifest's own name when it has one (a hostile name is part of the test), otherwise
    /// a name made unique by the manifest's position in the corpus.
    fn object_name(&self, index: usize) -> String {
        match self
            .manifest
            .pointer("/metadata/name")
            .and_then(Value::as_str)
        {
            Some(name) => name.to_string(),
            None => format!("hostile-{index:03}-{}", self.stem()),
        }
    }

    fn api_resource(&self) -> ApiResource {
        match self.kind.as_str() {
            "FailoverPlan" => ApiResource::erase::<FailoverPlan>(&()),
            "MaintenanceWindow" => ApiResource::erase::<MaintenanceWindow>(&()),
            other => panic!("{}: unknown kind {other}", self.file),
        }
    }

    /// The operator's verdict on the spec, as the controller would report it.
    fn validate(&self) -> Verdict {
        let spec = self.manifest.get("spec").cloned().unwrap_or(Value::Null);
        let outcome = catch_unwind(AssertUnwindSafe(|| match self.kind.as_str() {
            "FailoverPlan" => serde_json::from_value::<FailoverPlanSpec>(spec)
                .map(|spec| validate_failover_plan(&spec)),
            "MaintenanceWindow" => serde_json::from_value::<MaintenanceWindowSpec>(spec)
                .map(|spec| validate_maintenance_window(&spec)),
            other => panic!("{}: unknown kind {other}", self.file),
        }));
        match outcome {
            Err(panic) => Verdict::Panicked(
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            ),
            Ok(Err(err)) => Verdict::Undeserializable(err.to_string()),
            Ok(Ok(Ok(()))) => Verdict::Valid,
            Ok(Ok(Err(errors))) => Verdict::Invalid(describe(&errors)),
        }
    }
}

enum Verdict {
    Valid,
    Invalid(String),
    Undeserializable(String),
    Panicked(String),
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("hostile")
}

fn header<'a>(file: &str, line: Option<&'a str>, key: &str) -> &'a str {
    line.and_then(|l| l.strip_prefix(&format!("# {key}: ")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{file}: missing the `# {key}: ` header line"))
}

fn corpus() -> Vec<Hostile> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/hostile is readable")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let file = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("file name")
                .to_string();
            let text = std::fs::read_to_string(path).expect("manifest is readable");
            let mut lines = text.lines();
            let expect = header(&file, lines.next(), "expect").to_string();
            let refused_by = match header(&file, lines.next(), "by") {
                "schema" => RefusedBy::Schema,
                "controller" => RefusedBy::Controller,
                other => panic!("{file}: `# by: {other}` is neither schema nor controller"),
            };
            let manifest: Value = serde_saphyr::from_str(&text)
                .unwrap_or_else(|e| panic!("{file}: not a YAML document: {e}"));
            let kind = manifest["kind"].as_str().unwrap_or_default().to_string();
            Hostile {
                file,
                kind,
                refused_by,
                expect,
                manifest,
            }
        })
        .collect()
}

#[test]
fn hostile_corpus_covers_both_kinds_and_both_refusers() {
    let corpus = corpus();

    let count = |kind: &str, by: RefusedBy| {
        corpus
            .iter()
            .filter(|h| h.kind == kind && h.refused_by == by)
            .count()
    };

    assert!(corpus.len() >= 40, "only {} manifests", corpus.len());
    for kind in ["FailoverPlan", "MaintenanceWindow"] {
        for by in [RefusedBy::Schema, RefusedBy::Controller] {
            assert!(count(kind, by) > 0, "no {kind} refused by {by:?}");
        }
    }
    for hostile in &corpus {
        assert!(!hostile.expect.is_empty(), "{}: empty expect", hostile.file);
    }
}

#[test]
fn controller_refused_manifests_fail_validation_with_the_expected_message() {
    let corpus = corpus();

    let problems: Vec<String> = corpus
        .iter()
        .filter(|h| h.refused_by == RefusedBy::Controller)
        .filter_map(|h| match h.validate() {
            Verdict::Invalid(message) if message.contains(&h.expect) => None,
            Verdict::Invalid(message) => Some(format!(
                "{}: expected {:?} in {message:?}",
                h.file, h.expect
            )),
            Verdict::Valid => Some(format!("{}: passes validation", h.file)),
            Verdict::Undeserializable(err) => {
                Some(format!("{}: the spec does not deserialize: {err}", h.file))
            }
            Verdict::Panicked(message) => {
                Some(format!("{}: validation panicked: {message}", h.file))
            }
        })
        .collect();

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Creates one manifest in the stack's namespace; returns its name, or the server's refusal.
async fn create(stack: &Stack, index: usize, hostile: &Hostile) -> Result<String, kube::Error> {
    let name = hostile.object_name(index);
    let mut manifest = hostile.manifest.clone();
    manifest["metadata"] = serde_json::json!({ "name": name });
    let object: DynamicObject = serde_json::from_value(manifest).expect("a Kubernetes object");
    let api: Api<DynamicObject> = Api::namespaced_with(
        stack.client.clone(),
        &stack.namespace,
        &hostile.api_resource(),
    );
    api.create(&PostParams::default(), &object).await?;
    Ok(name)
}

/// The Stalled condition and status message of an object, when it is Stalled for an invalid
/// spec.
fn stalled_message(object: &DynamicObject) -> Option<String> {
    let status = object.data.get("status")?;
    let stalled = status["conditions"]
        .as_array()?
        .iter()
        .any(|c| c["type"] == "Stalled" && c["status"] == "True" && c["reason"] == "InvalidSpec");
    stalled.then(|| status["message"].as_str().unwrap_or_default().to_string())
}

/// Waits until every object is Stalled with its expected text; returns the ones that are not.
async fn wait_stalled(stack: &Stack, objects: &[(&Hostile, String)]) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let mut problems = Vec::new();
        for (hostile, name) in objects {
            let api: Api<DynamicObject> = Api::namespaced_with(
                stack.client.clone(),
                &stack.namespace,
                &hostile.api_resource(),
            );
            let object = api.get(name).await.expect("object readable");
            match stalled_message(&object) {
                Some(message) if message.contains(&hostile.expect) => {}
                Some(message) => problems.push(format!(
                    "{}: Stalled, but {:?} is not in {message:?}",
                    hostile.file, hostile.expect
                )),
                None => problems.push(format!(
                    "{}: not Stalled; status: {}",
                    hostile.file,
                    object.data.get("status").cloned().unwrap_or_default()
                )),
            }
        }
        if problems.is_empty() || tokio::time::Instant::now() > deadline {
            return problems;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn hostile_manifests_are_refused_and_a_valid_plan_and_the_operator_are_unharmed() {
    let mut stack = Stack::start(0.0, TopologyKind::Global)
        .await
        .expect("stack");
    let good = stack.plan_manifest("good", "eu-west-2").expect("manifest");
    stack.create_plan(&good).await.expect("good plan created");
    stack
        .wait_active("good", "eu-west-2", TIMEOUT)
        .await
        .expect("good plan Ready before the hostile manifests");
    let corpus = corpus();

    let mut problems = Vec::new();
    let mut accepted = Vec::new();
    for (index, hostile) in corpus.iter().enumerate() {
        match (hostile.refused_by, create(&stack, index, hostile).await) {
            (RefusedBy::Schema, Ok(_)) => {
                problems.push(format!("{}: accepted by the API server", hostile.file))
            }
            (RefusedBy::Schema, Err(kube::Error::Api(status)))
                if status.message.contains(&hostile.expect) => {}
            (RefusedBy::Schema, Err(err)) => problems.push(format!(
                "{}: refused, but {:?} is not in: {err}",
                hostile.file, hostile.expect
            )),
            (RefusedBy::Controller, Ok(name)) => accepted.push((hostile, name)),
            (RefusedBy::Controller, Err(err)) => problems.push(format!(
                "{}: refused by the API server instead of the operator: {err}",
                hostile.file
            )),
        }
    }
    problems.extend(wait_stalled(&stack, &accepted).await);

    assert!(
        problems.is_empty(),
        "{} of {} hostile manifests were not refused as expected:\n{}\noperator log:\n{}",
        problems.len(),
        corpus.len(),
        problems.join("\n"),
        tail(&stack.operator_logs(), 40)
    );
    stack
        .wait_active("good", "eu-west-2", TIMEOUT)
        .await
        .expect("good plan still Ready");
    let logs = stack.operator_logs();
    assert!(
        stack.operator.as_mut().expect("operator").is_running(),
        "the operator exited:\n{}",
        tail(&logs, 60)
    );
    assert!(
        !logs.contains("panicked"),
        "the operator panicked:\n{}",
        tail(&logs, 60)
    );
}
