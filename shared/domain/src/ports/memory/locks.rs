//! In-memory locks on production resources.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{FailureKind, PortError, ResourceLocks};

/// Resource locks in memory.
#[derive(Debug, Default)]
pub struct MemoryLocks {
    held: Mutex<BTreeMap<String, String>>,
}

impl MemoryLocks {
    /// Who holds the lock on `resource`.
    pub fn holder(&self, resource: &str) -> Option<String> {
        self.held.lock().expect("locks lock").get(resource).cloned()
    }
}

#[async_trait]
impl ResourceLocks for MemoryLocks {
    async fn acquire(&self, resource: &str, holder: &str) -> Result<(), PortError> {
        let mut held = self.held.lock().expect("locks lock");
        match held.get(resource) {
            Some(current) if current != holder => Err(PortError::new(
                "acquire",
                resource,
                FailureKind::Conflict,
                format!("held by {current}"),
            )),
            _ => {
                held.insert(resource.to_string(), holder.to_string());
                Ok(())
            }
        }
    }

    async fn release(&self, resource: &str, holder: &str) -> Result<(), PortError> {
        let mut held = self.held.lock().expect("locks lock");
        if held.get(resource).is_some_and(|h| h == holder) {
            held.remove(resource);
        }
        Ok(())
    }
}
