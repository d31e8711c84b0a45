//! What a restore drill checks in a PostgreSQL sandbox, against a real server: a faithful
//! restore passes, an empty table fails, an instance's own check passes at its floor, and a
//! check that would write is refused by the database while production keeps every row.

use std::collections::BTreeMap;

use lifeboat::drill::checks::{CheckResult, DrillSpec, LiveCount};
use lifeboat_local::postgres::PgCluster;
use lifeboat_postgres::drill_inspection::inspect;
use serde_json::json;
use tokio_postgres::Client;

const SCHEMA: &str = "
CREATE TABLE contacts (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE notes (id bigint PRIMARY KEY, contact_id bigint REFERENCES contacts (id), body text);
CREATE TABLE archive (id bigint PRIMARY KEY);
INSERT INTO contacts SELECT i, 'c' || i || '@example.com' FROM generate_series(1, 500) i;
INSERT INTO notes SELECT i, i, 'note ' || i FROM generate_series(1, 200) i;
";

struct Fixture {
    _cluster: PgCluster,
    dir: std::path::PathBuf,
    production: Client,
    sandbox: Client,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Production `prod` and its restored sandbox `lbd-sandbox`, a copy, with `damage` done
/// to the sandbox.
async fn fixture(damage: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!(
        "lifeboat-pgdrill-{}-{}",
        std::process::id(),
        chrono::Utc::now().format("%H%M%S%f")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cluster = PgCluster::start(&dir).await.unwrap();
    cluster.create_database("prod").await.unwrap();
    let production = cluster.connect("prod").await.unwrap();
    production.batch_execute(SCHEMA).await.unwrap();
    // The estimates a drill reads of production, as autovacuum keeps them.
    production.batch_execute("ANALYZE").await.unwrap();
    cluster.copy_database("prod", "lbd-sandbox").await.unwrap();
    let sandbox = cluster.connect("lbd-sandbox").await.unwrap();
    if !damage.is_empty() {
        sandbox.batch_execute(damage).await.unwrap();
    }
    Fixture {
        _cluster: cluster,
        dir,
        production,
        sandbox,
    }
}

fn by_name(results: Vec<CheckResult>) -> BTreeMap<String, CheckResult> {
    results.into_iter().map(|r| (r.name.clone(), r)).collect()
}

fn spec(checks: serde_json::Value) -> DrillSpec {
    let spec: DrillSpec = serde_json::from_value(json!({ "checks": checks })).unwrap();
    spec.validate().unwrap();
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faithful_sandbox_passes_every_check_with_its_counts_and_own_checks() {
    let f = fixture("").await;
    let checks = spec(
        json!([{"sql": "select count(*) from contacts where email like '%@example.com'", "at_least": 500}]),
    );
    let results = by_name(inspect(&f.production, &f.sandbox, &checks).await.unwrap());
    assert!(results.values().all(|r| r.passed), "{results:#?}");
    assert!(results["rows public.contacts"].detail.contains("500 rows, 1.00"));
    assert!(results["rows public.archive"].passed, "empty in both");
    assert!(results.keys().any(|k| k.starts_with("check 0")));
    assert!(results.contains_key("schema public.notes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_with_an_emptied_table_fails_and_a_check_below_its_floor_fails() {
    let f = fixture("DELETE FROM notes").await;
    let checks = spec(json!([{"sql": "select count(*) from notes", "at_least": 1}]));
    let results = by_name(inspect(&f.production, &f.sandbox, &checks).await.unwrap());
    assert!(!results["rows public.notes"].passed);
    assert!(results["rows public.notes"]
        .detail
        .contains("empty in the sandbox, 200 rows in production"));
    let own = results.iter().find(|(k, _)| k.starts_with("check 0")).unwrap().1;
    assert!(!own.passed && own.detail.contains("below the floor"), "{own:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_would_write_is_refused_by_the_database_and_writes_nothing() {
    let f = fixture("").await;
    let writing = spec(
        json!([{"sql": "with gone as (delete from contacts returning 1) select count(*) from gone", "at_least": 0}]),
    );
    let results = by_name(inspect(&f.production, &f.sandbox, &writing).await.unwrap());
    let own = results.iter().find(|(k, _)| k.starts_with("check 0")).unwrap().1;
    assert!(!own.passed && own.detail.contains("read-only"), "{own:?}");
    for db in [&f.sandbox, &f.production] {
        let n: i64 = db
            .query_one("select count(*) from contacts", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 500, "nothing deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_database_of_an_instance_is_compared_and_one_missing_from_the_sandbox_fails() {
    let dir = std::env::temp_dir().join(format!(
        "lifeboat-pgdrill-dbs-{}-{}",
        std::process::id(),
        chrono::Utc::now().format("%H%M%S%f")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cluster = PgCluster::start(&dir).await.unwrap();
    // Production: an instance holding two databases, `crm` and `billing`; its sandbox was
    // restored with `crm` only.
    for db in ["prod_crm", "prod_billing"] {
        cluster.create_database(db).await.unwrap();
        let c = cluster.connect(db).await.unwrap();
        c.batch_execute(SCHEMA).await.unwrap();
        c.batch_execute("ANALYZE").await.unwrap();
    }
    cluster.copy_database("prod_crm", "sb_crm").await.unwrap();
    let listed = lifeboat_postgres::drill_inspection::databases(&cluster.connect("prod_crm").await.unwrap())
        .await
        .unwrap();
    assert!(listed.contains(&"prod_billing".to_string()), "{listed:?}");
    assert!(!listed.iter().any(|d| d.starts_with("template")), "{listed:?}");

    let spec: DrillSpec =
        serde_json::from_value(json!({"checks": [{"sql": "select count(*) from contacts", "at_least": 1}]}))
            .unwrap();
    let cluster = &cluster;
    let connect = |in_sandbox: bool, db: String| async move {
        let name = format!("{}_{db}", if in_sandbox { "sb" } else { "prod" });
        cluster
            .connect(&name)
            .await
            .map_err(|e| lifeboat_postgres::PgError::refused(e.to_string()))
    };
    let names = ["billing".to_string(), "crm".to_string()];
    let results = lifeboat_postgres::drill_inspection::inspect_databases(&names, "crm", connect, &spec)
        .await
        .unwrap();
    let missing = results
        .iter()
        .find(|r| r.name == "billing: database")
        .expect("billing named");
    assert!(!missing.passed, "{missing:?}");
    let crm: Vec<&CheckResult> = results.iter().filter(|r| r.name.starts_with("crm: ")).collect();
    assert!(!crm.is_empty() && crm.iter().all(|r| r.passed), "{crm:?}");
    assert!(
        crm.iter().any(|r| r.name.starts_with("crm: check 0")),
        "the instance's own checks run in its own database: {crm:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Production's counts come from the statistics PostgreSQL keeps without `ANALYZE`, else the
/// planner's estimate, else an exact count: never "none" for a table that holds rows, and
/// each names what gave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_counts_name_their_source_and_never_read_none_where_rows_are() {
    let f = fixture("").await;
    f.production
        .batch_execute(
            "CREATE TABLE fresh (id bigint PRIMARY KEY) WITH (autovacuum_enabled = false);
             INSERT INTO fresh SELECT generate_series(1, 300);
             CREATE TABLE bare (id bigint PRIMARY KEY) WITH (autovacuum_enabled = false);
             INSERT INTO bare SELECT generate_series(1, 40);",
        )
        .await
        .unwrap();
    // `fresh`'s writes reach the statistics; `bare`'s are forgotten (a reset, as after a
    // crash), and neither is ever analyzed (autovacuum off for them); `contacts` was, then its
    // counters were reset.
    // (A session's counters reach the statistics when it goes idle: flushed first, then
    // reset.)
    f.production
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .await
        .unwrap();
    f.production
        .batch_execute(
            "SELECT pg_stat_reset_single_table_counters('bare'::regclass);
             SELECT pg_stat_reset_single_table_counters('contacts'::regclass);",
        )
        .await
        .unwrap();
    let catalog = lifeboat_postgres::schema::Schema::load(&f.production)
        .await
        .unwrap();
    let counts = lifeboat_postgres::drill_inspection::production_counts(&f.production, &catalog)
        .await
        .unwrap();
    let known = |table: &str| match &counts[table] {
        LiveCount::Known { rows, from } => (*rows, *from),
        other => panic!("{table}: {other:?}"),
    };
    let (rows, from) = known("public.fresh");
    assert_eq!(rows, 300);
    assert!(from.contains("n_live_tup"), "{from}");
    let (rows, from) = known("public.contacts");
    assert_eq!(rows, 500);
    assert!(from.contains("reltuples"), "{from}");
    let (rows, from) = known("public.bare");
    assert_eq!(rows, 40);
    assert!(from.contains("exact count"), "{from}");
    assert_eq!(
        known("public.archive").0,
        0,
        "an empty table is counted, not guessed"
    );
}
