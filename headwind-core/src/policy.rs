//! The policy engine: whether a workload should move from one tag to another.
//!
//! A policy compares the tag a container runs with a candidate tag and answers with a
//! [`Decision`]. Versions are semver with an optional `v` prefix; `1.25` and `1` are read as
//! `1.25.0` and `1.0.0`, since registries commonly publish such tags. Build metadata
//! (`+build.5`) is ignored in every comparison.
//!
//! # Rules
//!
//! - `patch`: same major and minor, newer version.
//! - `minor`: same major, newer version.
//! - `major` and `all`: any newer version. Both order by semver, never by string.
//! - `glob`: the candidate matches the pattern (`*` any run, `?` one character); when both tags
//!   are versions the candidate must also be newer.
//! - `force`: any candidate that differs from the current tag, downgrades included (and
//!   matching the pattern, when one is set).
//! - `none`: never.
//!
//! No policy but `force` proposes the same version or a downgrade. A prerelease
//! (`1.3.0-rc.1`) is proposed to a container on a release version only when
//! [`PolicyConfig::allow_prerelease`] is set; a container already on a prerelease may move to a
//! newer prerelease or release allowed by its policy. Tags that are not versions give
//! [`Decision::NotComparable`] with the reason, under every policy that orders versions.

use std::cmp::Ordering;
use std::fmt;

use semver::{BuildMetadata, Version};
use serde::{Deserialize, Serialize};

/// An update policy, as set by the `headwind.sh/policy` annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Same major and minor, newer patch.
    Patch,
    /// Same major, newer minor or patch.
    Minor,
    /// Any newer version.
    Major,
    /// Any newer version, by semver order.
    All,
    /// Tags matching a glob pattern.
    Glob,
    /// Any other tag, downgrades included.
    Force,
    /// Never update.
    None,
}

impl Policy {
    /// The policy as the annotation spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Patch => "patch",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::All => "all",
            Self::Glob => "glob",
            Self::Force => "force",
            Self::None => "none",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "patch" => Ok(Self::Patch),
            "minor" => Ok(Self::Minor),
            "major" => Ok(Self::Major),
            "all" => Ok(Self::All),
            "glob" => Ok(Self::Glob),
            "force" => Ok(Self::Force),
            "none" => Ok(Self::None),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}

/// A policy name that is not one of the seven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy {0:?}: expected patch, minor, major, all, glob, force or none")]
pub struct UnknownPolicy(pub String);

/// A policy with its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// The policy.
    pub policy: Policy,
    /// Glob pattern for `glob` (required there) and `force` (optional filter).
    pub pattern: Option<String>,
    /// Whether prereleases may be proposed to a container on a release version.
    pub allow_prerelease: bool,
}

