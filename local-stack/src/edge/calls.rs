//! The edge's ledger of AWS calls: counts per caller and operation, and the ordered log.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use super::aws_call::AwsCall;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoggedCall {
    pub seq: u64,
    pub caller: String,
    pub service: String,
    pub operation: String,
    pub target: String,
    pub status: u16,
    /// Set when the edge answered instead of moto (an injected fault or an emulated call).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected: Option<String>,
}

#[derive(Default)]
pub struct CallLedger {
    log: Mutex<Vec<LoggedCall>>,
}

/// The log keeps this many calls; the counts are computed from it, so a simulation that needs
/// exact counts reads and clears the ledger per tick.
const LOG_LIMIT: usize = 200_000;

impl CallLedger {
    pub fn record(&self, call: &AwsCall, status: u16, injected: Option<String>) {
        let mut log = self.log.lock().expect("ledger lock");
        let seq = log.last().map_or(1, |c| c.seq + 1);
        if log.len() >= LOG_LIMIT {
            log.remove(0);
        }
        log.push(LoggedCall {
            seq,
            caller: call.caller.clone(),
            service: call.service.clone(),
            operation: call.operation.clone(),
            target: call.target.clone(),
            status,
            injected,
        });
    }

    pub fn log(&self) -> Vec<LoggedCall> {
        self.log.lock().expect("ledger lock").clone()
    }

    /// (caller, service, operation) → count.
    pub fn counts(&self) -> BTreeMap<(String, String, String), u64> {
        let mut counts = BTreeMap::new();
        for c in self.log.lock().expect("ledger lock").iter() {
            *counts
                .entry((c.caller.clone(), c.service.clone(), c.operation.clone()))
                .or_default() += 1;
        }
        counts
    }

    pub fn clear(&self) {
        self.log.lock().expect("ledger lock").clear();
    }
}
