#!/usr/bin/python3
"""score.py - the table of `make eval` (tests/eval/run.sh).

usage: score.py [--raw-wall S] [--ours-wall S] [--total-wall S] [--jobs N]
                MANIFEST.jsonl RAW.jsonl OURS.jsonl OUT.json

MANIFEST: gen-photos.py's lines (file, type, band, truth).  RAW lines:
{"file", "ms", "parsed"} from the original's call + compat parser.  OURS:
`filot-ocr ocr` result objects ("file" holds the path).  Prints one row per
field with raw | ours per band, and writes the same figures to OUT.json.

Matching is exact after case and space folding only (upper case, runs of
white space -> one space, trimmed).  NPWP numbers: "digits" compares the
digits alone; "as printed" also wants the original's result form, the
15-digit number punctuated NN.NNN.NNN.N-NNN.NNN and the 16-digit one as
plain digits.  The original's decision is recomputed from its parse with
its score formula (>= 75 -> auto_approve); ours is the result's "decision".
"""
import argparse
import json
import os
import re
import statistics

KTP8 = ["nik", "name", "birthPlace", "birthDate", "address", "gender", "religion",
        "maritalStatus"]
# A wrong value in one of these makes an auto-approval a wrong one.
ESSENTIAL = {"KTP": ["nik", "name", "birthDate", "gender"], "NPWP": ["npwpNumber", "name"]}
BANDS = ["vga", "card", "phone", "pdf", "all"]


def fold(v):
    """Case and space folding, nothing else."""
    return " ".join(str(v).upper().split()) if v is not None else None


def digits(v):
    return re.sub(r"[^0-9]", "", str(v)) if v is not None else None


def original_decision(typ, p):
    """computeAIScore + determineVerificationPath of the original."""
    if not p:
        return "needs_review"  # 0/0 = NaN -> review
    score = sum(1 for v in p.values() if v) / len(p) * 60
    if typ == "KTP":
        score += 20 if re.fullmatch(r"\d{16}", p.get("nik") or "") else 0
        score += 10 if len(p.get("name") or "") > 3 else 0
    elif re.fullmatch(r"\d{2}\.\d{3}\.\d{3}\.\d-\d{3}\.\d{3}", p.get("npwpNumber") or ""):
        score += 30
    return "auto_approve" if min(100, int(score + 0.5)) >= 75 else "needs_review"


def checks(doc, parsed):
    """name -> True/False for every check this document takes part in."""
    t, out = doc["truth"], {}
    if doc["type"] == "KTP":
        for k in KTP8:
            out["KTP " + k] = fold(parsed.get(k)) == fold(t[k])
        out["KTP all 8 fields"] = all(out["KTP " + k] for k in KTP8)
    else:
        form = "16" if "." not in t["npwpNumber"] else "15"
        ok = digits(parsed.get("npwpNumber")) == digits(t["npwpNumber"])
        out["NPWP number %s-digit" % form] = ok
        out["NPWP number (digits)"] = ok
        out["NPWP number as printed"] = fold(parsed.get("npwpNumber")) == t["npwpNumber"]
        out["NPWP name"] = fold(parsed.get("name")) == fold(t["name"])
    return out


ROWS = (["KTP " + k for k in KTP8] + ["KTP all 8 fields", "NPWP number 15-digit",
        "NPWP number 16-digit", "NPWP number (digits)", "NPWP number as printed", "NPWP name"])


def side(manifest, results, decision_of):
    """Per band: check -> [ok, n], decisions, wrong approvals, ms list."""
    out = {b: {"checks": {}, "decisions": {}, "wrongApprovals": 0, "ms": []} for b in BANDS}
    for doc in manifest:
        r = results[doc["file"]]
        parsed = r.get("parsed") or {}
        c = checks(doc, parsed)
        dec = decision_of(doc, r)
        wrong = dec == "auto_approve" and not all(
            fold(parsed.get(k)) == fold(doc["truth"][k]) if k != "npwpNumber"
            else c["NPWP number as printed"] for k in ESSENTIAL[doc["type"]])
        for b in (doc["band"], "all"):
            s = out[b]
            for k, ok in c.items():
                s["checks"].setdefault(k, [0, 0])
                s["checks"][k][0] += ok
                s["checks"][k][1] += 1
            s["decisions"][dec] = s["decisions"].get(dec, 0) + 1
            s["wrongApprovals"] += wrong
            s["ms"].append(r["ms"])
    for s in out.values():
        s["medianMs"] = round(statistics.median(s["ms"])) if s["ms"] else None
        del s["ms"]
    return out


def main():
    ap = argparse.ArgumentParser()
    for k in ("raw-wall", "ours-wall", "total-wall", "jobs"):
        ap.add_argument("--" + k, type=int, default=0)
    ap.add_argument("manifest")
    ap.add_argument("raw")
    ap.add_argument("ours")
    ap.add_argument("out")
    a = ap.parse_args()
    manifest = [json.loads(line) for line in open(a.manifest)]
    raw = {json.loads(line)["file"]: json.loads(line) for line in open(a.raw)}
    ours = {}
    for line in open(a.ours):
        r = json.loads(line)
        ours[os.path.basename(r["file"])] = {
            "parsed": r.get("parsedResult"), "ms": r.get("processingTimeMs", 0),
            "decision": r.get("decision") if r.get("success") else "failed",
            "reasons": r.get("reviewReasons", [])}
    table = {
        "raw": side(manifest, raw, lambda d, r: original_decision(d["type"], r["parsed"])),
        "ours": side(manifest, ours, lambda d, r: r["decision"] or "none"),
        "wallSeconds": {"raw": a.raw_wall, "ours": a.ours_wall, "total": a.total_wall},
        "jobs": a.jobs, "documents": len(manifest),
    }
    counts = {b: sum(1 for d in manifest if b in (d["band"], "all")) for b in BANDS}
    table["documentsPerBand"] = counts
    with open(a.out, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)

    print("%-26s" % "exact match, raw | ours" + "".join(
        "%16s" % ("%s (%d)" % (b, counts[b])) for b in BANDS))

    def cell(side_, b, k):
        ok, n = table[side_][b]["checks"].get(k, [0, 0])
        return "   -  " if not n else "%5.1f%%" % (100.0 * ok / n)
    for k in ROWS:
        print("%-26s" % k + "".join("%16s" % (cell("raw", b, k) + " " + cell("ours", b, k))
                                    for b in BANDS))
    decisions = sorted({d for s in ("raw", "ours") for b in BANDS
                        for d in table[s][b]["decisions"]})
    for d in decisions:
        print("%-26s" % ("decision " + d) + "".join(
            "%16s" % ("%6d %6d" % (table["raw"][b]["decisions"].get(d, 0),
                                   table["ours"][b]["decisions"].get(d, 0))) for b in BANDS))
    print("%-26s" % "auto_approve, wrong value" + "".join(
        "%16s" % ("%6d %6d" % (table["raw"][b]["wrongApprovals"],
                               table["ours"][b]["wrongApprovals"])) for b in BANDS))
    print("%-26s" % "median ms per document" + "".join(
        "%16s" % ("%6s %6s" % (table["raw"][b]["medianMs"], table["ours"][b]["medianMs"]))
        for b in BANDS))
    print("\nwall: raw calls %d s, filot-ocr %d s, whole run %d s (%d at a time); "
          "table in %s" % (a.raw_wall, a.ours_wall, a.total_wall, a.jobs, a.out))


if __name__ == "__main__":
    main()
