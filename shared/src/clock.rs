//! The time as the outgoing-webhook code sees it: the system clock, which tests can move
//! forward (three days of retries, five days of failures) without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

/// The system clock plus an offset that only tests change. Cheap to clone; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The current time (milliseconds precision, UTC).
    pub fn now(&self) -> OffsetDateTime {
        crate::time::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and its clones) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.whole_milliseconds() as i64, Ordering::Relaxed);
    }
}
