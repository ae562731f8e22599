//! Each registry's webhook payload parsed from a sample.
//!
//! The distribution samples are real: `distribution-push-event.json` is a notification of
//! Debian's `docker-registry` 2.8, and `distribution-mixed-events.json` was captured from the
//! same registry during a push of two blobs and a tagged manifest followed by two pulls. The
//! others follow each registry's published payload examples.

use headwind_http::webhook::payloads;

const PUSH: &[u8] = include_bytes!("fixtures/distribution-push-event.json");
const MIXED: &[u8] = include_bytes!("fixtures/distribution-mixed-events.json");

fn pushes(parsed: &payloads::Parsed) -> Vec<(String, String)> {
    parsed
        .pushes
        .iter()
        .map(|p| (p.repository.clone(), p.tag.clone()))
        .collect()
}

#[test]
fn distribution_push_takes_the_host_from_the_request() {
    let parsed = payloads::distribution(PUSH, None).unwrap();

    assert_eq!(
        pushes(&parsed),
        [("127.0.0.1:5000/demo/app".to_owned(), "1.2.0".to_owned())]
    );
    let digest = parsed.pushes[0].digest.as_deref().unwrap();
    assert!(digest.starts_with("sha256:6bc39624"), "{digest}");
}

#[test]
fn distribution_host_can_be_configured() {
    let parsed = payloads::distribution(PUSH, Some("registry.example.com")).unwrap();

    assert_eq!(parsed.pushes[0].repository, "registry.example.com/demo/app");
}

#[test]
fn distribution_ignores_blob_pushes_and_pulls() {
    let parsed = payloads::distribution(MIXED, None).unwrap();

    assert_eq!(
        pushes(&parsed),
        [("127.0.0.1:5098/demo/app".to_owned(), "1.2.0".to_owned())]
    );
    assert_eq!(
        parsed.ignored, 4,
        "two blob pushes, a manifest pull and a blob pull"
    );
}

#[test]
fn malformed_payloads_are_errors() {
    for body in [
        &b"not json"[..],
        b"{}",
        br#"{"events": [{"action": "push"}]}"#,
    ] {
        assert!(
            payloads::distribution(body, None).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(payloads::docker_hub(br#"{"push_data": {}}"#).is_err());
    let bad_repo = br#"{"push_data": {"tag": "1"}, "repository": {"repo_name": "Bad Name"}}"#;
    assert!(payloads::docker_hub(bad_repo).is_err());
}

#[test]
fn docker_hub_push_of_an_official_image() {
    let body = br#"{
        "callback_url": "https://registry.hub.docker.com/u/library/nginx/hook/abc/",
        "push_data": {"pushed_at": 1732608000, "pusher": "trustedbuilder", "tag": "1.27.0"},
        "repository": {"repo_name": "library/nginx", "namespace": "library", "name": "nginx", "status": "Active"}
    }"#;

    let parsed = payloads::docker_hub(body).unwrap();

    assert_eq!(
        pushes(&parsed),
        [("docker.io/library/nginx".to_owned(), "1.27.0".to_owned())]
    );
}

#[test]
fn harbor_push_artifact() {
    let body = br#"{
        "type": "PUSH_ARTIFACT",
        "occur_at": 1732608000,
        "operator": "admin",
        "event_data": {
            "resources": [{
                "digest": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
                "tag": "v2.1.0",
                "resource_url": "harbor.example.com/shop/web:v2.1.0"
            }],
            "repository": {"name": "web", "namespace": "shop", "repo_full_name": "shop/web", "repo_type": "private"}
        }
    }"#;

    let parsed = payloads::harbor(body).unwrap();
    assert_eq!(
        pushes(&parsed),
        [(
            "harbor.example.com/shop/web".to_owned(),
            "v2.1.0".to_owned()
        )]
    );

    let pull = br#"{"type": "PULL_ARTIFACT", "event_data": {"resources": []}}"#;
    let ignored = payloads::harbor(pull).unwrap();
    assert_eq!((ignored.pushes.len(), ignored.ignored), (0, 1));
}

#[test]
fn quay_push_of_several_tags() {
    let body = br#"{
        "name": "web",
        "repository": "shop/web",
        "namespace": "shop",
        "docker_url": "quay.io/shop/web",
        "homepage": "https://quay.io/repository/shop/web",
        "updated_tags": ["1.4.0", "latest"]
    }"#;

    let parsed = payloads::quay(body).unwrap();

    assert_eq!(
        pushes(&parsed),
        [
            ("quay.io/shop/web".to_owned(), "1.4.0".to_owned()),
            ("quay.io/shop/web".to_owned(), "latest".to_owned()),
        ]
    );
}

#[test]
fn ghcr_published_container_package() {
    let body = br#"{
        "action": "published",
        "registry_package": {
            "id": 1, "name": "web", "namespace": "shop", "ecosystem": "CONTAINER",
            "package_type": "CONTAINER",
            "owner": {"login": "Shop"},
            "package_version": {
                "version": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
                "container_metadata": {"tag": {"name": "1.8.0", "digest": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"}},
                "package_url": "ghcr.io/shop/web:1.8.0"
            },
            "registry": {"url": "https://ghcr.io", "vendor": "GitHub Inc"}
        }
    }"#;

    let parsed = payloads::ghcr(body).unwrap();
    assert_eq!(
        pushes(&parsed),
        [("ghcr.io/shop/web".to_owned(), "1.8.0".to_owned())]
    );

    let npm = br#"{"action": "published", "registry_package": {"name": "lib", "package_type": "npm", "package_version": {}}}"#;
    assert_eq!(payloads::ghcr(npm).unwrap().pushes.len(), 0);
}

#[test]
fn acr_push_event() {
    let body = br#"{
        "id": "cb8c3971-9adc-488b-xxxx-43cbb4974ff5",
        "timestamp": "2024-11-26T10:00:00.000Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 524, "length": 524,
            "digest": "sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d",
            "repository": "shop/web", "tag": "3.0.1"
        },
        "request": {"id": "3cbb6949-7549-4fa1-xxxx-a6d5451dffc7", "host": "myregistry.azurecr.io", "method": "PUT", "useragent": "docker/24.0"}
    }"#;

    let parsed = payloads::acr(body, None).unwrap();

    assert_eq!(
        pushes(&parsed),
        [(
            "myregistry.azurecr.io/shop/web".to_owned(),
            "3.0.1".to_owned()
        )]
    );
}

#[test]
fn an_unusable_event_does_not_cost_the_batch_its_other_pushes() {
    let body = br#"{"events": [
        {"action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "Bad Repo", "tag": "1.0"}, "request": {"host": "127.0.0.1:5000"}},
        {"action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "demo/app", "tag": "1.3.0"}, "request": {"host": "127.0.0.1:5000"}}
    ]}"#;

    let parsed = payloads::distribution(body, None).unwrap();

    assert_eq!(
        pushes(&parsed),
        [("127.0.0.1:5000/demo/app".to_owned(), "1.3.0".to_owned())]
    );
    assert_eq!(parsed.ignored, 1);
}
