//! Test support for commandbridge-operator.
//!
//! * [`ControlPlane`]: a real Kubernetes control plane (etcd + kube-apiserver) on loopback,
//!   following envtest's conventions (`KUBEBUILDER_ASSETS`, `USE_EXISTING_CLUSTER`), with
//!   [`ControlPlane::shared`] for one per test binary.
//! * [`TestNamespace`]: a uniquely named namespace per test.
//! * [`install_crds`]: server-side apply of CRDs, waiting until they are served.
//! * [`Emulator`]: the project's AWS emulator as a process, with a typed control client.
//! * [`OperatorProcess`]: the operator binary as a process with captured output.
//!
//! Every child process is started from one long-lived thread with a parent-death signal,
//! so none survives the test process, whatever way it ends ([`process`]).
//!
//! To prepare a machine and run this crate's own tests:
//!
//! ```text
//! scripts/setup-k8s.sh          # kube-apiserver + etcd into target/k8s
//! scripts/setup-emulator.sh     # the emulator's Python environment into target/emulator-venv
//! cargo test -p commandbridge-testenv
//! ```
//!
//! The Kubernetes client uses rustls with the aws-lc-rs provider; kube installs it as the
//! process default on first use when none is installed, so nothing is needed here.

pub mod control_plane;
pub mod crds;
pub mod emulator;
pub mod namespace;
pub mod operator;
pub mod process;

mod certs;
mod ports;
mod random;

pub use control_plane::{
    ADMIN_USER, ControlPlane, ControlPlaneOptions, MissingBinaryError, workspace_root,
};
pub use crds::install_crds;
pub use emulator::{
    AppConfigRefs, Call, ClusterRef, DeployedConfig, Emulator, EmulatorOptions, FailoverRecord,
    FailoverTarget, Fault, FaultKind, SeedOptions, Topology, TopologyKind, count_successful,
};
pub use namespace::TestNamespace;
pub use operator::OperatorProcess;
pub use ports::free_port;