impl PolicyConfig {
    /// A policy with no pattern that keeps prereleases away from release versions.
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            pattern: None,
            allow_prerelease: false,
        }
    }

    /// Sets the glob pattern.
    #[must_use]
    pub fn with_pattern(mut self, pattern: &str) -> Self {
        self.pattern = Some(pattern.to_owned());
        self
    }

    /// Allows prereleases for containers on a release version.
    #[must_use]
    pub fn with_prerelease(mut self, allow: bool) -> Self {
        self.allow_prerelease = allow;
        self
    }

    /// Decides whether a container on `current` should move to `candidate` (both tags).
    #[must_use]
    pub fn decide(&self, current: &str, candidate: &str) -> Decision {
        match self.policy {
            Policy::None => Decision::Skip(Skip::PolicyNone),
            Policy::Force => self.decide_force(current, candidate),
            Policy::Glob => self.decide_glob(current, candidate),
            Policy::Patch | Policy::Minor | Policy::Major | Policy::All => {
                self.decide_semver(current, candidate)
            }
        }
    }

    /// The best tag of `tags` for a container on `current`: the highest version the policy
    /// allows, never a downgrade. Under `force` (where versions need not order) the highest
    /// version among the allowed tags that differs from `current`.
    #[must_use]
    pub fn best<'a, I>(&self, current: &str, tags: I) -> Option<&'a str>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut best: Option<(&'a str, Version)> = None;

        for tag in tags {
            if self.decide(current, tag) != Decision::Update {
                continue;
            }
            let Some(version) = parse_version(tag) else {
                continue;
            };
            let better = best
                .as_ref()
                .is_none_or(|(_, b)| compare(&version, b) == Ordering::Greater);
            if better {
                best = Some((tag, version));
            }
        }

        best.map(|(tag, _)| tag)
    }

    fn decide_force(&self, current: &str, candidate: &str) -> Decision {
        if let Some(pattern) = &self.pattern
            && !glob_match(pattern, candidate)
        {
            return Decision::Skip(Skip::PatternMismatch);
        }
        if current == candidate {
            return Decision::Skip(Skip::SameTag);
        }

        Decision::Update
    }

    fn decide_glob(&self, current: &str, candidate: &str) -> Decision {
        let Some(pattern) = &self.pattern else {
            return Decision::NotComparable("the glob policy needs a headwind.sh/pattern".into());
        };
        if !glob_match(pattern, candidate) {
            return Decision::Skip(Skip::PatternMismatch);
        }
        if current == candidate {
            return Decision::Skip(Skip::SameTag);
        }

        match (parse_version(current), parse_version(candidate)) {
            (Some(cur), Some(cand)) => self.order(&cur, &cand, |_, _| true),
            _ => Decision::NotComparable(format!(
                "tags {current:?} and {candidate:?} match the pattern but are not both versions, \
                 so neither can be called newer"
            )),
        }
    }

    fn decide_semver(&self, current: &str, candidate: &str) -> Decision {
        let cur = match parse_version(current) {
            Some(v) => v,
            None => return not_a_version(current),
        };
        let cand = match parse_version(candidate) {
            Some(v) => v,
            None => return not_a_version(candidate),
        };

        let scope = |c: &Version, n: &Version| match self.policy {
            Policy::Patch => c.major == n.major && c.minor == n.minor,
            Policy::Minor => c.major == n.major,
            _ => true,
        };

        self.order(&cur, &cand, scope)
    }

    fn order(
        &self,
        current: &Version,
        candidate: &Version,
        in_scope: impl Fn(&Version, &Version) -> bool,
    ) -> Decision {
        match compare(candidate, current) {
            Ordering::Less => return Decision::Skip(Skip::Downgrade),
            Ordering::Equal => return Decision::Skip(Skip::SameVersion),
            Ordering::Greater => {}
        }
        if !candidate.pre.is_empty() && current.pre.is_empty() && !self.allow_prerelease {
            return Decision::Skip(Skip::Prerelease);
        }
        if !in_scope(current, candidate) {
            return Decision::Skip(Skip::OutsidePolicy(self.policy));
        }

        Decision::Update
    }
}

/// The outcome of a policy decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The candidate should be proposed.
    Update,
    /// The candidate is not wanted.
    Skip(Skip),
    /// The policy orders versions but a tag is not one; the text says which and why.
    NotComparable(String),
}

/// Why a candidate tag is not wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The policy is `none`.
    PolicyNone,
    /// The candidate is an older version.
    Downgrade,
    /// The candidate is the same version (perhaps spelled differently, or with other build
    /// metadata).
    SameVersion,
    /// The candidate is the tag the container runs.
    SameTag,
    /// The candidate is a prerelease and the container is on a release.
    Prerelease,
    /// The candidate does not match the pattern.
    PatternMismatch,
    /// The candidate is newer but outside what the policy allows.
    OutsidePolicy(Policy),
}

impl Skip {
    /// A short snake_case label for logs and metrics.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::PolicyNone => "policy_none",
            Self::Downgrade => "downgrade",
            Self::SameVersion => "same_version",
            Self::SameTag => "same_tag",
            Self::Prerelease => "prerelease",
            Self::PatternMismatch => "pattern_mismatch",
            Self::OutsidePolicy(_) => "outside_policy",
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PolicyNone => f.write_str("the policy is none"),
            Self::Downgrade => f.write_str("the candidate is older than the running version"),
            Self::SameVersion => f.write_str("the candidate is the running version"),
            Self::SameTag => f.write_str("the candidate is the running tag"),
            Self::Prerelease => {
                f.write_str("the candidate is a prerelease and prereleases are not allowed")
            }
            Self::PatternMismatch => f.write_str("the candidate does not match the pattern"),
            Self::OutsidePolicy(p) => {
                write!(f, "the candidate is newer but outside the {p} policy")
            }
        }
    }
}

