#!/usr/bin/env python3
"""Side-by-side comparison of zkinfer and EZKL on the same model folders.

    python3 benches/compare/compare.py [--runs N] [--out DIR] [--no-ezkl]
                                       [--ezkl-from EARLIER/results.json] MODEL_DIR...

Each MODEL_DIR holds network.onnx and input.json (EZKL's format), and optionally
expected_output.json (onnxruntime's float output) for the error columns. Every step of
both systems runs as its own process; wall time and peak memory (max RSS of the process)
are measured here. "prove s" is the time inside the prove step's process: for zkinfer
loading the keys, the witness and the proof; for EZKL `ezkl.prove` (loading its key and
the proof: EZKL's witness is its own earlier step, not counted). "prove process s" is
the whole process's wall time (for EZKL with Python's start and `import ezkl`).
EZKL (PyPI `ezkl`, default settings) is installed into a virtual
environment on first use. With --ezkl-from, EZKL's figures for the models an earlier
results.json has are taken from it (marked in the table) and EZKL runs only for the
others: a full corpus run with EZKL takes hours. Writes DIR/results.json, DIR/results.md
and DIR/chart.svg.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
HOME = os.environ.get("ZKINFER_HOME", os.path.expanduser("~/.cache/zkinfer"))
EZKL_VENV = os.path.join(HOME, "ezkl-venv")
EZKL_VERSION = os.environ.get("ZKINFER_EZKL_VERSION", "23.0.5")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(HOME, "target"))
# Which cargo profile's binaries run: `release` (default), or `debug` (the test
# profile: zkinfer's own crates at opt-level 1, dependencies at 3) where no release
# build is at hand. The results record it.
PROFILE = os.environ.get("ZKINFER_PROFILE", "release")


def run_step(cmd, cwd=None, env=None):
    """Runs one step under /usr/bin/time semantics: wall seconds and the process's max RSS."""
    wrapper = [sys.executable, os.path.join(HERE, "rss.py")] + cmd
    t0 = time.perf_counter()
    p = subprocess.run(wrapper, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-600:]}")
    lines = p.stderr.strip().splitlines()
    rss = int(lines[-1].split("=")[1]) if lines and lines[-1].startswith("ZKINFER_RSS=") else 0
    return seconds, rss, p.stdout, "\n".join(lines[:-1])


