//! What a container's `secrets[].valueFrom` (or `repositoryCredentials.credentialsParameter`)
//! resolves to when its task starts, and the ARN a permission check of it names.
//!
//! The agent protocol calls [`resolve`] with the task's region and each valueFrom: a
//! Secrets Manager secret's ARN with its optional `:json-key:version-stage:version-id`,
//! or an SSM parameter's name or ARN (a SecureString decrypted). Errors are worded as
//! ECS words a task's `ResourceInitializationError` ("unable to retrieve secret from
//! asm: ...", "unable to retrieve secrets from ssm: ..."), name what was missing, and never
//! hold a value.

use flotilla_model::secrets::parameter;
use flotilla_model::secrets::sealed::SecretValue;
use flotilla_model::secrets::value_from::{self, ValueFrom, ValueFromError};
use flotilla_model::Scope;

use super::manager::{self, SecretsError};
use super::parameters::{self, SsmError};
use crate::State;

/// Why a valueFrom did not resolve, in ECS's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A Secrets Manager ARN that does not name a secret.
    #[error("unable to retrieve secret from asm: trying to retrieve secret with value {value_from} resulted in error: {reason}")]
    InvalidSecretArn { value_from: String, reason: String },
    /// Secrets Manager refused the read (no such secret, version or label; marked for
    /// deletion; a key that cannot open it; a store failure, which `retriable` marks).
    #[error("unable to retrieve secret from asm: failed to fetch secret {secret} from secrets manager: {code}: {message}")]
    Asm {
        secret: String,
        code: &'static str,
        message: String,
        retriable: bool,
    },
    /// The SecretString has no such top-level key.
    #[error("unable to retrieve secret from asm: retrieved secret from Secrets Manager did not contain json key {key}")]
    JsonKey { key: String },
    /// A json-key was asked of a SecretString that is not a JSON object.
    #[error("unable to retrieve secret from asm: the value of secret {secret} is not a JSON object, so json key {key} cannot be read from it")]
    NotJson { secret: String, key: String },
    /// The secret holds a SecretBinary: only a SecretString becomes a container's
    /// environment variable.
    #[error("unable to retrieve secret from asm: secret {secret} holds a SecretBinary value; only a SecretString can be injected")]
    Binary { secret: String },
    /// Parameters that do not exist, or names that cannot be one.
    #[error("unable to retrieve secrets from ssm: invalid parameters: {names}")]
    InvalidParameters { names: String },
    /// SSM refused the read otherwise (a key that cannot open it, a store failure).
    #[error("unable to retrieve secrets from ssm: {message}")]
    Ssm { message: String, retriable: bool },
}

impl ResolveError {
    /// Whether the same valueFrom may resolve if tried again (the store failed).
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            ResolveError::Asm {
                retriable: true,
                ..
            } | ResolveError::Ssm {
                retriable: true,
                ..
            }
        )
    }
}

fn asm(secret: &str, e: SecretsError) -> ResolveError {
    let (code, retriable) = match &e {
        SecretsError::NotFound(_) => ("ResourceNotFoundException", false),
        SecretsError::InvalidRequest(_) => ("InvalidRequestException", false),
        SecretsError::Crypto(_) => ("DecryptionFailure", false),
        SecretsError::Control(c) if c.is_retriable() => ("InternalServiceError", true),
        _ => ("InvalidParameterException", false),
    };
    ResolveError::Asm {
        secret: secret.to_string(),
        code,
        message: e.to_string(),
        retriable,
    }
}

fn ssm(name: &str, e: SsmError) -> ResolveError {
    match e {
        SsmError::NotFound(_) | SsmError::VersionNotFound(_) => ResolveError::InvalidParameters {
            names: name.to_string(),
        },
        SsmError::Control(c) => ResolveError::Ssm {
            retriable: c.is_retriable(),
            message: c.to_string(),
        },
        other => ResolveError::Ssm {
            message: other.to_string(),
            retriable: false,
        },
    }
}

/// The region an SSM valueFrom names: its ARN's, else the task's.
fn parameter_scope(state: &State, region: &str, name: &str) -> Scope {
    let region = parameter::parse_arn(name).map_or(region, |a| a.region);
    Scope::new(region, state.account())
}

/// The value `value_from` names, for a container of a task in `region`.
pub fn resolve(state: &State, region: &str, value_from: &str) -> Result<String, ResolveError> {
    match value_from::parse(value_from) {
        Err(ValueFromError::SecretArn) => Err(ResolveError::InvalidSecretArn {
            value_from: value_from.to_string(),
            reason: ValueFromError::SecretArn.to_string(),
        }),
        Err(ValueFromError::Unknown) => Err(ResolveError::InvalidParameters {
            names: value_from.to_string(),
        }),
        Ok(ValueFrom::Secret {
            secret_id,
            region,
            json_key,
            version_stage,
            version_id,
            ..
        }) => {
            let scope = Scope::new(region, state.account());
            let revealed = manager::get_value(
                state,
                &scope,
                &secret_id,
                version_id.as_deref(),
                version_stage.as_deref(),
            )
            .map_err(|e| asm(&secret_id, e))?;
            let SecretValue::String(text) = &revealed.value else {
                return Err(ResolveError::Binary { secret: secret_id });
            };
            let Some(key) = json_key else {
                return Ok(text.clone());
            };
            // The parser's error would quote the value: only whether it parsed is kept.
            let not_json = || ResolveError::NotJson {
                secret: secret_id.clone(),
                key: key.clone(),
            };
            let doc: serde_json::Value = serde_json::from_str(text).map_err(|_| not_json())?;
            let object = doc.as_object().ok_or_else(not_json)?;
            match object.get(&key) {
                None => Err(ResolveError::JsonKey { key }),
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(other) => Ok(other.to_string()),
            }
        }
        Ok(ValueFrom::Parameter { name }) => {
            let scope = parameter_scope(state, region, &name);
            let found = parameters::get(state, &scope, &name).map_err(|e| ssm(&name, e))?;
            parameters::value(state, &scope, &found.record, found.version(), true)
                .map_err(|e| ssm(&name, e))
        }
    }
}

/// The ARN of the resource `value_from` names, for the permission check that precedes
/// [`resolve`]: a secret's full ARN (or the ARN as given, when no secret has it), a
/// parameter's ARN (made from its name in `region` when it is given by name).
pub fn resource_arn(state: &State, region: &str, value_from: &str) -> Result<String, ResolveError> {
    match value_from::parse(value_from) {
        Err(ValueFromError::SecretArn) => Err(ResolveError::InvalidSecretArn {
            value_from: value_from.to_string(),
            reason: ValueFromError::SecretArn.to_string(),
        }),
        Err(ValueFromError::Unknown) => Err(ResolveError::InvalidParameters {
            names: value_from.to_string(),
        }),
        Ok(ValueFrom::Secret {
            secret_id, region, ..
        }) => {
            let scope = Scope::new(region, state.account());
            Ok(manager::find(state, &scope, &secret_id)
                .map(|e| e.value.arn.clone())
                .unwrap_or(secret_id))
        }
        Ok(ValueFrom::Parameter { name }) => {
            let (bare, _) = parameter::split_selector(&name);
            if bare.starts_with("arn:") {
                return Ok(bare.to_string());
            }
            Ok(parameter::arn(region, state.account(), bare))
        }
    }
}
