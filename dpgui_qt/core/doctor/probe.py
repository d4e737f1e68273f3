'''The probe: a standard-library-only script run by the *target* environment's
Python (``python - ARGS_JSON`` with the script on stdin), locally or inside WSL.

It imports torch, deepspeed and flash_attn there (the only place that can tell
whether they import), asks nvidia-smi about the driver and the GPUs, looks at
the checkout (git commit, submodules, requirements) and at free disk space, and
prints one line ``MARKER + json`` at the end.  Anything those imports print is
sent to stderr so it cannot corrupt the result; every part is wrapped so one
failure is reported as data, never as a crash of the probe.

The script is kept as a string (not a module file) so frozen builds, which keep
no ``.py`` sources, can still send it.
'''
from __future__ import annotations

MARKER = "@@DPGUI-DOCTOR@@"
PROBE_VERSION = 1

PROBE_SOURCE = r'''
import json, os, platform, shutil, subprocess, sys, time
MARKER = "@@DPGUI-DOCTOR@@"
args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
out = {"probe_version": 1, "errors": []}
real_stdout = sys.stdout
sys.stdout = sys.stderr          # whatever imports print goes to stderr


def guard(name, fn):
    try:
        out[name] = fn()
    except BaseException as e:   # a probe part must never stop the others
        out[name] = None
        out["errors"].append("%s: %s: %s" % (name, type(e).__name__, e))


def run(argv, cwd=None, timeout=20):
    try:
        p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except (OSError, subprocess.SubprocessError) as e:
        return None, "", str(e)


def python_info():
    v = sys.version_info
    return {"version": "%d.%d.%d" % (v[0], v[1], v[2]), "executable": sys.executable,
            "prefix": sys.prefix, "platform": sys.platform, "machine": platform.machine()}


def short_error(e):
    text = "%s: %s" % (type(e).__name__, e)
    return text.strip().splitlines()[0][:400] if text.strip() else type(e).__name__


def torch_info():
    t0 = time.time()
    try:
        import torch
    except BaseException as e:
        return {"importable": False, "error": short_error(e)}
    info = {"importable": True, "version": str(getattr(torch, "__version__", "")),
            "cuda": None, "available": None, "arch_list": [], "devices": []}
    ver = getattr(torch, "version", None)
    info["cuda"] = getattr(ver, "cuda", None)
    cuda = getattr(torch, "cuda", None)
    try:
        info["available"] = bool(cuda.is_available())
    except BaseException as e:
        info["available"] = False
        info["available_error"] = short_error(e)
    try:
        info["arch_list"] = list(cuda.get_arch_list())
    except BaseException as e:
        info["arch_list_error"] = short_error(e)
    if info["available"]:
        try:
            n = int(cuda.device_count())
        except BaseException:
            n = 0
        for i in range(n):
            d = {"index": i}
            try:
                d["name"] = str(cuda.get_device_name(i))
            except BaseException as e:
                d["name"] = "GPU %d" % i
            try:
                cap = cuda.get_device_capability(i)
                d["capability"] = [int(cap[0]), int(cap[1])]
            except BaseException as e:
                d["capability_error"] = short_error(e)
            try:
                free, total = cuda.mem_get_info(i)
                d["free"] = int(free)
                d["total"] = int(total)
            except BaseException as e:
                d["mem_error"] = short_error(e)
            info["devices"].append(d)
    info["seconds"] = round(time.time() - t0, 2)
    return info


def module_info(name):
    try:
        mod = __import__(name)
    except BaseException as e:
        return {"importable": False, "error": short_error(e)}
    return {"importable": True, "version": str(getattr(mod, "__version__", "") or "")}


def nvidia_smi():
    exe = shutil.which("nvidia-smi")
    if not exe:
        for cand in ("/usr/lib/wsl/lib/nvidia-smi", "/usr/bin/nvidia-smi"):
            if os.path.isfile(cand):
                exe = cand
                break
    res = {"found": bool(exe), "gpus": []}
    if not exe:
        try:
            with open("/proc/driver/nvidia/version") as f:
                res["proc_version"] = f.readline().strip()
        except OSError:
            pass
        return res
    rc, so, se = run([exe, "--query-gpu=index,name,driver_version,memory.total,memory.free,"
                      "compute_cap", "--format=csv,noheader,nounits"])
    res["rc"] = rc
    if rc != 0:
        res["error"] = (se or so).strip()[:400]
        return res
    for line in so.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 6:
            res["gpus"].append({"index": parts[0], "name": parts[1], "driver": parts[2],
                                "total_mib": parts[3], "free_mib": parts[4], "compute_cap": parts[5]})
    return res


def requirements(checkout):
    path = os.path.join(checkout, "requirements.txt")
    if not os.path.isfile(path):
        return None
    try:
        from importlib import metadata
    except ImportError:
        metadata = None
    items = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            name = line
            for sep in ("[", "=", "<", ">", "!", "~", ";", " "):
                name = name.split(sep, 1)[0]
            version = None
            if metadata is not None:
                try:
                    version = metadata.version(name)
                except Exception:
                    version = None
            items.append({"line": line, "name": name, "installed": version})
    return items


def checkout_info(checkout):
    if not checkout:
        return None
    c = {"path": checkout, "exists": os.path.isdir(checkout),
         "train_py": os.path.isfile(os.path.join(checkout, "train.py"))}
    if not c["exists"]:
        return c
    git = shutil.which("git")
    c["git_found"] = bool(git)
    c["is_git"] = os.path.exists(os.path.join(checkout, ".git"))
    if git and c["is_git"]:
        rc, so, se = run([git, "-C", checkout, "rev-parse", "HEAD"])
        c["commit"] = so.strip() if rc == 0 else None
        if rc != 0:
            c["git_error"] = (se or so).strip()[:400]
    subs = []
    gm = os.path.join(checkout, ".gitmodules")
    if os.path.isfile(gm):
        with open(gm, encoding="utf-8", errors="replace") as f:
            for line in f:
                s = line.strip()
                if s.startswith("path") and "=" in s:
                    p = s.split("=", 1)[1].strip()
                    full = os.path.join(checkout, p)
                    try:
                        entries = os.listdir(full)
                    except OSError:
                        entries = []
                    subs.append({"path": p, "initialised": bool(entries)})
    c["submodules"] = subs
    c["requirements"] = requirements(checkout)
    return c


def disk(paths):
    res = []
    seen = set()
    for label, p in paths:
        q = os.path.expanduser(p)
        while q and not os.path.exists(q):
            parent = os.path.dirname(q)
            if parent == q:
                break
            q = parent
        try:
            u = shutil.disk_usage(q)
        except OSError as e:
            res.append({"label": label, "path": p, "error": str(e)})
            continue
        res.append({"label": label, "path": p, "checked": q, "free": u.free, "total": u.total})
    return res


def memory():
    m = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("MemTotal", "MemAvailable", "SwapTotal"):
                    m[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    try:
        with open("/proc/version") as f:
            m["kernel"] = f.read().strip()
    except OSError:
        pass
    m["wsl"] = "microsoft" in m.get("kernel", "").lower()
    m["wsl_distro"] = os.environ.get("WSL_DISTRO_NAME")
    return m


checkout = args.get("checkout") or ""
guard("python", python_info)
guard("torch", torch_info)
guard("deepspeed", lambda: module_info("deepspeed"))
guard("flash_attn", lambda: module_info("flash_attn"))
guard("nvidia_smi", nvidia_smi)
guard("checkout", lambda: checkout_info(checkout))
hf = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
places = [("checkout", checkout)] if checkout else []
places += [("output", p) for p in args.get("outputs", []) if p]
places += [(str(lab), str(p)) for lab, p in args.get("places", []) if p]
places += [("huggingface cache", hf)]
guard("disk", lambda: disk(places))
guard("memory", memory)
sys.stdout = real_stdout
sys.stdout.write("\n" + MARKER + json.dumps(out) + "\n")
sys.stdout.flush()
'''
