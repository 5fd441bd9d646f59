//! The registry's authorization tokens: what GetAuthorizationToken hands out and `docker
//! login` sends back as the password of user `AWS`. A token names the region and account
//! it was issued in, when it expires and, when an IAM identity asked for it, that
//! identity's access key (its registry requests are then decided by its policies), signed
//! with the store's registry key (so every server of one store accepts it and no other
//! registry does); nothing is stored per token.

use chrono::{DateTime, TimeDelta, Utc};
use flotilla_model::agent_protocol::RegistryCredentials;
use flotilla_model::Scope;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::State;

/// The user name that goes with every token, as on ECR.
pub const USER: &str = "AWS";

/// How long a token is valid (ECR: 12 hours).
pub const TTL: TimeDelta = TimeDelta::hours(12);

/// Marks the token format, so a later one can be told apart.
const VERSION: &str = "flt1";

/// A token and when it stops being accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub password: String,
    pub expires_at: DateTime<Utc>,
}

fn mac(state: &State, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(state.registry_key())
        .expect("HMAC takes a key of any length");
    mac.update(VERSION.as_bytes());
    mac.update(payload);
    mac
}

/// What a valid token grants: its region (and account), and the IAM identity it acts as
/// (the access key it was issued to; `None`: the account root or an agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub scope: Scope,
    pub principal: Option<String>,
}

/// A new token for the scope's region and account, valid for [`TTL`] from `now`, acting
/// as the IAM identity of the access key `principal` when there is one.
pub fn issue(state: &State, scope: &Scope, principal: Option<&str>, now: DateTime<Utc>) -> Token {
    let expires_at = now + TTL;
    let mut payload = format!(
        "{}\n{}\n{}",
        scope.region,
        scope.account,
        expires_at.timestamp()
    );
    if let Some(key) = principal {
        payload.push('\n');
        payload.push_str(key);
    }
    let tag = mac(state, payload.as_bytes()).finalize().into_bytes();
    Token {
        password: format!("{VERSION}.{}.{}", hex::encode(&payload), hex::encode(tag)),
        expires_at,
    }
}

/// What a token grants at `now`: `None` when it is malformed, not signed by this store's
/// key, for another account, or expired.
pub fn verify(state: &State, password: &str, now: DateTime<Utc>) -> Option<Grant> {
    let mut parts = password.split('.');
    let (version, payload, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if version != VERSION || parts.next().is_some() {
        return None;
    }
    let payload = hex::decode(payload).ok()?;
    mac(state, &payload)
        .verify_slice(&hex::decode(tag).ok()?)
        .ok()?;
    let payload = String::from_utf8(payload).ok()?;
    let mut fields = payload.split('\n');
    let (region, account, expires) = (fields.next()?, fields.next()?, fields.next()?);
    let principal = fields.next().map(str::to_string);
    let expires: i64 = expires.parse().ok()?;
    (account == state.account() && now.timestamp() < expires).then(|| Grant {
        scope: Scope::new(region, account),
        principal,
    })
}

/// The credentials an agent pulls with, in its region: a token with at least half its life
/// left (one per region is kept and reissued when older), so an agent always holds one with
/// hours left and a poll does not sign a new one. `None` when no registry is served.
pub fn agent_credentials(state: &State, scope: &Scope) -> Option<RegistryCredentials> {
    let server = super::registry_host(state)?;
    let now = Utc::now();
    let password = {
        let mut tokens = state.agent_registry_tokens();
        let token = tokens
            .entry(scope.region.clone())
            .or_insert_with(|| issue(state, scope, None, now));
        if token.expires_at - now < TTL / 2 {
            *token = issue(state, scope, None, now);
        }
        token.password.clone()
    };
    Some(RegistryCredentials {
        server: server.to_string(),
        username: USER.to_string(),
        password,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use flotilla_store::MemoryStore;
    use proptest::prelude::*;

    use super::*;
    use crate::ControlConfig;

    async fn state(account: &str) -> State {
        State::new(Arc::new(MemoryStore::new()), ControlConfig::new(account))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_token_grants_its_region_until_it_expires_and_only_where_it_was_signed() {
        let s = state("000000000000").await;
        let now = Utc::now();
        let token = issue(&s, &Scope::new("eu-west-1", "000000000000"), None, now);
        assert_eq!(token.expires_at, now + TTL);
        let granted = verify(&s, &token.password, now).unwrap();
        assert_eq!(granted.scope.region, "eu-west-1");
        assert_eq!(granted.principal, None);
        // A token issued to an IAM identity names its key.
        let user = issue(
            &s,
            &Scope::new("eu-west-1", "000000000000"),
            Some("AKIAUSER"),
            now,
        );
        let granted = verify(&s, &user.password, now).unwrap();
        assert_eq!(granted.principal.as_deref(), Some("AKIAUSER"));
        assert!(verify(&s, &token.password, token.expires_at).is_none());
        // Another store has another key; a tampered token fails its signature.
        let other = state("000000000000").await;
        assert!(verify(&other, &token.password, now).is_none());
        let mut tampered = token.password.clone();
        tampered.replace_range(5..7, "00");
        assert!(verify(&s, &tampered, now).is_none() || tampered == token.password);
        // A token naming another account is refused even when signed by this store.
        let foreign = issue(&s, &Scope::new("eu-west-1", "111111111111"), None, now);
        assert!(verify(&s, &foreign.password, now).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_passwords_are_refused_without_panicking(password in ".{0,300}") {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let s = rt.block_on(state("000000000000"));
            prop_assert!(verify(&s, &password, Utc::now()).is_none());
            let parts = format!("{VERSION}.{password}.{password}");
            prop_assert!(verify(&s, &parts, Utc::now()).is_none());
        }
    }
}
