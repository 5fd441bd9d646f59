//! EC2's wire layer in process: answers' XML, errors' codes, and arbitrary parameters.

use flotilla_aws::{AwsService, Input, Output};
use proptest::prelude::*;

use super::{Ec2, OPERATIONS};
use crate::testing::{ctx, state};

async fn call(
    ec2: &Ec2,
    op: &str,
    params: &[(&str, &str)],
) -> Result<String, flotilla_aws::AwsError> {
    let pairs = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match ec2.call(&ctx(), op, Input::Query(pairs)).await? {
        Output::Xml(x) => Ok(x),
        other => panic!("{op} answered {other:?}"),
    }
}

#[tokio::test]
async fn a_three_tier_set_of_groups_through_the_wire() {
    let ec2 = Ec2::new(state().await);
    let vpcs = call(
        &ec2,
        "DescribeVpcs",
        &[("Filter.1.Name", "isDefault"), ("Filter.1.Value.1", "true")],
    )
    .await;
    assert_eq!(vpcs.unwrap_err().code, "InvalidParameterValue");
    let vpcs = call(
        &ec2,
        "DescribeVpcs",
        &[
            ("Filter.1.Name", "is-default"),
            ("Filter.1.Value.1", "true"),
        ],
    )
    .await
    .unwrap();
    assert!(
        vpcs.contains("<cidrBlock>172.31.0.0/16</cidrBlock>"),
        "{vpcs}"
    );
    let web = call(
        &ec2,
        "CreateSecurityGroup",
        &[("GroupName", "web"), ("GroupDescription", "web tier")],
    )
    .await
    .unwrap();
    let web_id = web
        .split("<groupId>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let rule = [
        ("GroupName", "web"),
        ("IpPermissions.1.IpProtocol", "tcp"),
        ("IpPermissions.1.FromPort", "80"),
        ("IpPermissions.1.ToPort", "80"),
        ("IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"),
        ("IpPermissions.1.IpRanges.1.Description", "office"),
    ];
    let added = call(&ec2, "AuthorizeSecurityGroupIngress", &rule)
        .await
        .unwrap();
    assert!(
        added.contains("<isEgress>false</isEgress>")
            && added.contains("<cidrIpv4>10.0.0.0/8</cidrIpv4>"),
        "{added}"
    );
    let dup = call(&ec2, "AuthorizeSecurityGroupIngress", &rule)
        .await
        .unwrap_err();
    assert_eq!(dup.code, "InvalidPermission.Duplicate");
    let described = call(&ec2, "DescribeSecurityGroups", &[("GroupId.1", &web_id)])
        .await
        .unwrap();
    assert!(described.contains("<ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>80</fromPort><toPort>80</toPort><groups></groups><ipRanges><item><cidrIp>10.0.0.0/8</cidrIp><description>office</description></item></ipRanges>"), "{described}");
    let missing = call(
        &ec2,
        "DescribeSecurityGroups",
        &[("GroupId.1", "sg-0123456789abcdef0")],
    )
    .await
    .unwrap_err();
    assert_eq!(missing.code, "InvalidGroup.NotFound");
    let bad = call(&ec2, "CreateVpc", &[("CidrBlock", "10.0.0.0/33")])
        .await
        .unwrap_err();
    assert_eq!(bad.code, "InvalidParameterValue");
    let dry = call(
        &ec2,
        "CreateVpc",
        &[("CidrBlock", "10.0.0.0/16"), ("DryRun", "true")],
    )
    .await
    .unwrap_err();
    assert_eq!(dry.code, "DryRunOperation");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_parameters_never_panic(
        op in proptest::sample::select(OPERATIONS),
        pairs in proptest::collection::vec((
            proptest::sample::select(&[
                "CidrBlock", "VpcId", "SubnetId", "GroupId", "GroupName", "GroupDescription",
                "Filter.1.Name", "Filter.1.Value.1", "IpPermissions.1.IpProtocol",
                "IpPermissions.1.FromPort", "IpPermissions.1.ToPort",
                "IpPermissions.1.IpRanges.1.CidrIp", "IpPermissions.1.Groups.1.GroupId",
                "ResourceId.1", "Tag.1.Key", "Tag.1.Value", "MaxResults", "NextToken",
                "SecurityGroupRuleId.1", "TagSpecification.1.ResourceType",
                "TagSpecification.1.Tag.1.Key", "AvailabilityZone", "ZoneName.1", "CidrIp",
            ][..]),
            ".{0,24}",
        ), 0..8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let ec2 = Ec2::new(state().await);
            let params: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let _ = call(&ec2, op, &params).await;
        });
    }
}
