//! One extracted batch into production, exactly once.
//!
//! In one transaction: look the batch up in the ledger (`lifeboat.merged_batches`); if it is
//! there, it was committed before and its recorded result is returned. Otherwise `COPY` it
//! into a temporary table, insert what production lacks with `ON CONFLICT DO NOTHING` (a row
//! whose key production has, or whose unique values another row holds, is skipped and never
//! changed), and record the batch in the ledger. A crash before the commit leaves nothing; a
//! retry after it finds the ledger row. Two invocations racing on one batch cannot both
//! commit: the ledger's primary key refuses the second.

use bytes::Bytes;
use futures::SinkExt;
use tokio_postgres::{Client, Transaction};

use super::ident::{list, quote, row_eq, row_eq_pairs};
use super::schema::{Schema, Table};
use super::PgError;
use lifeboat::execution::selective::{BatchResult, Skip, SkipReason, MAX_LISTED_SKIPS};

pub const LEDGER: &str = "lifeboat.merged_batches";
/// `COPY` is fed in chunks of this size.
const CHUNK: usize = 256 * 1024;

/// Which batch of which request.
pub struct MergeJob<'a> {
    pub request_id: &'a str,
    pub table: &'a str,
    pub batch: u32,
    pub sha256: &'a str,
}

/// Creates the ledger if production has none yet.
pub async fn ensure_ledger(production: &Client) -> Result<(), PgError> {
    let result = production
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS lifeboat;
             CREATE TABLE IF NOT EXISTS {LEDGER} (
               request_id text NOT NULL,
               table_name text NOT NULL,
               batch integer NOT NULL,
               sha256 text NOT NULL,
               result jsonb NOT NULL,
               merged_at timestamptz NOT NULL DEFAULT now(),
               PRIMARY KEY (request_id, table_name, batch));
             COMMENT ON TABLE {LEDGER} IS
               'Batches Lifeboat merged into this database in selective restores: one row per committed batch.';"
        ))
        .await;
    match result {
        // Two first merges at once: the other one created it.
        Err(e)
            if e.code()
                .is_some_and(|c| c.code() == "23505" || c.code() == "42P07") =>
        {
            Ok(())
        }
        other => other.map_err(|e| PgError::query("creating the merge ledger", e)),
    }
}

/// `COPY`s a batch's CSV into the temporary table `lifeboat_batch` (dropped at the end of the
/// transaction), shaped like `live`'s columns.
pub async fn load_batch(
    tx: &Transaction<'_>,
    live: &Table,
    columns: &[String],
    csv: &[u8],
) -> Result<(), PgError> {
    let what = format!("loading a batch for {}", live.id());
    tx.batch_execute(&format!(
        "CREATE TEMPORARY TABLE lifeboat_batch ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
        list(columns, None),
        live.sql()
    ))
    .await
    .map_err(|e| PgError::query(&what, e))?;
    let sink = tx
        .copy_in(&format!(
            "COPY lifeboat_batch ({}) FROM STDIN (FORMAT csv)",
            list(columns, None)
        ))
        .await
        .map_err(|e| PgError::query(&what, e))?;
    futures::pin_mut!(sink);
    for chunk in csv.chunks(CHUNK) {
        sink.send(Bytes::copy_from_slice(chunk))
            .await
            .map_err(|e| PgError::query(&what, e))?;
    }
    sink.as_mut()
        .finish()
        .await
        .map_err(|e| PgError::query(&what, e))?;
    Ok(())
}

/// `b`'s references all resolve in production: for each foreign key, a null in its columns
/// (no check, as PostgreSQL's `MATCH SIMPLE`) or the parent row.
fn parents_exist(schema: &Schema, live: &Table, columns: &[String]) -> String {
    let mut terms = vec!["true".to_string()];
    for fk in schema.parents_of(&live.id()) {
        if !fk.columns.iter().all(|c| columns.contains(c)) {
            continue;
        }
        let parent = schema.table(&fk.parent);
        let nulls: Vec<String> = fk
            .columns
            .iter()
            .map(|c| format!("b.{} IS NULL", quote(c)))
            .collect();
        let on = row_eq_pairs(&fk.referenced, "p", &fk.columns, "b");
        terms.push(format!(
            "({} OR EXISTS (SELECT 1 FROM {} p WHERE {on}))",
            nulls.join(" OR "),
            parent.sql()
        ));
    }
    terms.join(" AND ")
}

