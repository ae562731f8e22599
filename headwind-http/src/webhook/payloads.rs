//! Registry webhook payloads, parsed into [`PushEvent`]s.
//!
//! Each parser takes the body as received and answers the tag pushes it carries; anything else a
//! registry reports (blob uploads, pulls, deletions, scans) is counted as ignored. A body that
//! is not the documented JSON is a [`PayloadError`], answered with 400.
//!
//! Formats, from each registry's public documentation:
//! - Docker Hub: <https://docs.docker.com/docker-hub/repos/manage/webhooks/>
//! - CNCF distribution: <https://distribution.github.io/distribution/about/notifications/>
//! - Harbor: <https://goharbor.io/docs/main/working-with-projects/project-configuration/configure-webhooks/>
//! - Quay: <https://docs.quay.io/guides/notifications.html>
//! - GitHub Container Registry, the `registry_package` event:
//!   <https://docs.github.com/en/webhooks/webhook-events-and-payloads#registry_package>
//! - Azure Container Registry:
//!   <https://learn.microsoft.com/en-us/azure/container-registry/container-registry-webhook-reference>

use headwind_core::detect::PushEvent;
use headwind_core::image::ImageRef;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A body that is not the registry's documented payload.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The body is not the expected JSON.
    #[error("malformed {source_name} payload: {reason}")]
    Malformed {
        /// The registry.
        source_name: &'static str,
        /// What serde said.
        reason: String,
    },

    /// A field holds a repository or tag that is not a valid image reference.
    #[error("{source_name} payload names an invalid image: {reason}")]
    InvalidImage {
        /// The registry.
        source_name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The tag pushes of a payload, and how many other events it carried.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The tag pushes.
    pub pushes: Vec<PushEvent>,
    /// Events that are not tag pushes.
    pub ignored: usize,
}

fn json<T: DeserializeOwned>(source_name: &'static str, body: &[u8]) -> Result<T, PayloadError> {
    serde_json::from_slice(body).map_err(|e| PayloadError::Malformed {
        source_name,
        reason: e.to_string(),
    })
}

fn event(
    source_name: &'static str,
    host: Option<&str>,
    path: &str,
    tag: &str,
) -> Result<PushEvent, PayloadError> {
    PushEvent::new(host, path, tag).map_err(|e| PayloadError::InvalidImage {
        source_name,
        reason: e.to_string(),
    })
}

/// Splits `host/path` (as in Quay's `docker_url` or Harbor's `resource_url`) into host and path,
/// dropping any tag or digest.
fn split_reference(
    source_name: &'static str,
    reference: &str,
) -> Result<(String, String), PayloadError> {
    let image = ImageRef::parse(reference).map_err(|e| PayloadError::InvalidImage {
        source_name,
        reason: e.to_string(),
    })?;

    Ok((image.registry().to_owned(), image.path().to_owned()))
}

// === Docker Hub ===

#[derive(Deserialize)]
struct DockerHub {
    push_data: DockerHubPush,
    repository: DockerHubRepository,
}

#[derive(Deserialize)]
struct DockerHubPush {
    tag: String,
}

#[derive(Deserialize)]
struct DockerHubRepository {
    repo_name: String,
}

/// A Docker Hub push: one tag of `repository.repo_name` (`library/nginx` for official images).
///
/// # Errors
///
/// [`PayloadError`] for a body that is not a Docker Hub push.
pub fn docker_hub(body: &[u8]) -> Result<Parsed, PayloadError> {
    const NAME: &str = "Docker Hub";
    let payload: DockerHub = json(NAME, body)?;
    if payload.push_data.tag.is_empty() {
        return Ok(Parsed {
            pushes: Vec::new(),
            ignored: 1,
        });
    }

    let push = event(
        NAME,
        None,
        &payload.repository.repo_name,
        &payload.push_data.tag,
    )?;
    Ok(Parsed {
        pushes: vec![push],
        ignored: 0,
    })
}

// === CNCF distribution and Azure Container Registry ===

#[derive(Deserialize)]
struct Envelope {
    events: Vec<DistributionEvent>,
}

#[derive(Deserialize)]
struct DistributionEvent {
    action: String,
    target: Target,
    #[serde(default)]
    request: Option<RequestInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    repository: String,
    #[serde(default)]
    tag: Option<String>,
}

#[derive(Deserialize)]
struct RequestInfo {
    #[serde(default)]
    host: Option<String>,
}

/// Whether a media type is a manifest (or index), not a blob.
fn is_manifest(media_type: Option<&str>) -> bool {
    media_type.is_none_or(|m| m.contains("manifest") || m.contains("image.index"))
}

fn distribution_events(
    source_name: &'static str,
    events: Vec<DistributionEvent>,
    host: Option<&str>,
) -> Result<Parsed, PayloadError> {
    let mut parsed = Parsed::default();

    for e in events {
        let tag = e.target.tag.as_deref().filter(|t| !t.is_empty());
        let Some(tag) =
            tag.filter(|_| e.action == "push" && is_manifest(e.target.media_type.as_deref()))
        else {
            parsed.ignored += 1;
            continue;
        };

        // The repository carries no host: take the configured one, else the host the pushing
        // client addressed, which is the name workloads pull by.
        let request_host = e.request.as_ref().and_then(|r| r.host.as_deref());
        let host = host.or(request_host);
        match event(source_name, host, &e.target.repository, tag) {
            Ok(push) => parsed
                .pushes
                .push(push.with_digest(e.target.digest.as_deref())),
            // One unusable event must not cost the batch its other pushes (the registry would
            // resend the whole batch): it is counted as ignored.
            Err(error) => {
                tracing::warn!(%error, "ignoring a push event that names no valid image");
                parsed.ignored += 1;
            }
        }
    }

    Ok(parsed)
}

