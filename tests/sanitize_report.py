#!/usr/bin/env python3
"""Decisions of tests/sanitize_check.sh, from meson's JSON test logs.

  sanitize_report.py rerun FIRST.json
      prints the failed tests whose only failure is LeakSanitizer's tracer
      crashing at exit; prints nothing when any other failure is there.
  sanitize_report.py check FIRST.json [AGAIN.json]
      exit 1 (naming them) when a test's output holds a sanitizer report,
      except a first-run tracer crash whose rerun passed.
"""
import json
import re
import sys

REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)")


def tests(path):
    out = []
    for line in open(path):
        t = json.loads(line)
        t["out"] = (t.get("stdout") or "") + (t.get("stderr") or "")
        out.append(t)
    return out


def failed(t):
    return t.get("result") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS")


def rerunnable(t):
    """The leak check did not run ("LeakSanitizer has encountered a fatal
    error", nothing else reported): nothing was found, nothing was cleared."""
    return "LeakSanitizer has encountered a fatal error" in t["out"] and "ERROR: " not in t["out"]


def main():
    mode, first = sys.argv[1], tests(sys.argv[2])
    if mode == "rerun":
        bad = [t for t in first if failed(t)]
        # meson test takes the name without the project ("clresnet / fault" -> fault)
        print("" if any(not rerunnable(t) for t in bad) else " ".join(t["name"].split(" / ")[-1] for t in bad))
        return 0
    again = tests(sys.argv[3]) if len(sys.argv) > 3 else []
    cleared = {t["name"] for t in again if not failed(t) and not REPORT.search(t["out"])}
    dirty = [t["name"] for t in first if REPORT.search(t["out"]) and not (t["name"] in cleared and rerunnable(t))]
    dirty += [t["name"] + " (rerun)" for t in again if REPORT.search(t["out"])]
    for t in first:
        if t["name"] in cleared:
            print("sanitize_report: %s passed its rerun (first run: LeakSanitizer's tracer crashed)" % t["name"])
    if dirty:
        print("sanitize_report: reports in " + ", ".join(dirty))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
