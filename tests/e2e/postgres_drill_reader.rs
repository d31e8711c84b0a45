//! What a drill reads in production needs no more than `pg_monitor`: a user granted only that
//! (as the README has operators create for each instance) lists the same databases and gets
//! the same checks as the master user, and cannot read a row.

use lifeboat::drill::checks::DrillSpec;
use lifeboat_local::postgres::PgCluster;
use lifeboat_postgres::drill_inspection::{databases, inspect};
use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

const SCHEMA: &str = "
CREATE SCHEMA crm;
CREATE TABLE crm.contacts (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE crm.notes (id bigint PRIMARY KEY, contact_id bigint REFERENCES crm.contacts (id), body text);
CREATE TABLE events (at timestamptz NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO crm.contacts SELECT i, 'c' || i || '@example.com' FROM generate_series(1, 300) i;
INSERT INTO crm.notes SELECT i, i, 'note ' || i FROM generate_series(1, 120) i;
INSERT INTO events SELECT '2026-06-01'::timestamptz + i * interval '1 minute', 'k' FROM generate_series(1, 50) i;
REVOKE ALL ON SCHEMA crm FROM PUBLIC;
";

async fn connect_as(cluster: &PgCluster, user: &str, database: &str) -> Client {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(cluster.port())
        .user(user)
        .dbname(database)
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting as {user} to {database}: {e}"));
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_monitor_reader_gets_what_the_master_user_gets_and_reads_no_row() {
    let dir = std::env::temp_dir().join(format!(
        "lifeboat-pgreader-{}-{}",
        std::process::id(),
        chrono::Utc::now().format("%H%M%S%f")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cluster = PgCluster::start(&dir).await.unwrap();
    cluster.create_database("prod").await.unwrap();
    cluster.create_database("prod_billing").await.unwrap();
    let master = cluster.connect("prod").await.unwrap();
    master.batch_execute(SCHEMA).await.unwrap();
    master.batch_execute("ANALYZE").await.unwrap();
    master
        .batch_execute(
            "CREATE ROLE lifeboat_drill_reader LOGIN PASSWORD 'x';
             GRANT pg_monitor TO lifeboat_drill_reader;",
        )
        .await
        .unwrap();
    cluster.copy_database("prod", "lbd-sandbox").await.unwrap();
    let sandbox = cluster.connect("lbd-sandbox").await.unwrap();
    let reader = connect_as(&cluster, "lifeboat_drill_reader", "prod").await;

    assert_eq!(
        databases(&reader).await.unwrap(),
        databases(&master).await.unwrap(),
        "the same databases listed"
    );
    let spec: DrillSpec =
        serde_json::from_value(json!({"checks": [{"sql": "select count(*) from crm.notes", "at_least": 1}]}))
            .unwrap();
    let as_master = inspect(&master, &sandbox, &spec).await.unwrap();
    let as_reader = inspect(&reader, &sandbox, &spec).await.unwrap();
    assert!(
        as_master.iter().any(|r| r.name.contains("crm.contacts")),
        "the master user sees the tables: {as_master:#?}"
    );
    assert_eq!(
        as_reader, as_master,
        "the reader gets every check the master user gets"
    );
    assert!(as_reader.iter().all(|r| r.passed), "{as_reader:#?}");

    // It is a reader of the catalog and statistics only: no row of production is readable.
    let e = reader
        .query("SELECT email FROM crm.contacts LIMIT 1", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{e:?}");
    let e = reader
        .query("SELECT * FROM events LIMIT 1", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{e:?}");
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}
