//! The container event stream.
//!
//! bollard sends the request only when the stream is first polled, so the subscription
//! asks Docker for events `since` the moment `events()` was called: an event that happens
//! between the call and the first poll is replayed from the engine's buffer, never lost.
//! The stream ends (after one `Unavailable` item) when the engine goes away; the caller
//! resubscribes and re-inspects what it cares about.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptionsBuilder;
use bollard::Docker;
use futures::stream::BoxStream;
use futures::StreamExt;

use super::error::from_bollard;
use crate::{ContainerEvent, Result};

/// Container events from now on.
pub(crate) fn container_events(docker: &Docker) -> BoxStream<'static, Result<ContainerEvent>> {
    let filters = HashMap::from([("type", vec!["container"])]);
    let options = EventsOptionsBuilder::new()
        .since(&docker_timestamp(SystemTime::now()))
        .filters(&filters)
        .build();
    docker
        .events(Some(options))
        .filter_map(|item| async move {
            match item {
                Ok(message) => container_event(message).map(Ok),
                Err(e) => Some(Err(from_bollard(e))),
            }
        })
        .boxed()
}

/// Docker's `seconds.nanoseconds` timestamp.
fn docker_timestamp(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "{}.{:09}",
        since_epoch.as_secs(),
        since_epoch.subsec_nanos()
    )
}

/// The id and action of a container event; `None` for anything without both.
fn container_event(message: EventMessage) -> Option<ContainerEvent> {
    let id = message
        .actor
        .and_then(|a| a.id)
        .filter(|id| !id.is_empty())?;
    let action = message.action.filter(|a| !a.is_empty())?;
    Some(ContainerEvent { id, action })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bollard::models::EventActor;

    use super::*;

    #[test]
    fn timestamps_are_seconds_dot_nanoseconds() {
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(docker_timestamp(at), "1700000000.000000005");
    }

    #[test]
    fn events_need_an_id_and_an_action() {
        let event = |id: Option<&str>, action: Option<&str>| EventMessage {
            action: action.map(Into::into),
            actor: Some(EventActor {
                id: id.map(Into::into),
                attributes: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            container_event(event(Some("abc"), Some("die"))),
            Some(ContainerEvent {
                id: "abc".into(),
                action: "die".into()
            })
        );
        assert_eq!(container_event(event(None, Some("die"))), None);
        assert_eq!(container_event(event(Some("abc"), None)), None);
    }
}
