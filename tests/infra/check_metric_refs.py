#!/usr/bin/env python3
"""Every metric the Grafana dashboard and the Prometheus rules use must be
one filot-ocrd exports.

Usage: check_metric_refs.py EXPORTED RULES.yml DASHBOARD.json

EXPORTED is a /metrics scrape or the C source that renders it
(supervisor/http_metrics.c): the metric names in it are what exists.
A reference to NAME_bucket, NAME_sum or NAME_count counts as NAME.
Prints each unknown reference and exits 1 if there is one (or if the
files name no metric at all, which would make the check vacuous).
"""
import json
import re
import sys

NAME = re.compile(r"\b(?:filot_ocrd|process)_[a-z0-9_]*[a-z0-9]\b")
SUFFIXES = ("_bucket", "_sum", "_count")


def exported(path):
    return set(NAME.findall(open(path, encoding="utf-8").read()))


def rule_exprs(path):
    # the rules file is YAML; expressions are the `expr:` scalars (plain or block)
    text = open(path, encoding="utf-8").read()
    return [m.group(1) for m in re.finditer(r"expr:\s*\|?\s*\n?((?:.*\n)(?:\s{10,}.*\n)*)", text)]


def dashboard_exprs(path):
    dash = json.load(open(path, encoding="utf-8"))
    exprs = []
    for panel in dash.get("panels", []):
        exprs += [t.get("expr", "") for t in panel.get("targets", [])]
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("query")
        exprs.append(q.get("query", "") if isinstance(q, dict) else str(q or ""))
    return exprs


def known(name, names):
    if name in names:
        return True
    return any(name.endswith(s) and name[: -len(s)] in names for s in SUFFIXES)


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    names = exported(argv[1])
    refs = {}
    for where, exprs in ((argv[2], rule_exprs(argv[2])), (argv[3], dashboard_exprs(argv[3]))):
        for e in exprs:
            for n in NAME.findall(e):
                refs.setdefault(n, set()).add(where)
    if not names or not refs:
        print("no metric names found (exported %d, referenced %d)" % (len(names), len(refs)))
        return 1
    bad = sorted(n for n in refs if not known(n, names))
    for n in bad:
        print("%s: uses %s, which filot-ocrd does not export" % (", ".join(sorted(refs[n])), n))
    print("metric references: %d names used, %d unknown" % (len(refs), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
