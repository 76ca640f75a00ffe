"""Runs one step of EZKL's own pipeline, so that each step is its own process.

    python ezkl_step.py STEP WORKDIR [ARG]

Steps: gen_settings, calibrate, compile, gen_srs, setup, witness, prove, verify,
evm_verifier, calldata. Files live in WORKDIR under EZKL's usual names. Default
settings throughout (calibrate_settings with its default target, "resources").
"""
import asyncio
import inspect
import json
import os
import sys
import time

import ezkl


def run(x):
    if inspect.isawaitable(x):
        async def wait():
            return await x
        return asyncio.run(wait())
    return x


def main():
    step, d = sys.argv[1], sys.argv[2]
    os.chdir(d)
    t0 = time.perf_counter()
    out = {}
    if step == "gen_settings":
        run(ezkl.gen_settings("network.onnx", "settings.json"))
    elif step == "calibrate":
        run(ezkl.calibrate_settings("input.json", "network.onnx", "settings.json", "resources"))
    elif step == "compile":
        run(ezkl.compile_circuit("network.onnx", "network.ezkl", "settings.json"))
    elif step == "gen_srs":
        logrows = json.load(open("settings.json"))["run_args"]["logrows"]
        run(ezkl.gen_srs("kzg.srs", logrows))
    elif step == "setup":
        run(ezkl.setup("network.ezkl", "vk.key", "pk.key", "kzg.srs"))
    elif step == "witness":
        run(ezkl.gen_witness("input.json", "network.ezkl", "witness.json"))
    elif step == "prove":
        run(ezkl.prove("witness.json", "network.ezkl", "pk.key", "proof.json", "kzg.srs"))
    elif step == "verify":
        out["valid"] = bool(run(ezkl.verify("proof.json", "settings.json", "vk.key", "kzg.srs")))
    elif step == "evm_verifier":
        async def create():
            return await ezkl.create_evm_verifier("vk.key", "settings.json", "Verifier.sol", "abi.json", "kzg.srs")
        try:
            asyncio.run(create())
        except RuntimeError as e:
            # EZKL renders Verifier.sol, then tries to download solc to compile it; there
            # is no network here, and the harness compiles it with zkinfer's offline solc.
            if not os.path.exists("Verifier.sol"):
                raise
            out["note"] = str(e)[:120]
    elif step == "calldata":
        run(ezkl.encode_evm_calldata("proof.json", "calldata.bin"))
    else:
        raise SystemExit(f"unknown step {step}")
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
