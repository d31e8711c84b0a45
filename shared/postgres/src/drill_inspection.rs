//! What a restore drill reads in a restored sandbox and in production, read-only: tables and
//! their columns, each table's row count, and an instance's own check queries.
//!
//! Every statement runs in a `READ ONLY` transaction with a statement timeout, so a check
//! that would write (a data-modifying `WITH`) is refused by the database itself, and a
//! count of a large production table cannot hold it for long. Production's counts come from
//! the database's own statistics (see [`production_counts`]), each comparison naming which:
//! a drill must never put a full scan of every table on a customer's production.

use std::collections::{BTreeMap, BTreeSet};

use lifeboat::drill::checks::{
    compare_counts, compare_schema, sql_check, CheckResult, DrillCheck, DrillSpec, LiveCount,
};
use tokio_postgres::Client;

use super::schema::Schema as Catalog;
use super::PgError;

/// How long one statement of a drill may run.
const STATEMENT_TIMEOUT: &str = "60s";

/// The rows of `sql`, run on `client` inside a read-only transaction with the drill's
/// statement timeout, rolled back whatever happened.
async fn read_only(client: &Client, what: &str, sql: &str) -> Result<Vec<tokio_postgres::Row>, PgError> {
    read_only_within(client, what, sql, STATEMENT_TIMEOUT).await
}

/// [`read_only`] with its own statement timeout (PostgreSQL's notation: `5s`).
async fn read_only_within(
    client: &Client,
    what: &str,
    sql: &str,
    timeout: &str,
) -> Result<Vec<tokio_postgres::Row>, PgError> {
    client
        .batch_execute(&format!(
            "BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = '{timeout}'"
        ))
        .await
        .map_err(|e| PgError::query("starting a read-only transaction", e))?;
    let rows = client.query(sql, &[]).await.map_err(|e| PgError::query(what, e));
    client
        .batch_execute("ROLLBACK")
        .await
        .map_err(|e| PgError::query("ending the read-only transaction", e))?;
    rows
}

/// Tables (`schema.table`) and their columns.
pub async fn columns(client: &Client) -> Result<lifeboat::drill::checks::Schema, PgError> {
    let catalog = Catalog::load(client).await?;
    Ok(catalog
        .tables
        .values()
        .map(|t| {
            (
                t.id(),
                t.columns.iter().map(|c| c.name.clone()).collect::<BTreeSet<_>>(),
            )
        })
        .collect())
}

/// Exact row counts of `tables` (the sandbox's: every table must be readable); `None` for
/// a table that could not be read.
pub async fn exact_counts(client: &Client, catalog: &Catalog) -> BTreeMap<String, Option<u64>> {
    let mut counts = BTreeMap::new();
    for table in catalog.tables.values() {
        let sql = format!("SELECT count(*) FROM {}", table.sql());
        let count = read_only(client, "counting rows", &sql)
            .await
            .ok()
            .and_then(|rows| rows.first().map(|r| r.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64);
        counts.insert(table.id(), count);
    }
    counts
}

/// How long an exact count of a production table may take: only tables no statistic
/// describes are counted (never analyzed, its statistics reset), which are rarely large.
const EXACT_COUNT_TIMEOUT: &str = "5s";

/// Production's row counts, each with what gave it, without putting a scan of every table on
/// a customer's production: the planner's estimate (`reltuples`, kept by `ANALYZE` and
/// vacuum) where the table was analyzed, else the live-row count PostgreSQL's statistics keep
/// as rows are written (`n_live_tup`, no `ANALYZE` needed), else, for a table neither
/// describes, an exact count bounded by a short statement timeout. Partitions are summed into
/// their parent.
pub async fn production_counts(
    client: &Client,
    catalog: &Catalog,
) -> Result<BTreeMap<String, LiveCount>, PgError> {
    let rows = read_only(
        client,
        "reading row statistics",
        "WITH t AS (
           SELECT c.oid, n.nspname::text || '.' || c.relname::text AS id,
                  GREATEST(c.reltuples, 0)::float8 AS estimate,
                  COALESCE(s.n_live_tup, 0)::float8 AS live
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
            WHERE c.relkind IN ('r', 'p'))
         SELECT t.id,
                t.live + COALESCE((SELECT sum(p.live) FROM pg_inherits i JOIN t p ON p.oid = i.inhrelid
                                    WHERE i.inhparent = t.oid), 0)::float8,
                t.estimate + COALESCE((SELECT sum(p.estimate) FROM pg_inherits i JOIN t p ON p.oid = i.inhrelid
                                        WHERE i.inhparent = t.oid), 0)::float8
           FROM t",
    )
    .await?;
    let statistics: BTreeMap<String, (f64, f64)> =
        rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    let mut counts = BTreeMap::new();
    for table in catalog.tables.values() {
        let id = table.id();
        let count = match statistics.get(&id).copied().unwrap_or((0.0, 0.0)) {
            (_, estimate) if estimate >= 1.0 => LiveCount::Known {
                rows: estimate as u64,
                from: "the planner's estimate, pg_class.reltuples",
            },
            (live, _) if live >= 1.0 => LiveCount::Known {
                rows: live as u64,
                from: "PostgreSQL's live-row statistics, pg_stat_user_tables.n_live_tup",
            },
            _ => exact_count(client, &table.sql()).await,
        };
        counts.insert(id, count);
    }
    Ok(counts)
}

