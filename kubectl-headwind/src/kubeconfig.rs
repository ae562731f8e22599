//! The namespace of the current kubeconfig context, which kubectl plugins default to.
//!
//! The file is the first entry of `$KUBECONFIG` (a list separated like `$PATH`), or
//! `~/.kube/config` when `$KUBECONFIG` is unset or empty. Its `current-context` names an entry
//! of `contexts`, whose `context.namespace` is the namespace; a missing file, context or
//! namespace means `default`, as kubectl reads them. Only those three fields are read:
//! clusters, users and credentials are never looked at.
//!
//! # Limitations
//!
//! kubectl merges every file of `$KUBECONFIG`; this reads the first one only.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The namespace used when the kubeconfig names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Why the kubeconfig could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file exists but cannot be read.
    #[error("cannot read kubeconfig {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not a kubeconfig.
    #[error("cannot parse kubeconfig {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_yaml::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Option<Vec<NamedContext>>,
}

#[derive(Debug, Deserialize)]
struct NamedContext {
    name: String,
    #[serde(default)]
    context: Option<Context>,
}

#[derive(Debug, Deserialize)]
struct Context {
    #[serde(default)]
    namespace: Option<String>,
}

/// Which file kubectl would read first: the first non-empty entry of `kubeconfig_env`
/// (the value of `$KUBECONFIG`), else `.kube/config` under `home`.
#[must_use]
pub fn path(kubeconfig_env: Option<&OsStr>, home: Option<&Path>) -> Option<PathBuf> {
    let listed = kubeconfig_env
        .into_iter()
        .flat_map(std::env::split_paths)
        .find(|p| !p.as_os_str().is_empty());

    listed.or_else(|| home.map(|h| h.join(".kube").join("config")))
}

/// The namespace of the current context in the text of a kubeconfig, if it names one.
///
/// # Errors
///
/// The YAML error when `text` is not a kubeconfig.
pub fn namespace_in(text: &str) -> Result<Option<String>, serde_yaml::Error> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let config: Kubeconfig = serde_yaml::from_str(text)?;

    let Some(current) = config.current_context.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let namespace = config
        .contexts
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context)
        .and_then(|c| c.namespace)
        .filter(|ns| !ns.is_empty());

    Ok(namespace)
}

/// The namespace of the current context of the kubeconfig at `path`, or [`DEFAULT_NAMESPACE`]
/// when there is no such file or it names no namespace.
///
/// # Errors
///
/// [`Error::Read`] when the file exists but cannot be read, [`Error::Parse`] when it is not a
/// kubeconfig.
pub fn namespace_of(path: Option<&Path>) -> Result<String, Error> {
    let Some(path) = path else {
        return Ok(DEFAULT_NAMESPACE.to_owned());
    };

    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(DEFAULT_NAMESPACE.to_owned());
        }
        Err(source) => {
            return Err(Error::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let namespace = namespace_in(&text).map_err(|source| Error::Parse {
        path: path.to_owned(),
        source,
    })?;

    Ok(namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()))
}

/// The namespace kubectl would use: that of the current context of the kubeconfig found from
/// `$KUBECONFIG` and `$HOME`, else [`DEFAULT_NAMESPACE`].
///
/// # Errors
///
/// As [`namespace_of`].
pub fn current_namespace() -> Result<String, Error> {
    let env = std::env::var_os("KUBECONFIG");
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = path(env.as_deref(), home.as_deref());

    namespace_of(path.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CONTEXTS: &str = r#"
apiVersion: v1
kind: Config
clusters:
  - name: prod
    cluster: { server: "https://prod.example:6443" }
users:
  - name: me
    user: { token: not-read }
contexts:
  - name: prod
    context: { cluster: prod, user: me, namespace: payments }
  - name: dev
    context: { cluster: prod, user: me }
current-context: prod
"#;

    #[test]
    fn current_context_namespace_is_used() {
        let namespace = namespace_in(TWO_CONTEXTS).unwrap();

        assert_eq!(namespace.as_deref(), Some("payments"));
    }

    #[test]
    fn context_without_namespace_names_none() {
        let text = TWO_CONTEXTS.replace("current-context: prod", "current-context: dev");

        assert_eq!(namespace_in(&text).unwrap(), None);
    }

    #[test]
    fn missing_or_unknown_current_context_names_none() {
        let unknown = TWO_CONTEXTS.replace("current-context: prod", "current-context: gone");
        let unset = TWO_CONTEXTS.replace("current-context: prod", "");

        assert_eq!(namespace_in(&unknown).unwrap(), None);
        assert_eq!(namespace_in(&unset).unwrap(), None);
        assert_eq!(namespace_in("").unwrap(), None);
        assert_eq!(
            namespace_in("current-context: x\ncontexts: null\n").unwrap(),
            None
        );
    }

    #[test]
    fn text_that_is_not_a_kubeconfig_is_an_error() {
        assert!(namespace_in("contexts: 42").is_err());
        assert!(namespace_in(": : :").is_err());
    }

    #[test]
    fn first_non_empty_kubeconfig_entry_wins_over_home() {
        let list = std::env::join_paths(["", "/a/config", "/b/config"]).unwrap();

        let found = path(Some(&list), Some(Path::new("/home/me")));

        assert_eq!(found, Some(PathBuf::from("/a/config")));
    }

    #[test]
    fn unset_or_empty_kubeconfig_falls_back_to_home() {
        let home = Path::new("/home/me");
        let expected = Some(PathBuf::from("/home/me/.kube/config"));

        assert_eq!(path(None, Some(home)), expected);
        assert_eq!(path(Some(OsStr::new("")), Some(home)), expected);
        assert_eq!(path(None, None), None);
    }

    #[test]
    fn missing_file_means_default_namespace() {
        let dir = tempfile::tempdir().unwrap();

        let namespace = namespace_of(Some(&dir.path().join("absent"))).unwrap();

        assert_eq!(namespace, DEFAULT_NAMESPACE);
    }

    #[test]
    fn file_is_read_and_unparseable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        let bad = dir.path().join("bad");
        std::fs::write(&good, TWO_CONTEXTS).unwrap();
        std::fs::write(&bad, "contexts: [1, 2").unwrap();

        let read = namespace_of(Some(&good)).unwrap();
        let err = namespace_of(Some(&bad)).unwrap_err();

        assert_eq!(read, "payments");
        assert!(err.to_string().contains("bad"), "{err}");
    }
}
