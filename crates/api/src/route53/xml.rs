//! Reading Route 53's request documents: the root element named as the operation's input,
//! its children by local name (the namespace is not checked, as Route 53 does not).

use flotilla_aws::AwsError;
use roxmltree::{Document, Node};

use super::error::invalid;

/// Parse a request body whose root element must be `root`.
pub(crate) fn parse<'a>(body: &'a str, root: &str) -> Result<Document<'a>, AwsError> {
    let doc = Document::parse(body)
        .map_err(|e| invalid(format!("The request body is not well-formed XML: {e}")))?;
    let name = doc.root_element().tag_name().name();
    if name != root {
        return Err(invalid(format!(
            "The request body's root element must be {root}, not {name}."
        )));
    }
    Ok(doc)
}

/// The body as text (XML documents are UTF-8).
pub(crate) fn text_body(body: &[u8]) -> Result<&str, AwsError> {
    std::str::from_utf8(body).map_err(|_| invalid("The request body is not UTF-8."))
}

/// The first child element named `name`.
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// Every child element named `name`.
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The text of the child element `name`, if present.
pub(crate) fn text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    child(node, name).map(|c| c.text().unwrap_or(""))
}

/// The text of the required child element `name`.
pub(crate) fn required<'a>(node: Node<'a, '_>, name: &str) -> Result<&'a str, AwsError> {
    text(node, name).ok_or_else(|| {
        invalid(format!(
            "{} is missing the required element {name}.",
            node.tag_name().name()
        ))
    })
}

/// A boolean element (`true`/`false`).
pub(crate) fn boolean(node: Node<'_, '_>, name: &str) -> Result<Option<bool>, AwsError> {
    match text(node, name).map(str::trim) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(invalid(format!(
            "{name} must be true or false, not {other}."
        ))),
    }
}

/// A whole number element within `min..=max`.
pub(crate) fn number(
    node: Node<'_, '_>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, AwsError> {
    match text(node, name).map(str::trim) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(invalid(format!(
                "{name} must be a whole number from {min} to {max}; {v} is not."
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn elements_are_read_by_local_name() {
        let body = r#"<?xml version="1.0"?><A xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><B>x</B><N>5</N><F>true</F></A>"#;
        let doc = parse(body, "A").unwrap();
        let root = doc.root_element();
        assert_eq!(text(root, "B"), Some("x"));
        assert_eq!(number(root, "N", 0, 10).unwrap(), Some(5));
        assert!(number(root, "N", 6, 10).is_err());
        assert_eq!(boolean(root, "F").unwrap(), Some(true));
        assert!(required(root, "Missing").is_err());
        assert!(parse(body, "Other").is_err());
        assert!(parse("<A><B></A>", "A").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(s) = text_body(&bytes) {
                if let Ok(doc) = parse(s, "A") {
                    let root = doc.root_element();
                    let _ = text(root, "B");
                    let _ = number(root, "N", 0, 10);
                    let _ = boolean(root, "F");
                }
            }
        }
    }
}
