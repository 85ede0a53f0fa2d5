//! The DNS repositories on both backends: zones scoped by tenant and client, names unique per
//! tenant and once per installation for served zones, records in chunks (bulk writes, batch
//! changes that split and drop chunks, paging), what the DNS servers poll, providers,
//! secondaries and the provider call log.

use std::collections::BTreeMap;

use panel1_core::{ClientId, DnsProviderId, PageRequest, Scope, TenantId, ZoneId};
use panel1_store::dns_providers::{self, NewProvider, NewProviderCall};
use panel1_store::dns_zones::{
    self, NewZone, RecordFilter, RecordRef, RecordRow, SoaFields, ZoneUpdate,
};
use panel1_store::testing::TestDb;
use panel1_store::{StoreError, clients, db_tests, tenants};

async fn tenant(t: &TestDb, slug: &str) -> TenantId {
    let mut tx = t.db.begin().await.unwrap();
    let ten = tenants::insert(tx.conn(), slug, slug).await.unwrap();
    tx.commit().await.unwrap();
    ten.id
}

async fn client(t: &TestDb, tenant: &TenantId, name: &str) -> ClientId {
    let mut tx = t.db.begin().await.unwrap();
    let d = clients::ClientDetails {
        name: name.into(),
        company: None,
        email: format!("{name}@example.com"),
        phone: None,
        address1: None,
        address2: None,
        city: None,
        state: None,
        postal_code: None,
        country: None,
        status: "active".into(),
        notes: None,
    };
    let c = clients::insert(tx.conn(), tenant, &d).await.unwrap();
    tx.commit().await.unwrap();
    c.id
}

fn soa() -> SoaFields {
    SoaFields {
        mname: "ns1.example.net.".into(),
        rname: "hostmaster.example.net.".into(),
        serial: 2026010100,
        refresh: 10800,
        retry: 3600,
        expire: 1209600,
        minimum: 300,
        ttl: 3600,
    }
}

async fn zone(
    t: &TestDb,
    tenant: &TenantId,
    client: Option<&ClientId>,
    name: &str,
    provider: Option<&DnsProviderId>,
) -> Result<dns_zones::Zone, StoreError> {
    let mut tx = t.db.begin().await.unwrap();
    let id = ZoneId::new();
    let s = soa();
    let z = dns_zones::insert(
        tx.conn(),
        &NewZone {
            id: &id,
            tenant_id: tenant,
            client_id: client,
            name,
            name_unicode: name,
            provider_id: provider,
            domain_id: None,
            soa: &s,
            default_ttl: 3600,
        },
    )
    .await?;
    tx.commit().await.unwrap();
    Ok(z)
}

