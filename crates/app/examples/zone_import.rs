//! Zone import through the zone service into the database, timed: the figure `bench/dns/run`
//! prints beside the library's parse-and-validate speed.
//!
//! `zone-import FILE [DATABASE_URL]` imports FILE (a zone `bench.test.`) into a new zone of a
//! fresh installation: parse, validate, store in one transaction (SQLite in a temporary
//! directory by default, or the PostgreSQL database named; its tables must be empty).

use std::time::Instant;

use panel1_app::dns::service::{self, Acting, NewZoneInput};
use panel1_app::{App, Caller, Settings, auth, bootstrap, events};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_store::{Db, DbOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let file = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: zone-import FILE [DATABASE_URL]"))?;
    let dir = tempfile::tempdir()?;
    let url = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let db = Db::connect(&DbOptions::new(url.clone())).await?;
    db.migrate().await?;
    let data = dir.path().display().to_string();
    let settings = Settings::load(None, |k| match k {
        "PANEL1_DATABASE_URL" => Some(url.clone()),
        "PANEL1_DATA_DIR" => Some(data.clone()),
        _ => None,
    })?;
    let keyring = Keyring::new(MasterKey::generate()?, []);
    let app = App::new(db, keyring, settings, events::Handlers::new())?;
    let b = bootstrap::run(&app, "bench").await?;
    let principal = auth::authenticate_token(&app, b.token.expose()).await?;
    let caller = Caller::new(principal, None);
    let zone = service::create_zone(
        &app,
        &caller,
        &NewZoneInput {
            name: "bench.test".into(),
            client_id: None,
            provider_id: None,
            default_ttl: None,
        },
    )
    .await?;
    let text = std::fs::read_to_string(file)?;
    let start = Instant::now();
    let result = service::import(&app, &Acting::caller(&caller), &zone.id, &text).await?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "service import: {} records in {secs:.3} s = {:.0} records/s (parse + validate + store, {})",
        result.records,
        result.records as f64 / secs,
        app.db.backend().as_str()
    );
    app.db.close().await;
    Ok(())
}
