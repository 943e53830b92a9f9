//! FHIRPath lexer: turns an expression into tokens with character offsets
//! (grammar: <https://hl7.org/fhirpath/N1/grammar.html>).
//!
//! Keywords (`and`, `div`, `is`…) are left as plain identifiers: several of
//! them are also valid function names (`.contains()`, `.is()`), so only the
//! parser, which knows the position, can tell them apart.

use super::ParseError;

/// One token and the character offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    /// A plain identifier or keyword.
    Ident(String),
    /// A `` `delimited` `` identifier: never a keyword.
    Delimited(String),
    /// A string literal, escapes already resolved.
    String(String),
    /// Integer or decimal, as written.
    Number(String),
    /// `@2019-01-01`: text after `@`.
    Date(String),
    /// `@2019-01-01T10:00`: text after `@`.
    DateTime(String),
    /// `@T10:00`: text after `@T`.
    Time(String),
    /// `$this`, `$index`, `$total`: the name after `$`.
    Dollar(String),
    /// Punctuation and symbolic operators, e.g. `.`, `<=`, `!~`.
    Symbol(&'static str),
    Eof,
}

/// Two-character symbols first so `<=` is not read as `<` then `=`.
const SYMBOLS: [&str; 22] = [
    "<=", ">=", "!=", "!~", ".", "[", "]", "(", ")", "{", "}", ",", "+", "-", "*", "/", "&", "|", "<", ">", "=", "~",
];
const PERCENT: &str = "%";

