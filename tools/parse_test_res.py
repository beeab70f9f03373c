"""Average the test results of several runs (e.g. the 10/20 random splits of VIPeR, GRID, CUHK01, iLIDS, PRID).

Usage::

    python tools/parse_test_res.py log/viper_osnet          # holds split0/, split1/, ... one run each

For every sub-folder of DIR, the last record of its ``results.jsonl`` (the JSON line every evaluation appends)
is taken when the folder has one; otherwise the newest ``test.log*`` is read (falling back to ``train.log*``), and
the *last* ``mAP: x%``, ``Rank-1  : x%``, ``Rank-5  : x%``, ``Rank-10 : x%`` and ``Rank-20 : x%`` lines in it are
taken (the final evaluation). The mean over the folders is printed with one decimal. Folders without results
are errors naming them.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import re
import sys

METRICS = {
    "mAP": re.compile(r"mAP: ([\d.eE+-]+)%"),
    "Rank-1": re.compile(r"Rank-1  : ([\d.eE+-]+)%"),
    "Rank-5": re.compile(r"Rank-5  : ([\d.eE+-]+)%"),
    "Rank-10": re.compile(r"Rank-10 : ([\d.eE+-]+)%"),
    "Rank-20": re.compile(r"Rank-20 : ([\d.eE+-]+)%"),
}


RESULTS_FILE = "results.jsonl"


def find_log(folder: str) -> str | None:
    """``folder/results.jsonl`` when present, else the newest ``test.log*``, else the newest ``train.log*``,
    else None."""
    if osp.isfile(osp.join(folder, RESULTS_FILE)):
        return osp.join(folder, RESULTS_FILE)
    for pattern in ("test.log*", "train.log*"):
        logs = [p for p in glob.glob(osp.join(folder, pattern)) if osp.isfile(p)]
        if logs:
            return max(logs, key=lambda p: (osp.getmtime(p), p))
    return None


def parse_results_jsonl(path: str) -> dict[str, float]:
    """The metrics (in percent) of the last complete record of a ``results.jsonl`` file."""
    last = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a blank or torn line
            if isinstance(rec, dict) and "mAP" in rec:
                last = rec
    if last is None:
        return {}
    results = {"mAP": 100.0 * float(last["mAP"])}
    cmc = last.get("cmc") or []
    for key in METRICS:
        if key.startswith("Rank-") and int(key[5:]) <= len(cmc):
            results[key] = 100.0 * float(cmc[int(key[5:]) - 1])
    return results


def parse_file(path: str) -> dict[str, float]:
    """The last value of each metric found in the log (or ``results.jsonl``) at ``path``."""
    if osp.basename(path) == RESULTS_FILE:
        return parse_results_jsonl(path)
    results: dict[str, float] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            for key, regex in METRICS.items():
                m = regex.search(line)
                if m:
                    results[key] = float(m.group(1))
    return results


def parse_dir(directory: str, verbose: bool = True) -> dict[str, float]:
    """Mean of each metric over the sub-folders of ``directory``."""
    if not osp.isdir(directory):
        raise FileNotFoundError(f"{directory} is not a folder")
    folders = sorted(
        d for d in os.listdir(directory) if not d.startswith(".") and osp.isdir(osp.join(directory, d))
    )
    if not folders:
        raise FileNotFoundError(
            f"{directory} has no sub-folders (expected one folder per run, e.g. split0/ split1/)"
        )
    per_run: list[dict[str, float]] = []
    no_log, no_result = [], []
    for name in folders:
        log = find_log(osp.join(directory, name))
        if log is None:
            no_log.append(name)
            continue
        if verbose:
            print(f"Parsing {log}")
        res = parse_file(log)
        if not res:
            no_result.append(log)
            continue
        per_run.append(res)
    if no_log:
        raise FileNotFoundError(
            f"no test.log* or train.log* found in {', '.join(no_log)} (under {directory}; nor a results.jsonl)"
        )
    if no_result:
        raise ValueError(f"no 'mAP: x%' / 'Rank-k: x%' results found in {', '.join(no_result)}")
    means = {}
    for key in METRICS:
        values = [r[key] for r in per_run if key in r]
        if values:
            if len(values) != len(per_run) and verbose:
                print(f"note: {key} found in {len(values)} of {len(per_run)} runs", file=sys.stderr)
            means[key] = sum(values) / len(values)
    return means


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="folder whose sub-folders each hold one run's test.log*/train.log*")
    args = parser.parse_args(argv)
    try:
        means = parse_dir(args.directory)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("Finished parsing")
    print("The average results:")
    for key, value in means.items():
        print(f"{key}: {value:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
