#!/usr/bin/env python3
"""Generates the fixtures of tests/unit/embed/local_test.c (committed; rerun only to change them).

    python3 -m venv .venv && .venv/bin/pip install numpy tokenizers
    .venv/bin/python tests/unit/embed/local/gen.py [REAL_MODEL_DIR]

1. tiny/: a tiny random BERT (2 layers, hidden 32, 4 heads, vocabulary of a few hundred tokens)
   in the sentence-transformers layout, written by hand (safetensors format included; the word
   embeddings are stored as F16 to exercise that path), and tiny/reference.txt: hidden states
   and pooled vectors of a few token sequences and texts, computed by the numpy reference below
   (float64; written from the BERT definition, not from the C code).
2. tok.txt: the tokenizer reference: a pool of text fragments (accents, CJK, punctuation, long
   words, invalid UTF-8, control characters...) from which both this script and the C test build
   the same strings with the same generator, and for each string the number of word pieces and a
   hash of their ids as the reference tokenizer (the `tokenizers` package: BertNormalizer,
   BertPreTokenizer, WordPiece) produces them, for the tiny vocabulary (lower-cased and cased)
   and, when REAL_MODEL_DIR is given, for that model's vocabulary.
3. real.txt (with REAL_MODEL_DIR): pinned vectors of a few sentences for the real model, by the
   numpy reference over its safetensors.
"""
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- safetensors by hand --------------------------------------------------------------------


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, (arr, dt) in tensors.items():
        b = arr.astype(np.float16 if dt == "F16" else np.float32).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64}[v["dtype"]]
        arr = np.frombuffer(data[base + a:base + b], dtype=dt).reshape(v["shape"])
        out[k[5:] if k.startswith("bert.") else k] = arr.astype(np.float64)
    return out

# ---- the reference encoder (float64) --------------------------------------------------------


def erf(x):
    return np.vectorize(math.erf)(x)


def layernorm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def forward(w, cfg, ids):
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d, eps, t = H // nh, cfg["layer_norm_eps"], len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t] \
        + w["embeddings.token_type_embeddings.weight"][0]
    x = layernorm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        lin = lambda v, n: v @ w[p + n + ".weight"].T + w[p + n + ".bias"]
        q, k, v = (lin(x, "attention.self." + n) for n in ("query", "key", "value"))
        ctx = np.zeros_like(x)
        for h in range(nh):
            s = slice(h * d, (h + 1) * d)
            sc = q[:, s] @ k[:, s].T / math.sqrt(d)
            sc = np.exp(sc - sc.max(-1, keepdims=True))
            sc /= sc.sum(-1, keepdims=True)
            ctx[:, s] = sc @ v[:, s]
        x1 = layernorm(lin(ctx, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"], eps)
        f = lin(x1, "intermediate.dense")
        f = 0.5 * f * (1 + erf(f / math.sqrt(2)))
        x = layernorm(lin(f, "output.dense") + x1, w[p + "output.LayerNorm.weight"],
                      w[p + "output.LayerNorm.bias"], eps)
    return x


def embed(w, cfg, ids, cls, sep, window, prefix=(), mean=True):
    """Pooled, normalised vector of a text's word-piece ids, with the windowing rule of the
    local encoder: windows of `window` tokens ([CLS] prefix piece... [SEP]), body stride = 3/4 of
    the body, window vectors averaged weighted by their token counts."""
    body = window - 2 - len(prefix)
    stride = body - body // 4
    acc, wsum, start = np.zeros(cfg["hidden_size"]), 0, 0
    while True:
        chunk = ids[start:start + body]
        seq = [cls] + list(prefix) + chunk + [sep]
        hs = forward(w, cfg, seq)
        acc += hs.sum(0) if mean else hs[0] * len(seq)
        wsum += len(seq)
        if start + len(chunk) >= len(ids):
            break
        start += stride
    v = acc / wsum
    return v / np.linalg.norm(v)

# ---- the tiny model -------------------------------------------------------------------------


TINY_WORDS = """the a an of to and in is it for on with as was at by be this that from or are
run ##ning ##s ##ed ##er ##ing un ##believ ##able believ play ##ful ##ly cafe naive resume
hello world token ##ize ##izer ##ization embed ##ding ##dings memory search quick brown fox
jump ##ed over lazy dog cat ##s car auto ##mobile data base ##base pi ##zza new york ber ##lin
über strasse 東 京 中 国 日 本 語 한 국 ##어 москва ##ва καλη ##μερα""".split()


def tiny_vocab():
    v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    v += [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    v += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    v += ["##" + chr(c) for c in range(ord("0"), ord("9") + 1)]
    v += ["A", "B", "The", "Hello", "É", "é", "ü", "ß", "«", "»", "—", "…", "¿", "¡", "、", "。",
          "「", "」", "·", "•", "‘", "’", "“", "”", "é", "ñ", "##é", "##ñ", "##ü"]
    for word in TINY_WORDS:
        if word not in v:
            v.append(word)
    return v


def make_tiny(d):
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    vocab = tiny_vocab()
    cfg = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 32,
           "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
           "max_position_embeddings": 40, "type_vocab_size": 2, "vocab_size": len(vocab),
           "layer_norm_eps": 1e-12, "hidden_act": "gelu", "position_embedding_type": "absolute"}
    rng = np.random.default_rng(20261206)
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    r = lambda *s: rng.normal(0, 0.5, s)
    t = {"embeddings.word_embeddings.weight": (r(len(vocab), H), "F16"),
         "embeddings.position_embeddings.weight": (r(cfg["max_position_embeddings"], H), "F32"),
         "embeddings.token_type_embeddings.weight": (r(2, H), "F32"),
         "embeddings.LayerNorm.weight": (1 + 0.2 * r(H), "F32"),
         "embeddings.LayerNorm.bias": (0.2 * r(H), "F32")}
    for i in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        for n in ("query", "key", "value"):
            t[p + "attention.self.%s.weight" % n] = (r(H, H) / math.sqrt(H) * 2, "F32")
            t[p + "attention.self.%s.bias" % n] = (0.2 * r(H), "F32")
        t[p + "attention.output.dense.weight"] = (r(H, H) / math.sqrt(H) * 2, "F32")
        t[p + "attention.output.dense.bias"] = (0.2 * r(H), "F32")
        t[p + "attention.output.LayerNorm.weight"] = (1 + 0.2 * r(H), "F32")
        t[p + "attention.output.LayerNorm.bias"] = (0.2 * r(H), "F32")
        t[p + "intermediate.dense.weight"] = (r(I, H) / math.sqrt(H) * 2, "F32")
        t[p + "intermediate.dense.bias"] = (0.2 * r(I), "F32")
        t[p + "output.dense.weight"] = (r(H, I) / math.sqrt(I) * 2, "F32")
        t[p + "output.dense.bias"] = (0.2 * r(H), "F32")
        t[p + "output.LayerNorm.weight"] = (1 + 0.2 * r(H), "F32")
        t[p + "output.LayerNorm.bias"] = (0.2 * r(H), "F32")
    write_safetensors(os.path.join(d, "model.safetensors"), t)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f)
    with open(os.path.join(d, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 24, "do_lower_case": False}, f)
    with open(os.path.join(d, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}], f)
    with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": H, "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True}, f)
    with open(os.path.join(d, "config_sentence_transformers.json"), "w") as f:
        json.dump({"prompts": {"query": "query: "}, "default_prompt_name": None}, f)
    return vocab, cfg

