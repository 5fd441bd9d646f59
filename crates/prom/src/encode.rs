//! The text exposition format: `# HELP` and `# TYPE` lines, then one line per sample,
//! `name{label="value",...} number`, with label values escaped.

use std::fmt::Write;

/// One sample a collector reports: its label pairs and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

impl Sample {
    pub fn new(labels: Vec<(&'static str, String)>, value: f64) -> Sample {
        Sample { labels, value }
    }

    pub(crate) fn encode(&self, name: &str, out: &mut String) {
        line(out, name, "", &self.labels, None, self.value);
    }
}

/// Escape a label value: backslash, double quote and newline.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        value.to_string()
    }
}

/// One sample line; `extra` is one more label (a histogram's `le`).
pub(crate) fn line<S: AsRef<str>>(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&'static str, S)],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    let pairs: Vec<(&str, String)> = labels
        .iter()
        .map(|(k, v)| (*k, escape_label_value(v.as_ref())))
        .chain(extra.map(|(k, v)| (k, v.to_string())))
        .collect();
    if !pairs.is_empty() {
        out.push('{');
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{v}\"");
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&number(value));
    out.push('\n');
}

pub(crate) fn bound(value: f64) -> String {
    number(value)
}
