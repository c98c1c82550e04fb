//! A namespace of its own for each test, so tests can share one control plane.
//!
//! Without kube-controller-manager a deleted namespace stays `Terminating` forever, so
//! tests normally leave theirs behind; the control plane is thrown away at the end of the
//! run anyway. [`TestNamespace::delete`] is there for tests that want to try.

use std::fmt;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::random::random_name_suffix;

/// Label put on every namespace this crate creates.
pub const TEST_NAMESPACE_LABEL: &str = "commandbridge.testenv/test-namespace";

const SUFFIX_LEN: usize = 8;
const MAX_NAME_LEN: usize = 63;

/// A uniquely named namespace created for one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestNamespace {
    name: String,
}

impl TestNamespace {
    /// Creates a namespace named `<prefix>-<random suffix>`. The prefix is lower-cased,
    /// characters not allowed in a name become `-`, and it is shortened to fit 63
    /// characters.
    pub async fn create(client: &Client, prefix: &str) -> Result<TestNamespace> {
        let prefix = sanitise_prefix(prefix);
        let api: Api<Namespace> = Api::all(client.clone());
        let mut last_error = None;
        for _ in 0..5 {
            let name = format!("{prefix}-{}", random_name_suffix(SUFFIX_LEN));
            let namespace = Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(
                        [(TEST_NAMESPACE_LABEL.to_owned(), "true".to_owned())]
                            .into_iter()
                            .collect(),
                    ),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            };
            match api.create(&PostParams::default(), &namespace).await {
                Ok(_) => return Ok(TestNamespace { name }),
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    last_error = Some(kube::Error::Api(status));
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("creating namespace {name}"));
                }
            }
        }
        Err(last_error.map_or_else(
            || anyhow::anyhow!("no free namespace name"),
            anyhow::Error::from,
        ))
        .context("creating a test namespace: every random name was taken")
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks the apiserver to delete the namespace. Best effort: without a
    /// kube-controller-manager the namespace stays `Terminating`.
    pub async fn delete(&self, client: &Client) -> Result<()> {
        let api: Api<Namespace> = Api::all(client.clone());
        match api.delete(&self.name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(error) => Err(error).with_context(|| format!("deleting namespace {}", self.name)),
        }
    }
}

impl fmt::Display for TestNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl AsRef<str> for TestNamespace {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

fn sanitise_prefix(prefix: &str) -> String {
    let mut cleaned: String = prefix
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.truncate(MAX_NAME_LEN - SUFFIX_LEN - 1);
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        "test".to_owned()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_made_a_valid_name_part() {
        let long = "x".repeat(100);

        let cleaned = sanitise_prefix("My_Test::Name-");
        let shortened = sanitise_prefix(&long);
        let empty = sanitise_prefix("__");

        assert_eq!(cleaned, "my-test--name");
        assert_eq!(shortened.len(), MAX_NAME_LEN - SUFFIX_LEN - 1);
        assert_eq!(empty, "test");
    }
}
