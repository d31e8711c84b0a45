"""Checks that the template's CloudWatch dashboard body is JSON once its ${...} references
are substituted (cfn-lint reads it as an opaque string), and that every alarm it shows is one
of the template's alarms."""

import json
import re
import sys

import yaml


class Loader(yaml.SafeLoader):
    pass


def any_tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


Loader.add_multi_constructor("!", any_tag)

template = yaml.load(open("infra/template.yaml", encoding="utf-8"), Loader=Loader)
resources = template["Resources"]
failures = []
for name, resource in resources.items():
    if resource["Type"] != "AWS::CloudWatch::Dashboard":
        continue
    body, variables = resource["Properties"]["DashboardBody"]
    try:
        dashboard = json.loads(re.sub(r"\$\{[A-Za-z:]+\}", "x", body))
    except json.JSONDecodeError as e:
        failures.append(f"{name}: the body is not JSON: {e}")
        continue
    for ref in re.findall(r"\$\{([A-Za-z]+)\}", body):
        if ref not in variables:
            failures.append(f"{name}: ${{{ref}}} is not among the Sub's variables")
    for ref, value in variables.items():
        target = value[0] if isinstance(value, list) else value.split(".")[0]
        if target not in resources:
            failures.append(f"{name}: {ref} names {target}, not a resource of the template")
    print(f"{name}: {len(dashboard['widgets'])} widgets")
if failures:
    print("\n".join(failures))
    sys.exit(1)
