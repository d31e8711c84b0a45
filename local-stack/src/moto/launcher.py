# moto's server (`python -m moto.server`), minus costs that the tests' tens of thousands of
# calls add up. None changes what moto answers.
#
# 1. moto's server lists its package directory to route each request (the list never
#    changes while it runs): listed once.
# 2. werkzeug logs each request line (the edge's ledger already records every call; moto's
#    warnings and errors still reach its log): not logged.
# 3. A DynamoDB Query on a table's own key reads every item of the table, sorted, and keeps
#    those of the partition asked for: O(table) per call, which made the catalog's queries
#    (one per resource per tick) grow with its history. Here it reads the partition alone,
#    also for an index keyed by the table's own hash key (a subset of the partition).
#    The scope is per thread (moto serves requests on threads), and Scans, index queries and
#    every other reader of the table still see all of it.
# 4. A DynamoDB TransactWriteItems deep-copies every table it names, to put the copy back if
#    the transaction is cancelled: O(table) per call. Here it saves the items it names and,
#    cancelled, puts those back (or removes the ones it created): the same end state.
import copy
import logging
import sys
import threading

import moto.backends as backends
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: modules
logging.getLogger("werkzeug").setLevel(logging.WARNING)

_scope = threading.local()
_all_items = Table.all_items
_query = Table.query


def _scoped_all_items(self):
    scope = getattr(_scope, "partition", None)
    if scope is not None and scope[0] is self:
        return list(scope[1])
    return _all_items(self)


def _index_hash_attr(table, index_name):
    for index in table.all_indexes():
        if index.name == index_name:
            return next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
    return None


def _partition_query(self, hash_key, *args, **kwargs):
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    # An index keyed by the table's own hash key holds a subset of the partition.
    by_partition = not index_name or _index_hash_attr(self, index_name) == self.hash_key_attr
    if not by_partition or hash_key is None:
        return _query(self, hash_key, *args, **kwargs)
    if hash_key not in self.items:
        partition = []
    elif self.range_key_attr:
        partition = list(self.items[hash_key].values())
    else:
        partition = [self.items[hash_key]]
    _scope.partition = (self, partition)
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _scope.partition = None


Table.all_items = _scoped_all_items
Table.query = _partition_query


class _TableCopies:
    """moto's `copy` in its DynamoDB backend: deep copies as ever, except of a table named by
    the transaction in progress on this thread, which is left as it is (see 4)."""

    def __init__(self):
        self.saving = threading.local()

    def deepcopy(self, value, memo=None):
        if isinstance(value, Table) and getattr(self.saving, "on", False):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


_copies = _TableCopies()
dynamodb_models.copy = _copies
_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def _named_items(backend, transact_items):
    """(table, hash key, range key, the item now or None) for each item the transaction names."""
    named = []
    for entry in transact_items:
        for op in entry.values():
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            attrs = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in attrs:
                continue
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_key = None
            if table.range_key_attr:
                if table.range_key_attr not in attrs:
                    continue
                range_key = DynamoType(attrs[table.range_key_attr])
            current = table.get_item(hash_key, range_key)
            named.append((table, hash_key, range_key, copy.deepcopy(current)))
    return named


def _put_back(named):
    for table, hash_key, range_key, item in reversed(named):
        if range_key is not None:
            if item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item


def _transact_saving_items(self, transact_items):
    try:
        named = _named_items(self, transact_items)
    except Exception:
        # Whatever moto makes of a transaction this cannot read, with its own copies.
        return _transact(self, transact_items)
    _copies.saving.on = True
    try:
        return _transact(self, transact_items)
    except Exception:
        _put_back(named)
        raise
    finally:
        _copies.saving.on = False


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_saving_items

from moto.server import main  # noqa: E402

main(sys.argv[1:])
