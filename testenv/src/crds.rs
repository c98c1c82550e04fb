//! Installing CustomResourceDefinitions into a test control plane.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

/// Field manager used for the server-side apply of CRDs.
pub const FIELD_MANAGER: &str = "commandbridge-testenv";

const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Applies each CRD (server-side apply, forced, field manager [`FIELD_MANAGER`]) and waits
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
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api.patch(name, &params, &Patch::Apply(crd)).await {
            Ok(_) => return Ok(()),
            // Concurrent applies of a new object can race on its creation.
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < 10 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => {
                return Err(error).with_context(|| format!("applying CRD {name}"));
            }
        }
    }
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
