"""IAM's decision on one request, for the statements of one role, as IAM makes it.

An explicit Deny wins; else an Allow must match the action (case-insensitive wildcards), the
resource (Resource or NotResource, wildcards) and every condition. Conditions follow IAM's
rules: operators are ANDed, keys of one operator are ANDed, a key's values are ORed (NORed
for a negated operator); a key absent from the request makes a positive operator false and a
negated one true, `...IfExists` true, `ForAllValues:` true and `ForAnyValue:` false; `Null`
tests presence.

What is in a request's context depends on the action: `ACTION_KEYS` lists, for each action
a conditioned statement names, the condition keys the service reference gives it (the
action's own and its resource type's). A condition on a key the action does not carry never
holds as written (an Allow never grants, a Deny never applies), so the statement is refused
as unreadable, as is any operator, key form, statement element or intrinsic this module does
not know, a set operator on a single-valued key or a plain one on a multivalued key, and a
wildcard action under a condition. It never approves what it cannot read.
"""

import re
from dataclasses import dataclass, field

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "111122223333"
STACK = "stack"


class Unreadable(Exception):
    """A statement (or template value) this module cannot evaluate faithfully."""


@dataclass
class Request:
    action: str
    resource: str
    # The tags the resource carries (as IAM sees them: none for a resource being created).
    resource_tags: dict = field(default_factory=dict)
    # The tags the request sets (TagResource, AddTagsToResource, tag-on-create).
    request_tags: dict = field(default_factory=dict)
    # The keys an untag request removes.
    tag_keys: list = field(default_factory=list)
    # Other context keys the request carries, e.g. {"rds:PubliclyAccessible": "true"}.
    context: dict = field(default_factory=dict)


# ------------------------------------------------------------------ condition keys by action

RESOURCE_TAG = "aws:ResourceTag/*"
REQUEST_TAG = "aws:RequestTag/*"
TAG_KEYS = "aws:TagKeys"
SECRET_TAG = "secretsmanager:ResourceTag/*"

# From the Service Authorization Reference (Amazon RDS, Amazon DynamoDB, AWS Secrets Manager):
# an action's condition keys and those of the resource type it is authorized on.
ACTION_KEYS = {
    # RDS: the db and snapshot resource types carry aws:ResourceTag.
    "rds:addtagstoresource": {RESOURCE_TAG, REQUEST_TAG, TAG_KEYS},
    "rds:removetagsfromresource": {RESOURCE_TAG, REQUEST_TAG, TAG_KEYS},
    "rds:deletedbinstance": {RESOURCE_TAG},
    # No key for the new identifier, PubliclyAccessible or the master password.
    "rds:modifydbinstance": {RESOURCE_TAG, "rds:ManageMasterUserPassword"},
    "rds:restoredbinstancefromdbsnapshot": {
        RESOURCE_TAG, REQUEST_TAG, TAG_KEYS, "rds:PubliclyAccessible", "rds:ManageMasterUserPassword",
    },
    "rds:restoredbinstancetopointintime": {
        RESOURCE_TAG, REQUEST_TAG, TAG_KEYS, "rds:PubliclyAccessible", "rds:ManageMasterUserPassword",
    },
    "rds:createdbsnapshot": {RESOURCE_TAG, REQUEST_TAG, TAG_KEYS},
    "rds:deletedbsnapshot": {RESOURCE_TAG},
    # No key tells ValuesToAdd from ValuesToRemove.
    "rds:modifydbsnapshotattribute": {RESOURCE_TAG},
    # DynamoDB: every table action carries the table's aws:ResourceTag (ABAC).
    "dynamodb:tagresource": {RESOURCE_TAG, REQUEST_TAG, TAG_KEYS},
    "dynamodb:untagresource": {RESOURCE_TAG, TAG_KEYS},
    **{
        f"dynamodb:{a}": {RESOURCE_TAG}
        for a in (
            "deletetable", "describetable", "createbackup", "updatecontinuousbackups",
            "describecontinuousbackups", "restoretablefrombackup", "restoretabletopointintime",
            "batchwriteitem", "putitem", "updateitem", "deleteitem", "getitem", "batchgetitem",
            "query", "scan", "getresourcepolicy", "putresourcepolicy", "deleteresourcepolicy",
        )
    },
    # Secrets Manager: a secret's tags under both prefixes.
    "secretsmanager:getsecretvalue": {RESOURCE_TAG, SECRET_TAG},
    "secretsmanager:createsecret": {REQUEST_TAG, TAG_KEYS},
    "secretsmanager:tagresource": {RESOURCE_TAG, SECRET_TAG, REQUEST_TAG, TAG_KEYS},
}

MULTIVALUED = {TAG_KEYS}

KEY_FORMS = {
    "aws:ResourceTag/": RESOURCE_TAG,
    "aws:RequestTag/": REQUEST_TAG,
    "secretsmanager:ResourceTag/": SECRET_TAG,
}


