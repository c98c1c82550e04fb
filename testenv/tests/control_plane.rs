//! Behaviour of the local control plane: start, readiness, clients, restarts, cleanup.

use std::collections::BTreeMap;
use std::time::Duration;

use commandbridge_testenv::process::pid_is_alive;
use commandbridge_testenv::{
    ControlPlane, ControlPlaneOptions, MissingBinaryError, TestNamespace, install_crds,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

/// Options that always start local processes, even when `USE_EXISTING_CLUSTER=true`.
fn local_control_plane() -> ControlPlaneOptions {
    ControlPlaneOptions {
        use_existing_cluster: Some(false),
        ..ControlPlaneOptions::default()
    }
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("key".to_owned(), value.to_owned())])),
        ..ConfigMap::default()
    }
}

async fn create_config_map(client: &Client, namespace: &str, name: &str, value: &str) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &config_map(name, value))
        .await
        .expect("config map is created");
}

async fn read_config_map_value(client: &Client, namespace: &str, name: &str) -> String {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let stored = api.get(name).await.expect("config map is readable");
    stored
        .data
        .and_then(|data| data.get("key").cloned())
        .unwrap_or_default()
}

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.testenv.commandbridge.io"},
        "spec": {
            "group": "testenv.commandbridge.io",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                        "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
                    }
                }}
            }]
        }
    }))
    .expect("CRD literal is valid")
}

#[tokio::test]
async fn shared_control_plane_serves_readyz_and_stores_a_config_map() {
    let control_plane = ControlPlane::shared().await.expect("control plane starts");
    let client = control_plane.client().expect("client builds");
    let namespace = TestNamespace::create(&client, "readyz")
        .await
        .expect("namespace");

    let readyz = client
        .request_text(
            http::Request::get("/readyz")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("readyz answers 200");
    create_config_map(&client, namespace.name(), "settings", "on").await;
    let value = read_config_map_value(&client, namespace.name(), "settings").await;

    assert_eq!(readyz, "ok");
    assert_eq!(value, "on");
}

#[tokio::test]
async fn shared_control_plane_is_one_instance_across_runtimes() {
    let first = ControlPlane::shared().await.expect("control plane starts");

    let from_other_runtime = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let control_plane = ControlPlane::shared().await.expect("control plane");
            let client = control_plane.client().expect("client");
            let namespaces: Api<Namespace> = Api::all(client);
            namespaces.get("default").await.expect("default namespace");
            control_plane as *const ControlPlane as usize
        })
    })
    .join()
    .expect("other runtime's thread finishes");

    assert_eq!(first as *const ControlPlane as usize, from_other_runtime);
    assert!(first.is_existing_cluster() || first.apiserver_pid().is_some_and(pid_is_alive));
}

#[tokio::test]
async fn test_namespaces_get_distinct_names_with_the_prefix() {
    let control_plane = ControlPlane::shared().await.expect("control plane starts");
    let client = control_plane.client().expect("client");

    let first = TestNamespace::create(&client, "Unique_Names")
        .await
        .expect("first");
    let second = TestNamespace::create(&client, "Unique_Names")
        .await
        .expect("second");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let stored = namespaces
        .get(first.name())
        .await
        .expect("namespace exists");
    second.delete(&client).await.expect("delete is accepted");

    assert_ne!(first.name(), second.name());
    assert!(first.name().starts_with("unique-names-"), "{first}");
    assert_eq!(stored.metadata.name.as_deref(), Some(first.name()));
}

#[tokio::test]
async fn kubeconfig_file_gives_another_client_admin_access() {
    let control_plane = ControlPlane::shared().await.expect("control plane starts");
    let Some(path) = control_plane.kubeconfig_path() else {
        assert!(
            control_plane.is_existing_cluster(),
            "a local control plane has a kubeconfig"
        );
        return;
    };

    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig gives a config");
    let client = Client::try_from(config).expect("client");
    let secrets: Api<Secret> = Api::all(client);
    let listed = secrets.list(&Default::default()).await;

    assert!(listed.is_ok(), "admin can list secrets: {listed:?}");
    assert_eq!(
        control_plane.kube_env(),
        vec![("KUBECONFIG".to_owned(), path.display().to_string())]
    );
}