fn not_a_version(tag: &str) -> Decision {
    Decision::NotComparable(format!("tag {tag:?} is not a semantic version"))
}

/// Parses a tag as a version: an optional `v`, then one to three numeric parts, then optional
/// prerelease and build metadata. Build metadata is dropped.
#[must_use]
pub fn parse_version(tag: &str) -> Option<Version> {
    let bare = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    let core_end = bare.find(['-', '+']).unwrap_or(bare.len());
    let (core, suffix) = bare.split_at(core_end);

    let parts = core.split('.').count();
    let padded = match parts {
        1 => format!("{core}.0.0{suffix}"),
        2 => format!("{core}.0{suffix}"),
        _ => bare.to_owned(),
    };
    let mut version = Version::parse(&padded).ok()?;
    version.build = BuildMetadata::EMPTY;

    Some(version)
}

fn compare(a: &Version, b: &Version) -> Ordering {
    a.cmp_precedence(b)
}

/// Matches `text` against a glob of `*` (any run, also empty) and `?` (one character).
#[must_use]
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;

    // Greedy match with backtracking to the last star: linear in practice, and never
    // exponential whatever the number of stars.
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }

    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(policy: Policy, current: &str, candidate: &str) -> Decision {
        PolicyConfig::new(policy).decide(current, candidate)
    }

    #[test]
    fn patch_allows_only_newer_patches() {
        assert_eq!(decide(Policy::Patch, "1.25.0", "1.25.3"), Decision::Update);
        assert_eq!(
            decide(Policy::Patch, "1.25.0", "1.26.0"),
            Decision::Skip(Skip::OutsidePolicy(Policy::Patch))
        );
        assert_eq!(
            decide(Policy::Patch, "1.25.3", "1.25.1"),
            Decision::Skip(Skip::Downgrade)
        );
    }

    #[test]
    fn minor_allows_same_major() {
        assert_eq!(decide(Policy::Minor, "1.25.0", "1.26.0"), Decision::Update);
        assert_eq!(decide(Policy::Minor, "1.25.0", "1.25.1"), Decision::Update);
        assert_eq!(
            decide(Policy::Minor, "1.25.0", "2.0.0"),
            Decision::Skip(Skip::OutsidePolicy(Policy::Minor))
        );
    }

    #[test]
    fn major_allows_any_newer() {
        assert_eq!(decide(Policy::Major, "1.25.0", "2.0.0"), Decision::Update);
        assert_eq!(
            decide(Policy::Major, "2.0.0", "1.99.0"),
            Decision::Skip(Skip::Downgrade)
        );
    }

    #[test]
    fn all_orders_by_semver_not_by_string() {
        // Pins the peers' string comparison: "1.10.0" < "1.9.0" as strings.
        assert_eq!(decide(Policy::All, "1.9.0", "1.10.0"), Decision::Update);
        assert_eq!(
            decide(Policy::All, "1.10.0", "1.9.0"),
            Decision::Skip(Skip::Downgrade)
        );
    }

    #[test]
    fn v_prefix_and_short_versions_are_versions() {
        assert_eq!(decide(Policy::Minor, "v1.2.0", "v1.3.0"), Decision::Update);
        assert_eq!(decide(Policy::Minor, "1.25", "1.26"), Decision::Update);
        assert_eq!(
            decide(Policy::Minor, "v1.2.0", "1.2.0"),
            Decision::Skip(Skip::SameVersion)
        );
    }

    #[test]
    fn build_metadata_is_ignored() {
        // Pins the peers' patch policy accepting a rebuild as an update.
        assert_eq!(
            decide(Policy::Patch, "1.2.3", "1.2.3+build.7"),
            Decision::Skip(Skip::SameVersion)
        );
        assert_eq!(
            decide(Policy::Patch, "1.2.3+b1", "1.2.4+b0"),
            Decision::Update
        );
    }

    #[test]
    fn prereleases_stay_away_from_releases_unless_allowed() {
        assert_eq!(
            decide(Policy::Patch, "1.2.3", "1.2.4-rc.1"),
            Decision::Skip(Skip::Prerelease)
        );
        assert_eq!(
            decide(Policy::All, "1.2.3", "2.0.0-beta"),
            Decision::Skip(Skip::Prerelease)
        );

        let allowing = PolicyConfig::new(Policy::All).with_prerelease(true);
        assert_eq!(allowing.decide("1.2.3", "2.0.0-beta"), Decision::Update);

        // A container already on a prerelease moves on to newer ones and to the release.
        assert_eq!(
            decide(Policy::Patch, "1.3.0-rc.1", "1.3.0-rc.2"),
            Decision::Update
        );
        assert_eq!(
            decide(Policy::Patch, "1.3.0-rc.2", "1.3.0"),
            Decision::Update
        );
        assert_eq!(
            decide(Policy::Patch, "1.3.0", "1.3.0-rc.2"),
            Decision::Skip(Skip::Downgrade)
        );
    }

    #[test]
    fn non_versions_are_not_comparable_with_a_reason() {
        let Decision::NotComparable(reason) = decide(Policy::Minor, "latest", "1.2.0") else {
            panic!("expected not comparable");
        };
        assert!(reason.contains("\"latest\""), "{reason}");
        assert!(matches!(
            decide(Policy::All, "1.0.0", "main-abc123"),
            Decision::NotComparable(_)
        ));
    }

    #[test]
    fn none_never_updates() {
        assert_eq!(
            decide(Policy::None, "1.0.0", "2.0.0"),
            Decision::Skip(Skip::PolicyNone)
        );
    }

    #[test]
    fn force_allows_downgrades_but_not_the_same_tag() {
        assert_eq!(decide(Policy::Force, "2.0.0", "1.0.0"), Decision::Update);
        assert_eq!(decide(Policy::Force, "latest", "stable"), Decision::Update);
        assert_eq!(
            decide(Policy::Force, "1.0.0", "1.0.0"),
            Decision::Skip(Skip::SameTag)
        );

        let filtered = PolicyConfig::new(Policy::Force).with_pattern("release-*");
        assert_eq!(
            filtered.decide("a", "dev-1"),
            Decision::Skip(Skip::PatternMismatch)
        );
    }

    #[test]
    fn glob_matches_and_never_downgrades() {
        let glob = PolicyConfig::new(Policy::Glob).with_pattern("1.*.?");

        assert_eq!(glob.decide("1.2.3", "1.3.4"), Decision::Update);
        assert_eq!(
            glob.decide("1.2.3", "1.3.45"),
            Decision::Skip(Skip::PatternMismatch)
        );
        // Pins the peers' glob policy picking a downgrade.
        assert_eq!(
            glob.decide("1.3.4", "1.2.9"),
            Decision::Skip(Skip::Downgrade)
        );

        let tags = PolicyConfig::new(Policy::Glob).with_pattern("main-*");
        assert!(matches!(
            tags.decide("main-aaa", "main-bbb"),
            Decision::NotComparable(_)
        ));
        assert!(matches!(
            PolicyConfig::new(Policy::Glob).decide("1.0.0", "1.1.0"),
            Decision::NotComparable(_)
        ));
    }

    #[test]
    fn glob_supports_any_number_of_wildcards() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*-*-*", "a-b-c"));
        assert!(glob_match("v?.*.*-alpine", "v1.22.3-alpine"));
        assert!(!glob_match("v?.*", "v10.1"));
        assert!(glob_match("a*b*c*d", "aXXbYYcZZd"));
        assert!(!glob_match("a*b*c*d", "aXXbYYcZZ"));
        assert!(!glob_match(&"*a".repeat(20), &"a".repeat(19)));
    }

    #[test]
    fn best_picks_the_highest_allowed_never_a_downgrade() {
        let tags = [
            "1.24.0",
            "1.25.1",
            "1.26.0",
            "1.26.1-rc.1",
            "2.0.0",
            "latest",
            "1.9.9",
        ];

        let minor = PolicyConfig::new(Policy::Minor);
        assert_eq!(minor.best("1.25.0", tags), Some("1.26.0"));

        let patch = PolicyConfig::new(Policy::Patch);
        assert_eq!(patch.best("1.25.0", tags), Some("1.25.1"));
        assert_eq!(patch.best("3.0.0", tags), None);

        let all = PolicyConfig::new(Policy::All);
        assert_eq!(all.best("1.10.0", tags), Some("2.0.0"));
    }
}