def key_form(key):
    """The form of `key` as ACTION_KEYS names it (`aws:ResourceTag/*` for any tag)."""
    for prefix, form in KEY_FORMS.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            return form
    if key in (TAG_KEYS, "rds:PubliclyAccessible", "rds:ManageMasterUserPassword"):
        return key
    raise Unreadable(f"condition key {key} is not understood by this check")


def context_value(key, request):
    """The value of `key` in `request`'s context: a string, a list (multivalued), or None."""
    form = key_form(key)
    if form == TAG_KEYS:
        return list(request.request_tags) + list(request.tag_keys)
    if form in (RESOURCE_TAG, SECRET_TAG):
        return request.resource_tags.get(key.split("/", 1)[1])
    if form == REQUEST_TAG:
        return request.request_tags.get(key.split("/", 1)[1])
    return request.context.get(key)


# ------------------------------------------------------------------------------ matching

def glob(pattern, text, ignore_case=False):
    """IAM's wildcards: `*` any run of characters, `?` any one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def as_list(value):
    return value if isinstance(value, list) else [value]


STRING_OPERATORS = {
    "StringEquals": (lambda have, want: have == want, False),
    "StringNotEquals": (lambda have, want: have == want, True),
    "StringLike": (lambda have, want: glob(want, have), False),
    "StringNotLike": (lambda have, want: glob(want, have), True),
    "ArnEquals": (lambda have, want: have == want, False),
    "ArnLike": (lambda have, want: glob(want, have), False),
    "ArnNotLike": (lambda have, want: glob(want, have), True),
    "Bool": (lambda have, want: have.lower() == want.lower(), False),
}


def parse_operator(operator):
    """(set qualifier or None, base operator, if_exists)."""
    qualifier, base = None, operator
    if ":" in operator:
        qualifier, base = operator.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            raise Unreadable(f"condition operator {operator} is not understood by this check")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    if base == "Null":
        if qualifier or if_exists:
            raise Unreadable(f"condition operator {operator} is not understood by this check")
    elif base not in STRING_OPERATORS:
        raise Unreadable(f"condition operator {operator} is not understood by this check")
    return qualifier, base, if_exists


def check_condition_shape(operator, key):
    """Refuses what IAM would read differently from what it seems to say."""
    qualifier, base, _ = parse_operator(operator)
    form = key_form(key)
    if base == "Null":
        return
    if form in MULTIVALUED and not qualifier:
        raise Unreadable(f"{operator} on the multivalued key {key}: use ForAllValues: or ForAnyValue:")
    if qualifier and form not in MULTIVALUED:
        raise Unreadable(f"{operator} on the single-valued key {key}: a set operator there is a trap")


def condition_holds(operator, key, wanted, request):
    qualifier, base, if_exists = parse_operator(operator)
    wanted = [str(w).lower() if isinstance(w, bool) else str(w) for w in as_list(wanted)]
    have = context_value(key, request)
    absent = have is None or have == []
    if base == "Null":
        if wanted not in (["true"], ["false"]):
            raise Unreadable(f"Null on {key} must be \"true\" or \"false\"")
        return absent == (wanted == ["true"])
    matches, negated = STRING_OPERATORS[base]
    if qualifier == "ForAllValues":
        if negated:
            raise Unreadable(f"{operator} is not understood by this check")
        return all(any(matches(h, w) for w in wanted) for h in as_list(have or []))
    if qualifier == "ForAnyValue":
        if negated:
            raise Unreadable(f"{operator} is not understood by this check")
        return any(any(matches(h, w) for w in wanted) for h in as_list(have or []))
    if absent:
        return if_exists or negated
    hit = any(matches(have, w) for w in wanted)
    return not hit if negated else hit


STATEMENT_ELEMENTS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def check_statement(statement):
    """Refuses a statement this module could misread; returns it."""
    unknown = set(statement) - STATEMENT_ELEMENTS
    if unknown:
        raise Unreadable(f"statement {statement.get('Sid')}: element(s) {sorted(unknown)} not understood")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise Unreadable(f"statement {statement.get('Sid')}: Effect must be Allow or Deny")
    if ("Action" in statement) == ("NotAction" in statement):
        raise Unreadable(f"statement {statement.get('Sid')}: needs exactly one of Action, NotAction")
    if ("Resource" in statement) == ("NotResource" in statement):
        raise Unreadable(f"statement {statement.get('Sid')}: needs exactly one of Resource, NotResource")
    for value in as_list(statement.get("Action", statement.get("NotAction"))) + as_list(
        statement.get("Resource", statement.get("NotResource"))
    ):
        if not isinstance(value, str):
            raise Unreadable(f"statement {statement.get('Sid')}: {value!r} is not a resolved string")
    condition = statement.get("Condition", {})
    if condition and "NotAction" in statement:
        raise Unreadable(f"statement {statement.get('Sid')}: NotAction under a condition is not understood")
    for operator, pairs in condition.items():
        for key in pairs:
            check_condition_shape(operator, key)
            for action in as_list(statement.get("Action", [])):
                if "*" in action or "?" in action:
                    raise Unreadable(
                        f"statement {statement.get('Sid')}: wildcard action {action} under a condition"
                    )
                supported = ACTION_KEYS.get(action.lower())
                if supported is None:
                    raise Unreadable(
                        f"statement {statement.get('Sid')}: which condition keys {action} carries "
                        "is not known to this check (add it to ACTION_KEYS from the service reference)"
                    )
                if key_form(key) not in supported:
                    raise Unreadable(
                        f"statement {statement.get('Sid')}: {action} does not carry {key}, so the "
                        f"{statement['Effect']} never applies as written"
                    )
    return statement


def matches(statement, request):
    if "Action" in statement:
        if not any(glob(a, request.action, ignore_case=True) for a in as_list(statement["Action"])):
            return False
    elif any(glob(a, request.action, ignore_case=True) for a in as_list(statement["NotAction"])):
        return False
    if "NotResource" in statement:
        if any(glob(r, request.resource) for r in as_list(statement["NotResource"])):
            return False
    elif not any(glob(r, request.resource) for r in as_list(statement["Resource"])):
        return False
    return all(
        condition_holds(operator, key, wanted, request)
        for operator, pairs in statement.get("Condition", {}).items()
        for key, wanted in pairs.items()
    )


def allowed(statements, request):
    """IAM's decision for `request` under `statements` (identity policies of one role)."""
    if any(s["Effect"] == "Deny" and matches(s, request) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s, request) for s in statements)


