#!/usr/bin/env python3
"""The benchmark suite: portkey's images against the same functions on AWS's lambda_http, and
against the same generated shim under rustc's fat LTO, all built and measured in one run.

For each function of fixtures/suite (flatter, a JSON echo, a regex search, a Markdown renderer):

- portkey:     `portkey shake`, default (`--size min`) and `--size full`, for x86_64 and arm64;
- lambda_http: fixtures/suite-lambda, the handler a lambda_http user writes, built the way
               cargo-lambda builds releases (strip, thin LTO, one codegen unit, panic=abort);
- fat LTO:     the shim portkey generated, built by cargo alone with fat LTO, opt-level=z, one
               codegen unit, panic=abort and strip.

Every x86_64 executable is zipped the same way (deflate level 9, one `bootstrap` entry) and
served by one local backend started with `--prewarm off`, so that the first request of a mount
starts its process. Measured:

- zip and binary bytes;
- cold start: from process start to its first response posted to the backend's Runtime API, as
  the backend reports it (`GET /_portkey/instances`), median of `--cold` samples. Each sample
  removes the mount, adds it back and sends one request;
- peak RSS: the instance's VmHWM after the warm requests;
- warm latency: `--warm` sequential requests through the gateway on one kept-alive connection,
  p50 and p99 (the gateway's own cost is in every variant's figure);
- relink: after a touch of the binary's main source, the wall time of the rebuild, median of
  `--relinks` runs (portkey's link cache is cleared first, so the shaker runs in full);
- cold build of flatter in an empty target folder, dependencies included.

Usage: benches/suite.sh [--cold N] [--warm N] [--relinks N] [--functions a,b] [--no-arm64]
                        [--no-cold-build] [--readme]
Writes benches/results/suite.md and suite.json; --readme also replaces the table in README.md.
"""

import argparse
import base64
import glob
import hashlib
import http.client
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTKEY = os.path.join(ROOT, "target", "release", "portkey")
X86 = "x86_64-unknown-linux-musl"
ARM = "aarch64-unknown-linux-musl"
RESULTS = os.path.join(ROOT, "benches", "results")

ORDER = {
    "id": 4711,
    "customer": "Ada Lovelace",
    "lines": [
        {"sku": "ENGINE-1", "quantity": 1, "price": 1843.5},
        {"sku": "CARD-100", "quantity": 100, "price": 0.25},
        {"sku": "NOTE-G", "quantity": 3, "price": 12.0},
    ],
    "note": "deliver to the analytical engine room",
}
TEXT = "Released 2024-03-14, patched 2024-04-02; the next review is on 2025-01-31, not 2025-13-99."
MARKDOWN = (
    "# Notes\n\nSome *emphasis*, some **strong** text and `code`.\n\n"
    "- one\n- two with a [link](https://example.com)\n\n> a quote\n\n```\nfn main() {}\n```\n"
)

# For each function: the method, the template after the variant's prefix, the request's path
# after that prefix, and the request body.
FUNCTIONS = {
    "flatter": ("GET", "/flatter?name={name}", "/flatter?name=Ada", None),
    "echo": ("POST", "/echo", "/echo", json.dumps(ORDER).encode()),
    "dates": ("GET", "/dates?text={text}", "/dates?" + urllib.parse.urlencode({"text": TEXT}), None),
    "render": ("POST", "/render", "/render", json.dumps({"text": MARKDOWN}).encode()),
}

# The shaker's phases after the cache lookup: its whole link step.
PHASES = ("gather", "graph", "strip", "optimise", "codegen", "link", "layout")

VARIANTS = ["portkey", "portkey-full", "lambda_http", "fat-lto"]
PREFIX = {"portkey": "pk", "portkey-full": "pkfull", "lambda_http": "lh", "fat-lto": "fat"}


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(args, env=None, cwd=None, capture=True):
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=capture, text=True)
    if result.returncode != 0:
        log(f"$ {' '.join(args)}\n{result.stderr if capture else ''}")
        raise SystemExit(f"error: `{args[0]}` failed with exit code {result.returncode}")
    return result.stdout if capture else ""


def timed(args, env=None, cwd=None):
    started = time.perf_counter()
    out = run(args, env=env, cwd=cwd)
    return time.perf_counter() - started, out


