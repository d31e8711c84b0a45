//! The PostgreSQL merge engine against a real PostgreSQL server (the local stack's cluster):
//! selection by keys, by filter and `missing`, with and without dependants; the extract's
//! batches and plan; the merge that never overwrites; retries that never duplicate.
//!
//! Production and staging are two databases of one throwaway cluster; staging is a copy of
//! production taken before "the loss", as an RDS restore would make it.

use std::sync::Arc;

use lifeboat::catalog::ResourceKey;
use lifeboat::execution::selective::{ResourceExtract, SkipReason, TablePlan};
use lifeboat::ports::memory::MemoryReports;
use lifeboat::ports::merger::{ExtractRequest, MergeRequest, Merger};
use lifeboat::ports::{FailureKind, ObjectStore};
use lifeboat::request::decision::{Records, Selection};
use lifeboat_local::postgres::PgCluster;
use lifeboat_postgres::{Connector, PgMerger};
use serde_json::{json, Value};
use tokio_postgres::Client;

const SCHEMA: &str = "
CREATE TABLE contacts (
  id bigint PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text NOT NULL,
  name_upper text GENERATED ALWAYS AS (upper(name)) STORED,
  referred_by bigint REFERENCES contacts (id) ON DELETE SET NULL);
CREATE TABLE applications (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  title text NOT NULL);
CREATE TABLE notes (
  id bigint PRIMARY KEY,
  application_id bigint REFERENCES applications (id) ON DELETE CASCADE,
  contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  body text);
INSERT INTO contacts (id, email, name, referred_by)
  SELECT i, 'c' || i || '@example.com', 'Contact ' || i, CASE WHEN i % 10 = 0 THEN i - 1 END
    FROM generate_series(1, 300) i;
INSERT INTO applications (contact_id, title)
  SELECT i, 'Application of ' || i || E', with \"quotes\", commas\nand a newline' FROM generate_series(1, 300) i;
INSERT INTO notes (id, application_id, contact_id, body)
  SELECT 2 * i - 1, i, i, 'note on application ' || i FROM generate_series(1, 300) i
  UNION ALL
  SELECT 2 * i, NULL, i, NULL FROM generate_series(1, 300) i;
UPDATE contacts SET referred_by = 150 WHERE id = 151;
";

struct Fixture {
    cluster: PgCluster,
    _dir: TempDir,
    merger: PgMerger,
    store: Arc<MemoryReports>,
    production: Client,
    staging: Client,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Production `prod` with the schema and data; staging `stage`, a copy of it; then `loss`
/// applied to production.
async fn fixture(loss: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!(
        "lifeboat-pgmerge-{}-{}",
        std::process::id(),
        chrono::Utc::now().format("%H%M%S%f")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cluster = PgCluster::start(&dir).await.unwrap();
    cluster.create_database("prod").await.unwrap();
    let production = cluster.connect("prod").await.unwrap();
    production.batch_execute(SCHEMA).await.unwrap();
    cluster.copy_database("prod", "stage").await.unwrap();
    let staging = cluster.connect("stage").await.unwrap();
    production.batch_execute(loss).await.unwrap();
    let store = Arc::new(MemoryReports::default());
    let merger = PgMerger::new(
        Connector::local(&cluster.url()).unwrap(),
        store.clone() as Arc<dyn ObjectStore>,
    );
    Fixture {
        cluster,
        _dir: TempDir(dir),
        merger,
        store,
        production,
        staging,
    }
}

fn selection(table: &str, records: Records, with_dependants: bool) -> Selection {
    Selection {
        resource: ResourceKey::rds("prod"),
        table: table.into(),
        records,
        with_dependants,
    }
}

fn filter(v: Value) -> Records {
    Records::Filter(v.as_object().unwrap().clone())
}

async fn extracted(
    f: &Fixture,
    request_id: &str,
    selections: &[Selection],
    batch_rows: u64,
) -> ResourceExtract {
    f.merger
        .extract(&ExtractRequest {
            request_id,
            resource: &ResourceKey::rds("prod"),
            production: "prod",
            staging: "stage",
            selections,
            batch_rows,
        })
        .await
        .unwrap()
}

/// The extract's tables, parents first, with their row counts.
fn tables_of(extract: &ResourceExtract) -> Vec<(&str, u64)> {
    extract
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.rows))
        .collect()
}

