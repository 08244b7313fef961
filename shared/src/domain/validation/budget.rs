//! The per-license budget of device changes, against activation churn (one key passed around
//! by activating and deactivating devices in turn).
//!
//! A fixed window counter kept on the license item: the first change opens a window of
//! [`CHANGE_WINDOW`]; at most [`CHANGES_PER_WINDOW`] changes (activations of a new device,
//! deactivations) fit in it; further ones are answered `429 rate_limited` until it closes. It
//! costs nothing extra: every change writes the license item anyway.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::time::serde_ts;

/// Length of a change window.
pub const CHANGE_WINDOW: Duration = Duration::hours(24);
/// Device changes a license may make per window.
pub const CHANGES_PER_WINDOW: u32 = 20;

/// The current window of a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeBudget {
    #[serde(with = "serde_ts")]
    pub window_start: OffsetDateTime,
    pub count: u32,
}

impl ChangeBudget {
    /// The budget after one more change at `now`; `None` when the window's budget is spent.
    pub fn spend(current: Option<ChangeBudget>, now: OffsetDateTime) -> Option<ChangeBudget> {
        match current {
            Some(b) if b.window_start + CHANGE_WINDOW > now => (b.count < CHANGES_PER_WINDOW)
                .then_some(ChangeBudget {
                    window_start: b.window_start,
                    count: b.count + 1,
                }),
            _ => Some(ChangeBudget {
                window_start: now,
                count: 1,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_holds_its_budget_then_reopens() {
        let t0 = crate::time::from_unix(1_800_000_000).unwrap();
        let mut b = None;
        for i in 1..=CHANGES_PER_WINDOW {
            b = ChangeBudget::spend(b, t0 + Duration::minutes(i as i64));
            assert_eq!(b.unwrap().count, i);
            assert_eq!(b.unwrap().window_start, t0 + Duration::minutes(1));
        }
        assert_eq!(ChangeBudget::spend(b, t0 + Duration::hours(2)), None);
        let later = t0 + Duration::minutes(1) + CHANGE_WINDOW;
        assert_eq!(
            ChangeBudget::spend(b, later),
            Some(ChangeBudget {
                window_start: later,
                count: 1
            })
        );
    }
}
