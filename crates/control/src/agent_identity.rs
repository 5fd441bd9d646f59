//! Agent identities (see `flotilla_model::agent_identity`): join tokens an operator
//! creates per cluster, the key each agent gets when it joins with one, and which of them a
//! request's access key id names. A key stays valid while its token is not revoked and its
//! container instance is registered, so revoking the token or deregistering the instance
//! revokes it without touching the key's record.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use flotilla_model::agent_identity::{
    AgentKeyRecord, JoinTokenRecord, AGENT_KEY_PREFIX, DEFAULT_TOKEN_TTL_SECONDS,
    MAX_TOKEN_TTL_SECONDS, MIN_TOKEN_TTL_SECONDS, TOKEN_ID_PREFIX,
};
use flotilla_model::container_instance::{ContainerInstanceRecord, INACTIVE};
use flotilla_model::record::encode;
use flotilla_model::{Resource, Scope};
use flotilla_store::{Compare, Op, Txn};
use rand::Rng;

use crate::ecs::clusters;
use crate::ecs::container_instances::{self, Registration};
use crate::{keys, ControlError, State};

/// The longest description a token may carry.
const MAX_DESCRIPTION: usize = 256;

/// Who an access key id that is not a root key names, if anyone valid.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A join token that has not expired or been revoked.
    Joiner(Arc<JoinTokenRecord>),
    /// An agent's key whose token stands and whose instance is registered.
    Agent(Arc<AgentKeyRecord>),
}

/// The valid token or agent key `access_key_id` names.
pub fn caller(state: &State, access_key_id: &str) -> Option<Caller> {
    if access_key_id.starts_with(TOKEN_ID_PREFIX) {
        let token = state
            .join_tokens()
            .get(keys::join_token(access_key_id).as_bytes())?;
        return token
            .value
            .usable_at(Utc::now())
            .then_some(Caller::Joiner(token.value));
    }
    if access_key_id.starts_with(AGENT_KEY_PREFIX) {
        let key = agent_key(state, access_key_id)?;
        let token = keys::join_token(&key.token_id);
        state.join_tokens().get(token.as_bytes())?;
        let instance = keys::container_instance(&key.region, &key.cluster, &key.instance_id);
        let registered = state
            .instances()
            .get(instance.as_bytes())
            .is_some_and(|e| e.value.status != INACTIVE);
        return registered.then_some(Caller::Agent(key));
    }
    None
}

/// The stored key of an agent, valid or not.
pub fn agent_key(state: &State, access_key_id: &str) -> Option<Arc<AgentKeyRecord>> {
    state
        .agent_keys()
        .get(keys::agent_key(access_key_id).as_bytes())
        .map(|e| e.value)
}

/// Create a join token for `cluster` (name or ARN; it must be ACTIVE), usable for
/// `ttl_seconds` (24 hours when `None`).
pub async fn create_token(
    state: &State,
    scope: &Scope,
    cluster: Option<&str>,
    ttl_seconds: Option<i64>,
    description: Option<String>,
) -> Result<JoinTokenRecord, ControlError> {
    let ttl = ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECONDS);
    if !(MIN_TOKEN_TTL_SECONDS..=MAX_TOKEN_TTL_SECONDS).contains(&ttl) {
        return Err(ControlError::invalid(format!(
            "expiresInSeconds must be between {MIN_TOKEN_TTL_SECONDS} and \
             {MAX_TOKEN_TTL_SECONDS}, not {ttl}."
        )));
    }
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(ControlError::invalid(format!(
            "description must be at most {MAX_DESCRIPTION} characters."
        )));
    }
    let cluster = clusters::active(state, scope, cluster)?;
    let now = Utc::now();
    let record = JoinTokenRecord {
        token_id: random_id(TOKEN_ID_PREFIX),
        secret: random_secret(),
        region: scope.region.clone(),
        cluster: cluster.value.cluster_name.clone(),
        created_at: now,
        expires_at: now + TimeDelta::seconds(ttl),
        description,
    };
    let key = keys::join_token(&record.token_id);
    if !state.put_if_unchanged(&key, 0, encode(&record)).await? {
        return Err(ControlError::changed_meanwhile("join token"));
    }
    Ok(record)
}

