//! `lifeboat points INSTANCE`: the instance's recovery points by resource and tier, each
//! with what a full rollback to it would lose (everything written from the point to now).

use serde_json::Value;

use crate::args::{Connection, Output};
use crate::client::Api;
use crate::endpoint::segment;
use crate::error::CliError;
use crate::output::{duration, json_line, text, Table};

/// Shortest-lived first: the points a rollback loses least to come first.
const TIERS: [&str; 3] = ["hourly", "weekly", "monthly"];

pub async fn run(connection: &Connection, instance: &str, output: Output) -> Result<(), CliError> {
    let api = Api::connect(connection).await?;
    let listing = api
        .get(&format!("/instances/{}/recovery-points", segment(instance)))
        .await?;
    match output {
        Output::Json => println!("{}", json_line(&listing)),
        Output::Table => print!("{}", render(&listing)),
    }
    Ok(())
}

pub fn render(listing: &Value) -> String {
    let mut out = format!(
        "Recovery points of instance {} at {} (a rollback loses everything written since its point)\n",
        text(listing, "instance_id"),
        text(listing, "at")
    );
    for resource in listing["resources"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n{}  (policy {})\n",
            text(resource, "resource"),
            text(resource, "policy")
        ));
        out.push_str(&point_in_time(&resource["point_in_time"]));
        for tier in TIERS {
            out.push_str(&tier_table(resource, tier));
        }
    }
    out.push_str(
        "\nTo roll back to one: lifeboat requests approve ID --mode rollback --point RESOURCE=POINT --reason …\n",
    );
    out
}

fn point_in_time(window: &Value) -> String {
    if window.is_null() {
        return "  point in time: no continuous-backup window reported\n".into();
    }
    let loss = |k: &str| duration(window[k]["seconds"].as_i64().unwrap_or_default());
    format!(
        "  point in time: any second from {} to {} (point_in_time:TIME); a rollback loses {} to {}\n",
        text(window, "earliest"),
        text(window, "latest"),
        loss("least_loss"),
        loss("most_loss")
    )
}

/// The points serving `tier`, newest first, with that tier's expiry.
fn tier_table(resource: &Value, tier: &str) -> String {
    let mut table = Table::new(&["POINT", "EXPIRES", "ROLLBACK LOSES", "HELD"]);
    for point in resource["points"].as_array().into_iter().flatten() {
        let Some(t) = point["tiers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["tier"] == tier)
        else {
            continue;
        };
        table.row(vec![
            text(point, "point").to_string(),
            text(t, "expires_at").to_string(),
            duration(point["data_loss"]["seconds"].as_i64().unwrap_or_default()),
            if point["held"] == true { "held" } else { "" }.to_string(),
        ]);
    }
    if table.is_empty() {
        return format!("  {tier}: none\n");
    }
    format!("  {tier}:\n{}", table.render("    "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn points_are_listed_under_each_tier_they_serve() {
        let listing = json!({
            "instance_id": "acme", "at": "2026-11-28T12:30:00Z",
            "resources": [{
                "resource": "rds:acme-db", "policy": "standard",
                "point_in_time": {
                    "earliest": "2026-11-25T12:30:00Z", "latest": "2026-11-28T12:25:00Z",
                    "least_loss": {"seconds": 300}, "most_loss": {"seconds": 259200}
                },
                "points": [
                    {"point": "snapshot:2026-11-28T12:00:00Z", "slot": "2026-11-28T12:00:00Z", "held": true,
                     "tiers": [{"tier": "hourly", "expires_at": "2026-12-01T12:00:00Z"}],
                     "data_loss": {"seconds": 1800}},
                    {"point": "snapshot:2026-11-21T23:00:00Z", "slot": "2026-11-21T23:00:00Z", "held": false,
                     "tiers": [{"tier": "weekly", "expires_at": "2026-12-21T23:00:00Z"}],
                     "data_loss": {"seconds": 566_400}}
                ]
            }]
        });
        let text = render(&listing);
        for expected in [
            "rds:acme-db  (policy standard)",
            "point in time: any second from 2026-11-25T12:30:00Z to 2026-11-28T12:25:00Z (point_in_time:TIME); a rollback loses 5m 0s to 3d 0h",
            "  hourly:\n    POINT                          EXPIRES               ROLLBACK LOSES  HELD\n    snapshot:2026-11-28T12:00:00Z  2026-12-01T12:00:00Z  30m 0s          held\n",
            "  weekly:\n",
            "    snapshot:2026-11-21T23:00:00Z  2026-12-21T23:00:00Z  6d 13h",
            "  monthly: none\n",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
        }
    }
}
