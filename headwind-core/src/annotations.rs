//! The `headwind.sh/*` workload annotations, parsed into [`WorkloadSettings`].
//!
//! A workload without `headwind.sh/policy` is not managed. Every other annotation has the default
//! of the reference table: approval required, 300 s between applied updates, all containers
//! tracked, webhooks as the event source. A value that does not parse is a typed error naming
//! the annotation, so a typo is reported instead of silently falling back to a default.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::policy::{Policy, PolicyConfig};

/// `headwind.sh/policy`.
pub const POLICY: &str = "headwind.sh/policy";
/// `headwind.sh/pattern`.
pub const PATTERN: &str = "headwind.sh/pattern";
/// `headwind.sh/require-approval`.
pub const REQUIRE_APPROVAL: &str = "headwind.sh/require-approval";
/// `headwind.sh/min-update-interval`.
pub const MIN_UPDATE_INTERVAL: &str = "headwind.sh/min-update-interval";
/// `headwind.sh/images`.
pub const IMAGES: &str = "headwind.sh/images";
/// `headwind.sh/event-source`.
pub const EVENT_SOURCE: &str = "headwind.sh/event-source";
/// `headwind.sh/allow-prerelease`: headwind's own addition, `true` lets prereleases through.
pub const ALLOW_PRERELEASE: &str = "headwind.sh/allow-prerelease";
/// `headwind.sh/update-history`, written by headwind.
pub const UPDATE_HISTORY: &str = "headwind.sh/update-history";
/// `headwind.sh/blocked-images`, written by headwind: images not to propose again, per
/// container (JSON).
pub const BLOCKED_IMAGES: &str = "headwind.sh/blocked-images";
/// `headwind.sh/last-update`, written by headwind.
pub const LAST_UPDATE: &str = "headwind.sh/last-update";

/// The default of `headwind.sh/min-update-interval`.
pub const DEFAULT_MIN_UPDATE_INTERVAL: Duration = Duration::from_secs(300);

/// Where a workload's update events come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventSource {
    /// Registry webhooks only.
    Webhook,
    /// Registry polling only.
    Polling,
    /// Both.
    Both,
    /// Neither: the workload is only updated by hand.
    None,
}

impl EventSource {
    /// Whether webhook events are taken.
    #[must_use]
    pub fn takes_webhooks(self) -> bool {
        matches!(self, Self::Webhook | Self::Both)
    }
}

/// An annotation whose value does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {annotation}={value:?} is invalid: {reason}")]
pub struct InvalidAnnotation {
    /// The annotation key.
    pub annotation: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

/// How headwind treats one workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadSettings {
    /// The policy with its pattern.
    pub policy: PolicyConfig,
    /// Whether updates wait for a person.
    pub require_approval: bool,
    /// Least time between two applied updates.
    pub min_update_interval: Duration,
    /// Container names to track; `None` tracks all.
    pub images: Option<Vec<String>>,
    /// Where events come from.
    pub event_source: EventSource,
}

impl WorkloadSettings {
    /// Reads the settings from a workload's annotations; `Ok(None)` when it is not managed.
    ///
    /// # Errors
    ///
    /// [`InvalidAnnotation`] for the first annotation whose value does not parse.
    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
    ) -> Result<Option<Self>, InvalidAnnotation> {
        let Some(policy) = annotations.get(POLICY) else {
            return Ok(None);
        };
        let invalid = |annotation: &'static str, value: &str, reason: String| InvalidAnnotation {
            annotation,
            value: value.to_owned(),
            reason,
        };

        let policy: Policy = policy
            .trim()
            .parse()
            .map_err(|e: crate::policy::UnknownPolicy| invalid(POLICY, policy, e.to_string()))?;
        let mut config = PolicyConfig::new(policy);
        if let Some(pattern) = annotations.get(PATTERN) {
            config = config.with_pattern(pattern.trim());
        }
        if let Some(value) = annotations.get(ALLOW_PRERELEASE) {
            config = config.with_prerelease(
                parse_bool(value).map_err(|r| invalid(ALLOW_PRERELEASE, value, r))?,
            );
        }

        let require_approval = match annotations.get(REQUIRE_APPROVAL) {
            None => true,
            Some(value) => parse_bool(value).map_err(|r| invalid(REQUIRE_APPROVAL, value, r))?,
        };
        let min_update_interval = match annotations.get(MIN_UPDATE_INTERVAL) {
            None => DEFAULT_MIN_UPDATE_INTERVAL,
            Some(value) => value
                .trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| {
                    invalid(MIN_UPDATE_INTERVAL, value, "expected whole seconds".into())
                })?,
        };
        let images = annotations.get(IMAGES).map(|value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        let event_source = match annotations.get(EVENT_SOURCE).map(|v| v.trim()) {
            None | Some("webhook") => EventSource::Webhook,
            Some("polling") => EventSource::Polling,
            Some("both") => EventSource::Both,
            Some("none") => EventSource::None,
            Some(other) => {
                let reason = "expected webhook, polling, both or none".to_owned();
                return Err(invalid(EVENT_SOURCE, other, reason));
            }
        };

        Ok(Some(Self {
            policy: config,
            require_approval,
            min_update_interval,
            images,
            event_source,
        }))
    }

    /// Whether the container is tracked.
    #[must_use]
    pub fn tracks(&self, container: &str) -> bool {
        self.images
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == container))
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<WorkloadSettings>, InvalidAnnotation> {
        let map = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WorkloadSettings::from_annotations(&map)
    }

    #[test]
    fn no_policy_means_not_managed() {
        assert_eq!(settings(&[(REQUIRE_APPROVAL, "false")]).unwrap(), None);
    }

    #[test]
    fn defaults_follow_the_reference() {
        let s = settings(&[(POLICY, "minor")]).unwrap().unwrap();

        assert_eq!(s.policy, PolicyConfig::new(Policy::Minor));
        assert!(s.require_approval);
        assert_eq!(s.min_update_interval, Duration::from_secs(300));
        assert!(s.tracks("anything"));
        assert_eq!(s.event_source, EventSource::Webhook);
    }

    #[test]
    fn every_annotation_is_read() {
        let s = settings(&[
            (POLICY, "glob"),
            (PATTERN, "1.*"),
            (REQUIRE_APPROVAL, "false"),
            (MIN_UPDATE_INTERVAL, "60"),
            (IMAGES, "app, sidecar"),
            (EVENT_SOURCE, "polling"),
        ])
        .unwrap()
        .unwrap();

        assert_eq!(s.policy.pattern.as_deref(), Some("1.*"));
        assert!(!s.require_approval);
        assert_eq!(s.min_update_interval, Duration::from_secs(60));
        assert!(s.tracks("sidecar") && !s.tracks("other"));
        assert!(!s.event_source.takes_webhooks());
    }

    #[test]
    fn invalid_values_name_the_annotation() {
        for (key, value) in [
            (POLICY, "minor-ish"),
            (REQUIRE_APPROVAL, "yes"),
            (MIN_UPDATE_INTERVAL, "5m"),
            (EVENT_SOURCE, "push"),
        ] {
            let mut pairs = vec![(POLICY, "minor")];
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            let err = settings(&pairs).unwrap_err();
            assert_eq!(err.annotation, key);
        }
    }
}
