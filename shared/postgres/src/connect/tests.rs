use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::types::{DbInstance, Endpoint, MasterUserSecret, Tag};
use aws_sdk_secretsmanager::operation::get_secret_value::{GetSecretValueError, GetSecretValueOutput};
use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use lifeboat::ports::FailureKind;

use super::*;

const PREFIX: &str = "lifeboat/drill-reader/";

fn master_arn(instance: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-{instance}-AbCdEf")
}

fn instance(id: &'static str, tags: &[(&str, &str)]) -> DbInstance {
    let mut b = DbInstance::builder()
        .db_instance_identifier(id)
        .db_name("crm")
        .endpoint(
            Endpoint::builder()
                .address(format!("{id}.x.rds.amazonaws.com"))
                .port(5432)
                .build(),
        )
        .master_user_secret(MasterUserSecret::builder().secret_arn(master_arn(id)).build());
    for (k, v) in tags {
        b = b.tag_list(Tag::builder().key(*k).value(*v).build());
    }
    b.build()
}

fn described(db: DbInstance) -> aws_sdk_rds::Client {
    let rule = mock!(aws_sdk_rds::Client::describe_db_instances).then_output(move || {
        DescribeDbInstancesOutput::builder()
            .db_instances(db.clone())
            .build()
    });
    mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&rule])
}

/// GetSecretValue of `id` answering a credential for `user`.
fn secret(id: String, user: &'static str) -> Rule {
    mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(move |r| r.secret_id() == Some(id.as_str()))
        .then_output(move || {
            GetSecretValueOutput::builder()
                .secret_string(format!(r#"{{"username": "{user}", "password": "pw-{user}"}}"#))
                .build()
        })
}

fn missing(id: String) -> Rule {
    mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(move |r| r.secret_id() == Some(id.as_str()))
        .then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("Secrets Manager can't find the specified secret.")
                    .build(),
            )
        })
}

fn drills() -> Credentials {
    Credentials::DrillReader {
        prefix: PREFIX.to_string(),
    }
}

const SANDBOX_MARKS: [(&str, &str); 2] = [
    (TAG_RESTORE_ROLE, "staging"),
    (TAG_RESTORE_REQUEST, "drill-acme-20261203t0600z"),
];

#[tokio::test]
async fn a_drill_reads_production_with_the_reader_secret_and_never_its_master_secret() {
    let rules = [
        secret(format!("{PREFIX}acme-db"), "lifeboat_drill_reader"),
        secret(master_arn("acme-db"), "postgres"),
    ];
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &rules);
    let rds = described(instance("acme-db", &[(TAG_INSTANCE, "acme")]));
    let config = rds_config(&rds, &secrets, &drills(), "acme-db").await.unwrap();
    assert_eq!(config.get_user(), Some("lifeboat_drill_reader"));
    assert_eq!(config.get_password(), Some(&b"pw-lifeboat_drill_reader"[..]));
    assert_eq!(config.get_dbname(), Some("crm"));
    assert_eq!(
        rules[1].num_calls(),
        0,
        "production's master secret never asked for"
    );
}

#[tokio::test]
async fn a_drill_reads_its_own_sandbox_with_the_sandbox_s_master_secret() {
    let sandbox = "lbd-3f2a9c1e-acme-db";
    let rules = [
        secret(format!("{PREFIX}{sandbox}"), "lifeboat_drill_reader"),
        secret(master_arn(sandbox), "postgres"),
    ];
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &rules);
    let rds = described(instance(sandbox, &SANDBOX_MARKS));
    let config = rds_config(&rds, &secrets, &drills(), sandbox).await.unwrap();
    assert_eq!(config.get_user(), Some("postgres"));
    assert_eq!(rules[0].num_calls(), 0);
}

/// Only a sandbox marked as a drill's is read with its master secret: an instance that has
/// the name (or production marked as a sandbox) is read as production is.
#[tokio::test]
async fn an_instance_not_marked_as_a_drill_s_sandbox_is_never_read_with_its_master_secret() {
    for tags in [
        vec![],
        vec![(TAG_RESTORE_ROLE, "staging"), (TAG_RESTORE_REQUEST, "rr-1")],
        vec![SANDBOX_MARKS[0], SANDBOX_MARKS[1], (TAG_INSTANCE, "acme")],
    ] {
        let name = "lbd-3f2a9c1e-acme-db";
        let rules = [
            secret(format!("{PREFIX}{name}"), "lifeboat_drill_reader"),
            secret(master_arn(name), "postgres"),
        ];
        let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &rules);
        let rds = described(instance(name, &tags));
        let config = rds_config(&rds, &secrets, &drills(), name).await.unwrap();
        assert_eq!(config.get_user(), Some("lifeboat_drill_reader"), "{tags:?}");
        assert_eq!(rules[1].num_calls(), 0, "{tags:?}");
    }
}

#[tokio::test]
async fn a_missing_reader_secret_fails_naming_it_and_falls_back_to_nothing() {
    let rules = [
        missing(format!("{PREFIX}acme-db")),
        secret(master_arn("acme-db"), "postgres"),
    ];
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &rules);
    let rds = described(instance("acme-db", &[(TAG_INSTANCE, "acme")]));
    let e = rds_config(&rds, &secrets, &drills(), "acme-db")
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::Refused, "{e}");
    assert!(
        e.message.contains("lifeboat/drill-reader/acme-db") && e.message.contains("pg_monitor"),
        "{e}"
    );
    assert_eq!(rules[1].num_calls(), 0, "no fallback to the master secret");
}

#[tokio::test]
async fn selective_restores_sign_in_with_each_instance_s_master_secret() {
    let rules = [
        secret(format!("{PREFIX}acme-db"), "lifeboat_drill_reader"),
        secret(master_arn("acme-db"), "postgres"),
    ];
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &rules);
    let rds = described(instance("acme-db", &[(TAG_INSTANCE, "acme")]));
    let config = rds_config(&rds, &secrets, &Credentials::Master, "acme-db")
        .await
        .unwrap();
    assert_eq!(config.get_user(), Some("postgres"));
    assert_eq!(rules[0].num_calls(), 0);
}
