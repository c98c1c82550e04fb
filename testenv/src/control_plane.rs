//! A real Kubernetes control plane (etcd + kube-apiserver) on loopback, the way
//! controller-runtime's envtest provides one.
//!
//! * `USE_EXISTING_CLUSTER=true`: nothing is started; the current kubeconfig is used.
//! * Otherwise the binaries come from `KUBEBUILDER_ASSETS` (a folder holding
//!   `kube-apiserver` and `etcd`), or from `<workspace>/target/k8s` where
//!   `scripts/setup-k8s.sh` unpacks them.
//!
//! Each control plane gets a fresh temporary folder with its own CA, serving certificate,
//! service-account key, a static admin token (group `system:masters`), a kubeconfig for
//! other processes, the etcd data and the processes' logs. Ports are chosen free on
//! `127.0.0.1` and the start is retried with new ports if a process loses a port race.
//!
//! A kube-apiserver costs about 5 s and 370 MB, so tests in one binary should share one
//! through [`ControlPlane::shared`] and give each test its own namespace
//! (see [`crate::TestNamespace`]).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use kube::config::{AuthInfo, Config};
use secrecy::SecretString;
use tempfile::TempDir;
use tokio::sync::OnceCell;

use crate::certs::{Pki, write_pki};
use crate::ports::free_port;
use crate::process::{self, DEFAULT_STOP_GRACE, ManagedChild};
use crate::random::random_hex;

/// The user name of the static admin token; it is in group `system:masters`.
pub const ADMIN_USER: &str = "testenv-admin";

/// How long a start or restart may take before it fails.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

const PORT_ATTEMPTS: usize = 5;
const LOG_TAIL_LINES: usize = 30;
const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Options for [`ControlPlane::start_with`]. The defaults read the environment the way
/// [`ControlPlane::start`] does.
#[derive(Debug, Clone, Default)]
pub struct ControlPlaneOptions {
    /// Folder holding `kube-apiserver` and `etcd`. `None`: `KUBEBUILDER_ASSETS`, else
    /// `<workspace>/target/k8s`.
    pub assets_dir: Option<PathBuf>,
    /// Use the cluster of the current kubeconfig instead of starting one. `None`: true
    /// when the environment variable `USE_EXISTING_CLUSTER` is `true`.
    pub use_existing_cluster: Option<bool>,
    /// Time allowed for each process to become ready. `None`: [`DEFAULT_START_TIMEOUT`].
    pub start_timeout: Option<Duration>,
}

/// A control-plane binary is missing. The message says how to get it.
#[derive(Debug, thiserror::Error)]
#[error(
    "the control-plane binary `{binary}` was not found at {path} ({problem}). \
     To get it, run `scripts/setup-k8s.sh` from the repository root (it unpacks kube-apiserver \
     into target/k8s and links etcd there), or set KUBEBUILDER_ASSETS to a folder holding \
     `kube-apiserver` and `etcd`, or set USE_EXISTING_CLUSTER=true to test against the \
     cluster of your current kubeconfig"
)]
pub struct MissingBinaryError {
    /// `kube-apiserver` or `etcd`.
    pub binary: String,
    /// Where it was looked for.
    pub path: PathBuf,
    /// Why it is unusable.
    pub problem: String,
}

/// The repository root: the parent of this crate's manifest folder.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The folder control-plane binaries are taken from when none is given: `KUBEBUILDER_ASSETS`
/// or `<workspace>/target/k8s`.
pub fn default_assets_dir() -> PathBuf {
    match std::env::var_os("KUBEBUILDER_ASSETS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target").join("k8s"),
    }
}

fn env_use_existing_cluster() -> bool {
    std::env::var("USE_EXISTING_CLUSTER")
        .map(|value| value.trim().eq_ignore_ascii_case("true"))
        .unwrap_or(false)
}

fn find_binary(dir: &Path, binary: &str) -> Result<PathBuf, MissingBinaryError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(binary);
    let missing = |problem: String| MissingBinaryError {
        binary: binary.to_owned(),
        path: path.clone(),
        problem,
    };
    // metadata() follows symlinks, so a dangling etcd link is reported as missing.
    let metadata = std::fs::metadata(&path).map_err(|error| missing(error.to_string()))?;
    if !metadata.is_file() {
        return Err(missing("not a regular file".to_owned()));
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(missing("not executable".to_owned()));
    }
    Ok(path)
}

