//! A selective restore's records: what was extracted from staging (the manifest, the audit
//! artifact kept beside the report), what merging it would do (the plan, shown before
//! confirmation), and what each merged batch did.
//!
//! The extract is split into batches small enough to merge well inside one Lambda
//! invocation; each batch is merged in one transaction and recorded, so a retry resumes after
//! the last committed batch.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::ResourceKey;

/// Rows (or items) per extract batch, unless the executor is told otherwise.
pub const DEFAULT_BATCH_ROWS: u64 = 50_000;
/// How many skipped keys a batch result lists; the counts are always complete.
pub const MAX_LISTED_SKIPS: usize = 100;
/// Batches one restore may have: each is recorded on the run, which lives in one DynamoDB
/// item (400 KB). At the default batch size, 50 million rows.
pub const MAX_BATCHES: usize = 1000;

/// One compressed batch of an extracted table in the reports bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchFile {
    pub index: u32,
    pub key: String,
    pub rows: u64,
    /// SHA-256 of the uncompressed contents, checked again when the batch is merged.
    pub sha256: String,
}

/// One table's part of the extract, and its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableExtract {
    /// `schema.table` for PostgreSQL, the table name for DynamoDB.
    pub table: String,
    /// The columns extracted, in file order (PostgreSQL; empty for DynamoDB items).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// The key columns (or key attributes) that identify a record.
    pub key: Vec<String>,
    pub rows: u64,
    /// SHA-256 over the uncompressed batches in order.
    pub sha256: String,
    pub batches: Vec<BatchFile>,
    /// Why the table is in the extract: selected, a dependant, or a missing parent.
    pub reasons: Vec<String>,
    pub plan: TablePlan,
}

/// What merging one table would do, measured against production before confirmation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablePlan {
    /// Rows absent from production that collide with nothing: they will be inserted.
    pub insert: u64,
    /// Rows whose key production has now: skipped, never changed.
    pub present: u64,
    /// Rows whose key production lacks but whose unique values another row holds: skipped.
    pub conflicts: u64,
}

/// One resource's extract: its tables in merge order (parents first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceExtract {
    pub resource: ResourceKey,
    pub tables: Vec<TableExtract>,
    /// Selected keys that staging does not have (nothing to restore for them).
    #[serde(default)]
    pub keys_not_found: u64,
}

impl ResourceExtract {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn plan(&self) -> TablePlan {
        self.tables.iter().fold(TablePlan::default(), |a, t| TablePlan {
            insert: a.insert + t.plan.insert,
            present: a.present + t.plan.present,
            conflicts: a.conflicts + t.plan.conflicts,
        })
    }
}

/// What merging one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    pub inserted: u64,
    /// Skipped: production has the key.
    pub present: u64,
    /// Skipped: a unique value collides with another production row.
    pub conflicts: u64,
    /// Skipped: a row it references is in neither production nor the extract (say a parent
    /// that was itself skipped as a conflict).
    #[serde(default)]
    pub parent_missing: u64,
    /// Up to [`MAX_LISTED_SKIPS`] skipped keys, each with why (`present` or `conflict`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skip>,
}

impl BatchResult {
    pub fn accounted(&self) -> u64 {
        self.inserted + self.present + self.conflicts + self.parent_missing
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    pub key: Value,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Present,
    Conflict,
    ParentMissing,
}

/// One merged batch, recorded on the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedBatch {
    pub resource: ResourceKey,
    pub table: String,
    pub index: u32,
    pub result: BatchResult,
}

/// A selective restore's progress, on the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectiveRun {
    /// Where the manifest is in the reports bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    pub extracts: Vec<ResourceExtract>,
    pub merged: Vec<MergedBatch>,
}

/// A batch to merge, in order: resources as approved, tables parents first, batches in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRef<'a> {
    pub resource: &'a ResourceKey,
    pub table: &'a TableExtract,
    pub batch: &'a BatchFile,
}

