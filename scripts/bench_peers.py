"""Runs pipeaudit, Prowler and Cloud Custodian one after another against
the same seeded moto_server and prints what each cost and found. Called by
scripts/bench-peers.sh, which installs the tools, starts moto and seeds it;
not meant to be run alone.

  bench_peers.py MOTO_URL MOTO_PID SEED_OUTPUT WORKDIR

Every run goes through its own examples/latency_proxy.rs (no delay), which
counts the requests. Per tool: wall and CPU seconds and peak RSS of the
process and its children (wait4), the CPU seconds moto spent meanwhile (from
/proc/MOTO_PID/stat), the requests and how many were answered with an error
status, and which seeded defects it reported.

What counts as finding a defect: the tool reports a failed check on a
resource of the defective stack, and that check does not fail on the same
kind of resource of any compliant stack (the seed's every third stack). The
checks are mapped to stacks by resource name (every seeded name starts with
ref-NNN-) and, for keys, by their alias (alias/ref-NNN-artifacts).
"""

import collections
import glob
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_calls  # noqa: E402

STACK = re.compile(r"ref-(\d{3})-([A-Za-z0-9.-]+)")


def binary(path):
    """A binary to run from another directory: paths made absolute, bare names kept for PATH."""
    return os.path.abspath(path) if os.sep in path else path


def tool_runs(bench_dir, repo):
    """The runs, in order: (label, kind, command)."""
    prowler = os.path.join(bench_dir, f"prowler-{os.environ['PROWLER_VERSION']}", "bin", "prowler")
    custodian = os.path.join(bench_dir, f"c7n-{os.environ['C7N_VERSION']}", "bin", "custodian")
    policies = os.path.join(repo, "scripts", "custodian-policies.yml")
    runs = []
    old = os.environ.get("PIPEAUDIT_OLD_BIN")
    if old:
        runs.append(("pipeaudit (PIPEAUDIT_OLD_BIN)", "pipeaudit", [binary(old)]))
    runs.append(("pipeaudit", "pipeaudit", [binary(os.environ["PIPEAUDIT_BIN"])]))
    prowler_args = [
        prowler, "aws", "--region", "us-east-1", "--service", "codebuild", "s3", "kms",
        "--output-formats", "json-ocsf", "--no-banner", "--no-color", "--ignore-exit-code-3",
    ]
    runs.append((f"Prowler {os.environ['PROWLER_VERSION']} (codebuild, s3, kms)", "prowler", prowler_args))
    runs.append(("Prowler, retries off", "prowler", prowler_args + ["--aws-retries-max-attempts", "0"]))
    custodian_args = [custodian, "run", "--region", "us-east-1", policies]
    n = sum(1 for line in open(policies) if line.startswith("  - name:"))
    runs.append((f"Custodian {os.environ['C7N_VERSION']} ({n} policies)", "custodian", custodian_args))
    runs.append(("Custodian, no cache", "custodian-nocache", custodian_args + ["--cache-period", "0"]))
    only = os.environ.get("BENCH_TOOLS")
    if only:
        keep = only.split(",")
        runs = [r for r in runs if r[1].split("-")[0] in keep]
    return runs


def start_proxy(repo, upstream, log, workdir):
    url_file = os.path.join(workdir, "proxy.url")
    with open(url_file, "w") as out:
        proc = subprocess.Popen(
            [os.path.join(repo, "target", "debug", "examples", "latency_proxy"),
             "--upstream", upstream, "--log", log],
            stdout=out)
    for _ in range(200):
        with open(url_file) as f:
            url = f.readline().strip()
        if url:
            return proc, url
        time.sleep(0.05)
    proc.kill()
    sys.exit("bench-peers: the proxy did not start")


def run_tool(kind, cmd, endpoint, rundir):
    """Runs one tool; (exit status, wall s, cpu s, peak RSS MB)."""
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        env.pop(k, None)
    cmd = list(cmd)
    if kind == "pipeaudit":
        cmd += ["--region", "us-east-1", "--endpoint-url", endpoint, "--format", "json",
                "-o", os.path.join(rundir, "report.json"),
                "--save-snapshot", os.path.join(rundir, "snapshot.json"), "--exit-zero", "-q"]
    elif kind == "prowler":
        cmd += ["--output-directory", rundir]
    else:
        cmd[2:2] = ["-s", os.path.join(rundir, "out"), "--cache", os.path.join(rundir, "cache.db")]
    with open(os.path.join(rundir, "log.txt"), "w") as log:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=rundir)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, wall, cpu, usage.ru_maxrss / 1024