/// A running control plane, or a handle on an existing cluster.
///
/// Dropping a started control plane stops its processes (SIGTERM, then SIGKILL after a
/// short grace) and deletes its temporary folder. Holds nothing bound to an async runtime,
/// so one instance can serve tests that each run their own runtime.
pub struct ControlPlane {
    kind: Kind,
}

enum Kind {
    Existing(Box<Config>),
    Local(Box<Local>),
}

struct Local {
    // Declared before `dir` so the processes stop before their folder is removed.
    processes: Mutex<Processes>,
    dir: TempDir,
    apiserver_binary: PathBuf,
    etcd_binary: PathBuf,
    pki: Pki,
    token: String,
    etcd_port: u16,
    etcd_peer_port: u16,
    apiserver_port: u16,
    kubeconfig: PathBuf,
    config: Config,
    start_timeout: Duration,
}

#[derive(Default)]
struct Processes {
    etcd: Option<ManagedChild>,
    apiserver: Option<ManagedChild>,
}

impl Drop for Processes {
    fn drop(&mut self) {
        let mut children: Vec<&mut ManagedChild> = self
            .apiserver
            .iter_mut()
            .chain(self.etcd.iter_mut())
            .collect();
        process::stop_all(&mut children, DEFAULT_STOP_GRACE);
    }
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Existing(config) => f
                .debug_struct("ControlPlane")
                .field("existing_cluster", &config.cluster_url.to_string())
                .finish(),
            Kind::Local(local) => f
                .debug_struct("ControlPlane")
                .field("url", &local.url())
                .field("etcd_port", &local.etcd_port)
                .field("dir", &local.dir.path())
                .finish(),
        }
    }
}

static SHARED: OnceCell<ControlPlane> = OnceCell::const_new();
static SHARED_FAILURE: Mutex<Option<String>> = Mutex::new(None);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep using it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

extern "C" fn stop_shared_control_plane() {
    if let Some(ControlPlane {
        kind: Kind::Local(local),
    }) = SHARED.get()
    {
        let mut guard = lock(&local.processes);
        let processes = &mut *guard;
        let mut children: Vec<&mut ManagedChild> = processes
            .apiserver
            .iter_mut()
            .chain(processes.etcd.iter_mut())
            .collect();
        process::stop_all(&mut children, Duration::from_secs(2));
        let _ = std::fs::remove_dir_all(local.dir.path());
    }
}

impl ControlPlane {
    /// Starts a control plane (or connects to an existing cluster), reading
    /// `USE_EXISTING_CLUSTER` and `KUBEBUILDER_ASSETS` from the environment.
    pub async fn start() -> Result<ControlPlane> {
        Self::start_with(ControlPlaneOptions::default()).await
    }

    /// Starts a control plane with explicit options.
    pub async fn start_with(options: ControlPlaneOptions) -> Result<ControlPlane> {
        let use_existing = options
            .use_existing_cluster
            .unwrap_or_else(env_use_existing_cluster);
        if use_existing {
            let config = Config::infer()
                .await
                .context("USE_EXISTING_CLUSTER=true but no kubeconfig could be loaded")?;
            return Ok(ControlPlane {
                kind: Kind::Existing(Box::new(config)),
            });
        }
        let assets = options.assets_dir.unwrap_or_else(default_assets_dir);
        let apiserver_binary = find_binary(&assets, "kube-apiserver")?;
        let etcd_binary = find_binary(&assets, "etcd")?;
        let timeout = options.start_timeout.unwrap_or(DEFAULT_START_TIMEOUT);
        let local = Local::start(apiserver_binary, etcd_binary, timeout).await?;
        Ok(ControlPlane {
            kind: Kind::Local(Box::new(local)),
        })
    }

