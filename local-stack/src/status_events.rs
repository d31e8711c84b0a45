//! Status events on the local stack: the functions publish to moto's EventBridge (through
//! the edge, like every other call), on its `default` bus; a rule like the template's
//! example matches `source: lifeboat` and sends every event to a FIFO queue, where tests and
//! the demo read them in the order they were published.

use aws_sdk_eventbridge::types::{SqsParameters, Target};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::names::arn;
use crate::StackError;

/// The bus the functions publish to (`LIFEBOAT_EVENT_BUS`).
pub const EVENT_BUS: &str = "default";
/// The rule that sends Lifeboat's events to [`QUEUE`].
pub const RULE: &str = "lifeboat-status-events";
/// First in, first out: one message group, so the queue keeps the order of publishing.
pub const QUEUE: &str = "lifeboat-status-events.fifo";

/// Makes the queue and the rule.
pub async fn create(sdk: &aws_config::SdkConfig) -> Result<(), StackError> {
    aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(QUEUE)
        .attributes(QueueAttributeName::FifoQueue, "true")
        // EventBridge sends to a FIFO queue only with content-based de-duplication on.
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .map_err(|e| StackError::aws("CreateQueue lifeboat-status-events", e))?;
    let events = aws_sdk_eventbridge::Client::new(sdk);
    events
        .put_rule()
        .name(RULE)
        .event_bus_name(EVENT_BUS)
        .event_pattern(r#"{"source": ["lifeboat"]}"#)
        .send()
        .await
        .map_err(|e| StackError::aws("PutRule lifeboat-status-events", e))?;
    let target = Target::builder()
        .id("status-events-queue")
        .arn(arn("sqs", QUEUE))
        .sqs_parameters(SqsParameters::builder().message_group_id("lifeboat").build())
        .build()
        .map_err(|e| StackError::aws("Target", e))?;
    events
        .put_targets()
        .rule(RULE)
        .event_bus_name(EVENT_BUS)
        .targets(target)
        .send()
        .await
        .map_err(|e| StackError::aws("PutTargets lifeboat-status-events", e))?;
    Ok(())
}

/// The events delivered since the last call, oldest first, as a rule's target receives
/// them (`detail-type`, `source`, `time`, `detail`, ...). Each is read once: it is deleted
/// from the queue once read.
pub async fn take(sdk: &aws_config::SdkConfig) -> Result<Vec<Value>, StackError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url = sqs
        .get_queue_url()
        .queue_name(QUEUE)
        .send()
        .await
        .map_err(|e| StackError::aws("GetQueueUrl lifeboat-status-events", e))?
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let mut events = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .map_err(|e| StackError::aws("ReceiveMessage lifeboat-status-events", e))?;
        let messages = out.messages();
        if messages.is_empty() {
            return Ok(events);
        }
        for m in messages {
            let body = m.body().unwrap_or_default();
            let event = serde_json::from_str(body)
                .map_err(|e| StackError::Setup(format!("a status event that is not JSON ({e}): {body}")))?;
            events.push(event);
            // A FIFO group delivers nothing more while a message of it is in flight.
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .map_err(|e| StackError::aws("DeleteMessage lifeboat-status-events", e))?;
        }
    }
}
