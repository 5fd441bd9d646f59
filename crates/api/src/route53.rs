//! Route 53 (REST-XML, version 2013-04-01): hosted zones, record sets and their change
//! batches, changes and their sync status, health checks and their status, tags.
//!
//! The gateway hands every request over whole; [`route`] picks the operation by method and
//! path. [`xml`] reads request documents; [`zones`], [`records`] and [`health_checks`]
//! are the operations;
//! [`error`] maps the control plane's errors to Route 53's codes in one place.
//! [`OPERATIONS`] lists what is implemented.

mod error;
mod health_checks;
mod records;
mod xml;
mod zones;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use flotilla_aws::{
    AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol, RestRequest,
};
use http::Method;

use crate::State;

/// Every Route 53 operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "ChangeResourceRecordSets",
    "ChangeTagsForResource",
    "CreateHealthCheck",
    "CreateHostedZone",
    "DeleteHealthCheck",
    "DeleteHostedZone",
    "GetChange",
    "GetHealthCheck",
    "GetHealthCheckCount",
    "GetHealthCheckStatus",
    "GetHostedZone",
    "GetHostedZoneCount",
    "ListHealthChecks",
    "ListHostedZones",
    "ListHostedZonesByName",
    "ListResourceRecordSets",
    "ListTagsForResource",
    "UpdateHealthCheck",
    "UpdateHostedZoneComment",
];

/// Responses' and errors' XML namespace.
pub(crate) const XMLNS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

pub struct Route53 {
    spec: AwsServiceSpec,
    state: State,
}

impl Route53 {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "route53",
            protocol: Protocol::RestXml,
            target_prefix: "",
            xmlns: XMLNS,
        };
        Route53 { spec, state }
    }
}

#[async_trait]
impl AwsService for Route53 {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(
        &self,
        _ctx: &Context,
        _operation: &str,
        input: Input,
    ) -> Result<Output, AwsError> {
        let Input::Rest(request) = input else {
            return Err(AwsError::client(
                "InvalidInput",
                "Route 53 takes REST-XML requests.",
            ));
        };
        route(&self.state, &request).await
    }
}

/// The operation a request names, run.
async fn route(s: &State, r: &RestRequest) -> Result<Output, AwsError> {
    let path = r.path.strip_prefix("/2013-04-01/").unwrap_or("");
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let m = &r.method;
    match parts.as_slice() {
        ["hostedzone"] if m == Method::POST => zones::create(s, r).await,
        ["hostedzone"] if m == Method::GET => zones::list(s, r),
        ["hostedzone", id] if m == Method::GET => zones::get(s, id),
        ["hostedzone", id] if m == Method::POST => zones::update_comment(s, id, r).await,
        ["hostedzone", id] if m == Method::DELETE => zones::delete(s, id).await,
        ["hostedzone", id, "rrset"] if m == Method::POST => records::change(s, id, r).await,
        ["hostedzone", id, "rrset"] if m == Method::GET => records::list(s, id, r),
        ["hostedzonesbyname"] if m == Method::GET => zones::list_by_name(s, r),
        ["hostedzonecount"] if m == Method::GET => zones::count(s),
        ["change", id] if m == Method::GET => records::get_change(s, id),
        ["healthcheck"] if m == Method::POST => health_checks::create(s, r).await,
        ["healthcheck"] if m == Method::GET => health_checks::list(s, r),
        ["healthcheck", id] if m == Method::GET => health_checks::get(s, id),
        ["healthcheck", id] if m == Method::POST => health_checks::update(s, id, r).await,
        ["healthcheck", id] if m == Method::DELETE => health_checks::delete(s, id).await,
        ["healthcheck", id, "status"] if m == Method::GET => health_checks::status(s, id),
        ["healthcheckcount"] if m == Method::GET => health_checks::count(s),
        ["tags", kind, id] if m == Method::POST => zones::change_tags(s, kind, id, r).await,
        ["tags", kind, id] if m == Method::GET => zones::list_tags(s, kind, id),
        _ => Err(AwsError::new(
            http::StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("No Route 53 operation is {} {}.", r.method, r.path),
        )),
    }
}

/// A query parameter by name.
pub(crate) fn query<'a>(r: &'a RestRequest, name: &str) -> Option<&'a str> {
    r.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `maxitems`: a number from 1 to `most`, `default` when absent.
pub(crate) fn max_items(r: &RestRequest, default: usize, most: usize) -> Result<usize, AwsError> {
    match query(r, "maxitems") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=most).contains(&n) => Ok(n),
            _ => Err(error::invalid(format!(
                "maxitems must be a number from 1 to {most}; {v} is not."
            ))),
        },
    }
}