def zip_bootstrap(executable, zip_path):
    """Zips `executable` as `bootstrap` (mode 0755, fixed date, deflate level 9)."""
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 << 16)
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(executable, "rb") as source, zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(info, source.read(), compresslevel=9)
    with open(zip_path, "rb") as packed:
        digest = base64.b64encode(hashlib.sha256(packed.read()).digest()).decode()
    return os.path.getsize(zip_path), digest


def cargo_env(target_dir, **profile):
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir)
    for key in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"):
        env.pop(key, None)
    for key, value in profile.items():
        env[f"CARGO_PROFILE_RELEASE_{key.upper()}"] = str(value)
    return env


def fat_env(target_dir):
    return cargo_env(target_dir, lto="fat", opt_level="z", codegen_units=1, panic="abort",
                     strip="true", debug="false", incremental="false")


def lambda_env(target_dir):
    # cargo-lambda's release settings.
    return cargo_env(target_dir, lto="thin", codegen_units=1, panic="abort", strip="true",
                     debug="false", incremental="false")


def shim_bin_name(shim_manifest):
    with open(shim_manifest) as manifest:
        names = [line.split('"')[1] for line in manifest if line.startswith("name = ")]
    return names[-1]


class Work:
    def __init__(self, root):
        self.root = root
        self.suite = os.path.join(root, "suite")
        self.lambda_dir = os.path.join(root, "suite-lambda")
        for name in ("suite", "suite-lambda"):
            shutil.copytree(os.path.join(ROOT, "fixtures", name), os.path.join(root, name),
                            ignore=shutil.ignore_patterns("target", "portkey.json*"),
                            dirs_exist_ok=True)
        self.manifest = os.path.join(self.suite, "Cargo.toml")
        self.fat_target = os.path.join(root, "fat-target")
        self.lambda_target = os.path.join(root, "lambda-target")
        self.zips = os.path.join(root, "zips")
        os.makedirs(self.zips, exist_ok=True)

    def portkey_shake(self, function, *extra):
        out = run([PORTKEY, "shake", "--fn", f"suite::{function}", "--json",
                   "--manifest-path", self.manifest, *extra])
        return json.loads(out)

    def link_cache(self):
        return os.path.join(self.suite, "target", "portkey", "build", "portkey-ld-cache")


def build_all(work, functions, arm64, relinks):
    """Builds every variant of every function; returns the per-function build facts."""
    facts = {}
    for function in functions:
        log(f"building {function}")
        entry = {}
        shaken = work.portkey_shake(function)
        entry["shim"] = shaken["shim"]
        entry["portkey"] = image_facts(work, function, "portkey", shaken["bootstrap"])
        entry["portkey"]["kept_functions"] = shaken["report"]["functions"]["kept"]
        entry["portkey-full"] = image_facts(work, function, "portkey-full",
                                            work.portkey_shake(function, "--size", "full")["bootstrap"])
        if arm64:
            for variant, extra in (("portkey-arm64", []), ("portkey-full-arm64", ["--size", "full"])):
                report = work.portkey_shake(function, "--arch", "arm64", *extra)
                entry[variant] = image_facts(work, function, variant, report["bootstrap"])

        run(["cargo", "build", "--release", "--target", X86, "--manifest-path", shaken["shim"]],
            env=fat_env(work.fat_target))
        fat_bin = os.path.join(work.fat_target, X86, "release", shim_bin_name(shaken["shim"]))
        entry["fat-lto"] = image_facts(work, function, "fat-lto", fat_bin)

        lambda_manifest = os.path.join(work.lambda_dir, "Cargo.toml")
        run(["cargo", "build", "--release", "--locked", "--target", X86, "--bin", function,
             "--manifest-path", lambda_manifest], env=lambda_env(work.lambda_target))
        lambda_bin = os.path.join(work.lambda_target, X86, "release", function)
        entry["lambda_http"] = image_facts(work, function, "lambda_http", lambda_bin)
        if arm64:
            entry["lambda_http-arm64"] = lambda_arm64(work, function)

        entry["relink_s"] = relink_times(work, function, shaken["shim"], relinks)
        facts[function] = entry
    return facts


