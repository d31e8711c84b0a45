"""The IAM evaluation itself: it decides as IAM does, and refuses what it cannot read, so
that check_iam.py cannot approve a role silently. Run by scripts/check-infra."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from check_iam import evaluate  # noqa: E402
from iam_cases import Role, ask  # noqa: E402
from iam_evaluation import Unreadable, allowed, check_statement, role_statements  # noqa: E402

DB = "arn:aws:rds:us-east-1:111122223333:db:lbd-x"
TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/lbd-x"


def allow(action, resource="*", condition=None):
    s = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return check_statement(s)


def deny(action, resource="*", condition=None):
    return {**allow(action, resource, condition), "Effect": "Deny"}


def template(statements, logical="Fn"):
    return {
        "Parameters": {},
        "Resources": {
            logical: {"Type": "AWS::Serverless::Function", "Properties": {"Policies": [{"Statement": statements}]}}
        },
    }


class Decisions(unittest.TestCase):
    def test_a_deny_wins_over_an_allow(self):
        statements = [
            allow("rds:DeleteDBInstance", DB),
            deny("rds:DeleteDBInstance", "*", {"Null": {"aws:ResourceTag/lifeboat:instance": "false"}}),
        ]
        self.assertTrue(allowed(statements, ask("rds:DeleteDBInstance", DB)))
        self.assertFalse(allowed(statements, ask("rds:DeleteDBInstance", DB, {"lifeboat:instance": "a"})))

    def test_nothing_is_allowed_without_an_allow(self):
        self.assertFalse(allowed([], ask("s3:GetObject", "arn:aws:s3:::b/k")))

    def test_actions_ignore_case_and_resources_do_not(self):
        statements = [allow("RDS:deletedbinstance", "arn:aws:rds:*:*:db:lbd-*")]
        self.assertTrue(allowed(statements, ask("rds:DeleteDBInstance", DB)))
        self.assertFalse(allowed(statements, ask("rds:DeleteDBInstance", DB.replace("lbd-", "LBD-"))))

    def test_only_star_and_question_mark_are_wildcards(self):
        statements = [allow("s3:GetObject", "arn:aws:s3:::b/[ab]?")]
        self.assertFalse(allowed(statements, ask("s3:GetObject", "arn:aws:s3:::b/ax")))
        self.assertTrue(allowed(statements, ask("s3:GetObject", "arn:aws:s3:::b/[ab]x")))

    def test_an_absent_key_fails_a_positive_operator_and_satisfies_a_negated_one(self):
        positive = [allow("rds:ModifyDBInstance", DB, {"StringEquals": {"aws:ResourceTag/r": "staging"}})]
        negated = [allow("rds:ModifyDBInstance", DB, {"StringNotEquals": {"aws:ResourceTag/r": "staging"}})]
        if_exists = [allow("rds:ModifyDBInstance", DB, {"StringEqualsIfExists": {"aws:ResourceTag/r": "x"}})]
        untagged = ask("rds:ModifyDBInstance", DB)
        self.assertFalse(allowed(positive, untagged))
        self.assertTrue(allowed(negated, untagged))
        self.assertTrue(allowed(if_exists, untagged))
        self.assertFalse(allowed(negated, ask("rds:ModifyDBInstance", DB, {"r": "staging"})))

    def test_a_negated_operator_refuses_every_value_listed(self):
        statements = [allow("rds:ModifyDBInstance", DB, {"StringNotEquals": {"aws:ResourceTag/r": ["a", "b"]}})]
        self.assertFalse(allowed(statements, ask("rds:ModifyDBInstance", DB, {"r": "b"})))
        self.assertTrue(allowed(statements, ask("rds:ModifyDBInstance", DB, {"r": "c"})))

    def test_set_operators_over_tag_keys(self):
        only_marks = [allow(
            "dynamodb:TagResource", TABLE, {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}
        )]
        self.assertTrue(allowed(only_marks, ask("dynamodb:TagResource", TABLE, sets={"a": "1"})))
        self.assertFalse(allowed(only_marks, ask("dynamodb:TagResource", TABLE, sets={"a": "1", "c": "2"})))
        self.assertTrue(allowed(only_marks, ask("dynamodb:TagResource", TABLE)), "ForAllValues of nothing holds")
        any_mark = [allow("dynamodb:UntagResource", TABLE, {"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}})]
        self.assertFalse(allowed(any_mark, ask("dynamodb:UntagResource", TABLE)), "ForAnyValue of nothing fails")
        self.assertTrue(allowed(any_mark, ask("dynamodb:UntagResource", TABLE, removes=["b", "a"])))

    def test_conditions_are_anded_and_values_ored(self):
        statements = [allow("rds:DeleteDBInstance", DB, {
            "StringEquals": {"aws:ResourceTag/r": ["staging", "fallback"]},
            "StringLike": {"aws:ResourceTag/q": "drill-*"},
        })]
        self.assertTrue(allowed(statements, ask("rds:DeleteDBInstance", DB, {"r": "fallback", "q": "drill-1"})))
        self.assertFalse(allowed(statements, ask("rds:DeleteDBInstance", DB, {"r": "fallback", "q": "rr-1"})))

    def test_bool_reads_the_request_context(self):
        statements = [
            allow("rds:RestoreDBInstanceFromDBSnapshot", DB),
            deny("rds:RestoreDBInstanceFromDBSnapshot", "*", {"Bool": {"rds:PubliclyAccessible": "true"}}),
        ]
        public = ask("rds:RestoreDBInstanceFromDBSnapshot", DB, rds__PubliclyAccessible="true")
        self.assertFalse(allowed(statements, public))
        self.assertTrue(allowed(statements, ask("rds:RestoreDBInstanceFromDBSnapshot", DB)))


class Refusals(unittest.TestCase):
    def refused(self, statement, says):
        with self.assertRaises(Unreadable) as caught:
            check_statement(statement)
        self.assertIn(says, str(caught.exception))

    def test_an_operator_it_does_not_know(self):
        self.refused(
            {"Effect": "Deny", "Action": "rds:DeleteDBInstance", "Resource": "*",
             "Condition": {"NumericLessThan": {"aws:ResourceTag/n": "3"}}},
            "NumericLessThan",
        )

    def test_a_key_it_does_not_know(self):
        self.refused(
            {"Effect": "Deny", "Action": "rds:DeleteDBInstance", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/team": "x"}}},
            "aws:PrincipalTag/team",
        )

    def test_a_key_the_action_does_not_carry(self):
        # A Deny on a key the request never has would never apply.
        self.refused(
            {"Effect": "Deny", "Action": "rds:ModifyDBInstance", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/r": "x"}}},
            "never applies",
        )

    def test_an_action_whose_keys_it_does_not_know(self):
        self.refused(
            {"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/r": "x"}}},
            "ec2:TerminateInstances",
        )

    def test_a_wildcard_action_under_a_condition(self):
        self.refused(
            {"Effect": "Deny", "Action": "rds:Delete*", "Resource": "*",
             "Condition": {"Null": {"aws:ResourceTag/r": "false"}}},
            "wildcard",
        )

    def test_set_operators_on_the_wrong_kind_of_key(self):
        self.refused(
            {"Effect": "Deny", "Action": "rds:AddTagsToResource", "Resource": "*",
             "Condition": {"StringEquals": {"aws:TagKeys": "lifeboat:instance"}}},
            "multivalued",
        )
        self.refused(
            {"Effect": "Deny", "Action": "rds:AddTagsToResource", "Resource": "*",
             "Condition": {"ForAllValues:StringEquals": {"aws:RequestTag/r": "x"}}},
            "single-valued",
        )

    def test_an_element_it_does_not_know(self):
        self.refused(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
            "Principal",
        )

    def test_an_intrinsic_it_does_not_know(self):
        conditional = {"Effect": "Allow", "Action": "s3:GetObject",
                       "Resource": {"Fn::If": ["C", "arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]}}
        with self.assertRaises(Unreadable):
            role_statements(template([conditional]), "Fn")


class Checking(unittest.TestCase):
    def test_every_case_that_does_not_hold_is_named_and_a_role_without_cases_fails(self):
        t = template([{"Effect": "Allow", "Action": "rds:DeleteDBInstance", "Resource": "*"}])
        t["Resources"]["Other"] = {"Type": "AWS::IAM::Role", "Properties": {}}
        role = Role(
            "Fn",
            allowed=[("describe", ask("rds:DescribeDBInstances", DB))],
            refused=[("delete", ask("rds:DeleteDBInstance", DB))],
            code_guarded=[("snapshot", ask("rds:CreateDBSnapshot", DB), "nothing")],
        )
        failures = evaluate(t, [role])
        self.assertEqual(len(failures), 4, failures)
        for says in ("Other: a role with no cases", "needs it: describe", "must never be: delete",
                     "move it to refused: snapshot"):
            self.assertTrue(any(says in f for f in failures), (says, failures))

    def test_an_unreadable_role_fails(self):
        t = template([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*"}])
        failures = evaluate(t, [Role("Fn")])
        self.assertEqual(len(failures), 1)
        self.assertIn("unreadable", failures[0])


if __name__ == "__main__":
    unittest.main()