/// Merges every batch in order; returns the sum per table `(inserted, present, conflicts,
/// parent missing)`.
async fn merge_all(f: &Fixture, request_id: &str, extract: &ResourceExtract) -> Vec<(String, [u64; 4])> {
    let mut sums = Vec::new();
    for table in &extract.tables {
        let mut sum = [0; 4];
        for batch in &table.batches {
            let r = f
                .merger
                .merge(&MergeRequest {
                    request_id,
                    resource: &extract.resource,
                    production: "prod",
                    table,
                    batch,
                })
                .await
                .unwrap();
            assert_eq!(
                r.accounted(),
                batch.rows,
                "batch {} of {}",
                batch.index,
                table.table
            );
            sum = [
                sum[0] + r.inserted,
                sum[1] + r.present,
                sum[2] + r.conflicts,
                sum[3] + r.parent_missing,
            ];
        }
        sums.push((table.table.clone(), sum));
    }
    sums
}

/// The rows of `query` as text, for comparing databases row by row.
async fn rows(client: &Client, query: &str) -> Vec<String> {
    client
        .query(&format!("SELECT t::text FROM ({query}) t"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn count(client: &Client, query: &str) -> i64 {
    client.query_one(query, &[]).await.unwrap().get(0)
}

const MASS_DELETION: &str = "
DELETE FROM contacts WHERE id BETWEEN 101 AND 200;
UPDATE contacts SET name = 'Edited after the loss' WHERE id = 50;
UPDATE notes SET body = 'edited after the loss' WHERE id = 1;
INSERT INTO contacts (id, email, name) VALUES (1000, 'c150@example.com', 'Took the address of 150');
INSERT INTO applications (contact_id, title) VALUES (1000, 'Filed after the loss');
";

#[tokio::test]
async fn missing_contacts_come_back_with_their_dependants_and_nothing_later_is_overwritten() {
    let f = fixture(MASS_DELETION).await;
    let later = rows(
        &f.production,
        "SELECT * FROM contacts WHERE id NOT BETWEEN 101 AND 200 ORDER BY id",
    )
    .await;
    let later_apps = rows(&f.production, "SELECT * FROM applications ORDER BY id").await;
    let sel = [selection("contacts", Records::Missing(true), true)];
    let extract = extracted(&f, "r1", &sel, 40).await;

    let tables: Vec<_> = extract
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.rows, t.batches.len()))
        .collect();
    assert_eq!(
        tables,
        [
            ("public.contacts", 100, 3),
            ("public.applications", 100, 3),
            ("public.notes", 200, 5)
        ],
        "parents first, every dependant, batches of 40"
    );
    let contacts = &extract.tables[0];
    assert_eq!(
        contacts.plan,
        TablePlan {
            insert: 99,
            present: 0,
            conflicts: 1
        },
        "contact 150's address is taken now"
    );
    assert!(
        !contacts.columns.contains(&"name_upper".to_string()),
        "generated columns are not copied"
    );
    for b in &contacts.batches {
        assert!(
            ObjectStore::get(f.store.as_ref(), &b.key)
                .await
                .unwrap()
                .starts_with(&[0x1f, 0x8b]),
            "gzip"
        );
    }

    let sums = merge_all(&f, "r1", &extract).await;
    assert_eq!(
        sums,
        [
            ("public.contacts".to_string(), [98, 0, 1, 1]),
            ("public.applications".to_string(), [98, 0, 0, 2]),
            ("public.notes".to_string(), [196, 0, 0, 4]),
        ]
    );
    // Every restored row is as at the recovery point; the colliding contact stays out, and
    // so do the rows that need it (151, referred by 150 in the same batch, and their
    // applications and notes) rather than fail the batch; nothing that existed after the
    // loss changed.
    for (table, key) in [
        ("contacts", "id"),
        ("applications", "contact_id"),
        ("notes", "contact_id"),
    ] {
        let restored = format!(
            "SELECT * FROM {table} WHERE {key} BETWEEN 101 AND 200 AND {key} NOT IN (150, 151) ORDER BY id"
        );
        assert_eq!(
            rows(&f.production, &restored).await,
            rows(&f.staging, &restored).await,
            "{table}"
        );
        assert_eq!(
            count(
                &f.production,
                &format!("SELECT count(*) FROM {table} WHERE {key} IN (150, 151)")
            )
            .await,
            0
        );
    }
    assert_eq!(
        rows(
            &f.production,
            "SELECT * FROM contacts WHERE id NOT BETWEEN 101 AND 200 ORDER BY id"
        )
        .await,
        later
    );
    let apps_now = rows(
        &f.production,
        "SELECT * FROM applications WHERE contact_id NOT BETWEEN 101 AND 200 ORDER BY id",
    )
    .await;
    let apps_before: Vec<_> = later_apps.into_iter().collect();
    assert_eq!(apps_now, apps_before);
    assert_eq!(
        rows(&f.production, "SELECT body FROM notes WHERE id = 1").await,
        ["(\"edited after the loss\")"]
    );
    drop(f.cluster);
}

#[tokio::test]
async fn keys_and_filters_select_exactly_and_a_filter_value_is_only_a_value() {
    let f = fixture(
        "DELETE FROM contacts WHERE id IN (5, 6, 7); UPDATE contacts SET name = 'kept' WHERE id = 8;",
    )
    .await;
    // Keys, without dependants: the contacts alone; 8 is present and stays as edited; 9999
    // is not at the recovery point.
    let sel = [selection(
        "contacts",
        Records::Keys(vec![json!(5), json!({"id": 8}), json!(9999)]),
        false,
    )];
    let extract = extracted(&f, "keys", &sel, 1000).await;
    assert_eq!(extract.tables.len(), 1);
    assert_eq!(extract.keys_not_found, 1);
    assert_eq!(
        extract.tables[0].plan,
        TablePlan {
            insert: 1,
            present: 1,
            conflicts: 0
        }
    );
    let sums = merge_all(&f, "keys", &extract).await;
    assert_eq!(sums, [("public.contacts".to_string(), [1, 1, 0, 0])]);
    assert_eq!(
        count(
            &f.production,
            "SELECT count(*) FROM applications WHERE contact_id = 5"
        )
        .await,
        0
    );
    assert_eq!(
        rows(&f.production, "SELECT name FROM contacts WHERE id = 8").await,
        ["(kept)"]
    );

    // A filter with dependants: contact 6 (by email) with its application and notes.
    let sel = [selection(
        "contacts",
        filter(json!({"email": "c6@example.com"})),
        true,
    )];
    let extract = extracted(&f, "filter", &sel, 1000).await;
    assert_eq!(
        tables_of(&extract),
        [
            ("public.contacts", 1),
            ("public.applications", 1),
            ("public.notes", 2)
        ]
    );
    merge_all(&f, "filter", &extract).await;
    for q in [
        "SELECT * FROM contacts WHERE id = 6",
        "SELECT * FROM notes WHERE contact_id = 6 ORDER BY id",
    ] {
        assert_eq!(rows(&f.production, q).await, rows(&f.staging, q).await);
    }

    // An injection attempt is a value no row has: nothing selected, nothing written.
    let before = count(&f.production, "SELECT count(*) FROM contacts").await;
    let sel = [selection(
        "contacts",
        filter(json!({"email": "x' OR '1'='1"})),
        true,
    )];
    let extract = extracted(&f, "inject", &sel, 1000).await;
    assert!(extract.tables.is_empty());
    assert_eq!(
        count(&f.production, "SELECT count(*) FROM contacts").await,
        before
    );
    assert_eq!(count(&f.staging, "SELECT count(*) FROM contacts").await, 300);

    // A child selected alone brings the parents production lacks (contact 7), not others.
    let sel = [selection(
        "notes",
        Records::Keys(vec![json!(13), json!(14)]),
        false,
    )];
    let extract = extracted(&f, "child", &sel, 1000).await;
    assert_eq!(
        tables_of(&extract),
        [
            ("public.contacts", 1),
            ("public.applications", 1),
            ("public.notes", 2)
        ]
    );
    assert!(extract.tables[0].reasons[0].starts_with("parent production lacks"));
    merge_all(&f, "child", &extract).await;
    assert_eq!(
        count(&f.production, "SELECT count(*) FROM notes WHERE contact_id = 7").await,
        2
    );
}

#[tokio::test]
async fn names_the_database_lacks_are_refused_before_anything_is_selected() {
    let f = fixture("").await;
    let cases = [
        (
            selection("nosuch", Records::Missing(true), false),
            "no table \"nosuch\"",
        ),
        (
            selection(
                "contacts",
                filter(json!({"email\"; DROP TABLE contacts; --": "x"})),
                false,
            ),
            "has no column",
        ),
        (
            selection("contacts", Records::Keys(vec![json!({"org": 1})]), false),
            "not a key column",
        ),
    ];
    for (sel, why) in cases {
        let err = f
            .merger
            .extract(&ExtractRequest {
                request_id: "bad",
                resource: &ResourceKey::rds("prod"),
                production: "prod",
                staging: "stage",
                selections: &[sel],
                batch_rows: 10,
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused);
        assert!(err.message.contains(why), "{}", err.message);
    }
    assert_eq!(count(&f.production, "SELECT count(*) FROM contacts").await, 300);
}

#[tokio::test]
async fn a_retry_after_a_crash_between_batches_merges_every_row_exactly_once() {
    let f = fixture("DELETE FROM contacts WHERE id <= 100;").await;
    let sel = [selection("contacts", Records::Missing(true), true)];
    let extract = extracted(&f, "crash", &sel, 30).await;
    let contacts = &extract.tables[0];
    let request = |batch| MergeRequest {
        request_id: "crash",
        resource: &extract.resource,
        production: "prod",
        table: contacts,
        batch,
    };
    // The first two batches commit, then the invocation "crashes" before recording them.
    let first = f.merger.merge(&request(&contacts.batches[0])).await.unwrap();
    f.merger.merge(&request(&contacts.batches[1])).await.unwrap();
    // Two retries of batch 0 race; both answer what was committed, neither inserts again.
    let again = request(&contacts.batches[0]);
    let (a, b) = tokio::join!(f.merger.merge(&again), f.merger.merge(&again));
    assert_eq!(a.unwrap(), first);
    assert_eq!(b.unwrap(), first);
    // The retry runs the whole extract again from the start.
    let sums = merge_all(&f, "crash", &extract).await;
    assert_eq!(
        sums[0].1,
        [100, 0, 0, 0],
        "batches already committed report their first result"
    );
    let restored = "SELECT * FROM contacts WHERE id <= 100 ORDER BY id";
    assert_eq!(
        rows(&f.production, restored).await,
        rows(&f.staging, restored).await
    );
    assert_eq!(count(&f.production, "SELECT count(*) FROM notes").await, 600);
    let ledger = lifeboat_postgres::merge::ledger(&f.production, "crash")
        .await
        .unwrap();
    assert_eq!(
        ledger.len(),
        extract.tables.iter().map(|t| t.batches.len()).sum::<usize>()
    );

    // A batch whose stored file changed since the extract is refused, nothing written.
    let tampered = &contacts.batches[2];
    let other = ObjectStore::get(f.store.as_ref(), &contacts.batches[3].key)
        .await
        .unwrap();
    f.store
        .put(&tampered.key, other, "application/gzip")
        .await
        .unwrap();
    let err = f
        .merger
        .merge(&MergeRequest {
            request_id: "other",
            ..request(tampered)
        })
        .await
        .unwrap_err();
    assert!(
        err.message.contains("does not match the manifest"),
        "{}",
        err.message
    );
    let skipped = f.merger.merge(&request(&contacts.batches[0])).await.unwrap();
    assert!(skipped.skipped.is_empty() || skipped.skipped.iter().all(|s| s.reason == SkipReason::Present));
}

#[tokio::test]
async fn sequences_move_past_restored_ids() {
    // The loss emptied applications and reset its identity, as a TRUNCATE would.
    let f = fixture("TRUNCATE applications RESTART IDENTITY CASCADE;").await;
    let sel = [selection("applications", Records::Missing(true), true)];
    let extract = extracted(&f, "seq", &sel, 1000).await;
    assert_eq!(
        tables_of(&extract),
        [("public.applications", 300), ("public.notes", 300)]
    );
    merge_all(&f, "seq", &extract).await;
    let next: i64 = f
        .production
        .query_one(
            "INSERT INTO applications (contact_id, title) VALUES (1, 'new') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 301, "the identity continues after the restored ids");
}
