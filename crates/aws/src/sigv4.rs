//! SigV4 verification of incoming requests against the configured credentials.
//!
//! The signature arithmetic (canonical request, string to sign, key derivation, constant
//! time comparison, presigned query strings, clock skew) is `scratchstack-aws-signature`'s;
//! this module supplies the credentials, reads the credential scope to learn which service
//! and region the client addressed, and turns failures into [`AwsError`]s carrying the
//! query-protocol codes (`SignatureDoesNotMatch`, `InvalidClientTokenId`, ...). The JSON
//! names of those codes are chosen where errors are rendered.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::StatusCode;
use scratchstack_aws_signature::auth::SigV4Authenticator;
use scratchstack_aws_signature::canonical::CanonicalRequest;
use scratchstack_aws_signature::errors::ServiceError;
use scratchstack_aws_signature::principal::User;
use scratchstack_aws_signature::{
    sigv4_validate_request, GetSigningKeyRequest, GetSigningKeyResponse, KSecretKey,
    SignatureError, SignatureOptions, NO_ADDITIONAL_SIGNED_HEADERS,
};
use tower::BoxError;

use crate::AwsError;

/// The length of a secret access key, as AWS issues them, and the longest secret the
/// verifier takes (it derives signing keys from a buffer of this length).
pub const SECRET_LEN: usize = 40;

/// Whether a secret is weaker than the ones AWS issues (40 random characters): local test
/// set-ups use `test` or `secret`, which sign fine but guard nothing.
pub fn is_weak_secret(secret: &str) -> bool {
    secret.len() < SECRET_LEN
}

/// Who signed a request: what kind of key it was signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A root key of the account: every operation of every service.
    Root,
    /// An agent's own key: only the agent protocol, for its own container instance.
    Agent,
    /// A join token: only joining its cluster.
    Joiner,
    /// An IAM user's access key: what the user's policies allow.
    User,
}

/// A key besides the root keys, as a [`KeySource`] knows it.
#[derive(Clone)]
pub struct Key {
    pub secret: String,
    pub principal: Principal,
    /// The only region the key may be used in.
    pub region: String,
    /// The ARN of the identity, for messages and logs.
    pub arn: String,
    /// A temporary key's session token: the request must carry it in
    /// `X-Amz-Security-Token` (header, or query parameter of a presigned URL).
    pub session_token: Option<String>,
}

/// Where keys other than the root keys come from (the control plane's agent identities).
pub trait KeySource: Send + Sync + 'static {
    fn key(&self, access_key_id: &str) -> Option<Key>;
}

/// A request as IAM decides it: who signed, and what they ask.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    pub access_key: &'a str,
    pub principal_arn: &'a str,
    /// The service's signing name (`ecs`, `monitoring`, ...).
    pub service: &'a str,
    pub operation: &'a str,
    pub region: &'a str,
    pub input: &'a crate::Input,
}

