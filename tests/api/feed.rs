//! The change feed under concurrent writers: a reader polling while many
//! clients write sees every committed change exactly once, in an order
//! consistent with each resource's versions, with no row skipped.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use ipe::store::{ChangeOp, FeedCursor, Store};
use serde_json::json;

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

const WRITERS: usize = 12;
const WRITES_PER_WRITER: usize = 25;

async fn feed_reader_sees_every_change_once_under_concurrent_writers(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    let store = Store::connect(&app.database_url, 2).await.expect("store");
    let written = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));

    // The reader polls while writers run, advancing its cursor as it goes:
    // exactly what a subscription dispatcher will do.
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = FeedCursor::START;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store.changes_after(cursor, 50).await.expect("read feed");
                if let Some(last) = batch.last() {
                    cursor = last.cursor;
                }
                let empty = batch.is_empty();
                seen.extend(batch);
                if finished && empty {
                    return seen;
                }
                if empty {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (app, written) = (app.clone(), written.clone());
            tokio::spawn(async move {
                // Each writer creates, updates a shared resource (row locks),
                // and posts small transactions (several rows per commit).
                for i in 0..WRITES_PER_WRITER {
                    let n = match i % 3 {
                        0 => {
                            app.create(&json!({"resourceType": "Patient", "active": true})).await;
                            1
                        }
                        1 => {
                            let id = format!("shared{}", w % 3);
                            let r = app.put(&format!("Patient/{id}"), &json!({"resourceType": "Patient", "id": id})).await;
                            assert!(r.status == 200 || r.status == 201 || r.status == 409, "{}", r.text);
                            usize::from(r.status != 409)
                        }
                        _ => {
                            let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                                {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "a"}}, "request": {"method": "POST", "url": "Observation"}},
                                {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "b"}}, "request": {"method": "POST", "url": "Observation"}},
                            ]});
                            assert_eq!(app.post("", &b).await.status, 200);
                            2
                        }
                    };
                    written.fetch_add(n, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("reader");

    assert_eq!(
        seen.len(),
        written.load(Ordering::SeqCst),
        "every committed change is seen, once"
    );
    let unique: HashSet<_> = seen
        .iter()
        .map(|c| (c.resource_type.clone(), c.id.clone(), c.version))
        .collect();
    assert_eq!(unique.len(), seen.len(), "no change is handed out twice");
    assert!(
        seen.windows(2).all(|w| w[0].cursor < w[1].cursor),
        "cursors strictly increase"
    );
    // Per resource, versions arrive in order starting at 1, creates first.
    let mut last: HashMap<(String, String), i64> = HashMap::new();
    for c in &seen {
        let prev = last
            .insert((c.resource_type.clone(), c.id.clone()), c.version)
            .unwrap_or(0);
        assert_eq!(c.version, prev + 1, "{c:?}");
        assert_eq!(c.op == ChangeOp::Create, c.version == 1, "{c:?}");
    }
    // Nothing more appears after the drain.
    let cursor = seen.last().map(|c| c.cursor).unwrap_or(FeedCursor::START);
    assert!(store.changes_after(cursor, 10).await.expect("read").is_empty());
}

on_both_backends!(feed_reader_sees_every_change_once_under_concurrent_writers);
