"""What the restore executor's role may destroy, asked of the template itself.

Evaluates the executor's IAM statements (infra/template.yaml, RestoreExecutorFunction's
Policies) for the requests that matter, with the rules IAM applies: an explicit Deny wins,
else an Allow must match the action, the resource and every condition. It knows what the
template uses: action and ARN wildcards, Resource and NotResource, and the condition
operators StringEquals, StringLike, ArnLike, Null and ForAnyValue:StringEquals on
aws:ResourceTag/*, aws:RequestTag/* and aws:TagKeys. Anything else fails the check, so the
check never silently approves a statement it cannot read.

Run by scripts/check-infra with the Python that has cfn-lint (whose decoder reads the
template's short-form intrinsics). Exits non-zero naming every case that does not hold.
"""

import fnmatch
import sys
from pathlib import Path

from cfnlint.decode import decode

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "111122223333"
RDS = f"arn:{PARTITION}:rds:{REGION}:{ACCOUNT}"
DDB = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}"
REQUESTS_TABLE = f"{DDB}:table/stack-RequestsTable-X"


def resolve(value):
    """A statement's value with the template's intrinsics made concrete."""
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Fn::Sub":
            text = inner if isinstance(inner, str) else inner[0]
            for name, concrete in {
                "${AWS::Partition}": PARTITION,
                "${AWS::Region}": REGION,
                "${AWS::AccountId}": ACCOUNT,
                "${ReportsBucket.Arn}": "arn:aws:s3:::reports",
            }.items():
                text = text.replace(name, concrete)
            return text
        if key == "Fn::GetAtt":
            target = inner if isinstance(inner, list) else inner.split(".")
            return {
                "RequestsTable": REQUESTS_TABLE,
                "CatalogTable": f"{DDB}:table/stack-CatalogTable-X",
            }.get(target[0], f"arn:unknown:{target[0]}")
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def as_list(value):
    return value if isinstance(value, list) else [value]


def condition_holds(operator, key, wanted, request):
    wanted = [str(w) for w in as_list(wanted)]
    if key.startswith("aws:ResourceTag/"):
        have = request.get("resource_tags", {}).get(key.split("/", 1)[1])
    elif key.startswith("aws:RequestTag/"):
        have = request.get("request_tags", {}).get(key.split("/", 1)[1])
    elif key == "aws:TagKeys":
        have = list(request.get("request_tags", {})) or request.get("tag_keys", [])
    else:
        raise ValueError(f"condition key {key} is not understood by this check")
    if operator == "Null":
        is_null = have is None or have == []
        return (wanted == ["true"]) == is_null
    if operator == "ForAnyValue:StringEquals":
        return any(h in wanted for h in as_list(have or []))
    if have is None:
        return False
    if operator == "StringEquals":
        return have in wanted
    if operator in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(have, w) for w in wanted)
    raise ValueError(f"condition operator {operator} is not understood by this check")


def matches(statement, request):
    actions = as_list(statement.get("Action", []))
    if not any(fnmatch.fnmatchcase(request["action"], a) for a in actions):
        return False
    if "NotResource" in statement:
        if any(fnmatch.fnmatchcase(request["resource"], r) for r in as_list(statement["NotResource"])):
            return False
    elif not any(fnmatch.fnmatchcase(request["resource"], r) for r in as_list(statement["Resource"])):
        return False
    for operator, pairs in statement.get("Condition", {}).items():
        for key, wanted in pairs.items():
            if not condition_holds(operator, key, wanted, request):
                return False
    return True


def allowed(statements, request):
    if any(s["Effect"] == "Deny" and matches(s, request) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s, request) for s in statements)


STAGING = {"lifeboat:restore-role": "staging", "lifeboat:restore-request": "rr-1"}
PRODUCTION = {"lifeboat:instance": "acme"}

