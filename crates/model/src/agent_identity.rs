//! Agent identities. An operator creates a join token for a cluster; an agent presents it
//! once, when it joins, and gets a key of its own that can do nothing but speak the agent
//! protocol for the one container instance it registered. The account's root key is never
//! needed on a worker host.
//!
//! A token is a SigV4 key pair (its id and secret) written as one string, optionally with
//! the SHA-256 fingerprint of the server's TLS certificate authority, so that an agent
//! given only the token can verify the server:
//! `flotilla-join.<ID>.<SECRET>[.<FINGERPRINT>]`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;

/// What a join token string starts with.
pub const TOKEN_PREFIX: &str = "flotilla-join";
/// Access key ids of join tokens start with this.
pub const TOKEN_ID_PREFIX: &str = "FJT";
/// Access key ids of agent keys start with this.
pub const AGENT_KEY_PREFIX: &str = "FAK";
/// The default and longest lifetime of a join token.
pub const DEFAULT_TOKEN_TTL_SECONDS: i64 = 24 * 3600;
pub const MAX_TOKEN_TTL_SECONDS: i64 = 365 * 24 * 3600;
/// The shortest lifetime of a join token.
pub const MIN_TOKEN_TTL_SECONDS: i64 = 60;

/// A join token as stored: who may join which cluster until when. The secret is kept
/// because SigV4 verification needs it (the store's files are private to the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinTokenRecord {
    pub token_id: String,
    pub secret: String,
    pub region: String,
    pub cluster: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl JoinTokenRecord {
    /// Whether an agent may still join with it at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

impl Record for JoinTokenRecord {
    const KIND: &'static str = "join-token";
    const VERSION: u32 = 1;
}

/// The key an agent got when it joined: valid while the token it joined with has not been
/// revoked and its container instance is registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentKeyRecord {
    pub access_key_id: String,
    pub secret: String,
    pub region: String,
    pub cluster: String,
    /// The container instance's id (the last part of its ARN).
    pub instance_id: String,
    pub container_instance_arn: String,
    /// The join token it was issued for.
    pub token_id: String,
    pub created_at: DateTime<Utc>,
}

impl Record for AgentKeyRecord {
    const KIND: &'static str = "agent-key";
    const VERSION: u32 = 1;
}

/// A join token as an operator hands it to an agent.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    pub token_id: String,
    pub secret: String,
    /// Lowercase hex SHA-256 of the server's CA certificate (DER), when it serves TLS.
    pub ca_fingerprint: Option<String>,
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TOKEN_PREFIX}.{}.{}", self.token_id, self.secret)?;
        if let Some(fp) = &self.ca_fingerprint {
            write!(f, ".{fp}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("token_id", &self.token_id)
            .field("secret", &"<redacted>")
            .field("ca_fingerprint", &self.ca_fingerprint)
            .finish()
    }
}

/// Why a string is not a join token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a join token ({0}); a token looks like {TOKEN_PREFIX}.{TOKEN_ID_PREFIX}....")]
pub struct BadToken(&'static str);

impl FromStr for JoinToken {
    type Err = BadToken;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().split('.');
        if parts.next() != Some(TOKEN_PREFIX) {
            return Err(BadToken("it does not start with the prefix"));
        }
        let token_id = parts.next().unwrap_or_default();
        let secret = parts.next().unwrap_or_default();
        let ca_fingerprint = parts.next();
        if parts.next().is_some() {
            return Err(BadToken("too many parts"));
        }
        let id_ok = token_id.starts_with(TOKEN_ID_PREFIX)
            && (16..=128).contains(&token_id.len())
            && token_id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_ok {
            return Err(BadToken("the token id is malformed"));
        }
        if secret.len() != 40 || !secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BadToken("the secret is malformed"));
        }
        let fp_ok = |fp: &str| fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit());
        if ca_fingerprint.is_some_and(|fp| !fp_ok(fp)) {
            return Err(BadToken("the CA fingerprint is not 64 hex digits"));
        }
        Ok(JoinToken {
            token_id: token_id.to_string(),
            secret: secret.to_string(),
            ca_fingerprint: ca_fingerprint.map(str::to_ascii_lowercase),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn token(fp: Option<&str>) -> JoinToken {
        JoinToken {
            token_id: "FJTABCDEFGHIJKLMNOPQ".into(),
            secret: "a".repeat(40),
            ca_fingerprint: fp.map(String::from),
        }
    }

    #[test]
    fn tokens_round_trip_through_their_string() {
        for t in [token(None), token(Some(&"0f".repeat(32)))] {
            assert_eq!(t.to_string().parse::<JoinToken>(), Ok(t.clone()));
        }
        assert!(!format!("{:?}", token(None)).contains(&"a".repeat(40)));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = token(None).to_string();
        for bad in [
            "",
            "flotilla-join",
            "other.FJTABCDEFGHIJKLMNOPQ.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "flotilla-join.FJT.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "flotilla-join.FJTABCDEFGHIJKLMNOPQ.short",
            &format!("{good}.xyz"),
            &format!("{good}.{}.extra", "0".repeat(64)),
        ] {
            assert!(bad.parse::<JoinToken>().is_err(), "{bad:?} was accepted");
        }
    }

    proptest! {
        #[test]
        fn any_string_parses_or_is_refused_without_panicking(s in ".{0,200}") {
            let _ = s.parse::<JoinToken>();
        }
    }
}
