//! In-memory status events: what was published, in order, and a switch that makes every
//! publish fail (a bus that is gone), for tests that a failed publish changes nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{FailureKind, PortError, StatusEvents};
use crate::status_event::{DetailType, StatusEvent};

#[derive(Debug, Default)]
pub struct MemoryStatusEvents {
    published: Mutex<Vec<StatusEvent>>,
    failing: AtomicBool,
}

impl MemoryStatusEvents {
    /// Every event published so far, in order.
    pub fn published(&self) -> Vec<StatusEvent> {
        self.published.lock().expect("lock").clone()
    }

    /// The detail-types published so far, in order.
    pub fn detail_types(&self) -> Vec<DetailType> {
        self.published().iter().map(|e| e.detail_type).collect()
    }

    /// From now on every publish fails (or, with `false`, succeeds again).
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl StatusEvents for MemoryStatusEvents {
    async fn publish(&self, event: &StatusEvent) -> Result<(), PortError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(PortError::new(
                "PutEvents",
                event.event_id(),
                FailureKind::NotFound,
                "the event bus does not exist",
            ));
        }
        self.published.lock().expect("lock").push(event.clone());
        Ok(())
    }
}
