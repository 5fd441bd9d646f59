//! XML answers (the query protocol's and REST-XML's) as JSON for the console's page, which
//! reads every service the same way. Without the service models the conversion goes by
//! shape: a query answer is its `...Result` element; an element whose children are all
//! `member` (query) or all named as its singular (REST-XML: `HostedZones` holding
//! `HostedZone`s) is a list; an element with children is an object; anything else is its
//! text. An empty list comes out as `""`, which the page reads as no items.

use serde_json::{Map, Value};

/// `xml` as JSON: the `...Result` element of a query answer, else the root's content.
pub fn to_json(xml: &str) -> Result<Value, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("unreadable XML: {e}"))?;
    let root = doc.root_element();
    let result = root
        .children()
        .find(|c| c.is_element() && c.tag_name().name().ends_with("Result"));
    Ok(match result {
        Some(r) => convert(r),
        None => match convert(root) {
            Value::String(_) => Value::Object(Map::new()),
            v => v,
        },
    })
}

/// `(code, message)` of an XML error answer (`<ErrorResponse><Error><Code>...`).
pub fn error(xml: &str) -> Option<(String, String)> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let text = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .map(str::to_string)
    };
    Some((text("Code")?, text("Message").unwrap_or_default()))
}

fn is_list(node: roxmltree::Node<'_, '_>, children: &[roxmltree::Node<'_, '_>]) -> bool {
    let Some(first) = children.first() else {
        return false;
    };
    let name = first.tag_name().name();
    if !children.iter().all(|c| c.tag_name().name() == name) {
        return false;
    }
    let parent = node.tag_name().name();
    name == "member" || parent == format!("{name}s") || parent == format!("{name}es")
}

fn convert(node: roxmltree::Node<'_, '_>) -> Value {
    let children: Vec<roxmltree::Node> = node.children().filter(|c| c.is_element()).collect();
    if children.is_empty() {
        return Value::String(node.text().unwrap_or_default().to_string());
    }
    if is_list(node, &children) {
        return Value::Array(children.into_iter().map(convert).collect());
    }
    let mut out = Map::new();
    for c in children {
        let key = c.tag_name().name().to_string();
        let value = convert(c);
        match out.get_mut(&key) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                out.insert(key, value);
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn query_answers() {
        let xml = r#"<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeLoadBalancersResult>
    <LoadBalancers>
      <member><LoadBalancerName>web</LoadBalancerName>
        <AvailabilityZones><member><ZoneName>local-1a</ZoneName></member></AvailabilityZones>
        <SecurityGroups/>
      </member>
    </LoadBalancers>
  </DescribeLoadBalancersResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</DescribeLoadBalancersResponse>"#;
        assert_eq!(
            to_json(xml).unwrap(),
            json!({"LoadBalancers": [{"LoadBalancerName": "web",
                "AvailabilityZones": [{"ZoneName": "local-1a"}], "SecurityGroups": ""}]})
        );
    }

    #[test]
    fn rest_xml_answers_and_errors() {
        let xml = r#"<ListHostedZonesResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
  <HostedZones><HostedZone><Id>/hostedzone/Z1</Id><Name>example.test.</Name></HostedZone>
  <HostedZone><Id>/hostedzone/Z2</Id><Name>b.test.</Name></HostedZone></HostedZones>
  <IsTruncated>false</IsTruncated></ListHostedZonesResponse>"#;
        let v = to_json(xml).unwrap();
        assert_eq!(v["HostedZones"][1]["Id"], "/hostedzone/Z2");
        assert_eq!(v["IsTruncated"], "false");
        let records = r#"<R><ResourceRecordSets><ResourceRecordSet><Name>a.</Name>
          <ResourceRecords><ResourceRecord><Value>1.2.3.4</Value></ResourceRecord></ResourceRecords>
          </ResourceRecordSet></ResourceRecordSets></R>"#;
        let v = to_json(records).unwrap();
        assert_eq!(
            v["ResourceRecordSets"][0]["ResourceRecords"][0]["Value"],
            "1.2.3.4"
        );
        let e = r#"<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchHostedZone</Code>
          <Message>No hosted zone found with ID: Z9</Message></Error></ErrorResponse>"#;
        assert_eq!(
            error(e),
            Some((
                "NoSuchHostedZone".into(),
                "No hosted zone found with ID: Z9".into()
            ))
        );
        assert!(to_json("<open>").is_err() && error("nope").is_none());
    }

    proptest! {
        /// Any bytes get an answer or an error, never a panic.
        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,200}", tags in "(<[a-z]{1,3}>|</[a-z]{1,3}>|<member>|</member>|x){0,30}") {
            let _ = to_json(&s);
            let _ = error(&s);
            let _ = to_json(&tags);
        }
    }
}
