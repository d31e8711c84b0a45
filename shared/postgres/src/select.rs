//! Which rows a selective restore takes, worked out inside staging.
//!
//! Staging is Lifeboat's own throwaway copy of the instance at the recovery point, so the
//! selection is materialized there, in the schema `lifeboat_selection`:
//! - `s<i>`: the primary keys selected from table `i`, each marked whether its dependants
//!   are wanted too (`lifeboat_expand`);
//! - `p<i>` and `f<k>`: production's keys of table `i` and production's values of the columns
//!   foreign key `k` references, streamed over with `COPY`, for "missing" and for the parents
//!   production lacks;
//! - `r<i>`: the selected rows, numbered in key order, which the extract reads in batches.
//!
//! Rows are added until nothing changes: a selected row's dependants (when asked for), and
//! any parent a selected row references that production does not have. Rebuilding starts by
//! dropping the schema, so a retried extract selects afresh.

use std::collections::{BTreeMap, BTreeSet};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use super::ident::{list, quote, row_eq, row_eq_pairs};
use super::schema::{Schema, Table};
use super::PgError;
use lifeboat::request::decision::{Records, Selection};

pub const SELECTION_SCHEMA: &str = "lifeboat_selection";
/// Rounds of adding dependants and parents before giving up (each round adds rows or ends).
const MAX_ROUNDS: usize = 1000;

/// One table's selected rows, ready in `lifeboat_selection.r<i>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedTable {
    pub table: String,
    pub rows_table: String,
    pub rows: u64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// Parents first.
    pub tables: Vec<SelectedTable>,
    pub keys_not_found: u64,
}

/// A selection checked against staging's catalog: every name is the database's own.
struct Checked<'a> {
    table: &'a Table,
    records: &'a Records,
    expand: bool,
}

fn sel(i: usize) -> String {
    format!("{SELECTION_SCHEMA}.s{i}")
}

/// Checks every selection against the catalog, naming what is wrong.
fn check<'a>(schema: &'a Schema, selections: &'a [Selection]) -> Result<Vec<Checked<'a>>, PgError> {
    selections
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let table = schema.find(&s.table).ok_or_else(|| {
                PgError::refused(format!("selection[{n}]: no table {:?} in the database", s.table))
            })?;
            if table.inherited {
                return Err(PgError::refused(format!(
                    "selection[{n}]: other tables inherit from {}, so its rows cannot be read alone",
                    table.id()
                )));
            }
            if table.primary_key.is_empty() {
                return Err(PgError::refused(format!(
                    "selection[{n}]: table {} has no primary key, so its rows cannot be told apart",
                    table.id()
                )));
            }
            if let Records::Filter(filter) = &s.records {
                if let Some(c) = filter.keys().find(|c| table.column(c).is_none()) {
                    return Err(PgError::refused(format!(
                        "selection[{n}].filter: table {} has no column {c:?}",
                        table.id()
                    )));
                }
            }
            if let Records::Keys(keys) = &s.records {
                for (k, key) in keys.iter().enumerate() {
                    key_values(table, key)
                        .map_err(|why| PgError::refused(format!("selection[{n}].keys[{k}]: {why}")))?;
                }
            }
            Ok(Checked {
                table,
                records: &s.records,
                expand: s.with_dependants,
            })
        })
        .collect()
}

/// A bound value's text: PostgreSQL casts it to the column's type.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A key's values in primary-key order: a bare value for a one-column key, or an object
/// naming every key column.
fn key_values(table: &Table, key: &Value) -> Result<Vec<String>, String> {
    let pk = &table.primary_key;
    let values: Vec<Option<String>> = match key {
        Value::Object(o) => {
            if let Some(extra) = o.keys().find(|k| !pk.contains(k)) {
                return Err(format!(
                    "{extra:?} is not a key column of {} (key: {pk:?})",
                    table.id()
                ));
            }
            pk.iter()
                .map(|c| {
                    o.get(c)
                        .ok_or_else(|| format!("key column {c:?} is missing"))
                        .map(text)
                })
                .collect::<Result<_, _>>()?
        }
        Value::Array(_) => return Err("must be a key value or an object of key columns".into()),
        scalar if pk.len() == 1 => vec![text(scalar)],
        _ => {
            return Err(format!(
                "{} has a key of {} columns: give an object naming them",
                table.id(),
                pk.len()
            ))
        }
    };
    values
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "key values cannot be null".to_string())
}