def ensure_ezkl():
    py = os.path.join(EZKL_VENV, "bin", "python")
    ok = subprocess.run([py, "-c", f"import ezkl,sys; sys.exit(0 if ezkl.__version__=='{EZKL_VERSION}' else 1)"],
                        capture_output=True).returncode == 0 if os.path.exists(py) else False
    if not ok:
        print(f"installing ezkl=={EZKL_VERSION} into {EZKL_VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", EZKL_VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", f"ezkl=={EZKL_VERSION}", "onnx", "onnxruntime==1.32.0"], check=True)
    return py


def load_expected(model_dir):
    p = os.path.join(model_dir, "expected_output.json")
    return json.load(open(p))["output_data"] if os.path.exists(p) else None


def errors(got, expected):
    if expected is None or got is None:
        return None, None
    flat_g = [float(x) for o in got for x in o]
    flat_e = [float(x) for o in expected for x in o]
    if len(flat_g) != len(flat_e):
        return None, None
    abs_err = max((abs(a - b) for a, b in zip(flat_g, flat_e)), default=0.0)
    rng = (max(flat_e) - min(flat_e)) if flat_e else 0.0
    rng = rng if rng > 0 else max((abs(x) for x in flat_e), default=1.0) or 1.0
    return abs_err, abs_err / rng


def step_seconds(stderr, names):
    """Sums the seconds zkinfer reports for the named steps (`✓ NAME — ... (S s)`)."""
    total = 0.0
    for line in stderr.splitlines():
        if line.startswith("\u2713 ") and any(line[2:].startswith(n) for n in names) and line.endswith(" s)"):
            total += float(line.rsplit("(", 1)[1].split()[0])
    return total


def zkinfer(model_dir, work, runs, flags):
    z = os.path.join(TARGET, PROFILE, "zkinfer")
    env = dict(os.environ, ZKINFER_CACHE=os.path.join(work, "cache"))  # fresh key cache: keygen is measured
    onnx, inp = os.path.join(model_dir, "network.onnx"), os.path.join(model_dir, "input.json")
    out_dir, proof = os.path.join(work, "compiled"), os.path.join(work, "proof.json")
    r = {}
    # The SRS is generated (insecure, for tests) in its own step so keygen is timed alone.
    secs, rss, _, err = run_step([z, "compile", onnx, "--input", inp, "--out", out_dir] + flags, env=env)
    r["compile_s"], r["compile_rss"] = secs, rss
    for line in err.splitlines():
        if "key generation" in line and "(" in line:
            r["keygen_s"] = float(line.rsplit("(", 1)[1].split()[0])
    settings = json.load(open(os.path.join(out_dir, "settings.json")))
    r["k"], r["rows"] = settings["stats"]["k"], settings["stats"]["rows"]
    r["verifier_bytes"] = settings["verifier_runtime_bytes"]
    r["verifier_contracts"] = settings.get("verifier_contracts", 1)
    r["pk_bytes"] = os.path.getsize(os.path.join(out_dir, "pk.bin"))
    times, walls, rsss = [], [], []
    for _ in range(runs):
        secs, rss, _, err = run_step([z, "prove", out_dir, "--input", inp, "--out", proof], env=env)
        times.append(step_seconds(err, ("load keys", "witness and proof")))
        walls.append(secs)
        rsss.append(rss)
    r["prove_s"], r["prove_wall_s"], r["prove_rss"] = statistics.median(times), statistics.median(walls), max(rsss)
    pf = json.load(open(proof))
    r["proof_bytes"] = (len(pf["proof"]) - 2) // 2
    _, _, out, _ = run_step([z, "verify", out_dir, proof], env=env)
    r["verify_ms"] = float(out.split("(")[1].split()[0]) if "(" in out else None
    _, _, out, _ = run_step([z, "verify-evm", out_dir, proof], env=env)
    r["gas"] = int(out.strip().split()[-1])
    r["max_abs_err"], r["rel_err"] = errors(pf["outputs"], load_expected(model_dir))
    return r


def ezkl(model_dir, work, runs):
    py = ensure_ezkl()
    step = os.path.join(HERE, "ezkl_step.py")
    evm = os.path.join(TARGET, PROFILE, "evm_call")
    for f in ("network.onnx", "input.json"):
        shutil.copy(os.path.join(model_dir, f), work)
    r = {}

    def s(name):
        secs, rss, out, _ = run_step([py, step, name, work])
        return secs, rss, json.loads(out.strip().splitlines()[-1])

    for name in ("gen_settings", "calibrate", "compile", "gen_srs"):
        s(name)
    secs, rss, inner = s("setup")
    r["keygen_s"], r["compile_rss"] = inner["seconds"], rss
    settings = json.load(open(os.path.join(work, "settings.json")))
    r["k"], r["rows"] = settings["run_args"]["logrows"], settings.get("num_rows")
    r["pk_bytes"] = os.path.getsize(os.path.join(work, "pk.key"))
    s("witness")
    times, walls, rsss = [], [], []
    for _ in range(runs):
        secs, rss, inner = s("prove")
        times.append(inner["seconds"])
        walls.append(secs)
        rsss.append(rss)
    r["prove_s"], r["prove_wall_s"], r["prove_rss"] = statistics.median(times), statistics.median(walls), max(rsss)
    pf = json.load(open(os.path.join(work, "proof.json")))
    r["proof_bytes"] = (len(pf["hex_proof"]) - 2) // 2
    _, _, inner = s("verify")
    r["verify_ms"] = inner["seconds"] * 1e3
    s("evm_verifier")
    s("calldata")
    _, _, out, _ = run_step([evm, os.path.join(work, "Verifier.sol"), os.path.join(work, "calldata.bin")])
    ev = json.loads(out)
    r["verifier_bytes"], r["gas"] = ev["runtime_bytes"], ev.get("gas_used") if ev.get("deployable") else None
    r["evm_deployable"] = ev.get("deployable")
    r["verifier_contracts"] = 1
    w = json.load(open(os.path.join(work, "witness.json")))
    r["max_abs_err"], r["rel_err"] = errors(w["pretty_elements"]["rescaled_outputs"], load_expected(model_dir))
    return r


COLUMNS = [("k", "k"), ("rows", "rows"), ("keygen_s", "keygen s"), ("prove_s", "prove s"), ("prove_wall_s", "prove process s"), ("verify_ms", "verify ms"),
           ("prove_rss", "prove peak RSS"), ("pk_bytes", "pk bytes"), ("proof_bytes", "proof bytes"),
           ("verifier_bytes", "verifier bytes (largest contract)"), ("verifier_contracts", "verifier contracts"), ("gas", "gas"), ("max_abs_err", "max abs err"), ("rel_err", "rel err")]


def fmt(v, column=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, int) and v > 10**6 and ("bytes" in column or "rss" in column):
        return f"{v / 2**20:.1f} MiB"
    return str(v)


def markdown(results, machine):
    lines = [f"Machine: {machine}", ""]
    head = "| model | system | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines += [head, "|" + "---|" * (len(COLUMNS) + 2)]
    reused = sorted({r["ezkl"]["reused_from"] for r in results.values() if "reused_from" in r.get("ezkl", {})})
    if reused:
        lines += [f"EZKL rows marked `ezkl (earlier)` are EZKL's figures from an earlier run on this machine ({', '.join(reused)}), not measured again.", ""]
    for name, r in results.items():
        for system in ("zkinfer", "ezkl"):
            if system in r:
                label = "ezkl (earlier)" if "reused_from" in r[system] else system
                lines.append(f"| {name} | {label} | " + " | ".join(fmt(r[system].get(c), c) for c, _ in COLUMNS) + " |")
        if "zkinfer" in r and "ezkl" in r:
            ratio = []
            for c, _ in COLUMNS:
                a, b = r["zkinfer"].get(c), r["ezkl"].get(c)
                ratio.append(f"{a / b:.3g}x" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "–")
            lines.append(f"| {name} | zkinfer/EZKL | " + " | ".join(ratio) + " |")
    lines += ["", targets(results)]
    return "\n".join(lines) + "\n"


# The targets of the speed issue: zkinfer/EZKL at most these (error: at most EZKL's).
TARGETS = [("prove_s", "prove", 0.2), ("prove_rss", "memory", 0.5), ("gas", "gas", 0.7), ("max_abs_err", "error", 1.0)]


def targets(results):
    """A line per model that both systems ran: the ratios against the targets, and which missed."""
    lines = ["| model | " + " | ".join(label for _, label, _ in TARGETS) + " | misses |", "|" + "---|" * (len(TARGETS) + 2)]
    met = both = 0
    for name, r in results.items():
        a, b = r.get("zkinfer", {}), r.get("ezkl", {})
        if "error" in a or "error" in b or not a or not b:
            continue
        both += 1
        cells, misses = [], []
        for c, label, bound in TARGETS:
            x, y = a.get(c), b.get(c)
            if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
                cells.append("–")
                continue
            ratio = x / y if y else (0.0 if x == 0 else float("inf"))
            cells.append(f"{ratio:.3g}x")
            if ratio > bound and not (c == "max_abs_err" and x <= 1e-9):
                misses.append(label)
        met += not misses
        lines.append(f"| {name} | " + " | ".join(cells) + " | " + (", ".join(misses) or "none") + " |")
    return f"Targets (prove <= 0.2x, memory <= 0.5x, gas <= 0.7x, error <= EZKL's): {met} of {both} models meet all.\n\n" + "\n".join(lines)


def svg(results):
    names = [n for n, r in results.items() if "zkinfer" in r and "ezkl" in r]
    metrics = [("prove_s", "prove time"), ("prove_rss", "peak memory"), ("gas", "gas")]
    w, bar, gap = 760, 14, 22
    h = 60 + len(names) * (len(metrics) * bar + gap)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           '<text x="10" y="20" font-size="14">zkinfer / EZKL (shorter is better; the line is 1.0)</text>']
    x0, scale = 260, 300
    out.append(f'<line x1="{x0 + scale}" y1="30" x2="{x0 + scale}" y2="{h - 10}" stroke="#888" stroke-dasharray="4"/>')
    colors = {"prove_s": "#3465a4", "prove_rss": "#73d216", "gas": "#f57900"}
    y = 40
    for n in names:
        out.append(f'<text x="10" y="{y + bar * 2}">{n}</text>')
        for m, label in metrics:
            a, b = results[n]["zkinfer"].get(m), results[n]["ezkl"].get(m)
            if a and b:
                ratio = a / b
                out.append(f'<rect x="{x0}" y="{y}" width="{min(ratio, 2.0) * scale:.1f}" height="{bar - 2}" fill="{colors[m]}"/>')
                out.append(f'<text x="{x0 + min(ratio, 2.0) * scale + 4:.1f}" y="{y + bar - 3}">{label} {ratio:.3g}x</text>')
            y += bar
        y += gap
    out.append("</svg>")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--no-ezkl", action="store_true")
    ap.add_argument("--zkinfer-flag", action="append", default=[], help="extra flag for zkinfer compile")
    ap.add_argument("--ezkl-from", action="append", default=[], metavar="RESULTS_JSON",
                    help="take EZKL's figures for the models it has from this earlier results.json instead of "
                         "running EZKL again (its figures do not change with zkinfer's; the table marks them)")
    a = ap.parse_args()
    earlier = {}
    for path in a.ezkl_from:
        for name, r in json.load(open(path))["results"].items():
            if "ezkl" in r and "error" not in r["ezkl"]:
                earlier[name] = dict(r["ezkl"], reused_from=os.path.basename(path))
    features = subprocess.run([os.path.join(ROOT, "scripts", "cargo-features.sh")], capture_output=True, text=True).stdout.split()
    # Builds the profile whose binaries run (a release build where a debug one is at hand
    # would cost minutes and measure nothing).
    profile_flag = ["--release"] if PROFILE == "release" else [] if PROFILE == "debug" else ["--profile", PROFILE]
    subprocess.run(["cargo", "build", "-q", "-p", "zkinfer-service", "-p", "zkinfer-benches"] + profile_flag + features,
                   cwd=ROOT, check=True, env=dict(os.environ, CARGO_TARGET_DIR=TARGET))
    os.makedirs(a.out, exist_ok=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}; zkinfer built with the `{PROFILE}` profile"
    results = {}
    for m in a.models:
        name = os.path.basename(os.path.normpath(m))
        results[name] = {}
        if name in earlier and not a.no_ezkl:
            results[name]["ezkl"] = earlier[name]
        for system in ("zkinfer",) + (() if a.no_ezkl or name in earlier else ("ezkl",)):
            work = tempfile.mkdtemp(prefix=f"{system}-{name}-")
            try:
                results[name][system] = zkinfer(m, work, a.runs, a.zkinfer_flag) if system == "zkinfer" else ezkl(m, work, a.runs)
            except Exception as e:  # a failure is a result too
                results[name][system] = {"error": str(e)[:300]}
            finally:
                # Keys of both systems run to hundreds of MB a model: a full corpus run
                # would fill the disk.
                shutil.rmtree(work, ignore_errors=True)
            print(name, system, json.dumps(results[name][system]), file=sys.stderr)
        # Written after every model, so that a long run stopped early keeps what it measured.
        json.dump({"machine": machine, "results": results}, open(os.path.join(a.out, "results.json"), "w"), indent=1)
    open(os.path.join(a.out, "results.md"), "w").write(markdown(results, machine))
    open(os.path.join(a.out, "chart.svg"), "w").write(svg(results))
    print(markdown(results, machine))


if __name__ == "__main__":
    main()
