//! Amazon CloudWatch Logs (JSON 1.1, target prefix `Logs_20140328`, signing name `logs`):
//! log groups, streams, events, filter patterns and Logs Insights queries.
//!
//! Log groups are control-plane records (`flotilla_control::logs`); streams and events
//! live in the log storage (`flotilla_telemetry::logs::LogStore`), whose blocking calls
//! run on tokio's blocking threads. [`groups`], [`streams`], [`events`] and [`queries`]
//! translate wire shapes into those calls and back; [`error`] maps their errors to Logs'
//! codes. [`shipping`] is what the agent protocol's log operations use: the same groups,
//! streams and appends, with the agent's line numbers.

mod error;
mod events;
mod groups;
mod queries;
pub(crate) mod shipping;
mod streams;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use flotilla_model::logs::{validate_group_name, validate_stream_name, LogGroupRecord};
use flotilla_telemetry::logs::store::{GroupId, StoreError};
use flotilla_telemetry::logs::LogStore;
use serde_json::Value;

use crate::State;
use error::{invalid, not_found, LogsWireError};

/// Every CloudWatch Logs operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "CreateLogGroup",
    "CreateLogStream",
    "DeleteLogGroup",
    "DeleteLogStream",
    "DeleteRetentionPolicy",
    "DescribeLogGroups",
    "DescribeLogStreams",
    "DescribeQueries",
    "FilterLogEvents",
    "GetLogEvents",
    "GetQueryResults",
    "ListTagsForResource",
    "ListTagsLogGroup",
    "PutLogEvents",
    "PutRetentionPolicy",
    "StartQuery",
    "StopQuery",
    "TagLogGroup",
    "TagResource",
    "UntagLogGroup",
    "UntagResource",
];

/// The Logs service: the control plane for groups, the log storage for the rest.
pub struct Logs {
    spec: AwsServiceSpec,
    pub(crate) state: State,
    pub(crate) store: LogStore,
    queries: Arc<queries::Queries>,
}

impl Logs {
    pub fn new(state: State, store: LogStore) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "logs",
            protocol: Protocol::Json11,
            target_prefix: "Logs_20140328",
            xmlns: "",
        };
        Logs {
            spec,
            state,
            store,
            queries: Arc::default(),
        }
    }

    /// Run a blocking call of the log storage on a blocking thread.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&LogStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, LogsWireError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|_| {
                LogsWireError(AwsError::server(
                    "ServiceUnavailableException",
                    "The log storage call did not finish.",
                ))
            })?
            .map_err(storage)
    }

    /// Delete every stream of a group (after its record).
    pub(crate) async fn delete_streams(
        &self,
        region: &str,
        group: &str,
    ) -> Result<(), LogsWireError> {
        let (region, group) = (region.to_string(), group.to_string());
        self.blocking(move |s| s.delete_group(GroupId::new(&region, &group)))
            .await
            .map(drop)
    }

    /// The bytes a group's streams take.
    pub(crate) async fn stored_bytes(
        &self,
        region: &str,
        group: &str,
    ) -> Result<u64, LogsWireError> {
        let (region, group) = (region.to_string(), group.to_string());
        self.blocking(move |s| Ok(s.stored_bytes(GroupId::new(&region, &group))))
            .await
    }

    /// Drop a group's events older than its retention period.
    pub(crate) async fn enforce_retention(
        &self,
        region: &str,
        group: &LogGroupRecord,
    ) -> Result<(), LogsWireError> {
        let now = self.state.clock().now().timestamp_millis();
        let Some(cutoff) = group.retained_from(now) else {
            return Ok(());
        };
        let (region, name) = (region.to_string(), group.name.clone());
        self.blocking(move |s| s.expire(GroupId::new(&region, &name), cutoff))
            .await
            .map(drop)
    }
}