/// `(SELECT u.c0::type, … FROM unnest($1::text[], …) AS u(c0, …))`, with the arrays to bind.
fn keys_subquery(table: &Table, keys: &[Value], first_param: usize) -> (String, Vec<Vec<String>>) {
    let pk = &table.primary_key;
    let mut arrays = vec![Vec::with_capacity(keys.len()); pk.len()];
    for key in keys {
        let values = key_values(table, key).expect("checked");
        for (a, v) in arrays.iter_mut().zip(values) {
            a.push(v);
        }
    }
    let casts: Vec<String> = pk
        .iter()
        .enumerate()
        .map(|(i, c)| format!("u.c{i}::{}", table.column(c).expect("key column").type_name))
        .collect();
    let params: Vec<String> = (0..pk.len())
        .map(|i| format!("${}::text[]", first_param + i))
        .collect();
    let names: Vec<String> = (0..pk.len()).map(|i| format!("c{i}")).collect();
    (
        format!(
            "(SELECT {} FROM unnest({}) AS u({}))",
            casts.join(", "),
            params.join(", "),
            names.join(", ")
        ),
        arrays,
    )
}

/// The `WHERE` condition of a filter on alias `t`, with its bound values (`NULL` is `IS NULL`).
fn filter_condition(table: &Table, filter: &serde_json::Map<String, Value>) -> (String, Vec<Option<String>>) {
    let mut terms = Vec::new();
    let mut values = Vec::new();
    for (column, value) in filter {
        let c = table.column(column).expect("checked");
        match text(value) {
            None => terms.push(format!("t.{} IS NULL", quote(column))),
            Some(v) => {
                values.push(Some(v));
                terms.push(format!(
                    "t.{} = ${}::text::{}",
                    quote(column),
                    values.len(),
                    c.type_name
                ));
            }
        }
    }
    (terms.join(" AND "), values)
}

/// Streams `query`'s rows out of `from` into `table` of `to` with `COPY`, never holding more
/// than one chunk. Text format, so a column whose type changed since still copies.
/// `target` is `table (columns)`, or a table whose columns all come in order.
pub async fn pipe(from: &Client, query: &str, to: &Client, target: &str) -> Result<u64, PgError> {
    let out = from
        .copy_out(&format!("COPY ({query}) TO STDOUT"))
        .await
        .map_err(|e| PgError::query("reading production's keys", e))?;
    let sink = to
        .copy_in(&format!("COPY {target} FROM STDIN"))
        .await
        .map_err(|e| PgError::query("copying production's keys into staging", e))?;
    futures::pin_mut!(out);
    futures::pin_mut!(sink);
    while let Some(chunk) = out.next().await {
        let chunk = chunk.map_err(|e| PgError::query("reading production's keys", e))?;
        // `feed`, not `send`: each chunk is one row, and flushing per row costs a round of
        // the connection's buffers; the sink flushes as its buffer fills, and at `finish`.
        sink.feed(chunk)
            .await
            .map_err(|e| PgError::query("copying production's keys into staging", e))?;
    }
    sink.as_mut()
        .finish()
        .await
        .map_err(|e| PgError::query("copying production's keys into staging", e))
}

