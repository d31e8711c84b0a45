//! Credentials for a restored staging instance in AWS.
//!
//! A restore from a snapshot or to a point in time keeps the master password the instance
//! had then, and RDS gives the new instance no managed secret of its own (production's secret
//! may have rotated since). So once staging is available, it is given an RDS-managed master
//! password (`ManageMasterUserPassword`): RDS creates the secret, and the engine connects
//! with it like with any instance. Polled until the secret is active and nothing is pending.
//!
//! Only an instance marked as the request's (or drill's) staging is ever given one: an
//! instance that merely has the staging name is refused before anything is asked of it.

use std::collections::BTreeMap;

use aws_sdk_rds::Client;

use lifeboat::inventory::marked_for;
use lifeboat::ports::restorer::Progress;
use lifeboat::ports::{FailureKind, PortError};

/// `staging`'s managed master secret, asked for once it is available; `request_id`: the
/// restore request or drill whose staging it must be marked as.
pub async fn ensure_managed_secret(
    rds: &Client,
    staging: &str,
    request_id: &str,
) -> Result<Progress, PortError> {
    let fail = |op: &'static str, e: String| PortError::new(op, staging, FailureKind::Unavailable, e);
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(staging)
        .send()
        .await
        .map_err(|e| fail("DescribeDBInstances", e.to_string()))?;
    let Some(db) = out.db_instances().first() else {
        return Err(PortError::new(
            "DescribeDBInstances",
            staging,
            FailureKind::NotFound,
            "no such staging instance",
        ));
    };
    let tags: BTreeMap<String, String> = (db.tag_list().iter())
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    if !marked_for(&tags, request_id, Some("staging")) {
        return Err(PortError::new(
            "ModifyDBInstance (managed master password)",
            format!("rds:{staging}"),
            FailureKind::NotOurs,
            format!("refusing to give it a managed master password: it is not marked as {request_id}'s staging instance"),
        ));
    }
    let status = db.db_instance_status().unwrap_or_default();
    let secret = db.master_user_secret().and_then(|s| s.secret_status());
    let pending = db
        .pending_modified_values()
        .is_some_and(|p| p.master_user_password().is_some() || p.db_instance_identifier().is_some());
    match secret {
        Some("active") if status == "available" && !pending => Ok(Progress::Done),
        Some(state) => Ok(Progress::Pending(format!(
            "{staging}: its managed master secret is {state}, the instance {status}"
        ))),
        None if status != "available" => Ok(Progress::Pending(format!("{staging} is {status}"))),
        None => {
            rds.modify_db_instance()
                .db_instance_identifier(staging)
                .manage_master_user_password(true)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| fail("ModifyDBInstance", e.to_string()))?;
            Ok(Progress::Pending(format!(
                "{staging}: asked RDS for a managed master password"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_rds::operation::modify_db_instance::ModifyDbInstanceOutput;
    use aws_sdk_rds::types::{DbInstance, MasterUserSecret, Tag};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};

    use super::*;

    const REQUEST: &str = "rr-1";

    fn staging(status: &str, secret: Option<&str>) -> DbInstance {
        marked(
            status,
            secret,
            &[(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "staging")],
        )
    }

    fn marked(status: &str, secret: Option<&str>, tags: &[(&str, &str)]) -> DbInstance {
        let mut b = DbInstance::builder()
            .db_instance_identifier("lbs-1-db")
            .db_instance_status(status);
        for (k, v) in tags {
            b = b.tag_list(Tag::builder().key(*k).value(*v).build());
        }
        if let Some(s) = secret {
            b = b.master_user_secret(
                MasterUserSecret::builder()
                    .secret_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1")
                    .secret_status(s)
                    .build(),
            );
        }
        b.build()
    }

    async fn poll(instance: DbInstance) -> (Progress, usize) {
        let (progress, modified) = ask(instance).await;
        (progress.unwrap(), modified)
    }

    async fn ask(instance: DbInstance) -> (Result<Progress, PortError>, usize) {
        let describe = mock!(Client::describe_db_instances).then_output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(instance.clone())
                .build()
        });
        let modify = mock!(Client::modify_db_instance)
            .match_requests(|r| {
                r.manage_master_user_password() == Some(true) && r.apply_immediately() == Some(true)
            })
            .then_output(|| ModifyDbInstanceOutput::builder().build());
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&describe, &modify]);
        let progress = ensure_managed_secret(&client, "lbs-1-db", REQUEST).await;
        (progress, modify.num_calls())
    }

    /// An instance that has the staging name but not this request's staging marks (never
    /// restored by it, another request's, production renamed) is never modified.
    #[tokio::test]
    async fn an_instance_not_marked_as_this_requests_staging_is_refused_and_never_modified() {
        for tags in [
            vec![],
            vec![(TAG_RESTORE_REQUEST, "rr-2"), (TAG_RESTORE_ROLE, "staging")],
            vec![(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "fallback")],
            vec![(TAG_RESTORE_REQUEST, REQUEST)],
            vec![(TAG_INSTANCE, "acme")],
        ] {
            let (progress, modified) = ask(marked("available", None, &tags)).await;
            let e = progress.unwrap_err();
            assert_eq!(e.kind, FailureKind::NotOurs, "{tags:?}: {e}");
            assert!(
                e.to_string().contains("rds:lbs-1-db") && e.to_string().contains(REQUEST),
                "{e}"
            );
            assert_eq!(modified, 0, "{tags:?}: nothing asked of it");
        }
    }

    #[tokio::test]
    async fn staging_without_a_secret_is_given_one_then_waited_for_until_active() {
        let (progress, modified) = poll(staging("available", None)).await;
        assert!(
            matches!(progress, Progress::Pending(ref w) if w.contains("asked RDS")),
            "{progress:?}"
        );
        assert_eq!(modified, 1);
        let (progress, modified) = poll(staging("modifying", Some("creating"))).await;
        assert!(
            matches!(progress, Progress::Pending(ref w) if w.contains("creating")),
            "{progress:?}"
        );
        assert_eq!(modified, 0);
        let (progress, modified) = poll(staging("available", Some("active"))).await;
        assert_eq!((progress, modified), (Progress::Done, 0));
    }

    #[tokio::test]
    async fn staging_still_restoring_is_not_modified() {
        let (progress, modified) = poll(staging("creating", None)).await;
        assert!(
            matches!(progress, Progress::Pending(ref w) if w.contains("creating")),
            "{progress:?}"
        );
        assert_eq!(modified, 0);
    }
}
