//! Connecting, migrating, and the two ways in: [`Tx`] for writes, [`Reader`] for reads.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::Notify;

use crate::{Result, StoreError};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    pub url: String,
    /// Connections for PostgreSQL, and readers for SQLite (SQLite has one writer).
    pub max_connections: u32,
}

impl DbOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
        }
    }
}

#[derive(Debug)]
enum Pools {
    /// SQLite allows one writer at a time: writes go through a single connection (queued in
    /// process, never spinning on SQLITE_BUSY); reads use a pool of WAL readers.
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
    },
    Postgres(PgPool),
}

#[derive(Debug)]
struct Inner {
    pools: Pools,
    /// Woken after a commit that enqueued jobs, so local workers need not wait for a poll.
    jobs_changed: Notify,
    /// Woken after a commit that appended events to the outbox.
    events_changed: Notify,
}

/// A handle to the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db(Arc<Inner>);

impl Db {
    /// Connects (creating an SQLite file if needed); does not migrate.
    pub async fn connect(opts: &DbOptions) -> Result<Db> {
        let url = opts.url.as_str();
        let pools = if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("temp_store", "memory")
                .pragma("cache_size", "-8000");
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(base.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(opts.max_connections.max(1))
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(base)
                .await?;
            Pools::Sqlite { write, read }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let o = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.max(2))
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(o)
                .await?;
            Pools::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        Ok(Db(Arc::new(Inner {
            pools,
            jobs_changed: Notify::new(),
            events_changed: Notify::new(),
        })))
    }

    /// Applies the embedded migrations of this backend that are not yet applied.
    pub async fn migrate(&self) -> Result<()> {
        match &self.0.pools {
            Pools::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Pools::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// How many embedded migrations are not applied yet.
    pub async fn pending_migrations(&self) -> Result<usize> {
        let migrator = match self.backend() {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let mut r = self.read().await?;
        let found = crate::on!(r.conn(), c => sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(c).await);
        let applied = match found {
            Ok(v) => v,
            // No migrations table yet: nothing applied.
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    pub fn backend(&self) -> Backend {
        match &self.0.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// Begins a write transaction (on SQLite `BEGIN IMMEDIATE`, so a transaction that reads
    /// before it writes cannot fail to upgrade its lock).
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match &self.0.pools {
            Pools::Sqlite { write, .. } => {
                TxInner::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?)
            }
            Pools::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            inner,
            db: self.clone(),
            jobs_enqueued: false,
            events_appended: false,
        })
    }

    /// A connection for reads outside a transaction.
    pub async fn read(&self) -> Result<Reader> {
        Ok(match &self.0.pools {
            Pools::Sqlite { read, .. } => Reader::Sqlite(read.acquire().await?),
            Pools::Postgres(p) => Reader::Postgres(p.acquire().await?),
        })
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        let mut r = self.read().await?;
        crate::exec!(r.conn(), c => sqlx::query("SELECT 1").execute(c).await)?;
        Ok(())
    }

    /// Waits until a local commit enqueued jobs (or returns at once if one happened since the
    /// last wait); workers combine this with a poll interval for other processes' jobs.
    pub async fn jobs_changed(&self) {
        self.0.jobs_changed.notified().await
    }

    pub async fn events_changed(&self) {
        self.0.events_changed.notified().await
    }

    pub fn notify_jobs(&self) {
        self.0.jobs_changed.notify_waiters();
        self.0.jobs_changed.notify_one();
    }

    pub async fn close(&self) {
        match &self.0.pools {
            Pools::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(p) => p.close().await,
        }
    }
}

/// A database URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

enum TxInner {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    inner: TxInner,
    db: Db,
    jobs_enqueued: bool,
    events_appended: bool,
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match &mut self.inner {
            TxInner::Sqlite(t) => Conn::Sqlite(t),
            TxInner::Postgres(t) => Conn::Postgres(t),
        }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Marks that this transaction enqueued jobs, so local workers are woken on commit.
    pub fn mark_jobs_enqueued(&mut self) {
        self.jobs_enqueued = true;
    }

    /// Marks that this transaction appended events, so the dispatcher is woken on commit.
    pub fn mark_events_appended(&mut self) {
        self.events_appended = true;
    }

    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        if self.jobs_enqueued {
            self.db.notify_jobs();
        }
        if self.events_appended {
            self.db.0.events_changed.notify_waiters();
            self.db.0.events_changed.notify_one();
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// A pooled connection for reads.
pub enum Reader {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Reader {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Reader::Sqlite(c) => Conn::Sqlite(c),
            Reader::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A borrowed connection, inside a transaction or not. Every repository function takes one.
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    /// A shorter-lived `Conn` to the same connection, to pass to a callee while keeping this one.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Runs the same statement code against whichever backend `$conn` holds:
/// `on!(conn, c => sqlx::query_as("…").bind(x).fetch_all(c).await)`.
#[macro_export]
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::Conn::Sqlite($c) => $body,
            $crate::Conn::Postgres($c) => $body,
        }
    };
}

/// Like [`on!`] for statements run with `execute`: evaluates to the number of rows affected,
/// whichever backend ran it: `exec!(conn, c => sqlx::query("…").execute(c).await)?`.
#[macro_export]
macro_rules! exec {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::Conn::Sqlite($c) => $body.map(|r| r.rows_affected()),
            $crate::Conn::Postgres($c) => $body.map(|r| r.rows_affected()),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
