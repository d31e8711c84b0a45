//! A fanned-out tick's shard objects (see `lifeboat::fanout`): written by a function's plan
//! stage, read by its shard stage, in the store it is given (the reports bucket).

use futures::stream::{self, StreamExt};
use lifeboat::ports::ObjectStore;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::failure::{FailureType, FunctionError};

/// Shard objects written at once.
const CONCURRENCY: usize = 8;

/// Writes each `(key, shard)`; the keys, in order, once all are written.
pub async fn write_all<T: Serialize>(
    store: &dyn ObjectStore,
    shards: Vec<(String, T)>,
) -> Result<Vec<String>, FunctionError> {
    let written: Vec<Result<String, FunctionError>> = stream::iter(shards)
        .map(|(key, shard)| async move {
            let body = serde_json::to_vec(&shard).expect("shards serialize");
            store
                .put(&key, body, "application/json")
                .await
                .map(|()| key.clone())
                .map_err(|e| {
                    FunctionError::new(FailureType::DependencyFailed, format!("writing shard {key}: {e}"))
                })
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    written.into_iter().collect()
}

/// The shard at `key`: a store that fails is `DependencyFailed` (retried), an object that is
/// not a shard `InvalidEvent` (the key did not come from this function's plan).
pub async fn read<T: DeserializeOwned>(store: &dyn ObjectStore, key: &str) -> Result<T, FunctionError> {
    let body = store.get(key).await.map_err(|e| {
        FunctionError::new(FailureType::DependencyFailed, format!("reading shard {key}: {e}"))
    })?;
    serde_json::from_slice(&body).map_err(|e| {
        FunctionError::new(
            FailureType::InvalidEvent,
            format!("shard {key} is unreadable: {e}"),
        )
    })
}
