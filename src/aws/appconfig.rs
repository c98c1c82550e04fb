//! AppConfig feature flags: reading the deployed value of a flag and changing it. This is the
//! one implementation of "turn maintenance mode on/off", used by FailoverPlan executions and by
//! MaintenanceWindows alike.
//!
//! A change reads the latest hosted configuration version, changes one flag (and optionally
//! its `message` attribute), writes a new version with optimistic concurrency on the latest
//! version number, deploys it with the given strategy and waits for COMPLETE. Every version and
//! deployment it creates carries a marker in its description, so that a restarted controller
//! finds the change it had already made instead of making it twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_appconfig::operation::RequestId;
use aws_sdk_appconfig::primitives::Blob;
use aws_sdk_appconfig::types::DeploymentState;
use serde_json::Value;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

use crate::config::AwsClients;
use crate::crd::FlagTarget;
use crate::error::{self, Error, Result};

/// Ids of the AppConfig resources a [`FlagTarget`] names.
#[derive(Debug, Clone)]
struct Resolved {
    application: String,
    environment: String,
    profile: String,
    profile_name: String,
    strategy: String,
}

/// The value of a flag as deployed (COMPLETE) in the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployedFlag {
    pub enabled: bool,
    pub message: Option<String>,
    pub version: i32,
}

/// What a change did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagChange {
    /// False when the flag already had the wanted value and nothing was called.
    pub changed: bool,
    pub version: Option<i32>,
    pub deployment_number: Option<i32>,
    pub request_id: Option<String>,
}

/// How long a change waits for a deployment (ours, or one already running) to finish.
const DEPLOYMENT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Clone)]
pub struct Flags {
    clients: AwsClients,
    resolved: Arc<Mutex<HashMap<String, Resolved>>>,
    resolving: Arc<tokio::sync::Mutex<()>>,
    poll: Duration,
    shutdown: CancellationToken,
}

impl Flags {
    /// `shutdown` interrupts the waits for deployments (never a call in flight).
    pub fn new(clients: AwsClients, poll: Duration, shutdown: CancellationToken) -> Self {
        Flags {
            clients,
            resolved: Arc::default(),
            resolving: Arc::default(),
            poll,
            shutdown,
        }
    }

    async fn pause(&self) -> Result<()> {
        tokio::select! {
            _ = sleep(self.poll) => Ok(()),
            _ = self.shutdown.cancelled() => Err(Error::ShuttingDown),
        }
    }

    fn client(&self, target: &FlagTarget) -> aws_sdk_appconfig::Client {
        self.clients
            .appconfig(target.region.as_ref().map(|r| r.as_str()))
    }

