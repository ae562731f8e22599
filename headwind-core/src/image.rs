//! Parsing and normalising container image references.
//!
//! The grammar is the one of the distribution project's reference package, which is what the
//! container runtimes behind Kubernetes accept: `[host[:port]/]path[:tag][@digest]`. The first
//! path component is a registry host only when it contains `.` or `:` or is `localhost`;
//! otherwise the image lives on Docker Hub, where a single-component path gets the `library/`
//! prefix. So `nginx`, `library/nginx` and `docker.io/library/nginx` are one repository.
//! See <https://github.com/distribution/reference/blob/main/reference.go>.

use std::fmt;

/// The registry host images without a host come from.
pub const DOCKER_HUB: &str = "docker.io";

/// A reference that container runtimes would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct InvalidImage {
    /// The reference as given, cut to 100 characters.
    pub reference: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A parsed, normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference as Kubernetes accepts it in a pod spec.
    ///
    /// # Errors
    ///
    /// [`InvalidImage`] when the reference breaks the grammar: empty, upper-case path, bad tag or
    /// digest, or longer than 255 characters of name.
    pub fn parse(reference: &str) -> Result<Self, InvalidImage> {
        let fail = |reason| InvalidImage {
            reference: reference.chars().take(100).collect(),
            reason,
        };
        if reference.is_empty() {
            return Err(fail("empty reference"));
        }

        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(parse_digest(digest).ok_or_else(|| fail("bad digest"))?),
            ),
            None => (reference, None),
        };

        // A ':' after the last '/' starts the tag; one before it belongs to a host port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag
            && !is_tag(tag)
        {
            return Err(fail(
                "bad tag: 1 to 128 of letters, digits, '_', '.', '-', not starting with '.' or '-'",
            ));
        }
        if name.len() > 255 {
            return Err(fail("name longer than 255 characters"));
        }

        let (registry, path) = split_host(name);
        if let Some(host) = registry
            && !is_host(host)
        {
            return Err(fail("bad registry host"));
        }
        if path.is_empty() || !path.split('/').all(is_path_component) {
            return Err(fail(
                "bad repository path: lowercase letters and digits separated by '.', '_', '__' or '-'",
            ));
        }

        let registry = match registry {
            None | Some("index.docker.io" | "registry-1.docker.io") => DOCKER_HUB.to_owned(),
            Some(host) => host.to_owned(),
        };
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };

        Ok(Self {
            registry,
            path,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The registry host, with port when given (`docker.io` by default).
    #[must_use]
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry (`library/nginx`).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any. A reference with neither tag nor digest means `latest` to a runtime.
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:...`), if any.
    #[must_use]
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The repository: registry host plus path (`docker.io/library/nginx`). Two references run
    /// the same software line exactly when their repositories are equal.
    #[must_use]
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// The same repository with another tag and no digest.
    #[must_use]
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            registry: self.registry.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        }
    }

    /// Whether two textual references name the same image after normalisation. A reference
    /// that does not parse equals only an identical string.
    #[must_use]
    pub fn same(a: &str, b: &str) -> bool {
        if a == b {
            return true;
        }

        match (Self::parse(a), Self::parse(b)) {
            (Ok(a), Ok(b)) => a.normalized_tag() == b.normalized_tag() && a.same_target(&b),
            _ => false,
        }
    }

    fn normalized_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (None, None) => Some("latest"),
            (tag, _) => tag.as_deref(),
        }
    }

    fn same_target(&self, other: &Self) -> bool {
        self.registry == other.registry && self.path == other.path && self.digest == other.digest
    }
}

/// `reference` with its tag replaced by `tag` and any digest dropped, keeping the rest as
/// written (`nginx:1.25.0` becomes `nginx:1.26.0`, not `docker.io/library/nginx:1.26.0`), so the
/// pod spec changes only where it must.
///
/// # Errors
///
/// [`InvalidImage`] when `reference` does not parse or `tag` is not a valid tag.
pub fn retag(reference: &str, tag: &str) -> Result<String, InvalidImage> {
    ImageRef::parse(reference)?;
    let name = reference
        .split_once('@')
        .map_or(reference, |(name, _)| name);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let name = match name[last_slash..].find(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    };

    let retagged = format!("{name}:{tag}");
    ImageRef::parse(&retagged)?;

    Ok(retagged)
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }

        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = InvalidImage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn split_host(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn is_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };

    port_ok && name.split('.').all(label_ok)
}

fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().copied().is_some_and(alnum) || !bytes.last().copied().is_some_and(alnum) {
        return false;
    }

    // Separators are '.', '_', '__' or any run of '-', each between alphanumerics.
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }

    true
}

fn is_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';

    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

fn parse_digest(digest: &str) -> Option<String> {
    let (algorithm, hex) = digest.split_once(':')?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let hex_ok = hex.len() >= 32
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    let sha256_ok = algorithm != "sha256" || hex.len() == 64;

    (algorithm_ok && hex_ok && sha256_ok).then(|| digest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:6bc39624195681c00cb9f70988acae89c71c648fa4db7ad63131a3a9a2c5cc62";

    #[test]
    fn docker_hub_spellings_name_one_repository() {
        let forms = [
            "nginx",
            "library/nginx",
            "docker.io/library/nginx",
            "index.docker.io/library/nginx",
        ];

        for form in forms {
            let image = ImageRef::parse(form).unwrap();
            assert_eq!(image.repository(), "docker.io/library/nginx", "{form}");
        }
    }

    #[test]
    fn host_with_port_is_a_host_not_a_tag() {
        let image = ImageRef::parse("localhost:5000/app:1.0").unwrap();

        assert_eq!(image.registry(), "localhost:5000");
        assert_eq!(image.path(), "app");
        assert_eq!(image.tag(), Some("1.0"));

        let untagged = ImageRef::parse("registry.example.com:5000/team/app").unwrap();
        assert_eq!(untagged.registry(), "registry.example.com:5000");
        assert_eq!(untagged.tag(), None);
    }

    #[test]
    fn digests_are_kept() {
        let image = ImageRef::parse(&format!("ghcr.io/org/app:1.2@{DIGEST}")).unwrap();

        assert_eq!(image.digest(), Some(DIGEST));
        assert_eq!(image.tag(), Some("1.2"));
        assert_eq!(image.to_string(), format!("ghcr.io/org/app:1.2@{DIGEST}"));
    }

    #[test]
    fn prefix_is_not_the_same_repository() {
        // Pins the peers' prefix match: `nginx` must not match `nginx-exporter`.
        let nginx = ImageRef::parse("nginx:1.25").unwrap();
        let exporter = ImageRef::parse("nginx-exporter:1.25").unwrap();

        assert_ne!(nginx.repository(), exporter.repository());
    }

    #[test]
    fn invalid_references_are_typed_errors() {
        let bad = [
            "",
            "Nginx",
            "nginx:",
            "nginx:-1",
            "nginx@sha256:abc",
            "a//b",
            "/nginx",
            "nginx/",
            "host:port/x",
            "nginx:1.0:2.0",
            ":tag",
            "@",
            "a__-b",
            "a...b",
        ];

        for reference in bad {
            assert!(
                ImageRef::parse(reference).is_err(),
                "{reference:?} should be refused"
            );
        }
        assert!(ImageRef::parse(&"a".repeat(300)).is_err());
    }

    #[test]
    fn same_compares_normalised_forms() {
        assert!(ImageRef::same(
            "nginx:1.25.0",
            "docker.io/library/nginx:1.25.0"
        ));
        assert!(ImageRef::same("nginx", "nginx:latest"));
        assert!(!ImageRef::same("nginx:1.25.0", "nginx:1.26.0"));
        assert!(!ImageRef::same("nginx:1.25.0", "quay.io/nginx:1.25.0"));
    }

    #[test]
    fn retag_keeps_the_reference_as_written() {
        assert_eq!(retag("nginx:1.25.0", "1.26.0").unwrap(), "nginx:1.26.0");
        assert_eq!(
            retag("localhost:5000/app", "2").unwrap(),
            "localhost:5000/app:2"
        );
        assert_eq!(
            retag(&format!("ghcr.io/o/a:1@{DIGEST}"), "2").unwrap(),
            "ghcr.io/o/a:2"
        );
        assert!(retag("nginx:1", "bad tag").is_err());
    }

    #[test]
    fn separators_follow_the_grammar() {
        for ok in ["a.b", "a_b", "a__b", "a---b", "my-org/my_app.v2"] {
            assert!(ImageRef::parse(ok).is_ok(), "{ok}");
        }
    }
}
