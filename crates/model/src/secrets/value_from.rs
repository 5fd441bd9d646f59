//! What an ECS task definition's `secrets[].valueFrom` (or a container's
//! `repositoryCredentials.credentialsParameter`) names, read by one parser.
//!
//! - A Secrets Manager secret: its ARN (full, with the six-character suffix, or partial),
//!   optionally followed by `:json-key:version-stage:version-id`, each part possibly
//!   empty but all three colons present (`arn:...:secret:db-AbCdEf:password::`).
//! - An SSM parameter: its ARN (`arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`) or its name,
//!   either perhaps followed by `:VERSION`.
//!
//! This is outside input (a task definition anyone allowed to register one wrote): the
//! parser refuses what it cannot read and never panics.

use super::{parameter, secret};

/// A valueFrom, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueFrom {
    /// A Secrets Manager secret.
    Secret {
        /// The secret's ARN without the selectors (what Secrets Manager looks it up by).
        secret_id: String,
        region: String,
        account: String,
        /// A top-level key of the JSON SecretString to take.
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
    /// An SSM parameter, by name or ARN.
    Parameter { name: String },
}

/// Why a valueFrom cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueFromError {
    /// An ARN of Secrets Manager that is not a secret's, or with selectors that are not
    /// three.
    #[error("an invalid ARN format for the AWS Secrets Manager secret was specified. Specify a valid ARN and try again.")]
    SecretArn,
    /// Neither a secret's ARN, a parameter's ARN nor a parameter's name.
    #[error(
        "the value is neither a Secrets Manager secret's ARN nor an SSM parameter's name or ARN"
    )]
    Unknown,
}

/// Read a valueFrom.
pub fn parse(value_from: &str) -> Result<ValueFrom, ValueFromError> {
    if value_from.starts_with("arn:aws:secretsmanager:") {
        return parse_secret(value_from);
    }
    if value_from.starts_with("arn:") {
        return match parameter::parse_arn(value_from) {
            Some(_) => Ok(ValueFrom::Parameter {
                name: value_from.to_string(),
            }),
            None => Err(ValueFromError::Unknown),
        };
    }
    // A name, perhaps with a `:version` (or `:label`) selector.
    let (name, selector) = match value_from.rsplit_once(':') {
        Some((name, selector)) => (name, Some(selector)),
        None => (value_from, None),
    };
    let word = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    let simple = name.strip_prefix('/').unwrap_or(name);
    let ok = value_from.len() <= parameter::MAX_ARN_LEN
        && simple.split('/').all(word)
        && selector.is_none_or(word);
    if ok {
        Ok(ValueFrom::Parameter {
            name: value_from.to_string(),
        })
    } else {
        Err(ValueFromError::Unknown)
    }
}

fn parse_secret(value_from: &str) -> Result<ValueFrom, ValueFromError> {
    let parts: Vec<&str> = value_from.split(':').collect();
    // arn aws secretsmanager REGION ACCOUNT secret NAME [json-key version-stage version-id]
    if !(parts.len() == 7 || parts.len() == 10) || parts[5] != "secret" || parts[3].is_empty() {
        return Err(ValueFromError::SecretArn);
    }
    secret::check_name(parts[6]).map_err(|_| ValueFromError::SecretArn)?;
    let part = |i: usize| {
        parts
            .get(i)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    Ok(ValueFrom::Secret {
        secret_id: parts[..7].join(":"),
        region: parts[3].to_string(),
        account: parts[4].to_string(),
        json_key: part(7),
        version_stage: part(8),
        version_id: part(9),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf";

    #[test]
    fn reads_secrets_with_and_without_selectors() {
        assert_eq!(
            parse(SECRET).unwrap(),
            ValueFrom::Secret {
                secret_id: SECRET.into(),
                region: "us-east-1".into(),
                account: "000000000000".into(),
                json_key: None,
                version_stage: None,
                version_id: None,
            }
        );
        match parse(&format!("{SECRET}:password:AWSPREVIOUS:")).unwrap() {
            ValueFrom::Secret {
                secret_id,
                json_key,
                version_stage,
                version_id,
                ..
            } => {
                assert_eq!(secret_id, SECRET);
                assert_eq!(json_key.as_deref(), Some("password"));
                assert_eq!(version_stage.as_deref(), Some("AWSPREVIOUS"));
                assert_eq!(version_id, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(&format!("{SECRET}:password")),
            Err(ValueFromError::SecretArn)
        );
        assert_eq!(
            parse("arn:aws:secretsmanager:us-east-1:0:parameter/x"),
            Err(ValueFromError::SecretArn)
        );
        assert_eq!(
            parse("arn:aws:secretsmanager:us-east-1:0:secret:bad name"),
            Err(ValueFromError::SecretArn)
        );
    }

    #[test]
    fn reads_parameters_by_name_or_arn() {
        for name in [
            "db-host",
            "/prod/db/host",
            "db:3",
            "arn:aws:ssm:us-east-1:0:parameter/prod/x",
        ] {
            assert_eq!(
                parse(name).unwrap(),
                ValueFrom::Parameter { name: name.into() }
            );
        }
        for bad in [
            "",
            "/",
            "a b",
            "/a//b",
            "db:",
            "a:b:c",
            "arn:aws:s3:::bucket",
            "arn:aws:ssm:r:a:document/x",
        ] {
            assert_eq!(parse(bad), Err(ValueFromError::Unknown), "{bad}");
        }
    }

    proptest! {
        /// Any text is read or refused, never a panic; what is read as a secret keeps the
        /// ARN it was given.
        #[test]
        fn any_input_is_read_or_refused(s in ".{0,200}", tail in "[a-zA-Z0-9:/_+=.@-]{0,80}") {
            let _ = parse(&s);
            let with_arn = format!("arn:aws:secretsmanager:{tail}");
            if let Ok(ValueFrom::Secret { secret_id, .. }) = parse(&with_arn) {
                prop_assert!(with_arn.starts_with(&secret_id));
            }
            let _ = parse(&format!("arn:aws:ssm:{tail}"));
        }
    }
}
