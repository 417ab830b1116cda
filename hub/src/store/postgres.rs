//! PostgreSQL through sqlx: the pool with its migrations, binding [`Param`]s, and reading rows
//! into the same [`Row`] shape SQLite gives (integers, text and bytes by column type).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Column, Postgres, Row as _, TypeInfo};

use super::values::Val;
use super::{Param, Result, Row, StoreError};

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Connects a pool to the database at `url` and runs the migrations. `open_err` words a
/// failure to reach it.
pub(super) async fn open(url: &str, open_err: impl Fn(String) -> StoreError) -> Result<PgPool> {
    let opts =
        sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| open_err(e.to_string()))?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await
        .map_err(|e| open_err(e.to_string()))?;
    POSTGRES_MIGRATIONS.run(&pool).await?;
    Ok(pool)
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

fn query<'q>(sql: &str, params: &[Param]) -> PgQuery<'q> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for p in params {
        q = match p {
            Param::Int(v) => q.bind(*v),
            Param::Text(v) => q.bind(v.clone()),
            Param::Blob(v) => q.bind(v.clone()),
            Param::NullInt => q.bind(None::<i64>),
            Param::NullText => q.bind(None::<String>),
        };
    }
    q
}

/// Runs a statement; returns how many rows it changed.
pub(super) async fn execute(
    c: &mut sqlx::PgConnection,
    sql: &str,
    params: &[Param],
) -> Result<u64> {
    Ok(query(sql, params).execute(c).await?.rows_affected())
}

/// Runs a statement and returns its rows.
pub(super) async fn fetch(
    c: &mut sqlx::PgConnection,
    sql: &str,
    params: &[Param],
) -> Result<Vec<Row>> {
    let rows: Vec<PgRow> = query(sql, params).fetch_all(c).await?;
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let names: Arc<Vec<String>> = Arc::new(
        first
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
    );
    let kinds: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.type_info().name().to_string())
        .collect();
    rows.iter()
        .map(|r| {
            let vals = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| value(r, i, k))
                .collect::<Result<Vec<Val>>>()?;
            Ok(Row {
                names: names.clone(),
                vals,
            })
        })
        .collect()
}

/// Column `i` of a row, read by its PostgreSQL type `kind`.
fn value(r: &PgRow, i: usize, kind: &str) -> Result<Val> {
    Ok(match kind {
        "INT8" => r.try_get::<Option<i64>, _>(i)?.map_or(Val::Null, Val::Int),
        "INT4" => r
            .try_get::<Option<i32>, _>(i)?
            .map_or(Val::Null, |v| Val::Int(v.into())),
        "INT2" => r
            .try_get::<Option<i16>, _>(i)?
            .map_or(Val::Null, |v| Val::Int(v.into())),
        "BOOL" => r
            .try_get::<Option<bool>, _>(i)?
            .map_or(Val::Null, |v| Val::Int(v as i64)),
        "BYTEA" => r
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map_or(Val::Null, Val::Blob),
        _ => r
            .try_get::<Option<String>, _>(i)?
            .map_or(Val::Null, Val::Text),
    })
}
