//! The repositories on both backends: scoping, the job table's claim/complete/fail/reap
//! rules, schedules' once-per-tick advance, idempotency keys and the outbox.

use chrono::{Duration, Utc};
use panel1_core::{ClientId, PageRequest, Role, Scope, TenantId};
use panel1_store::jobs::{self, Enqueued, FailOutcome, JobScope, NewJob};
use panel1_store::testing::TestDb;
use panel1_store::{clients, db_tests, events, idempotency, schedules, tenants, tokens, users};

fn details(name: &str) -> clients::ClientDetails {
    clients::ClientDetails {
        name: name.into(),
        company: Some("Acme".into()),
        email: format!("{}@example.com", name.to_lowercase()),
        phone: None,
        address1: None,
        address2: None,
        city: None,
        state: None,
        postal_code: None,
        country: Some("NL".into()),
        status: "active".into(),
        notes: None,
    }
}

async fn tenant(t: &TestDb, slug: &str) -> TenantId {
    let mut tx = t.db.begin().await.unwrap();
    let ten = tenants::insert(tx.conn(), slug, slug).await.unwrap();
    tx.commit().await.unwrap();
    ten.id
}

async fn clients_are_scoped_to_tenant_and_client(t: TestDb) {
    let a = tenant(&t, "a").await;
    let b = tenant(&t, "b").await;
    let mut tx = t.db.begin().await.unwrap();
    let ann = clients::insert(tx.conn(), &a, &details("Ann"))
        .await
        .unwrap();
    let bob = clients::insert(tx.conn(), &a, &details("Bob"))
        .await
        .unwrap();
    let other = clients::insert(tx.conn(), &b, &details("Eve"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut r = t.db.read().await.unwrap();
    let sa = Scope::tenant(a.clone());
    assert!(
        clients::get(r.conn(), &sa, &ann.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        clients::get(r.conn(), &sa, &other.id)
            .await
            .unwrap()
            .is_none(),
        "another tenant's client is invisible"
    );
    let ann_only = Scope::client(a.clone(), ann.id.clone());
    assert!(
        clients::get(r.conn(), &ann_only, &bob.id)
            .await
            .unwrap()
            .is_none(),
        "a client sees only itself"
    );

    let (all, total) = clients::list(r.conn(), &sa, &Default::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!((all.len(), total), (2, 2));
    assert_eq!(all[0].id, bob.id, "newest first");
    let (mine, total) = clients::list(
        r.conn(),
        &ann_only,
        &Default::default(),
        PageRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!((mine.len(), total, &mine[0].id), (1, 1, &ann.id));
    let f = clients::ClientFilter {
        search: Some("BOB@".into()),
        status: None,
    };
    let (found, total) = clients::list(r.conn(), &sa, &f, PageRequest::default())
        .await
        .unwrap();
    assert_eq!((found.len(), total, &found[0].id), (1, 1, &bob.id));
    let f = clients::ClientFilter {
        search: Some("%".into()),
        status: None,
    };
    let (found, _) = clients::list(r.conn(), &sa, &f, PageRequest::default())
        .await
        .unwrap();
    assert!(found.is_empty(), "LIKE wildcards in the search are literal");
    drop(r);

    let mut tx = t.db.begin().await.unwrap();
    let mut d = details("Ann");
    d.city = Some("Utrecht".into());
    let (before, after) = clients::update(tx.conn(), &sa, &ann.id, &d).await.unwrap();
    assert_eq!(before.details.city, None);
    assert_eq!(after.details.city.as_deref(), Some("Utrecht"));
    let err = clients::update(tx.conn(), &Scope::tenant(b.clone()), &ann.id, &d)
        .await
        .unwrap_err();
    assert!(matches!(err, panel1_store::StoreError::NotFound));
    tx.commit().await.unwrap();
}

async fn tokens_stop_working_when_user_is_deleted(t: TestDb) {
    let a = tenant(&t, "a").await;
    let mut tx = t.db.begin().await.unwrap();
    let u = users::insert(
        tx.conn(),
        &a,
        &users::NewUser {
            email: "s@x.io",
            name: "S",
            role: Role::Staff,
            client_id: None,
            password_hash: None,
        },
    )
    .await
    .unwrap();
    let (secret, hash) = panel1_core::crypto::new_api_token().unwrap();
    tokens::insert(
        tx.conn(),
        &a,
        &u.id,
        "ci",
        &hash,
        &secret.expose()[..8],
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let now = Utc::now().timestamp_millis();
    let mut r = t.db.read().await.unwrap();
    let (p, _) = tokens::authenticate(r.conn(), &hash, now)
        .await
        .unwrap()
        .expect("live token");
    assert_eq!((p.role, &p.user_id), (Role::Staff, &u.id));
    assert!(
        tokens::authenticate(r.conn(), "nope", now)
            .await
            .unwrap()
            .is_none()
    );
    drop(r);

    let mut tx = t.db.begin().await.unwrap();
    assert!(users::delete(tx.conn(), &a, &u.id).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    assert!(
        tokens::authenticate(r.conn(), &hash, now)
            .await
            .unwrap()
            .is_none(),
        "deleted user's token is refused"
    );
}

async fn client_users_need_a_client(t: TestDb) {
    let a = tenant(&t, "a").await;
    let mut tx = t.db.begin().await.unwrap();
    let err = users::insert(
        tx.conn(),
        &a,
        &users::NewUser {
            email: "c@x.io",
            name: "C",
            role: Role::Client,
            client_id: None,
            password_hash: None,
        },
    )
    .await;
    assert!(
        err.is_err(),
        "the schema refuses a client user without a client"
    );
}

async fn unique_keys_enqueue_once(t: TestDb) {
    let mut tx = t.db.begin().await.unwrap();
    let mut j = NewJob::new("test::noop", serde_json::json!({"n": 1}));
    j.unique_key = Some("k1".into());
    let first = jobs::enqueue(&mut tx, &j).await.unwrap();
    let again = jobs::enqueue(&mut tx, &j).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(first, Enqueued::New(_)));
    assert_eq!(again, Enqueued::Existing(first.id().clone()));
}

async fn claim_complete_fail_and_reap(t: TestDb) {
    let mut tx = t.db.begin().await.unwrap();
    for i in 0..3 {
        let mut j = NewJob::new("test::noop", serde_json::json!({ "i": i }));
        j.max_attempts = 2;
        jobs::enqueue(&mut tx, &j).await.unwrap();
    }
    let mut later = NewJob::new("test::later", serde_json::json!({}));
    later.run_at = Utc::now() + Duration::hours(1);
    jobs::enqueue(&mut tx, &later).await.unwrap();
    tx.commit().await.unwrap();

    let q = vec!["default".to_owned()];
    let lease = Utc::now() + Duration::seconds(30);
    let mut tx = t.db.begin().await.unwrap();
    let a = jobs::claim(tx.conn(), &q, "w1", "L1", 2, lease)
        .await
        .unwrap();
    // w2 takes a lease that has already run out, as if it died long ago.
    let b = jobs::claim(
        tx.conn(),
        &q,
        "w2",
        "L2",
        10,
        Utc::now() - Duration::seconds(1),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (a.len(), b.len()),
        (2, 1),
        "a job not yet due is not claimed; no job is claimed twice"
    );
    assert_eq!(a[0].payload["i"], 0, "oldest first");

    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(
        jobs::complete_many(tx.conn(), "L1", &[a[0].id.clone()])
            .await
            .unwrap(),
        1
    );
    assert!(
        !jobs::complete(tx.conn(), &a[1].id, "WRONG", None)
            .await
            .unwrap(),
        "fenced by the lease"
    );
    let out = jobs::fail(
        tx.conn(),
        &a[1].id,
        "L1",
        "boom",
        Utc::now() - Duration::seconds(1),
        false,
    )
    .await
    .unwrap();
    assert_eq!(out, FailOutcome::Retrying);
    tx.commit().await.unwrap();

    // The retried job runs again and, on its second (last) failure, becomes a dead letter.
    let mut tx = t.db.begin().await.unwrap();
    let again = jobs::claim(tx.conn(), &q, "w1", "L3", 10, lease)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
    let out = jobs::fail(
        tx.conn(),
        &again[0].id,
        "L3",
        "boom again",
        Utc::now(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(out, FailOutcome::Dead);
    tx.commit().await.unwrap();

    // A lost worker: w2's lease expires and the job is released to others.
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(
        jobs::reap_expired(tx.conn(), Utc::now() - Duration::seconds(5))
            .await
            .unwrap(),
        0,
        "not expired yet then"
    );
    assert_eq!(jobs::reap_expired(tx.conn(), Utc::now()).await.unwrap(), 1);
    assert!(
        !jobs::complete(tx.conn(), &b[0].id, "L2", None)
            .await
            .unwrap(),
        "the lost worker can no longer complete it"
    );
    let taken = jobs::claim(tx.conn(), &q, "w3", "L4", 10, lease)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, b[0].id);
    tx.commit().await.unwrap();

    // Dead letters are visible and retryable.
    let mut tx = t.db.begin().await.unwrap();
    let dead = jobs::get(tx.conn(), &JobScope::All, &again[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.status, jobs::JobStatus::Dead);
    assert_eq!(dead.last_error.as_deref(), Some("boom again"));
    assert!(
        jobs::retry(tx.conn(), &JobScope::All, &again[0].id)
            .await
            .unwrap()
    );
    assert!(
        !jobs::retry(tx.conn(), &JobScope::All, &again[0].id)
            .await
            .unwrap(),
        "only dead jobs are retried"
    );
    let back = jobs::get(tx.conn(), &JobScope::All, &again[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((back.status, back.attempts), (jobs::JobStatus::Ready, 0));
    tx.commit().await.unwrap();
}

async fn ordering_keys_run_one_at_a_time_in_order(t: TestDb) {
    let mut tx = t.db.begin().await.unwrap();
    for i in 0..3 {
        let mut j = NewJob::new("test::ordered", serde_json::json!({ "i": i }));
        j.ordering_key = Some("obj-1".into());
        jobs::enqueue(&mut tx, &j).await.unwrap();
    }
    jobs::enqueue(&mut tx, &NewJob::new("test::free", serde_json::json!({})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let q = vec!["default".to_owned()];
    let lease = Utc::now() + Duration::seconds(30);
    let mut seen = Vec::new();
    for round in 0..3 {
        let mut tx = t.db.begin().await.unwrap();
        let got = jobs::claim(tx.conn(), &q, "w", &format!("L{round}"), 10, lease)
            .await
            .unwrap();
        let ordered: Vec<_> = got.iter().filter(|j| j.kind == "test::ordered").collect();
        assert_eq!(
            ordered.len(),
            1,
            "only the head of an ordering key is claimable"
        );
        seen.push(ordered[0].payload["i"].as_i64().unwrap());
        // While it runs, the next one stays blocked.
        assert!(
            jobs::claim(tx.conn(), &q, "w", "X", 10, lease)
                .await
                .unwrap()
                .is_empty()
        );
        for j in &got {
            jobs::complete(tx.conn(), &j.id, &j.lease_token, None)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    assert_eq!(seen, [0, 1, 2]);
}

async fn schedules_advance_once_per_tick(t: TestDb) {
    let tick = Utc::now() - Duration::seconds(1);
    let tick = chrono::DateTime::from_timestamp_millis(tick.timestamp_millis()).unwrap();
    let mut tx = t.db.begin().await.unwrap();
    schedules::declare(
        tx.conn(),
        "test.sweep",
        "* * * * *",
        "test::sweep",
        &serde_json::json!({}),
        tick,
    )
    .await
    .unwrap();
    schedules::declare(
        tx.conn(),
        "test.sweep",
        "0 0 * * *",
        "test::other",
        &serde_json::json!({}),
        tick,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    let due = schedules::due(r.conn(), Utc::now()).await.unwrap();
    drop(r);
    assert_eq!(due.len(), 1);
    assert_eq!(
        due[0].cron, "* * * * *",
        "declaring again keeps the stored definition"
    );
    let next = tick + Duration::minutes(1);
    let mut wins = 0;
    for _ in 0..3 {
        let mut tx = t.db.begin().await.unwrap();
        if schedules::advance(tx.conn(), "test.sweep", due[0].next_run_at, next)
            .await
            .unwrap()
        {
            wins += 1;
        }
        tx.commit().await.unwrap();
    }
    assert_eq!(wins, 1);
    let mut tx = t.db.begin().await.unwrap();
    schedules::record_run(tx.conn(), "test.sweep", "done", Some(42), Some(1), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    let s = schedules::get(r.conn(), "test.sweep")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.runs, s.last_items, s.last_failures, s.next_run_at),
        (1, Some(42), Some(1), next)
    );
}

async fn idempotency_keys_replay_and_refuse_mismatch(t: TestDb) {
    let a = tenant(&t, "a").await;
    let req = idempotency::KeyedRequest {
        tenant_id: &a,
        principal_id: "usr_1",
        key: "k",
        method: "POST",
        path: "/api/v1/clients",
        request_hash: "h1",
    };
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(
        idempotency::begin(tx.conn(), &req, 60_000).await.unwrap(),
        idempotency::Begin::Proceed
    );
    assert_eq!(
        idempotency::begin(tx.conn(), &req, 60_000).await.unwrap(),
        idempotency::Begin::InProgress
    );
    idempotency::finish(
        tx.conn(),
        &req,
        201,
        b"{\"id\":1}",
        Some("application/json"),
    )
    .await
    .unwrap();
    let replay = idempotency::begin(tx.conn(), &req, 60_000).await.unwrap();
    assert_eq!(
        replay,
        idempotency::Begin::Replay {
            status: 201,
            body: b"{\"id\":1}".to_vec(),
            content_type: Some("application/json".into())
        }
    );
    let other = idempotency::KeyedRequest {
        request_hash: "h2",
        ..req.clone()
    };
    assert_eq!(
        idempotency::begin(tx.conn(), &other, 60_000).await.unwrap(),
        idempotency::Begin::Mismatch
    );
    tx.commit().await.unwrap();
}

async fn outbox_is_taken_in_order_and_once(t: TestDb) {
    let a = tenant(&t, "a").await;
    let cid = ClientId::new();
    let mut tx = t.db.begin().await.unwrap();
    for i in 0..5 {
        events::append(
            &mut tx,
            events::NewEvent {
                tenant_id: &a,
                kind: "client.updated",
                object_type: "client",
                object_id: cid.as_str(),
                payload: serde_json::json!({ "i": i }),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = t.db.begin().await.unwrap();
    let got = events::take_undispatched(tx.conn(), 3).await.unwrap();
    assert_eq!(
        got.iter()
            .map(|e| e.payload["i"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    events::mark_dispatched(tx.conn(), &got.iter().map(|e| e.seq).collect::<Vec<_>>())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = t.db.begin().await.unwrap();
    let rest = events::take_undispatched(tx.conn(), 10).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].payload["i"], 3);
    tx.rollback().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    assert_eq!(
        events::for_object(r.conn(), &a, "client", cid.as_str(), 10)
            .await
            .unwrap()
            .len(),
        5
    );
}

async fn a_rolled_back_transaction_leaves_nothing(t: TestDb) {
    let a = tenant(&t, "a").await;
    let mut tx = t.db.begin().await.unwrap();
    clients::insert(tx.conn(), &a, &details("Ghost"))
        .await
        .unwrap();
    jobs::enqueue(&mut tx, &NewJob::new("test::noop", serde_json::json!({})))
        .await
        .unwrap();
    drop(tx);
    let mut r = t.db.read().await.unwrap();
    let (items, total) = clients::list(
        r.conn(),
        &Scope::tenant(a),
        &Default::default(),
        PageRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!((items.len(), total), (0, 0));
    let (jobs, _) = jobs::list(
        r.conn(),
        &JobScope::All,
        &Default::default(),
        PageRequest::default(),
    )
    .await
    .unwrap();
    assert!(jobs.is_empty());
}

db_tests!(
    clients_are_scoped_to_tenant_and_client,
    tokens_stop_working_when_user_is_deleted,
    client_users_need_a_client,
    unique_keys_enqueue_once,
    claim_complete_fail_and_reap,
    ordering_keys_run_one_at_a_time_in_order,
    schedules_advance_once_per_tick,
    idempotency_keys_replay_and_refuse_mismatch,
    outbox_is_taken_in_order_and_once,
    a_rolled_back_transaction_leaves_nothing,
);
