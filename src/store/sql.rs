//! A tiny builder for SQL with numbered parameters (`$1`, `$2`, …), which both
//! PostgreSQL and sqlx's SQLite driver understand.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool};

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Appends `other` (text and arguments). Only valid before this statement
    /// has arguments of its own, since `other`'s placeholders start at `$1`.
    pub fn embed(&mut self, other: &Sql) -> &mut Self {
        debug_assert!(self.args.is_empty(), "embed before adding arguments");
        self.text.push_str(&other.text);
        self.args.extend(other.args.iter().cloned());
        self
    }

    fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.args.iter().fold(sqlx::query(&self.text), |q, arg| match arg {
            Arg::Int(i) => q.bind(*i),
            Arg::Text(t) => q.bind(t.as_str()),
        })
    }

    pub async fn fetch_all(&self, pool: &AnyPool) -> Result<Vec<AnyRow>, sqlx::Error> {
        self.query().fetch_all(pool).await
    }

    pub async fn fetch_one(&self, pool: &AnyPool) -> Result<AnyRow, sqlx::Error> {
        self.query().fetch_one(pool).await
    }
}