def lambda_arm64(work, function):
    """Builds the lambda_http program for arm64, linked with the toolchain's rust-lld (sizes only)."""
    sysroot = run(["rustc", "--print", "sysroot"]).strip()
    found = sorted(glob.glob(os.path.join(sysroot, "lib", "rustlib", "*", "bin", "rust-lld")))
    if not found:
        raise SystemExit(f"error: no rust-lld under {sysroot}/lib/rustlib; rerun with --no-arm64")
    lld = found[0]
    env = lambda_env(work.lambda_target)
    env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER"] = lld
    run(["cargo", "build", "--release", "--locked", "--target", ARM, "--bin", function,
         "--manifest-path", os.path.join(work.lambda_dir, "Cargo.toml")], env=env)
    return image_facts(work, function, "lambda_http-arm64",
                       os.path.join(work.lambda_target, ARM, "release", function))


def image_facts(work, function, variant, executable):
    kept = os.path.join(work.zips, f"{variant}-{function}")
    os.makedirs(kept, exist_ok=True)
    bootstrap = os.path.join(kept, "bootstrap")
    shutil.copy2(executable, bootstrap)
    zip_path = os.path.join(kept, "function.zip")
    zip_bytes, digest = zip_bootstrap(bootstrap, zip_path)
    return {"binary_bytes": os.path.getsize(bootstrap), "zip_bytes": zip_bytes,
            "bootstrap": bootstrap, "zip": zip_path, "code_sha256": digest}


def touch(path):
    now = time.time()
    os.utime(path, (now, now))


def relink_times(work, function, shim_manifest, runs):
    """Times each rebuild after a touch of the binary's main source (wall time)."""
    shim_main = os.path.join(os.path.dirname(shim_manifest), "src", "main.rs")
    lambda_main = os.path.join(work.lambda_dir, "src", "bin", f"{function}.rs")
    lambda_manifest = os.path.join(work.lambda_dir, "Cargo.toml")
    times = {"portkey": [], "portkey-ld": [], "fat-lto": [], "lambda_http": [], "portkey-ld-phases": []}
    for _ in range(runs):
        touch(shim_main)
        shutil.rmtree(work.link_cache(), ignore_errors=True)
        seconds, out = timed([PORTKEY, "shake", "--fn", f"suite::{function}", "--json",
                              "--manifest-path", work.manifest])
        times["portkey"].append(seconds)
        timings = json.loads(out)["report"]["timings_ms"]
        times["portkey-ld"].append(sum(timings.get(phase, 0) for phase in PHASES) / 1000)
        times["portkey-ld-phases"].append({phase: timings.get(phase, 0) for phase in PHASES})
        touch(shim_main)
        seconds, _ = timed(["cargo", "build", "--release", "--target", X86, "--manifest-path",
                            shim_manifest], env=fat_env(work.fat_target))
        times["fat-lto"].append(seconds)
        touch(lambda_main)
        seconds, _ = timed(["cargo", "build", "--release", "--locked", "--target", X86, "--bin",
                            function, "--manifest-path", lambda_manifest],
                           env=lambda_env(work.lambda_target))
        times["lambda_http"].append(seconds)
    return times


def cold_builds(root):
    """Builds flatter in empty target folders, dependencies included, once per variant."""
    log("cold builds of flatter")
    shutil.rmtree(os.path.join(root, "cold"), ignore_errors=True)
    work = Work(os.path.join(root, "cold"))
    seconds = {}
    seconds["portkey"], out = timed([PORTKEY, "shake", "--fn", "suite::flatter", "--json",
                                     "--manifest-path", work.manifest])
    shim = json.loads(out)["shim"]
    seconds["fat-lto"], _ = timed(["cargo", "build", "--release", "--target", X86,
                                   "--manifest-path", shim], env=fat_env(work.fat_target))
    seconds["lambda_http"], _ = timed(
        ["cargo", "build", "--release", "--locked", "--target", X86, "--bin", "flatter",
         "--manifest-path", os.path.join(work.lambda_dir, "Cargo.toml")],
        env=lambda_env(work.lambda_target))
    shutil.rmtree(work.root, ignore_errors=True)
    return seconds


