"""Sample images per epoch through ComfyUI's HTTP API (Qt-free, standard library only).

Endpoints used, with the shapes ComfyUI's ``server.py`` (``PromptServer``) and
``execution.py`` (``PromptQueue``) give them:

* ``GET /object_info/{class}`` -> ``{class: {"input": {"required": {...},
  "optional": {...}}, "output": [...], ...}}`` or ``{}`` when no node of that
  class is installed.  Used to check that the workflow's nodes exist.
* ``POST /prompt`` with ``{"prompt": <API-format workflow>, "client_id": str}``
  -> 200 ``{"prompt_id": str, "number": int, "node_errors": {...}}``, or 400
  ``{"error": {"type", "message", "details", "extra_info"}, "node_errors":
  {node_id: {"errors": [{"type", "message", "details", ...}], "class_type": str,
  "dependent_outputs": [...]}}}`` for a workflow it refuses.
* ``GET /history/{prompt_id}`` -> ``{}`` while queued or running, then
  ``{prompt_id: {"prompt": [...], "outputs": {node_id: {"images": [{"filename",
  "subfolder", "type"}]}}, "status": {"status_str": "success" | "error",
  "completed": bool, "messages": [[event, data], ...]}}}``.
* ``GET /queue`` -> ``{"queue_running": [[number, prompt_id, prompt, extra,
  outputs], ...], "queue_pending": [...]}`` (to tell "still queued" from
  "forgotten" when the history stays empty).
* ``GET /view?filename=&subfolder=&type=`` -> the image bytes (404 if absent).

An API-format workflow (ComfyUI: Workflow ▸ Export (API)) maps node ids to
``{"class_type": str, "inputs": {name: value | [node_id, output_index]},
"_meta": {"title": str}}``.  The UI format (``{"nodes": [...], "links": [...]}``)
cannot be queued and is refused with a message saying how to export.
"""
from __future__ import annotations

import copy
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, Callable

__all__ = ["ComfyError", "ComfyClient", "Workflow", "load_workflow", "SampleSettings",
           "SampleResult", "sample_save", "SamplesStore", "complete_saves", "LORA_CLASSES"]

LORA_CLASSES = ("LoraLoader", "LoraLoaderModelOnly")
SEED_INPUTS = ("seed", "noise_seed")
TEXT_CLASSES = ("CLIPTextEncode",)


