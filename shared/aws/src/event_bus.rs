//! Status events through EventBridge (`PutEvents`), on a configurable bus.
//!
//! A publish is one entry of one call. PutEvents answers 200 even when it refuses an entry
//! (`FailedEntryCount` > 0, the entry's `ErrorCode`): that is a failure here too, or a
//! refused event would pass for a published one.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use lifeboat::ports::{FailureKind, PortError, StatusEvents};
use lifeboat::status_event::{StatusEvent, SOURCE};

use super::port_error;

/// Tries of one publish, the first included: one retry for a blip, no more, since a status
/// event must never hold up the step that announces its change.
pub const PUBLISH_ATTEMPTS: u32 = 2;
/// How long one publish may take, retries included.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);

pub struct EventBus {
    client: Client,
    bus: String,
}

impl EventBus {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBus {
            client,
            bus: bus.into(),
        }
    }

    /// An EventBus on `bus` whose client retries once and gives up after
    /// [`PUBLISH_TIMEOUT`] (the functions' other clients retry five times, adaptively).
    pub fn for_function(config: &aws_config::SdkConfig, bus: &str) -> Self {
        let conf = aws_sdk_eventbridge::config::Builder::from(config)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(PUBLISH_ATTEMPTS))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(PUBLISH_TIMEOUT)
                    .build(),
            )
            .build();
        EventBus::new(Client::from_conf(conf), bus)
    }
}

#[async_trait]
impl StatusEvents for EventBus {
    async fn publish(&self, event: &StatusEvent) -> Result<(), PortError> {
        let what = format!("event {} on bus {}", event.event_id(), self.bus);
        let at = event.at();
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.detail_type.as_str())
            .detail(event.detail_json())
            .time(aws_smithy_types::DateTime::from_secs_and_nanos(
                at.timestamp(),
                at.timestamp_subsec_nanos(),
            ))
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| port_error("PutEvents", &what, e))?;
        if out.failed_entry_count() == 0 {
            return Ok(());
        }
        let refused = out.entries().iter().find(|e| e.error_code().is_some());
        let code = refused.and_then(|e| e.error_code()).unwrap_or("Unknown");
        let message = refused.and_then(|e| e.error_message()).unwrap_or("no message");
        let kind = match code {
            "ThrottlingException" => FailureKind::Throttled,
            "InternalFailure" | "InternalException" => FailureKind::Unavailable,
            _ => FailureKind::Refused,
        };
        Err(PortError::new(
            "PutEvents",
            what,
            kind,
            format!("entry refused: {code}: {message}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_smithy_mocks::{mock, mock_client};
    use chrono::{DateTime, Utc};
    use lifeboat::audit::finding::{Finding, FindingKind};
    use lifeboat::status_event::fleet::audit_finding;

    use super::*;

    fn event() -> StatusEvent {
        let at: DateTime<Utc> = "2026-11-28T04:00:00Z".parse().unwrap();
        let finding = Finding::new(FindingKind::NoPoints, "rds:db".into(), String::new());
        audit_finding(at.date_naive(), Some("acme"), &finding, at)
    }

    #[tokio::test]
    async fn one_entry_names_the_source_detail_type_bus_and_time() {
        let put = mock!(Client::put_events)
            .match_requests(|r| {
                let e = &r.entries()[0];
                r.entries().len() == 1
                    && e.source() == Some("lifeboat")
                    && e.detail_type() == Some("Audit Finding")
                    && e.event_bus_name() == Some("support-bus")
                    && e.time().map(|t| t.secs()) == Some(1_795_838_400)
                    && e.detail()
                        .is_some_and(|d| d.contains("\"audit_date\":\"2026-11-28\""))
            })
            .then_output(|| {
                PutEventsOutput::builder()
                    .failed_entry_count(0)
                    .entries(PutEventsResultEntry::builder().event_id("e-1").build())
                    .build()
            });
        let bus = EventBus::new(mock_client!(aws_sdk_eventbridge, [&put]), "support-bus");
        bus.publish(&event()).await.unwrap();
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_entry_refused_in_a_successful_answer_is_a_failure() {
        let put = mock!(Client::put_events).then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code("ThrottlingException")
                        .error_message("Rate exceeded")
                        .build(),
                )
                .build()
        });
        let bus = EventBus::new(mock_client!(aws_sdk_eventbridge, [&put]), "default");
        let e = bus.publish(&event()).await.unwrap_err();
        assert_eq!(e.kind, FailureKind::Throttled);
        assert!(e.message.contains("ThrottlingException: Rate exceeded"), "{e}");
        assert!(e.resource.contains("on bus default"), "{e}");
    }
}