/// Every table reachable from the selected ones: their dependants (when asked for) and the
/// parents of everything included.
fn reachable(schema: &Schema, checked: &[Checked<'_>]) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = checked.iter().map(|c| c.table.id()).collect();
    let mut children: Vec<String> = checked
        .iter()
        .filter(|c| c.expand)
        .map(|c| c.table.id())
        .collect();
    while let Some(t) = children.pop() {
        for fk in schema.children_of(&t) {
            if set.insert(fk.child.clone()) {
                children.push(fk.child.clone());
            }
        }
    }
    let mut parents: Vec<String> = set.iter().cloned().collect();
    while let Some(t) = parents.pop() {
        for fk in schema.parents_of(&t) {
            if set.insert(fk.parent.clone()) {
                parents.push(fk.parent.clone());
            }
        }
    }
    set.into_iter()
        .filter(|t| !schema.table(t).primary_key.is_empty())
        .collect()
}

async fn exec(
    client: &Client,
    what: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, PgError> {
    client
        .execute(sql, params)
        .await
        .map_err(|e| PgError::query(what, e))
}

/// Selects the rows of `selections` in `staging`, comparing with `production` where needed.
pub async fn select(
    staging: &Client,
    production: &Client,
    schema: &Schema,
    production_schema: &Schema,
    selections: &[Selection],
) -> Result<Selected, PgError> {
    let checked = check(schema, selections)?;
    let tables = reachable(schema, &checked);
    for t in &tables {
        if !production_schema.tables.contains_key(t) {
            return Err(PgError::refused(format!("production has no table {t}")));
        }
    }
    let index: BTreeMap<&str, usize> = schema
        .tables
        .keys()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let at = |t: &str| index[t];
    staging
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {SELECTION_SCHEMA} CASCADE; CREATE SCHEMA {SELECTION_SCHEMA};"
        ))
        .await
        .map_err(|e| PgError::query("preparing staging", e))?;
    for t in &tables {
        let table = schema.table(t);
        let pk = list(&table.primary_key, None);
        staging
            .batch_execute(&format!(
                "CREATE TABLE {s} AS SELECT {pk}, false AS lifeboat_expand FROM {t} WITH NO DATA;
                 ALTER TABLE {s} ADD PRIMARY KEY ({pk});",
                s = sel(at(t)),
                t = table.sql()
            ))
            .await
            .map_err(|e| PgError::query(&format!("preparing the selection of {t}"), e))?;
    }
    let mut reasons: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut keys_not_found = 0;
    for c in &checked {
        let (added, not_found) = seed(staging, production, c, at(&c.table.id())).await?;
        keys_not_found += not_found;
        if added > 0 {
            let why = match c.records {
                Records::Keys(_) => "selected by key",
                Records::Filter(_) => "selected by filter",
                Records::Missing(_) => "missing from production",
            };
            reasons.entry(c.table.id()).or_default().insert(why.into());
        }
    }
    close(staging, production, schema, &tables, &at, &mut reasons).await?;
    let mut selected = Vec::new();
    for t in schema.parents_first(&tables.iter().cloned().collect::<Vec<_>>()) {
        let table = schema.table(&t);
        let i = at(&t);
        let rows_table = format!("{SELECTION_SCHEMA}.r{i}");
        let rows = exec(
            staging,
            &format!("numbering the selected rows of {t}"),
            &format!(
                "CREATE TABLE {rows_table} AS
                   SELECT row_number() OVER (ORDER BY {pk}) AS lifeboat_row, {cols}
                     FROM {tsql} t JOIN {s} s ON {on}",
                pk = list(&table.primary_key, Some("t")),
                cols = list(&table.copied_columns(), Some("t")),
                tsql = table.sql(),
                s = sel(i),
                on = row_eq(&table.primary_key, "s", "t"),
            ),
            &[],
        )
        .await?;
        if rows == 0 {
            continue;
        }
        exec(
            staging,
            "indexing the selected rows",
            &format!("CREATE UNIQUE INDEX ON {rows_table} (lifeboat_row)"),
            &[],
        )
        .await?;
        selected.push(SelectedTable {
            table: t.clone(),
            rows_table,
            rows,
            reasons: reasons.remove(&t).unwrap_or_default().into_iter().collect(),
        });
    }
    Ok(Selected {
        tables: selected,
        keys_not_found,
    })
}