    /// The control plane of this test process, started on first use and shared by every
    /// test in the binary. Give each test its own namespace.
    ///
    /// Safe to call concurrently from tests that each run their own async runtime. If the
    /// start fails, later calls fail at once with the same message instead of trying
    /// again. The processes are stopped and the folder removed when the process exits;
    /// if it dies instead, the kernel kills the processes (see [`crate::process`]).
    pub async fn shared() -> Result<&'static ControlPlane> {
        if let Some(message) = lock(&SHARED_FAILURE).as_ref() {
            bail!("the shared control plane failed to start earlier: {message}");
        }
        let result = SHARED
            .get_or_try_init(|| async {
                let control_plane = ControlPlane::start().await?;
                // SAFETY: registers a plain function with no captured state.
                unsafe {
                    libc::atexit(stop_shared_control_plane);
                }
                Ok::<_, anyhow::Error>(control_plane)
            })
            .await;
        match result {
            Ok(control_plane) => Ok(control_plane),
            Err(error) => {
                let message = format!("{error:#}");
                *lock(&SHARED_FAILURE) = Some(message.clone());
                Err(error.context("starting the shared control plane"))
            }
        }
    }

    /// Whether this handle points at an existing cluster (`USE_EXISTING_CLUSTER=true`).
    pub fn is_existing_cluster(&self) -> bool {
        matches!(self.kind, Kind::Existing(_))
    }

    /// A client configuration with cluster-admin rights.
    pub fn config(&self) -> Config {
        match &self.kind {
            Kind::Existing(config) => (**config).clone(),
            Kind::Local(local) => local.config(),
        }
    }

    /// A new client, bound to the async runtime of the caller. Call it from each test's
    /// own runtime rather than sharing a client between tests.
    pub fn client(&self) -> Result<kube::Client> {
        kube::Client::try_from(self.config()).context("building a Kubernetes client")
    }

    /// The apiserver's URL, e.g. `https://127.0.0.1:38211`.
    pub fn url(&self) -> String {
        match &self.kind {
            Kind::Existing(config) => config.cluster_url.to_string(),
            Kind::Local(local) => local.url(),
        }
    }

    /// A kubeconfig file for other processes (`KUBECONFIG=...`), with the admin token.
    /// `None` for an existing cluster, whose kubeconfig the environment already names.
    pub fn kubeconfig_path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Existing(_) => None,
            Kind::Local(local) => Some(&local.kubeconfig),
        }
    }

    /// Environment variables that point a Kubernetes client process at this control plane.
    pub fn kube_env(&self) -> Vec<(String, String)> {
        match &self.kind {
            Kind::Local(local) => vec![(
                "KUBECONFIG".to_owned(),
                local.kubeconfig.display().to_string(),
            )],
            Kind::Existing(_) => std::env::var("KUBECONFIG")
                .map(|value| vec![("KUBECONFIG".to_owned(), value)])
                .unwrap_or_default(),
        }
    }

    /// The bearer token of the admin user (group `system:masters`), for a local control
    /// plane.
    pub fn admin_token(&self) -> Option<&str> {
        match &self.kind {
            Kind::Existing(_) => None,
            Kind::Local(local) => Some(&local.token),
        }
    }

    /// The temporary folder holding certificates, kubeconfig, etcd data and the logs
    /// `etcd.log` and `kube-apiserver.log`.
    pub fn dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Existing(_) => None,
            Kind::Local(local) => Some(local.dir.path()),
        }
    }

    /// The process id of etcd, while it runs.
    pub fn etcd_pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Existing(_) => None,
            Kind::Local(local) => lock(&local.processes).etcd.as_ref().map(ManagedChild::pid),
        }
    }

    /// The process id of kube-apiserver, while it runs.
    pub fn apiserver_pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Existing(_) => None,
            Kind::Local(local) => lock(&local.processes)
                .apiserver
                .as_ref()
                .map(ManagedChild::pid),
        }
    }

    /// Stops kube-apiserver and starts it again on the same port against the same etcd,
    /// then waits until it is ready. Stored objects are kept.
    pub async fn restart_apiserver(&self) -> Result<()> {
        self.local("restart_apiserver")?.restart_apiserver().await
    }

    /// Stops etcd and starts it again on the same ports and data folder, then waits until
    /// etcd and kube-apiserver are ready again.
    pub async fn restart_etcd(&self) -> Result<()> {
        self.local("restart_etcd")?.restart_etcd().await
    }

    fn local(&self, what: &str) -> Result<&Local> {
        match &self.kind {
            Kind::Local(local) => Ok(local),
            Kind::Existing(_) => bail!("{what} is not possible on an existing cluster"),
        }
    }
}

/// Why a process did not become ready.
enum NotReady {
    Exited {
        status: ExitStatus,
        tail: String,
        port_in_use: bool,
    },
    TimedOut {
        tail: String,
    },
    Failed(anyhow::Error),
}

