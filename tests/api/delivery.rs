//! The delivery table's claims and records (`store/delivery.rs`), driven
//! directly on a migrated database: what the worker's guarantees rest on.
//! A claim takes each subscription's oldest pending rows as one run, leased
//! to one node; no other node gets any row of a subscription while a run of
//! it is leased; acknowledged rows are recorded many at once, and only by
//! the node holding their lease; rows given back are claimed again.

use ipe::store::{Delivered, Delivery, DeliveryKind, Focus, NewDelivery, Store};

use crate::helpers::{fresh_database, Backend};
use crate::on_both_backends;

const LEASE: i64 = 1_000_000;

async fn store(backend: Backend) -> Store {
    let store = Store::connect(&fresh_database(backend).await, 4).await.expect("store");
    store.migrate().await.expect("migrate");
    store
}

/// Queues `count` events for each of `subs`, interleaved as one change
/// after another would (each change notifies every subscription).
async fn queue(store: &Store, subs: &[&str], count: usize) -> Vec<Vec<Option<i64>>> {
    let (mut tx, cursor) = store.begin_dispatch("test").await.expect("dispatch");
    let mut numbers = Vec::new();
    for n in 0..count {
        let focus = Focus {
            resource_type: "Encounter".into(),
            id: format!("e{n}"),
            version: 1,
            op: "create".into(),
        };
        let all: Vec<NewDelivery<'_>> = subs
            .iter()
            .map(|sub_id| NewDelivery {
                sub_id,
                kind: DeliveryKind::Event,
                channel: "rest-hook",
                focus: Some(&focus),
                at: 1,
            })
            .collect();
        numbers.push(tx.queue_all(&all).await.expect("queue"));
    }
    tx.finish(cursor).await.expect("finish");
    numbers
}

fn events(claimed: &[Delivery], sub_id: &str) -> Vec<i64> {
    claimed
        .iter()
        .filter(|d| d.sub_id == sub_id)
        .filter_map(|d| d.event_number)
        .collect()
}

fn delivered(rows: &[Delivery]) -> Vec<Delivered> {
    rows.iter()
        .map(|d| Delivered {
            id: d.id,
            sub_id: d.sub_id.clone(),
            latency_us: 5,
        })
        .collect()
}

async fn claims_take_runs_that_no_other_node_can_enter(backend: Backend) {
    let store = store(backend).await;
    let numbers = queue(&store, &["a", "b"], 5).await;
    assert_eq!(numbers[0], vec![Some(1), Some(1)]);
    assert_eq!(
        numbers[4],
        vec![Some(5), Some(5)],
        "each subscription numbers its own events"
    );

    let claimed = store.claim_runs("n1", 10, 10 + LEASE, 10, 3, &[]).await.expect("claim");
    assert_eq!(events(&claimed, "a"), vec![1, 2, 3], "the oldest rows, in order");
    assert_eq!(events(&claimed, "b"), vec![1, 2, 3]);
    assert!(claimed.iter().all(|d| d.attempts == 1));
    let other = store.claim_runs("n2", 11, 11 + LEASE, 10, 3, &[]).await.expect("claim");
    assert!(other.is_empty(), "a leased run keeps the whole subscription: {other:?}");

    // Two of a's rows acknowledged and recorded together; the third given back.
    let a: Vec<Delivery> = claimed.iter().filter(|d| d.sub_id == "a").cloned().collect();
    let not_ours = store
        .record_delivered("n2", 12, &delivered(&a[..2]))
        .await
        .expect("record");
    assert!(not_ours.is_empty(), "only the node holding the lease records");
    let mut recorded = store
        .record_delivered("n1", 12, &delivered(&a[..2]))
        .await
        .expect("record");
    recorded.sort_unstable();
    assert_eq!(recorded, vec![a[0].id, a[1].id]);
    let counters = store.delivery_counters("a").await.expect("counters").expect("state");
    assert_eq!(
        (counters.delivered, counters.queued, counters.events_since_start),
        (2, 3, 5)
    );
    assert_eq!(counters.latency_max_us, 5);
    store.release_deliveries("n1", &[a[2].id]).await.expect("release");

    // The next claim starts at a's third event, its attempt not counted twice.
    let again = store
        .claim_runs("n2", 13, 13 + LEASE, 10, 10, &[])
        .await
        .expect("claim");
    assert_eq!(events(&again, "a"), vec![3, 4, 5]);
    assert!(again.iter().all(|d| d.attempts == 1), "{again:?}");
    assert!(events(&again, "b").is_empty(), "b's run is still leased to n1");
}

async fn an_expired_run_is_taken_over_and_its_old_owner_records_nothing(backend: Backend) {
    let store = store(backend).await;
    queue(&store, &["a"], 4).await;
    let first = store.claim_runs("n1", 10, 10 + LEASE, 10, 2, &[]).await.expect("claim");
    assert_eq!(events(&first, "a"), vec![1, 2]);
    // n1 is gone past its lease: n2 takes the run over from the oldest row.
    let later = 10 + LEASE + 1;
    let taken = store
        .claim_runs("n2", later, later + LEASE, 10, 10, &[])
        .await
        .expect("claim");
    assert_eq!(events(&taken, "a"), vec![1, 2, 3, 4]);
    assert!(taken[0].attempts == 2 && taken[2].attempts == 1);
    let late = store
        .record_delivered("n1", later, &delivered(&first))
        .await
        .expect("record");
    assert!(late.is_empty(), "a lost lease records nothing");
    let recorded = store
        .record_delivered("n2", later, &delivered(&taken))
        .await
        .expect("record");
    assert_eq!(recorded.len(), 4);
    let counters = store.delivery_counters("a").await.expect("counters").expect("state");
    assert_eq!((counters.delivered, counters.queued), (4, 0));
}

on_both_backends!(
    claims_take_runs_that_no_other_node_can_enter,
    an_expired_run_is_taken_over_and_its_old_owner_records_nothing,
);
