//! Installing CustomResourceDefinitions into a test control plane.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};

const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates or replaces each CRD and waits
/// until it is `Established` and its resources are served.
///
/// Idempotent, and safe to call from several tests at once with the same CRDs.
pub async fn install_crds(client: &Client, crds: &[CustomResourceDefinition]) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds {
        let name = crd
            .metadata
            .name
            .as_deref()
            .ok_or_else(|| anyhow!("a CustomResourceDefinition has no metadata.name"))?;
        apply(&api, name, crd).await?;
    }
    for crd in crds {
        wait_served(client, &api, crd).await?;
    }
    Ok(())
}

async fn apply(
    api: &Api<CustomResourceDefinition>,
    name: &str,
    crd: &CustomResourceDefinition,
) -> Result<()> {
    // Create; an existing CRD with the same spec hash is left alone, another one is deleted
    // and created again. Not server-side apply, and not update: a v1.20 API server refuses a
    // typed patch carrying `x-kubernetes-validations`, and refuses updates of single-version
    // CRDs ("per-version schemas may not all be set to identical values").
    let hash = spec_hash(crd)?;
    let mut wanted = crd.clone();
    wanted
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(SPEC_HASH_ANNOTATION.to_owned(), hash.clone());
    let mut attempt = 0;
    loop {
        attempt += 1;
        let existing = api
            .get_opt(name)
            .await
            .with_context(|| format!("reading CRD {name}"))?;
        let result = match existing {
            Some(existing) if existing.metadata.deletion_timestamp.is_some() => Err(None),
            Some(existing) => {
                let current = existing
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SPEC_HASH_ANNOTATION));
                if current == Some(&hash) {
                    return Ok(());
                }
                api.delete(name, &DeleteParams::default())
                    .await
                    .map(|_| ())
                    .map_err(Some)
            }
            None => api
                .create(&PostParams::default(), &wanted)
                .await
                .map(|_| ())
                .map_err(Some),
        };
        match result {
            Ok(()) => {}
            // A CRD being deleted, or concurrent installs racing on creation.
            Err(None) => {}
            Err(Some(kube::Error::Api(status))) if matches!(status.code, 404 | 409) => {}
            Err(Some(error)) => {
                return Err(error).with_context(|| format!("installing CRD {name}"));
            }
        }
        if attempt >= 100 {
            bail!("CRD {name} could not be installed after {attempt} attempts");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Annotation holding a hash of the spec a CRD was installed with.
const SPEC_HASH_ANNOTATION: &str = "commandbridge.testenv/spec-hash";

fn spec_hash(crd: &CustomResourceDefinition) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let text = serde_json::to_string(&crd.spec).context("serializing a CRD spec")?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    Ok(format!("{:016x}", hasher.finish()))
}

async fn wait_served(
    client: &Client,
    api: &Api<CustomResourceDefinition>,
    crd: &CustomResourceDefinition,
) -> Result<()> {
    let name = crd.metadata.name.as_deref().unwrap_or_default();
    let group = &crd.spec.group;
    let plural = &crd.spec.names.plural;
    let versions: Vec<&str> = crd
        .spec
        .versions
        .iter()
        .filter(|version| version.served)
        .map(|version| version.name.as_str())
        .collect();
    let deadline = Instant::now() + ESTABLISH_TIMEOUT;

    loop {
        let current = api
            .get(name)
            .await
            .with_context(|| format!("reading CRD {name}"))?;
        let established = current
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if established {
            break;
        }
        if Instant::now() >= deadline {
            bail!(
                "CRD {name} was not Established within {ESTABLISH_TIMEOUT:?}; status: {:?}",
                current.status
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Established can come a moment before the resource is in the discovery the
    // apiserver's handlers use; a list answering 200 proves it is served.
    for version in versions {
        let path = format!("/apis/{group}/{version}/{plural}?limit=1");
        loop {
            let request = http::Request::get(path.as_str()).body(Vec::new())?;
            match client.request_text(request).await {
                Ok(_) => break,
                Err(error) if Instant::now() >= deadline => {
                    return Err(error)
                        .with_context(|| format!("CRD {name} is Established but {path} fails"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    Ok(())
}
