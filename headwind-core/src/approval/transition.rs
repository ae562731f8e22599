//! Pure transitions of an update request's status.
//!
//! Each function takes the status (and spec) as read and the input, and returns the status to
//! write, or why the transition is not allowed. Nothing here touches a store; the
//! [`super::ApprovalService`] writes the result with a compare-and-swap.
//!
//! ```text
//! Pending --approve (enough votes)--> Approved --complete--> Completed
//!    |  \--approve (votes missing)--> Pending        \-----fail--> Failed
//!    |---reject--> Rejected
//!    \---expire (or approve past expiresAt)--> Expired
//! ```

use std::fmt;

use chrono::{DateTime, Utc};

use crate::types::{Approval, Phase, UpdateRequestSpec, UpdateRequestStatus};

/// What a caller tried to do to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Approve it.
    Approve,
    /// Reject it.
    Reject,
    /// Expire it.
    Expire,
    /// Record that its image was applied.
    Complete,
    /// Record that applying its image failed.
    Fail,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Expire => "expire",
            Self::Complete => "complete",
            Self::Fail => "fail",
        })
    }
}

/// A transition that the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The action is not valid from the request's phase.
    #[error("cannot {action} a request that is {phase}")]
    InvalidTransition {
        /// The phase the request is in.
        phase: Phase,
        /// What was attempted.
        action: Action,
    },

    /// This approver has voted already; a vote counts once.
    #[error("{approver} has already approved this request")]
    AlreadyVoted {
        /// The approver.
        approver: String,
    },

    /// The request is not past its deadline, so it cannot be expired.
    #[error("the request is not past its deadline ({})", deadline(.expires_at.as_ref()))]
    NotDue {
        /// The deadline, if the request has one.
        expires_at: Option<DateTime<Utc>>,
    },
}

fn deadline(at: Option<&DateTime<Utc>>) -> String {
    at.map_or_else(|| "it has none".to_owned(), |at| at.to_rfc3339())
}

/// The outcome of a vote on a Pending request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vote {
    /// The vote was recorded; more are needed. The status stays Pending.
    Recorded {
        /// The status to write.
        status: UpdateRequestStatus,
        /// Votes still missing.
        missing: u32,
    },
    /// Enough votes: the status becomes Approved.
    Approved(UpdateRequestStatus),
    /// The deadline has passed: the status becomes Expired and nothing is applied.
    Expired(UpdateRequestStatus),
}

fn require(
    status: &UpdateRequestStatus,
    phase: Phase,
    action: Action,
) -> Result<(), TransitionError> {
    if status.phase == phase {
        return Ok(());
    }

    Err(TransitionError::InvalidTransition {
        phase: status.phase,
        action,
    })
}

/// Whether `spec.expiresAt` has passed at `now`.
#[must_use]
pub fn is_overdue(spec: &UpdateRequestSpec, now: DateTime<Utc>) -> bool {
    spec.expires_at.is_some_and(|at| now >= at)
}

/// Casts `approver`'s vote on a Pending request at `now`.
///
/// # Errors
///
/// [`TransitionError::InvalidTransition`] unless the request is Pending;
/// [`TransitionError::AlreadyVoted`] when this approver voted before.
pub fn approve(
    spec: &UpdateRequestSpec,
    status: &UpdateRequestStatus,
    approver: &str,
    now: DateTime<Utc>,
) -> Result<Vote, TransitionError> {
    require(status, Phase::Pending, Action::Approve)?;
    if is_overdue(spec, now) {
        return Ok(Vote::Expired(expired(status, now)));
    }
    if status.approvals.iter().any(|a| a.approver == approver) {
        return Err(TransitionError::AlreadyVoted {
            approver: approver.to_owned(),
        });
    }

    let mut next = status.clone();
    next.approvals.push(Approval {
        approver: approver.to_owned(),
        approved_at: now,
    });
    next.last_updated = Some(now);

    let votes = u32::try_from(next.approvals.len()).unwrap_or(u32::MAX);
    let required = spec.required_approvals.max(1);
    if votes < required {
        return Ok(Vote::Recorded {
            status: next,
            missing: required - votes,
        });
    }

    next.phase = Phase::Approved;
    next.approved_by = Some(approver.to_owned());
    next.approved_at = Some(now);

    Ok(Vote::Approved(next))
}