/// Decides what an IAM identity (a user, or a role session) may do: the policies it acts
/// with, against each action and resource the request touches.
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok` when allowed; otherwise the denial's message, in AWS's words.
    fn authorize(&self, request: &AuthRequest<'_>) -> Result<(), String>;
}

/// The access keys a server accepts, each with its secret: the root keys given at start,
/// and those a [`KeySource`] knows; and what decides IAM users' requests.
#[derive(Clone, Default)]
pub struct Credentials {
    keys: Arc<HashMap<String, String>>,
    account: String,
    source: Option<Arc<dyn KeySource>>,
    authorizer: Option<Arc<dyn Authorizer>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self.keys.keys().collect();
        f.debug_struct("Credentials")
            .field("access_keys", &keys)
            .field("source", &self.source.is_some())
            .finish()
    }
}

impl Credentials {
    /// One root key pair of `account`. Any non-empty secret of at most 40 bytes signs (AWS's
    /// are 40 characters; short fake ones such as `test` are what local test set-ups use).
    pub fn single(account: &str, access_key_id: &str, secret: &str) -> Result<Self, String> {
        if secret.is_empty() || secret.len() > SECRET_LEN || secret.contains('\0') {
            return Err(format!(
                "the secret access key must be 1 to {SECRET_LEN} bytes long without NUL \
                 characters (AWS's are {SECRET_LEN}; got {} bytes)",
                secret.len()
            ));
        }
        if access_key_id.is_empty() || access_key_id.contains(['/', ' ', ',']) {
            return Err("the access key id must be non-empty without '/', ',' or spaces".into());
        }
        let mut keys = HashMap::new();
        keys.insert(access_key_id.to_string(), secret.to_string());
        Ok(Credentials {
            keys: Arc::new(keys),
            account: account.to_string(),
            source: None,
            authorizer: None,
        })
    }

    /// These credentials, also accepting the keys `source` knows.
    pub fn with_source(mut self, source: Arc<dyn KeySource>) -> Self {
        self.source = Some(source);
        self
    }

    /// These credentials, with IAM users' requests decided by `authorizer` (without one,
    /// users may call nothing a service does not admit them to on its own).
    pub fn with_authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Whether the IAM identity that signed `request` may make it.
    pub fn authorize(&self, request: &AuthRequest<'_>) -> Result<(), String> {
        match &self.authorizer {
            Some(a) => a.authorize(request),
            None => Err(format!(
                "User: {} is not authorized to perform: {}:{}",
                request.principal_arn, request.service, request.operation
            )),
        }
    }

    /// The key an access key id names: a root key, or one the source knows.
    fn lookup(&self, access_key: &str) -> Option<Key> {
        if let Some(secret) = self.keys.get(access_key) {
            return Some(Key {
                secret: secret.clone(),
                principal: Principal::Root,
                region: String::new(),
                arn: format!("arn:aws:iam::{}:root", self.account),
                session_token: None,
            });
        }
        self.source.as_ref()?.key(access_key)
    }
}

/// What a verified request told us about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key: String,
    pub region: String,
    /// The signing name of the addressed service (`ecs`, `sts`, ...).
    pub service: String,
    pub principal: Principal,
    /// The ARN of the calling identity.
    pub principal_arn: String,
}

/// The credential scope `KEY/DATE/REGION/SERVICE/aws4_request` from the Authorization
/// header or the `X-Amz-Credential` query parameter.
pub fn credential_scope(parts: &Parts) -> Option<(String, String, String)> {
    let credential = match parts.headers.get(http::header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().ok()?;
            let start = v.find("Credential=")? + "Credential=".len();
            let rest = &v[start..];
            rest[..rest.find([',', ' ']).unwrap_or(rest.len())].to_string()
        }
        None => {
            let query = parts.uri.query()?;
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "X-Amz-Credential")
                .map(|(_, v)| v.into_owned())?
        }
    };
    let mut it = credential.split('/');
    let key = it.next()?.to_string();
    let _date = it.next()?;
    let region = it.next()?.to_string();
    let service = it.next()?.to_string();
    Some((key, region, service))
}

/// Whether `s` has the shape of a region name (`us-east-1`, `eu-west-9`, `us-gov-west-1`):
/// lowercase words and numbers joined by single hyphens, at most 32 characters. The region
/// partitions all state, so `""`, `..` or `US-EAST-1` must never be one.
pub fn is_region_name(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| p.len() >= 2 && p.bytes().all(|b| b.is_ascii_lowercase()));
    let rest: Vec<&str> = parts.collect();
    s.len() <= 32
        && first_ok
        && !rest.is_empty()
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Verify a request's signature. On success, the scope it was signed for.
pub async fn verify(
    creds: &Credentials,
    parts: &Parts,
    body: &Bytes,
) -> Result<Verified, AwsError> {
    let Some((access_key, region, service)) = credential_scope(parts) else {
        let has_auth = parts.headers.contains_key(http::header::AUTHORIZATION);
        return Err(if has_auth {
            AwsError::client(
                "IncompleteSignature",
                "Authorization header requires a Credential parameter of the form \
                 KEY/DATE/REGION/SERVICE/aws4_request.",
            )
        } else {
            AwsError::new(
                StatusCode::FORBIDDEN,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            )
        });
    };
    if !is_region_name(&region) {
        return Err(AwsError::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            format!("Credential should be scoped to a valid region, not '{region}'."),
        ));
    }

    let invalid_key = || {
        AwsError::new(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    };
    let key = creds.lookup(&access_key).ok_or_else(invalid_key)?;
    if let Some(token) = &key.session_token {
        if security_token(parts).as_deref() != Some(token.as_str()) {
            return Err(invalid_key());
        }
    }
    // Agents' keys and join tokens hold in one region; root and users' keys in every one.
    if !key.region.is_empty() && key.region != region {
        return Err(AwsError::new(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            format!(
                "The security token included in the request is valid in region {} only, not \
                 in {region}.",
                key.region
            ),
        ));
    }
    let verified = Verified {
        access_key,
        region,
        service,
        principal: key.principal.clone(),
        principal_arn: key.arn.clone(),
    };

    let mut request = http::Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone())
        .version(parts.version);
    for (name, value) in &parts.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(body.clone())
        .map_err(|e| AwsError::client("IncompleteSignature", e.to_string()))?;

    let account = creds.account.clone();
    let secret = key.secret;
    let mut signing_key = tower::service_fn(move |req: GetSigningKeyRequest| {
        let answer = signing_key_for(&account, &secret, req);
        async move { answer }
    });
    let (region, service) = (verified.region.as_str(), verified.service.as_str());
    if let Some(presigned) = presigned_params(parts) {
        return verify_presigned(request, presigned, region, service, &mut signing_key)
            .await
            .map(|()| verified);
    }
    let result = sigv4_validate_request(
        request,
        region,
        service,
        &mut signing_key,
        chrono::Utc::now(),
        &NO_ADDITIONAL_SIGNED_HEADERS,
        SignatureOptions::default(),
    )
    .await;
    match result {
        Ok(_) => Ok(verified),
        Err(e) => Err(signature_error(e)),
    }
}

/// The session token a request carries: the `X-Amz-Security-Token` header, or the query
/// parameter of that name in a presigned URL.
fn security_token(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get("x-amz-security-token") {
        return v.to_str().ok().map(str::to_string);
    }
    form_urlencoded::parse(parts.uri.query()?.as_bytes())
        .find(|(k, _)| k == "X-Amz-Security-Token")
        .map(|(_, v)| v.into_owned())
}

/// The signing parameters of a presigned URL, percent-decoded.
struct Presigned {
    credential: String,
    signature: String,
    signed_headers: Vec<String>,
    date: chrono::DateTime<chrono::Utc>,
    expires: chrono::Duration,
}

/// The longest a presigned URL may stay valid, as in AWS.
const MAX_PRESIGN_SECONDS: i64 = 7 * 24 * 3600;

fn presigned_params(parts: &Parts) -> Option<Result<Presigned, AwsError>> {
    let query = parts.uri.query()?;
    if !query.contains("X-Amz-Signature=") {
        return None;
    }
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let incomplete = |what: &str| {
        AwsError::client(
            "IncompleteSignature",
            format!("The presigned URL lacks a valid {what}."),
        )
    };
    let parse = || -> Result<Presigned, AwsError> {
        let get = |name: &str| {
            params
                .get(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| incomplete(name))
        };
        let date = chrono::NaiveDateTime::parse_from_str(get("X-Amz-Date")?, "%Y%m%dT%H%M%SZ")
            .map_err(|_| incomplete("X-Amz-Date"))?
            .and_utc();
        let expires: i64 = get("X-Amz-Expires")?
            .parse()
            .map_err(|_| incomplete("X-Amz-Expires"))?;
        if !(1..=MAX_PRESIGN_SECONDS).contains(&expires) {
            return Err(AwsError::client(
                "AuthorizationQueryParametersError",
                format!("X-Amz-Expires must be between 1 and {MAX_PRESIGN_SECONDS} seconds."),
            ));
        }
        let mut signed_headers: Vec<String> = get("X-Amz-SignedHeaders")?
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect();
        signed_headers.sort();
        Ok(Presigned {
            credential: get("X-Amz-Credential")?.clone(),
            signature: get("X-Amz-Signature")?.clone(),
            signed_headers,
            date,
            expires: chrono::Duration::seconds(expires),
        })
    };
    Some(parse())
}

/// Verify a presigned URL. The canonical request and the signature check are the
/// library's; the parameters are read here because the library does not percent-decode a
/// presigned `X-Amz-Credential` (`KEY%2FDATE%2F...`), and the expiry comes from
/// `X-Amz-Expires` rather than the clock-skew window.
async fn verify_presigned<S, F>(
    request: http::Request<Bytes>,
    presigned: Result<Presigned, AwsError>,
    region: &str,
    service: &str,
    signing_key: &mut S,
) -> Result<(), AwsError>
where
    S: tower::Service<
            GetSigningKeyRequest,
            Response = GetSigningKeyResponse,
            Error = BoxError,
            Future = F,
        > + Send,
    F: std::future::Future<Output = Result<GetSigningKeyResponse, BoxError>> + Send,
{
    let p = presigned?;
    let now = chrono::Utc::now();
    if now > p.date + p.expires {
        return Err(AwsError::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            format!(
                "Signature expired: the presigned URL was valid until {}.",
                p.date + p.expires
            ),
        ));
    }
    let (parts, body) = request.into_parts();
    let (canonical, _, _) =
        CanonicalRequest::from_request_parts(parts, body, SignatureOptions::default())
            .map_err(|e| signature_error(Box::new(e)))?;
    let auth = SigV4Authenticator::builder()
        .canonical_request_sha256(canonical.canonical_request_sha256(&p.signed_headers))
        .credential(p.credential)
        .signature(p.signature)
        .request_timestamp(p.date)
        .build()
        .map_err(|e| AwsError::client("IncompleteSignature", e.to_string()))?;
    // Only a date in the future is bounded by the skew; the past is bounded by expiry.
    let window = p.expires.max(chrono::Duration::minutes(15));
    auth.validate_signature(region, service, now, window, signing_key)
        .await
        .map(|_| ())
        .map_err(|e| signature_error(Box::new(e)))
}

/// The signing key of the one key the request names (looked up before, so a key revoked
/// meanwhile is not looked up twice with different answers).
fn signing_key_for(
    account: &str,
    secret: &str,
    req: GetSigningKeyRequest,
) -> Result<GetSigningKeyResponse, BoxError> {
    let secret = KSecretKey::from_str(&padded_secret(secret))
        .map_err(|e| format!("bad secret key: {e:?}"))?;
    let user = User::new("aws", account, "/", "root")?;
    let key = secret.to_ksigning(req.request_date(), req.region(), req.service());
    Ok(GetSigningKeyResponse::builder()
        .principal(user)
        .signing_key(key)
        .build()?)
}

/// A secret of at most [`SECRET_LEN`] bytes padded with NULs to that length. HMAC pads a
/// key shorter than its block (64 bytes) with zeros, so `"AWS4" + secret` and the same key
/// with trailing NULs give the same signing key: the library's fixed-length key then serves
/// secrets of any shorter length.
fn padded_secret(secret: &str) -> String {
    let mut padded = secret.to_string();
    while padded.len() < SECRET_LEN {
        padded.push('\0');
    }
    padded
}

fn signature_error(e: BoxError) -> AwsError {
    match e.downcast::<SignatureError>() {
        Ok(sig) => {
            let mut message = sig.to_string();
            if message.is_empty() {
                message = "The request signature we calculated does not match the signature \
                           you provided."
                    .to_string();
            }
            AwsError::new(sig.http_status(), sig.error_code(), message)
        }
        Err(other) => AwsError::server("InternalFailure", other.to_string()),
    }
}

#[cfg(test)]
mod tests;