/// Merges one batch (its uncompressed CSV, already checked against its checksum): in one
/// statement when every row's parent is there ([`fast_insert`]), else by passes
/// ([`careful_insert`]).
pub async fn merge_batch(
    production: &mut Client,
    schema: &Schema,
    live: &Table,
    columns: &[String],
    job: &MergeJob<'_>,
    csv: &[u8],
) -> Result<BatchResult, PgError> {
    let what = format!("merging batch {} of {}", job.batch, job.table);
    let tx = production
        .transaction()
        .await
        .map_err(|e| PgError::query(&what, e))?;
    if let Some(done) = recorded(&tx, job).await? {
        return Ok(done);
    }
    load_batch(&tx, live, columns, csv).await?;
    let row = match fast_insert(&tx, live, columns, &what).await? {
        Some(row) => row,
        None => careful_insert(&tx, schema, live, columns, &what).await?,
    };
    let pk = &live.primary_key;
    advance_sequences(&tx, live, columns).await?;
    // Key values come back as arrays; the names are the catalog's, paired here rather than
    // written into the statement.
    let listed: Vec<(Vec<serde_json::Value>, SkipReason)> = serde_json::from_str(row.get::<_, &str>(4))
        .map_err(|e| PgError::refused(format!("{what}: reading the skipped keys: {e}")))?;
    let skipped = listed
        .into_iter()
        .map(|(values, reason)| Skip {
            key: serde_json::Value::Object(pk.iter().cloned().zip(values).collect()),
            reason,
        })
        .collect();
    let result = BatchResult {
        inserted: row.get::<_, i64>(0) as u64,
        present: row.get::<_, i64>(1) as u64,
        conflicts: row.get::<_, i64>(2) as u64,
        parent_missing: row.get::<_, i64>(3) as u64,
        skipped,
    };
    let recorded = serde_json::to_value(&result).expect("a batch result serializes");
    let ledger = tx
        .execute(
            &format!("INSERT INTO {LEDGER} (request_id, table_name, batch, sha256, result) VALUES ($1, $2, $3, $4, $5)"),
            &[&job.request_id, &job.table, &(job.batch as i32), &job.sha256, &recorded],
        )
        .await;
    match ledger {
        Ok(_) => {}
        // Another invocation committed this batch first: ours rolls back, theirs stands.
        Err(e) if e.code().is_some_and(|c| c.code() == "23505") => {
            drop(tx);
            return merged(production, job).await;
        }
        Err(e) => return Err(PgError::query(&what, e)),
    }
    tx.commit().await.map_err(|e| PgError::query(&what, e))?;
    Ok(result)
}

/// Moves the sequences behind the table's serial and identity columns past the values the
/// batch brought back, so the application's next inserts do not collide with them (say
/// after a `TRUNCATE … RESTART IDENTITY`). Sequences only move forward.
async fn advance_sequences(tx: &Transaction<'_>, live: &Table, columns: &[String]) -> Result<(), PgError> {
    let what = format!("advancing the sequences of {}", live.id());
    for column in columns {
        let sequence: Option<String> = tx
            .query_one("SELECT pg_get_serial_sequence($1, $2)", &[&live.sql(), column])
            .await
            .map_err(|e| PgError::query(&what, e))?
            .get(0);
        let Some(sequence) = sequence else { continue };
        tx.query(
            &format!(
                "SELECT setval($1::text::regclass, m) FROM (SELECT max({c})::bigint AS m FROM {t}) x
                  WHERE m > coalesce(pg_sequence_last_value($1::text::regclass), 0)",
                c = quote(column),
                t = live.sql()
            ),
            &[&sequence],
        )
        .await
        .map_err(|e| PgError::query(&what, e))?;
    }
    Ok(())
}