    async fn resolve(&self, target: &FlagTarget) -> Result<Resolved> {
        let key = target.key() + "/" + &target.deployment_strategy;
        let cached = || {
            self.resolved
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
                .cloned()
        };
        if let Some(found) = cached() {
            return Ok(found);
        }
        // One lookup at a time, so that many resources naming the same flag look it up once.
        let _one_at_a_time = self.resolving.lock().await;
        if let Some(found) = cached() {
            return Ok(found);
        }
        let client = self.client(target);

        let apps = client
            .list_applications()
            .send()
            .await
            .map_err(|e| error::aws("appconfig", "ListApplications", e))?;
        let application = apps
            .items()
            .iter()
            .find(|a| a.id() == Some(&target.application) || a.name() == Some(&target.application))
            .and_then(|a| a.id())
            .ok_or_else(|| {
                Error::state(format!(
                    "AppConfig application {:?} not found",
                    target.application
                ))
            })?
            .to_string();

        let envs = client
            .list_environments()
            .application_id(&application)
            .send()
            .await
            .map_err(|e| error::aws("appconfig", "ListEnvironments", e))?;
        let environment = envs
            .items()
            .iter()
            .find(|e| e.id() == Some(&target.environment) || e.name() == Some(&target.environment))
            .and_then(|e| e.id())
            .ok_or_else(|| {
                Error::state(format!(
                    "AppConfig environment {:?} not found",
                    target.environment
                ))
            })?
            .to_string();

        let profiles = client
            .list_configuration_profiles()
            .application_id(&application)
            .send()
            .await
            .map_err(|e| error::aws("appconfig", "ListConfigurationProfiles", e))?;
        let profile = profiles
            .items()
            .iter()
            .find(|p| p.id() == Some(&target.profile) || p.name() == Some(&target.profile))
            .ok_or_else(|| {
                Error::state(format!(
                    "AppConfig configuration profile {:?} not found",
                    target.profile
                ))
            })?;
        let (profile, profile_name) = (
            profile.id().unwrap_or_default().to_string(),
            profile.name().unwrap_or_default().to_string(),
        );

        let strategies = client
            .list_deployment_strategies()
            .send()
            .await
            .map_err(|e| error::aws("appconfig", "ListDeploymentStrategies", e))?;
        let strategy = strategies
            .items()
            .iter()
            .find(|s| {
                s.id() == Some(&target.deployment_strategy)
                    || s.name() == Some(&target.deployment_strategy)
            })
            .and_then(|s| s.id())
            .ok_or_else(|| {
                Error::state(format!(
                    "AppConfig deployment strategy {:?} not found",
                    target.deployment_strategy
                ))
            })?
            .to_string();

        let resolved = Resolved {
            application,
            environment,
            profile,
            profile_name,
            strategy,
        };
        self.resolved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, resolved.clone());
        Ok(resolved)
    }

    /// The flag's value in the configuration version last deployed to COMPLETE.
    pub async fn deployed(&self, target: &FlagTarget) -> Result<DeployedFlag> {
        let ids = self.resolve(target).await?;
        let version = self
            .last_complete_version(target, &ids)
            .await?
            .ok_or_else(|| {
                Error::state(format!(
                    "profile {} has never been deployed to {}",
                    target.profile, target.environment
                ))
            })?;
        let content = self.content(target, &ids, version).await?;
        let (enabled, message) = read_flag(&content, &target.flag)?;
        Ok(DeployedFlag {
            enabled,
            message,
            version,
        })
    }

    /// Checks that the profile's latest version is readable and holds the flag.
    pub async fn check_readable(&self, target: &FlagTarget) -> Result<()> {
        let ids = self.resolve(target).await?;
        let (_, content) = self.latest(target, &ids).await?;
        read_flag(&content, &target.flag).map(|_| ())
    }

    /// Sets the flag, deploys it and waits for COMPLETE. `marker` identifies this change across
    /// restarts; with `resume`, a version or deployment carrying it is reused, not repeated.
    pub async fn set(
        &self,
        target: &FlagTarget,
        enabled: bool,
        message: Option<&str>,
        marker: &str,
        resume: bool,
    ) -> Result<FlagChange> {
        let ids = self.resolve(target).await?;
        let client = self.client(target);
        let deadline = Instant::now() + DEPLOYMENT_TIMEOUT;

        let earlier = if resume {
            self.find_deployment(target, &ids, marker).await?
        } else {
            None
        };
        if let Some(number) = earlier {
            {
                let version = self
                    .wait_for_deployment(target, &ids, number, deadline)
                    .await?;
                return Ok(FlagChange {
                    changed: true,
                    version: Some(version),
                    deployment_number: Some(number),
                    request_id: None,
                });
            }
        }

        self.wait_until_idle(target, &ids, deadline).await?;
        let deployed = self.deployed(target).await?;
        let message_matches =
            !enabled || message.is_none() || deployed.message.as_deref() == message;
        if deployed.enabled == enabled && message_matches {
            return Ok(FlagChange {
                version: Some(deployed.version),
                ..FlagChange::default()
            });
        }

        let version = match self.find_version(target, &ids, marker, resume).await? {
            Some(version) => version,
            None => {
                self.create_version(target, &ids, enabled, message, marker)
                    .await?
            }
        };

        let (number, request_id) = loop {
            let started = client
                .start_deployment()
                .application_id(&ids.application)
                .environment_id(&ids.environment)
                .configuration_profile_id(&ids.profile)
                .configuration_version(version.to_string())
                .deployment_strategy_id(&ids.strategy)
                .description(marker)
                .send()
                .await;
            match started {
                Ok(output) => {
                    break (
                        output.deployment_number(),
                        output.request_id().map(str::to_string),
                    );
                }
                Err(e) => {
                    let err = error::aws("appconfig", "StartDeployment", e);
                    if err.aws_code() != Some("ConflictException") || Instant::now() > deadline {
                        return Err(err);
                    }
                    tracing::warn!(flag = %target.flag, "another deployment is running; waiting to deploy");
                    self.pause().await?;
                }
            }
        };
        tracing::info!(flag = %target.flag, enabled, version, deployment = number, "flag deployment started");

        let version = self
            .wait_for_deployment(target, &ids, number, deadline)
            .await?;
        Ok(FlagChange {
            changed: true,
            version: Some(version),
            deployment_number: Some(number),
            request_id,
        })
    }

    async fn create_version(
        &self,
        target: &FlagTarget,
        ids: &Resolved,
        enabled: bool,
        message: Option<&str>,
        marker: &str,
    ) -> Result<i32> {
        let client = self.client(target);
        for _ in 0..5 {
            let (latest, mut content) = self.latest(target, ids).await?;
            write_flag(&mut content, &target.flag, enabled, message)?;
            let body = serde_json::to_vec(&content)?;
            let created = client
                .create_hosted_configuration_version()
                .application_id(&ids.application)
                .configuration_profile_id(&ids.profile)
                .content(Blob::new(body))
                .content_type("application/json")
                .latest_version_number(latest)
                .description(marker)
                .send()
                .await;
            match created {
                Ok(output) => return Ok(output.version_number()),
                Err(e) => {
                    let err = error::aws("appconfig", "CreateHostedConfigurationVersion", e);
                    if err.aws_code() != Some("ConflictException") {
                        return Err(err);
                    }
                    tracing::warn!(flag = %target.flag, "configuration changed while writing; reading it again");
                }
            }
        }
        Err(Error::state(
            "the configuration profile kept changing while the flag was being written; try again",
        ))
    }

    /// The latest hosted version number and its content.
    async fn latest(&self, target: &FlagTarget, ids: &Resolved) -> Result<(i32, Value)> {
        let versions = self
            .client(target)
            .list_hosted_configuration_versions()
            .application_id(&ids.application)
            .configuration_profile_id(&ids.profile)
            .send()
            .await
            .map_err(|e| error::aws("appconfig", "ListHostedConfigurationVersions", e))?;
        let latest = versions
            .items()
            .iter()
            .map(|v| v.version_number())
            .max()
            .ok_or_else(|| {
                Error::state(format!(
                    "profile {} has no hosted configuration version",
                    target.profile
                ))
            })?;
        Ok((latest, self.content(target, ids, latest).await?))
    }

    async fn content(&self, target: &FlagTarget, ids: &Resolved, version: i32) -> Result<Value> {
        let output = self
            .client(target)
            .get_hosted_configuration_version()
            .application_id(&ids.application)
            .configuration_profile_id(&ids.profile)
            .version_number(version)
            .send()
            .await
            .map_err(|e| error::aws("appconfig", "GetHostedConfigurationVersion", e))?;
        let bytes = output
            .content()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::state(format!(
                "version {version} of profile {} is not JSON: {e}",
                target.profile
            ))
        })
    }

    async fn find_version(
        &self,
        target: &FlagTarget,
        ids: &Resolved,
        marker: &str,
        resume: bool,
    ) -> Result<Option<i32>> {
        if !resume {
            return Ok(None);
        }
        let versions = self
            .client(target)
            .list_hosted_configuration_versions()
            .application_id(&ids.application)
            .configuration_profile_id(&ids.profile)
            .send()
            .await
            .map_err(|e| error::aws("appconfig", "ListHostedConfigurationVersions", e))?;
        Ok(versions
            .items()
            .iter()
            .filter(|v| v.description() == Some(marker))
            .map(|v| v.version_number())
            .max())
    }

    /// Deployments of this environment, newest first: (number, profile name, version, state).
    async fn deployments(
        &self,
        target: &FlagTarget,
        ids: &Resolved,
    ) -> Result<Vec<(i32, String, String, DeploymentState)>> {
        let output = self
            .client(target)
            .list_deployments()
            .application_id(&ids.application)
            .environment_id(&ids.environment)
            .send()
            .await
            .map_err(|e| error::aws("appconfig", "ListDeployments", e))?;
        let mut items: Vec<_> = output
            .items()
            .iter()
            .map(|d| {
                (
                    d.deployment_number(),
                    d.configuration_name().unwrap_or_default().to_string(),
                    d.configuration_version().unwrap_or_default().to_string(),
                    d.state().cloned().unwrap_or(DeploymentState::Complete),
                )
            })
            .collect();
        items.sort_by_key(|d| std::cmp::Reverse(d.0));
        Ok(items)
    }

    async fn last_complete_version(
        &self,
        target: &FlagTarget,
        ids: &Resolved,
    ) -> Result<Option<i32>> {
        let deployments = self.deployments(target, ids).await?;
        Ok(deployments
            .iter()
            .filter(|d| d.1 == ids.profile_name && d.3 == DeploymentState::Complete)
            .find_map(|d| d.2.parse().ok()))
    }

    /// Looks for a deployment this change already started (its description is `marker`).
    async fn find_deployment(
        &self,
        target: &FlagTarget,
        ids: &Resolved,
        marker: &str,
    ) -> Result<Option<i32>> {
        let client = self.client(target);
        for (number, profile, _, _) in self.deployments(target, ids).await?.into_iter().take(10) {
            if profile != ids.profile_name {
                continue;
            }
            let deployment = client
                .get_deployment()
                .application_id(&ids.application)
                .environment_id(&ids.environment)
                .deployment_number(number)
                .send()
                .await
                .map_err(|e| error::aws("appconfig", "GetDeployment", e))?;
            if deployment.description() == Some(marker) {
                return Ok(Some(number));
            }
        }
        Ok(None)
    }

    /// Waits while any deployment of this environment is in progress.
    async fn wait_until_idle(
        &self,
        target: &FlagTarget,
        ids: &Resolved,
        deadline: Instant,
    ) -> Result<()> {
        loop {
            let deployments = self.deployments(target, ids).await?;
            let running = deployments.iter().any(|d| {
                matches!(
                    d.3,
                    DeploymentState::Deploying
                        | DeploymentState::Baking
                        | DeploymentState::Validating
                )
            });
            if !running {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::state(
                    "another AppConfig deployment has been running for 30 minutes; stop it or wait",
                ));
            }
            tracing::debug!(flag = %target.flag, "waiting for a running deployment to finish");
            self.pause().await?;
        }
    }

    /// Waits for deployment `number` to finish; returns its configuration version.
    async fn wait_for_deployment(
        &self,
        target: &FlagTarget,
        ids: &Resolved,
        number: i32,
        deadline: Instant,
    ) -> Result<i32> {
        let client = self.client(target);
        loop {
            let deployment = client
                .get_deployment()
                .application_id(&ids.application)
                .environment_id(&ids.environment)
                .deployment_number(number)
                .send()
                .await
                .map_err(|e| error::aws("appconfig", "GetDeployment", e))?;
            let version = deployment
                .configuration_version()
                .and_then(|v| v.parse().ok())
                .unwrap_or_default();
            match deployment.state() {
                Some(DeploymentState::Complete) => return Ok(version),
                Some(DeploymentState::RolledBack) | Some(DeploymentState::Reverted) => {
                    return Err(Error::state(format!(
                        "AppConfig deployment {number} of version {version} was rolled back"
                    )));
                }
                state => {
                    tracing::debug!(flag = %target.flag, deployment = number, state = ?state, "waiting for deployment")
                }
            }
            if Instant::now() > deadline {
                return Err(Error::state(format!(
                    "AppConfig deployment {number} did not complete within 30 minutes"
                )));
            }
            self.pause().await?;
        }
    }
}

