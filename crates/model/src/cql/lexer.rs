//! Splits an expression into tokens, each with the 1-based character column it starts at.
//! Keywords are not recognised here: a word's meaning depends on where the parser meets it
//! (`in` is an operator after a subject and a plain value after `==`).

use std::fmt;

use crate::error::ModelError;

/// One token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: Kind,
    /// 1-based character column.
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// A bare word: subject, keyword or unquoted value.
    Word(String),
    /// The contents of a quoted string, with doubled quotes undone.
    Quoted(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=~`
    Match,
    /// `!~`
    NotMatch,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!` alone: negation, or the start of `!exists` / `!in`.
    Bang,
    /// After the last token.
    End,
}

/// Characters a bare word is made of: letters, digits and the punctuation of attribute
/// names, instance types, dates (`+`, `:`), task groups and simple patterns (`*`, `^`, `$`,
/// `?`, `\`).
pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || ".-_*:/\\@+^$?".contains(c)
}

/// The error for a malformed expression: where, and what was expected there.
pub(super) fn error(pos: usize, message: impl fmt::Display) -> ModelError {
    ModelError::invalid(format!(
        "Invalid filter expression at position {pos}: {message}."
    ))
}

/// Splits `input` into tokens, ending with [`Kind::End`].
pub(super) fn tokenize(input: &str) -> Result<Vec<Token>, ModelError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        let next = chars.get(i + 1).copied();
        let (kind, len) = match (c, next) {
            _ if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('\'' | '"', _) => {
                let (text, len) = quoted(&chars[i..], pos)?;
                (Kind::Quoted(text), len)
            }
            _ if is_word_char(c) => {
                let len = chars[i..].iter().take_while(|c| is_word_char(**c)).count();
                (Kind::Word(chars[i..i + len].iter().collect()), len)
            }
            ('(', _) => (Kind::LParen, 1),
            (')', _) => (Kind::RParen, 1),
            ('[', _) => (Kind::LBracket, 1),
            (']', _) => (Kind::RBracket, 1),
            (',', _) => (Kind::Comma, 1),
            ('=', Some('=')) => (Kind::Eq, 2),
            ('=', Some('~')) => (Kind::Match, 2),
            ('=', _) => return Err(error(pos, "expected '==' or '=~', found '='")),
            ('!', Some('=')) => (Kind::Ne, 2),
            ('!', Some('~')) => (Kind::NotMatch, 2),
            ('!', _) => (Kind::Bang, 1),
            ('>', Some('=')) => (Kind::Ge, 2),
            ('>', _) => (Kind::Gt, 1),
            ('<', Some('=')) => (Kind::Le, 2),
            ('<', _) => (Kind::Lt, 1),
            ('&', Some('&')) => (Kind::AndAnd, 2),
            ('&', _) => return Err(error(pos, "expected '&&', found '&'")),
            ('|', Some('|')) => (Kind::OrOr, 2),
            ('|', _) => return Err(error(pos, "expected '||', found '|'")),
            _ => {
                return Err(error(
                    pos,
                    format_args!("unexpected character '{}'", c.escape_default()),
                ))
            }
        };
        tokens.push(Token { kind, pos });
        i += len;
    }
    tokens.push(Token {
        kind: Kind::End,
        pos: chars.len() + 1,
    });
    Ok(tokens)
}

/// Reads the quoted string at the start of `chars` (which begins with its quote); returns
/// its contents and the number of characters it spans. A doubled quote stands for one.
fn quoted(chars: &[char], pos: usize) -> Result<(String, usize), ModelError> {
    let quote = chars[0];
    let mut text = String::new();
    let mut i = 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(error(
                    pos,
                    format_args!("expected a closing {quote} for the string starting here"),
                ))
            }
            Some(&c) if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    text.push(quote);
                    i += 2;
                } else {
                    return Ok((text, i + 1));
                }
            }
            Some(&c) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

impl fmt::Display for Kind {
    /// How the parser names a token it did not expect.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = match self {
            Kind::Word(w) => return write!(f, "'{w}'"),
            Kind::Quoted(s) => return write!(f, "the string '{s}'"),
            Kind::End => return f.write_str("the end of the expression"),
            Kind::LParen => "(",
            Kind::RParen => ")",
            Kind::LBracket => "[",
            Kind::RBracket => "]",
            Kind::Comma => ",",
            Kind::Eq => "==",
            Kind::Ne => "!=",
            Kind::Gt => ">",
            Kind::Ge => ">=",
            Kind::Lt => "<",
            Kind::Le => "<=",
            Kind::Match => "=~",
            Kind::NotMatch => "!~",
            Kind::AndAnd => "&&",
            Kind::OrOr => "||",
            Kind::Bang => "!",
        };
        write!(f, "'{symbol}'")
    }
}
