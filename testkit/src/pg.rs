//! A fresh PostgreSQL database per test, on the local server (127.0.0.1:5432, user postgres,
//! trust auth). Where no server answers the tests are skipped with a printed reason, except
//! under `CI=true`, where they must run.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};

/// The server the tests use: `ORCHESTRATIA_TEST_PG`, else the local one.
pub fn admin_url() -> String {
    std::env::var("ORCHESTRATIA_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database created for one test and dropped after it.
pub struct PgDatabase {
    pub url: String,
    pub name: String,
}

impl PgDatabase {
    /// Creates a fresh database, or `None` (with a printed reason) when no server answers
    /// outside CI.
    pub async fn create() -> Option<PgDatabase> {
        let admin = admin_url();
        let opts = match PgConnectOptions::from_str(&admin) {
            Ok(o) => o,
            Err(e) => panic!("bad ORCHESTRATIA_TEST_PG {admin}: {e}"),
        };
        let conn = tokio::time::timeout(Duration::from_secs(5), opts.connect()).await;
        let mut conn: PgConnection = match conn {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return skip(&admin, &e.to_string()),
            Err(_) => return skip(&admin, "no answer within 5 s"),
        };
        let name = format!("orc_test_{}", uuid::Uuid::new_v4().simple());
        let sql = format!("CREATE DATABASE {name}");
        conn.execute(sqlx::AssertSqlSafe(sql))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE on {admin}: {e}"));
        let _ = conn.close().await;
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin.clone());
        Some(PgDatabase {
            url: format!("{base}/{name}"),
            name,
        })
    }
}

fn skip(url: &str, why: &str) -> Option<PgDatabase> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("PostgreSQL at {url} must answer in CI: {why}");
    }
    eprintln!("skipping the PostgreSQL variant: no server at {url} ({why})");
    None
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = admin_url();
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee: use a small one of our own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(opts) = PgConnectOptions::from_str(&admin)
                    && let Ok(mut c) = opts.connect().await
                {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = c.execute(sqlx::AssertSqlSafe(sql)).await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}
