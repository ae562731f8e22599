//! Ages as `kubectl get` prints them in its AGE column.
//!
//! The rules are those of Kubernetes' `duration.HumanDuration` (apimachinery
//! `pkg/util/duration`): two units while the larger one is small (`3m20s`, `5h10m`, `2d3h`),
//! one unit after that (`45m`, `20h`, `30d`). A time up to a second in the future reads `0s`,
//! to allow for clock skew between client and server; further ahead is `<invalid>`.

use chrono::{DateTime, TimeDelta, Utc};

/// The age of `then` at `now`, as `kubectl get` prints it.
#[must_use]
pub fn since(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    human(now - then)
}

/// A duration as `kubectl get` prints an age.
#[must_use]
pub fn human(elapsed: TimeDelta) -> String {
    let seconds = elapsed.num_seconds();
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }

    let minutes = seconds / 60;
    if minutes < 10 {
        return two_units(minutes, "m", seconds % 60, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }

    let hours = minutes / 60;
    if hours < 8 {
        return two_units(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }

    let days = hours / 24;
    if days < 8 {
        return two_units(days, "d", hours % 24, "h");
    }
    if days < 365 * 2 {
        return format!("{days}d");
    }

    let years = days / 365;
    if years < 8 {
        return two_units(years, "y", days % 365, "d");
    }

    format!("{years}y")
}

fn two_units(large: i64, large_unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 {
        format!("{large}{large_unit}")
    } else {
        format!("{large}{large_unit}{small}{small_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: i64) -> TimeDelta {
        TimeDelta::seconds(n)
    }

    #[test]
    fn seconds_are_counted_up_to_two_minutes() {
        assert_eq!(human(secs(0)), "0s");
        assert_eq!(human(secs(5)), "5s");
        assert_eq!(human(secs(119)), "119s");
    }

    #[test]
    fn short_spans_show_two_units_and_drop_a_zero_one() {
        assert_eq!(human(secs(120)), "2m");
        assert_eq!(human(secs(200)), "3m20s");
        assert_eq!(human(TimeDelta::hours(5) + TimeDelta::minutes(10)), "5h10m");
        assert_eq!(human(TimeDelta::days(2) + TimeDelta::hours(3)), "2d3h");
        assert_eq!(human(TimeDelta::days(4)), "4d");
        assert_eq!(human(TimeDelta::days(365 * 3 + 10)), "3y10d");
    }

    #[test]
    fn longer_spans_show_one_unit() {
        assert_eq!(human(TimeDelta::minutes(45)), "45m");
        assert_eq!(human(TimeDelta::minutes(179)), "179m");
        assert_eq!(human(TimeDelta::hours(2) + TimeDelta::minutes(59)), "179m");
        assert_eq!(human(TimeDelta::hours(20)), "20h");
        assert_eq!(human(TimeDelta::hours(47) + TimeDelta::minutes(59)), "47h");
        assert_eq!(human(TimeDelta::days(30) + TimeDelta::hours(5)), "30d");
        assert_eq!(human(TimeDelta::days(365 * 9)), "9y");
    }

    #[test]
    fn clock_skew_of_a_second_reads_as_now_and_more_is_invalid() {
        assert_eq!(human(secs(-1)), "0s");
        assert_eq!(human(TimeDelta::milliseconds(-1500)), "0s");
        assert_eq!(human(secs(-2)), "<invalid>");
    }

    #[test]
    fn since_measures_from_then_to_now() {
        let now = Utc::now();

        assert_eq!(since(now - TimeDelta::hours(5), now), "5h");
        assert_eq!(
            since(now - TimeDelta::hours(2), now),
            "120m",
            "kubectl counts minutes to 3h"
        );
        assert_eq!(since(now, now), "0s");
    }
}