impl SelectiveRun {
    /// Every batch of the extract, in merge order.
    pub fn batches(&self) -> impl Iterator<Item = BatchRef<'_>> {
        self.extracts.iter().flat_map(|e| {
            e.tables.iter().flat_map(move |t| {
                t.batches.iter().map(move |b| BatchRef {
                    resource: &e.resource,
                    table: t,
                    batch: b,
                })
            })
        })
    }

    pub fn merged(&self, at: &BatchRef<'_>) -> Option<&BatchResult> {
        self.merged
            .iter()
            .find(|m| &m.resource == at.resource && m.table == at.table.table && m.index == at.batch.index)
            .map(|m| &m.result)
    }

    /// Records a merged batch. Its skipped keys are kept only while the table has fewer than
    /// [`MAX_LISTED_SKIPS`] listed, so the run (stored in one DynamoDB item) stays small
    /// however many batches there are; production's ledger keeps each batch's own list.
    pub fn record(&mut self, mut batch: MergedBatch) {
        let listed: usize = self
            .merged
            .iter()
            .filter(|m| m.resource == batch.resource && m.table == batch.table)
            .map(|m| m.result.skipped.len())
            .sum();
        batch
            .result
            .skipped
            .truncate(MAX_LISTED_SKIPS.saturating_sub(listed));
        self.merged.push(batch);
    }

    /// The first batch not merged yet.
    pub fn next_batch(&self) -> Option<BatchRef<'_>> {
        self.batches().find(|b| self.merged(b).is_none())
    }

    /// Per table, the sum of its merged batches.
    pub fn table_result(&self, resource: &ResourceKey, table: &str) -> BatchResult {
        let mut sum = BatchResult {
            inserted: 0,
            present: 0,
            conflicts: 0,
            parent_missing: 0,
            skipped: Vec::new(),
        };
        for m in self
            .merged
            .iter()
            .filter(|m| &m.resource == resource && m.table == table)
        {
            sum.inserted += m.result.inserted;
            sum.present += m.result.present;
            sum.conflicts += m.result.conflicts;
            sum.parent_missing += m.result.parent_missing;
            let room = MAX_LISTED_SKIPS.saturating_sub(sum.skipped.len());
            sum.skipped.extend(m.result.skipped.iter().take(room).cloned());
        }
        sum
    }

    /// Tables whose merged batches do not account for every extracted row, with why.
    pub fn unaccounted(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for e in &self.extracts {
            for t in &e.tables {
                let missing: Vec<u32> = t
                    .batches
                    .iter()
                    .filter(|b| {
                        self.merged(&BatchRef {
                            resource: &e.resource,
                            table: t,
                            batch: b,
                        })
                        .is_none()
                    })
                    .map(|b| b.index)
                    .collect();
                let result = self.table_result(&e.resource, &t.table);
                if !missing.is_empty() {
                    problems.push(format!(
                        "{} {}: batches {missing:?} not merged",
                        e.resource, t.table
                    ));
                } else if result.accounted() != t.rows {
                    problems.push(format!(
                        "{} {}: {} rows extracted, {} accounted for (inserted {}, present {}, conflicts {}, parent missing {})",
                        e.resource,
                        t.table,
                        t.rows,
                        result.accounted(),
                        result.inserted,
                        result.present,
                        result.conflicts,
                        result.parent_missing
                    ));
                }
            }
        }
        problems
    }
}

/// Where a request's extract lives in the reports bucket.
pub fn extract_prefix(request_id: &str) -> String {
    format!("restores/{request_id}/extract")
}

pub fn manifest_key(request_id: &str) -> String {
    format!("{}/manifest.json", extract_prefix(request_id))
}

