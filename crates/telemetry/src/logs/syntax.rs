//! What the filter pattern and Logs Insights parsers share: a cursor over the text that
//! knows its position (for error messages that say where), quoted strings with escapes,
//! bare words, regular expressions between delimiters, and the `*` glob both languages
//! use in string values.

use regex::Regex;
use std::cmp::Ordering;

/// A syntax error and where it is (line and column count from 1, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            1 => write!(f, "{} at column {}", self.message, self.column),
            line => write!(f, "{} at line {line}, column {}", self.message, self.column),
        }
    }
}

/// A comparison operator, as both languages write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    /// Reads one (`==` is `=`), if one comes next.
    pub(crate) fn read(cursor: &mut Cursor) -> Option<Comparison> {
        const TOKENS: [(&str, Comparison); 7] = [
            ("!=", Comparison::Ne),
            ("<=", Comparison::Le),
            (">=", Comparison::Ge),
            ("==", Comparison::Eq),
            ("=", Comparison::Eq),
            ("<", Comparison::Lt),
            (">", Comparison::Gt),
        ];
        TOKENS
            .into_iter()
            .find(|(token, _)| cursor.eat(token))
            .map(|(_, op)| op)
    }

    /// Whether the comparison holds for `left` ordered `ordering` against `right`.
    pub(crate) fn holds(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Eq => ordering.is_eq(),
            Comparison::Ne => ordering.is_ne(),
            Comparison::Lt => ordering.is_lt(),
            Comparison::Le => ordering.is_le(),
            Comparison::Gt => ordering.is_gt(),
            Comparison::Ge => ordering.is_ge(),
        }
    }
}

pub(crate) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
    /// `#` starts a comment that runs to the end of the line.
    comments: bool,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Cursor {
            src,
            pos: 0,
            comments: false,
        }
    }

    pub(crate) fn with_comments(src: &'a str) -> Self {
        Cursor {
            src,
            pos: 0,
            comments: true,
        }
    }

    /// The byte offset reached, for [`Cursor::since`].
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// The text from `offset` to here, without surrounding white space.
    pub(crate) fn since(&self, offset: usize) -> &'a str {
        self.src[offset..self.pos].trim()
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos >= self.src.len()
    }

    pub(crate) fn skip_ws(&mut self) {
        loop {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start().len();
            if !(self.comments && self.rest().starts_with('#')) {
                return;
            }
            let line = self.rest().find('\n').unwrap_or(self.rest().len());
            self.pos += line;
        }
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Skips white space, then consumes `token` if the text goes on with it.
    pub(crate) fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// Like [`Cursor::eat`] for a keyword: any case, and not followed by a word character.
    pub(crate) fn eat_keyword(&mut self, keyword: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        let matches = rest.len() >= keyword.len()
            && rest.is_char_boundary(keyword.len())
            && rest[..keyword.len()].eq_ignore_ascii_case(keyword)
            && !rest[keyword.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if matches {
            self.pos += keyword.len();
        }
        matches
    }

    pub(crate) fn expect(&mut self, token: &str, what: &str) -> Result<(), SyntaxError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    /// An error at the current position, naming what stands there.
    pub(crate) fn error(&self, message: &str) -> SyntaxError {
        let found = match self.rest().chars().take(20).collect::<String>() {
            s if s.is_empty() => "the end".to_owned(),
            s => format!("'{s}'"),
        };
        self.error_at(self.pos, format!("{message}, found {found}"))
    }

    /// An error at `mark`, an [`Cursor::offset`] reached earlier.
    pub(crate) fn error_at(&self, mark: usize, message: impl Into<String>) -> SyntaxError {
        let before = &self.src[..mark.min(self.src.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        SyntaxError {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message: message.into(),
        }
    }

    /// Consumes characters while `more` holds; may be empty.
    pub(crate) fn word(&mut self, more: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c| !more(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// A string between `quote`s (the cursor is on the opening one); `\` escapes the
    /// quote, itself, and `n`/`t`.
    pub(crate) fn quoted(&mut self, quote: char) -> Result<String, SyntaxError> {
        self.delimited(quote, "string", |c, out| {
            out.push(match c {
                'n' => '\n',
                't' => '\t',
                c => c,
            })
        })
    }

    /// A regular expression between `delim`s (the cursor is on the opening one);
    /// `\delim` stands for the delimiter.
    pub(crate) fn regex(&mut self, delim: char) -> Result<Regex, SyntaxError> {
        let mark = self.offset();
        let source = self.delimited(delim, "regular expression", |c, out| {
            if c != delim {
                out.push('\\');
            }
            out.push(c);
        })?;
        Regex::new(&source).map_err(|e| {
            let reason = e.to_string();
            let reason = reason.lines().last().unwrap_or_default().trim();
            self.error_at(mark, format!("invalid regular expression: {reason}"))
        })
    }

    /// The text up to the closing `delim` (the cursor is on the opening one), with
    /// `escape` writing what `\c` stands for.
    fn delimited(
        &mut self,
        delim: char,
        what: &str,
        escape: impl Fn(char, &mut String),
    ) -> Result<String, SyntaxError> {
        let mark = self.offset();
        self.bump();
        let mut out = String::new();
        loop {
            match (self.bump(), self.peek()) {
                (Some(c), _) if c == delim => return Ok(out),
                (Some('\\'), Some(next)) => {
                    self.bump();
                    escape(next, &mut out);
                }
                (Some(c), _) => out.push(c),
                (None, _) => {
                    let message = format!("unterminated {what} (no closing {delim})");
                    return Err(self.error_at(mark, message));
                }
            }
        }
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    flotilla_model::wildcard::matches(pattern, text)
}