# ------------------------------------------------------------------- template resolution

def resource_arn(logical, resources):
    """A concrete ARN for the template's resource `logical` (what Ref/GetAtt name)."""
    kind = resources.get(logical, {}).get("Type")
    arns = {
        "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-{logical}-X",
        "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{STACK}-{logical.lower()}-x",
        "AWS::Serverless::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{logical}-X",
        "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{logical}-X",
        "AWS::StepFunctions::StateMachine": f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-{logical}",
        "AWS::Serverless::StateMachine": f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-{logical}",
        "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{STACK}-{logical}-X",
        "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{STACK}-{logical}-X",
    }
    if kind not in arns:
        raise Unreadable(f"no ARN known for {logical} ({kind})")
    return arns[kind]


def resolver(template, parameters):
    """A function making a statement's intrinsics concrete: pseudo parameters, the
    template's parameters (`parameters` overrides their defaults), Ref and GetAtt of its
    resources; anything else is refused."""
    resources = template["Resources"]
    params = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
    params.update(parameters)
    pseudo = {
        "AWS::Partition": PARTITION,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": STACK,
        "AWS::URLSuffix": "amazonaws.com",
    }

    def ref(name):
        if name in pseudo:
            return pseudo[name]
        if name in params:
            if params[name] is None:
                raise Unreadable(f"parameter {name} has no default: give it to the check")
            return params[name]
        return resource_arn(name, resources)

    def get_att(logical, attribute):
        if attribute != "Arn":
            raise Unreadable(f"GetAtt {logical}.{attribute} is not understood by this check")
        return resource_arn(logical, resources)

    def sub(text, variables):
        def one(match):
            name = match.group(1)
            if name in variables:
                return variables[name]
            if "." in name:
                return get_att(*name.split(".", 1))
            return ref(name)

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(value):
        if isinstance(value, dict) and len(value) == 1:
            (key, inner), = value.items()
            if key == "Ref":
                return ref(inner)
            if key == "Fn::GetAtt":
                target = inner if isinstance(inner, list) else inner.split(".", 1)
                return get_att(*target)
            if key == "Fn::Sub":
                if isinstance(inner, str):
                    return sub(inner, {})
                text, variables = inner
                return sub(text, {k: resolve(v) for k, v in variables.items()})
            if key.startswith("Fn::") or key == "Condition":
                raise Unreadable(f"{key} in a policy is not understood by this check")
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    return resolve


def role_statements(template, logical, parameters=None):
    """The identity-policy statements of `logical`: a SAM function's Policies, or an
    AWS::IAM::Role's inline policies, resolved and checked."""
    resource = template["Resources"][logical]
    resolve = resolver(template, parameters or {})
    properties = resource["Properties"]
    if resource["Type"] == "AWS::Serverless::Function":
        documents = properties.get("Policies", [])
        for document in documents:
            if not isinstance(document, dict) or set(document) != {"Statement"}:
                raise Unreadable(f"{logical}: a policy that is not an inline statement list")
    elif resource["Type"] == "AWS::IAM::Role":
        if properties.get("ManagedPolicyArns"):
            raise Unreadable(f"{logical}: managed policies are not read by this check")
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
    else:
        raise Unreadable(f"{logical} is not a role or a function")
    return [check_statement(resolve(s)) for d in documents for s in as_list(d["Statement"])]