def key_aliases(moto_url):
    """Key id -> stack number, from moto's aliases (boto3 of the Custodian venv)."""
    import boto3

    kms = boto3.client("kms", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    out = {}
    for page in kms.get_paginator("list_aliases").paginate():
        for a in page.get("Aliases", []):
            m = re.match(r"alias/ref-(\d{3})-artifacts$", a.get("AliasName", ""))
            if m and a.get("TargetKeyId"):
                out[a["TargetKeyId"]] = int(m.group(1))
    return out


def locate(ident, keys):
    """(stack number, kind of resource) of a resource name, ARN or key id."""
    m = STACK.search(ident)
    if m:
        return int(m.group(1)), m.group(2)
    for key_id, stack in keys.items():
        if key_id in ident:
            return stack, "key"
    return None


def failures(kind, rundir, keys):
    """[(check, stack, resource kind)] of the failed checks a tool reported."""
    out = []
    if kind == "pipeaudit":
        report = json.load(open(os.path.join(rundir, "report.json")))
        for f in report.get("findings", []):
            m = STACK.search(f.get("pipeline") or "")
            if m:
                out.append((f["rule_id"], int(m.group(1)), "pipeline"))
    elif kind == "prowler":
        for path in glob.glob(os.path.join(rundir, "*.ocsf.json")):
            for f in json.load(open(path)):
                if f.get("status_code") != "FAIL":
                    continue
                check = f.get("metadata", {}).get("event_code", "?")
                for r in f.get("resources", []):
                    where = locate(r.get("uid") or r.get("name") or "", keys)
                    if where:
                        out.append((check, *where))
    else:
        for path in glob.glob(os.path.join(rundir, "out", "*", "resources.json")):
            policy = os.path.basename(os.path.dirname(path))
            for r in json.load(open(path)):
                ident = next((str(r[k]) for k in ("Name", "name", "PolicyName", "RoleName", "KeyArn", "Arn", "arn", "KeyId") if r.get(k)), "")
                where = locate(ident, keys)
                if where:
                    out.append((policy, *where))
    return out


def found_defects(fails, defects):
    """defect -> sorted checks that fail on its stack and on no compliant stack of the same kind."""
    compliant = {s for s, d in defects.items() if d == "compliant"}
    baseline = {(c, k) for c, s, k in fails if s in compliant}
    found = collections.defaultdict(set)
    for c, s, k in fails:
        d = defects.get(s)
        if d and d != "compliant" and (c, k) not in baseline:
            found[d].add(c)
    return {d: sorted(c) for d, c in found.items()}


def main():
    moto_url, moto_pid, seed_out, workdir = sys.argv[1:5]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bench_dir = os.environ["BENCH_DIR"]
    defects = {}
    for line in open(seed_out):
        m = re.match(r"ref-(\d{3})-pipeline (\S+)", line)
        if m:
            defects[int(m.group(1))] = m.group(2)
    stacks = len(defects)
    seeded = sorted({d for d in defects.values() if d != "compliant"})
    keys = key_aliases(moto_url)
    print(f"{stacks} stacks, {len(seeded)} kinds of seeded defect; load before: {os.getloadavg()[0]:.2f}")
    rows = []
    for i, (label, kind, cmd) in enumerate(tool_runs(bench_dir, repo)):
        rundir = os.path.join(workdir, f"run{i}-{kind}")
        os.makedirs(rundir)
        log = os.path.join(rundir, "calls.tsv")
        proxy, endpoint = start_proxy(repo, moto_url, log, workdir)
        cpu0 = bench_calls.proc_cpu(moto_pid)
        try:
            rc, wall, cpu, rss = run_tool(kind, cmd, endpoint, rundir)
        except OSError as e:
            rc, wall, cpu, rss = f"could not start: {e}", 0.0, 0.0, 0.0
        finally:
            moto_cpu = bench_calls.proc_cpu(moto_pid) - cpu0
            proxy.terminate()
            proxy.wait()
        calls = bench_calls.read_log(log)
        errors = sum(1 for r in calls if r[2] >= 400)
        row = {"label": label, "kind": kind, "rc": rc, "wall": wall, "cpu": cpu, "rss": rss,
               "moto_cpu": moto_cpu, "calls": len(calls), "errors": errors, "dir": rundir}
        if rc == 0:
            try:
                row["found"] = found_defects(failures(kind.split("-")[0], rundir, keys), defects)
            except (OSError, ValueError, KeyError) as e:
                row["rc"] = f"output unreadable: {e}"
        if kind == "pipeaudit" and rc == 0:
            snap = json.load(open(os.path.join(rundir, "snapshot.json")))
            row["own_count"] = sum(snap.get("api_calls", {}).values())
            row["fingerprints"] = {f["fingerprint"] for f in json.load(open(os.path.join(rundir, "report.json")))["findings"]}
        rows.append(row)
        print(f"  ran {label}: {wall:.1f} s", file=sys.stderr)

    print(f"load after: {os.getloadavg()[0]:.2f}")
    print()
    head = f"{'tool':<36} {'wall_s':>7} {'cpu_s':>7} {'rss_MB':>7} {'moto_cpu_s':>10} {'api_calls':>9} {'errors':>6} {'defects':>7}"
    print(head)
    for r in rows:
        if r["rc"] != 0:
            why = f"exit {r['rc']}" if isinstance(r["rc"], int) else r["rc"]
            print(f"{r['label']:<36} did not complete ({why}); the end of its output:")
            try:
                for line in open(os.path.join(r["dir"], "log.txt")).read().splitlines()[-5:]:
                    print(f"    {line}")
            except OSError:
                pass
            continue
        print(f"{r['label']:<36} {r['wall']:7.1f} {r['cpu']:7.1f} {r['rss']:7.0f} {r['moto_cpu']:10.1f} {r['calls']:9d} {r['errors']:6d} {len(r['found']):>3}/{len(seeded):<3}")
    for r in rows:
        if "own_count" in r and r["own_count"] != r["calls"]:
            print(f"note: {r['label']} counts {r['own_count']} calls in its snapshot, the proxy saw {r['calls']} (retries)")
    print("api_calls: requests the proxy forwarded, retries included; errors: those answered 4xx/5xx")
    print("(moto answers an operation it lacks with 500, and a resource or setting that does not exist with 404)")

    base = next((r for r in rows if r["label"] == "pipeaudit" and r["rc"] == 0), None)
    if base:
        print()
        print("wall time relative to pipeaudit (PIPEAUDIT_BIN), same run:")
        for r in rows:
            if r is not base and r["rc"] == 0:
                print(f"  {r['label']:<36} {r['wall'] / base['wall']:6.2f}x")
    olds = [r for r in rows if r["label"].endswith("(PIPEAUDIT_OLD_BIN)") and r["rc"] == 0]
    if olds and base:
        a, b = olds[0]["fingerprints"], base["fingerprints"]
        print(f"findings old vs new binary: {len(a & b)} in both, {len(a - b)} only old, {len(b - a)} only new")

    print()
    print("seeded defects found (checks that fail on the defective stack and on no compliant one):")
    ok = [r for r in rows if r["rc"] == 0]
    cells = {d: [",".join(r["found"].get(d, [])) or "-" for r in ok] for d in seeded}
    widths = [max([len(r["label"])] + [len(cells[d][i]) for d in seeded]) for i, r in enumerate(ok)]
    print(f"{'defect':<24} " + " ".join(f"{r['label']:<{w}}" for r, w in zip(ok, widths)))
    for d in seeded:
        print(f"{d:<24} " + " ".join(f"{c:<{w}}" for c, w in zip(cells[d], widths)))
    for r in ok:
        print(f"{r['label']}: {len(r['found'])} of {len(seeded)}")


if __name__ == "__main__":
    main()