/// `OVERRIDING SYSTEM VALUE` where the table has `GENERATED ALWAYS` identity columns: the
/// restored rows keep their ids.
fn overriding(live: &Table) -> &'static str {
    if live.has_identity_always() {
        "OVERRIDING SYSTEM VALUE"
    } else {
        ""
    }
}

/// The common case in one statement: insert what production lacks and classify the rest.
/// Under a savepoint: when a row's parent is missing its foreign key fails the statement,
/// and `None` sends the batch down [`careful_insert`]. The answer's columns: inserted,
/// present, conflicts, parent missing (0), skipped keys as JSON.
async fn fast_insert(
    tx: &Transaction<'_>,
    live: &Table,
    columns: &[String],
    what: &str,
) -> Result<Option<tokio_postgres::Row>, PgError> {
    let pk = &live.primary_key;
    let t = live.sql();
    tx.batch_execute("SAVEPOINT lifeboat_fast")
        .await
        .map_err(|e| PgError::query(what, e))?;
    let answer = tx
        .query_one(
            &format!(
                "WITH ins AS (
                   INSERT INTO {t} ({cols}) {overriding} SELECT {bcols} FROM lifeboat_batch b
                   ON CONFLICT DO NOTHING RETURNING {pkcols}),
                 skipped AS (
                   SELECT {bpk},
                          CASE WHEN EXISTS (SELECT 1 FROM {t} x WHERE {present}) THEN 'present'
                               ELSE 'conflict' END AS reason
                     FROM lifeboat_batch b
                    WHERE NOT EXISTS (SELECT 1 FROM ins i WHERE {done}))
                 SELECT (SELECT count(*) FROM ins),
                        (SELECT count(*) FROM skipped WHERE reason = 'present'),
                        (SELECT count(*) FROM skipped WHERE reason = 'conflict'),
                        0::bigint,
                        (SELECT coalesce(json_agg(json_build_array(json_build_array({spk}), s.reason)), '[]')::text
                           FROM (SELECT * FROM skipped LIMIT {MAX_LISTED_SKIPS}) s)",
                cols = list(columns, None),
                bcols = list(columns, Some("b")),
                overriding = overriding(live),
                pkcols = list(pk, None),
                bpk = list(pk, Some("b")),
                spk = list(pk, Some("s")),
                present = row_eq(pk, "x", "b"),
                done = row_eq(pk, "i", "b"),
            ),
            &[],
        )
        .await;
    match answer {
        Ok(row) => {
            tx.batch_execute("RELEASE SAVEPOINT lifeboat_fast")
                .await
                .map_err(|e| PgError::query(what, e))?;
            Ok(Some(row))
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT lifeboat_fast")
                .await
                .map_err(|e| PgError::query(what, e))?;
            Ok(None)
        }
        Err(e) => Err(PgError::query(what, e)),
    }
}

