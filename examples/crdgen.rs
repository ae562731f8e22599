//! Prints the UpdateRequest CustomResourceDefinition as YAML.
//!
//! ```text
//! cargo run --example crdgen > deploy/crds/updaterequest.yaml
//! ```
//!
//! A test (`headwind-kube/tests/crd.rs`) fails when the committed file differs from this output.

fn main() -> anyhow::Result<()> {
    print!("{}", headwind::kube::crd::crd_yaml()?);
    Ok(())
}