# ---- strings for the tokenizer comparison ---------------------------------------------------


FRAGMENTS = [b"hello", b"world", b"Hello", b"WORLD", b"the", b"The", b"quick", b"brown", b"fox",
             b"running", b"unbelievable", b"tokenization", b"embeddings", b"New York", b"Berlin",
             "café".encode(), "naïve".encode(), "Résumé".encode(), "Über".encode(), "straße".encode(),
             "ÉCOLE".encode(), "señor".encode(), "Ångström".encode(), "Çà".encode(), "İstanbul".encode(),
             "ǅemal".encode(), "ﬁne".encode(), "e\u0301".encode(), "a\u0308b".encode(),
             "東京".encode(), "中国語".encode(), "日本語のテキスト".encode(), "한국어".encode(), "안녕하세요".encode(),
             "Москва".encode(), "καλημέρα".encode(), "ΑΘΗΝΑ".encode(), "שלום".encode(), "مرحبا".encode(),
             "हिन्दी".encode(), "ไทย".encode(), "😀".encode(), "👍🏽".encode(), "©®™".encode(), "½".encode(),
             b".", b",", b"!", b"?", b"...", b"--", b"(x)", b"[y]", b"{z}", b"a.b", b"e-mail", b"don't",
             b"#tag", b"@user", b"$100", b"50%", b"1,000.5", b"3.14", b"x^2", b"a_b", b"~", b"`q`",
             "«quote»".encode(), "—dash—".encode(), "¿qué?".encode(), "、。".encode(), "「引用」".encode(),
             "•".encode(), "‘single’".encode(), "“double”".encode(), "…".encode(), "§".encode(), "¶".encode(),
             b"\t", b"\n", b"\r\n", b"  ", "\u00a0".encode(), "\u3000".encode(), "\u2028".encode(),
             "\u200b".encode(), "\u200d".encode(), "\ufeff".encode(), b"\x00", b"\x07", b"\x1b", b"\x7f",
             "\u0085".encode(), "\ufffd".encode(), "\U000e0001".encode(),
             b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80\x80",
             b"supercalifragilisticexpialidocious", b"a" * 99, b"b" * 100, b"c" * 101, b"xyz" * 40,
             ("é" * 101).encode(), b"pizza", b"automobile", b"database", b"playfully", b"cats",
             b"12345", b"v1.2.3", b"http://example.com/a?b=c", b"C++", b"<html>", b"x=y;",
             # the reference's own tables: unassigned (kept), private use (removed), CJK
             # compatibility ideographs (decomposed), its Extension E range, punctuation and
             # marks newer than Unicode 8 (not split / not stripped), literal special tokens
             "\u0378x".encode(), "a\U00061b7ab".encode(), "a\ue000b".encode(), "福漢".encode(),
             "\U0002b88fz".encode(), "\U0002b920".encode(), "a\u2e52b".encode(), "a\u2e42b".encode(),
             "a\u08d4b".encode(), "a\u08e3b".encode(), b"[SEP]", b"x[CLS]y", b"[MASK]", b"[UNK",
             b"[pad]"]
