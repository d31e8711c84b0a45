"""What each role of the template must be allowed, must be refused, and what IAM cannot say.

One `Role` per Lambda function and per service role. `allowed`: what the code really calls
(a refusal here breaks Lifeboat). `refused`: what must never happen: nothing carrying
`lifeboat:instance` modified, renamed, made public, tagged or untagged, written or deleted
by any role but where the executor's swap needs it; a drill touches only `lbd-` sandboxes
marked `lifeboat:restore-role=staging` by a drill, and reads no secret but its sandboxes' and
the production reader's; the audit revokes and never deletes. `code_guarded`: requests IAM
has no condition to refuse (a rename's new name, tag-on-create against tagging an existing
resource, ValuesToAdd against ValuesToRemove), held to be allowed so that the list stays
true, each naming the code that never makes them.
"""

from dataclasses import dataclass, field

from iam_evaluation import ACCOUNT, PARTITION, REGION, STACK, Request

RDS = f"arn:{PARTITION}:rds:{REGION}:{ACCOUNT}"
DDB = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}"
SECRET = f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret"
BUCKET = f"arn:{PARTITION}:s3:::{STACK}-reportsbucket-x"
REQUESTS_TABLE = f"{DDB}:table/{STACK}-RequestsTable-X"
CATALOG_TABLE = f"{DDB}:table/{STACK}-CatalogTable-X"
EVENT_BUS = f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/default"
DRILL_MACHINE = f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-drill"
RESTORE_MACHINE = f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-RestoreStateMachine"
BACKUP = f"{DDB}:table/orders/backup/01700000000000-abcdef12"

INSTANCE = "lifeboat:instance"
ROLE = "lifeboat:restore-role"
REQUEST = "lifeboat:restore-request"

PRODUCTION = {INSTANCE: "acme"}
STAGING = {ROLE: "staging", REQUEST: "rr-1"}
FALLBACK = {ROLE: "fallback", REQUEST: "rr-1"}
SERVED = {ROLE: "served-production", REQUEST: "rr-1"}
SANDBOX = {ROLE: "staging", REQUEST: "drill-acme-20261203t0600z"}
OTHER_SANDBOX = {ROLE: "staging", REQUEST: "drill-globex-20261203t0600z"}

PRODUCTION_DB = f"{RDS}:db:acme-db"
SANDBOX_DB = f"{RDS}:db:lbd-3f2a9c1e-acme-db"
PRODUCTION_TABLE = f"{DDB}:table/orders"
SANDBOX_TABLE = f"{DDB}:table/lbd-3f2a9c1e-orders"
LIFEBOAT_SNAPSHOT = f"{RDS}:snapshot:lifeboat-acme-db-20261203t0400z"


def rds_secret(instance):
    """An RDS-managed master secret (RDS names it by an id, and tags it with its instance's ARN)."""
    return f"{SECRET}:rds!db-{instance}-4f1c-AbCdEf"


PRODUCTION_SECRET_TAGS = {"aws:rds:primaryDBInstanceArn": PRODUCTION_DB}
SANDBOX_SECRET_TAGS = {"aws:rds:primaryDBInstanceArn": SANDBOX_DB}
READER_SECRET = f"{SECRET}:lifeboat/drill-reader/acme-db-AbCdEf"


def ask(action, resource, tags=None, sets=None, removes=(), **context):
    """A request: `tags` the resource carries, `sets` the tags it sets, `removes` the keys it
    removes; `context` other keys, with `__` for `:` (rds__PubliclyAccessible)."""
    return Request(
        action=action,
        resource=resource,
        resource_tags=dict(tags or {}),
        request_tags=dict(sets or {}),
        tag_keys=list(removes),
        context={k.replace("__", ":"): v for k, v in context.items()},
    )


@dataclass
class Role:
    logical: str
    allowed: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    # (what, request, which code never makes it)
    code_guarded: list = field(default_factory=list)


def never_touches_production(*, except_=()):
    """What no role may do to a managed resource (or make of a secret), but `except_`."""
    cases = {
        "delete production": ask("rds:DeleteDBInstance", PRODUCTION_DB, PRODUCTION),
        "modify production (rename, public, password)": ask("rds:ModifyDBInstance", PRODUCTION_DB, PRODUCTION),
        "tag production": ask("rds:AddTagsToResource", PRODUCTION_DB, PRODUCTION, {ROLE: "staging"}),
        "strip production of lifeboat:instance": ask(
            "rds:RemoveTagsFromResource", PRODUCTION_DB, PRODUCTION, removes=[INSTANCE]
        ),
        "delete a production table": ask("dynamodb:DeleteTable", PRODUCTION_TABLE, PRODUCTION),
        "write a production table's items": ask("dynamodb:BatchWriteItem", PRODUCTION_TABLE, PRODUCTION),
        "put an item into a production table": ask("dynamodb:PutItem", PRODUCTION_TABLE, PRODUCTION),
        "delete a production table's item": ask("dynamodb:DeleteItem", PRODUCTION_TABLE, PRODUCTION),
        "tag a production table": ask("dynamodb:TagResource", PRODUCTION_TABLE, PRODUCTION, {ROLE: "staging"}),
        "untag a production table": ask("dynamodb:UntagResource", PRODUCTION_TABLE, PRODUCTION, removes=[INSTANCE]),
        "write items of a table Lifeboat does not manage": ask("dynamodb:PutItem", f"{DDB}:table/payroll"),
        "delete a table Lifeboat does not manage": ask("dynamodb:DeleteTable", f"{DDB}:table/payroll"),
        "read production's master secret": ask(
            "secretsmanager:GetSecretValue", rds_secret("acme-db"), PRODUCTION_SECRET_TAGS
        ),
        "read any other secret": ask("secretsmanager:GetSecretValue", f"{SECRET}:payroll-api-key-AbCdEf"),
        "delete a Lifeboat snapshot": ask("rds:DeleteDBSnapshot", LIFEBOAT_SNAPSHOT),
        "delete a DynamoDB backup": ask("dynamodb:DeleteBackup", BACKUP),
        "share a snapshot": ask("rds:ModifyDBSnapshotAttribute", LIFEBOAT_SNAPSHOT),
        "delete the requests table": ask("dynamodb:DeleteTable", REQUESTS_TABLE),
        "delete the catalog table": ask("dynamodb:DeleteTable", CATALOG_TABLE),
    }
    unknown = set(except_) - set(cases)
    assert not unknown, f"no such case: {unknown}"
    return [(what, request) for what, request in cases.items() if what not in except_]


