//! The registry's administration operation, for `flotilla registry gc`: JSON 1.1, signing
//! name `flotilla-registry`, `X-Amz-Target: FlotillaRegistry_v1.CollectGarbage`, root key
//! only. It lives here because only the server holds both the gateway and the registry.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use flotilla_registry::http::Registry;
use serde::Deserialize;
use serde_json::json;

use crate::RegistryConfig;

pub const SIGNING_NAME: &str = "flotilla-registry";
pub const TARGET_PREFIX: &str = "FlotillaRegistry_v1";
pub const COLLECT_GARBAGE: &str = "CollectGarbage";

pub struct RegistryAdmin {
    spec: AwsServiceSpec,
    registry: Arc<Registry>,
    config: RegistryConfig,
}

impl RegistryAdmin {
    pub fn new(registry: Arc<Registry>, config: RegistryConfig) -> Self {
        let spec = AwsServiceSpec {
            signing_name: SIGNING_NAME,
            protocol: Protocol::Json11,
            target_prefix: TARGET_PREFIX,
            xmlns: "",
        };
        RegistryAdmin {
            spec,
            registry,
            config,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CollectInput {
    /// Unreferenced blobs younger than this are kept (default: the server's grace).
    grace_seconds: Option<u64>,
}

#[async_trait]
impl AwsService for RegistryAdmin {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(
        &self,
        _ctx: &Context,
        operation: &str,
        input: Input,
    ) -> Result<Output, AwsError> {
        if operation != COLLECT_GARBAGE {
            return Err(AwsError::unknown_operation(operation));
        }
        let input: CollectInput = input.json()?;
        let grace = input
            .grace_seconds
            .map_or(self.config.gc_grace, Duration::from_secs);
        let report = self
            .registry
            .collect(grace, self.config.upload_ttl)
            .await
            .map_err(|e| AwsError::server("ServerException", e.to_string()))?;
        Ok(Output::Json(json!({
            "blobsKept": report.kept,
            "blobsRemoved": report.removed,
            "bytesFreed": report.freed_bytes,
            "uploadsExpired": report.uploads_expired,
        })))
    }
}
