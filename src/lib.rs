//! commandbridge-operator: regional failover and maintenance mode for the ScotAccount platform,
//! driven by Kubernetes resources.

pub mod audit;
pub mod aws;
pub mod config;
pub mod context;
pub mod controller;
pub mod crd;
pub mod error;
pub mod execution;
pub mod http;
pub mod lock;
pub mod manifest;
pub mod metrics;
pub mod plan;
pub mod preflight;
pub mod schedule;
pub mod shared_reads;
pub mod status;
pub mod validation;
pub mod window;
pub mod world;