/// A CNCF distribution notification batch. Only manifest pushes with a tag are updates. The
/// registry host is `host` when configured, else the event's `request.host`.
///
/// # Errors
///
/// [`PayloadError`] for a body that is not a notification envelope.
pub fn distribution(body: &[u8], host: Option<&str>) -> Result<Parsed, PayloadError> {
    const NAME: &str = "registry";
    let envelope: Envelope = json(NAME, body)?;

    distribution_events(NAME, envelope.events, host)
}

/// An Azure Container Registry event: one distribution-style event, not wrapped in a batch.
///
/// # Errors
///
/// [`PayloadError`] for a body that is not an ACR event.
pub fn acr(body: &[u8], host: Option<&str>) -> Result<Parsed, PayloadError> {
    const NAME: &str = "ACR";
    let single: DistributionEvent = json(NAME, body)?;

    distribution_events(NAME, vec![single], host)
}

// === Harbor ===

#[derive(Deserialize)]
struct Harbor {
    #[serde(rename = "type")]
    kind: String,
    event_data: HarborData,
}

#[derive(Deserialize)]
struct HarborData {
    #[serde(default)]
    resources: Vec<HarborResource>,
}

#[derive(Deserialize)]
struct HarborResource {
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    resource_url: String,
}

/// A Harbor `PUSH_ARTIFACT` event; other event types are ignored.
///
/// # Errors
///
/// [`PayloadError`] for a body that is not a Harbor event.
pub fn harbor(body: &[u8]) -> Result<Parsed, PayloadError> {
    const NAME: &str = "Harbor";
    let payload: Harbor = json(NAME, body)?;
    if payload.kind != "PUSH_ARTIFACT" {
        return Ok(Parsed {
            pushes: Vec::new(),
            ignored: 1,
        });
    }

    let mut parsed = Parsed::default();
    for resource in payload.event_data.resources {
        let Some(tag) = resource.tag.filter(|t| !t.is_empty()) else {
            parsed.ignored += 1;
            continue;
        };
        let (host, path) = split_reference(NAME, &resource.resource_url)?;
        let push = event(NAME, Some(&host), &path, &tag)?;
        parsed
            .pushes
            .push(push.with_digest(resource.digest.as_deref()));
    }

    Ok(parsed)
}

// === Quay ===

#[derive(Deserialize)]
struct Quay {
    docker_url: String,
    #[serde(default)]
    updated_tags: Vec<String>,
}

/// A Quay repository push notification: one push per updated tag of `docker_url`.
///
/// # Errors
///
/// [`PayloadError`] for a body that is not a Quay push notification.
pub fn quay(body: &[u8]) -> Result<Parsed, PayloadError> {
    const NAME: &str = "Quay";
    let payload: Quay = json(NAME, body)?;
    let (host, path) = split_reference(NAME, &payload.docker_url)?;

    let pushes = payload
        .updated_tags
        .iter()
        .map(|tag| event(NAME, Some(&host), &path, tag))
        .collect::<Result<_, _>>()?;

    Ok(Parsed { pushes, ignored: 0 })
}

// === GitHub Container Registry ===

#[derive(Deserialize)]
struct GitHub {
    action: String,
    registry_package: Package,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    package_type: Option<String>,
    #[serde(default)]
    owner: Option<Owner>,
    package_version: PackageVersion,
}

#[derive(Deserialize)]
struct Owner {
    login: String,
}

#[derive(Deserialize)]
struct PackageVersion {
    #[serde(default)]
    package_url: Option<String>,
    #[serde(default)]
    container_metadata: Option<ContainerMetadata>,
}

#[derive(Deserialize)]
struct ContainerMetadata {
    #[serde(default)]
    tag: Option<GitHubTag>,
}

#[derive(Deserialize)]
struct GitHubTag {
    #[serde(default)]
    name: String,
    #[serde(default)]
    digest: Option<String>,
}

/// A GitHub `registry_package` event for a container package, `published` or `updated`.
///
/// # Errors
///
/// [`PayloadError`] for a body that is not a `registry_package` event.
pub fn ghcr(body: &[u8]) -> Result<Parsed, PayloadError> {
    const NAME: &str = "GitHub";
    let payload: GitHub = json(NAME, body)?;
    let package = payload.registry_package;
    let is_container = package
        .package_type
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("container"));
    let tag = package
        .package_version
        .container_metadata
        .and_then(|m| m.tag)
        .filter(|t| !t.name.is_empty());
    let wanted = matches!(payload.action.as_str(), "published" | "updated") && is_container;
    let Some(tag) = tag.filter(|_| wanted) else {
        return Ok(Parsed {
            pushes: Vec::new(),
            ignored: 1,
        });
    };

    let (host, path) = match package.package_version.package_url.as_deref() {
        Some(url) => split_reference(NAME, url)?,
        None => {
            let owner = package
                .owner
                .map(|o| o.login.to_ascii_lowercase())
                .unwrap_or_default();
            (
                "ghcr.io".to_owned(),
                format!("{owner}/{}", package.name.to_ascii_lowercase()),
            )
        }
    };
    let push = event(NAME, Some(&host), &path, &tag.name)?;

    Ok(Parsed {
        pushes: vec![push.with_digest(tag.digest.as_deref())],
        ignored: 0,
    })
}