/// Rows go in by passes: each inserts the rows whose parents production has now, so in a
/// table that references itself a row follows its parent from the same batch in the next
/// pass, and a row whose parent was skipped is never inserted (its foreign key would fail
/// the whole batch). The answer's columns are [`fast_insert`]'s.
async fn careful_insert(
    tx: &Transaction<'_>,
    schema: &Schema,
    live: &Table,
    columns: &[String],
    what: &str,
) -> Result<tokio_postgres::Row, PgError> {
    let pk = &live.primary_key;
    let t = live.sql();
    let parents_ok = parents_exist(schema, live, columns);
    let overriding = overriding(live);
    tx.batch_execute(&format!(
        "CREATE TEMPORARY TABLE lifeboat_inserted ON COMMIT DROP AS SELECT {} FROM {t} WITH NO DATA",
        list(pk, None)
    ))
    .await
    .map_err(|e| PgError::query(what, e))?;
    let pass = format!(
        "WITH ins AS (
           INSERT INTO {t} ({cols}) {overriding}
           SELECT {bcols} FROM lifeboat_batch b
            WHERE NOT EXISTS (SELECT 1 FROM lifeboat_inserted i WHERE {done}) AND {parents_ok}
           ON CONFLICT DO NOTHING RETURNING {pkcols})
         INSERT INTO lifeboat_inserted SELECT {pkcols} FROM ins",
        cols = list(columns, None),
        bcols = list(columns, Some("b")),
        pkcols = list(pk, None),
        done = row_eq(pk, "i", "b"),
    );
    let self_referencing = schema.parents_of(&live.id()).any(|f| f.parent == live.id());
    loop {
        let inserted = tx
            .execute(&pass, &[])
            .await
            .map_err(|e| PgError::query(what, e))?;
        if inserted == 0 || !self_referencing {
            break;
        }
    }
    tx.query_one(
            &format!(
                "WITH skipped AS (
                   SELECT {bpk},
                          CASE WHEN EXISTS (SELECT 1 FROM {t} x WHERE {present}) THEN 'present'
                               WHEN NOT ({parents_ok}) THEN 'parent_missing'
                               ELSE 'conflict' END AS reason
                     FROM lifeboat_batch b
                    WHERE NOT EXISTS (SELECT 1 FROM lifeboat_inserted i WHERE {done}))
                 SELECT (SELECT count(*) FROM lifeboat_inserted),
                        (SELECT count(*) FROM skipped WHERE reason = 'present'),
                        (SELECT count(*) FROM skipped WHERE reason = 'conflict'),
                        (SELECT count(*) FROM skipped WHERE reason = 'parent_missing'),
                        (SELECT coalesce(json_agg(json_build_array(json_build_array({spk}), s.reason)), '[]')::text
                           FROM (SELECT * FROM skipped LIMIT {MAX_LISTED_SKIPS}) s)",
                bpk = list(pk, Some("b")),
                spk = list(pk, Some("s")),
                present = row_eq(pk, "x", "b"),
                done = row_eq(pk, "i", "b"),
            ),
            &[],
        )
        .await
        .map_err(|e| PgError::query(what, e))
}

/// The recorded result of a committed batch, refusing one recorded with other contents.
async fn recorded(tx: &Transaction<'_>, job: &MergeJob<'_>) -> Result<Option<BatchResult>, PgError> {
    let row = tx
        .query_opt(
            &format!("SELECT sha256, result FROM {LEDGER} WHERE request_id = $1 AND table_name = $2 AND batch = $3"),
            &[&job.request_id, &job.table, &(job.batch as i32)],
        )
        .await
        .map_err(|e| PgError::query("reading the merge ledger", e))?;
    let Some(row) = row else { return Ok(None) };
    let sha: String = row.get(0);
    if sha != job.sha256 {
        return Err(PgError::refused(format!(
            "batch {} of {} was merged before with other contents (sha256 {sha}, now {})",
            job.batch, job.table, job.sha256
        )));
    }
    serde_json::from_value(row.get(1))
        .map(Some)
        .map_err(|e| PgError::refused(format!("reading the merge ledger: {e}")))
}

async fn merged(production: &mut Client, job: &MergeJob<'_>) -> Result<BatchResult, PgError> {
    let tx = production
        .transaction()
        .await
        .map_err(|e| PgError::query("reading the merge ledger", e))?;
    recorded(&tx, job).await?.ok_or_else(|| {
        PgError::unavailable(format!(
            "batch {} of {} was being merged by another invocation; try again",
            job.batch, job.table
        ))
    })
}

/// What the ledger says `request_id` merged: `(table, batch, result)`.
pub async fn ledger(
    production: &Client,
    request_id: &str,
) -> Result<Vec<(String, u32, BatchResult)>, PgError> {
    let exists: bool = production
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&LEDGER])
        .await
        .map_err(|e| PgError::query("reading the merge ledger", e))?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    let rows = production
        .query(
            &format!("SELECT table_name, batch, result FROM {LEDGER} WHERE request_id = $1 ORDER BY table_name, batch"),
            &[&request_id],
        )
        .await
        .map_err(|e| PgError::query("reading the merge ledger", e))?;
    rows.into_iter()
        .map(|r| {
            let result = serde_json::from_value(r.get(2))
                .map_err(|e| PgError::refused(format!("reading the merge ledger: {e}")))?;
            Ok((r.get(0), r.get::<_, i32>(1) as u32, result))
        })
        .collect()
}
