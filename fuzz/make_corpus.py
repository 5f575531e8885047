#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<harness>/: small valid inputs for each harness, built
from the repo's own test data (tests/engine/data, personas/) or encoded here by hand. Run from the
repo root; the output is deterministic and committed, so this only needs re-running when a format
gains a feature worth seeding."""
import base64
import json
import os
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- base64 -------------------------------------------------------------------------------------
put("base64", "hello", "aGVsbG8gd29ybGQ=")
put("base64", "pcm", base64.b64encode(bytes(range(0, 256, 3))))
put("base64", "wrapped", "aGVs\nbG8g\r\nd29y bGQ")
put("base64", "urlsafe", "-_-_AA")
put("base64", "nopad", "YWJjZA")


# --- wav ----------------------------------------------------------------------------------------
def wav(fmt_tag, channels, rate, bits, payload, extensible=False):
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHHHHI16s", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0,
                          struct.pack("<H", fmt_tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    else:
        fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # an odd-sized chunk before data (padded)
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


tone16 = b"".join(struct.pack("<h", (i * 2000) % 30000 - 15000) for i in range(64))
put("wav", "pcm16_mono", wav(1, 1, 16000, 16, tone16))
put("wav", "pcm8_stereo", wav(1, 2, 8000, 8, bytes(range(0, 256, 4))))
put("wav", "pcm24_mono", wav(1, 1, 24000, 24, bytes(range(90))))
put("wav", "pcm32_stereo", wav(1, 2, 48000, 32, bytes(range(128))))
put("wav", "float32_mono", wav(3, 1, 24000, 32, b"".join(struct.pack("<f", x / 40.0) for x in range(-20, 20))))
put("wav", "extensible_pcm16", wav(1, 2, 44100, 16, tone16, extensible=True))


# --- card (JSON and PNG character cards) --------------------------------------------------------
for name in ("arthur", "libai"):
    with open(os.path.join(ROOT, "personas", name + ".json"), "rb") as f:
        put("card", name + ".json", f.read())
v2 = {"spec": "chara_card_v2", "spec_version": "2.0",
      "data": {"name": "Ada", "description": "{{char}} talks to {{user}}.", "personality": "curious",
               "scenario": "", "first_mes": "Hello {{user}}!", "mes_example": "",
               "character_book": {"entries": [{"keys": ["castle"], "secondary_keys": ["king"], "selective": True,
                                               "content": "The castle is old.", "enabled": True,
                                               "insertion_order": 1}]},
               "extensions": {"cadence": {"voice": {"voice": "slt"}, "era": "1890s London"}}}}
put("card", "v2_min.json", json.dumps(v2))


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(text_chunks):
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x80")
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    for c in text_chunks:
        out += c
    return out + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


card_b64 = base64.b64encode(json.dumps(v2).encode())
put("card", "v2.png", png([png_chunk(b"tEXt", b"chara\x00" + card_b64)]))
v3 = dict(v2, spec="chara_card_v3", spec_version="3.0")
put("card", "v3_itxt.png", png([png_chunk(b"iTXt", b"ccv3\x00\x00\x00\x00\x00" + base64.b64encode(json.dumps(v3).encode())),
                                png_chunk(b"tEXt", b"chara\x00" + card_b64)]))


# --- gguf ---------------------------------------------------------------------------------------
with open(os.path.join(ROOT, "tests", "engine", "data", "qwen2-small-q4_0.gguf"), "rb") as f:
    put("gguf", "qwen2-small-q4_0.gguf", f.read())


def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_min():
    kv = [("general.architecture", 8, gguf_str("llama")),
          ("general.alignment", 4, struct.pack("<I", 32)),
          ("a.u8", 0, b"\x07"), ("a.i8", 1, b"\xf9"), ("a.u16", 2, struct.pack("<H", 7)),
          ("a.i16", 3, struct.pack("<h", -7)), ("a.i32", 5, struct.pack("<i", -7)),
          ("a.f32", 6, struct.pack("<f", 1.5)), ("a.bool", 7, b"\x01"), ("a.u64", 10, struct.pack("<Q", 7)),
          ("a.i64", 11, struct.pack("<q", -7)), ("a.f64", 12, struct.pack("<d", 2.5)),
          ("a.strings", 9, struct.pack("<IQ", 8, 2) + gguf_str("x") + gguf_str("yz")),
          ("a.ints", 9, struct.pack("<IQ", 5, 3) + struct.pack("<3i", 1, 2, 3)),
          ("tokenizer.chat_template", 8, gguf_str("{{ '<|im_start|>' }}"))]
    tensors = [("w", [32, 2], 0, 0), ("q", [32], 8, 256)]  # f32 [2 x 32] then one q8_0 block
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, t, v in kv:
        out += gguf_str(key) + struct.pack("<I", t) + v
    for name, shape, t, off in tensors:
        out += gguf_str(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<q", d) for d in shape)
        out += struct.pack("<IQ", t, off)
    out += b"\x00" * ((-len(out)) % 32)
    out += struct.pack("<64f", *[i / 64 for i in range(64)])
    out += struct.pack("<e", 0.5) + bytes(range(32))
    return out


put("gguf", "minimal_v3.gguf", gguf_min())


# --- torch_checkpoint: the data.pkl of checkpoints torch.save wrote (tests/engine/data/torch) --------
import zipfile
for name in ("state_dict.pt", "wrapped.pt", "hostile.pt"):
    with zipfile.ZipFile(os.path.join(ROOT, "tests", "engine", "data", "torch", name)) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        put("torch_checkpoint", name.replace(".pt", ".pkl"), z.read(pkl))


# --- safetensors --------------------------------------------------------------------------------
def safetensors(tensors):
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    h = json.dumps(header).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


put("safetensors", "three_dtypes.safetensors",
    safetensors([("model.embed.weight", "F32", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6)),
                 ("model.norm.weight", "F16", [4], struct.pack("<4e", 1, 0.5, -2, 0)),
                 ("lm_head.weight", "BF16", [2, 2], bytes([0, 0x3f, 0, 0x40, 0, 0xbf, 0, 0]))]))
put("safetensors", "empty_tensor.safetensors", safetensors([("x", "F32", [0, 4], b"")]))


# --- onnx (hand-encoded protobuf) ---------------------------------------------------------------
def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def key(field, wire):
    return varint((field << 3) | wire)


def f_int(field, v):
    return key(field, 0) + varint(v & 0xFFFFFFFFFFFFFFFF)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_float(field, x):
    return key(field, 5) + struct.pack("<f", x)


def tensor_proto(name, dims, dtype, raw=None, floats=None, int64s=None):
    t = b"".join(f_int(1, d) for d in dims) + f_int(2, dtype) + f_bytes(8, name)
    if raw is not None:
        t += f_bytes(9, raw)
    if floats is not None:
        t += f_bytes(4, b"".join(struct.pack("<f", x) for x in floats))  # packed float_data
    if int64s is not None:
        t += f_bytes(7, b"".join(varint(x & 0xFFFFFFFFFFFFFFFF) for x in int64s))  # packed int64_data
    return t


def attribute(name, type_, **v):
    a = f_bytes(1, name) + f_int(20, type_)
    if "f" in v:
        a += f_float(2, v["f"])
    if "i" in v:
        a += f_int(3, v["i"])
    if "s" in v:
        a += f_bytes(4, v["s"])
    if "t" in v:
        a += f_bytes(5, v["t"])
    if "g" in v:
        a += f_bytes(6, v["g"])
    if "ints" in v:
        a += f_bytes(8, b"".join(varint(x & 0xFFFFFFFFFFFFFFFF) for x in v["ints"]))
    if "floats" in v:
        a += f_bytes(7, b"".join(struct.pack("<f", x) for x in v["floats"]))
    return a


def node(op, inputs, outputs, name, attrs=()):
    n = b"".join(f_bytes(1, i) for i in inputs) + b"".join(f_bytes(2, o) for o in outputs)
    n += f_bytes(3, name) + f_bytes(4, op) + b"".join(f_bytes(5, a) for a in attrs)
    return n


def value_info(name, elem_type, dims):
    shape = b"".join(f_bytes(1, f_int(1, d) if d >= 0 else f_bytes(2, "N")) for d in dims)
    tensor_type = f_int(1, elem_type) + f_bytes(2, shape)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, tensor_type))


def graph(name, nodes, inits, inputs, outputs):
    g = b"".join(f_bytes(1, n) for n in nodes) + f_bytes(2, name)
    g += b"".join(f_bytes(5, t) for t in inits)
    g += b"".join(f_bytes(11, i) for i in inputs) + b"".join(f_bytes(12, o) for o in outputs)
    return g


def model(g, opset=16):
    return f_int(1, 8) + f_bytes(2, "cadence-fuzz") + f_bytes(7, g) + f_bytes(8, f_bytes(1, "") + f_int(2, opset))


w = tensor_proto("w", [2, 2], 1, raw=struct.pack("<4f", 1, 2, 3, 4))
shape_t = tensor_proto("shape", [2], 7, int64s=[1, 4])
then_g = graph("then", [node("Identity", ["x"], ["y_then"], "id_then")], [], [], [value_info("y_then", 1, [-1, 2])])
else_g = graph("else", [node("Neg", ["x"], ["y_else"], "neg_else")], [], [], [value_info("y_else", 1, [-1, 2])])
nodes = [
    node("MatMul", ["x", "w"], ["h"], "mm"),
    node("Relu", ["h"], ["r"], "relu"),
    node("Reshape", ["r", "shape"], ["flat"], "reshape"),
    node("Constant", [], ["c"], "const", [attribute("value", 4, t=tensor_proto("", [1], 1, floats=[0.5]))]),
    node("Transpose", ["r"], ["tr"], "tr", [attribute("perm", 7, ints=[1, 0])]),
    node("LeakyRelu", ["tr"], ["lr"], "lr", [attribute("alpha", 1, f=0.1)]),
    node("Cast", ["lr"], ["cast"], "cast", [attribute("to", 2, i=1)]),
    node("Pad", ["cast"], ["pad"], "pad", [attribute("mode", 3, s="constant")]),
    node("If", ["cond"], ["y"], "if", [attribute("then_branch", 5, g=then_g), attribute("else_branch", 5, g=else_g)]),
]
put("onnx", "small_graph.onnx",
    model(graph("main", nodes, [w, shape_t], [value_info("x", 1, [-1, 2]), value_info("cond", 9, [])],
                [value_info("y", 1, [-1, 2]), value_info("flat", 1, [1, 4])])))
put("onnx", "tensor_f32.pb", tensor_proto("t", [3], 1, floats=[1.0, -2.0, 3.5]))
put("onnx", "tensor_i64.pb", tensor_proto("i", [2, 2], 7, int64s=[1, -1, 2, 300]))


# --- whisper ggml -------------------------------------------------------------------------------
def ggml_tensor(name, dims, ggml_type, payload):
    b = name.encode()
    return struct.pack("<iii", len(dims), len(b), ggml_type) + struct.pack("<%di" % len(dims), *dims) + b + payload


def ggml(n_mels):
    # n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state,
    # n_text_head, n_text_layer, n_mels, ftype
    hp = struct.pack("<11i", 8, 4, 4, 1, 0, 4, 4, 1, 0, n_mels, 1)
    mel = struct.pack("<ii", n_mels, 201) + struct.pack("<%df" % (n_mels * 201), *([0.01] * (n_mels * 201)))
    words = [b"<|endoftext|>", b"<|startoftranscript|>", b"<|en|>", b"<|transcribe|>", b"<|notimestamps|>", b" a", b"b"]
    vocab = struct.pack("<i", len(words)) + b"".join(struct.pack("<I", len(w)) + w for w in words)
    tensors = ggml_tensor("encoder.conv1.bias", [4, 1], 0, struct.pack("<4f", 1, 2, 3, 4))
    tensors += ggml_tensor("encoder.ln_post.weight", [4], 1, struct.pack("<4e", 1, 1, 1, 1))
    tensors += ggml_tensor("decoder.token_embedding.weight", [32, 1], 8, struct.pack("<e", 0.1) + bytes(range(32)))
    return b"lmgg" + hp + mel + vocab + tensors


put("whisper_ggml", "tiny_shaped_1mel.bin", ggml(1))
put("whisper_ggml", "tiny_shaped_2mel.bin", ggml(2))


# --- chat_template (NUL-separated messages; the first byte of each picks the role) --------------
put("chat_template", "plain", b"\x00You are terse.\x00\x01Hello there!\x00\x02Hi.\x00\x01How are you?")
put("chat_template", "specials", b"\x01<|im_start|>system\nignore<|im_end|> <|eot_id|><|start_header_id|>x")
put("chat_template", "unicode", "\x01你好，世界！ Ünïcödé 123 don't   \n\n emoji 🙂".encode())


# --- realtime_session (0xFF-separated client frames) ---------------------------------------------
def frames(*events):
    return b"\xff".join(e if isinstance(e, bytes) else json.dumps(e).encode() for e in events)


pcm = base64.b64encode(tone16).decode()
put("realtime_session", "ga_text_turn", frames(
    {"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief.",
                                            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                                                "turn_detection": {"type": "server_vad",
                                                                                   "silence_duration_ms": 200}},
                                                      "output": {"voice": "marin"}}}},
    {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                  "content": [{"type": "input_text", "text": "Hello"}]}},
    {"type": "response.create", "response": {"output_modalities": ["text"]}},
    {"type": "response.cancel"}))
put("realtime_session", "beta_audio", b"\x01" + frames(
    {"type": "session.update", "session": {"modalities": ["text", "audio"], "input_audio_format": "g711_ulaw",
                                            "turn_detection": None, "voice": "alloy",
                                            "input_audio_transcription": {"model": "whisper-1"}}},
    {"type": "input_audio_buffer.append", "audio": pcm},
    {"type": "input_audio_buffer.append", "audio": pcm},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0, "audio_end_ms": 10},
    {"type": "conversation.item.delete", "item_id": "item_1"})[1:])
put("realtime_session", "persona_inline", frames(
    {"type": "session.update", "session": {"persona": v2, "paralinguistics": True}},
    {"type": "conversation.item.create", "previous_item_id": "root",
     "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "castle"}]}},
    {"type": "conversation.item.retrieve", "item_id": "x"},
    {"type": "response.create", "response": {"conversation": "none", "instructions": "x", "voice": "sage",
                                             "metadata": {"k": "v"}, "input": []}},
    b'{"type":"session.update","event_id":"e1",', b"[1,2,3]"))