def invokes_only(logical, allowed):
    """A service role: it starts or invokes Lifeboat's own functions and nothing else."""
    return Role(
        logical,
        allowed=allowed,
        refused=never_touches_production()
        + [
            ("write the reports", ask("s3:PutObject", f"{BUCKET}/drills/acme/2026-12-03/report.json")),
            ("invoke a function not Lifeboat's", ask(
                "lambda:InvokeFunction", f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:payroll"
            )),
        ],
    )


def function(logical):
    return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{logical}-X"


# ------------------------------------------------------------------------ snapshot-creator

SNAPSHOT_CREATOR = Role(
    "SnapshotCreatorFunction",
    allowed=[
        ("list the fleet", ask("rds:DescribeDBInstances", PRODUCTION_DB)),
        ("find managed resources by tag", ask("tag:GetResources", "*")),
        ("count the account's snapshots (quota)", ask("rds:DescribeAccountAttributes", "*")),
        ("snapshot a managed instance", ask("rds:CreateDBSnapshot", PRODUCTION_DB, PRODUCTION)),
        ("create its lifeboat- snapshot", ask("rds:CreateDBSnapshot", LIFEBOAT_SNAPSHOT, sets=PRODUCTION)),
        ("tag its lifeboat- snapshot", ask("rds:AddTagsToResource", LIFEBOAT_SNAPSHOT, sets=PRODUCTION)),
        ("raise a managed instance's backup retention", ask("rds:ModifyDBInstance", PRODUCTION_DB, PRODUCTION)),
        ("back up a managed table", ask("dynamodb:CreateBackup", PRODUCTION_TABLE, PRODUCTION)),
        ("raise a managed table's point-in-time window", ask(
            "dynamodb:UpdateContinuousBackups", PRODUCTION_TABLE, PRODUCTION
        )),
        ("read a table's point-in-time window", ask("dynamodb:DescribeContinuousBackups", PRODUCTION_TABLE)),
        ("claim a point in the catalog", ask("dynamodb:PutItem", CATALOG_TABLE)),
        ("update points in the catalog (transactions)", ask("dynamodb:UpdateItem", CATALOG_TABLE)),
        ("rank resources by their present points", ask(
            "dynamodb:Query", f"{CATALOG_TABLE}/index/present-by-resource"
        )),
        ("read what earlier ticks left owed", ask("dynamodb:Query", f"{CATALOG_TABLE}/index/owing-points")),
        ("write a tick's shards", ask("s3:PutObject", f"{BUCKET}/ticks/snapshot-creator/t/plan.json")),
    ],
    refused=never_touches_production(except_=["modify production (rename, public, password)"])
    + [
        ("modify an instance Lifeboat does not manage", ask("rds:ModifyDBInstance", f"{RDS}:db:payroll")),
        ("create a snapshot not named lifeboat-", ask("rds:CreateDBSnapshot", f"{RDS}:snapshot:acme-manual")),
        ("back up a table Lifeboat does not manage", ask("dynamodb:CreateBackup", f"{DDB}:table/payroll")),
        ("change the window of a table Lifeboat does not manage", ask(
            "dynamodb:UpdateContinuousBackups", f"{DDB}:table/payroll"
        )),
        ("write the retention reports", ask("s3:PutObject", f"{BUCKET}/retention/2026-12-03.json")),
    ],
    code_guarded=[
        ("rename, make public or reset the password of a managed instance",
         ask("rds:ModifyDBInstance", PRODUCTION_DB, PRODUCTION),
         "RdsSnapshots::raise_pitr_window (shared/aws/src/rds.rs) sets BackupRetentionPeriod alone"),
    ],
)

# ------------------------------------------------------------------------ retention-pruner