SEPS = [b" ", b"", b"  ", b"\t", b"\n", b",", b" - "]


class Lcg:
    """The generator shared with the C test: x = x * 6364136223846793005 + 1442695040888963407
    (mod 2^64), value = x >> 33."""

    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.x >> 33) % n


def make_strings(count):
    g, out = Lcg(42), []
    for _ in range(count):
        k = 1 + g.next(6)
        s = b""
        for j in range(k):
            if j:
                s += SEPS[g.next(len(SEPS))]
            s += FRAGMENTS[g.next(len(FRAGMENTS))]
        out.append(s)
    return out


def ids_hash(ids):
    h = 2166136261
    for i in ids:
        for b in struct.pack("<i", i):
            h = ((h ^ b) * 16777619) % (1 << 32)
    return h


def reference_tokenizer(vocab_path, lower):
    from tokenizers import BertWordPieceTokenizer
    return BertWordPieceTokenizer(vocab_path, clean_text=True, handle_chinese_chars=True,
                                  strip_accents=None, lowercase=lower)


def encode(tok, s):
    return tok.encode(s.decode("utf-8", errors="replace"), add_special_tokens=False).ids


def main():
    tiny = os.path.join(HERE, "tiny")
    vocab, cfg = make_tiny(tiny)
    w = read_safetensors(os.path.join(tiny, "model.safetensors"))
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    rng = np.random.default_rng(7)
    lines = []
    # forward: hidden states of explicit id sequences
    for t in (1, 2, 5, 13, 40):
        ids = [int(x) for x in rng.integers(0, len(vocab), t)]
        hs = forward(w, cfg, ids)
        lines.append("forward %d %s" % (t, " ".join(map(str, ids))))
        lines.append("hidden " + " ".join("%.7g" % x for x in hs.reshape(-1)))
    # texts through the public API: documents, a query (prefix "query: "), a long text (windows)
    tok = reference_tokenizer(os.path.join(tiny, "vocab.txt"), True)
    tok.save(os.path.join(tiny, "tokenizer.json"))
    texts = [("doc", "Hello world, the quick brown fox."), ("doc", "Café naïve résumé: über straße!"),
             ("doc", "東京 and 中国語"), ("doc", ""), ("query", "where is the cat?"),
             ("doc", " ".join(["the quick brown fox jumped over the lazy dog"] * 9))]
    qprefix = encode(tok, b"query: ")
    for kind, text in texts:
        ids = encode(tok, text.encode())
        v = embed(w, cfg, ids, cls, sep, 24, qprefix if kind == "query" else ())
        lines.append("%s %d %s" % (kind, len(ids), json.dumps(text, ensure_ascii=False)))
        lines.append("vector " + " ".join("%.7g" % x for x in v))
    with open(os.path.join(tiny, "reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # tokenizer
    strings = make_strings(2500)
    out = ["# fragments %d separators %d strings %d" % (len(FRAGMENTS), len(SEPS), len(strings))]
    out.append("fragments " + " ".join(f.hex() or "-" for f in FRAGMENTS))
    out.append("separators " + " ".join(s.hex() or "-" for s in SEPS))
    vocabs = [("tiny-lower", os.path.join(tiny, "vocab.txt"), True),
              ("tiny-cased", os.path.join(tiny, "vocab.txt"), False)]
    real = sys.argv[1] if len(sys.argv) > 1 else None
    if real:
        vocabs.append(("real", os.path.join(real, "vocab.txt"), True))
    for name, path, lower in vocabs:
        tk = reference_tokenizer(path, lower)
        out.append("vocab %s" % name)
        out.append(" ".join("%d:%08x" % (len(ids), ids_hash(ids))
                            for ids in (encode(tk, s) for s in strings)))
    with open(os.path.join(HERE, "tok.txt"), "w") as f:
        f.write("\n".join(out) + "\n")
    if real:
        rcfg = json.load(open(os.path.join(real, "config.json")))
        rw = read_safetensors(os.path.join(real, "model.safetensors"))
        rt = reference_tokenizer(os.path.join(real, "vocab.txt"), True)
        sents = ["This is a test sentence.", "A man is eating food.",
                 "The new movie is awesome!", "Café naïve résumé, 東京.", ""]
        rl = []
        for s in sents:
            ids = encode(rt, s.encode())
            v = embed(rw, rcfg, ids, 101, 102, 256)
            rl.append("text %s" % json.dumps(s, ensure_ascii=False))
            rl.append("vector " + " ".join("%.7g" % x for x in v))
        with open(os.path.join(HERE, "real.txt"), "w") as f:
            f.write("\n".join(rl) + "\n")


main()