pub(super) fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        chars: input.chars().collect(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_trivia()?;
        let pos = lexer.pos;
        let kind = lexer.next_token()?;
        let done = kind == TokenKind::Eof;
        tokens.push(Token { kind, pos });
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn error<T>(&self, message: impl Into<String>, position: usize) -> Result<T, ParseError> {
        Err(ParseError::new(message, position))
    }

    /// Skips whitespace and `//` / `/* */` comments.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => self.pos += 1,
                (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.pos;
                    self.pos += 2;
                    loop {
                        match (self.peek(), self.peek_at(1)) {
                            (Some('*'), Some('/')) => break self.pos += 2,
                            (Some(_), _) => self.pos += 1,
                            (None, _) => return self.error("unterminated comment", start),
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next_token(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(TokenKind::Eof);
        };
        match c {
            'a'..='z' | 'A'..='Z' | '_' => Ok(TokenKind::Ident(self.word())),
            '0'..='9' => Ok(self.number()),
            '\'' => self.quoted('\'').map(TokenKind::String),
            '`' => self.quoted('`').map(TokenKind::Delimited),
            '@' => self.date_time(),
            '$' => {
                self.pos += 1;
                if !self.peek().is_some_and(is_word_start) {
                    return self.error("expected a name after '$'", start);
                }
                Ok(TokenKind::Dollar(self.word()))
            }
            '%' => {
                self.pos += 1;
                Ok(TokenKind::Symbol(PERCENT))
            }
            _ => self.symbol(),
        }
    }

    fn symbol(&mut self) -> Result<TokenKind, ParseError> {
        let rest = &self.chars[self.pos..];
        for symbol in SYMBOLS {
            let len = symbol.len();
            if rest.len() >= len && rest[..len].iter().copied().eq(symbol.chars()) {
                self.pos += len;
                return Ok(TokenKind::Symbol(symbol));
            }
        }
        let c = rest.first().copied().unwrap_or(' ');
        self.error(format!("unexpected character '{c}'"), self.pos)
    }

    fn word(&mut self) -> String {
        self.take_while(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    fn digits(&mut self) -> String {
        self.take_while(|c| c.is_ascii_digit())
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// `12` or `12.5`; a `.` not followed by a digit is member access (`1.toString()`).
    fn number(&mut self) -> TokenKind {
        let mut text = self.digits();
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            text.push('.');
            text.push_str(&self.digits());
        }
        TokenKind::Number(text)
    }

    /// A `'string'` or `` `identifier` ``, resolving escapes.
    fn quoted(&mut self, quote: char) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return self.error("unterminated quoted text", start),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some('\\') => text.push(self.escape()?),
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// One escape sequence, starting at the backslash.
    fn escape(&mut self) -> Result<char, ParseError> {
        let start = self.pos;
        self.pos += 2;
        match self.chars.get(start + 1) {
            Some(c @ ('\'' | '"' | '`' | '\\' | '/')) => Ok(*c),
            Some('f') => Ok('\u{c}'),
            Some('n') => Ok('\n'),
            Some('r') => Ok('\r'),
            Some('t') => Ok('\t'),
            Some('u') => self.unicode_escape(start),
            _ => self.error("invalid escape sequence", start),
        }
    }

    /// `\uXXXX`, combining a UTF-16 surrogate pair written as two escapes.
    fn unicode_escape(&mut self, start: usize) -> Result<char, ParseError> {
        let high = self.hex4(start)?;
        if !(0xD800..0xDC00).contains(&high) {
            return char::from_u32(high).map_or_else(|| self.error("invalid \\u escape", start), Ok);
        }
        if self.peek() != Some('\\') || self.peek_at(1) != Some('u') {
            return self.error("unpaired surrogate in \\u escape", start);
        }
        self.pos += 2;
        let low = self.hex4(start)?;
        if !(0xDC00..0xE000).contains(&low) {
            return self.error("unpaired surrogate in \\u escape", start);
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        char::from_u32(code).map_or_else(|| self.error("invalid \\u escape", start), Ok)
    }

    fn hex4(&mut self, start: usize) -> Result<u32, ParseError> {
        let mut value = 0;
        for _ in 0..4 {
            let Some(digit) = self.peek().and_then(|c| c.to_digit(16)) else {
                return self.error("\\u needs four hex digits", start);
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    /// `@` date, dateTime or time literal (spec DATE, DATETIME, TIME tokens).
    fn date_time(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        self.pos += 1;
        if self.peek() == Some('T') {
            self.pos += 1;
            let time_start = self.pos;
            if !self.time() {
                return self.error("invalid time literal", start);
            }
            return Ok(TokenKind::Time(self.text_from(time_start)));
        }
        let date_start = self.pos;
        if !self.date() {
            return self.error("invalid date literal", start);
        }
        if self.peek() != Some('T') {
            return Ok(TokenKind::Date(self.text_from(date_start)));
        }
        self.pos += 1;
        // The time part is optional (`@2019-01-01T`), its offset likewise.
        if self.time() {
            self.timezone();
        }
        Ok(TokenKind::DateTime(self.text_from(date_start)))
    }

    fn text_from(&self, start: usize) -> String {
        self.chars[start..self.pos].iter().collect()
    }

    /// `YYYY(-MM(-DD)?)?`
    fn date(&mut self) -> bool {
        if !self.fixed_digits(4) {
            return false;
        }
        for _ in 0..2 {
            if !self.separated_digits('-', 2) {
                break;
            }
        }
        true
    }

    /// `HH(:mm(:ss(.fff)?)?)?`
    fn time(&mut self) -> bool {
        if !self.fixed_digits(2) {
            return false;
        }
        if self.separated_digits(':', 2)
            && self.separated_digits(':', 2)
            && self.peek() == Some('.')
            && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
        {
            self.pos += 1;
            self.digits();
        }
        true
    }

    /// `Z` or `(+|-)HH:mm`; consumed only when complete, so `@2019-01-01T10:00 - 1`
    /// still reads the `-` as subtraction.
    fn timezone(&mut self) {
        match self.peek() {
            Some('Z') => self.pos += 1,
            Some('+' | '-') => {
                let save = self.pos;
                self.pos += 1;
                if !(self.fixed_digits(2) && self.separated_digits(':', 2)) {
                    self.pos = save;
                }
            }
            _ => {}
        }
    }

    /// `sep` then exactly `count` digits; consumes nothing unless both match.
    fn separated_digits(&mut self, sep: char, count: usize) -> bool {
        let all_digits = (1..=count).all(|i| self.peek_at(i).is_some_and(|c| c.is_ascii_digit()));
        if self.peek() == Some(sep) && all_digits {
            self.pos += 1 + count;
            true
        } else {
            false
        }
    }

    /// Exactly `count` digits, not followed by another digit.
    fn fixed_digits(&mut self, count: usize) -> bool {
        let ok = (0..count).all(|i| self.peek_at(i).is_some_and(|c| c.is_ascii_digit()))
            && !self.peek_at(count).is_some_and(|c| c.is_ascii_digit());
        if ok {
            self.pos += count;
        }
        ok
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        tokenize(input).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn two_character_operators_are_one_token() {
        assert_eq!(
            kinds("a<=b"),
            [
                TokenKind::Ident("a".into()),
                TokenKind::Symbol("<="),
                TokenKind::Ident("b".into()),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn string_escapes_are_resolved_including_unicode_and_surrogate_pairs() {
        assert_eq!(
            kinds(r"'a\'\n\u0041\uD83D\uDE00'")[0],
            TokenKind::String("a'\nA\u{1F600}".into())
        );
    }

    #[test]
    fn decimal_point_needs_a_digit_after_it_so_member_access_on_numbers_works() {
        assert_eq!(kinds("1.5")[0], TokenKind::Number("1.5".into()));
        assert_eq!(kinds("1.a")[0], TokenKind::Number("1".into()));
    }

    #[test]
    fn date_time_literals_keep_their_text_and_timezone() {
        assert_eq!(kinds("@2019-01")[0], TokenKind::Date("2019-01".into()));
        assert_eq!(
            kinds("@2019-01-01T10:00:00.000+01:00")[0],
            TokenKind::DateTime("2019-01-01T10:00:00.000+01:00".into())
        );
        assert_eq!(kinds("@T10:00")[0], TokenKind::Time("10:00".into()));
        // A detached minus after a dateTime is subtraction, not an offset.
        assert_eq!(kinds("@2019-01-01T10 - 1")[1], TokenKind::Symbol("-"));
    }

    #[test]
    fn comments_are_skipped_and_unterminated_ones_rejected() {
        assert_eq!(kinds("1 // x\n/* y */ + 2").len(), 4);
        assert_eq!(tokenize("1 /* x").unwrap_err().position, 2);
    }
}