RETENTION_PRUNER = Role(
    "RetentionPrunerFunction",
    allowed=[
        ("delete an expired lifeboat- snapshot", ask("rds:DeleteDBSnapshot", LIFEBOAT_SNAPSHOT)),
        ("delete an expired DynamoDB backup", ask("dynamodb:DeleteBackup", BACKUP)),
        ("confirm a new backup", ask("dynamodb:DescribeBackup", BACKUP)),
        ("list the backups", ask("dynamodb:ListBackups", "*")),
        ("mark a point deleted in the catalog", ask("dynamodb:UpdateItem", CATALOG_TABLE)),
        ("read present points", ask("dynamodb:Query", f"{CATALOG_TABLE}/index/present-points")),
        ("write its report", ask("s3:PutObject", f"{BUCKET}/retention/2026-12-03.json")),
    ],
    refused=never_touches_production(except_=["delete a Lifeboat snapshot", "delete a DynamoDB backup"])
    + [
        ("delete a safety snapshot", ask("rds:DeleteDBSnapshot", f"{RDS}:snapshot:lbsafety-1b4e28ba-acme-db")),
        ("delete a snapshot Lifeboat did not name", ask("rds:DeleteDBSnapshot", f"{RDS}:snapshot:acme-manual")),
        ("delete an automated snapshot", ask("rds:DeleteDBSnapshot", f"{RDS}:snapshot:rds:acme-db-2026-12-03")),
        ("write the drills' records", ask("s3:PutObject", f"{BUCKET}/drills/acme/latest-success.json")),
    ],
    code_guarded=[
        ("delete a DynamoDB backup Lifeboat did not make", ask("dynamodb:DeleteBackup", BACKUP),
         "a backup ARN carries an id, not the name: the pruner deletes only backups it listed "
         "under a lifeboat- name (shared/aws/src/dynamodb.rs)"),
    ],
)

# -------------------------------------------------------------------------- restore-intake

RESTORE_INTAKE = Role(
    "RestoreIntakeFunction",
    allowed=[
        ("file a request", ask("dynamodb:PutItem", REQUESTS_TABLE)),
        ("read a request", ask("dynamodb:GetItem", REQUESTS_TABLE)),
        ("list an instance's requests", ask("dynamodb:Query", f"{REQUESTS_TABLE}/index/instance-requests")),
        ("hold a point", ask("dynamodb:UpdateItem", CATALOG_TABLE)),
        ("read an instance's points", ask("dynamodb:Query", f"{CATALOG_TABLE}/index/present-by-resource")),
        ("start a restore", ask("states:StartExecution", RESTORE_MACHINE)),
        ("confirm a restore", ask("states:SendTaskSuccess", "*")),
        ("announce a request", ask("events:PutEvents", EVENT_BUS)),
        ("read a table's window", ask("dynamodb:DescribeContinuousBackups", PRODUCTION_TABLE)),
    ],
    refused=never_touches_production()
    + [
        ("delete a request", ask("dynamodb:DeleteItem", REQUESTS_TABLE)),
        ("start a drill", ask("states:StartExecution", DRILL_MACHINE)),
        ("restore anything", ask("rds:RestoreDBInstanceFromDBSnapshot", f"{RDS}:db:lbs-1b4e28ba-acme-db")),
    ],
)

# ------------------------------------------------------------------------ restore-executor

EXECUTOR_STAGING_TABLE = f"{DDB}:table/lbs-1b4e28ba-orders"
EXECUTOR_FALLBACK_TABLE = f"{DDB}:table/lbf-1b4e28ba-orders"