#[tokio::test]
async fn admin_can_impersonate_a_user_without_rights() {
    let control_plane = ControlPlane::shared().await.expect("control plane starts");
    let mut config = control_plane.config();
    config.auth_info.impersonate = Some("someone-without-rights".to_owned());
    let client = Client::try_from(config).expect("client");

    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let result = secrets.list(&Default::default()).await;

    match result {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403),
        other => panic!("expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn install_crds_is_idempotent_when_called_concurrently() {
    let control_plane = ControlPlane::shared().await.expect("control plane starts");
    let client = control_plane.client().expect("client");
    let namespace = TestNamespace::create(&client, "crds")
        .await
        .expect("namespace");
    let crds = [widget_crd()];

    let (first, second) = tokio::join!(install_crds(&client, &crds), install_crds(&client, &crds));
    let third = install_crds(&client, &crds).await;
    let gvk = GroupVersionKind::gvk("testenv.commandbridge.io", "v1", "Widget");
    let widgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace.name(),
        &ApiResource::from_gvk_with_plural(&gvk, "widgets"),
    );
    let mut widget =
        DynamicObject::new("small", &ApiResource::from_gvk_with_plural(&gvk, "widgets"));
    widget.data = serde_json::json!({"spec": {"size": 3}});
    let created = widgets.create(&PostParams::default(), &widget).await;

    assert!(first.is_ok(), "{first:?}");
    assert!(second.is_ok(), "{second:?}");
    assert!(third.is_ok(), "{third:?}");
    assert!(created.is_ok(), "a Widget can be created: {created:?}");
}

#[tokio::test]
async fn missing_binary_error_explains_how_to_get_the_binaries() {
    let empty = tempfile::tempdir().expect("temp dir");
    let options = ControlPlaneOptions {
        assets_dir: Some(empty.path().to_path_buf()),
        use_existing_cluster: Some(false),
        ..ControlPlaneOptions::default()
    };

    let error = ControlPlane::start_with(options)
        .await
        .expect_err("start fails without binaries");

    let missing = error
        .downcast_ref::<MissingBinaryError>()
        .expect("error is a MissingBinaryError");
    let message = error.to_string();
    assert_eq!(missing.binary, "kube-apiserver");
    assert!(message.contains("scripts/setup-k8s.sh"), "{message}");
    assert!(message.contains("KUBEBUILDER_ASSETS"), "{message}");
    assert!(message.contains("USE_EXISTING_CLUSTER=true"), "{message}");
}

#[tokio::test]
async fn control_plane_processes_are_gone_after_drop() {
    let control_plane = ControlPlane::start_with(local_control_plane())
        .await
        .expect("control plane starts");
    let etcd = control_plane.etcd_pid().expect("etcd runs");
    let apiserver = control_plane.apiserver_pid().expect("apiserver runs");
    let dir = control_plane.dir().expect("temp dir").to_path_buf();
    let alive_before = pid_is_alive(etcd) && pid_is_alive(apiserver);

    drop(control_plane);

    assert!(alive_before);
    assert!(!pid_is_alive(etcd), "etcd {etcd} still runs");
    assert!(
        !pid_is_alive(apiserver),
        "kube-apiserver {apiserver} still runs"
    );
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[tokio::test]
async fn two_control_planes_start_in_parallel_on_distinct_ports() {
    let (first, second) = tokio::join!(
        ControlPlane::start_with(local_control_plane()),
        ControlPlane::start_with(local_control_plane())
    );
    let first = first.expect("first control plane starts");
    let second = second.expect("second control plane starts");

    let first_client = first.client().expect("client");
    let second_client = second.client().expect("client");
    let namespace = TestNamespace::create(&first_client, "only-in-first")
        .await
        .expect("namespace");
    let in_second: Api<Namespace> = Api::all(second_client);
    let lookup = in_second.get_opt(namespace.name()).await.expect("lookup");

    assert_ne!(first.url(), second.url());
    assert!(lookup.is_none(), "the control planes share storage");
}

#[tokio::test]
async fn restarting_the_apiserver_keeps_stored_objects() {
    let control_plane = ControlPlane::start_with(local_control_plane())
        .await
        .expect("control plane starts");
    let client = control_plane.client().expect("client");
    create_config_map(&client, "default", "survivor", "kept").await;
    let old_pid = control_plane.apiserver_pid();

    control_plane
        .restart_apiserver()
        .await
        .expect("apiserver restarts");

    let client = control_plane.client().expect("client");
    let value = read_config_map_value(&client, "default", "survivor").await;
    assert_eq!(value, "kept");
    assert_ne!(control_plane.apiserver_pid(), old_pid);
    assert!(!old_pid.is_some_and(pid_is_alive));
}

#[tokio::test]
async fn restarting_etcd_keeps_stored_objects() {
    let control_plane = ControlPlane::start_with(local_control_plane())
        .await
        .expect("control plane starts");
    let client = control_plane.client().expect("client");
    create_config_map(&client, "default", "survivor", "kept").await;
    let old_pid = control_plane.etcd_pid();

    control_plane.restart_etcd().await.expect("etcd restarts");

    // The apiserver's etcd client may need a moment to reconnect after readyz turns green.
    let mut value = String::new();
    for _ in 0..50 {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        if let Ok(stored) = api.get("survivor").await {
            value = stored
                .data
                .and_then(|d| d.get("key").cloned())
                .unwrap_or_default();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(value, "kept");
    assert_ne!(control_plane.etcd_pid(), old_pid);
}
