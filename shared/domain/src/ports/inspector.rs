//! What a restore drill reads in a sandbox: its data checked against production's, read
//! only (see `lifeboat::drill::checks`).

use async_trait::async_trait;

use super::restorer::Progress;
use super::PortError;
use crate::catalog::{ResourceKey, ResourceKind};
use crate::drill::checks::{CheckResult, DrillSpec};

#[async_trait]
pub trait SandboxInspector: Send + Sync {
    fn kind(&self) -> ResourceKind;

    /// Makes the sandbox readable (an RDS sandbox restored from a snapshot gets its own
    /// managed credentials first); `Pending` until it is. Refused unless the sandbox is
    /// marked as drill `drill_id`'s.
    async fn prepare(&self, _sandbox: &str, _drill_id: &str) -> Result<Progress, PortError> {
        Ok(Progress::Done)
    }

    /// Checks `sandbox` (a restored copy of `production`) against production as it is now,
    /// and runs `spec`'s checks of this kind in the sandbox. Reads only.
    async fn inspect(
        &self,
        production: &ResourceKey,
        sandbox: &str,
        spec: &DrillSpec,
    ) -> Result<Vec<CheckResult>, PortError>;
}