RESTORE_EXECUTOR = Role(
    "RestoreExecutorFunction",
    allowed=[
        ("delete this request's staging instance",
         ask("rds:DeleteDBInstance", f"{RDS}:db:lbs-1b4e28ba-db", STAGING)),
        ("mark production's fallback, as the swap does",
         ask("rds:AddTagsToResource", f"{RDS}:db:db", PRODUCTION, FALLBACK)),
        ("rename production aside, as the swap does", ask("rds:ModifyDBInstance", f"{RDS}:db:db", PRODUCTION)),
        ("remove the staging mark from the restored instance",
         ask("rds:RemoveTagsFromResource", f"{RDS}:db:db", removes=[ROLE])),
        ("tag a new staging instance as it is restored",
         ask("rds:AddTagsToResource", f"{RDS}:db:lbs-1b4e28ba-db", sets=STAGING)),
        ("restore staging from production's point in time",
         ask("rds:RestoreDBInstanceToPointInTime", f"{RDS}:db:lbs-1b4e28ba-db", sets=STAGING)),
        ("restore from production (the source)",
         ask("rds:RestoreDBInstanceToPointInTime", PRODUCTION_DB, PRODUCTION, STAGING)),
        ("take a safety snapshot", ask("rds:CreateDBSnapshot", f"{RDS}:snapshot:lbsafety-1b4e28ba-db")),
        ("delete a staging table", ask("dynamodb:DeleteTable", EXECUTOR_STAGING_TABLE, STAGING)),
        ("delete a fallback table", ask("dynamodb:DeleteTable", EXECUTOR_FALLBACK_TABLE, FALLBACK)),
        ("copy items back into a managed table", ask("dynamodb:BatchWriteItem", PRODUCTION_TABLE, PRODUCTION)),
        ("merge items into a managed table (a transaction's puts)",
         ask("dynamodb:PutItem", PRODUCTION_TABLE, PRODUCTION)),
        ("write a staging table's items (its restore)", ask("dynamodb:BatchWriteItem", EXECUTOR_STAGING_TABLE)),
        ("write a fallback table's items (its restore)", ask("dynamodb:PutItem", EXECUTOR_FALLBACK_TABLE)),
        ("mark a staging table it made", ask("dynamodb:TagResource", EXECUTOR_STAGING_TABLE, sets=STAGING)),
        ("mark a fallback table it made", ask("dynamodb:TagResource", EXECUTOR_FALLBACK_TABLE, sets=FALLBACK)),
        ("back up a managed table", ask("dynamodb:CreateBackup", PRODUCTION_TABLE, PRODUCTION)),
        ("record a run on the request", ask("dynamodb:PutItem", REQUESTS_TABLE)),
        ("fence a copy-back on its plan", ask("dynamodb:UpdateItem", REQUESTS_TABLE)),
        ("release a lock", ask("dynamodb:DeleteItem", REQUESTS_TABLE)),
        ("read a database's master secret (selective restores)",
         ask("secretsmanager:GetSecretValue", rds_secret("acme-db"), PRODUCTION_SECRET_TAGS)),
    ],
    refused=[
        ("delete production", ask("rds:DeleteDBInstance", f"{RDS}:db:db", PRODUCTION)),
        ("delete production tagged as staging",
         ask("rds:DeleteDBInstance", f"{RDS}:db:db", {**PRODUCTION, **STAGING})),
        ("delete production renamed lbs- and tagged as staging",
         ask("rds:DeleteDBInstance", f"{RDS}:db:lbs-x-db", {**PRODUCTION, **STAGING})),
        ("delete an untagged instance", ask("rds:DeleteDBInstance", f"{RDS}:db:other")),
        ("delete the fallback", ask("rds:DeleteDBInstance", f"{RDS}:db:lbf-1b4e28ba-db", FALLBACK)),
        ("delete a restored instance kept after an undo, even marked staging",
         ask("rds:DeleteDBInstance", f"{RDS}:db:lbr-1b4e28ba-db", STAGING)),
        ("delete a kept instance renamed lbs-", ask("rds:DeleteDBInstance", f"{RDS}:db:lbs-y-db", SERVED)),
        ("unmark a restored instance kept after an undo",
         ask("rds:RemoveTagsFromResource", f"{RDS}:db:lbs-z-db", SERVED, removes=[ROLE])),
        ("relabel a kept instance as staging", ask("rds:AddTagsToResource", f"{RDS}:db:lbs-z-db", SERVED, STAGING)),
        ("strip production of lifeboat:instance",
         ask("rds:RemoveTagsFromResource", f"{RDS}:db:db", removes=[INSTANCE])),
        ("mark production as staging", ask("rds:AddTagsToResource", f"{RDS}:db:db", sets={ROLE: "staging"})),
        ("restore an lbs- instance without the staging marks",
         ask("rds:RestoreDBInstanceToPointInTime", f"{RDS}:db:lbs-1b4e28ba-db")),
        ("delete a production table", ask("dynamodb:DeleteTable", PRODUCTION_TABLE, PRODUCTION)),
        ("delete a production table named like staging",
         ask("dynamodb:DeleteTable", f"{DDB}:table/lbs-orders", {**PRODUCTION, **STAGING})),
        ("delete an unmarked lbs- table", ask("dynamodb:DeleteTable", f"{DDB}:table/lbs-someone")),
        ("delete a drill's sandbox table", ask("dynamodb:DeleteTable", SANDBOX_TABLE, SANDBOX)),
        ("delete the requests table", ask("dynamodb:DeleteTable", REQUESTS_TABLE)),
        ("write items of a table Lifeboat does not manage", ask("dynamodb:BatchWriteItem", f"{DDB}:table/payroll")),
        ("delete items of a table Lifeboat does not manage", ask("dynamodb:DeleteItem", f"{DDB}:table/payroll")),
        ("write a kept fallback table's items", ask("dynamodb:PutItem", EXECUTOR_FALLBACK_TABLE, FALLBACK)),
        ("write items of a table kept after serving production",
         ask("dynamodb:BatchWriteItem", f"{DDB}:table/lbs-1b4e28ba-orders", SERVED)),
        ("tag a production table", ask("dynamodb:TagResource", PRODUCTION_TABLE, PRODUCTION, STAGING)),
        ("mark a production table named like staging",
         ask("dynamodb:TagResource", f"{DDB}:table/lbs-orders", PRODUCTION, STAGING)),
        ("give a staging table lifeboat:instance",
         ask("dynamodb:TagResource", EXECUTOR_STAGING_TABLE, sets={**STAGING, INSTANCE: "acme"})),
        ("mark a staging table as fallback", ask("dynamodb:TagResource", EXECUTOR_STAGING_TABLE, sets=FALLBACK)),
        ("relabel a table kept after serving production",
         ask("dynamodb:TagResource", EXECUTOR_STAGING_TABLE, SERVED, STAGING)),
        ("mark a drill's sandbox", ask("dynamodb:TagResource", SANDBOX_TABLE, sets=STAGING)),
        ("mark a table already marked, even as its own again (marks go on once)",
         ask("dynamodb:TagResource", EXECUTOR_STAGING_TABLE, STAGING, STAGING)),
        ("relabel another request's staging table as its own",
         ask("dynamodb:TagResource", EXECUTOR_STAGING_TABLE, {ROLE: "staging", REQUEST: "rr-2"}, STAGING)),
        ("restore an instance carrying lifeboat:instance",
         ask("rds:RestoreDBInstanceToPointInTime", f"{RDS}:db:lbs-1b4e28ba-db", sets={**STAGING, INSTANCE: "globex"})),
        ("restore into another name carrying lifeboat:instance",
         ask("rds:RestoreDBInstanceFromDBSnapshot", f"{RDS}:db:acme-db-copy", sets={INSTANCE: "globex"})),
        ("untag a production table", ask("dynamodb:UntagResource", PRODUCTION_TABLE, PRODUCTION, removes=[INSTANCE])),
        ("delete a Lifeboat snapshot", ask("rds:DeleteDBSnapshot", LIFEBOAT_SNAPSHOT)),
        ("read any other secret", ask("secretsmanager:GetSecretValue", f"{SECRET}:payroll-api-key-AbCdEf")),
    ],
    code_guarded=[
        ("restore into a name that is not lbs- (a point-in-time restore names production, db:*, as its source)",
         ask("rds:RestoreDBInstanceToPointInTime", f"{RDS}:db:acme-db-copy"),
         "RdsRestorer::start_staging restores only into the request's staging name (lbs-), marked "
         "as its staging at creation (shared/aws/src/rds_restore.rs)"),
        ("restore staging publicly accessible (when production is: staging is never more reachable)",
         ask("rds:RestoreDBInstanceToPointInTime", f"{RDS}:db:lbs-1b4e28ba-db", sets=STAGING,
             rds__PubliclyAccessible="true"),
         "RdsRestorer::start_staging gives staging production's own public setting, never more"),
        ("rename or make public production (the swap's renames need ModifyDBInstance on db:*)",
         ask("rds:ModifyDBInstance", PRODUCTION_DB, PRODUCTION),
         "RdsRestorer::swap/undo_swap (shared/aws/src/rds_restore.rs) rename only between "
         "production's, staging's, fallback's and the kept (lbr-) names, and never set public access"),
        ("mark an unmarked lbs- table it did not make as staging",
         ask("dynamodb:TagResource", f"{DDB}:table/lbs-someone", sets=STAGING),
         "the DynamoDB restorer marks only a table its restore call made (shared/aws/src/dynamodb_restore.rs)"),
    ],
)

