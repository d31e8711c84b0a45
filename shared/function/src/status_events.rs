//! Status events, published so that they can never hold up or fail the step whose change
//! they announce.
//!
//! The change is written before its event is published, so an event never announces what
//! did not happen; a publish that fails or takes too long is logged (which event, which
//! request, why) and counted in the metric [`FAILED_METRIC`], which the template alarms on,
//! and the step goes on. Consumers get each event at least once when publishing works: a
//! retried step publishes its event again, with the same id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lifeboat::execution::progress::RestoreProgress;
use lifeboat::ports::StatusEvents;
use lifeboat::request::lifecycle::RestoreRequest;
use lifeboat::status_event::restore::{progress_event, restore_event};
use lifeboat::status_event::{RestoreChange, StatusEvent};
use lifeboat_aws::event_bus::PUBLISH_TIMEOUT;

use crate::telemetry::publish_counts;

/// The metric counting status events that could not be published.
pub const FAILED_METRIC: &str = "StatusEventsFailed";

/// How long a step waits for one publish at most: the client's own bound and a margin.
pub const WAIT: Duration = PUBLISH_TIMEOUT.saturating_add(Duration::from_secs(1));

/// A function's way to publish status events.
pub struct Announcer {
    events: Arc<dyn StatusEvents>,
    /// The function, as its metrics name it.
    function: &'static str,
    wait: Duration,
    failed: AtomicU64,
}

impl Announcer {
    pub fn new(events: Arc<dyn StatusEvents>, function: &'static str) -> Announcer {
        Announcer {
            events,
            function,
            wait: WAIT,
            failed: AtomicU64::new(0),
        }
    }

    /// The same, waiting at most `wait` for a publish.
    pub fn waiting_at_most(mut self, wait: Duration) -> Announcer {
        self.wait = wait;
        self
    }

    /// How many publishes failed since this announcer was made.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Publishes `change` of `request` as stored after it; whether it was published.
    pub async fn announce(&self, request: &RestoreRequest, change: RestoreChange) -> bool {
        match restore_event(request, change) {
            Some(event) => self.publish(&event).await,
            None => {
                // A caller's mistake, never the request's: logged, and the step goes on.
                tracing::warn!(request = %request.id, change = ?change, "no status event: the request does not carry this change");
                false
            }
        }
    }

    /// Publishes a `Restore Progress` event of `request` (`sequence`: the request's version
    /// the progress was saved at, so a republished one keeps its id); whether published.
    pub async fn progress(&self, request: &RestoreRequest, progress: RestoreProgress, sequence: u64) -> bool {
        self.publish(&progress_event(request, progress, sequence)).await
    }

    /// Publishes `event`; whether it was published. Never fails and never waits longer
    /// than the announcer's bound.
    pub async fn publish(&self, event: &StatusEvent) -> bool {
        let error = match tokio::time::timeout(self.wait, self.events.publish(event)).await {
            Ok(Ok(())) => {
                tracing::info!(
                    event_id = event.event_id(),
                    detail_type = event.detail_type.as_str(),
                    "status event published"
                );
                return true;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", self.wait.as_millis()),
        };
        self.failed.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            event_id = event.event_id(),
            detail_type = event.detail_type.as_str(),
            subject = event.subject(),
            error = %error,
            "status event not published; the step goes on"
        );
        publish_counts(self.function, &[(FAILED_METRIC, 1)], chrono::Utc::now());
        false
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use lifeboat::audit::finding::{Finding, FindingKind};
    use lifeboat::ports::memory::MemoryStatusEvents;
    use lifeboat::ports::PortError;
    use lifeboat::status_event::fleet::audit_finding;

    use super::*;

    fn event() -> StatusEvent {
        let at: chrono::DateTime<chrono::Utc> = "2026-11-28T04:00:00Z".parse().unwrap();
        let finding = Finding::new(FindingKind::NoPoints, "rds:db".into(), String::new());
        audit_finding(at.date_naive(), Some("acme"), &finding, at)
    }

    /// A bus that never answers.
    struct Silent;

    #[async_trait]
    impl StatusEvents for Silent {
        async fn publish(&self, _: &StatusEvent) -> Result<(), PortError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_failed_publish_is_counted_and_not_returned() {
        let bus = Arc::new(MemoryStatusEvents::default());
        let announcer = Announcer::new(bus.clone(), "restore-intake");
        assert!(announcer.publish(&event()).await);
        bus.fail(true);
        assert!(!announcer.publish(&event()).await);
        assert_eq!(announcer.failed(), 1);
        assert_eq!(bus.published().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bus_that_never_answers_holds_the_step_no_longer_than_the_bound() {
        let announcer = Announcer::new(Arc::new(Silent), "restore-executor");
        let started = tokio::time::Instant::now();
        assert!(!announcer.publish(&event()).await);
        assert_eq!(started.elapsed(), WAIT);
        assert_eq!(announcer.failed(), 1);
    }
}
