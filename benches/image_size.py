#!/usr/bin/env python3
"""Image size and link time: portkey against rustc's fat LTO, for one function of every fixture
crate that makes images, all built and measured in one run.

For each function:

- portkey:  `portkey shake` in its default mode (`--size min`), and `--size full` for reference;
- fat LTO:  the shim portkey generated, built by cargo alone with fat LTO, opt-level=z, one
            codegen unit, panic=abort and strip, for the same musl target.

Every executable is zipped the same way (deflate level 9, one `bootstrap` entry).

The link step is the final `rustc` invocation of the shim, timed by a RUSTC_WORKSPACE_WRAPPER
after a touch of the shim's `main.rs`. Under fat LTO it compiles the shim, runs LTO over the
whole program, generates code and links. Under portkey it compiles the shim and runs
portkey-ld, whose link cache is cleared first so that the shaker runs in full. The two are
measured in alternation, `--relinks` times each, and the table gives medians.

Usage: benches/image-size.sh [--relinks N] [--functions manifest:path,...]
Writes benches/results/image-size.md and image-size.json.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTKEY = os.path.join(ROOT, "target", "release", "portkey")
WRAPPER = os.path.join(ROOT, "benches", "time-rustc.sh")
TRIPLE = "x86_64-unknown-linux-musl"
RESULTS = os.path.join(ROOT, "benches", "results")

# One or more functions of each fixture crate that builds images.
FUNCTIONS = [
    ("hello", "hello::flatter"),
    ("hello", "markdown::to_html"),
    ("suite", "suite::echo"),
    ("suite", "suite::dates"),
    ("suite", "suite::render"),
    ("types", "types::app"),
    ("published", "semver::Version::parse"),
    ("tokio-app", "tokio_app::nap"),
    ("axum-app", "axum_app::router"),
]


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(command, env=None, cwd=None):
    result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"error: `{' '.join(command)}` failed with status {result.returncode}:\n"
                 f"{result.stderr[-4000:]}")
    return result.stdout


def zip_size(executable, scratch):
    path = os.path.join(scratch, "bootstrap.zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(executable, "rb") as source:
            archive.writestr(info, source.read(), compresslevel=9)
    return os.path.getsize(path)


def fat_env(target_dir, timing_log=None):
    env = dict(os.environ)
    for key in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"):
        env.pop(key, None)
    env["CARGO_TARGET_DIR"] = target_dir
    for key, value in (("lto", "fat"), ("opt_level", "z"), ("codegen_units", "1"),
                       ("panic", "abort"), ("strip", "true"), ("debug", "false"),
                       ("incremental", "false")):
        env[f"CARGO_PROFILE_RELEASE_{key.upper()}"] = value
    if timing_log:
        env["RUSTC_WORKSPACE_WRAPPER"] = WRAPPER
        env["PORTKEY_BENCH_RUSTC_LOG"] = timing_log
    return env


def shim_bin_name(shim_manifest):
    with open(shim_manifest) as manifest:
        names = [line.split('"')[1] for line in manifest if line.startswith("name = ")]
    return names[-1]


def timed_runs(timing_log, crate):
    """Returns the wall times in seconds the wrapper logged for `crate`, and clears the log."""
    times = []
    if os.path.exists(timing_log):
        with open(timing_log) as entries:
            for line in entries:
                name, _, millis = line.strip().partition(" ")
                if name == crate:
                    times.append(int(millis) / 1000)
        os.remove(timing_log)
    return times


class Fixture:
    def __init__(self, work, name):
        self.dir = os.path.join(work, name)
        shutil.copytree(os.path.join(ROOT, "fixtures", name), self.dir,
                        ignore=shutil.ignore_patterns("target", "portkey.json*"),
                        dirs_exist_ok=True)
        self.manifest = os.path.join(self.dir, "Cargo.toml")
        self.fat_target = os.path.join(work, "fat-target", name)

    def shake(self, function, *extra, env=None):
        out = run([PORTKEY, "shake", "--fn", function, "--json", "--manifest-path",
                   self.manifest, *extra], env=env)
        return json.loads(out)

    def link_cache(self):
        return os.path.join(self.dir, "target", "portkey", "build", "portkey-ld-cache")


def measure(work, fixture, function, relinks):
    scratch = os.path.join(work, "scratch")
    os.makedirs(scratch, exist_ok=True)
    log(f"building {function}")
    shaken = fixture.shake(function)
    full = fixture.shake(function, "--size", "full")
    shim = shaken["shim"]
    bin_name = shim_bin_name(shim)
    main_rs = os.path.join(os.path.dirname(shim), "src", "main.rs")
    # The default image last, so its shim is the one on disk.
    shaken = fixture.shake(function)
    fat_bin = os.path.join(fixture.fat_target, TRIPLE, "release", bin_name)
    run(["cargo", "build", "-q", "--release", "--target", TRIPLE, "--manifest-path", shim],
        env=fat_env(fixture.fat_target))

    timing_log = os.path.join(scratch, "rustc-times.log")
    if os.path.exists(timing_log):
        os.remove(timing_log)
    portkey_env = dict(os.environ, RUSTC_WORKSPACE_WRAPPER=WRAPPER,
                       PORTKEY_BENCH_RUSTC_LOG=timing_log)
    portkey_times, fat_times = [], []
    phases = {}
    crate = bin_name.replace("-", "_")
    # One unmeasured round first: the wrapper changes cargo's fingerprint of the shim.
    for round_index in range(relinks + 1):
        log(f"  relink {round_index}/{relinks}")
        shutil.rmtree(fixture.link_cache(), ignore_errors=True)
        os.utime(main_rs)
        again = fixture.shake(function, env=portkey_env)
        if again["report"].get("cache_hit"):
            sys.exit(f"error: the relink of {function} hit portkey-ld's cache; the bench "
                     f"cleared {fixture.link_cache()}, which is not where the cache is")
        phases = again["report"]["timings_ms"]
        times = timed_runs(timing_log, crate)
        if len(times) != 1:
            sys.exit(f"error: expected one timed rustc run of `{crate}` per portkey relink, "
                     f"found {len(times)}; did portkey rebuild the shim?")
        os.utime(main_rs)
        run(["cargo", "build", "-q", "--release", "--target", TRIPLE, "--manifest-path", shim],
            env=fat_env(fixture.fat_target, timing_log))
        fat = timed_runs(timing_log, crate)
        if len(fat) != 1:
            sys.exit(f"error: expected one timed rustc run of `{crate}` per fat-LTO relink, "
                     f"found {len(fat)}")
        if round_index > 0:
            portkey_times.extend(times)
            fat_times.extend(fat)

    report = shaken["report"]
    return {
        "function": function,
        "fixture": os.path.basename(fixture.dir),
        "kept": report["functions"]["kept"],
        "removed": report["functions"]["removed"],
        "portkey_binary": os.path.getsize(shaken["bootstrap"]),
        "portkey_zip": zip_size(shaken["bootstrap"], scratch),
        "full_binary": os.path.getsize(full["bootstrap"]),
        "fat_binary": os.path.getsize(fat_bin),
        "fat_zip": zip_size(fat_bin, scratch),
        "portkey_link_s": portkey_times,
        "fat_link_s": fat_times,
        "shaker_phases_ms": phases,
    }


def kib(size):
    return f"{size / 1024:,.1f} KiB"


def table(rows, relinks):
    date = datetime.date.today().isoformat()
    rustc = run(["rustc", "--version"]).strip()
    cores = os.cpu_count()
    lines = [
        "# Image size and link time: portkey against rustc's fat LTO",
        "",
        f"Made by `benches/image-size.sh` on {date}, {rustc}, target {TRIPLE}, {cores} cores.",
        "portkey is the default image (`--size min`); fat LTO is the same generated shim under",
        "cargo with fat LTO, opt-level=z, codegen-units=1, panic=abort and strip. Zips use",
        "deflate level 9 for every column. Link: the final `rustc` invocation of the shim after a",
        f"touch of its `main.rs`, median of {relinks} runs each, measured in alternation (portkey's",
        "link cache cleared before each). Ratios are portkey over fat LTO; below 1 means portkey",
        "is smaller or faster.",
        "",
        "| function | kept / removed | portkey | fat LTO | ratio | portkey zip | fat LTO zip | zip ratio | `--size full` | portkey link | fat LTO link | link ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    size_ratios, zip_ratios, link_ratios = [], [], []
    for row in rows:
        size_ratio = row["portkey_binary"] / row["fat_binary"]
        zip_ratio = row["portkey_zip"] / row["fat_zip"]
        portkey_link = statistics.median(row["portkey_link_s"])
        fat_link = statistics.median(row["fat_link_s"])
        link_ratio = portkey_link / fat_link
        size_ratios.append(size_ratio)
        zip_ratios.append(zip_ratio)
        link_ratios.append(link_ratio)
        lines.append(
            f"| `{row['function']}` | {row['kept']:,} / {row['removed']:,} "
            f"| {kib(row['portkey_binary'])} | {kib(row['fat_binary'])} | {size_ratio:.2f}x "
            f"| {kib(row['portkey_zip'])} | {kib(row['fat_zip'])} | {zip_ratio:.2f}x "
            f"| {kib(row['full_binary'])} "
            f"| {portkey_link:.2f} s | {fat_link:.2f} s | {link_ratio:.2f}x |")
    lines += [
        "",
        f"Median over the {len(rows)} functions: executable {statistics.median(size_ratios):.2f}x, "
        f"zip {statistics.median(zip_ratios):.2f}x, link {statistics.median(link_ratios):.2f}x. "
        f"Largest: executable {max(size_ratios):.2f}x, zip {max(zip_ratios):.2f}x, "
        f"link {max(link_ratios):.2f}x.",
        "",
        "portkey-ld phases of the last timed relink, in ms:",
        "",
        "| function | gather | graph | strip | optimise | codegen | link | layout |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        phases = row["shaker_phases_ms"]
        lines.append(f"| `{row['function']}` | " + " | ".join(
            str(phases.get(name, "")) for name in
            ("gather", "graph", "strip", "optimise", "codegen", "link", "layout")) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relinks", type=int, default=3,
                        help="timed relinks of each build, after one untimed (default 3)")
    parser.add_argument("--functions",
                        help="fixture:path pairs, comma-separated (default: one or more of "
                             "every fixture crate that builds images)")
    args = parser.parse_args()
    if args.relinks < 1:
        sys.exit("error: --relinks must be at least 1")
    functions = FUNCTIONS
    if args.functions:
        functions = []
        for item in args.functions.split(","):
            fixture, _, path = item.partition(":")
            if not path:
                sys.exit(f"error: `{item}` is not fixture:path, for example hello:hello::flatter")
            functions.append((fixture, path))
    for tool in ("cargo", "rustc"):
        if shutil.which(tool) is None:
            sys.exit(f"error: the benchmark needs `{tool}` on PATH")
    if not os.path.exists(PORTKEY):
        log("building portkey (release)")
        run(["cargo", "build", "--release", "--locked", "-p", "portkey-cli", "--bins"], cwd=ROOT)

    # Outside the repository: a fixture copy inside it would belong to its workspace.
    work = os.path.join(tempfile.gettempdir(), "portkey-bench-image-size")
    os.makedirs(work, exist_ok=True)
    fixtures = {}
    rows = []
    for fixture_name, function in functions:
        if fixture_name not in fixtures:
            if not os.path.isdir(os.path.join(ROOT, "fixtures", fixture_name)):
                sys.exit(f"error: no fixture `{fixture_name}` in fixtures/")
            fixtures[fixture_name] = Fixture(work, fixture_name)
        rows.append(measure(work, fixtures[fixture_name], function, args.relinks))

    text = table(rows, args.relinks)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "image-size.md"), "w") as out:
        out.write(text)
    with open(os.path.join(RESULTS, "image-size.json"), "w") as out:
        json.dump(rows, out, indent=2)
        out.write("\n")
    print(text)


if __name__ == "__main__":
    main()