# --------------------------------------------------------------------------- restore-drill

RESTORE_DRILL = Role(
    "RestoreDrillFunction",
    allowed=[
        ("list the instance's resources", ask("rds:DescribeDBInstances", PRODUCTION_DB)),
        ("find managed resources by tag", ask("tag:GetResources", "*")),
        ("read the instance's points", ask("dynamodb:Query", CATALOG_TABLE)),
        ("start this hour's drills", ask("states:StartExecution", DRILL_MACHINE)),
        ("list stopped drills", ask("states:ListExecutions", DRILL_MACHINE)),
        ("announce an outcome", ask("events:PutEvents", EVENT_BUS)),
        ("restore a sandbox from a Lifeboat snapshot, marked and private",
         ask("rds:RestoreDBInstanceFromDBSnapshot", SANDBOX_DB, sets=SANDBOX, rds__PubliclyAccessible="false")),
        ("restore it from the Lifeboat snapshot",
         ask("rds:RestoreDBInstanceFromDBSnapshot", LIFEBOAT_SNAPSHOT, PRODUCTION, SANDBOX,
             rds__PubliclyAccessible="false")),
        ("restore it into production's subnet group",
         ask("rds:RestoreDBInstanceFromDBSnapshot", f"{RDS}:subgrp:customers", sets=SANDBOX,
             rds__PubliclyAccessible="false")),
        ("mark the sandbox as it is restored (tag-on-create)",
         ask("rds:AddTagsToResource", SANDBOX_DB, sets=SANDBOX)),
        ("make its sandbox private", ask("rds:ModifyDBInstance", SANDBOX_DB, SANDBOX)),
        ("delete its sandbox", ask("rds:DeleteDBInstance", SANDBOX_DB, SANDBOX)),
        ("restore a sandbox table", ask("dynamodb:RestoreTableFromBackup", SANDBOX_TABLE)),
        ("restore it from the backup", ask("dynamodb:RestoreTableFromBackup", BACKUP)),
        ("write the restored items (the restore's target, not tagged yet)",
         ask("dynamodb:BatchWriteItem", SANDBOX_TABLE)),
        ("mark the sandbox table once made", ask("dynamodb:TagResource", SANDBOX_TABLE, sets=SANDBOX)),
        ("read the sandbox table whole", ask("dynamodb:Scan", SANDBOX_TABLE, SANDBOX)),
        ("look a sampled key up in production", ask("dynamodb:GetItem", PRODUCTION_TABLE, PRODUCTION)),
        ("describe production (its item count)", ask("dynamodb:DescribeTable", PRODUCTION_TABLE, PRODUCTION)),
        ("read a table's marks", ask("dynamodb:ListTagsOfResource", SANDBOX_TABLE)),
        ("delete the sandbox table", ask("dynamodb:DeleteTable", SANDBOX_TABLE, SANDBOX)),
        ("read its sandbox's own master secret",
         ask("secretsmanager:GetSecretValue", rds_secret("lbd"), SANDBOX_SECRET_TAGS)),
        ("read production's reader secret", ask("secretsmanager:GetSecretValue", READER_SECRET)),
        ("have RDS make the sandbox's secret", ask("secretsmanager:CreateSecret", rds_secret("lbd"))),
        ("write its records and report", ask("s3:PutObject", f"{BUCKET}/drills/runs/drill-x/plan.json")),
        ("read its records", ask("s3:GetObject", f"{BUCKET}/drills/runs/drill-x/plan.json")),
        ("remove the record of sandboxes left once all are gone",
         ask("s3:DeleteObject", f"{BUCKET}/drills/left/drill-x.json")),
    ],
    refused=never_touches_production()
    + [
        ("read a restore's staging secret",
         ask("secretsmanager:GetSecretValue", rds_secret("lbs"),
             {"aws:rds:primaryDBInstanceArn": f"{RDS}:db:lbs-1b4e28ba-acme-db"})),
        ("read an RDS secret RDS did not tag", ask("secretsmanager:GetSecretValue", rds_secret("x"))),
        ("restore into a name not lbd-",
         ask("rds:RestoreDBInstanceFromDBSnapshot", f"{RDS}:db:acme-db-copy", sets=SANDBOX,
             rds__PubliclyAccessible="false")),
        ("restore a sandbox publicly accessible",
         ask("rds:RestoreDBInstanceFromDBSnapshot", SANDBOX_DB, sets=SANDBOX, rds__PubliclyAccessible="true")),
        ("restore a sandbox without its marks",
         ask("rds:RestoreDBInstanceFromDBSnapshot", SANDBOX_DB, rds__PubliclyAccessible="false")),
        ("restore a sandbox marked as a restore's",
         ask("rds:RestoreDBInstanceFromDBSnapshot", SANDBOX_DB, sets=STAGING, rds__PubliclyAccessible="false")),
        ("restore from a snapshot Lifeboat did not take",
         ask("rds:RestoreDBInstanceFromDBSnapshot", f"{RDS}:snapshot:acme-before-migration", sets=SANDBOX,
             rds__PubliclyAccessible="false")),
        ("relabel another drill's sandbox as its own",
         ask("rds:AddTagsToResource", f"{RDS}:db:lbd-77aa00bb-globex-db", OTHER_SANDBOX, SANDBOX)),
        ("give a sandbox lifeboat:instance",
         ask("rds:AddTagsToResource", SANDBOX_DB, sets={**SANDBOX, INSTANCE: "acme"})),
        ("mark a sandbox as a fallback",
         ask("rds:AddTagsToResource", SANDBOX_DB, sets={ROLE: "fallback", REQUEST: SANDBOX[REQUEST]})),
        ("mark production renamed lbd- as a sandbox",
         ask("rds:AddTagsToResource", SANDBOX_DB, PRODUCTION, SANDBOX)),
        ("mark a restore's staging instance",
         ask("rds:AddTagsToResource", f"{RDS}:db:lbs-1b4e28ba-acme-db", sets=SANDBOX)),
        ("unmark a sandbox", ask("rds:RemoveTagsFromResource", SANDBOX_DB, SANDBOX, removes=[ROLE])),
        ("modify an unmarked lbd- instance", ask("rds:ModifyDBInstance", f"{RDS}:db:lbd-someone")),
        ("modify production renamed lbd- and marked as a sandbox",
         ask("rds:ModifyDBInstance", SANDBOX_DB, {**PRODUCTION, **SANDBOX})),
        ("modify an lbd- instance marked by a restore request",
         ask("rds:ModifyDBInstance", SANDBOX_DB, STAGING)),
        ("delete an unmarked lbd- instance", ask("rds:DeleteDBInstance", f"{RDS}:db:lbd-someone")),
        ("delete production renamed lbd- and marked as a sandbox",
         ask("rds:DeleteDBInstance", SANDBOX_DB, {**PRODUCTION, **SANDBOX})),
        ("delete a restore's staging instance",
         ask("rds:DeleteDBInstance", f"{RDS}:db:lbs-1b4e28ba-acme-db", STAGING)),
        ("modify a restore's fallback", ask("rds:ModifyDBInstance", f"{RDS}:db:lbf-1b4e28ba-acme-db", FALLBACK)),
        ("scan production", ask("dynamodb:Scan", PRODUCTION_TABLE, PRODUCTION)),
        ("scan production named like a sandbox", ask("dynamodb:Scan", SANDBOX_TABLE, {**PRODUCTION, **SANDBOX})),
        ("query production", ask("dynamodb:Query", PRODUCTION_TABLE, PRODUCTION)),
        ("look up an item of a table Lifeboat does not manage", ask("dynamodb:GetItem", f"{DDB}:table/payroll")),
        ("write a table carrying lifeboat:instance named like a sandbox",
         ask("dynamodb:PutItem", SANDBOX_TABLE, PRODUCTION)),
        ("write another drill's marked sandbox", ask("dynamodb:BatchWriteItem", SANDBOX_TABLE, OTHER_SANDBOX)),
        ("write its own sandbox once marked", ask("dynamodb:PutItem", SANDBOX_TABLE, SANDBOX)),
        ("write a restore's staging table", ask("dynamodb:BatchWriteItem", EXECUTOR_STAGING_TABLE)),
        ("write a fallback named like a sandbox", ask("dynamodb:DeleteItem", SANDBOX_TABLE, FALLBACK)),
        ("restore into a table not lbd-", ask("dynamodb:RestoreTableFromBackup", f"{DDB}:table/orders-copy")),
        ("mark a table carrying lifeboat:instance named like a sandbox",
         ask("dynamodb:TagResource", SANDBOX_TABLE, PRODUCTION, SANDBOX)),
        ("give a sandbox table lifeboat:instance",
         ask("dynamodb:TagResource", SANDBOX_TABLE, sets={**SANDBOX, INSTANCE: "acme"})),
        ("relabel a fallback named like a sandbox", ask("dynamodb:TagResource", SANDBOX_TABLE, FALLBACK, SANDBOX)),
        ("mark a sandbox table as a restore's staging", ask("dynamodb:TagResource", SANDBOX_TABLE, sets=STAGING)),
        ("mark a restore's staging table", ask("dynamodb:TagResource", EXECUTOR_STAGING_TABLE, sets=SANDBOX)),
        ("mark a table already marked, even as its own again (marks go on once)",
         ask("dynamodb:TagResource", SANDBOX_TABLE, SANDBOX, SANDBOX)),
        ("untag a sandbox table", ask("dynamodb:UntagResource", SANDBOX_TABLE, SANDBOX, removes=[ROLE])),
        ("delete an unmarked lbd- table", ask("dynamodb:DeleteTable", SANDBOX_TABLE)),
        ("delete a table carrying lifeboat:instance marked as a sandbox",
         ask("dynamodb:DeleteTable", SANDBOX_TABLE, {**PRODUCTION, **SANDBOX})),
        ("delete an lbd- table marked by a restore request", ask("dynamodb:DeleteTable", SANDBOX_TABLE, STAGING)),
        ("delete a restore's staging table", ask("dynamodb:DeleteTable", EXECUTOR_STAGING_TABLE, STAGING)),
        ("delete a drill's report", ask("s3:DeleteObject", f"{BUCKET}/drills/acme/2026-12-03/drill-x/report.json")),
        ("delete a drill's plan", ask("s3:DeleteObject", f"{BUCKET}/drills/runs/drill-x/plan.json")),
        ("write the restores' records", ask("s3:PutObject", f"{BUCKET}/restores/rr-1/report.json")),
        ("write the audits", ask("s3:PutObject", f"{BUCKET}/audits/2026-12-03/report.json")),
    ],
    code_guarded=[
        ("mark an existing unmarked lbd- instance as a sandbox (RDS authorizes tag-on-create the same way)",
         ask("rds:AddTagsToResource", f"{RDS}:db:lbd-someone", sets=SANDBOX),
         "RdsRestorer tags a sandbox only through its restore call, and refuses an existing "
         "instance by the sandbox's name that is not marked as this drill's (shared/aws/src/rds_restore.rs)"),
        ("rename or make public its own sandbox (ModifyDBInstance carries neither)",
         ask("rds:ModifyDBInstance", SANDBOX_DB, SANDBOX),
         "a drill's sandbox is only made private, given a managed password or its deletion "
         "protection turned off (rds_restore.rs, shared/postgres/src/staging_access.rs)"),
        ("delete another drill's sandbox (IAM sees drill-…, not which drill)",
         ask("rds:DeleteDBInstance", f"{RDS}:db:lbd-77aa00bb-globex-db", OTHER_SANDBOX),
         "RdsRestorer::delete_staging deletes only an instance marked as this drill's"),
        ("restore a sandbox table from a backup of a table Lifeboat does not manage (backup ARNs name no owner)",
         ask("dynamodb:RestoreTableFromBackup", f"{DDB}:table/payroll/backup/01700000000000-abcdef12"),
         "the drill restores only the backup its plan chose from the catalog's points of a managed "
         "table (functions/restore-drill/src/plan.rs), and every step checks its plan item"),
        ("write items of an unmarked lbd- table (a restore's target looks the same)",
         ask("dynamodb:PutItem", SANDBOX_TABLE),
         "the drill writes no items: only RestoreTableFromBackup does, into the table it creates"),
        ("scan an unmarked lbd- table (a restore needs reads on its target)",
         ask("dynamodb:Scan", SANDBOX_TABLE),
         "the drill's DynamoDB inspector reads a sandbox after its ready step, which refuses "
         "a table not proved to be this drill's restore (shared/aws/src/dynamodb_restore.rs)"),
        ("mark an unmarked lbd- table it did not make",
         ask("dynamodb:TagResource", SANDBOX_TABLE, sets=SANDBOX),
         "the DynamoDB restorer marks only a table its restore call made (dynamodb_restore.rs)"),
        ("read the master secret of an unmarked lbd- instance",
         ask("secretsmanager:GetSecretValue", rds_secret("lbd"), SANDBOX_SECRET_TAGS),
         "the drill connects only to its plan's sandbox (PlanItem::check), which "
         "ensure_managed_secret refuses to give a secret unless marked as this drill's"),
    ],
)

