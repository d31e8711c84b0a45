"""What each role of the template may do, asked of the template itself.

Every Lambda function's role (its SAM Policies) and every service role (AWS::IAM::Role) is
evaluated, with IAM's rules (infra/iam_evaluation.py), against its cases (infra/iam_cases.py):
what its code calls must be allowed, what must never happen must be refused, and what IAM
cannot express must still be allowed (the code guards it; the case says where). A role of
the template with no cases, or a statement the evaluation cannot read, fails the check too.
SAM's own managed policies (logs; network interfaces with a VPC) are not read: they reach
no data.

Run by scripts/check-infra with the Python that has cfn-lint (whose decoder reads the
template's short-form intrinsics). Exits non-zero naming every case that does not hold.
"""

import sys
from pathlib import Path

from cfnlint.decode import decode

sys.path.insert(0, str(Path(__file__).parent))

from iam_cases import ROLES  # noqa: E402
from iam_evaluation import Unreadable, allowed, role_statements  # noqa: E402

ROLE_TYPES = ("AWS::Serverless::Function", "AWS::IAM::Role")


def evaluate(template, roles):
    """Every failure, as lines naming the role and the case."""
    failures = []
    present = {k for k, v in template["Resources"].items() if v["Type"] in ROLE_TYPES}
    for missing in sorted(present - {r.logical for r in roles}):
        failures.append(f"{missing}: a role with no cases (add it to infra/iam_cases.py)")
    for role in roles:
        try:
            statements = role_statements(template, role.logical)
        except (Unreadable, KeyError) as e:
            failures.append(f"{role.logical}: unreadable: {e}")
            continue
        for what, request in role.allowed:
            if not allowed(statements, request):
                failures.append(f"{role.logical}: refused, but the code needs it: {what}")
        for what, request in role.refused:
            if allowed(statements, request):
                failures.append(f"{role.logical}: allowed, and must never be: {what}")
        for what, request, guard in role.code_guarded:
            if not allowed(statements, request):
                failures.append(
                    f"{role.logical}: now refused by IAM, move it to refused: {what} (was guarded by {guard})"
                )
    return failures


def main():
    template_path = Path(__file__).with_name("template.yaml")
    template, problems = decode(str(template_path))
    if problems:
        sys.exit(f"{template_path}: {problems}")
    failures = evaluate(template, ROLES)
    if failures:
        sys.exit("the roles' IAM does not hold:\n  " + "\n  ".join(failures))
    for role in ROLES:
        print(
            f"{role.logical}: {len(role.allowed)} allowed, {len(role.refused)} refused, "
            f"{len(role.code_guarded)} guarded by code"
        )


if __name__ == "__main__":
    main()