/// Adds one selection's rows; returns how many rows it added and how many given keys
/// staging lacks.
async fn seed(
    staging: &Client,
    production: &Client,
    c: &Checked<'_>,
    i: usize,
) -> Result<(u64, u64), PgError> {
    let table = c.table;
    let pk = list(&table.primary_key, None);
    let insert = format!(
        "INSERT INTO {s} AS s ({pk}, lifeboat_expand) SELECT {tpk}, {expand} FROM {t} t WHERE",
        s = sel(i),
        tpk = list(&table.primary_key, Some("t")),
        expand = c.expand,
        t = table.sql()
    );
    let upsert = format!(
        "ON CONFLICT ({pk}) DO UPDATE SET lifeboat_expand = true
          WHERE EXCLUDED.lifeboat_expand AND NOT s.lifeboat_expand"
    );
    let what = format!("selecting from {}", table.id());
    match c.records {
        Records::Keys(keys) => {
            let (subquery, arrays) = keys_subquery(table, keys, 1);
            let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
            let matching = format!("({}) IN {subquery}", list(&table.primary_key, Some("t")));
            let found: i64 = staging
                .query_one(
                    &format!("SELECT count(*) FROM {} t WHERE {matching}", table.sql()),
                    &params,
                )
                .await
                .map_err(|e| PgError::query(&what, e))?
                .get(0);
            let distinct = keys
                .iter()
                .filter_map(|k| key_values(table, k).ok())
                .collect::<BTreeSet<_>>()
                .len() as u64;
            let added = exec(staging, &what, &format!("{insert} {matching} {upsert}"), &params).await?;
            Ok((added, distinct.saturating_sub(found as u64)))
        }
        Records::Filter(filter) => {
            let (condition, values) = filter_condition(table, filter);
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            Ok((
                exec(staging, &what, &format!("{insert} {condition} {upsert}"), &params).await?,
                0,
            ))
        }
        Records::Missing(_) => {
            let keys = format!("{SELECTION_SCHEMA}.p{i}");
            staging
                .batch_execute(&format!(
                    "DROP TABLE IF EXISTS {keys};
                     CREATE TABLE {keys} AS SELECT {pk} FROM {t} WITH NO DATA;",
                    t = table.sql()
                ))
                .await
                .map_err(|e| PgError::query(&what, e))?;
            pipe(
                production,
                &format!("SELECT {pk} FROM {}", table.sql()),
                staging,
                &format!("{keys} ({pk})"),
            )
            .await?;
            staging
                .batch_execute(&format!("ANALYZE {keys}"))
                .await
                .map_err(|e| PgError::query(&what, e))?;
            let absent = format!(
                "NOT EXISTS (SELECT 1 FROM {keys} k WHERE {})",
                row_eq(&table.primary_key, "k", "t")
            );
            Ok((
                exec(staging, &what, &format!("{insert} {absent} {upsert}"), &[]).await?,
                0,
            ))
        }
    }
}

