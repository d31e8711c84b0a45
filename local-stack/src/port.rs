//! Loopback ports for the local stack's servers.

use crate::StackError;

/// A port free on 127.0.0.1 now (the OS picks it; the caller binds it at once).
pub fn free_port() -> Result<u16, StackError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| StackError::Setup(format!("finding a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| StackError::Setup(e.to_string()))
}
