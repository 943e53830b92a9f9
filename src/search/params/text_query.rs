//! `_text` and `_content` values (<https://hl7.org/fhir/R4/search.html#text>),
//! as in the spec's example `(bone OR liver) and metastases`:
//!
//! - words next to each other must all appear (`AND` may be written);
//! - `OR` between terms: either; `AND` binds tighter, parentheses group;
//! - `"heart attack"`: these words in this order, within one value;
//! - `AND`, `OR` are operators in any case (the spec writes `and`); `NOT`
//!   is refused. Quoted, each is a word: `"or"`.
//! - a `*` outside quotes is refused: it asks for a prefix match, which
//!   this search does not do (inside quotes it is punctuation).
//!
//! Words are folded like the indexed text ([`crate::index::full_text::words`]):
//! `José` is `jose`, and punctuation separates words, so `heart-attack` is
//! the phrase `"heart attack"`. A term with no letters or digits asks for
//! nothing and is dropped. There is no stemming, no prefix match and no
//! wildcard: a word matches that word.

use thiserror::Error;

use crate::index::full_text::{words, MAX_WORD_BYTES};

/// Most words in one value (OR values and repetitions each have their own).
pub const MAX_WORDS: usize = 32;
/// Deepest nesting of parentheses.
pub const MAX_DEPTH: usize = 8;

/// One `_text` / `_content` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    /// As written (escapes removed), for the self link.
    pub text: String,
    pub expr: TextExpr,
}

/// What a text query asks for. Never empty: every `All` and `Any` has at
/// least two members, every phrase at least one word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextExpr {
    /// Every member matches.
    All(Vec<TextExpr>),
    /// At least one member matches.
    Any(Vec<TextExpr>),
    /// These folded words, in this order, within one value; a single word
    /// anywhere.
    Phrase(Vec<String>),
}

impl TextExpr {
    /// Whether a phrase of two or more words occurs, which word indexes
    /// cannot decide alone.
    pub fn has_long_phrase(&self) -> bool {
        match self {
            TextExpr::All(members) | TextExpr::Any(members) => members.iter().any(TextExpr::has_long_phrase),
            TextExpr::Phrase(words) => words.len() > 1,
        }
    }
}

/// Why a value is not a text query; the message follows the quoted value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextQueryError {
    #[error("has a quote that is not closed")]
    UnclosedQuote,
    #[error("has a parenthesis that is not matched")]
    UnmatchedParenthesis,
    #[error("has empty parentheses")]
    EmptyParentheses,
    #[error("has {0} without a term on each side")]
    MissingOperand(&'static str),
    #[error("uses NOT, which is not supported (quote \"not\" to search for the word)")]
    Not,
    #[error("uses '*', but words only match whole words")]
    Wildcard,
    #[error("has no letters or digits to search for")]
    NoWords,
    #[error("has a word longer than {MAX_WORD_BYTES} bytes, which is never indexed")]
    WordTooLong,
    #[error("has more than {MAX_WORDS} words")]
    TooManyWords,
    #[error("nests parentheses more than {MAX_DEPTH} deep")]
    TooDeep,
}

/// Parses one value (already unescaped).
pub fn parse(text: &str) -> Result<TextQuery, TextQueryError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
        words: 0,
    };
    let expr = parser.any(0)?;
    match parser.peek() {
        None => {}
        Some(Token::Close) => return Err(TextQueryError::UnmatchedParenthesis),
        // `any` stops only at the end or at a `)`.
        Some(_) => return Err(TextQueryError::MissingOperand("OR")),
    }
    Ok(TextQuery {
        text: text.to_owned(),
        expr: expr.ok_or(TextQueryError::NoWords)?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'t> {
    Open,
    Close,
    And,
    Or,
    /// A bare word or a quoted phrase, as written.
    Term(&'t str),
}

fn lex(text: &str) -> Result<Vec<Token<'_>>, TextQueryError> {
    let mut tokens = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else {
            return Ok(tokens);
        };
        match c {
            '(' => {
                tokens.push(Token::Open);
                rest = &rest[1..];
            }
            ')' => {
                tokens.push(Token::Close);
                rest = &rest[1..];
            }
            '"' => {
                let inside = &rest[1..];
                let end = inside.find('"').ok_or(TextQueryError::UnclosedQuote)?;
                tokens.push(Token::Term(&inside[..end]));
                rest = &inside[end + 1..];
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"'))
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                tokens.push(match word {
                    w if w.eq_ignore_ascii_case("and") => Token::And,
                    w if w.eq_ignore_ascii_case("or") => Token::Or,
                    w if w.eq_ignore_ascii_case("not") => return Err(TextQueryError::Not),
                    w if w.contains('*') => return Err(TextQueryError::Wildcard),
                    w => Token::Term(w),
                });
                rest = &rest[end..];
            }
        }
    }
}