impl NotReady {
    fn into_error(self, name: &str, log: &Path) -> anyhow::Error {
        match self {
            NotReady::Exited { status, tail, .. } => anyhow!(
                "{name} exited ({status}) before it was ready; last lines of {}:\n{tail}",
                log.display()
            ),
            NotReady::TimedOut { tail } => anyhow!(
                "{name} was not ready in time; last lines of {}:\n{tail}",
                log.display()
            ),
            NotReady::Failed(error) => error.context(format!("starting {name}")),
        }
    }
}

fn exited(child: &mut ManagedChild, log: &Path) -> Option<NotReady> {
    let status = child.try_exit_status()?;
    let tail = process::tail(log, LOG_TAIL_LINES);
    let port_in_use = tail.contains("address already in use");
    Some(NotReady::Exited {
        status,
        tail,
        port_in_use,
    })
}

async fn wait_etcd_ready(
    child: &mut ManagedChild,
    port: u16,
    log: &Path,
    timeout: Duration,
) -> Result<(), NotReady> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|error| NotReady::Failed(error.into()))?;
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(not_ready) = exited(child, log) {
            return Err(not_ready);
        }
        if let Ok(response) = http.get(&url).send().await
            && response.status().is_success()
        {
            // The answer could come from a foreign etcd that won a port race against
            // this one; this one would then have exited already.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(not_ready) = exited(child, log) {
                return Err(not_ready);
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(NotReady::TimedOut {
                tail: process::tail(log, LOG_TAIL_LINES),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_apiserver_ready(
    child: &mut ManagedChild,
    config: Config,
    log: &Path,
    timeout: Duration,
) -> Result<(), NotReady> {
    let client = kube::Client::try_from(config).map_err(|error| NotReady::Failed(error.into()))?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(not_ready) = exited(child, log) {
            return Err(not_ready);
        }
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|error| NotReady::Failed(error.into()))?;
        // A foreign apiserver that won a port race rejects this control plane's token, so
        // a success here always comes from this process. The `default` namespace is created by
        // the apiserver shortly after it reports ready; tests may use it at once.
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(5), client.request_text(request)).await
        {
            let namespace = http::Request::get("/api/v1/namespaces/default")
                .body(Vec::new())
                .map_err(|error| NotReady::Failed(error.into()))?;
            if let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_secs(5), client.request_text(namespace)).await
            {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(NotReady::TimedOut {
                tail: process::tail(log, LOG_TAIL_LINES),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn admin_config(url: &str, ca_der: &[u8], token: &str) -> Result<Config> {
    let uri: http::Uri = url
        .parse()
        .with_context(|| format!("parsing apiserver URL {url}"))?;
    let mut config = Config::new(uri);
    config.root_cert = Some(vec![ca_der.to_vec()]);
    config.auth_info = AuthInfo {
        token: Some(SecretString::from(token.to_owned())),
        ..AuthInfo::default()
    };
    Ok(config)
}

fn write_kubeconfig(path: &Path, url: &str, ca_cert: &Path, token: &str) -> Result<()> {
    // JSON is valid YAML, so every kubeconfig reader accepts it.
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "testenv",
            "cluster": {"server": url, "certificate-authority": ca_cert.display().to_string()}
        }],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{
            "name": "testenv",
            "context": {"cluster": "testenv", "user": ADMIN_USER, "namespace": "default"}
        }],
        "current-context": "testenv"
    });
    let text = serde_json::to_string_pretty(&kubeconfig).context("serialising the kubeconfig")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

struct EtcdLayout<'a> {
    binary: &'a Path,
    dir: &'a Path,
    client_port: u16,
    peer_port: u16,
}

impl EtcdLayout<'_> {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("etcd-data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    fn command(&self) -> Result<Command> {
        let client_url = format!("http://127.0.0.1:{}", self.client_port);
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(self.binary);
        command
            .arg("--name=testenv")
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=testenv={peer_url}"))
            .arg("--initial-cluster-state=new")
            .current_dir(self.dir)
            .stdin(Stdio::null());
        redirect_output(&mut command, &self.log())?;
        Ok(command)
    }
}

fn redirect_output(command: &mut Command, log: &Path) -> Result<()> {
    let file = process::log_file(log)?;
    let stderr = file
        .try_clone()
        .with_context(|| format!("duplicating the handle of {}", log.display()))?;
    command.stdout(file).stderr(stderr);
    Ok(())
}

