//! The main job of the README: a demo customer instance kept for a simulated 400 days, then
//! a restore request filed and approved for it ([`restore_request`]), and a selective
//! restore of contacts an integration deleted ([`selective`], on [`crm`] data), both driven
//! through the `lifeboat` command line ([`typed`]), and the
//! restore drill of the demo instance ([`drill`]) and the daily audit after a snapshot was
//! shared publicly ([`audit`]).

pub mod audit;
pub mod crm;
pub mod drill;
pub mod restore_request;
pub mod selective;
pub mod typed;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::inventory::{TAG_INSTANCE, TAG_TIMEZONE};
use lifeboat::policy::PolicyBook;

use crate::simulation::{self, Mode};
use crate::stack::LocalStack;
use crate::{resources, StackError};

pub const DEMO_INSTANCE: &str = "demo-customer";
pub const DEMO_DB: &str = "demo-customer-db";
pub const DEMO_TABLE: &str = "demo-customer-events";

/// Gives both demo resources the policy's 72-hour continuous backup window up to `now`
/// (moto keeps no point-in-time windows; the edge reports what it is told).
pub fn give_windows(stack: &LocalStack, now: DateTime<Utc>) {
    for resource in [format!("rds:{DEMO_DB}"), format!("dynamodb:{DEMO_TABLE}")] {
        stack.edge.windows.set(
            &resource,
            crate::edge::windows::Window {
                earliest: now - TimeDelta::hours(72),
                latest: now,
            },
        );
    }
}

/// Tags the demo instance (one RDS instance, one DynamoDB table, in New York time), plus an
/// untagged table Lifeboat must leave alone; fast-forwards `days` days ending at `end`; and
/// returns the printed coverage table.
pub async fn run(stack: &LocalStack, days: i64, end: DateTime<Utc>) -> Result<(String, bool), StackError> {
    let tags = [(TAG_INSTANCE, DEMO_INSTANCE), (TAG_TIMEZONE, "America/New_York")];
    // Retention 1 day: point-in-time drift the first tick corrects to the policy's 3 days.
    resources::rds_instance(stack, DEMO_DB, &tags, 1).await?;
    resources::dynamodb_table(stack, DEMO_TABLE, &tags).await?;
    resources::dynamodb_table(stack, "not-a-customer-table", &[("team", "analytics")]).await?;
    let policies = PolicyBook::default();
    let managed = simulation::managed_resources(stack, &policies).await?;
    let start = end - TimeDelta::days(days);
    let ticks = simulation::plan(Mode::FastForward, start, end, &managed);
    println!(
        "Fast-forwarding {days} days ({} to {}): {} scheduled invocations instead of {}.",
        start.to_rfc3339(),
        end.to_rfc3339(),
        ticks.len(),
        2 * days * 24
    );
    let report = simulation::run(stack, &ticks).await?;
    let last_prune = ticks.last().map(|t| t.time).unwrap_or(end);
    let coverage = simulation::coverage(stack, &managed, start, end, last_prune).await?;
    let exact = coverage.is_exact() && report.failures.is_empty();
    Ok((simulation::render(&coverage, &report, managed.len()), exact))
}
