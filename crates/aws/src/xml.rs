//! A minimal XML writer for query and REST-XML responses: elements, escaped text, nothing
//! else. Responses are small and their shapes are known, so a streaming writer is enough.

use std::fmt::Write;

/// Escape text for use inside an element or an attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds an XML document by appending elements.
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// `<name>escaped text</name>`
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        let _ = write!(self.buf, "<{name}>{}</{name}>", escape(text));
        self
    }

    /// `<name>` … children written by `f` … `</name>`
    pub fn node(&mut self, name: &str, f: impl FnOnce(&mut XmlWriter)) -> &mut Self {
        let _ = write!(self.buf, "<{name}>");
        f(self);
        let _ = write!(self.buf, "</{name}>");
        self
    }

    /// Like [`XmlWriter::node`] with an `xmlns` attribute.
    pub fn root(&mut self, name: &str, xmlns: &str, f: impl FnOnce(&mut XmlWriter)) -> &mut Self {
        let _ = write!(self.buf, "<{name} xmlns=\"{}\">", escape(xmlns));
        f(self);
        let _ = write!(self.buf, "</{name}>");
        self
    }

    /// Append already-formed XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_escaped_elements() {
        let mut w = XmlWriter::new();
        w.root("R", "urn:x", |w| {
            w.leaf("A", "1 < 2 & 'q'");
            w.node("B", |w| {
                w.leaf("C", "");
            });
        });
        assert_eq!(
            w.finish(),
            r#"<R xmlns="urn:x"><A>1 &lt; 2 &amp; &apos;q&apos;</A><B><C></C></B></R>"#
        );
    }
}
