//! A tiny builder for SQL with numbered parameters (`$1`, `$2`, …), which both
//! PostgreSQL and sqlx's SQLite driver understand.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Executor};

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    Blob(Option<Vec<u8>>),
    /// A double, for the index tables' number columns (search bounds).
    Real(f64),
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

    /// Binds `arg` and returns its placeholder (`$4`) without writing it,
    /// for text built elsewhere.
    pub fn placeholder(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// A placeholder with a PostgreSQL type cast (`$3::bigint`), needed where
    /// the type cannot be inferred, as in a `VALUES` list.
    pub fn typed_arg(&mut self, arg: Arg, pg_type: &str) -> &mut Self {
        self.arg(arg);
        self.text.push_str("::");
        self.text.push_str(pg_type);
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
            Arg::OptInt(i) => q.bind(*i),
            Arg::Text(t) => q.bind(t.as_str()),
            Arg::Blob(b) => q.bind(b.as_deref()),
            Arg::Real(f) => q.bind(*f),
        })
    }

    pub async fn fetch_all(&self, pool: &AnyPool) -> Result<Vec<AnyRow>, sqlx::Error> {
        self.query().fetch_all(pool).await
    }

    /// Runs on any executor (a pool, or the connection of a transaction).
    pub async fn fetch_all_on<'e, E: Executor<'e, Database = Any>>(&self, on: E) -> Result<Vec<AnyRow>, sqlx::Error> {
        self.query().fetch_all(on).await
    }

    pub async fn fetch_one(&self, pool: &AnyPool) -> Result<AnyRow, sqlx::Error> {
        self.query().fetch_one(pool).await
    }
}
