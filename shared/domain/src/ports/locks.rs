//! One restore at a time per production resource.

use async_trait::async_trait;

use super::PortError;

/// One restore at a time per production resource: two approved requests for the same
/// instance must not both swap it.
#[async_trait]
pub trait ResourceLocks: Send + Sync {
    /// Takes the lock on `resource` for `holder` (a request id); taking it again as the same
    /// holder succeeds. A `Conflict` error naming the holder when another has it.
    async fn acquire(&self, resource: &str, holder: &str) -> Result<(), PortError>;

    /// Releases `holder`'s lock on `resource`; nothing when `holder` does not hold it.
    async fn release(&self, resource: &str, holder: &str) -> Result<(), PortError>;
}