/// `SELECT count(*)` of one production table, given up after [`EXACT_COUNT_TIMEOUT`].
async fn exact_count(client: &Client, table: &str) -> LiveCount {
    let sql = format!("SELECT count(*) FROM {table}");
    match read_only_within(client, "counting rows", &sql, EXACT_COUNT_TIMEOUT).await {
        Ok(rows) => LiveCount::Known {
            rows: rows.first().map_or(0, |r| r.get::<_, i64>(0).max(0) as u64),
            from: "an exact count, as no statistic describes the table",
        },
        Err(e) => LiveCount::Unknown(format!(
            "no statistic describes it and an exact count within {EXACT_COUNT_TIMEOUT} failed: {}",
            e.message
        )),
    }
}

/// The number an instance's own check query returns, read-only.
pub async fn check_value(client: &Client, sql: &str) -> Result<i64, String> {
    let rows = read_only(client, "running the check", sql)
        .await
        .map_err(|e| e.message)?;
    let row = rows.first().ok_or("the query returned no row")?;
    row.try_get::<_, i64>(0)
        .or_else(|_| row.try_get::<_, i32>(0).map(i64::from))
        .map_err(|_| "the query's first column is not a whole number (cast it to bigint)".to_string())
}

/// Everything a drill checks in an RDS/PostgreSQL sandbox against production: schema, row
/// counts, and the instance's own checks.
pub async fn inspect(
    production: &Client,
    sandbox: &Client,
    spec: &DrillSpec,
) -> Result<Vec<CheckResult>, PgError> {
    let (live_catalog, restored_catalog) = (Catalog::load(production).await?, Catalog::load(sandbox).await?);
    let mut results = compare_schema(&columns(production).await?, &columns(sandbox).await?);
    let live = production_counts(production, &live_catalog).await?;
    results.extend(compare_counts(
        &live,
        &exact_counts(sandbox, &restored_catalog).await,
    ));
    for (index, check) in spec.checks.iter().enumerate() {
        if let DrillCheck::Sql { sql, at_least } = check {
            results.push(sql_check(index, sql, *at_least, check_value(sandbox, sql).await));
        }
    }
    Ok(results)
}