/// The join tokens of the scope's region, oldest first, expired ones included.
pub fn tokens(state: &State, scope: &Scope) -> Vec<Arc<JoinTokenRecord>> {
    let mut tokens: Vec<Arc<JoinTokenRecord>> = state
        .join_tokens()
        .range(keys::JOIN_TOKENS.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .filter(|t| t.region == scope.region)
        .collect();
    tokens.sort_by_key(|a| a.created_at);
    tokens
}

/// Revoke a join token: no agent can join with it any more, and every key issued for it
/// stops working at once. The keys' records go with it.
pub async fn revoke_token(
    state: &State,
    scope: &Scope,
    token_id: &str,
) -> Result<(), ControlError> {
    let key = keys::join_token(token_id);
    let entry = state
        .join_tokens()
        .get(key.as_bytes())
        .filter(|e| e.value.region == scope.region)
        .ok_or_else(|| {
            ControlError::not_found(
                Resource::Other,
                format!("The join token {token_id} does not exist."),
            )
        })?;
    let mut success = vec![Op::delete(key.as_str())];
    for (k, issued) in state.agent_keys().range(keys::AGENT_KEYS.as_bytes()).iter() {
        if issued.value.token_id == token_id {
            success.push(Op::delete(k.clone()));
        }
    }
    let txn = Txn {
        compares: vec![Compare::unchanged(key.as_str(), entry.mod_revision)],
        success,
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(ControlError::changed_meanwhile("join token"));
    }
    Ok(())
}

/// Join with `token`: register a new instance in the token's cluster and issue the
/// agent's key for it.
pub async fn join(
    state: &State,
    token: &JoinTokenRecord,
    registration: Registration,
) -> Result<(ContainerInstanceRecord, AgentKeyRecord), ControlError> {
    let scope = Scope::new(token.region.clone(), state.account().to_string());
    clusters::active(state, &scope, Some(&token.cluster))?;
    let registration = Registration {
        id: None,
        ..registration
    };
    let instance =
        container_instances::register(state, &scope, &token.cluster, registration).await?;
    let instance_id = instance
        .container_instance_arn
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let record = AgentKeyRecord {
        access_key_id: random_id(AGENT_KEY_PREFIX),
        secret: random_secret(),
        region: token.region.clone(),
        cluster: token.cluster.clone(),
        instance_id,
        container_instance_arn: instance.container_instance_arn.clone(),
        token_id: token.token_id.clone(),
        created_at: Utc::now(),
    };
    // The token must still stand when the key is issued: a revocation that raced the
    // registration leaves an instance but no key.
    let revoked =
        || ControlError::client("The join token was revoked while the instance registered.");
    let token_key = keys::join_token(&token.token_id);
    let standing = state
        .join_tokens()
        .get(token_key.as_bytes())
        .ok_or_else(revoked)?;
    let key = keys::agent_key(&record.access_key_id);
    let txn = Txn {
        compares: vec![
            Compare::unchanged(token_key.as_str(), standing.mod_revision),
            Compare::unchanged(key.as_str(), 0),
        ],
        success: vec![Op::put(key.as_str(), encode(&record))],
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(revoked());
    }
    tracing::info!(
        instance = %instance.container_instance_arn,
        token = %token.token_id,
        access_key = %record.access_key_id,
        "agent joined"
    );
    Ok((instance, record))
}

/// An access key id: `prefix` and random upper-case letters and digits, 20 in all, as AWS
/// key ids are.
fn random_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    random_string(ALPHABET, 20 - prefix.len(), prefix)
}

/// A 40-character secret of letters and digits (a token string uses `.` as separator).
fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random_string(ALPHABET, 40, "")
}

