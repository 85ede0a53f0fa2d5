//! Internal event handlers receive every event at least once and, per object, in order, even
//! when a handler fails and is retried.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use panel1_app::clients::{ClientPatch, NewClient};
use panel1_app::events::{EventHandler, Handlers};
use panel1_app::{App, Caller, Settings, bootstrap, clients, events, worker};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_jobs::JobError;
use panel1_store::db_tests;
use panel1_store::events::Event;
use panel1_store::testing::TestDb;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, String)>>,
    failed_once: Mutex<bool>,
}

#[async_trait]
impl EventHandler for Recorder {
    fn name(&self) -> &'static str {
        "test.recorder"
    }

    fn wants(&self, kind: &str) -> bool {
        kind.starts_with("client.")
    }

    async fn handle(&self, _app: &App, e: &Event) -> Result<(), JobError> {
        {
            let mut f = self.failed_once.lock().unwrap();
            if e.kind == "client.created" && !*f {
                *f = true;
                return Err(JobError::retry("the first delivery fails"));
            }
        }
        let city = e.payload["city"].as_str().unwrap_or("-").to_owned();
        self.seen.lock().unwrap().push((e.kind.clone(), city));
        Ok(())
    }
}

async fn handlers_get_each_objects_events_in_order_despite_a_failure(t: TestDb) {
    let rec = Arc::new(Recorder::default());
    let settings = Settings::load(None, |_| None).unwrap();
    let app = App::new(
        t.db.clone(),
        Keyring::new(MasterKey::generate().unwrap(), []),
        settings,
        Handlers::new().with(rec.clone()),
    )
    .unwrap();
    let b = bootstrap::run(&app, "t").await.unwrap();
    let mut r = t.db.read().await.unwrap();
    let (principal, _) = panel1_store::tokens::authenticate(
        r.conn(),
        &panel1_core::crypto::hash_token(b.token.expose()),
        0,
    )
    .await
    .unwrap()
    .unwrap();
    drop(r);
    let caller = Caller::new(principal, None);

    let c = clients::create(
        &app,
        caller.staff().unwrap(),
        &NewClient {
            name: "Ann".into(),
            company: None,
            email: "ann@example.com".into(),
            phone: None,
            address1: None,
            address2: None,
            city: None,
            state: None,
            postal_code: None,
            country: None,
            status: None,
            notes: None,
        },
    )
    .await
    .unwrap();
    for city in ["A", "B"] {
        let p = ClientPatch {
            city: Some(city.into()),
            ..Default::default()
        };
        clients::update(&app, caller.staff().unwrap(), &c.id, &p)
            .await
            .unwrap();
    }

    let cancel = CancellationToken::new();
    let mut cfg = worker::runner_config(&app);
    cfg.poll_interval = Duration::from_millis(50);
    let runner = worker::runner(&app, cfg).start(cancel.clone());
    events::start_dispatcher(app.clone(), cancel.clone());
    let start = Instant::now();
    while rec.seen.lock().unwrap().len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {:?}",
            rec.seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("client.created".to_owned(), "-".to_owned()),
            ("client.updated".to_owned(), "A".to_owned()),
            ("client.updated".to_owned(), "B".to_owned())
        ]
    );
    cancel.cancel();
    runner.join().await;
}

db_tests!(handlers_get_each_objects_events_in_order_despite_a_failure);