/// Recursive descent over the tokens; a term that folds to no words is
/// `None` and drops out of the group it is in.
struct Parser<'p, 't> {
    tokens: &'p [Token<'t>],
    at: usize,
    /// Words so far, against [`MAX_WORDS`].
    words: usize,
}

impl<'p, 't> Parser<'p, 't> {
    fn peek(&self) -> Option<&'p Token<'t>> {
        self.tokens.get(self.at)
    }

    /// `all (OR all)*`, up to a `)` or the end.
    fn any(&mut self, depth: usize) -> Result<Option<TextExpr>, TextQueryError> {
        let mut members = Vec::new();
        loop {
            members.extend(self.all(depth)?);
            match self.peek() {
                Some(Token::Or) => {
                    self.at += 1;
                    if matches!(self.peek(), None | Some(Token::Close | Token::Or | Token::And)) {
                        return Err(TextQueryError::MissingOperand("OR"));
                    }
                }
                _ => return Ok(group(members, TextExpr::Any)),
            }
        }
    }

    /// `term ([AND] term)*`, up to an `OR`, a `)` or the end.
    fn all(&mut self, depth: usize) -> Result<Option<TextExpr>, TextQueryError> {
        let mut members = Vec::new();
        let mut first = true;
        loop {
            match self.peek() {
                Some(Token::And) if !first => {
                    self.at += 1;
                    if matches!(self.peek(), None | Some(Token::Close | Token::Or | Token::And)) {
                        return Err(TextQueryError::MissingOperand("AND"));
                    }
                }
                Some(Token::And) => return Err(TextQueryError::MissingOperand("AND")),
                Some(Token::Or) if first => return Err(TextQueryError::MissingOperand("OR")),
                None | Some(Token::Or | Token::Close) => return Ok(group(members, TextExpr::All)),
                Some(Token::Open | Token::Term(_)) => {}
            }
            members.extend(self.term(depth)?);
            first = false;
        }
    }

    /// A word, a phrase or a parenthesised group.
    fn term(&mut self, depth: usize) -> Result<Option<TextExpr>, TextQueryError> {
        match self.peek() {
            Some(Token::Term(text)) => {
                self.at += 1;
                self.phrase(text)
            }
            Some(Token::Open) => {
                if depth >= MAX_DEPTH {
                    return Err(TextQueryError::TooDeep);
                }
                self.at += 1;
                if self.peek() == Some(&Token::Close) {
                    return Err(TextQueryError::EmptyParentheses);
                }
                let inner = self.any(depth + 1)?;
                if self.peek() != Some(&Token::Close) {
                    return Err(TextQueryError::UnmatchedParenthesis);
                }
                self.at += 1;
                Ok(inner)
            }
            // `all` only calls here on a term or an opening parenthesis.
            _ => Err(TextQueryError::UnmatchedParenthesis),
        }
    }

    fn phrase(&mut self, text: &str) -> Result<Option<TextExpr>, TextQueryError> {
        let words = words(text);
        if words.iter().any(|word| word.len() > MAX_WORD_BYTES) {
            return Err(TextQueryError::WordTooLong);
        }
        self.words += words.len();
        if self.words > MAX_WORDS {
            return Err(TextQueryError::TooManyWords);
        }
        Ok((!words.is_empty()).then_some(TextExpr::Phrase(words)))
    }
}