async fn zones_are_scoped_and_names_unique(t: TestDb) {
    let a = tenant(&t, "a").await;
    let b = tenant(&t, "b").await;
    let ann = client(&t, &a, "ann").await;
    let bob = client(&t, &a, "bob").await;
    let z = zone(&t, &a, Some(&ann), "example.com", None).await.unwrap();
    assert_eq!((z.version, z.next_record_id, z.record_count), (1, 1, 0));

    let mut r = t.db.read().await.unwrap();
    let got = dns_zones::get(r.conn(), &Scope::tenant(a.clone()), &z.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, z);
    assert!(
        dns_zones::get(r.conn(), &Scope::tenant(b.clone()), &z.id)
            .await
            .unwrap()
            .is_none(),
        "another tenant does not see the zone"
    );
    assert!(
        dns_zones::get(r.conn(), &Scope::client(a.clone(), bob.clone()), &z.id)
            .await
            .unwrap()
            .is_none(),
        "another client does not see the zone"
    );
    assert!(
        dns_zones::get(r.conn(), &Scope::client(a.clone(), ann.clone()), &z.id)
            .await
            .unwrap()
            .is_some()
    );
    drop(r);

    // The same name twice in a tenant, or served twice by the installation, is refused.
    match zone(&t, &a, None, "example.com", None).await {
        // Both indexes refuse it; which one is reported first depends on the backend.
        Err(StoreError::Conflict { constraint }) => assert!(
            ["dns_zones_name", "dns_zones_served_name"].contains(&constraint.as_str()),
            "{constraint}"
        ),
        other => panic!("{other:?}"),
    }
    match zone(&t, &b, None, "example.com", None).await {
        Err(StoreError::Conflict { constraint }) => {
            assert_eq!(constraint, "dns_zones_served_name")
        }
        other => panic!("{other:?}"),
    }
    // Pushed to an external provider, another tenant may have the name.
    let mut tx = t.db.begin().await.unwrap();
    let pid = DnsProviderId::new();
    dns_providers::insert_provider(
        tx.conn(),
        &NewProvider {
            id: &pid,
            tenant_id: &b,
            name: "pdns",
            kind: "powerdns",
            settings: &serde_json::json!({"api_url": "http://127.0.0.1:1"}),
            secret_sealed: Some("sealed"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let zb = zone(&t, &b, None, "example.com", Some(&pid)).await.unwrap();
    assert_eq!(zb.provider_status.as_deref(), Some("pending"));

    zone(&t, &a, Some(&bob), "sub.example.com", None)
        .await
        .unwrap();
    let mut r = t.db.read().await.unwrap();
    let (items, total) = dns_zones::list(
        r.conn(),
        &Scope::tenant(a.clone()),
        &Default::default(),
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(total, 2);
    assert_eq!(items[0].name, "example.com");
    let (items, total) = dns_zones::list(
        r.conn(),
        &Scope::client(a.clone(), bob.clone()),
        &Default::default(),
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!((total, items[0].name.as_str()), (1, "sub.example.com"));
    // The most specific zone holding a name comes first; a client sees only its own.
    let enclosing = dns_zones::enclosing(
        r.conn(),
        &Scope::tenant(a.clone()),
        "_acme-challenge.www.sub.example.com.",
    )
    .await
    .unwrap();
    let names: Vec<&str> = enclosing.iter().map(|z| z.name.as_str()).collect();
    assert_eq!(names, ["sub.example.com", "example.com"]);
    let enclosing = dns_zones::enclosing(
        r.conn(),
        &Scope::client(a.clone(), ann.clone()),
        "www.sub.example.com",
    )
    .await
    .unwrap();
    assert_eq!(enclosing.len(), 1);
    assert_eq!(enclosing[0].name, "example.com");
}

fn content(i: i64) -> String {
    match i % 4 {
        0 => format!("10.0.{}.{}", i / 256 % 256, i % 256),
        1 => format!("\"tab\there\" \"back\\\\slash {i}\""),
        2 => format!("10 mail{i}.example.com."),
        _ => format!("\"{}\"", "x".repeat((i % 300) as usize)),
    }
}

fn rows(ids: std::ops::Range<i64>) -> Vec<RecordRow> {
    ids.map(|i| RecordRow {
        id: i,
        name: if i % 7 == 0 {
            "@".into()
        } else {
            format!("h{i}")
        },
        rtype: ["A", "TXT", "MX", "TXT"][(i % 4) as usize].into(),
        ttl: 300 + i,
        content: content(i),
    })
    .collect()
}

async fn records_in_chunks_round_trip_and_change(t: TestDb) {
    let a = tenant(&t, "a").await;
    let z = zone(&t, &a, None, "example.com", None).await.unwrap();
    let other = zone(&t, &a, None, "example.org", None).await.unwrap();
    let initial = rows(1..3001);
    let mut model: BTreeMap<i64, RecordRow> = initial.iter().map(|r| (r.id, r.clone())).collect();
    let mut tx = t.db.begin().await.unwrap();
    let refs: Vec<RecordRef<'_>> = initial.iter().map(RecordRow::as_ref).collect();
    dns_zones::insert_records(tx.conn(), z.seq, &refs)
        .await
        .unwrap();
    dns_zones::insert_records(tx.conn(), other.seq, &refs[..10])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut r = t.db.read().await.unwrap();
    let all = dns_zones::all_records(r.conn(), z.seq).await.unwrap();
    assert_eq!(all, model.values().cloned().collect::<Vec<_>>());
    assert_eq!(
        dns_zones::get_record(r.conn(), z.seq, 1234).await.unwrap(),
        model.get(&1234).cloned()
    );
    assert_eq!(
        dns_zones::get_record(r.conn(), z.seq, 99_999)
            .await
            .unwrap(),
        None
    );
    drop(r);

    // A batch: updates in the middle, deletes (one whole chunk's worth), many appends.
    let updates: Vec<RecordRow> = (100..110)
        .map(|i| RecordRow {
            id: i,
            name: format!("changed{i}"),
            rtype: "CNAME".into(),
            ttl: 60,
            content: "target.example.com.".into(),
        })
        .collect();
    let deletes: Vec<i64> = (500..700).chain([1, 3000]).collect();
    let appends = rows(3001..4001);
    let mut upserts: Vec<RecordRef<'_>> = updates.iter().map(RecordRow::as_ref).collect();
    upserts.extend(appends.iter().map(RecordRow::as_ref));
    let mut tx = t.db.begin().await.unwrap();
    dns_zones::change_records(tx.conn(), z.seq, &upserts, &deletes)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for u in updates.iter().chain(&appends) {
        model.insert(u.id, u.clone());
    }
    for d in &deletes {
        model.remove(d);
    }
    let mut r = t.db.read().await.unwrap();
    let all = dns_zones::all_records(r.conn(), z.seq).await.unwrap();
    assert_eq!(all.len(), model.len());
    assert_eq!(all, model.values().cloned().collect::<Vec<_>>());
    let (other_rows, _) = dns_zones::list_records(
        r.conn(),
        &other,
        &RecordFilter::default(),
        PageRequest::first(100),
    )
    .await
    .unwrap();
    assert_eq!(other_rows.len(), 10, "the other zone is untouched");

    // Pages line up with the model at any offset.
    let expected: Vec<RecordRow> = model.values().cloned().collect();
    let zone_now = dns_zones::Zone {
        record_count: model.len() as i64,
        ..z.clone()
    };
    for (page, limit) in [(1u32, 50u32), (7, 100), (38, 100), (39, 100), (400, 10)] {
        let req = PageRequest::new(Some(page), Some(limit)).unwrap();
        let (items, total) =
            dns_zones::list_records(r.conn(), &zone_now, &RecordFilter::default(), req)
                .await
                .unwrap();
        assert_eq!(total as usize, model.len());
        let from = ((page - 1) * limit) as usize;
        let want: Vec<RecordRow> = expected
            .iter()
            .skip(from)
            .take(limit as usize)
            .cloned()
            .collect();
        assert_eq!(items, want, "page {page} of {limit}");
    }
    let (items, total) = dns_zones::list_records(
        r.conn(),
        &zone_now,
        &RecordFilter {
            name: None,
            rtype: Some("cname".into()),
        },
        PageRequest::first(5),
    )
    .await
    .unwrap();
    assert_eq!(total, 10);
    assert_eq!(items[0].name, "changed100");
    drop(r);

    // Delete everything by id: every chunk goes.
    let ids: Vec<i64> = model.keys().copied().collect();
    let mut tx = t.db.begin().await.unwrap();
    dns_zones::change_records(tx.conn(), z.seq, &[], &ids)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    assert!(
        dns_zones::all_records(r.conn(), z.seq)
            .await
            .unwrap()
            .is_empty()
    );
    drop(r);
    // Then records come back into an empty zone.
    let fresh = rows(5000..5003);
    let refs: Vec<RecordRef<'_>> = fresh.iter().map(RecordRow::as_ref).collect();
    let mut tx = t.db.begin().await.unwrap();
    dns_zones::change_records(tx.conn(), z.seq, &refs, &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    assert_eq!(
        dns_zones::all_records(r.conn(), z.seq).await.unwrap(),
        fresh
    );
}

async fn the_servers_poll_versions_and_see_deletions(t: TestDb) {
    let a = tenant(&t, "a").await;
    let before = panel1_core::time::now_millis();
    let z = zone(&t, &a, None, "example.com", None).await.unwrap();
    let mut r = t.db.read().await.unwrap();
    let served = dns_zones::served_zones(r.conn()).await.unwrap();
    assert_eq!(served.len(), 1);
    assert_eq!(
        (served[0].seq, served[0].version, served[0].hosted),
        (z.seq, 1, true)
    );
    drop(r);

    let mut tx = t.db.begin().await.unwrap();
    let locked = dns_zones::get_for_update(tx.conn(), &Scope::tenant(a.clone()), &z.id)
        .await
        .unwrap()
        .unwrap();
    let mut s = soa();
    s.serial += 1;
    let v = dns_zones::record_change(
        tx.conn(),
        &locked,
        &ZoneUpdate {
            soa: &s,
            next_record_id: 5,
            record_count: 4,
            provider_pending: false,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(v, 2);
    let mut r = t.db.read().await.unwrap();
    let now = dns_zones::get(r.conn(), &Scope::tenant(a.clone()), &z.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (now.version, now.soa.serial, now.next_record_id),
        (2, s.serial, 5)
    );
    let changed = dns_zones::changed_since(r.conn(), before).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].version, 2);
    drop(r);

    // Recording a change from a stale read fails instead of losing a change.
    let mut tx = t.db.begin().await.unwrap();
    assert!(
        dns_zones::record_change(
            tx.conn(),
            &z,
            &ZoneUpdate {
                soa: &s,
                next_record_id: 5,
                record_count: 4,
                provider_pending: false,
            },
        )
        .await
        .is_err()
    );
    drop(tx);

    let mut tx = t.db.begin().await.unwrap();
    dns_zones::delete(tx.conn(), &now).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    assert!(dns_zones::served_zones(r.conn()).await.unwrap().is_empty());
    let changed = dns_zones::changed_since(r.conn(), before).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert!(!changed[0].hosted, "a deleted zone is no longer served");
    assert_eq!(changed[0].version, 3);
    assert!(
        dns_zones::get(r.conn(), &Scope::tenant(a.clone()), &z.id)
            .await
            .unwrap()
            .is_none()
    );
    drop(r);
    // The name is free again.
    zone(&t, &a, None, "example.com", None).await.unwrap();
}

async fn providers_secondaries_and_calls(t: TestDb) {
    let a = tenant(&t, "a").await;
    let b = tenant(&t, "b").await;
    let pid = DnsProviderId::new();
    let mut tx = t.db.begin().await.unwrap();
    dns_providers::insert_provider(
        tx.conn(),
        &NewProvider {
            id: &pid,
            tenant_id: &a,
            name: "pdns",
            kind: "powerdns",
            settings: &serde_json::json!({"api_url": "http://127.0.0.1:8081"}),
            secret_sealed: Some("v1.sealed"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let z = zone(&t, &a, None, "example.com", Some(&pid)).await.unwrap();
    let mut r = t.db.read().await.unwrap();
    assert!(
        dns_providers::get_provider(r.conn(), &b, &pid)
            .await
            .unwrap()
            .is_none()
    );
    let p = dns_providers::get_provider(r.conn(), &a, &pid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.secret_sealed.as_deref(), Some("v1.sealed"));
    assert_eq!(
        dns_providers::zones_using(r.conn(), &a, &pid)
            .await
            .unwrap(),
        1
    );
    drop(r);

    let mut tx = t.db.begin().await.unwrap();
    for (op, err) in [("sync_zone", Some("timeout")), ("sync_zone", None)] {
        dns_providers::log_call(
            tx.conn(),
            &NewProviderCall {
                tenant_id: &a,
                provider_id: &pid,
                zone_id: Some(&z.id),
                zone_name: &z.name,
                operation: op,
                error: err,
                retryable: err.is_some(),
                duration_ms: 12,
            },
        )
        .await
        .unwrap();
    }
    dns_zones::set_provider_status(tx.conn(), z.seq, "synced", 1, None)
        .await
        .unwrap();
    // An older push finishing late does not overwrite a newer outcome.
    dns_zones::set_provider_status(tx.conn(), z.seq, "failed", 0, Some("old"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    let calls = dns_providers::list_calls(r.conn(), &Scope::tenant(a.clone()), &z.id, 10)
        .await
        .unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().any(|c| c.outcome == "error" && c.retryable));
    assert!(
        dns_providers::list_calls(r.conn(), &Scope::tenant(b.clone()), &z.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let zz = dns_zones::get(r.conn(), &Scope::tenant(a.clone()), &z.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(zz.provider_status.as_deref(), Some("synced"));
    assert!(zz.provider_synced_at.is_some());
    drop(r);

    let s = dns_providers::DnsSecondary {
        id: panel1_core::DnsSecondaryId::new(),
        tenant_id: a.clone(),
        name: "knot".into(),
        notify_address: Some("192.0.2.1:53".into()),
        allow_from: Some("192.0.2.0/24".into()),
        tsig_name: Some("xfr.".into()),
        tsig_algorithm: Some("hmac-sha256".into()),
        tsig_sealed: Some("v1.sealed".into()),
        created_at: chrono::DateTime::from_timestamp_millis(1_700_000_000_000).unwrap(),
    };
    let mut tx = t.db.begin().await.unwrap();
    dns_providers::insert_secondary(tx.conn(), &s)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A TSIG key name is one key on the server: another tenant cannot reuse it.
    let mut tx = t.db.begin().await.unwrap();
    let clash = dns_providers::DnsSecondary {
        id: panel1_core::DnsSecondaryId::new(),
        tenant_id: b.clone(),
        ..s.clone()
    };
    assert!(matches!(
        dns_providers::insert_secondary(tx.conn(), &clash).await,
        Err(StoreError::Conflict { .. })
    ));
    drop(tx);
    let mut r = t.db.read().await.unwrap();
    assert_eq!(
        dns_providers::list_secondaries(r.conn(), &a).await.unwrap(),
        vec![s.clone()]
    );
    assert!(
        dns_providers::list_secondaries(r.conn(), &b)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        dns_providers::all_secondaries(r.conn())
            .await
            .unwrap()
            .len(),
        1
    );
    drop(r);
    let mut tx = t.db.begin().await.unwrap();
    assert!(
        !dns_providers::delete_secondary(tx.conn(), &b, &s.id)
            .await
            .unwrap()
    );
    assert!(
        dns_providers::delete_secondary(tx.conn(), &a, &s.id)
            .await
            .unwrap()
    );
    assert!(
        dns_providers::delete_provider(tx.conn(), &a, &pid)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let mut r = t.db.read().await.unwrap();
    assert!(
        dns_providers::list_providers(r.conn(), &a)
            .await
            .unwrap()
            .is_empty()
    );
}

db_tests!(
    zones_are_scoped_and_names_unique,
    records_in_chunks_round_trip_and_change,
    the_servers_poll_versions_and_see_deletions,
    providers_secondaries_and_calls,
);
