#!/usr/bin/env python3
"""Checks the status events' JSON Schemas, and events against them.

    check_events.py            the schemas (valid draft-04 documents, every detail-type
                               covered once) and the template's copies of them
    check_events.py FILE|-     also every event in FILE (one JSON document a line; `-`:
                               standard input), each against its detail-type's schema

The end-to-end tests feed it the events the functions really published on the local stack
(tests/e2e/status_events.rs); scripts/check-infra runs it without events.
"""
import glob
import json
import os
import re
import sys

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "..", "template.yaml")


def schemas():
    """Each schema by the detail-types it documents."""
    by_type = {}
    for path in sorted(glob.glob(os.path.join(HERE, "*.schema.json"))):
        with open(path) as f:
            schema = json.load(f)
        jsonschema.Draft4Validator.check_schema(schema)
        for detail_type in schema["properties"]["detail-type"]["enum"]:
            if detail_type in by_type:
                sys.exit(f"{detail_type!r} is documented twice ({path})")
            by_type[detail_type] = (os.path.basename(path), schema)
    return by_type


class Template(yaml.SafeLoader):
    """Reads CloudFormation's short-form intrinsics (!Ref, !Sub, ...) as plain values."""


Template.add_multi_constructor(
    "!",
    lambda loader, suffix, node: loader.construct_scalar(node)
    if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node)
    if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node),
)


def check_template(by_type):
    """The registry's schemas in the template are the files, not copies drifting apart."""
    with open(TEMPLATE) as f:
        resources = yaml.load(f, Loader=Template)["Resources"]
    files = {name: schema for name, schema in by_type.values()}
    seen = set()
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::EventSchemas::Schema":
            continue
        props = resource["Properties"]
        named = re.search(r"infra/events/([\w.-]+\.schema\.json)", props.get("Description", ""))
        file = named and named.group(1)
        if file not in files:
            sys.exit(f"template: {name} names no schema file of infra/events/ in its Description")
        if json.loads(props["Content"]) != files[file]:
            sys.exit(f"template: {name}'s Content differs from infra/events/{file}")
        seen.add(file)
    missing = set(files) - seen
    if missing:
        sys.exit(f"template: no AWS::EventSchemas::Schema for {sorted(missing)}")


def check_events(lines, by_type):
    count = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        event = json.loads(line)
        detail_type = event.get("detail-type")
        if detail_type not in by_type:
            sys.exit(f"event {n}: no schema documents the detail-type {detail_type!r}")
        file, schema = by_type[detail_type]
        errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(event), key=str)
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            sys.exit(f"event {n} ({detail_type}) breaks {file} at {where}: {errors[0].message}\n{line}")
        count += 1
    return count


def main():
    by_type = schemas()
    check_template(by_type)
    print(f"{len(by_type)} detail-types in {len({f for f, _ in by_type.values()})} schemas")
    if len(sys.argv) > 1:
        source = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
        print(f"{check_events(source, by_type)} events match their schemas")


if __name__ == "__main__":
    main()
