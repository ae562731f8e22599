//! Loading workloads from Kubernetes manifests into the in-memory deployer.
//!
//! A file is a multi-document YAML stream of Deployments, StatefulSets and DaemonSets, as
//! `kubectl get -o yaml` or a Helm render prints them. Only what headwind reads is taken: kind,
//! name, namespace (`default` when absent), annotations and the pod template's containers.
//! Documents of other kinds are skipped; a document that does not parse, or a workload with
//! invalid names or images, refuses the whole file with the document's number and the reason.

use std::collections::BTreeMap;

use headwind_core::image::ImageRef;
use headwind_core::name;
use headwind_core::types::{Container, Workload, WorkloadKind, WorkloadRef};
use serde::Deserialize;

/// A manifest file that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("document {document}: {reason}")]
pub struct ManifestError {
    /// 1-based number of the offending document in the stream.
    pub document: usize,
    /// What is wrong with it.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    kind: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    spec: Option<Spec>,
}

#[derive(Default, Deserialize)]
struct Metadata {
    name: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Spec {
    template: Option<Template>,
}

#[derive(Deserialize)]
struct Template {
    spec: Option<PodSpec>,
}

#[derive(Deserialize)]
struct PodSpec {
    #[serde(default)]
    containers: Vec<ManifestContainer>,
}

#[derive(Deserialize)]
struct ManifestContainer {
    name: String,
    image: String,
}

/// Parses every Deployment, StatefulSet and DaemonSet of a YAML stream.
///
/// # Errors
///
/// [`ManifestError`] for the first document that does not parse or holds an invalid workload.
pub fn parse(text: &str) -> Result<Vec<Workload>, ManifestError> {
    let mut workloads = Vec::new();

    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let number = index + 1;
        let fail = |reason: String| ManifestError {
            document: number,
            reason,
        };

        let value = serde_yaml::Value::deserialize(document).map_err(|e| fail(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let manifest: Manifest = serde_yaml::from_value(value).map_err(|e| fail(e.to_string()))?;
        let Some(kind) = manifest.kind.as_deref() else {
            return Err(fail("no kind".to_owned()));
        };
        let Ok(kind) = kind.parse::<WorkloadKind>() else {
            tracing::debug!(
                document = number,
                kind,
                "skipping a document that is not a workload"
            );
            continue;
        };

        workloads.push(workload(kind, manifest).map_err(fail)?);
    }

    Ok(workloads)
}

fn workload(kind: WorkloadKind, manifest: Manifest) -> Result<Workload, String> {
    let name = manifest.metadata.name.ok_or("metadata.name is missing")?;
    let namespace = manifest
        .metadata
        .namespace
        .unwrap_or_else(|| "default".to_owned());
    let reference = WorkloadRef::new(kind, &namespace, &name).map_err(|e| e.to_string())?;

    let containers = manifest
        .spec
        .and_then(|s| s.template)
        .and_then(|t| t.spec)
        .map(|s| s.containers)
        .unwrap_or_default();
    if containers.is_empty() {
        return Err(format!("{reference} has no spec.template.spec.containers"));
    }

    let mut parsed = Vec::with_capacity(containers.len());
    for c in containers {
        name::validate_container(&c.name).map_err(|e| format!("{reference}: {e}"))?;
        ImageRef::parse(&c.image).map_err(|e| format!("{reference}: {e}"))?;
        parsed.push(Container {
            name: c.name,
            image: c.image,
        });
    }

    let mut workload = Workload::new(reference, parsed);
    workload.annotations = manifest.metadata.annotations;

    Ok(workload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFESTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    headwind.sh/policy: minor
spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com:5000/shop/web:1.2.0
        - name: proxy
          image: envoyproxy/envoy:v1.30.1
---
apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      containers:
        - name: postgres
          image: postgres:16.2
"#;

    #[test]
    fn parses_workloads_and_skips_other_kinds() {
        let workloads = parse(MANIFESTS).unwrap();

        assert_eq!(workloads.len(), 2);
        assert_eq!(workloads[0].reference.to_string(), "Deployment shop/web");
        assert_eq!(workloads[0].annotations["headwind.sh/policy"], "minor");
        assert_eq!(workloads[0].containers[1].image, "envoyproxy/envoy:v1.30.1");
        assert_eq!(workloads[1].reference.to_string(), "StatefulSet default/db");
    }

    #[test]
    fn refuses_a_file_with_the_document_number_and_reason() {
        let broken = format!("{MANIFESTS}---\nkind: DaemonSet\nmetadata:\n  name: Bad_Name\n");
        let err = parse(&broken).unwrap_err();
        assert_eq!(err.document, 4);
        assert!(err.reason.contains("Bad_Name"), "{err}");

        let err = parse("kind: Deployment\nmetadata: [unclosed\n").unwrap_err();
        assert_eq!(err.document, 1);

        let err = parse("---\nkind: Deployment\nmetadata:\n  name: x\n").unwrap_err();
        assert!(
            err.reason.contains("no spec.template.spec.containers"),
            "{err}"
        );

        let bad_image = MANIFESTS.replace("postgres:16.2", "Postgres::16");
        assert_eq!(parse(&bad_image).unwrap_err().document, 3);
    }
}
