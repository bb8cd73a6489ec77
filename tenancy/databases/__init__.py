"""Whole-database work that copy, dump (export/import) and verification share.

Library pieces (used by all three):

- ``specs``: collections and their options (list, select, create);
- ``indexes``: index definitions (read, build, fingerprint, compare);
- ``batches``: reading a collection in bounded batches, ``_id`` order, progress;
- ``digests``: the order-independent content hash of a collection;
- ``results``: the report of one operation, per collection;
- ``dump_format``, ``bson_files``, ``ejson_io``: the dump format (manifest,
  data files) and its checks.

Commands: ``copy`` (resumable copy), ``verify`` (compare two databases);
the dump command is :mod:`tenancy.dump`.
"""
