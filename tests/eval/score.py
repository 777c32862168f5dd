#!/usr/bin/env python3
"""score.py - per-field exact-match rates of `make eval` (tests/eval/run.sh).

usage: score.py CARDDIR RAW.jsonl OURS.jsonl [NOPRE.jsonl]
RAW lines: {"file", "parsed", "ms"} from the original's CLI call + compat
parser; OURS / NOPRE lines: harness ocr output (with / without CPU
preprocessing).  Prints the side-by-side table and the timing summary.
"""
import json
import os
import statistics
import sys

KTP8 = ["nik", "name", "birthPlace", "birthDate", "address", "gender", "religion",
        "maritalStatus"]
KTP_NEW = ["rtRw", "village", "district", "occupation", "nationality", "validUntil",
           "province", "city", "bloodType"]


def load(path):
    out = {}
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            out[os.path.basename(d["file"])] = d
    return out


def main():
    cards, raw, ours = sys.argv[1], load(sys.argv[2]), load(sys.argv[3])
    nopre = load(sys.argv[4]) if len(sys.argv) > 4 else {}
    truth = {}
    for line in open(os.path.join(cards, "manifest.tsv")):
        name, typ = line.rstrip("\n").split("\t")
        truth[name] = json.load(open(os.path.join(cards, name.rsplit(".", 1)[0] + ".json")))
    rows = []
    ktp = [n for n in truth if truth[n]["documentType"] == "KTP"]
    npwp = [n for n in truth if truth[n]["documentType"] == "NPWP"]

    def rate(names, key, res):
        names = [n for n in names if key in truth[n]]
        if not names:
            return None, 0
        ok = sum(1 for n in names if res.get(n, {}).get("parsed", {}).get(key) == truth[n][key])
        return 100.0 * ok / len(names), len(names)

    def all8(names, res):
        ok = sum(1 for n in names
                 if all(res.get(n, {}).get("parsed", {}).get(k) == truth[n][k] for k in KTP8))
        return 100.0 * ok / len(names) if names else None, len(names)

    for k in KTP8 + KTP_NEW:
        rows.append(("KTP " + k, rate(ktp, k, raw), rate(ktp, k, ours)))
    rows.append(("KTP all 8 original fields", all8(ktp, raw), all8(ktp, ours)))
    for form, pick in (("15-digit", lambda n: "." in truth[n]["npwpNumber"]),
                       ("16-digit", lambda n: "." not in truth[n]["npwpNumber"])):
        names = [n for n in npwp if pick(n)]
        rows.append(("NPWP npwpNumber " + form, rate(names, "npwpNumber", raw),
                     rate(names, "npwpNumber", ours)))
    rows.append(("NPWP npwpNumber (both)", rate(npwp, "npwpNumber", raw),
                 rate(npwp, "npwpNumber", ours)))
    rows.append(("NPWP name", rate(npwp, "name", raw), rate(npwp, "name", ours)))

    def fmt(v):
        return "   n/a" if v[0] is None else "%5.1f%%" % v[0]
    print("%-30s %5s %12s %12s" % ("field (exact match)", "cards", "raw call", "filot-ocrd"))
    for name, a, b in rows:
        print("%-30s %5d %12s %12s" % (name, b[1], fmt(a), fmt(b)))
    print()
    med = statistics.median
    rt = [raw[n]["ms"] for n in raw]
    print("per card, median: raw CLI call %.0f ms (process start + model load + recognise)"
          % med(rt))
    if not any(ours[n]["preUs"] for n in ours):
        # --cli: filot-ocr reports whole documents, not the pipeline's steps
        total = [ours[n]["ocrUs"] / 1000 for n in ours]
        print("filot-ocr (private instance, 2 workers): %.0f ms per document, median; "
              "step timings come from the harness run (without --cli)" % med(total))
        return
    pre = [ours[n]["preUs"] / 1000 for n in ours]
    ocr = [ours[n]["ocrUs"] / 1000 for n in ours]
    ext = [ours[n]["extractUs"] / 1000 for n in ours]
    print("filot-ocrd (engine reused): CPU preprocessing %.1f ms, recognition %.0f ms, "
          "extraction incl. re-reads %.1f ms" % (med(pre), med(ocr), med(ext)))
    if nopre:
        ocr0 = [nopre[n]["ocrUs"] / 1000 for n in nopre]
        print("without preprocessing: recognition %.0f ms" % med(ocr0))
        print("preprocessing overhead: %.1f%% of the per-card OCR time without it "
              "(%.1f ms / %.0f ms); with it the per-card total is %.0f ms vs %.0f ms"
              % (100 * med(pre) / med(ocr0), med(pre), med(ocr0),
                 med([p + o for p, o in zip(pre, ocr)]), med(ocr0)))
    print("preprocessing share of the per-card OCR time: %.1f%%"
          % (100 * sum(pre) / sum(p + o for p, o in zip(pre, ocr))))


if __name__ == "__main__":
    main()