CASES = [
    # (what, request, allowed?)
    ("delete this request's staging instance",
     {"action": "rds:DeleteDBInstance", "resource": f"{RDS}:db:lbs-1b4e28ba-db", "resource_tags": STAGING}, True),
    ("delete production",
     {"action": "rds:DeleteDBInstance", "resource": f"{RDS}:db:db", "resource_tags": PRODUCTION}, False),
    ("delete production tagged as staging",
     {"action": "rds:DeleteDBInstance", "resource": f"{RDS}:db:db", "resource_tags": {**PRODUCTION, **STAGING}}, False),
    ("delete production renamed lbs- and tagged as staging",
     {"action": "rds:DeleteDBInstance", "resource": f"{RDS}:db:lbs-x-db", "resource_tags": {**PRODUCTION, **STAGING}}, False),
    ("delete an untagged instance",
     {"action": "rds:DeleteDBInstance", "resource": f"{RDS}:db:other", "resource_tags": {}}, False),
    ("delete the fallback",
     {"action": "rds:DeleteDBInstance", "resource": f"{RDS}:db:lbf-1b4e28ba-db",
      "resource_tags": {"lifeboat:restore-role": "fallback"}}, False),
    ("delete a restored instance kept after an undo, even marked staging",
     {"action": "rds:DeleteDBInstance", "resource": f"{RDS}:db:lbr-1b4e28ba-db", "resource_tags": STAGING}, False),
    ("delete a kept instance renamed lbs-",
     {"action": "rds:DeleteDBInstance", "resource": f"{RDS}:db:lbs-y-db",
      "resource_tags": {"lifeboat:restore-role": "served-production"}}, False),
    ("unmark a restored instance kept after an undo",
     {"action": "rds:RemoveTagsFromResource", "resource": f"{RDS}:db:lbs-z-db",
      "resource_tags": {"lifeboat:restore-role": "served-production"}, "tag_keys": ["lifeboat:restore-role"]}, False),
    ("relabel a kept instance as staging",
     {"action": "rds:AddTagsToResource", "resource": f"{RDS}:db:lbs-z-db",
      "resource_tags": {"lifeboat:restore-role": "served-production"}, "request_tags": STAGING}, False),
    ("mark production's fallback, as the swap does",
     {"action": "rds:AddTagsToResource", "resource": f"{RDS}:db:db", "resource_tags": PRODUCTION,
      "request_tags": {"lifeboat:restore-role": "fallback", "lifeboat:restore-request": "rr-1"}}, True),
    ("strip production of lifeboat:instance",
     {"action": "rds:RemoveTagsFromResource", "resource": f"{RDS}:db:db", "tag_keys": ["lifeboat:instance"]}, False),
    ("remove the staging mark from the restored instance",
     {"action": "rds:RemoveTagsFromResource", "resource": f"{RDS}:db:db", "tag_keys": ["lifeboat:restore-role"]}, True),
    ("mark production as staging",
     {"action": "rds:AddTagsToResource", "resource": f"{RDS}:db:db",
      "request_tags": {"lifeboat:restore-role": "staging"}}, False),
    ("tag a new staging instance as it is restored",
     {"action": "rds:AddTagsToResource", "resource": f"{RDS}:db:lbs-1b4e28ba-db", "request_tags": STAGING}, True),
    ("delete a staging table",
     {"action": "dynamodb:DeleteTable", "resource": f"{DDB}:table/lbs-1b4e28ba-orders", "resource_tags": STAGING}, True),
    ("delete a fallback table",
     {"action": "dynamodb:DeleteTable", "resource": f"{DDB}:table/lbf-1b4e28ba-orders",
      "resource_tags": {"lifeboat:restore-role": "fallback"}}, True),
    ("delete a production table",
     {"action": "dynamodb:DeleteTable", "resource": f"{DDB}:table/orders", "resource_tags": PRODUCTION}, False),
    ("delete a production table named like staging",
     {"action": "dynamodb:DeleteTable", "resource": f"{DDB}:table/lbs-orders", "resource_tags": {**PRODUCTION, **STAGING}}, False),
    ("delete an unmarked lbs- table",
     {"action": "dynamodb:DeleteTable", "resource": f"{DDB}:table/lbs-someone", "resource_tags": {}}, False),
    ("delete the requests table",
     {"action": "dynamodb:DeleteTable", "resource": REQUESTS_TABLE, "resource_tags": {}}, False),
    ("write items of a table Lifeboat does not manage",
     {"action": "dynamodb:BatchWriteItem", "resource": f"{DDB}:table/payroll", "resource_tags": {}}, False),
    ("delete items of a table Lifeboat does not manage",
     {"action": "dynamodb:DeleteItem", "resource": f"{DDB}:table/payroll", "resource_tags": {}}, False),
    ("copy items back into a managed table",
     {"action": "dynamodb:BatchWriteItem", "resource": f"{DDB}:table/orders", "resource_tags": PRODUCTION}, True),
    ("write a staging table's items (its restore)",
     {"action": "dynamodb:BatchWriteItem", "resource": f"{DDB}:table/lbs-1b4e28ba-orders", "resource_tags": {}}, True),
    ("record a run on the request",
     {"action": "dynamodb:PutItem", "resource": REQUESTS_TABLE, "resource_tags": {}}, True),
]


def main():
    template_path = Path(__file__).with_name("template.yaml")
    template, matches_ = decode(str(template_path))
    if matches_:
        sys.exit(f"{template_path}: {matches_}")
    policies = template["Resources"]["RestoreExecutorFunction"]["Properties"]["Policies"]
    statements = [resolve(s) for p in policies for s in p.get("Statement", [])]
    wrong = []
    for what, request, expected in CASES:
        if allowed(statements, request) != expected:
            wrong.append(f"{'allowed' if not expected else 'refused'}: {what}")
    if wrong:
        sys.exit("the executor's IAM does not hold:\n  " + "\n  ".join(wrong))
    print(f"the executor's IAM holds in {len(CASES)} cases")


if __name__ == "__main__":
    main()
