//! An in-memory [`Merger`], for testing the restore executor's selective steps.
//!
//! Production is a set of keys per table. The extract is given up front (tables of keys,
//! cut into batches); merging a batch inserts the keys production lacks and records the
//! batch in a ledger, as the real engines do, so a batch merged twice inserts nothing the
//! second time and answers what it did the first. A batch can be told to fail once, and
//! something can be made to happen while the extract reads (staging replaced, say).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::catalog::ResourceKind;
use crate::execution::selective::{BatchFile, BatchResult, ResourceExtract, TableExtract, TablePlan};
use crate::ports::merger::MergeCheck;
use crate::ports::merger::{ExtractRequest, MergeRequest, Merger, VerifyRequest};
use crate::ports::{FailureKind, PortError};

#[derive(Debug, Default)]
struct State {
    /// The extract to hand out: table → keys in batch order.
    selected: Vec<(String, Vec<u64>)>,
    batch_rows: usize,
    production: BTreeMap<String, BTreeSet<u64>>,
    /// (table, batch) → result: what production "committed".
    ledger: BTreeMap<(String, u32), BatchResult>,
    fail_once: Option<(String, u32)>,
    unusable: Option<String>,
    /// Batch contents, by key.
    batches: BTreeMap<String, Vec<u64>>,
    merge_calls: usize,
}

/// What happens while the extract reads.
type DuringExtract = Box<dyn Fn() + Send + Sync>;

pub struct MemoryMerger {
    kind: ResourceKind,
    state: Mutex<State>,
    during_extract: Mutex<Option<DuringExtract>>,
}

impl std::fmt::Debug for MemoryMerger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryMerger")
            .field("kind", &self.kind)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl MemoryMerger {
    /// A merger whose extract is `selected` (per table, the keys at the recovery point that
    /// the selection takes), in batches of `batch_rows`, over `production`'s keys.
    pub fn new(
        kind: ResourceKind,
        selected: Vec<(String, Vec<u64>)>,
        batch_rows: usize,
        production: BTreeMap<String, BTreeSet<u64>>,
    ) -> Self {
        MemoryMerger {
            kind,
            state: Mutex::new(State {
                selected,
                batch_rows,
                production,
                ..State::default()
            }),
            during_extract: Mutex::new(None),
        }
    }

    /// Makes `what` happen while each extract reads, after it began and before it answers.
    pub fn during_extract(&self, what: impl Fn() + Send + Sync + 'static) {
        *self.during_extract.lock().expect("merger lock") = Some(Box::new(what));
    }

    pub fn fail_once(&self, table: &str, batch: u32) {
        self.state.lock().expect("merger lock").fail_once = Some((table.to_string(), batch));
    }

    /// Makes the engine report itself unusable (say, no database connections configured).
    pub fn make_unusable(&self, why: &str) {
        self.state.lock().expect("merger lock").unusable = Some(why.to_string());
    }

    pub fn production(&self, table: &str) -> BTreeSet<u64> {
        let state = self.state.lock().expect("merger lock");
        state.production.get(table).cloned().unwrap_or_default()
    }

    /// Merge calls made (each batch attempt counts).
    pub fn merge_calls(&self) -> usize {
        self.state.lock().expect("merger lock").merge_calls
    }

    /// Forgets a committed batch, as if production lost its record.
    pub fn forget(&self, table: &str, batch: u32) {
        let mut state = self.state.lock().expect("merger lock");
        state.ledger.remove(&(table.to_string(), batch));
    }
}

#[async_trait]
impl Merger for MemoryMerger {
    fn kind(&self) -> ResourceKind {
        self.kind
    }

    fn unusable(&self) -> Option<String> {
        self.state.lock().expect("merger lock").unusable.clone()
    }

    async fn extract(&self, request: &ExtractRequest<'_>) -> Result<ResourceExtract, PortError> {
        if let Some(what) = self.during_extract.lock().expect("merger lock").as_ref() {
            what();
        }
        let mut state = self.state.lock().expect("merger lock");
        let mut tables = Vec::new();
        for (table, keys) in state.selected.clone() {
            let live = state.production.get(&table).cloned().unwrap_or_default();
            let mut batches = Vec::new();
            for (index, chunk) in keys.chunks(state.batch_rows.max(1)).enumerate() {
                let key = format!("{}/{table}/{index}", request.request_id);
                state.batches.insert(key.clone(), chunk.to_vec());
                batches.push(BatchFile {
                    index: index as u32,
                    key,
                    rows: chunk.len() as u64,
                    sha256: String::new(),
                });
            }
            let present = keys.iter().filter(|k| live.contains(k)).count() as u64;
            tables.push(TableExtract {
                table: table.clone(),
                columns: vec![],
                key: vec!["id".into()],
                rows: keys.len() as u64,
                sha256: String::new(),
                batches,
                reasons: vec!["selected".into()],
                plan: TablePlan {
                    insert: keys.len() as u64 - present,
                    present,
                    conflicts: 0,
                },
            });
        }
        Ok(ResourceExtract {
            resource: request.resource.clone(),
            tables,
            keys_not_found: 0,
        })
    }

    async fn merge(&self, request: &MergeRequest<'_>) -> Result<BatchResult, PortError> {
        let mut state = self.state.lock().expect("merger lock");
        state.merge_calls += 1;
        let at = (request.table.table.clone(), request.batch.index);
        if state.fail_once.as_ref() == Some(&at) {
            state.fail_once = None;
            return Err(PortError::new(
                "merge",
                request.resource,
                FailureKind::Unavailable,
                "injected",
            ));
        }
        if let Some(done) = state.ledger.get(&at) {
            return Ok(done.clone());
        }
        let keys = state.batches.get(&request.batch.key).cloned().unwrap_or_default();
        let live = state.production.entry(at.0.clone()).or_default();
        let inserted = keys.iter().filter(|k| live.insert(**k)).count() as u64;
        let result = BatchResult {
            inserted,
            present: keys.len() as u64 - inserted,
            conflicts: 0,
            parent_missing: 0,
            skipped: vec![],
        };
        state.ledger.insert(at, result.clone());
        Ok(result)
    }

    async fn verify(&self, request: &VerifyRequest<'_>) -> Result<MergeCheck, PortError> {
        let state = self.state.lock().expect("merger lock");
        let missing: Vec<String> = request
            .merged
            .iter()
            .filter(|m| state.ledger.get(&(m.table.clone(), m.index)) != Some(&m.result))
            .map(|m| format!("{} batch {}", m.table, m.index))
            .collect();
        Ok(MergeCheck {
            ok: missing.is_empty(),
            detail: if missing.is_empty() {
                format!("{} batches in the ledger", request.merged.len())
            } else {
                format!("not in the ledger: {}", missing.join(", "))
            },
        })
    }
}
