//! The command line, as clap parses it. Nothing here talks to the API: `commands` turns the
//! parsed arguments into calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::EXIT_CODES;
use crate::point::ChosenPoint;

#[derive(Debug, Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "File, decide, confirm and watch Lifeboat restore requests; list an instance's recovery points.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: Connection,
    /// How answers are printed: tables for people, or the API's JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the API is and who calls it.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The restore-request API: the stack's `RestoreApiUrl` output
    /// (https://<api>.execute-api.<region>.amazonaws.com/prod), or the local stack's API front.
    #[arg(long, global = true, env = "LIFEBOAT_API_URL", value_name = "URL")]
    pub endpoint: Option<String>,
    /// The region to sign for; by default the one in the endpoint's host name, else the
    /// credential chain's (AWS_REGION, the profile's region).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// The AWS profile whose credentials sign the calls (default: AWS_PROFILE, then `default`).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Local stack only: call as this principal (the `X-Lifeboat-Principal` header the local
    /// API front reads) instead of signing. A deployed API ignores the header.
    #[arg(long, global = true, env = "LIFEBOAT_LOCAL_PRINCIPAL", value_name = "ARN")]
    pub local_principal: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

// Parsed once per run: the size of a variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Restore requests: file, list, show, approve, reject, cancel, confirm, watch.
    Requests {
        #[command(subcommand)]
        command: Requests,
    },
    /// An instance's recovery points by tier, with what a rollback to each would lose.
    Points {
        /// The customer instance (its resources' `lifeboat:instance` tag).
        instance: String,
    },
    /// Restore drills: start one of an instance now (the drill state machine, with your AWS
    /// credentials).
    Drills {
        #[command(subcommand)]
        command: Drills,
    },
}

#[derive(Debug, Subcommand)]
pub enum Drills {
    /// Start a drill of one customer instance: its resources restored into lbd- sandboxes,
    /// checked against production, deleted, and reported under drills/ in the reports bucket.
    Start(DrillStart),
}

#[derive(Debug, Clone, Args)]
pub struct DrillStart {
    /// The customer instance (its resources' `lifeboat:instance` tag).
    pub instance: String,
    /// Which point each resource restores: `latest` (the default), `random` (any available
    /// within the retention), or a slot time (2026-11-28T23:00:00Z).
    #[arg(long)]
    pub point: Option<String>,
    /// The drill state machine: the stack's `DrillStateMachineArn` output.
    #[arg(long, env = "LIFEBOAT_DRILL_STATE_MACHINE_ARN", value_name = "ARN")]
    pub state_machine: Option<String>,
    /// The execution's name (the drill's id); by default the instance's and the time's.
    #[arg(long)]
    pub name: Option<String>,
    /// How often the drill polls a restore for readiness, in seconds (the state machine's
    /// default is 30).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll_interval: Option<u64>,
    /// Follow the drill to its end; exit 1 unless it succeeded.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: seconds between looks at the execution.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub watch_seconds: u64,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Requests {
    /// File a restore request (support): from flags, a JSON file, or both (flags win).
    File(FileArgs),
    /// An instance's requests, newest first.
    List {
        /// The customer instance.
        #[arg(long, value_name = "ID")]
        instance: String,
        /// Only requests in this status.
        #[arg(long, value_enum)]
        status: Option<Status>,
    },
    /// A request with its options, decision, restore run and audit trail.
    Show {
        /// The request's id (rr-…).
        id: String,
    },
    /// Approve a request (engineering): starts the restore.
    Approve(ApproveArgs),
    /// Reject a request (engineering).
    Reject {
        /// The request's id (rr-…).
        id: String,
        /// Why (recorded in the audit trail).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        key: IdempotencyKey,
    },
    /// Withdraw a request before its restore runs.
    Cancel {
        /// The request's id (rr-…).
        id: String,
        /// Why (recorded in the audit trail).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        key: IdempotencyKey,
    },
    /// Confirm the step a restore waits on before it touches production (a second engineer).
    Confirm {
        /// The request's id (rr-…).
        id: String,
        /// What was checked (recorded in the audit trail).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        key: IdempotencyKey,
    },
    /// Follow a request until it ends: progress per resource and the timeline as it grows.
    Watch {
        /// The request's id (rr-…).
        id: String,
        /// Seconds between two reads of the request.
        #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
        interval: f64,
        /// Stop (exit 0) as soon as the restore waits for a confirmation: staging is ready
        /// to check.
        #[arg(long)]
        until_confirmation: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct IdempotencyKey {
    /// Sent as `Idempotency-Key`: running the same command again with the same key gets the
    /// first answer instead of acting twice (default: a new key per run).
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct FileArgs {
    /// A JSON body of `POST /restore-requests` (`-` for standard input); flags override its fields.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// The customer instance (its resources' `lifeboat:instance` tag).
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
    /// What caused the loss, as the policy's examples name causes.
    #[arg(long, value_enum)]
    pub cause: Option<Cause>,
    /// What happened, in the customer's words.
    #[arg(long)]
    pub description: Option<String>,
    /// About when the loss happened (RFC 3339, e.g. 2026-11-28T09:10:00Z).
    #[arg(long, value_name = "TIME")]
    pub occurred_at: Option<String>,
    /// Affected objects (comma-separated or repeated), e.g. contacts,notes.
    #[arg(long, value_delimiter = ',', value_name = "OBJECT")]
    pub objects: Vec<String>,
    /// Affected records, e.g. record ids.
    #[arg(long, value_delimiter = ',', value_name = "RECORD")]
    pub records: Vec<String>,
    /// Affected areas of the product, e.g. "CRM sync".
    #[arg(long, value_delimiter = ',', value_name = "AREA")]
    pub areas: Vec<String>,
    /// About how many records were lost.
    #[arg(long, value_name = "N")]
    pub estimated_records: Option<u64>,
    /// Deadlines and downstream impacts.
    #[arg(long, value_name = "TEXT")]
    pub business_context: Option<String>,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

#[derive(Debug, Clone, Args)]
pub struct ApproveArgs {
    /// The request's id (rr-…).
    pub id: String,
    /// Roll whole resources back, or bring selected records back (with --selection).
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// A recovery point per resource, RESOURCE=snapshot:SLOT or RESOURCE=point_in_time:TIME
    /// (e.g. rds:acme-db=snapshot:2026-11-28T09:00:00Z); default: the request's options.
    /// `lifeboat points` lists them.
    #[arg(long = "point", value_name = "RESOURCE=POINT", value_parser = ChosenPoint::parse)]
    pub points: Vec<ChosenPoint>,
    /// A selective restore's selection: a JSON file holding the `selection` array (or one
    /// selection object), e.g. [{"resource": "rds:acme-db", "table": "contacts",
    /// "missing": true, "with_dependants": true}].
    #[arg(long, value_name = "FILE")]
    pub selection: Option<PathBuf>,
    /// Why (recorded in the audit trail).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Mode {
    Rollback,
    Selective,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Cause {
    InfrastructureFailure,
    IntegrationMassDeletion,
    UserEdit,
    WorkflowAsConfigured,
    StandardProductDeletion,
    ConfigurationChange,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    Approved,
    Rejected,
    Cancelled,
    Executing,
    Completed,
    Failed,
}

/// The API's spelling of a value-enum's variant (the same as the command line's).
pub fn wire_name(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .expect("no variant is skipped")
        .get_name()
        .to_string()
}
