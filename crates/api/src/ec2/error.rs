//! EC2's errors: the one place where the control plane's EC2 errors become EC2's codes
//! (`InvalidVpcID.NotFound`, `InvalidPermission.Duplicate`, `DependencyViolation`, ...).

use flotilla_aws::AwsError;
use flotilla_control::ec2::{Ec2Error, Quota};
use flotilla_control::ControlError;
use flotilla_model::ec2::ResourceType;
use http::StatusCode;

use crate::query::ParamError;

#[derive(Debug)]
pub struct Ec2WireError(pub AwsError);

fn not_found_code(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::Vpc => "InvalidVpcID.NotFound",
        ResourceType::Subnet => "InvalidSubnetID.NotFound",
        ResourceType::SecurityGroup => "InvalidGroup.NotFound",
        ResourceType::SecurityGroupRule => "InvalidSecurityGroupRuleId.NotFound",
        ResourceType::NetworkInterface => "InvalidNetworkInterfaceID.NotFound",
    }
}

fn malformed_code(kind: Option<ResourceType>) -> &'static str {
    match kind {
        Some(ResourceType::Vpc) => "InvalidVpcID.Malformed",
        Some(ResourceType::Subnet) => "InvalidSubnetID.Malformed",
        Some(ResourceType::SecurityGroup) => "InvalidGroupId.Malformed",
        Some(ResourceType::SecurityGroupRule) => "InvalidSecurityGroupRuleId.Malformed",
        Some(ResourceType::NetworkInterface) => "InvalidNetworkInterfaceID.Malformed",
        None => "InvalidID",
    }
}

/// EC2's code for an error.
pub fn code(e: &Ec2Error) -> &'static str {
    match e {
        Ec2Error::InvalidParameter(_) => "InvalidParameterValue",
        Ec2Error::Missing(_) => "MissingParameter",
        Ec2Error::Combination(_) => "InvalidParameterCombination",
        Ec2Error::Malformed(kind, _) => malformed_code(*kind),
        Ec2Error::NotFound(kind, _) => not_found_code(*kind),
        Ec2Error::DuplicateGroup(_) => "InvalidGroup.Duplicate",
        Ec2Error::DuplicateRule(_) => "InvalidPermission.Duplicate",
        Ec2Error::Range(ResourceType::Vpc, _) => "InvalidVpc.Range",
        Ec2Error::Range(_, _) => "InvalidSubnet.Range",
        Ec2Error::Conflict(_) => "InvalidSubnet.Conflict",
        Ec2Error::InUse(_) => "DependencyViolation",
        Ec2Error::CannotDelete(_) => "CannotDelete",
        Ec2Error::Limit(Quota::Vpcs, _) => "VpcLimitExceeded",
        Ec2Error::Limit(Quota::Subnets, _) => "SubnetLimitExceeded",
        Ec2Error::Limit(Quota::SecurityGroups, _) => "SecurityGroupLimitExceeded",
        Ec2Error::Limit(Quota::RulesPerGroup, _) => "RulesPerSecurityGroupLimitExceeded",
        Ec2Error::Limit(Quota::Tags, _) => "TagLimitExceeded",
        Ec2Error::Control(c) if c.is_retriable() => "RequestLimitExceeded",
        Ec2Error::Control(_) => "InternalError",
    }
}

impl From<Ec2Error> for Ec2WireError {
    fn from(e: Ec2Error) -> Self {
        let code = code(&e);
        Ec2WireError(match &e {
            Ec2Error::Control(c)
                if !c.is_retriable() && c.kind() == flotilla_model::ErrorKind::Server =>
            {
                AwsError::server(code, e.to_string())
            }
            Ec2Error::Control(ControlError::Model(m)) => {
                AwsError::client("InvalidParameterValue", m.message.clone())
            }
            Ec2Error::Control(_) => {
                AwsError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string())
            }
            _ => AwsError::client(code, e.to_string()),
        })
    }
}

impl From<ParamError> for Ec2WireError {
    fn from(e: ParamError) -> Self {
        match e {
            ParamError::Missing(m) => Ec2Error::Missing(m),
            ParamError::Invalid(m) => Ec2Error::InvalidParameter(m),
        }
        .into()
    }
}

impl From<flotilla_model::ModelError> for Ec2WireError {
    fn from(e: flotilla_model::ModelError) -> Self {
        Ec2Error::InvalidParameter(e.message).into()
    }
}

impl From<AwsError> for Ec2WireError {
    fn from(e: AwsError) -> Self {
        Ec2WireError(e)
    }
}

impl From<Ec2WireError> for AwsError {
    fn from(e: Ec2WireError) -> Self {
        e.0
    }
}

/// A malformed parameter (InvalidParameterValue).
pub fn invalid(message: impl Into<String>) -> Ec2WireError {
    Ec2Error::InvalidParameter(message.into()).into()
}

/// The sentence ECS, ELBv2 and Cloud Map put in their own errors about an id EC2 does not
/// know: EC2's message followed by its code, as ECS words it.
pub fn explained(e: &Ec2Error) -> String {
    format!("{} (ErrorCode: {})", e, code(e))
}