# --------------------------------------------------------------------------- recovery-audit

AUDIT_POLICY_TARGETS = {
    "a restore's staging table": (EXECUTOR_STAGING_TABLE, STAGING),
    "a drill's sandbox table": (SANDBOX_TABLE, SANDBOX),
    "a kept fallback table": (EXECUTOR_FALLBACK_TABLE, FALLBACK),
}

RECOVERY_AUDIT = Role(
    "RecoveryAuditFunction",
    allowed=[
        ("list every manual snapshot", ask("rds:DescribeDBSnapshots", "*")),
        ("read a snapshot's sharing", ask("rds:DescribeDBSnapshotAttributes", f"{RDS}:snapshot:lbf-final")),
        ("revoke a snapshot's sharing", ask("rds:ModifyDBSnapshotAttribute", f"{RDS}:snapshot:acme-manual")),
        ("list every table", ask("dynamodb:ListTables", "*")),
        ("read a managed table's resource policy", ask("dynamodb:GetResourcePolicy", PRODUCTION_TABLE, PRODUCTION)),
        ("read any table's resource policy", ask("dynamodb:GetResourcePolicy", f"{DDB}:table/payroll")),
        ("read a table's marks before rewriting its policy", ask("dynamodb:ListTagsOfResource", SANDBOX_TABLE)),
        ("read a table's window", ask("dynamodb:DescribeContinuousBackups", PRODUCTION_TABLE)),
        ("read the reports bucket's public access", ask("s3:GetBucketPublicAccessBlock", BUCKET)),
        ("close the reports bucket", ask("s3:PutBucketPublicAccessBlock", BUCKET)),
        ("read a drill's record", ask("s3:GetObject", f"{BUCKET}/drills/acme/latest-success.json")),
        ("write the audit", ask("s3:PutObject", f"{BUCKET}/audits/2026-12-03/report.html")),
        ("read the catalog", ask("dynamodb:Query", f"{CATALOG_TABLE}/index/present-points")),
        ("announce findings", ask("events:PutEvents", EVENT_BUS)),
    ]
    + [
        (f"{verb} the resource policy of {what}", ask(f"dynamodb:{action}", arn, tags))
        for what, (arn, tags) in AUDIT_POLICY_TARGETS.items()
        for verb, action in (("remove", "DeleteResourcePolicy"), ("rewrite", "PutResourcePolicy"))
    ],
    refused=never_touches_production(except_=["share a snapshot"])
    + [
        ("remove a managed table's resource policy",
         ask("dynamodb:DeleteResourcePolicy", PRODUCTION_TABLE, PRODUCTION)),
        ("rewrite a managed table's resource policy", ask("dynamodb:PutResourcePolicy", PRODUCTION_TABLE, PRODUCTION)),
        ("rewrite the policy of a table carrying lifeboat:instance named like staging",
         ask("dynamodb:PutResourcePolicy", f"{DDB}:table/lbs-orders", {**PRODUCTION, **STAGING})),
        ("rewrite the policy of an unmarked lbs- table", ask("dynamodb:PutResourcePolicy", f"{DDB}:table/lbs-someone")),
        ("rewrite the policy of a table Lifeboat does not manage",
         ask("dynamodb:DeleteResourcePolicy", f"{DDB}:table/payroll")),
        ("delete a snapshot it found shared", ask("rds:DeleteDBSnapshot", f"{RDS}:snapshot:acme-manual")),
        ("write the drills' records", ask("s3:PutObject", f"{BUCKET}/drills/acme/latest-success.json")),
        ("open the reports bucket", ask("s3:PutBucketPolicy", BUCKET)),
    ],
    code_guarded=[
        ("share a snapshot (ModifyDBSnapshotAttribute with ValuesToAdd)",
         ask("rds:ModifyDBSnapshotAttribute", LIFEBOAT_SNAPSHOT),
         "RdsSharing::revoke (shared/aws/src/rds_sharing.rs) sends ValuesToRemove only"),
        ("put a resource policy granting access on a Lifeboat table",
         ask("dynamodb:PutResourcePolicy", EXECUTOR_STAGING_TABLE, STAGING),
         "the audit's revocation removes statements, never adds them (recovery-audit)"),
    ],
)