class ComfyError(Exception):
    """A finding, not a crash: ``kind`` is unreachable | rejected | missing_node |
    bad_workflow | failed | timeout | protocol."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class ComfyClient:
    def __init__(self, address: str, timeout: float = 15.0):
        a = address.strip().rstrip("/")
        if not a:
            raise ComfyError("bad_workflow", "no ComfyUI address set")
        if "://" not in a:
            a = "http://" + a
        self.base = a
        self.timeout = timeout
        self.client_id = uuid.uuid4().hex

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            try:
                payload = e.read()
            except (OSError, HTTPException):
                payload = b""
            return e.code, payload
        except (urllib.error.URLError, OSError, HTTPException, socket.timeout) as e:
            reason = getattr(e, "reason", e)
            raise ComfyError("unreachable", f"ComfyUI at {self.base} is not reachable ({reason})") from e

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, object]:
        status, raw = self._request(method, path, body)
        try:
            return status, json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            if status >= 400:
                return status, None
            raise ComfyError("protocol", f"{self.base}{path} did not answer JSON (HTTP {status}); "
                             "is this a ComfyUI server?") from None

    def object_info(self, class_type: str) -> dict[str, Any] | None:
        status, data = self._json("GET", "/object_info/" + urllib.parse.quote(class_type))
        if status != 200 or not isinstance(data, dict):
            raise ComfyError("protocol", f"/object_info/{class_type}: HTTP {status}")
        return data.get(class_type)

    def queue_prompt(self, prompt: dict[str, Any]) -> str:
        status, data = self._json("POST", "/prompt", {"prompt": prompt, "client_id": self.client_id})
        if status == 200 and isinstance(data, dict) and isinstance(data.get("prompt_id"), str):
            return str(data["prompt_id"])
        raise ComfyError("rejected", "ComfyUI refused the workflow: " + describe_rejection(data, status))

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        status, data = self._json("GET", "/history/" + urllib.parse.quote(prompt_id))
        if status != 200 or not isinstance(data, dict):
            raise ComfyError("protocol", f"/history/{prompt_id}: HTTP {status}")
        entry = data.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    def queued_ids(self) -> set[str]:
        status, data = self._json("GET", "/queue")
        ids = set()
        if status == 200 and isinstance(data, dict):
            for key in ("queue_running", "queue_pending"):
                for item in data.get(key) or []:
                    if isinstance(item, list) and len(item) > 1:
                        ids.add(str(item[1]))
        return ids

    def view(self, filename: str, subfolder: str = "", type_: str = "output") -> bytes:
        q = urllib.parse.urlencode({"filename": filename, "subfolder": subfolder, "type": type_})
        status, raw = self._request("GET", "/view?" + q)
        if status != 200:
            raise ComfyError("failed", f"could not fetch image {filename}: HTTP {status}")
        return raw

    def wait(self, prompt_id: str, timeout: float = 600.0, poll_s: float = 0.5,
             cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
        """The history entry once the prompt has finished (raises ComfyError)."""
        deadline = time.monotonic() + timeout
        misses = 0
        while True:
            entry = self.history(prompt_id)
            if entry is not None:
                st = entry.get("status") or {}
                if st.get("status_str") == "error" or st.get("completed") is False:
                    raise ComfyError("failed", "ComfyUI could not run the workflow: "
                                     + describe_messages(st.get("messages")))
                return entry
            if misses % 10 == 9 and prompt_id not in self.queued_ids():
                # neither finished nor queued: ComfyUI restarted and forgot it
                raise ComfyError("failed", "ComfyUI no longer knows the queued prompt (restarted?)")
            misses += 1
            if cancelled is not None and cancelled():
                raise ComfyError("timeout", "cancelled")
            if time.monotonic() >= deadline:
                raise ComfyError("timeout", f"no result from ComfyUI after {timeout:.0f} s")
            time.sleep(poll_s)


def describe_rejection(data: Any, status: int) -> str:
    if not isinstance(data, dict):
        return f"HTTP {status}"
    parts = []
    err = data.get("error")
    if isinstance(err, dict):
        parts.append(str(err.get("message") or err.get("type") or "error"))
        if err.get("details"):
            parts.append(str(err["details"]))
    elif err:
        parts.append(str(err))
    ne = data.get("node_errors")
    if isinstance(ne, dict):
        for nid, info in ne.items():
            if not isinstance(info, dict):
                continue
            for e in info.get("errors") or []:
                if isinstance(e, dict):
                    parts.append(f"node {nid} ({info.get('class_type', '?')}): "
                                 f"{e.get('message', '')} {e.get('details', '')}".strip())
    return "; ".join(parts) or f"HTTP {status}"


def describe_messages(messages: Any) -> str:
    for m in messages or []:
        if isinstance(m, list) and len(m) == 2 and m[0] == "execution_error" and isinstance(m[1], dict):
            d = m[1]
            return (f"node {d.get('node_id', '?')} ({d.get('node_type', '?')}): "
                    f"{d.get('exception_type', '')} {d.get('exception_message', '')}").strip()
    return "execution error (see ComfyUI's console)"


# --------------------------------------------------------------------------- workflow
@dataclass
class Workflow:
    """An API-format workflow and the nodes dpgui changes in it."""
    nodes: dict[str, Any]
    lora_node: str
    prompt_node: str | None
    seed_inputs: list[tuple[str, str]]
    path: Path | None = None

    def class_types(self) -> set[str]:
        return {n["class_type"] for n in self.nodes.values()
                if isinstance(n, dict) and isinstance(n.get("class_type"), str)}

    def build(self, lora_name: str, prompt: str | None, seed: int,
              strength: float | None = None) -> dict[str, Any]:
        wf = copy.deepcopy(self.nodes)
        wf[self.lora_node]["inputs"]["lora_name"] = lora_name
        if strength is not None:
            for k in ("strength_model", "strength_clip"):
                if k in wf[self.lora_node]["inputs"]:
                    wf[self.lora_node]["inputs"][k] = strength
        if prompt is not None and self.prompt_node is not None:
            wf[self.prompt_node]["inputs"]["text"] = prompt
        for nid, name in self.seed_inputs:
            wf[nid]["inputs"][name] = seed
        return wf


def _title(node: dict[str, Any]) -> str:
    meta = node.get("_meta")
    return str(meta.get("title", "")) if isinstance(meta, dict) else ""


def load_workflow(source: str | os.PathLike[str] | dict[str, Any], lora_node: str | None = None,
                  prompt_node: str | None = None) -> Workflow:
    """Read an API-format workflow and find the LoRA loader (``lora_node`` or the
    only LoraLoader / a node titled with "dpgui"), the positive prompt and the seeds.
    Raises ComfyError("bad_workflow", ...)."""
    path = None
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        if path.exists() and not path.is_file():
            raise ComfyError("bad_workflow", f"{path} is not a regular file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ComfyError("bad_workflow", f"cannot read {path}: {e.strerror or e}") from e
        except ValueError as e:
            raise ComfyError("bad_workflow", f"{path} is not JSON: {e}") from e
    if not isinstance(data, dict):
        raise ComfyError("bad_workflow", "the workflow is not a JSON object")
    if isinstance(data.get("nodes"), list) and "links" in data:
        raise ComfyError("bad_workflow", "this is a workflow in ComfyUI's UI format; export it "
                         "with Workflow ▸ Export (API) instead")
    nodes = {str(k): v for k, v in data.items()
             if isinstance(v, dict) and isinstance(v.get("class_type"), str)}
    if not nodes or len(nodes) != len(data):
        raise ComfyError("bad_workflow", "not an API-format workflow (every entry must be a node "
                         "with class_type and inputs)")
    for nid, n in nodes.items():
        if not isinstance(n.get("inputs"), dict):
            raise ComfyError("bad_workflow", f"node {nid} has no inputs")
    if lora_node is not None:
        if lora_node not in nodes:
            raise ComfyError("bad_workflow", f"the workflow has no node {lora_node}")
        if "lora_name" not in nodes[lora_node]["inputs"]:
            raise ComfyError("bad_workflow", f"node {lora_node} ({nodes[lora_node]['class_type']}) "
                             "has no lora_name input")
        lora = lora_node
    else:
        cands = [nid for nid, n in nodes.items() if "lora_name" in n["inputs"]]
        marked = [nid for nid in cands if "dpgui" in _title(nodes[nid]).lower()]
        if len(marked) == 1:
            lora = marked[0]
        elif len(cands) == 1:
            lora = cands[0]
        elif not cands:
            raise ComfyError("bad_workflow", "the workflow has no LoRA loader (LoraLoader or "
                             "LoraLoaderModelOnly); add one between the model and the sampler")
        else:
            raise ComfyError("bad_workflow", f"the workflow has {len(cands)} LoRA loaders "
                             f"({', '.join(cands)}); mark the one to test by putting 'dpgui' "
                             "in its title, or choose it")
    if prompt_node is not None:
        if prompt_node not in nodes or "text" not in nodes[prompt_node]["inputs"]:
            raise ComfyError("bad_workflow", f"node {prompt_node} has no text input")
        pnode: str | None = prompt_node
    else:
        pnode = _positive_prompt(nodes)
    seeds = [(nid, k) for nid, n in nodes.items() for k in SEED_INPUTS
             if isinstance(n["inputs"].get(k), int) and not isinstance(n["inputs"].get(k), bool)]
    return Workflow(nodes, lora, pnode, seeds, path)


def _positive_prompt(nodes: dict[str, Any]) -> str | None:
    texts = [nid for nid, n in nodes.items() if isinstance(n["inputs"].get("text"), str)]
    if len(texts) == 1:
        return texts[0]
    for n in nodes.values():
        pos = n["inputs"].get("positive")
        if isinstance(pos, list) and pos and str(pos[0]) in texts:
            return str(pos[0])
    marked = [nid for nid in texts if "positive" in _title(nodes[nid]).lower()]
    return marked[0] if marked else (texts[0] if texts else None)


# --------------------------------------------------------------------------- sampling
@dataclass
class SampleSettings:
    address: str
    workflow: Workflow
    prompts: list[str]
    seed: int = 42
    loras_dir: Path | None = None       # ComfyUI's models/loras
    subfolder: str = "dpgui"            # inside loras_dir
    strength: float | None = None
    timeout_s: float = 600.0
    poll_s: float = 0.5


@dataclass
class SampleResult:
    save: str                # epoch5
    index: int               # prompt index
    prompt: str
    file: Path | None = None
    error: str | None = None
    kind: str | None = None


class SamplesStore:
    """``<run>/dpgui-samples/``: images per save and ``samples.json`` (prompts, seed,
    and one record per save × prompt)."""

    def __init__(self, run_dir: str | os.PathLike[str]):
        self.root = Path(run_dir) / "dpgui-samples"
        self.manifest = self.root / "samples.json"

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.manifest.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def record(self, results: list[SampleResult], prompts: list[str], seed: int) -> None:
        from dpgui_qt.core.run.supervisor import write_json_atomic
        self.root.mkdir(parents=True, exist_ok=True)
        data = self.load()
        if data.get("prompts") != prompts or data.get("seed") != seed:
            data = {"prompts": prompts, "seed": seed, "saves": {}}
        saves = data.setdefault("saves", {})
        for r in results:
            saves.setdefault(r.save, {})[str(r.index)] = {
                "file": str(r.file.relative_to(self.root)) if r.file else None,
                "error": r.error, "kind": r.kind, "at": time.time()}
        write_json_atomic(self.manifest, data)

    def grid(self) -> tuple[list[str], list[tuple[str, list[dict[str, Any] | None]]]]:
        """(prompts, [(save name, [cell per prompt])]) in save order."""
        data = self.load()
        prompts = data.get("prompts") or []
        rows = []
        saves = data.get("saves") or {}

        def order(name: str) -> tuple[bool, int]:
            kind = "epoch" if name.startswith("epoch") else "step"
            digits = name[len(kind):]
            return (kind != "epoch", int(digits) if digits.isdigit() else 0)

        for name in sorted(saves, key=order):
            cells = []
            for i in range(len(prompts)):
                c = saves[name].get(str(i))
                if c and c.get("file"):
                    c = dict(c, path=str(self.root / c["file"]))
                cells.append(c)
            rows.append((name, cells))
        return prompts, rows

    def done(self) -> set[str]:
        data = self.load()
        return {name for name, cells in (data.get("saves") or {}).items()
                if all(c.get("file") for c in cells.values())}


def complete_saves(run_dir: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """Saved epochs/steps whose weights are fully written (diffusion-pipe writes into a
    ``tmp`` folder first and removes it at the end), oldest first."""
    out = []
    run_dir = Path(run_dir)
    try:
        entries = list(os.scandir(run_dir))
    except OSError:
        return []
    from dpgui_qt.core.monitor.outputs import weights_file
    for e in entries:
        for kind in ("epoch", "step"):
            n = e.name
            if n.startswith(kind) and n[len(kind):].isdigit() and e.is_dir():
                p = Path(e.path)
                w = weights_file(p)
                if w is not None and not (p / "tmp").exists():
                    out.append((n, w))
    out.sort(key=lambda t: (not t[0].startswith("epoch"), int(t[0].lstrip("epochst"))))
    return out


def sample_save(settings: SampleSettings, run_dir: str | os.PathLike[str], save_name: str,
                weights: str | os.PathLike[str], model_type: str | None = None,
                cancelled: Callable[[], bool] | None = None,
                client: ComfyClient | None = None) -> list[SampleResult]:
    """Export one saved LoRA and render every prompt with it; each failure is a
    result with ``error`` set (ComfyUI down, missing node, bad workflow), never an
    exception.  Images go to ``<run>/dpgui-samples/<save>/p<i>.png``."""
    from dpgui_qt.core.monitor.export import export_lora, export_name, run_metadata

    run_dir = Path(run_dir)
    store = SamplesStore(run_dir)
    prompts = settings.prompts or [""]
    results = [SampleResult(save_name, i, p) for i, p in enumerate(prompts)]

    def fail_all(kind: str, msg: str) -> list[SampleResult]:
        for r in results:
            if r.file is None:
                r.error, r.kind = msg, kind
        store.record(results, prompts, settings.seed)
        return results

    try:
        client = client or ComfyClient(settings.address)
        for ct in sorted(settings.workflow.class_types()):
            if client.object_info(ct) is None:
                return fail_all("missing_node", f"ComfyUI has no node '{ct}' (a custom node that "
                                "is not installed?)")
        if settings.loras_dir is None:
            return fail_all("bad_workflow", "set the ComfyUI loras folder (models/loras) first")
        dest = Path(settings.loras_dir) / settings.subfolder if settings.subfolder else Path(settings.loras_dir)
        dest.mkdir(parents=True, exist_ok=True)
        name = export_name(run_dir.name, model_type, int(save_name.lstrip("epochst") or 0),
                           "epoch" if save_name.startswith("epoch") else "step")
        from dpgui_qt.core.monitor.outputs import scan_run
        info = scan_run(run_dir)
        if model_type is None:
            model_type = info.model_type
            name = export_name(run_dir.name, model_type, int(save_name.lstrip("epochst") or 0),
                               "epoch" if save_name.startswith("epoch") else "step")
        export_lora(weights, dest, name, "copy",
                    run_metadata(info.config_copy, run_dir.name, save_name),
                    overwrite=True)
        lora_name = f"{settings.subfolder}/{name}" if settings.subfolder else name
    except ComfyError as e:
        return fail_all(e.kind, e.message)
    except OSError as e:
        return fail_all("failed", f"could not export the LoRA: {e}")

    out_dir = store.root / save_name
    for r in results:
        if cancelled is not None and cancelled():
            r.error, r.kind = "cancelled", "timeout"
            continue
        try:
            wf = settings.workflow.build(lora_name, r.prompt if settings.prompts else None,
                                         settings.seed, settings.strength)
            pid = client.queue_prompt(wf)
            entry = client.wait(pid, settings.timeout_s, settings.poll_s, cancelled)
            images = [img for node in (entry.get("outputs") or {}).values() if isinstance(node, dict)
                      for img in node.get("images") or [] if isinstance(img, dict)]
            if not images:
                raise ComfyError("bad_workflow", "the workflow finished without an image output "
                                 "(add a SaveImage or PreviewImage node)")
            img = images[0]
            data = client.view(img.get("filename", ""), img.get("subfolder", ""),
                               img.get("type", "output"))
            out_dir.mkdir(parents=True, exist_ok=True)
            ext = os.path.splitext(img.get("filename", ""))[1] or ".png"
            target = out_dir / f"p{r.index}{ext}"
            tmp = target.with_suffix(target.suffix + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            r.file = target
        except ComfyError as e:
            r.error, r.kind = e.message, e.kind
            if e.kind in ("unreachable", "rejected"):
                for rest in results[r.index + 1:]:
                    rest.error, rest.kind = e.message, e.kind
                break
        except OSError as e:
            r.error, r.kind = f"could not store the image: {e}", "failed"
    store.record(results, prompts, settings.seed)
    return results