/// `restores/<id>/extract/<service>-<name>/<table>/<00000>.<ext>.gz`.
pub fn batch_key(request_id: &str, resource: &ResourceKey, table: &str, index: u32, ext: &str) -> String {
    format!(
        "{}/{}-{}/{table}/{index:05}.{ext}.gz",
        extract_prefix(request_id),
        resource.kind.as_str(),
        resource.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, rows: &[u64]) -> TableExtract {
        TableExtract {
            table: name.into(),
            columns: vec![],
            key: vec!["id".into()],
            rows: rows.iter().sum(),
            sha256: String::new(),
            batches: rows
                .iter()
                .enumerate()
                .map(|(i, r)| BatchFile {
                    index: i as u32,
                    key: format!("{name}/{i}"),
                    rows: *r,
                    sha256: String::new(),
                })
                .collect(),
            reasons: vec![],
            plan: TablePlan::default(),
        }
    }

    fn run() -> SelectiveRun {
        SelectiveRun {
            manifest: None,
            extracts: vec![ResourceExtract {
                resource: ResourceKey::rds("db"),
                tables: vec![table("public.contacts", &[2, 1]), table("public.notes", &[3])],
                keys_not_found: 0,
            }],
            merged: vec![],
        }
    }

    fn done(run: &mut SelectiveRun, inserted: u64, present: u64) {
        let b = run.next_batch().unwrap();
        let m = MergedBatch {
            resource: b.resource.clone(),
            table: b.table.table.clone(),
            index: b.batch.index,
            result: BatchResult {
                inserted,
                present,
                conflicts: 0,
                parent_missing: 0,
                skipped: vec![],
            },
        };
        run.merged.push(m);
    }

    #[test]
    fn batches_are_merged_parents_first_in_order_and_resume_after_the_last_recorded() {
        let mut run = run();
        let order: Vec<_> = run
            .batches()
            .map(|b| format!("{}#{}", b.table.table, b.batch.index))
            .collect();
        assert_eq!(
            order,
            ["public.contacts#0", "public.contacts#1", "public.notes#0"]
        );
        done(&mut run, 2, 0);
        let next = run.next_batch().unwrap();
        assert_eq!(
            (next.table.table.as_str(), next.batch.index),
            ("public.contacts", 1)
        );
        done(&mut run, 0, 1);
        done(&mut run, 3, 0);
        assert!(run.next_batch().is_none());
        assert!(run.unaccounted().is_empty());
        let contacts = run.table_result(&ResourceKey::rds("db"), "public.contacts");
        assert_eq!((contacts.inserted, contacts.present), (2, 1));
    }

    #[test]
    fn a_batch_not_merged_or_a_row_unaccounted_for_is_named() {
        let mut run = run();
        done(&mut run, 2, 0);
        assert_eq!(
            run.unaccounted(),
            [
                "rds:db public.contacts: batches [1] not merged",
                "rds:db public.notes: batches [0] not merged"
            ]
        );
        done(&mut run, 0, 0);
        done(&mut run, 3, 0);
        assert_eq!(
            run.unaccounted(),
            ["rds:db public.contacts: 3 rows extracted, 2 accounted for (inserted 2, present 0, conflicts 0, parent missing 0)"]
        );
    }

    #[test]
    fn skipped_keys_are_listed_up_to_the_limit_per_table_and_counted_in_full() {
        let mut run = run();
        let skipped = |n: usize| {
            (0..n)
                .map(|i| Skip {
                    key: serde_json::json!({ "id": i }),
                    reason: SkipReason::Present,
                })
                .collect::<Vec<_>>()
        };
        for index in 0..3 {
            run.record(MergedBatch {
                resource: ResourceKey::rds("db"),
                table: "public.contacts".into(),
                index,
                result: BatchResult {
                    inserted: 0,
                    present: 60,
                    conflicts: 0,
                    parent_missing: 0,
                    skipped: skipped(60),
                },
            });
        }
        let listed: Vec<usize> = run.merged.iter().map(|m| m.result.skipped.len()).collect();
        assert_eq!(listed, [60, 40, 0]);
        let total = run.table_result(&ResourceKey::rds("db"), "public.contacts");
        assert_eq!((total.present, total.skipped.len()), (180, MAX_LISTED_SKIPS));
    }

    #[test]
    fn batch_keys_name_the_request_resource_table_and_index() {
        let k = batch_key("r1", &ResourceKey::rds("db"), "public.contacts", 7, "csv");
        assert_eq!(k, "restores/r1/extract/rds-db/public.contacts/00007.csv.gz");
    }
}
