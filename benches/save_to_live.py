#!/usr/bin/env python3
"""Save-to-live: from a file write to the first response carrying the new behaviour.

Copies fixtures/devloop to a temporary folder, mounts devloop::first, runs `portkey dev --json`,
then edits the function's text N times. For each edit it measures, from the write, the time until
the URL returns the new text, and reads dev's own split of that time into build (cargo and
rustc), shake (the shaker's link step) and swap (new instance ready, traffic moved). The anchor,
measured after each edit in the same run, is `cargo build --release` of the same generated shim
crate with rustc's own linking (no shaker) after an edit of the same kind: what a rebuild-on-save
tool without the shaker pays to get a new executable.

Usage: benches/save-to-live.sh [edits]   (default 7). Writes benches/results/save-to-live.md and .json.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import queue

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTKEY = os.path.join(ROOT, "target", "release", "portkey")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except Exception:
        return ""


def main():
    edits = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    work = tempfile.mkdtemp(prefix="portkey-save-to-live-")
    project = os.path.join(work, "devloop")
    shutil.copytree(os.path.join(ROOT, "fixtures", "devloop"), project)
    with open(os.path.join(project, "Cargo.toml"), "a") as manifest:
        manifest.write("\n[workspace]\n")
    lib = os.path.join(project, "src", "lib.rs")
    manifest = os.path.join(project, "Cargo.toml")
    env = dict(os.environ, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    dev = None
    try:
        mounted = subprocess.run(
            [PORTKEY, "mount", "devloop::first", "/first?name={name}", "--manifest-path", manifest],
            check=True, capture_output=True, text=True, env=env,
        )
        url = mounted.stdout.strip().removeprefix("url: ").replace("{name}", "Ada")
        shaken = subprocess.run(
            [PORTKEY, "shake", "--json", "--fn", "devloop::first", "--manifest-path", manifest],
            check=True, capture_output=True, text=True, env=env,
        )
        shim = json.loads(shaken.stdout)["shim"]
        anchor_target = os.path.join(work, "anchor-target")
        # Builds the anchor once, so each measured rebuild is incremental like dev's.
        subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", shim, "--target-dir", anchor_target],
                       check=True, env=env)
        dev = subprocess.Popen(
            [PORTKEY, "dev", "--json", "--manifest-path", manifest],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in dev.stdout], daemon=True).start()
        lines.get(timeout=600)  # the initial cycle

        rows = []
        current = "first-v1"
        for number in range(2, edits + 2):
            new = f"first-v{number}"
            with open(lib) as source:
                text = source.read()
            started = time.monotonic()
            with open(lib, "w") as source:
                source.write(text.replace(current, new))
            while not get(url).startswith(new):
                if time.monotonic() - started > 600:
                    raise SystemExit(f"edit {number}: the new text was not served within 600 s")
                time.sleep(0.005)
            live_ms = (time.monotonic() - started) * 1000
            cycle = json.loads(lines.get(timeout=600))
            current = new

            # The anchor: the shim built by cargo alone, after an edit of the same kind.
            with open(lib) as source:
                text = source.read()
            with open(lib, "w") as source:
                source.write(text.replace("unused-v", "unused-w", 1) if "unused-v" in text else text.replace("unused-w", "unused-v", 1))
            anchor_started = time.monotonic()
            subprocess.run(
                ["cargo", "build", "--release", "--quiet", "--manifest-path", shim, "--target-dir", anchor_target],
                check=True, env=env,
            )
            anchor_ms = (time.monotonic() - anchor_started) * 1000
            # Let dev see that edit too, and wait for its (unchanged) cycle, so the next
            # measurement starts from a quiet state.
            lines.get(timeout=600)
            rows.append({
                "edit": number - 1,
                "save_to_live_ms": round(live_ms),
                "build_ms": cycle["build_ms"],
                "shake_ms": cycle["shake_ms"],
                "swap_ms": cycle["swap_ms"],
                "anchor_cargo_build_ms": round(anchor_ms),
            })
            print(rows[-1], file=sys.stderr)
    finally:
        if dev is not None:
            dev.kill()
        subprocess.run([PORTKEY, "down", "--manifest-path", manifest], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    keys = ["save_to_live_ms", "build_ms", "shake_ms", "swap_ms", "anchor_cargo_build_ms"]
    medians = {key: statistics.median(row[key] for row in rows) for key in keys}
    results = os.path.join(ROOT, "benches", "results")
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "save-to-live.json"), "w") as out:
        json.dump({"edits": rows, "medians": medians}, out, indent=2)
    table = [
        f"Save-to-live of `devloop::first` under `portkey dev`, {len(rows)} edits, medians in ms",
        "(command: `benches/save-to-live.sh {}`; machine: {} cores).".format(edits, os.cpu_count()),
        "",
        "| measure | median ms | ratio to anchor |",
        "|---|---:|---:|",
    ]
    for key in keys:
        ratio = medians[key] / medians["anchor_cargo_build_ms"] if medians["anchor_cargo_build_ms"] else 0
        table.append(f"| {key} | {medians[key]:.0f} | {ratio:.2f} |")
    table += ["", "Per edit:", "", "| edit | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for row in rows:
        table.append(f"| {row['edit']} | " + " | ".join(str(row[key]) for key in keys) + " |")
    text = "\n".join(table) + "\n"
    with open(os.path.join(results, "save-to-live.md"), "w") as out:
        out.write(text)
    print(text)


if __name__ == "__main__":
    main()