/// Adds dependants of rows marked to expand, and parents production lacks, until nothing
/// changes.
async fn close(
    staging: &Client,
    production: &Client,
    schema: &Schema,
    tables: &BTreeSet<String>,
    at: &impl Fn(&str) -> usize,
    reasons: &mut BTreeMap<String, BTreeSet<String>>,
) -> Result<(), PgError> {
    let fks: Vec<(usize, &super::schema::ForeignKey)> = schema
        .foreign_keys
        .iter()
        .enumerate()
        .filter(|(_, f)| tables.contains(&f.child) && tables.contains(&f.parent))
        .collect();
    // Production's referenced values per foreign key, for "parents production lacks".
    for (k, fk) in &fks {
        let parent = schema.table(&fk.parent);
        let cols = list(&fk.referenced, None);
        let values = format!("{SELECTION_SCHEMA}.f{k}");
        staging
            .batch_execute(&format!(
                "CREATE TABLE {values} AS SELECT {cols} FROM {} WITH NO DATA;",
                parent.sql()
            ))
            .await
            .map_err(|e| PgError::query("preparing the parents check", e))?;
        pipe(
            production,
            &format!("SELECT DISTINCT {cols} FROM {}", parent.sql()),
            staging,
            &format!("{values} ({cols})"),
        )
        .await?;
        staging
            .batch_execute(&format!("ANALYZE {values}"))
            .await
            .map_err(|e| PgError::query("preparing the parents check", e))?;
    }
    for _ in 0..MAX_ROUNDS {
        let mut changed = false;
        for (k, fk) in &fks {
            let child = schema.table(&fk.child);
            let parent = schema.table(&fk.parent);
            let join = row_eq_pairs(&fk.columns, "c", &fk.referenced, "p");
            let dependants = format!(
                "INSERT INTO {sc} AS s ({cpk}, lifeboat_expand)
                 SELECT DISTINCT {ccols}, true FROM {csql} c JOIN {psql} p ON {join}
                   JOIN {sp} sp ON {pon} AND sp.lifeboat_expand
                 ON CONFLICT ({cpk}) DO UPDATE SET lifeboat_expand = true WHERE NOT s.lifeboat_expand",
                sc = sel(at(&fk.child)),
                cpk = list(&child.primary_key, None),
                ccols = list(&child.primary_key, Some("c")),
                csql = child.sql(),
                psql = parent.sql(),
                sp = sel(at(&fk.parent)),
                pon = row_eq(&parent.primary_key, "sp", "p"),
            );
            if exec(staging, "adding dependants", &dependants, &[]).await? > 0 {
                changed = true;
                reasons
                    .entry(fk.child.clone())
                    .or_default()
                    .insert(format!("depends on selected {} ({})", fk.parent, fk.name));
            }
            let parents = format!(
                "INSERT INTO {sp} ({ppk}, lifeboat_expand)
                 SELECT DISTINCT {pcols}, false FROM {psql} p JOIN {csql} c ON {join}
                   JOIN {sc} sc ON {con}
                  WHERE NOT EXISTS (SELECT 1 FROM {SELECTION_SCHEMA}.f{k} f WHERE {fon})
                 ON CONFLICT ({ppk}) DO NOTHING",
                sp = sel(at(&fk.parent)),
                ppk = list(&parent.primary_key, None),
                pcols = list(&parent.primary_key, Some("p")),
                psql = parent.sql(),
                csql = child.sql(),
                sc = sel(at(&fk.child)),
                con = row_eq(&child.primary_key, "sc", "c"),
                fon = row_eq(&fk.referenced, "f", "p"),
            );
            if exec(staging, "adding missing parents", &parents, &[]).await? > 0 {
                changed = true;
                reasons
                    .entry(fk.parent.clone())
                    .or_default()
                    .insert(format!("parent production lacks, of {} ({})", fk.child, fk.name));
            }
        }
        if !changed {
            return Ok(());
        }
    }
    Err(PgError::refused(format!(
        "the selection did not settle after {MAX_ROUNDS} rounds of dependants and parents"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;
    use serde_json::json;

    fn table(pk: &[&str]) -> Table {
        Table {
            schema: "public".into(),
            name: "t".into(),
            columns: ["id", "org", "email"]
                .iter()
                .map(|c| Column {
                    name: c.to_string(),
                    type_name: if *c == "email" {
                        "text".into()
                    } else {
                        "bigint".into()
                    },
                    generated: false,
                    identity_always: false,
                })
                .collect(),
            primary_key: pk.iter().map(|c| c.to_string()).collect(),
            unique: vec![],
            inherited: false,
        }
    }

    #[test]
    fn keys_are_a_bare_value_or_an_object_of_every_key_column() {
        let one = table(&["id"]);
        assert_eq!(key_values(&one, &json!(7)).unwrap(), ["7"]);
        assert_eq!(key_values(&one, &json!({"id": "7"})).unwrap(), ["7"]);
        let two = table(&["org", "id"]);
        assert_eq!(key_values(&two, &json!({"id": 1, "org": 2})).unwrap(), ["2", "1"]);
        assert!(key_values(&two, &json!(1))
            .unwrap_err()
            .contains("key of 2 columns"));
        assert!(key_values(&two, &json!({"id": 1}))
            .unwrap_err()
            .contains("\"org\" is missing"));
        assert!(key_values(&two, &json!({"id": 1, "org": 2, "email": "x"}))
            .unwrap_err()
            .contains("not a key column"));
        assert!(key_values(&one, &json!(null)).unwrap_err().contains("null"));
    }

    #[test]
    fn filter_values_are_parameters_and_names_are_quoted() {
        let t = table(&["id"]);
        let filter = json!({"email": "x' OR 1=1 --", "org": null})
            .as_object()
            .unwrap()
            .clone();
        let (condition, values) = filter_condition(&t, &filter);
        assert_eq!(condition, "t.\"email\" = $1::text::text AND t.\"org\" IS NULL");
        assert_eq!(values, [Some("x' OR 1=1 --".to_string())]);
    }

    #[test]
    fn keys_become_typed_unnested_arrays() {
        let t = table(&["org", "id"]);
        let (sql, arrays) = keys_subquery(&t, &[json!({"org": 1, "id": 2}), json!({"org": 1, "id": 3})], 1);
        assert_eq!(
            sql,
            "(SELECT u.c0::bigint, u.c1::bigint FROM unnest($1::text[], $2::text[]) AS u(c0, c1))"
        );
        assert_eq!(arrays, [vec!["1", "1"], vec!["2", "3"]]);
    }
}
