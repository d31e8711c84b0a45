//! Where status events go: an event bus (EventBridge in a deployment and on the local stack).

use async_trait::async_trait;

use super::PortError;
use crate::status_event::StatusEvent;

/// Publishes status events. A failure is the caller's to log and count, never a reason to
/// fail the step that made the change (see `lifeboat_function::status_events`).
#[async_trait]
pub trait StatusEvents: Send + Sync {
    async fn publish(&self, event: &StatusEvent) -> Result<(), PortError>;
}
