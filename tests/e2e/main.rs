//! End-to-end tests on a real kube-apiserver (one per test binary) and the AWS emulator (one
//! per test), with the operator running as a process.

mod crds;
mod failover_plan;
mod hostile;
mod maintenance_window;
mod operations;
mod reliability;
mod support;
