"""Where a sentence-transformers model comes from: a local folder, the Hugging Face cache, or the hub.

A hub model is looked up in the local cache first (no network at all); only when it is not there,
and the hub answers a quick connection probe, may it be downloaded. A local folder is pinned by a
fingerprint of its weight files, a cached hub model by its snapshot's commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "offline",
    "endpoint",
    "reachable",
    "cache_dir",
    "repo_ids",
    "cached_commit",
    "snapshot_commit",
    "family_name",
    "looks_like_path",
    "weights_fingerprint",
]

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
HUB_PROBE_SECONDS = 3.0


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def offline() -> bool:
    """True when the user told the Hugging Face libraries not to touch the network."""
    if _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE")):
        return True
    with contextlib.suppress(Exception):
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    return False


def endpoint() -> str:
    with contextlib.suppress(Exception):
        from huggingface_hub import constants

        return str(constants.ENDPOINT)
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Can a TCP connection to the hub (or the proxy in front of it) be opened within `timeout`?

    The Hugging Face clients retry an unreachable hub for over a minute; this probe lets a machine
    without network fail in seconds. It runs in a thread because name resolution has no timeout.
    """
    url = urllib.parse.urlsplit(endpoint())
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parsed.hostname or host, parsed.port or 8080
    reached: list[bool] = []

    def probe() -> None:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
            reached.append(True)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(reached)


def cache_dir() -> Path:
    """Where sentence-transformers looks for hub models (it honours SENTENCE_TRANSFORMERS_HOME)."""
    if os.environ.get("SENTENCE_TRANSFORMERS_HOME"):
        return Path(os.environ["SENTENCE_TRANSFORMERS_HOME"])
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except Exception:
        return Path.home() / ".cache" / "huggingface" / "hub"


def repo_ids(name: str) -> list[str]:
    # sentence-transformers reads a bare name such as "all-MiniLM-L6-v2" as "sentence-transformers/<name>".
    return [name] if "/" in name else [f"sentence-transformers/{name}", name]


def cached_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit hash of the cached snapshot a hub name (and revision) resolves to."""
    if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for filename in ("modules.json", "config.json"):
        found = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache_dir()), revision=revision)
        if isinstance(found, str):
            return snapshot_commit(Path(found).parent)
    return None


def snapshot_commit(folder: Path) -> str | None:
    """The commit hash when `folder` is (inside) a Hugging Face cache snapshot: .../snapshots/<commit>/."""
    parts = folder.parts
    for i in range(len(parts) - 1):
        if parts[i] == "snapshots" and i > 0 and parts[i - 1].startswith("models--"):
            return parts[i + 1]
    return None


def family_name(model: str, folder: Path | None) -> str:
    """The name the family rule looks at: the hub name, or a local folder's own name (not its parents)."""
    if folder is None:
        return model
    for i, part in enumerate(folder.parts):
        if part.startswith("models--") and i + 1 < len(folder.parts) and folder.parts[i + 1] == "snapshots":
            return part[len("models--") :].replace("--", "/")
    return folder.name


def looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


# -- weights fingerprint ---------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weight_files(folder: Path) -> list[Path]:
    """The weight files sentence-transformers loads: in the folder and its module subfolders
    (modules.json), not training checkpoints or exported ONNX/OpenVINO copies lying beside them."""
    dirs = [folder]
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        dirs += [folder / m["path"] for m in modules if m.get("path")]
    files = []
    for directory in dirs:
        if directory.is_dir():
            files += sorted(
                p
                for p in directory.iterdir()
                if p.is_file() and p.suffix in WEIGHT_SUFFIXES and not p.name.startswith(("optimizer", "training_args"))
            )
    return files


def weights_fingerprint(folder: Path, known: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """name, size, mtime_ns and sha256 of each weight file; a `known` sha256 is trusted while the
    file's size and mtime_ns are unchanged, so reopening an index does not re-hash gigabytes."""
    trusted = {str(k.get("file")): k for k in known or () if isinstance(k, Mapping)}
    out = []
    for path in weight_files(folder):
        stat = path.stat()
        name = path.relative_to(folder).as_posix()
        entry = {"file": name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        old = trusted.get(name)
        if old and old.get("size") == stat.st_size and old.get("mtime_ns") == stat.st_mtime_ns and old.get("sha256"):
            entry["sha256"] = str(old["sha256"])
        else:
            entry["sha256"] = sha256_file(path)
        out.append(entry)
    return out