class Backend:
    """A local backend started with `--prewarm off` on 127.0.0.1."""

    def __init__(self, project):
        self.project = project
        self.state = os.path.join(project, "bench-state")
        self.log = open(os.path.join(project, "backend.log"), "w")
        self.write_mounts([])
        info = os.path.join(self.state, "server.json")
        # A server.json left by an earlier run that was killed would name a dead server.
        if os.path.exists(info):
            os.remove(info)
        self.process = subprocess.Popen(
            [PORTKEY, "serve", "--project", project, "--state-dir", self.state, "--port", "0",
             "--prewarm", "off"], stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while not os.path.exists(info):
            if time.time() > deadline or self.process.poll() is not None:
                self.process.kill()
                self.process.wait()
                raise SystemExit(f"error: the backend did not start within 30 s; see {self.log.name}")
            time.sleep(0.05)
        time.sleep(0.1)
        with open(info) as file:
            self.port = json.load(file)["port"]

    def write_mounts(self, mounts):
        with open(os.path.join(self.project, "portkey.json"), "w") as file:
            json.dump({"version": 1, "mounts": mounts}, file, indent=2)

    def control(self, method, path):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        if not 200 <= response.status < 300:
            raise SystemExit(f"error: {method} {path} gave {response.status}: {body[:300]!r}")
        return json.loads(body) if body else None

    def reload(self, mounts):
        self.write_mounts(mounts)
        report = self.control("POST", "/_portkey/reload")
        if report.get("skipped"):
            raise SystemExit(f"error: the backend skipped a mount: {report['skipped']}")

    def instances(self):
        return self.control("GET", "/_portkey/instances")["instances"]

    def stop(self):
        try:
            self.control("POST", "/_portkey/shutdown")
            self.process.wait(timeout=30)
        except BaseException:
            self.process.kill()
        self.log.close()


def mount_record(variant, function, facts):
    method, template, _, _ = FUNCTIONS[function]
    return {
        "function": f"{variant}::{function}".replace("-", "_"),
        "method": method,
        "template": f"/{PREFIX[variant]}{template}",
        "bootstrap": facts["bootstrap"],
        "zip": facts["zip"],
        "code_sha256": facts["code_sha256"],
        "timeout_secs": 30,
        "memory_mb": 128,
        "env": {},
        "updated_at": "2026-01-01T00:00:00Z",
    }


def send(connection, variant, function):
    method, _, path, body = FUNCTIONS[function]
    headers = {"content-type": "application/json"} if body else {}
    connection.request(method, f"/{PREFIX[variant]}{path}", body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def measure_runtime(backend, function, variant, facts, cold_samples, warm_requests):
    record = mount_record(variant, function, facts)
    cold_us, init_us, first_request_ms = [], [], []
    body_seen = None
    rss = None
    warm_ms = []
    for sample in range(cold_samples):
        backend.reload([])
        record["env"] = {"PORTKEY_BENCH_SAMPLE": str(sample)}
        backend.reload([record])
        connection = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=60)
        started = time.perf_counter()
        status, body = send(connection, variant, function)
        first_request_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"error: {variant} {function} answered {status}: {body[:300]!r}")
        body_seen = body
        # The previous sample's instance may still be listed while it exits; the newest is
        # the one that answered.
        instance = max((i for i in backend.instances() if i["function"] == record["function"]),
                       key=lambda i: i["id"])
        cold_us.append(instance["first_response_us"])
        init_us.append(instance["init_us"])
        if sample == cold_samples - 1:
            for _ in range(warm_requests):
                started = time.perf_counter()
                status, body = send(connection, variant, function)
                warm_ms.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise SystemExit(f"error: {variant} {function} answered {status} when warm")
            rss = peak_rss_kib(instance["pid"])
        connection.close()
    backend.reload([])
    warm_ms.sort()
    return {
        "cold_start_ms": statistics.median(cold_us) / 1000,
        "init_ms": statistics.median(init_us) / 1000,
        "first_request_ms": statistics.median(first_request_ms),
        "peak_rss_kib": rss,
        "warm_p50_ms": percentile(warm_ms, 50),
        "warm_p99_ms": percentile(warm_ms, 99),
        "body": body_seen.decode(errors="replace"),
    }


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    # The nearest-rank percentile: the smallest value with at least p % of values at or below it.
    index = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def same_answer(a, b):
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return a == b


