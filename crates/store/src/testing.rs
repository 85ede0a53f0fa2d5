//! Test support: a fresh, migrated database per test, on SQLite or PostgreSQL.
//!
//! SQLite gets a file in a temporary directory; PostgreSQL gets a schema of its own in the
//! server named by `PANEL1_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped when the test ends. [`TestDb::url`] names the same database for child processes.

use std::str::FromStr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::{Backend, Db, DbOptions};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_base_url() -> String {
    std::env::var("PANEL1_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

pub struct TestDb {
    pub db: Db,
    url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("panel1.db").display());
        let db = Db::connect(&DbOptions::new(&url))
            .await
            .expect("open sqlite");
        db.migrate().await.expect("migrate sqlite");
        TestDb {
            db,
            url,
            _dir: Some(dir),
            schema: None,
        }
    }

    pub async fn postgres() -> TestDb {
        let base = postgres_base_url();
        let schema = format!("t_{}", crate::repo::test_suffix());
        let opts = PgConnectOptions::from_str(&base).expect("PANEL1_TEST_POSTGRES_URL");
        let mut c = PgConnection::connect_with(&opts).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {base} is not reachable ({e}); start it (see README, Testing)")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut c)
            .await
            .expect("create schema");
        c.close().await.ok();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={schema}");
        let db = Db::connect(&DbOptions::new(&url))
            .await
            .expect("open postgres");
        db.migrate().await.expect("migrate postgres");
        TestDb {
            db,
            url,
            _dir: None,
            schema: Some(schema),
        }
    }

    /// The URL of this database, usable by `panel1` child processes.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        let base = postgres_base_url();
        // Drop the schema from a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let opts = PgConnectOptions::from_str(&base).ok()?;
                let mut c = PgConnection::connect_with(&opts).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&mut c)
                .await
                .ok()?;
                c.close().await.ok()
            })
        })
        .join();
    }
}

/// Declares async tests that take a [`TestDb`] and runs each on SQLite and on PostgreSQL:
/// `db_tests!(creates_a_client, lists_clients);` generates `sqlite::creates_a_client` and
/// `postgres::creates_a_client`.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDb::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDb::postgres().await).await
                }
            )*
        }
    };
}
