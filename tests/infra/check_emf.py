#!/usr/bin/env python3
"""Validates CloudWatch Embedded Metric Format lines read on stdin.

Usage: some-program | check_emf.py [--summary FILE] [--quiet]

Every line that contains "_aws" must be a JSON object that follows the EMF
specification: _aws.Timestamp an integer (ms), _aws.CloudWatchMetrics a
non-empty list of directives, each with a Namespace, Dimensions (a list of
dimension sets, each 1..30 names that are top-level string members) and
Metrics (1..100 {Name, Unit?}, names unique, each a top-level number or
list of up to 100 numbers; Unit a CloudWatch StandardUnit).  Other lines
(ordinary log lines, test-runner output) are ignored.  Exit 1 when any EMF
line is invalid or when there is none.

--summary FILE writes what the lines emit, for check_aws_json.py metrics:
{"namespaces": {NS: {"dimensions": {name: value}, "metrics": {name: unit}}}}
"""
import argparse
import json
import math
import sys

import botocore.session


def standard_units():
    try:
        m = botocore.session.get_session().get_service_model("cloudwatch")
        return set(m.shape_for("StandardUnit").enum)
    except Exception:  # botocore missing the shape: fall back to the documented list
        return {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
                "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
                "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
                "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
                "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}


UNITS = standard_units()


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_line(obj, summary):
    errs = []
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    aws = obj.get("_aws")
    if not isinstance(aws, dict):
        return ["_aws is not an object"]
    ts = aws.get("Timestamp")
    if not (isinstance(ts, int) and not isinstance(ts, bool)) or ts < 10**12:
        errs.append(f"_aws.Timestamp must be an integer in ms, got {ts!r}")
    dirs = aws.get("CloudWatchMetrics")
    if not isinstance(dirs, list) or not dirs:
        return errs + ["_aws.CloudWatchMetrics must be a non-empty list"]
    for i, d in enumerate(dirs):
        where = f"CloudWatchMetrics[{i}]"
        if not isinstance(d, dict):
            errs.append(f"{where} is not an object")
            continue
        ns = d.get("Namespace")
        if not isinstance(ns, str) or not 1 <= len(ns) <= 1024 or ns.startswith("AWS/"):
            errs.append(f"{where}.Namespace invalid: {ns!r}")
            ns = None
        dims = d.get("Dimensions")
        dimvals = {}
        if not isinstance(dims, list):
            errs.append(f"{where}.Dimensions must be a list")
            dims = []
        for j, ds in enumerate(dims):
            if not isinstance(ds, list) or not 1 <= len(ds) <= 30:
                errs.append(f"{where}.Dimensions[{j}] must list 1..30 names")
                continue
            for name in ds:
                val = obj.get(name) if isinstance(name, str) else None
                if not isinstance(val, str) or not val:
                    errs.append(f"dimension {name!r} has no top-level string value")
                else:
                    dimvals[name] = val
        mets = d.get("Metrics")
        if not isinstance(mets, list) or not 1 <= len(mets) <= 100:
            errs.append(f"{where}.Metrics must list 1..100 metrics")
            mets = []
        seen = {}
        for m in mets:
            name = m.get("Name") if isinstance(m, dict) else None
            if not isinstance(name, str) or not 1 <= len(name) <= 1024:
                errs.append(f"{where}: metric without a valid Name: {m!r}")
                continue
            if name in seen:
                errs.append(f"{where}: metric {name} listed twice")
            unit = m.get("Unit", "None")
            if unit not in UNITS:
                errs.append(f"metric {name}: unit {unit!r} is not a CloudWatch StandardUnit")
            seen[name] = unit
            v = obj.get(name)
            ok = is_number(v) or (isinstance(v, list) and 1 <= len(v) <= 100
                                  and all(is_number(x) for x in v))
            if not ok:
                errs.append(f"metric {name} has no top-level numeric value (got {v!r})")
            if name in dimvals:
                errs.append(f"{name} is both a dimension and a metric")
        if ns and not errs:
            e = summary.setdefault(ns, {"dimensions": {}, "metrics": {}})
            e["dimensions"].update(dimvals)
            e["metrics"].update(seen)
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--summary")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    summary = {}
    count = bad = 0
    for n, line in enumerate(sys.stdin, 1):
        if "_aws" not in line:
            continue
        count += 1
        text = line.strip()
        # a test runner may prefix the line; the EMF object starts at the first '{'
        start = text.find("{")
        try:
            obj = json.loads(text[start:]) if start >= 0 else None
            errs = check_line(obj, summary) if obj is not None else ["no JSON object"]
        except json.JSONDecodeError as e:
            errs = [f"not JSON: {e}"]
        if errs:
            bad += 1
            for e in errs:
                print(f"line {n}: {e}", file=sys.stderr)
    if count == 0:
        print("check_emf: no line containing \"_aws\" on stdin", file=sys.stderr)
        return 1
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as f:
            json.dump({"namespaces": summary}, f, indent=1, sort_keys=True)
    if not args.quiet:
        print(f"check_emf: {count - bad} of {count} EMF lines valid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