fn random_string(alphabet: &[u8], n: usize, prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut s = String::from(prefix);
    s.extend((0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char));
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use flotilla_model::container_instance::{Capacity, VersionInfo};
    use flotilla_store::MemoryStore;

    use super::*;
    use crate::ControlConfig;

    async fn setup() -> (State, Scope) {
        let state = State::new(
            Arc::new(MemoryStore::new()),
            ControlConfig::new("000000000000"),
        )
        .await
        .unwrap();
        let scope = Scope::new("us-east-1", "000000000000");
        clusters::ensure(&state, &scope, "prod").await.unwrap();
        (state, scope)
    }

    fn registration() -> Registration {
        Registration {
            id: Some("someone-elses".into()),
            capacity: Some(Capacity {
                cpu: 1024,
                memory: 512,
                tcp_ports: BTreeSet::new(),
                udp_ports: BTreeSet::new(),
            }),
            version_info: VersionInfo::default(),
            attributes: vec![],
            tags: vec![],
            ec2_instance_id: None,
        }
    }

    fn joiner(state: &State, id: &str) -> Option<Arc<JoinTokenRecord>> {
        match caller(state, id)? {
            Caller::Joiner(t) => Some(t),
            Caller::Agent(_) => None,
        }
    }

    fn agent(state: &State, id: &str) -> Option<Arc<AgentKeyRecord>> {
        match caller(state, id)? {
            Caller::Agent(k) => Some(k),
            Caller::Joiner(_) => None,
        }
    }

    #[tokio::test]
    async fn a_key_lives_as_long_as_its_token_and_its_instance() {
        let (state, scope) = setup().await;
        let token = create_token(&state, &scope, Some("prod"), None, None)
            .await
            .unwrap();
        assert!(joiner(&state, &token.token_id).is_some());
        assert_eq!(token.expires_at - token.created_at, TimeDelta::hours(24));

        // Joining always makes a new instance, whatever id the registration names.
        let (instance, key) = join(&state, &token, registration()).await.unwrap();
        assert!(!instance.container_instance_arn.ends_with("someone-elses"));
        assert_eq!(key.container_instance_arn, instance.container_instance_arn);
        assert!(agent(&state, &key.access_key_id).is_some());
        assert!(caller(&state, "FAKUNKNOWN").is_none());

        // Deregistering the instance revokes its key.
        container_instances::deregister(&state, &scope, "prod", &key.instance_id, true)
            .await
            .unwrap();
        assert!(caller(&state, &key.access_key_id).is_none());

        // Revoking the token revokes every key issued for it, and the token itself.
        let (_, second) = join(&state, &token, registration()).await.unwrap();
        assert!(agent(&state, &second.access_key_id).is_some());
        revoke_token(&state, &scope, &token.token_id).await.unwrap();
        assert!(caller(&state, &second.access_key_id).is_none());
        assert!(caller(&state, &token.token_id).is_none());
        assert!(agent_key(&state, &second.access_key_id).is_none());
        assert!(join(&state, &token, registration()).await.is_err());
    }

    #[tokio::test]
    async fn an_expired_token_joins_nothing_but_its_keys_stay_valid() {
        let (state, scope) = setup().await;
        let token = create_token(&state, &scope, Some("prod"), Some(60), None)
            .await
            .unwrap();
        let (_, key) = join(&state, &token, registration()).await.unwrap();
        let mut expired = token.clone();
        expired.expires_at = Utc::now() - TimeDelta::seconds(1);
        let k = keys::join_token(&token.token_id);
        let rev = state.join_tokens().get(k.as_bytes()).unwrap().mod_revision;
        assert!(state
            .put_if_unchanged(&k, rev, encode(&expired))
            .await
            .unwrap());
        assert!(caller(&state, &token.token_id).is_none());
        assert!(agent(&state, &key.access_key_id).is_some());
    }

    #[tokio::test]
    async fn tokens_are_checked_and_scoped_to_their_region() {
        let (state, scope) = setup().await;
        for ttl in [0, 59, MAX_TOKEN_TTL_SECONDS + 1, -5] {
            assert!(create_token(&state, &scope, Some("prod"), Some(ttl), None)
                .await
                .is_err());
        }
        let long = "x".repeat(MAX_DESCRIPTION + 1);
        assert!(create_token(&state, &scope, Some("prod"), None, Some(long))
            .await
            .is_err());
        assert!(create_token(&state, &scope, Some("absent"), None, None)
            .await
            .is_err());
        let t = create_token(&state, &scope, None, None, None).await;
        assert!(t.is_err(), "there is no default cluster here");
        let token = create_token(&state, &scope, Some("prod"), None, None)
            .await
            .unwrap();
        assert!(token.token_id.starts_with(TOKEN_ID_PREFIX) && token.token_id.len() == 20);
        assert_eq!(token.secret.len(), 40);
        let other = Scope::new("eu-west-1", "000000000000");
        assert!(tokens(&state, &other).is_empty());
        assert_eq!(tokens(&state, &scope).len(), 1);
        assert!(revoke_token(&state, &other, &token.token_id).await.is_err());
    }
}