/// Reads `values.<flag>.enabled` and `values.<flag>.message` of a feature-flag document.
pub fn read_flag(content: &Value, flag: &str) -> Result<(bool, Option<String>)> {
    if content.pointer(&format!("/flags/{flag}")).is_none() {
        return Err(Error::state(format!(
            "the profile defines no flag {flag:?}; add it to the profile in Terraform"
        )));
    }
    let values = content.pointer(&format!("/values/{flag}"));
    let enabled = values
        .and_then(|v| v.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let message = values
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok((enabled, message))
}

/// Sets `values.<flag>.enabled` (and the message attribute, where the flag declares one),
/// leaving every other flag and attribute untouched.
pub fn write_flag(
    content: &mut Value,
    flag: &str,
    enabled: bool,
    message: Option<&str>,
) -> Result<()> {
    let declares_message = content
        .pointer(&format!("/flags/{flag}/attributes/message"))
        .is_some();
    read_flag(content, flag)?;
    let values = content
        .as_object_mut()
        .ok_or_else(|| Error::state("the feature-flag document is not a JSON object"))?
        .entry("values")
        .or_insert_with(|| Value::Object(Default::default()));
    let entry = values
        .as_object_mut()
        .ok_or_else(|| Error::state("values of the feature-flag document is not an object"))?
        .entry(flag.to_string())
        .or_insert_with(|| Value::Object(Default::default()));
    let entry = entry
        .as_object_mut()
        .ok_or_else(|| Error::state(format!("values.{flag} is not an object")))?;
    entry.insert("enabled".into(), Value::Bool(enabled));
    if let (true, Some(message)) = (enabled && declares_message, message) {
        entry.insert("message".into(), Value::String(message.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> Value {
        json!({
            "version": "1",
            "flags": {
                "maintenance_mode": {"name": "maintenance_mode", "attributes": {"message": {"constraints": {"type": "string"}}}},
                "webauthn": {"name": "webauthn"}
            },
            "values": {
                "maintenance_mode": {"enabled": false, "message": ""},
                "webauthn": {"enabled": true}
            }
        })
    }

    #[test]
    fn write_flag_changes_only_the_named_flag() {
        let mut content = document();

        write_flag(&mut content, "maintenance_mode", true, Some("back soon")).expect("written");

        assert_eq!(
            content["values"]["maintenance_mode"],
            json!({"enabled": true, "message": "back soon"})
        );
        assert_eq!(content["values"]["webauthn"], json!({"enabled": true}));
        assert_eq!(content["flags"], document()["flags"]);
    }

    #[test]
    fn turning_the_flag_off_keeps_its_message() {
        let mut content = document();
        write_flag(&mut content, "maintenance_mode", true, Some("back soon")).expect("written");

        write_flag(&mut content, "maintenance_mode", false, Some("ignored")).expect("written");

        assert_eq!(
            content["values"]["maintenance_mode"],
            json!({"enabled": false, "message": "back soon"})
        );
    }

    #[test]
    fn message_is_not_written_to_a_flag_without_the_attribute() {
        let mut content = document();

        write_flag(&mut content, "webauthn", true, Some("hello")).expect("written");

        assert_eq!(content["values"]["webauthn"], json!({"enabled": true}));
    }

    #[test]
    fn a_flag_missing_from_the_profile_is_an_error_naming_it() {
        let mut content = document();

        let err = write_flag(&mut content, "maintenance", true, None).expect_err("refused");

        assert!(err.to_string().contains("\"maintenance\""), "{err}");
        assert_eq!(content, document());
    }
}