/// Rejects a Pending request.
///
/// A request past its deadline can still be rejected: rejecting applies nothing either way, and
/// the rejection blocks the image from being proposed again.
///
/// # Errors
///
/// [`TransitionError::InvalidTransition`] unless the request is Pending.
pub fn reject(
    status: &UpdateRequestStatus,
    approver: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<UpdateRequestStatus, TransitionError> {
    require(status, Phase::Pending, Action::Reject)?;

    let mut next = status.clone();
    next.phase = Phase::Rejected;
    next.approved_by = Some(approver.to_owned());
    next.rejected_at = Some(now);
    next.reason = reason.map(str::to_owned);
    next.last_updated = Some(now);

    Ok(next)
}

/// Expires a Pending request whose deadline has passed.
///
/// # Errors
///
/// [`TransitionError::InvalidTransition`] unless the request is Pending;
/// [`TransitionError::NotDue`] when the deadline has not passed (or there is none).
pub fn expire(
    spec: &UpdateRequestSpec,
    status: &UpdateRequestStatus,
    now: DateTime<Utc>,
) -> Result<UpdateRequestStatus, TransitionError> {
    require(status, Phase::Pending, Action::Expire)?;
    if !is_overdue(spec, now) {
        return Err(TransitionError::NotDue {
            expires_at: spec.expires_at,
        });
    }

    Ok(expired(status, now))
}

/// Ends a Pending request because a newer update for the same container replaced it. The
/// request becomes Expired with a message naming its successor; its image is not blocked.
///
/// # Errors
///
/// [`TransitionError::InvalidTransition`] unless the request is Pending.
pub fn supersede(
    status: &UpdateRequestStatus,
    successor: &str,
    now: DateTime<Utc>,
) -> Result<UpdateRequestStatus, TransitionError> {
    require(status, Phase::Pending, Action::Expire)?;

    let mut next = expired(status, now);
    next.message = Some(format!("superseded by {successor}; nothing was applied"));

    Ok(next)
}

fn expired(status: &UpdateRequestStatus, now: DateTime<Utc>) -> UpdateRequestStatus {
    let mut next = status.clone();
    next.phase = Phase::Expired;
    next.message = Some("the approval deadline passed; nothing was applied".to_owned());
    next.last_updated = Some(now);
    next
}

/// Records, on a request still Approved, that its image was applied at `now`.
///
/// # Errors
///
/// [`TransitionError::InvalidTransition`] unless the request is Approved.
pub fn mark_applied(
    status: &UpdateRequestStatus,
    now: DateTime<Utc>,
) -> Result<UpdateRequestStatus, TransitionError> {
    require(status, Phase::Approved, Action::Complete)?;

    let mut next = status.clone();
    next.applied_at = Some(now);
    next.last_updated = Some(now);

    Ok(next)
}

/// Records that an Approved request's image is in place.
///
/// # Errors
///
/// [`TransitionError::InvalidTransition`] unless the request is Approved.
pub fn complete(
    status: &UpdateRequestStatus,
    message: &str,
    now: DateTime<Utc>,
) -> Result<UpdateRequestStatus, TransitionError> {
    require(status, Phase::Approved, Action::Complete)?;

    let mut next = status.clone();
    next.phase = Phase::Completed;
    next.message = Some(message.to_owned());
    next.last_updated = Some(now);

    Ok(next)
}

/// Records that applying an Approved request's image failed, with the cause.
///
/// # Errors
///
/// [`TransitionError::InvalidTransition`] unless the request is Approved.
pub fn fail(
    status: &UpdateRequestStatus,
    cause: &str,
    now: DateTime<Utc>,
) -> Result<UpdateRequestStatus, TransitionError> {
    require(status, Phase::Approved, Action::Fail)?;

    let mut next = status.clone();
    next.phase = Phase::Failed;
    next.message = Some(cause.to_owned());
    next.last_updated = Some(now);

    Ok(next)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::policy::Policy;
    use crate::types::{UpdateRequest, WorkloadRef};

    fn request() -> UpdateRequest {
        let workload = WorkloadRef::deployment("default", "web").unwrap();
        UpdateRequest::pending(
            "u",
            &workload,
            "app",
            ("app:1.0.0", "app:1.1.0"),
            Policy::Minor,
            now(),
        )
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-11-06T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn in_phase(phase: Phase) -> UpdateRequestStatus {
        UpdateRequestStatus {
            phase,
            ..UpdateRequestStatus::default()
        }
    }

    #[test]
    fn approve_moves_pending_to_approved() {
        let r = request();

        let Vote::Approved(status) = approve(&r.spec, &r.status, "ann", now()).unwrap() else {
            panic!("one vote is enough by default");
        };

        assert_eq!(status.phase, Phase::Approved);
        assert_eq!(status.approved_by.as_deref(), Some("ann"));
        assert_eq!(status.approved_at, Some(now()));
        assert_eq!(status.approvals.len(), 1);
    }

    #[test]
    fn approve_past_deadline_expires_instead() {
        // Pins the peers' deadlines that were never enforced on approval.
        let r = request().with_expiry(now() - TimeDelta::seconds(1));

        let vote = approve(&r.spec, &r.status, "ann", now()).unwrap();

        let Vote::Expired(status) = vote else {
            panic!("expected expiry, got {vote:?}")
        };
        assert_eq!(status.phase, Phase::Expired);
        assert_eq!(status.approved_by, None);
    }

    #[test]
    fn n_of_m_waits_for_distinct_approvers() {
        let r = request().with_required_approvals(2);

        let Vote::Recorded { status, missing } = approve(&r.spec, &r.status, "ann", now()).unwrap()
        else {
            panic!("two votes are required");
        };
        assert_eq!((status.phase, missing), (Phase::Pending, 1));

        // Pins the peers' one-caller-many-votes: the same approver counts once.
        let again = approve(&r.spec, &status, "ann", now());
        assert_eq!(
            again,
            Err(TransitionError::AlreadyVoted {
                approver: "ann".into()
            })
        );

        let Vote::Approved(done) = approve(&r.spec, &status, "bob", now()).unwrap() else {
            panic!("second distinct vote approves");
        };
        assert_eq!(done.approved_by.as_deref(), Some("bob"));
        assert_eq!(done.approvals.len(), 2);
    }

    #[test]
    fn reject_records_who_when_and_why() {
        let r = request();

        let status = reject(&r.status, "ann", Some("not ready"), now()).unwrap();

        assert_eq!(status.phase, Phase::Rejected);
        assert_eq!(status.approved_by.as_deref(), Some("ann"));
        assert_eq!(status.rejected_at, Some(now()));
        assert_eq!(status.reason.as_deref(), Some("not ready"));
    }

    #[test]
    fn expire_needs_a_passed_deadline() {
        let r = request();
        assert!(matches!(
            expire(&r.spec, &r.status, now()),
            Err(TransitionError::NotDue { .. })
        ));

        let due = request().with_expiry(now());
        assert_eq!(
            expire(&due.spec, &due.status, now()).unwrap().phase,
            Phase::Expired
        );
    }

    #[test]
    fn approved_completes_or_fails() {
        let approved = in_phase(Phase::Approved);

        assert_eq!(
            complete(&approved, "done", now()).unwrap().phase,
            Phase::Completed
        );
        let failed = fail(&approved, "boom", now()).unwrap();
        assert_eq!(
            (failed.phase, failed.message.as_deref()),
            (Phase::Failed, Some("boom"))
        );
    }

    #[test]
    fn every_other_transition_is_refused() {
        let r = request();
        let all = [
            Phase::Pending,
            Phase::Approved,
            Phase::Completed,
            Phase::Failed,
            Phase::Rejected,
            Phase::Expired,
        ];

        for phase in all {
            let status = in_phase(phase);
            let overdue = request().with_expiry(now());
            let allowed = [
                (
                    Action::Approve,
                    approve(&r.spec, &status, "a", now()).is_ok(),
                ),
                (Action::Reject, reject(&status, "a", None, now()).is_ok()),
                (
                    Action::Expire,
                    expire(&overdue.spec, &status, now()).is_ok(),
                ),
                (Action::Complete, complete(&status, "", now()).is_ok()),
                (Action::Fail, fail(&status, "", now()).is_ok()),
            ];
            for (action, ok) in allowed {
                let expected = match action {
                    Action::Approve | Action::Reject | Action::Expire => phase == Phase::Pending,
                    Action::Complete | Action::Fail => phase == Phase::Approved,
                };
                assert_eq!(ok, expected, "{action} from {phase}");
            }
        }
    }
}