/// The log storage's errors in Logs' terms.
fn storage(e: StoreError) -> LogsWireError {
    match e {
        StoreError::StreamNotFound => not_found("The specified log stream does not exist."),
        StoreError::StreamExists => LogsWireError(AwsError::new(
            http::StatusCode::BAD_REQUEST,
            "ResourceAlreadyExistsException",
            "The specified log stream already exists",
        )),
        StoreError::InvalidToken => invalid("The specified nextToken is not valid."),
        e => LogsWireError(AwsError::server(
            "ServiceUnavailableException",
            e.to_string(),
        )),
    }
}

/// A required `logGroupName`, checked.
pub(crate) fn group_name(name: Option<String>) -> Result<String, LogsWireError> {
    let name = name.ok_or_else(|| invalid("logGroupName is required."))?;
    validate_group_name(&name).map_err(invalid)?;
    Ok(name)
}

/// A required `logStreamName`, checked.
pub(crate) fn stream_name(name: Option<String>) -> Result<String, LogsWireError> {
    let name = name.ok_or_else(|| invalid("logStreamName is required."))?;
    validate_stream_name(&name).map_err(invalid)?;
    Ok(name)
}

/// The group named by `logGroupName` or `logGroupIdentifier` (exactly one of them).
pub(crate) fn group_of(
    logs: &Logs,
    ctx: &Context,
    name: Option<String>,
    identifier: Option<String>,
) -> Result<String, LogsWireError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(invalid(
            "Give either logGroupName or logGroupIdentifier, not both.",
        )),
        (None, Some(id)) => groups::identifier_name(logs, ctx, &id),
        (name, None) => group_name(name),
    }
}

#[async_trait]
impl AwsService for Logs {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = self.dispatch(ctx, operation, input).await?;
        Ok(Output::Json(crate::without_nulls(out)))
    }
}

impl Logs {
    async fn dispatch(
        &self,
        ctx: &Context,
        operation: &str,
        input: Input,
    ) -> Result<Value, LogsWireError> {
        use events as e;
        use groups as g;
        use queries as q;
        use streams as s;
        Ok(match operation {
            "CreateLogGroup" => g::create(self, ctx, input.json()?).await?,
            "DeleteLogGroup" => g::delete(self, ctx, input.json()?).await?,
            "DescribeLogGroups" => g::describe(self, ctx, input.json()?).await?,
            "PutRetentionPolicy" => g::put_retention(self, ctx, input.json()?).await?,
            "DeleteRetentionPolicy" => g::delete_retention(self, ctx, input.json()?).await?,
            "TagResource" => g::tag_resource(self, ctx, input.json()?).await?,
            "UntagResource" => g::untag_resource(self, ctx, input.json()?).await?,
            "ListTagsForResource" => g::list_tags_for_resource(self, ctx, input.json()?)?,
            "TagLogGroup" => g::tag_group(self, ctx, input.json()?).await?,
            "UntagLogGroup" => g::untag_group(self, ctx, input.json()?).await?,
            "ListTagsLogGroup" => g::list_tags_group(self, ctx, input.json()?)?,
            "CreateLogStream" => s::create(self, ctx, input.json()?).await?,
            "DeleteLogStream" => s::delete(self, ctx, input.json()?).await?,
            "DescribeLogStreams" => s::describe(self, ctx, input.json()?).await?,
            "PutLogEvents" => e::put(self, ctx, input.json()?).await?,
            "GetLogEvents" => e::get(self, ctx, input.json()?).await?,
            "FilterLogEvents" => e::filter(self, ctx, input.json()?).await?,
            "StartQuery" => q::start(self, ctx, &self.queries, input.json()?).await?,
            "GetQueryResults" => q::results(&self.queries, input.json()?)?,
            "StopQuery" => q::stop(&self.queries, input.json()?)?,
            "DescribeQueries" => q::describe(ctx, &self.queries, input.json()?)?,
            other => return Err(AwsError::unknown_operation(other).into()),
        })
    }
}
