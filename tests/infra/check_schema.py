#!/usr/bin/env python3
"""Validates JSON documents against one of filot-ocrd's JSON Schemas.

Usage: check_schema.py SCHEMA FILE... [--invalid FILE...]

Each FILE holds one JSON document per line (JSON Lines) or a single JSON
array whose items are the documents.  Every schema in the schema's folder
is loaded, so "$ref"s between them (by "$id") resolve offline.  Prints one
line per invalid document (file:line: path: message) and a summary; exits
0 only when at least one document was checked, every document before
--invalid is valid and every document after it is invalid (the schema's
own negative tests).
"""
import json
import pathlib
import sys
import warnings

import jsonschema


def load_documents(path):
    text = pathlib.Path(path).read_text(encoding="utf-8")
    stripped = text.strip()
    if stripped.startswith("["):
        return [(f"{path}[{i}]", doc) for i, doc in enumerate(json.loads(stripped))]
    docs = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            docs.append((f"{path}:{n}", json.loads(line)))
    return docs


def validator_for(schema_path):
    schema_path = pathlib.Path(schema_path)
    store = {}
    for other in schema_path.parent.glob("*.schema.json"):
        doc = json.loads(other.read_text(encoding="utf-8"))
        store[doc.get("$id", other.name)] = doc
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    with warnings.catch_warnings():
        # RefResolver is deprecated in newer jsonschema but is the one API
        # that Debian 12's 4.10 and later releases share.
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    return cls(schema, resolver=resolver)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    validator = validator_for(argv[1])
    checked = bad = accepted = 0
    want_valid = True
    for path in argv[2:]:
        if path == "--invalid":
            want_valid = False
            continue
        for where, doc in load_documents(path):
            checked += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            if not want_valid:
                if not errors:
                    accepted += 1
                    print(f"{where}: accepted, but it must be invalid")
                continue
            if errors:
                bad += 1
                for e in errors:
                    loc = "/".join(str(p) for p in e.absolute_path) or "(root)"
                    print(f"{where}: {loc}: {e.message}")
    print(f"{pathlib.Path(argv[1]).name}: {checked} documents, {bad} invalid, "
          f"{accepted} wrongly accepted")
    return 0 if checked > 0 and bad == 0 and accepted == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