/// `members` joined by `make`, or the only member, or nothing.
fn group(mut members: Vec<TextExpr>, make: fn(Vec<TextExpr>) -> TextExpr) -> Option<TextExpr> {
    match members.len() {
        0 => None,
        1 => members.pop(),
        _ => Some(make(members)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(text: &str) -> TextExpr {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).expr
    }

    fn p(words: &[&str]) -> TextExpr {
        TextExpr::Phrase(words.iter().map(|w| (*w).to_owned()).collect())
    }

    /// The spec's example (search.html#text), lower-case `and` included.
    #[test]
    fn the_spec_example_is_an_and_of_an_or() {
        assert_eq!(
            expr("(bone OR liver) and metastases"),
            TextExpr::All(vec![
                TextExpr::Any(vec![p(&["bone"]), p(&["liver"])]),
                p(&["metastases"])
            ])
        );
    }

    #[test]
    fn words_side_by_side_must_all_appear() {
        assert_eq!(expr("José  Silva"), TextExpr::All(vec![p(&["jose"]), p(&["silva"])]));
        assert_eq!(expr("jose AND silva"), expr("jose silva"));
        assert_eq!(expr("JOSÉ"), p(&["jose"]));
    }

    /// AND binds tighter than OR, as in both databases' own syntax.
    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            expr("a b or c"),
            TextExpr::Any(vec![TextExpr::All(vec![p(&["a"]), p(&["b"])]), p(&["c"])])
        );
        assert_eq!(
            expr("a (b or c)"),
            TextExpr::All(vec![p(&["a"]), TextExpr::Any(vec![p(&["b"]), p(&["c"])])])
        );
    }

    /// Quotes make a phrase, and make an operator a word.
    #[test]
    fn quotes_make_phrases_and_words_of_operators() {
        assert_eq!(expr("\"Heart  Attack\""), p(&["heart", "attack"]));
        assert_eq!(expr("\"a*\""), p(&["a"]));
        assert_eq!(expr("\"or\" \"not\""), TextExpr::All(vec![p(&["or"]), p(&["not"])]));
        assert!(expr("\"heart attack\" OR stroke").has_long_phrase());
        assert!(!expr("heart OR stroke").has_long_phrase());
    }

    /// Punctuation separates words, as in the indexed text, so a hyphenated
    /// word is the phrase of its parts.
    #[test]
    fn punctuation_inside_a_word_makes_a_phrase() {
        assert_eq!(expr("heart-attack"), p(&["heart", "attack"]));
        assert_eq!(expr("O'Brien"), p(&["obrien"]));
    }

    /// A term with nothing to search for drops out; a query of nothing else
    /// is an error.
    #[test]
    fn terms_without_letters_drop_out() {
        assert_eq!(expr("cancer -- \"\""), p(&["cancer"]));
        assert_eq!(expr("(-) OR cancer"), p(&["cancer"]));
        assert_eq!(parse("--"), Err(TextQueryError::NoWords));
        assert_eq!(parse("   "), Err(TextQueryError::NoWords));
    }

    #[test]
    fn bad_syntax_is_refused() {
        for (text, error) in [
            ("\"heart attack", TextQueryError::UnclosedQuote),
            ("(bone OR liver", TextQueryError::UnmatchedParenthesis),
            ("bone) liver", TextQueryError::UnmatchedParenthesis),
            ("a ()", TextQueryError::EmptyParentheses),
            ("OR bone", TextQueryError::MissingOperand("OR")),
            ("bone OR", TextQueryError::MissingOperand("OR")),
            ("bone OR OR liver", TextQueryError::MissingOperand("OR")),
            ("bone AND", TextQueryError::MissingOperand("AND")),
            ("AND bone", TextQueryError::MissingOperand("AND")),
            ("bone AND OR liver", TextQueryError::MissingOperand("AND")),
            ("(bone OR) liver", TextQueryError::MissingOperand("OR")),
            ("bone NOT liver", TextQueryError::Not),
            ("not liver", TextQueryError::Not),
            ("canc*", TextQueryError::Wildcard),
        ] {
            assert_eq!(parse(text), Err(error), "{text}");
        }
    }

    #[test]
    fn size_is_bounded() {
        let long = "x".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(parse(&long), Err(TextQueryError::WordTooLong));
        assert!(parse(&"x".repeat(MAX_WORD_BYTES)).is_ok());
        let many = vec!["w"; MAX_WORDS + 1].join(" ");
        assert_eq!(parse(&many), Err(TextQueryError::TooManyWords));
        let deep = format!("{}a{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep), Err(TextQueryError::TooDeep));
        let fine = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(expr(&fine), p(&["a"]));
    }

    /// Whatever is typed, parsing answers without panicking.
    #[test]
    fn any_input_parses_or_fails_cleanly() {
        for text in [
            "(",
            ")",
            "\"",
            "((a)",
            "a))",
            "\u{0}",
            "é\"",
            "(\"\")",
            "AND",
            "or",
            "( OR )",
            "\"a\"\"b\"",
        ] {
            let _ = parse(text);
        }
    }
}