struct ApiserverLayout<'a> {
    binary: &'a Path,
    dir: &'a Path,
    pki: &'a Pki,
    etcd_port: u16,
    port: u16,
}

impl ApiserverLayout<'_> {
    fn log(&self) -> PathBuf {
        self.dir.join("kube-apiserver.log")
    }

    fn command(&self) -> Result<Command> {
        let tokens = self.dir.join("tokens.csv");
        let mut command = Command::new(self.binary);
        command
            .arg(format!(
                "--etcd-servers=http://127.0.0.1:{}",
                self.etcd_port
            ))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={}", self.port))
            .arg("--insecure-port=0")
            .arg(format!(
                "--cert-dir={}",
                self.dir.join("apiserver-certs").display()
            ))
            .arg(format!(
                "--tls-cert-file={}",
                self.pki.serving_cert.display()
            ))
            .arg(format!(
                "--tls-private-key-file={}",
                self.pki.serving_key.display()
            ))
            .arg(format!("--client-ca-file={}", self.pki.ca_cert.display()))
            .arg(format!("--token-auth-file={}", tokens.display()))
            .arg(format!(
                "--service-account-key-file={}",
                self.pki.service_account_public_key.display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                self.pki.service_account_key.display()
            ))
            .arg(format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"))
            .arg(format!("--api-audiences={SERVICE_ACCOUNT_ISSUER}"))
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg("--authorization-mode=RBAC")
            .arg("--endpoint-reconciler-type=none")
            .arg("--enable-priority-and-fairness=false")
            .arg("--allow-privileged=true")
            // Without a token controller, the ServiceAccount admission plugin refuses Pods.
            .arg("--disable-admission-plugins=ServiceAccount")
            .current_dir(self.dir)
            .stdin(Stdio::null());
        redirect_output(&mut command, &self.log())?;
        Ok(command)
    }
}

impl Local {
    async fn start(
        apiserver_binary: PathBuf,
        etcd_binary: PathBuf,
        timeout: Duration,
    ) -> Result<Local> {
        let dir = tempfile::Builder::new()
            .prefix("commandbridge-testenv-")
            .tempdir()
            .context("creating the control plane's temporary folder")?;
        match Self::start_in(&dir, &apiserver_binary, &etcd_binary, timeout).await {
            Ok((processes, pki, token, ports)) => {
                let (etcd_port, etcd_peer_port, apiserver_port) = ports;
                let url = format!("https://127.0.0.1:{apiserver_port}");
                let config = admin_config(&url, &pki.ca_der, &token)?;
                Ok(Local {
                    config,
                    processes: Mutex::new(processes),
                    kubeconfig: dir.path().join("kubeconfig"),
                    dir,
                    apiserver_binary,
                    etcd_binary,
                    pki,
                    token,
                    etcd_port,
                    etcd_peer_port,
                    apiserver_port,
                    start_timeout: timeout,
                })
            }
            Err(error) => {
                // The processes were stopped when start_in returned; keep their logs.
                let kept = dir.keep();
                eprintln!(
                    "commandbridge-testenv: control plane failed to start; logs kept in {}",
                    kept.display()
                );
                Err(error.context(format!(
                    "starting the control plane (logs kept in {})",
                    kept.display()
                )))
            }
        }
    }

