"""Regenerates the zoo models: seeded numpy weights, exported with the onnx helper API.

Run with a Python that has numpy, onnx and onnxruntime:
    python3 models/zoo/generate.py
Each model folder gets network.onnx, input.json (EZKL format) and expected_output.json
(onnxruntime's float output). The files are committed; this script documents them.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def mlp(name, sizes, seed, batch_inputs=1, input_range=(-1.0, 1.0), doc=""):
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    prev = "input"
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        b = (rng.standard_normal(n_out) * 0.05).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"fc{i}.weight"), numpy_helper.from_array(b, f"fc{i}.bias")]
        out = f"fc{i}" if i < len(sizes) - 2 else "output"
        nodes.append(helper.make_node("Gemm", [prev, f"fc{i}.weight", f"fc{i}.bias"], [out], name=f"/fc{i}/Gemm", transB=1))
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [out], [f"relu{i}"], name=f"/relu{i}/Relu"))
            prev = f"relu{i}"
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", sizes[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch_size", sizes[-1]])],
        inits,
        doc_string=doc,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkinfer-zoo")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    x = rng.uniform(*input_range, size=(batch_inputs, sizes[0])).astype(np.float32)
    write(name, model, [x])


def write(name, model, inputs):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "network.onnx"))
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [x.flatten().tolist() for x in inputs]}, f)
    sess = ort.InferenceSession(os.path.join(d, "network.onnx"), providers=["CPUExecutionProvider"])
    feeds = {i.name: x for i, x in zip(sess.get_inputs(), inputs)}
    outs = sess.run(None, feeds)
    with open(os.path.join(d, "expected_output.json"), "w") as f:
        json.dump(
            {
                "output_data": [o.astype(np.float64).flatten().tolist() for o in outs],
                "output_shapes": [list(o.shape) for o in outs],
                "computed_by": f"onnxruntime {ort.__version__} (CPUExecutionProvider)",
            },
            f,
        )


if __name__ == "__main__":
    mlp("credit_mlp", [8, 16, 8, 2], seed=7, doc="A credit-scoring style MLP: 8 features, two classes.")
    mlp("mlp_4_8_2", [4, 8, 2], seed=11, doc="The 4-8-2 MLP of EZKL's benchmark note.")
    mlp("mlp_784_128_64_10", [784, 128, 64, 10], seed=3, input_range=(0.0, 1.0),
        doc="An MNIST-sized MLP, 784-128-64-10 (109,386 parameters), random weights.")
