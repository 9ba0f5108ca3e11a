#!/usr/bin/env python3
"""ONNX Runtime side by side with the local encoder (bench/embed/local.sh runs it when the
python given as $PYTHON has numpy, onnx and onnxruntime):

    python3 -m venv .venv && .venv/bin/pip install numpy onnx onnxruntime
    PYTHON=.venv/bin/python bench/embed/local.sh MODEL_DIR

Builds the BERT encoder of MODEL_DIR (config.json + model.safetensors) as an ONNX graph of
standard operators (ONNX Runtime fuses attention, GELU and LayerNorm itself), and its dynamic
int8 quantisation (onnxruntime.quantization.quantize_dynamic, per-channel), then measures chunks
of 202 tokens ([CLS] + 200 + [SEP]) per CPU-second of this process at 1 and 2 intra-op threads,
one sequence per call as the local encoder does.
Usage: ort_compare.py MODEL_DIR [WORKDIR] [chunks]
"""
import json
import os
import struct
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64}[v["dtype"]]
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype=dt).reshape(v["shape"])
        out[k[5:] if k.startswith("bert.") else k] = arr.astype(np.float32) if dt != np.int64 else arr
    return out


def build(cfg, w, path):
    H, nh, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    d, eps = H // nh, cfg.get("layer_norm_eps", 1e-12)
    nodes, inits = [], []
    cnt = [0]

    def name(p):
        cnt[0] += 1
        return "%s_%d" % (p, cnt[0])

    def init(n, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), n))
        return n

    def op(t, ins, **kw):
        o = name(t)
        nodes.append(helper.make_node(t, ins, [o], **kw))
        return o

    def ln(x, g, b):
        return op("LayerNormalization", [x, init(name("g"), w[g]), init(name("b"), w[b])], axis=-1,
                  epsilon=eps)

    def lin(x, p):
        y = op("MatMul", [x, init(name("W"), w[p + ".weight"].T)])
        return op("Add", [y, init(name("B"), w[p + ".bias"])])

    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [1, "T"])
    pos = helper.make_tensor_value_info("pos", TensorProto.INT64, [1, "T"])
    we = op("Gather", [init("word", w["embeddings.word_embeddings.weight"]), "ids"])
    pe = op("Gather", [init("posemb", w["embeddings.position_embeddings.weight"]), "pos"])
    x = op("Add", [op("Add", [we, pe]), init("type0", w["embeddings.token_type_embeddings.weight"][0])])
    x = ln(x, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias")
    shp = init("shp", np.array([1, -1, nh, d], dtype=np.int64))
    shp2 = init("shp2", np.array([1, -1, H], dtype=np.int64))
    scale = init("scale", np.array(1.0 / np.sqrt(d), dtype=np.float32))
    for i in range(L):
        p = "encoder.layer.%d." % i
        heads = []
        for n in ("query", "key", "value"):
            t = op("Reshape", [lin(x, p + "attention.self." + n), shp])
            heads.append(op("Transpose", [t], perm=[0, 2, 1, 3]))
        q, k, v = heads
        kt = op("Transpose", [k], perm=[0, 1, 3, 2])
        s = op("Mul", [op("MatMul", [q, kt]), scale])
        a = op("Softmax", [s], axis=-1)
        c = op("Reshape", [op("Transpose", [op("MatMul", [a, v])], perm=[0, 2, 1, 3]), shp2])
        x = ln(op("Add", [lin(c, p + "attention.output.dense"), x]),
               p + "attention.output.LayerNorm.weight", p + "attention.output.LayerNorm.bias")
        f = lin(x, p + "intermediate.dense")
        g = op("Mul", [op("Mul", [f, init(name("half"), np.array(0.5, dtype=np.float32))]),
                       op("Add", [op("Erf", [op("Div", [f, init(name("sq2"), np.array(np.sqrt(2.0), dtype=np.float32))])]),
                                  init(name("one"), np.array(1.0, dtype=np.float32))])])
        x = ln(op("Add", [lin(g, p + "output.dense"), x]), p + "output.LayerNorm.weight",
               p + "output.LayerNorm.bias")
    pooled = op("ReduceMean", [x], axes=[1], keepdims=0)
    nodes[-1].output[0] = "pooled"
    out = helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, H])
    graph = helper.make_graph(nodes, "bert", [ids, pos], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def bench(path, threads, n, t):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    feeds = {"ids": rng.integers(1000, 20000, (1, t)).astype(np.int64),
             "pos": np.arange(t, dtype=np.int64)[None, :]}
    s.run(None, feeds)
    res = []
    for _ in range(3):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            s.run(None, feeds)
        res.append((n / (time.perf_counter() - w0), n / (time.process_time() - c0)))
    res.sort(key=lambda r: r[1])
    return res[1]


def main():
    d = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = read_safetensors(os.path.join(d, "model.safetensors"))
    f32 = os.path.join(work, "bert.onnx")
    q8 = os.path.join(work, "bert-int8.onnx")
    build(cfg, w, f32)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(f32, q8, weight_type=QuantType.QInt8, per_channel=True)
    print("\nONNX Runtime %s, same model, 202-token sequences, one per call, median of 3 runs\n" % ort.__version__)
    print("| mode | threads | chunks/s | chunks/CPU-s |")
    print("|------|---------|----------|--------------|")
    for mode, path in (("fp32", f32), ("int8", q8)):
        for th in (1, 2):
            wall, cpu = bench(path, th, n, 202)
            print("| %s | %d | %7.1f | %7.1f |" % (mode, th, wall, cpu))
            sys.stdout.flush()


main()