def kib(n):
    return f"{n / 1024:,.1f} KiB"


def ratio(value, anchor):
    if value is None or not anchor:
        return ""
    return f"{value / anchor:.2f}x"


def render_markdown(results):
    lines = []
    command = results["command"]
    lines.append(f"Measured with `{command}` on {results['machine']}, {results['date']}.")
    lines.append(f"Cold start: median of {results['cold_samples']} process starts; warm: "
                 f"{results['warm_requests']} sequential requests; relink: median of "
                 f"{results['relinks']} runs.")
    lines.append("")
    lines.append("| function | build | zip | binary | cold start | peak RSS | warm p50 | warm p99 | relink |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for function, entry in results["functions"].items():
        anchor = entry["portkey"]
        for variant in VARIANTS:
            facts = entry[variant]
            run_facts = facts.get("runtime", {})
            cells = [
                function, variant,
                f"{kib(facts['zip_bytes'])} ({ratio(facts['zip_bytes'], anchor['zip_bytes'])})",
                f"{kib(facts['binary_bytes'])} ({ratio(facts['binary_bytes'], anchor['binary_bytes'])})",
            ]
            if run_facts:
                a = anchor["runtime"]
                cells += [
                    f"{run_facts['cold_start_ms']:.2f} ms ({ratio(run_facts['cold_start_ms'], a['cold_start_ms'])})",
                    f"{run_facts['peak_rss_kib']:,} KiB ({ratio(run_facts['peak_rss_kib'], a['peak_rss_kib'])})",
                    f"{run_facts['warm_p50_ms']:.2f} ms",
                    f"{run_facts['warm_p99_ms']:.2f} ms",
                ]
            else:
                cells += ["", "", "", ""]
            relink = entry["relink_s"].get(variant)
            cells.append(f"{statistics.median(relink):.1f} s" if relink else "")
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Ratios are to portkey's default image of the same function. The relink of portkey is "
                 "the whole `portkey shake` (lookup, shim, cargo, the shaker, zip); the shaker's own "
                 "phases took " + ", ".join(
                     f"{f} {statistics.median(e['relink_s']['portkey-ld']):.1f} s"
                     for f, e in results["functions"].items()) + " (medians).")
    if results["arm64"]:
        lines.append("")
        lines.append("arm64 (aarch64-unknown-linux-musl, linked with rust-lld; sizes only):")
        lines.append("")
        lines.append("| function | portkey zip | portkey full zip | lambda_http zip | portkey / lambda_http |")
        lines.append("|---|---:|---:|---:|---:|")
        for function, entry in results["functions"].items():
            pk, pkfull, lh = entry["portkey-arm64"], entry["portkey-full-arm64"], entry["lambda_http-arm64"]
            lines.append(f"| {function} | {kib(pk['zip_bytes'])} | {kib(pkfull['zip_bytes'])} | "
                         f"{kib(lh['zip_bytes'])} | {ratio(pk['zip_bytes'], lh['zip_bytes'])} |")
    if results.get("cold_build_s"):
        cold = results["cold_build_s"]
        lines.append("")
        lines.append("Cold build of flatter, empty target folder, dependencies included: " + ", ".join(
            f"{variant} {seconds:.0f} s ({ratio(seconds, cold['portkey'])})"
            for variant, seconds in cold.items()) + ".")
    lines.append("")
    lines.append("Goals for flatter:")
    lines.append("")
    for goal in results["goals"]:
        mark = "met" if goal["met"] else "missed"
        lines.append(f"- {goal['goal']}: {goal['value']} ({mark})")
    return "\n".join(lines) + "\n"


