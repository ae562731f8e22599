//! Validation of Kubernetes object names and namespaces.
//!
//! Namespaces are DNS-1123 labels (at most 63 characters); object names are DNS-1123 subdomains
//! (at most 253 characters, dot-separated labels), as the Kubernetes API server checks them.
//! See <https://kubernetes.io/docs/concepts/overview/working-with-objects/names/>.

/// A name or namespace that Kubernetes would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {rule}")]
pub struct InvalidName {
    /// `name` or `namespace`.
    pub what: &'static str,
    /// The offending value, cut to 100 characters.
    pub value: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

const LABEL_RULE: &str = "must be at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit";
const SUBDOMAIN_RULE: &str = "must be at most 253 characters of dot-separated parts \
     (lowercase letters, digits, '-', starting and ending with a letter or digit)";

/// Checks a namespace is a DNS-1123 label.
///
/// # Errors
///
/// [`InvalidName`] naming the rule that is broken.
pub fn validate_namespace(value: &str) -> Result<(), InvalidName> {
    if is_label(value) {
        return Ok(());
    }

    Err(invalid("namespace", value, LABEL_RULE))
}

/// Checks an object name is a DNS-1123 subdomain.
///
/// # Errors
///
/// [`InvalidName`] naming the rule that is broken.
pub fn validate_name(value: &str) -> Result<(), InvalidName> {
    if is_subdomain(value) {
        return Ok(());
    }

    Err(invalid("name", value, SUBDOMAIN_RULE))
}

/// Checks a container name, which Kubernetes requires to be a DNS-1123 label.
///
/// # Errors
///
/// [`InvalidName`] naming the rule that is broken.
pub fn validate_container(value: &str) -> Result<(), InvalidName> {
    if is_label(value) {
        return Ok(());
    }

    Err(invalid("container name", value, LABEL_RULE))
}

/// Whether `value` is a DNS-1123 label: at most 63 characters.
#[must_use]
pub fn is_label(value: &str) -> bool {
    value.len() <= 63 && is_label_shaped(value)
}

/// Whether `value` is a DNS-1123 subdomain as the API server checks it: at most 253 characters
/// of dot-separated label-shaped parts. (The API server does not limit each part to 63.)
#[must_use]
pub fn is_subdomain(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_label_shaped)
}

/// Lowercase letters, digits and `-`, starting and ending with a letter or digit.
fn is_label_shaped(value: &str) -> bool {
    let bytes = value.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();

    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            edge_ok(first) && edge_ok(last) && bytes.iter().all(|&b| edge_ok(b) || b == b'-')
        }
        _ => false,
    }
}

/// Turns arbitrary text into a DNS-1123 label fragment: lowercase, with every run of other
/// characters replaced by one `-`, and no `-` at either end.
#[must_use]
pub fn sanitize(value: &str) -> String {
    let mut out = String::with_capacity(value.len());

    for c in value.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }

    out.trim_matches('-').to_owned()
}

fn invalid(what: &'static str, value: &str, rule: &'static str) -> InvalidName {
    InvalidName {
        what,
        value: value.chars().take(100).collect(),
        rule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kubernetes_names() {
        for ok in ["a", "default", "nginx-update-1-26-0", "kube-system", "a1"] {
            assert!(validate_namespace(ok).is_ok(), "{ok}");
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        assert!(validate_name("my.app.v2").is_ok());
        assert!(
            validate_name(&"a".repeat(253)).is_ok(),
            "names are 253 at most"
        );
        assert!(validate_name(&"a".repeat(254)).is_err());
    }

    #[test]
    fn refuses_what_the_api_server_refuses() {
        for bad in ["", "-a", "a-", "A", "a_b", "a/b", "a b", "ä", "../etc"] {
            assert!(validate_namespace(bad).is_err(), "{bad:?}");
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_namespace("a.b").is_err(), "a namespace is a label");
        assert!(validate_namespace(&"a".repeat(64)).is_err());
        assert!(validate_namespace(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn error_names_the_value_and_rule() {
        let err = validate_name("Bad_Name").unwrap_err();

        assert_eq!(err.what, "name");
        assert!(err.to_string().contains("\"Bad_Name\""), "{err}");
    }

    #[test]
    fn sanitize_makes_label_fragments() {
        assert_eq!(sanitize("1.26.0"), "1-26-0");
        assert_eq!(sanitize("V1.0_RC+build"), "v1-0-rc-build");
        assert_eq!(sanitize("--x--"), "x");
    }
}