# ------------------------------------------------------------------ state machines, scheduler

DRILL_STATE_MACHINE = invokes_only(
    "DrillStateMachineRole",
    [("run the drill's steps", ask("lambda:InvokeFunction", function("RestoreDrillFunction")))],
)
RESTORE_STATE_MACHINE = invokes_only(
    "RestoreStateMachineRole",
    [("run the restore's steps", ask("lambda:InvokeFunction", function("RestoreExecutorFunction")))],
)
FLEET_TICK_STATE_MACHINE = invokes_only(
    "FleetTickStateMachineRole",
    [
        ("run a snapshot tick's shards", ask("lambda:InvokeFunction", function("SnapshotCreatorFunction"))),
        ("run a retention tick's shards", ask("lambda:InvokeFunction", function("RetentionPrunerFunction"))),
        ("run the audit's shards", ask("lambda:InvokeFunction", function("RecoveryAuditFunction"))),
    ],
)
SCHEDULER = invokes_only(
    "SchedulerRole",
    [
        ("start the hourly snapshot tick", ask(
            "states:StartExecution", f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-CreationTickStateMachine"
        )),
        ("start the hourly drills", ask("lambda:InvokeFunction", function("RestoreDrillFunction"))),
        ("dead-letter a tick", ask(
            "sqs:SendMessage", f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{STACK}-SchedulerDeadLetterQueue-X"
        )),
    ],
)

ROLES = [
    SNAPSHOT_CREATOR,
    RETENTION_PRUNER,
    RESTORE_INTAKE,
    RESTORE_EXECUTOR,
    RESTORE_DRILL,
    RECOVERY_AUDIT,
    DRILL_STATE_MACHINE,
    RESTORE_STATE_MACHINE,
    FLEET_TICK_STATE_MACHINE,
    SCHEDULER,
]
