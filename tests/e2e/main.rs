//! The end-to-end tests, one binary: a module per area, each test on a local stack of its own
//! (moto, the edge, PostgreSQL and the real function binaries, on ports each stack picks), so
//! that tests of every area run side by side. The shared helpers are the `lifeboat_e2e`
//! library (`tests/support.rs`).
//!
//! Run one area or one test with a filter: `cargo test -p lifeboat-e2e --test e2e restore_intake::`.

/// The catalog table's reads and writes against moto's DynamoDB.
mod catalog_table;
/// The `lifeboat` command line run against the stack: file, points, approve, watch, confirm.
mod cli;
/// The copy-back's fence, which holds for certain, and the undo's comparison.
mod copy_back_fence;
/// The DynamoDB restorer's copy-back, shard by shard.
mod dynamodb_copy_back;
/// The DynamoDB merge on its own.
mod dynamodb_merge;
/// Tables by Lifeboat's names taken, marked, read or deleted only when provably its own.
mod dynamodb_ownership;
/// The exposure guard over what restores leave: a kept instance's snapshot, copies of an
/// instance gone from the account, a staging table's resource policy.
mod exposure_guard;
/// A weekly point refused at its slot, taken late by the next tick that reaches the resource
/// (whatever the ticks between did) and shown late by the audit.
mod late_points;
/// `lifeboat-local up` started from outside with settings for its functions.
mod local_stack_settings;
/// schemathesis against the API's OpenAPI document.
mod openapi_conformance;
/// Pins taken only from what is proven this restore's: DynamoDB's record of the restore
/// with the marks, and an RDS original pinned before the swap.
mod pins_proven;
/// The policy over 400 fast-forwarded days, and full mode against fast-forward.
mod policy_over_time;
/// The local stack's RDS data plane.
mod postgres_data_plane;
/// What a restore drill checks in a PostgreSQL sandbox.
mod postgres_drill;
/// What a drill reads in production needs only a `pg_monitor` user.
mod postgres_drill_reader;
/// The PostgreSQL merge engine on its own.
mod postgres_merge;
/// The daily audit: coverage, exposure revoked, its page in Chromium.
mod recovery_audit;
/// Restore drills through the drill state machine.
mod restore_drill;
/// Restores executed by the real state machine and the real executor.
mod restore_execution;
/// The restore-request API through the API front.
mod restore_intake;
/// Selective restores on real PostgreSQL databases and DynamoDB.
mod selective_restore;
/// A rollback's staging replaced during the confirmation's wait: never taken into production.
mod staging_pinned;
/// Status events: the sequence a rollback and a selective restore publish, checked against
/// their schemas; a bus that does not exist failing no step.
mod status_events;
/// AWS's rate limits, metered by the edge.
mod throttling;
/// Scheduled ticks: what the creator and the pruner do, and never do, to the services.
mod tick_safety;
