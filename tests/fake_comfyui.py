"""A local stand-in for ComfyUI's HTTP API (the endpoints dpgui uses, with the
request and response shapes of ComfyUI's server.py / execution.py).

Started by tests on 127.0.0.1 with a free port.  It "executes" a queued
prompt after ``run_polls`` history polls: an image whose bytes name the LoRA,
the prompt text and the seed, so tests can check what was asked for.
"""
from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KNOWN = {"CheckpointLoaderSimple", "LoraLoader", "LoraLoaderModelOnly", "CLIPTextEncode",
         "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage"}


def api_workflow(lora_class: str = "LoraLoader") -> dict:
    """A text-to-image workflow in API format with one LoRA loader."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "flux.safetensors"},
              "_meta": {"title": "Load Checkpoint"}},
        "10": {"class_type": lora_class,
               "inputs": {"lora_name": "old.safetensors", "strength_model": 1.0, "model": ["4", 0],
                          **({"strength_clip": 1.0, "clip": ["4", 1]} if lora_class == "LoraLoader" else {})},
               "_meta": {"title": "LoRA (dpgui)"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]},
              "_meta": {"title": "Positive"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]},
              "_meta": {"title": "Negative"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 3.5,
                                                   "sampler_name": "euler", "scheduler": "normal",
                                                   "denoise": 1.0, "model": ["10", 0],
                                                   "positive": ["6", 0], "negative": ["7", 0],
                                                   "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "dpgui", "images": ["8", 0]}},
    }


def render_png(what: list) -> bytes:
    """A small real PNG whose colour depends on ``what``, with ``what`` as JSON in a
    'dpgui' text chunk (what a test reads back)."""
    import hashlib
    import io

    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    h = hashlib.sha256(json.dumps(what).encode()).digest()
    img = Image.new("RGB", (96, 96), (h[0], h[1], h[2]))
    d = ImageDraw.Draw(img)
    d.ellipse((20 + h[3] % 20, 20 + h[4] % 20, 70, 70), fill=(h[5], h[6], h[7]))
    info = PngInfo()
    info.add_text("dpgui", json.dumps(what))
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def png_text(path) -> list:
    from PIL import Image
    with Image.open(path) as im:
        return json.loads(im.text["dpgui"])


class FakeComfy:
    def __init__(self, run_polls: int = 1, known: set[str] | None = None,
                 fail_execution: bool = False, loras: set[str] | None = None):
        self.run_polls = run_polls
        self.known = set(KNOWN if known is None else known)
        self.fail_execution = fail_execution
        self.prompts: dict[str, dict] = {}       # id -> prompt
        self.polls: dict[str, int] = {}
        self.images: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.vanish_after_prompts: int | None = None   # close the server after N prompts
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> None:
        with self.lock:
            if getattr(self, "_stopped", False):
                return
            self._stopped = True
        if self.thread.is_alive():
            self.server.shutdown()        # blocks until serve_forever has returned
        self.server.server_close()

    # ------------------------------------------------------------------ server
    def _validate(self, prompt) -> tuple[dict | None, dict]:
        """(error, node_errors) like execution.validate_prompt's results."""
        if not isinstance(prompt, dict):
            return {"type": "invalid_prompt", "message": "Cannot execute because the prompt is "
                    "not a dict", "details": "", "extra_info": {}}, {}
        node_errors = {}
        for nid, node in prompt.items():
            ct = node.get("class_type")
            if ct not in self.known:
                return {"type": "missing_node_type", "message": f"Node '{ct}' not found. The "
                        "custom node may not be installed.", "details": f"Node ID '#{nid}'",
                        "extra_info": {}}, {}
            for k, v in node.get("inputs", {}).items():
                if isinstance(v, list) and str(v[0]) not in prompt:
                    node_errors[nid] = {"errors": [{"type": "required_input_missing",
                                                    "message": "Required input is missing",
                                                    "details": k, "extra_info": {}}],
                                        "dependent_outputs": ["9"], "class_type": ct}
        if node_errors:
            return {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed "
                    "validation", "details": "", "extra_info": {}}, node_errors
        return None, {}

    def _handler(self):
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _json(self, code, data):
                body = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                fake.requests.append(("GET", u.path))
                if u.path.startswith("/object_info/"):
                    cls = urllib.parse.unquote(u.path[len("/object_info/"):])
                    return self._json(200, {cls: {"input": {"required": {}}, "output": [],
                                                  "name": cls}} if cls in fake.known else {})
                if u.path.startswith("/history/"):
                    pid = u.path[len("/history/"):]
                    with fake.lock:
                        if pid not in fake.prompts:
                            return self._json(200, {})
                        fake.polls[pid] += 1
                        if fake.polls[pid] < fake.run_polls:
                            return self._json(200, {})
                        p = fake.prompts[pid]
                    if fake.fail_execution:
                        return self._json(200, {pid: {"prompt": [0, pid, p, {}, ["9"]], "outputs": {},
                                                      "status": {"status_str": "error", "completed": False,
                                                                 "messages": [["execution_error", {
                                                                     "prompt_id": pid, "node_id": "10",
                                                                     "node_type": "LoraLoader",
                                                                     "exception_type": "FileNotFoundError",
                                                                     "exception_message": "lora missing"}]]}}})
                    name = f"dpgui_{pid[:8]}_.png"
                    lora = next(n["inputs"]["lora_name"] for n in p.values() if "lora_name" in n["inputs"])
                    text = p["6"]["inputs"]["text"]
                    seed = p["3"]["inputs"]["seed"]
                    fake.images[name] = render_png([lora, text, seed])
                    return self._json(200, {pid: {
                        "prompt": [0, pid, p, {}, ["9"]],
                        "outputs": {"9": {"images": [{"filename": name, "subfolder": "", "type": "output"}]}},
                        "status": {"status_str": "success", "completed": True, "messages": []}}})
                if u.path == "/queue":
                    with fake.lock:
                        pending = [[i, pid, p, {}, ["9"]] for i, (pid, p) in enumerate(fake.prompts.items())
                                   if fake.polls[pid] < fake.run_polls]
                    return self._json(200, {"queue_running": pending[:1], "queue_pending": pending[1:]})
                if u.path == "/view":
                    q = urllib.parse.parse_qs(u.query)
                    data = fake.images.get(q.get("filename", [""])[0])
                    if data is None or q.get("type", ["output"])[0] != "output":
                        self.send_response(404)
                        self.end_headers()
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(404)
                self.end_headers()

            def do_POST(self):
                u = urllib.parse.urlparse(self.path)
                fake.requests.append(("POST", u.path))
                n = int(self.headers.get("Content-Length") or 0)
                try:
                    data = json.loads(self.rfile.read(n))
                except ValueError:
                    return self._json(400, {"error": "bad json", "node_errors": []})
                if u.path != "/prompt":
                    self.send_response(404)
                    self.end_headers()
                    return
                if "prompt" not in data:
                    return self._json(400, {"error": "no prompt", "node_errors": []})
                err, node_errors = fake._validate(data["prompt"])
                if err:
                    return self._json(400, {"error": err, "node_errors": node_errors})
                pid = str(uuid.uuid4())
                with fake.lock:
                    fake.prompts[pid] = data["prompt"]
                    fake.polls[pid] = 0
                    count = len(fake.prompts)
                self._json(200, {"prompt_id": pid, "number": count, "node_errors": {}})
                if fake.vanish_after_prompts is not None and count >= fake.vanish_after_prompts:
                    threading.Thread(target=fake.stop, daemon=True).start()

        return H
