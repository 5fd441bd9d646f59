//! The AWS wire: one HTTP listener for every AWS API Flotilla speaks.
//!
//! A request is identified by its SigV4 credential scope (which names the service and the
//! region), verified against the configured credentials, decoded according to the
//! service's protocol (JSON 1.0/1.1 routed by `X-Amz-Target`, query routed by `Action=`,
//! REST-XML handed to the service with its method and path), and answered in that
//! protocol's native form, errors included, so SDKs raise their typed exceptions.
//!
//! This crate knows no AWS service: services implement [`AwsService`] (in `flotilla-api`) and
//! are registered with the [`Gateway`]. It must never let a panic or a malformed request
//! reach a client as anything but a well-formed AWS error.
#![forbid(unsafe_code)]

pub mod client;
mod encoding;
mod error;
mod gateway;
mod metrics;
mod protocol;
mod sigv4;
pub mod xml;

pub use error::AwsError;
pub use gateway::{
    iam_prefix, AwsService, AwsServiceSpec, Context, Gateway, GatewayConfig, Input, Output,
    RestRequest,
};
pub use protocol::Protocol;
pub use sigv4::is_region_name;
/// Check a request's SigV4 signature against credentials (what the gateway does first).
pub use sigv4::verify as verify_signature;
pub use sigv4::{
    is_weak_secret, AuthRequest, Authorizer, Credentials, Key, KeySource, Principal, SECRET_LEN,
};