def goals(results):
    flatter = results["functions"].get("flatter")
    if not flatter:
        return []
    pk, lh = flatter["portkey"], flatter["lambda_http"]
    out = []

    def add(goal, value, met):
        out.append({"goal": goal, "value": value, "met": bool(met)})

    zip_ratio = pk["zip_bytes"] / lh["zip_bytes"]
    add("default zip at most 0.5x lambda_http", f"{zip_ratio:.2f}x", zip_ratio <= 0.5)
    add("default zip at most 128 KiB", kib(pk["zip_bytes"]), pk["zip_bytes"] <= 128 * 1024)
    add("min-size zip at most 48 KiB", kib(pk["zip_bytes"]), pk["zip_bytes"] <= 48 * 1024)
    if "runtime" in pk and "runtime" in lh:
        cold = pk["runtime"]["cold_start_ms"] / lh["runtime"]["cold_start_ms"]
        add("cold start at most 0.7x lambda_http", f"{cold:.2f}x", cold <= 0.7)
        rss = pk["runtime"]["peak_rss_kib"] / lh["runtime"]["peak_rss_kib"]
        add("peak RSS at most 0.5x lambda_http", f"{rss:.2f}x", rss <= 0.5)
    return out


def update_readme(table):
    path = os.path.join(ROOT, "README.md")
    with open(path) as file:
        text = file.read()
    begin, end = "<!-- suite:begin -->", "<!-- suite:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"error: README.md has no {begin} ... {end} markers to replace")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as file:
        file.write(f"{head}{begin}\n{table}{end}{tail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=21, help="cold starts per mount (default 21)")
    parser.add_argument("--warm", type=int, default=500, help="warm requests per mount (default 500)")
    parser.add_argument("--relinks", type=int, default=3, help="relinks per build (default 3)")
    parser.add_argument("--functions", default=",".join(FUNCTIONS),
                        help="comma-separated functions of fixtures/suite (default: all four)")
    parser.add_argument("--no-arm64", action="store_true", help="skip the arm64 builds")
    parser.add_argument("--no-cold-build", action="store_true", help="skip the cold builds")
    parser.add_argument("--readme", action="store_true", help="also replace the table in README.md")
    parser.add_argument("--work", help="keep the builds in this folder and reuse them next time "
                        "(by default a temporary folder, removed at the end)")
    args = parser.parse_args()
    functions = [f for f in args.functions.split(",") if f]
    unknown = [f for f in functions if f not in FUNCTIONS]
    if unknown:
        raise SystemExit(f"error: unknown function {unknown[0]!r}; choose from {', '.join(FUNCTIONS)}")

    root = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="portkey-suite-")
    os.makedirs(root, exist_ok=True)
    try:
        work = Work(os.path.join(root, "warm"))
        facts = build_all(work, functions, not args.no_arm64, args.relinks)
        backend = Backend(work.suite)
        try:
            for function in functions:
                for variant in VARIANTS:
                    log(f"running {variant} {function}")
                    facts[function][variant]["runtime"] = measure_runtime(
                        backend, function, variant, facts[function][variant], args.cold, args.warm)
        finally:
            backend.stop()
        for function in functions:
            bodies = {v: facts[function][v]["runtime"]["body"] for v in VARIANTS}
            reference = bodies["portkey"]
            for variant, body in bodies.items():
                if not same_answer(body, reference):
                    raise SystemExit(f"error: {variant} answered {function} differently:\n"
                                     f"  portkey: {reference[:200]}\n  {variant}: {body[:200]}")
        cold_build = {} if args.no_cold_build else cold_builds(root)
    finally:
        if not args.work:
            shutil.rmtree(root, ignore_errors=True)

    results = {
        "command": " ".join(["benches/suite.sh", *sys.argv[1:]]),
        "machine": f"{os.cpu_count()} cores, {os.uname().machine}",
        "date": time.strftime("%Y-%m-%d"),
        "cold_samples": args.cold,
        "warm_requests": args.warm,
        "relinks": args.relinks,
        "arm64": not args.no_arm64,
        "functions": facts,
        "cold_build_s": cold_build,
    }
    for entry in facts.values():
        for variant in entry.values():
            if isinstance(variant, dict):
                for key in ("bootstrap", "zip"):
                    variant.pop(key, None)
    results["goals"] = goals(results)
    table = render_markdown(results)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "suite.md"), "w") as file:
        file.write("# Benchmark suite\n\n" + table)
    with open(os.path.join(RESULTS, "suite.json"), "w") as file:
        json.dump(results, file, indent=2)
        file.write("\n")
    if args.readme:
        update_readme(table)
    print(table)


if __name__ == "__main__":
    main()
