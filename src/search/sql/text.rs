//! `_text` and `_content` (<https://hl7.org/fhir/R4/search.html#text>): a
//! text query against the resource's row of `idx_text` (narrative and data
//! words, folded by `index::full_text`; see migrations/*/0003_full_text.sql).
//!
//! The condition is `rkey IN (the rows whose words match)`, not the `EXISTS`
//! of the other parameters: the word index answers a query for all rows at
//! once (PostgreSQL's GIN index, SQLite's FTS5 table), so it is asked once
//! rather than once per resource.
//!
//! The databases are only asked which rows hold which words: each query is
//! written in the engine's own syntax from the parsed query, every word
//! quoted (PostgreSQL `'jose' & ('bone' | 'liver')`, FTS5
//! `"jose" AND ("bone" OR "liver")`), so neither parses or folds a word.
//! Neither index keeps word positions, so a phrase is looked up as its words
//! and then checked on the stored text, where ` heart attack ` must occur
//! (the text is words separated by single spaces, values by ` | `): the
//! same string test on both databases. On PostgreSQL, where one index holds
//! the narrative's and the data's words together, `_text` is checked on the
//! narrative's text the same way.

use super::{Emit, Result};
use crate::search::params::{TextExpr, TextQuery};
use crate::store::Dialect;

/// Which columns a parameter searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// `_text`: the narrative.
    Narrative,
    /// `_content`: the narrative and the data.
    Content,
}

/// `resource.rkey IN (…)`: the resources whose text matches any of `queries`.
pub(super) fn condition(e: &mut Emit<'_>, resource: &str, code: &str, queries: &[TextQuery]) -> Result {
    let scope = if code == "_text" {
        Scope::Narrative
    } else {
        Scope::Content
    };
    let combined;
    let expr = match queries {
        [one] => &one.expr,
        [] => {
            e.push("1 = 0");
            return Ok(());
        }
        many => {
            combined = TextExpr::Any(many.iter().map(|q| q.expr.clone()).collect());
            &combined
        }
    };
    let dialect = e.env.dialect;
    let checked = expr.has_long_phrase() || (dialect == Dialect::Postgres && scope == Scope::Narrative);
    let x = e.alias("x");
    e.push(resource).push(".rkey IN (");
    match dialect {
        Dialect::Postgres => {
            e.push("SELECT ")
                .push(&x)
                .push(".rkey FROM idx_text ")
                .push(&x)
                .push(" WHERE ");
            e.push(&x)
                .push(".words @@ CAST(")
                .text(&tsquery(expr))
                .push(" AS tsquery)");
        }
        Dialect::Sqlite => {
            let mut query = fts5(expr);
            if scope == Scope::Narrative {
                query = format!("{{narrative}} : {query}");
            }
            if checked {
                e.push("SELECT ")
                    .push(&x)
                    .push(".rkey FROM idx_text ")
                    .push(&x)
                    .push(" WHERE ");
                e.push(&x).push(".rkey IN (");
            }
            e.push("SELECT rowid FROM idx_text_fts WHERE idx_text_fts MATCH ")
                .text(&query);
            if checked {
                e.push(")");
            }
        }
    }
    if checked {
        e.push(" AND ");
        exact(e, &x, scope, expr);
    }
    e.push(")");
    Ok(())
}

/// The query decided on the stored text of row `x`: each phrase (or word)
/// is ` words ` found in ` column `.
fn exact(e: &mut Emit<'_>, x: &str, scope: Scope, expr: &TextExpr) {
    match expr {
        TextExpr::All(members) | TextExpr::Any(members) => {
            let joint = if matches!(expr, TextExpr::All(_)) {
                " AND "
            } else {
                " OR "
            };
            e.push("(");
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    e.push(joint);
                }
                exact(e, x, scope, member);
            }
            e.push(")");
        }
        TextExpr::Phrase(words) => {
            let needle = format!(" {} ", words.join(" "));
            let narrative = format!("(' ' || {x}.narrative || ' ')");
            match scope {
                Scope::Narrative => {
                    e.contains(&narrative, &needle);
                }
                Scope::Content => {
                    let data = format!("(' ' || {x}.data || ' ')");
                    e.push("(").contains(&narrative, &needle).push(" OR ");
                    e.contains(&data, &needle).push(")");
                }
            }
        }
    }
}

/// A PostgreSQL `tsquery` with every word a quoted lexeme; a phrase is the
/// AND of its words (its order is checked on the text).
fn tsquery(expr: &TextExpr) -> String {
    let quote = |word: &String| format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"));
    match expr {
        TextExpr::Phrase(words) => join(words.iter().map(quote), " & "),
        TextExpr::All(members) => join(members.iter().map(tsquery), " & "),
        TextExpr::Any(members) => join(members.iter().map(tsquery), " | "),
    }
}

/// An FTS5 query with every word a quoted string; a phrase is the AND of
/// its words (FTS5 cannot match phrases without positions, and its order is
/// checked on the text).
fn fts5(expr: &TextExpr) -> String {
    let quote = |word: &String| format!("\"{}\"", word.replace('"', "\"\""));
    match expr {
        TextExpr::Phrase(words) => join(words.iter().map(quote), " AND "),
        TextExpr::All(members) => join(members.iter().map(fts5), " AND "),
        TextExpr::Any(members) => join(members.iter().map(fts5), " OR "),
    }
}

/// One part as is, several in parentheses.
fn join(parts: impl Iterator<Item = String>, operator: &str) -> String {
    let parts: Vec<String> = parts.collect();
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("({})", parts.join(operator)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::params::text_query;

    fn expr(text: &str) -> TextExpr {
        text_query::parse(text)
            .map(|q| q.expr)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Both engines get the same tree, each in its own syntax, with every
    /// word quoted so neither reads an operator or folds anything.
    #[test]
    fn queries_are_written_for_each_engine() {
        let query = expr("(bone OR liver) and metastases");
        assert_eq!(tsquery(&query), "(('bone' | 'liver') & 'metastases')");
        assert_eq!(fts5(&query), "((\"bone\" OR \"liver\") AND \"metastases\")");
        let phrase = expr("\"heart attack\" OR \"or\"");
        assert_eq!(tsquery(&phrase), "(('heart' & 'attack') | 'or')");
        assert_eq!(fts5(&phrase), "((\"heart\" AND \"attack\") OR \"or\")");
        assert_eq!(tsquery(&expr("José")), "'jose'");
    }

    /// Folding leaves only letters and digits, but the quoting must hold
    /// whatever a word holds.
    #[test]
    fn quotes_inside_words_are_escaped() {
        let odd = TextExpr::Phrase(vec!["a'b\\c\"d".into()]);
        assert_eq!(tsquery(&odd), "'a''b\\\\c\"d'");
        assert_eq!(fts5(&odd), "\"a'b\\c\"\"d\"");
    }
}