/// The databases of an instance a drill checks: every one production lets a session into,
/// but the templates and RDS's own (`rdsadmin`), in name order.
pub async fn databases(client: &Client) -> Result<Vec<String>, PgError> {
    let rows = read_only(
        client,
        "listing the databases",
        "SELECT datname::text FROM pg_database
          WHERE datallowconn AND NOT datistemplate AND datname <> 'rdsadmin'
          ORDER BY datname",
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The most databases of one instance a drill compares.
pub const MAX_DATABASES: usize = 20;

/// Every database of an instance: each of `names` compared as [`inspect`] does, its checks
/// named after it (`crm: rows public.contacts`), the instance's own checks run in `main`
/// (the database the instance names). A database production has and the sandbox cannot open
/// fails. `connect(false, db)` opens production's `db`, `connect(true, db)` the sandbox's.
pub async fn inspect_databases<F, Fut>(
    names: &[String],
    main: &str,
    connect: F,
    spec: &DrillSpec,
) -> Result<Vec<CheckResult>, PgError>
where
    F: Fn(bool, String) -> Fut,
    Fut: std::future::Future<Output = Result<Client, PgError>>,
{
    let mut results = Vec::new();
    let none = DrillSpec::default();
    for name in names.iter().take(MAX_DATABASES) {
        let production = connect(false, name.clone()).await?;
        let sandbox = match connect(true, name.clone()).await {
            Ok(client) => client,
            Err(e) => {
                results.push(CheckResult {
                    name: format!("{name}: database"),
                    passed: false,
                    detail: format!("production has it; the sandbox's cannot be opened: {}", e.message),
                });
                continue;
            }
        };
        let own = if name == main { spec } else { &none };
        for mut r in inspect(&production, &sandbox, own).await? {
            r.name = format!("{name}: {}", r.name);
            results.push(r);
        }
    }
    if names.len() > MAX_DATABASES {
        results.push(CheckResult {
            name: "databases".into(),
            passed: true,
            detail: format!(
                "{} databases; the first {MAX_DATABASES} by name compared",
                names.len()
            ),
        });
    }
    Ok(results)
}

/// The drill's inspector of RDS/PostgreSQL sandboxes, through the same connections as
/// selective restores (locally a URL, in AWS the instance's endpoint with TLS).
pub struct PgInspector {
    connector: super::Connector,
}

impl PgInspector {
    pub fn new(connector: super::Connector) -> Self {
        PgInspector { connector }
    }
}

#[async_trait::async_trait]
impl lifeboat::ports::SandboxInspector for PgInspector {
    fn kind(&self) -> lifeboat::catalog::ResourceKind {
        lifeboat::catalog::ResourceKind::RdsInstance
    }

    /// As for a selective restore's staging: the sandbox gets its own managed secret.
    async fn prepare(
        &self,
        sandbox: &str,
        drill_id: &str,
    ) -> Result<lifeboat::ports::restorer::Progress, lifeboat::ports::PortError> {
        match &self.connector {
            super::Connector::Rds { rds, .. } => {
                super::staging_access::ensure_managed_secret(rds, sandbox, drill_id).await
            }
            _ => Ok(lifeboat::ports::restorer::Progress::Done),
        }
    }

    async fn inspect(
        &self,
        production: &lifeboat::catalog::ResourceKey,
        sandbox: &str,
        spec: &DrillSpec,
    ) -> Result<Vec<CheckResult>, lifeboat::ports::PortError> {
        let live =
            (self.connector.connect(&production.name).await).map_err(|e| e.at("connect", production))?;
        let at = format!("rds:{sandbox}");
        // On RDS an instance may hold several databases: each is compared. (The local
        // stack's server holds one database per instance: the instance's alone.)
        if let super::Connector::Rds { .. } = &self.connector {
            let names = databases(&live).await.map_err(|e| e.at("inspect", &at))?;
            let main: String = (live.query_one("SELECT current_database()::text", &[]).await)
                .map(|r| r.get(0))
                .map_err(|e| PgError::query("naming the database", e).at("inspect", &at))?;
            if names.len() > 1 {
                let connect = |in_sandbox: bool, db: String| {
                    let instance = if in_sandbox {
                        sandbox.to_string()
                    } else {
                        production.name.clone()
                    };
                    async move { self.connector.connect_to(&instance, Some(&db)).await }
                };
                return (inspect_databases(&names, &main, connect, spec).await)
                    .map_err(|e| e.at("inspect", &at));
            }
        }
        let restored = (self.connector.connect(sandbox).await).map_err(|e| e.at("connect", &at))?;
        inspect(&live, &restored, spec)
            .await
            .map_err(|e| e.at("inspect", &at))
    }
}