    async fn start_in(
        dir: &TempDir,
        apiserver_binary: &Path,
        etcd_binary: &Path,
        timeout: Duration,
    ) -> Result<(Processes, Pki, String, (u16, u16, u16))> {
        let dir = dir.path();
        let pki = write_pki(dir)?;
        let token = random_hex(24);
        let tokens = dir.join("tokens.csv");
        std::fs::write(
            &tokens,
            format!("{token},{ADMIN_USER},{ADMIN_USER},\"system:masters\"\n"),
        )
        .with_context(|| format!("writing {}", tokens.display()))?;

        let mut processes = Processes::default();

        let mut etcd_ports = None;
        for attempt in 1..=PORT_ATTEMPTS {
            let layout = EtcdLayout {
                binary: etcd_binary,
                dir,
                client_port: free_port()?,
                peer_port: free_port()?,
            };
            // A failed attempt may have initialised a member with other peer URLs.
            let _ = std::fs::remove_dir_all(layout.data_dir());
            let mut child = ManagedChild::spawn("etcd", layout.command()?)?;
            match wait_etcd_ready(&mut child, layout.client_port, &layout.log(), timeout).await {
                Ok(()) => {
                    processes.etcd = Some(child);
                    etcd_ports = Some((layout.client_port, layout.peer_port));
                    break;
                }
                Err(NotReady::Exited {
                    port_in_use: true, ..
                }) if attempt < PORT_ATTEMPTS => continue,
                Err(not_ready) => return Err(not_ready.into_error("etcd", &layout.log())),
            }
        }
        let (etcd_port, etcd_peer_port) =
            etcd_ports.ok_or_else(|| anyhow!("etcd could not get free ports"))?;

        for attempt in 1..=PORT_ATTEMPTS {
            let layout = ApiserverLayout {
                binary: apiserver_binary,
                dir,
                pki: &pki,
                etcd_port,
                port: free_port()?,
            };
            let apiserver_port = layout.port;
            let url = format!("https://127.0.0.1:{apiserver_port}");
            let config = admin_config(&url, &pki.ca_der, &token)?;
            let mut child = ManagedChild::spawn("kube-apiserver", layout.command()?)?;
            match wait_apiserver_ready(&mut child, config, &layout.log(), timeout).await {
                Ok(()) => {
                    processes.apiserver = Some(child);
                    write_kubeconfig(&dir.join("kubeconfig"), &url, &pki.ca_cert, &token)?;
                    return Ok((
                        processes,
                        pki,
                        token,
                        (etcd_port, etcd_peer_port, apiserver_port),
                    ));
                }
                Err(NotReady::Exited {
                    port_in_use: true, ..
                }) if attempt < PORT_ATTEMPTS => continue,
                Err(not_ready) => {
                    return Err(not_ready.into_error("kube-apiserver", &layout.log()));
                }
            }
        }
        Err(anyhow!("kube-apiserver could not get a free port"))
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.apiserver_port)
    }

    fn config(&self) -> Config {
        self.config.clone()
    }

    fn etcd_layout(&self) -> EtcdLayout<'_> {
        EtcdLayout {
            binary: &self.etcd_binary,
            dir: self.dir.path(),
            client_port: self.etcd_port,
            peer_port: self.etcd_peer_port,
        }
    }

    fn apiserver_layout(&self) -> ApiserverLayout<'_> {
        ApiserverLayout {
            binary: &self.apiserver_binary,
            dir: self.dir.path(),
            pki: &self.pki,
            etcd_port: self.etcd_port,
            port: self.apiserver_port,
        }
    }

    async fn restart_apiserver(&self) -> Result<()> {
        let old = lock(&self.processes).apiserver.take();
        if let Some(mut old) = old {
            old.stop_async(DEFAULT_STOP_GRACE).await?;
        }
        let layout = self.apiserver_layout();
        let mut child = ManagedChild::spawn("kube-apiserver", layout.command()?)?;
        wait_apiserver_ready(&mut child, self.config(), &layout.log(), self.start_timeout)
            .await
            .map_err(|not_ready| not_ready.into_error("kube-apiserver", &layout.log()))?;
        lock(&self.processes).apiserver = Some(child);
        Ok(())
    }

    async fn restart_etcd(&self) -> Result<()> {
        let old = lock(&self.processes).etcd.take();
        if let Some(mut old) = old {
            old.stop_async(DEFAULT_STOP_GRACE).await?;
        }
        let layout = self.etcd_layout();
        let mut child = ManagedChild::spawn("etcd", layout.command()?)?;
        wait_etcd_ready(
            &mut child,
            self.etcd_port,
            &layout.log(),
            self.start_timeout,
        )
        .await
        .map_err(|not_ready| not_ready.into_error("etcd", &layout.log()))?;
        lock(&self.processes).etcd = Some(child);

        // The apiserver reconnects by itself; wait until it reports ready again.
        let deadline = Instant::now() + self.start_timeout;
        let client = kube::Client::try_from(self.config()).context("building a client")?;
        loop {
            let request = http::Request::get("/readyz").body(Vec::new())?;
            if let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_secs(5), client.request_text(request)).await
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "kube-apiserver did not become ready after the etcd restart; last lines of {}:\n{}",
                    self.apiserver_layout().log().display(),
                    process::tail(&self.apiserver_layout().log(), LOG_TAIL_LINES)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
