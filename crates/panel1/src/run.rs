//! What each command does.

use anyhow::Context;
use panel1_app::config::LogFormat;
use panel1_app::{App, Settings, bootstrap, events, worker};
use panel1_jobs::Scheduler;
use panel1_store::{Db, DbOptions};
use tokio_util::sync::CancellationToken;

use crate::cli::{Admin, Cli, Command};

pub async fn main(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env(cli.config.as_deref())?;
    init_tracing(&settings);
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Worker => run_worker(settings).await,
        Command::Dns => run_dns(settings).await,
        Command::Migrate => {
            let db = connect(&settings).await?;
            db.migrate().await.context("applying migrations")?;
            println!("migrations applied ({})", db.backend().as_str());
            Ok(())
        }
        Command::Admin(Admin::GenKey) => {
            println!(
                "{}",
                panel1_core::crypto::MasterKey::generate()?
                    .to_text()
                    .expose()
            );
            Ok(())
        }
        Command::Admin(Admin::Bootstrap { token_name }) => {
            let app = open_app(&settings).await?;
            let b = bootstrap::run(&app, &token_name).await?;
            print_bootstrap(&b);
            println!("{}", b.token.expose());
            Ok(())
        }
    }
}

fn init_tracing(s: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&s.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match s.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn connect(s: &Settings) -> anyhow::Result<Db> {
    if s.is_sqlite() {
        std::fs::create_dir_all(&s.data_dir).with_context(|| {
            format!(
                "creating the data directory {} (setting `data_dir`)",
                s.data_dir.display()
            )
        })?;
    }
    let mut opts = DbOptions::new(s.database_url.expose());
    opts.max_connections = s.database_max_connections;
    Db::connect(&opts).await.with_context(|| {
        format!(
            "connecting to the database {} (setting `database_url`)",
            panel1_store::db::redact_url(s.database_url.expose())
        )
    })
}

/// Connects, migrates on SQLite (PostgreSQL is migrated explicitly with `panel1 migrate`),
/// loads the master key, and builds the services.
async fn open_app(s: &Settings) -> anyhow::Result<App> {
    let db = connect(s).await?;
    if s.is_sqlite() {
        db.migrate().await.context("applying migrations")?;
    } else if db.pending_migrations().await? > 0 {
        anyhow::bail!("the PostgreSQL database needs migrations: run `panel1 migrate` first");
    }
    let keyring = crate::keys::load_keyring(s)?;
    App::new(db, keyring, s.clone(), worker::handlers())
}

fn print_bootstrap(b: &bootstrap::Bootstrap) {
    println!(
        "Panel1 is ready for tenant \"{}\" ({}).",
        b.tenant.name, b.tenant.id
    );
    match &b.password {
        Some(p) => {
            println!("Sign in as {} with password: {}", b.user.email, p.expose());
            println!("(shown once: change it after signing in)");
        }
        None => println!("Operator: {}", b.user.email),
    }
    println!("API token (shown once; send it as `Authorization: Bearer <token>`):");
}

/// Workers, dispatcher and scheduler: everything but HTTP.
fn start_background(app: &App, cancel: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let runner = worker::runner(app, worker::runner_config(app)).start(cancel.clone());
    let dispatcher = events::start_dispatcher(app.clone(), cancel.clone());
    let scheduler = Scheduler::new(app.db.clone(), worker::schedules()).start(cancel.clone());
    vec![tokio::spawn(runner.join()), dispatcher, scheduler]
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = open_app(&settings).await?;
    if bootstrap::is_empty(&app).await? {
        let b = bootstrap::run(&app, "first start").await?;
        println!("First start: created the first tenant and its operator.");
        print_bootstrap(&b);
        println!("{}", b.token.expose());
    }
    let cancel = CancellationToken::new();
    let (addr, http) = panel1_web::serve(app.clone(), settings.http_addr, cancel.clone()).await?;
    let background = start_background(&app, &cancel);
    let dns = panel1_app::dns::start_server(&app, cancel.clone()).await?;
    println!("DNS on {} (UDP and TCP)", dns.udp_addr);
    tracing::info!(%addr, database = app.db.backend().as_str(), "Panel1 is serving: API at http://{addr}/api/v1, OpenAPI at /api/v1/openapi.json");
    println!("Listening on http://{addr}");
    shutdown_signal().await;
    tracing::info!("shutting down: finishing running jobs");
    cancel.cancel();
    let _ = http.await;
    dns.join().await;
    for t in background {
        let _ = t.await;
    }
    app.db.close().await;
    Ok(())
}

async fn run_worker(settings: Settings) -> anyhow::Result<()> {
    let app = open_app(&settings).await?;
    let cancel = CancellationToken::new();
    let background = start_background(&app, &cancel);
    tracing::info!(
        database = app.db.backend().as_str(),
        "Panel1 worker running"
    );
    shutdown_signal().await;
    cancel.cancel();
    for t in background {
        let _ = t.await;
    }
    app.db.close().await;
    Ok(())
}

/// The DNS server alone: answers from the store's zones, refreshed as they change.
async fn run_dns(settings: Settings) -> anyhow::Result<()> {
    let app = open_app(&settings).await?;
    let cancel = CancellationToken::new();
    let dns = panel1_app::dns::start_server(&app, cancel.clone()).await?;
    println!("DNS on {} (UDP and TCP)", dns.udp_addr);
    shutdown_signal().await;
    cancel.cancel();
    dns.join().await;
    app.db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
