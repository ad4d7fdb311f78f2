"""The shipped nginx site (``deploy/nginx-liquidation-heatmap.conf``) made runnable by a user
with no install: its listen address, upstream and cache folder moved into a temporary folder,
nginx in the foreground. The deploy tests and the API benchmark run the very same file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "deploy" / "nginx-liquidation-heatmap.conf"
CACHE_DIR = "/var/cache/nginx/liquidation-heatmap"


def nginx_path() -> str | None:
    """Debian's nginx binary, or None when it is not installed."""
    found = shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").exists():
        found = "/usr/sbin/nginx"
    return found


def nginx_conf(tmp: Path, listen: int, upstream: int, extra: str = "") -> Path:
    """Writes ``tmp/nginx.conf`` (the shipped site behind ``127.0.0.1:listen``, proxying to
    ``127.0.0.1:upstream``; ``extra`` is added to the http block) and returns its path.
    Start it with ``nginx -p tmp -c <path>``."""
    site = SITE.read_text()
    assert "listen 80;" in site and "server 127.0.0.1:8004;" in site and CACHE_DIR in site
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    site = site.replace(CACHE_DIR, str(tmp / "cache"))
    site = site.replace("server 127.0.0.1:8004;", f"server 127.0.0.1:{upstream};")
    (tmp / "site.conf").write_text(site)
    temp = " ".join(
        f"{k}_temp_path {tmp}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp / "nginx.conf"
    # as root, nginx's workers would run as "nobody", who cannot write the cache under tmp
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{user}worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{ access_log {tmp}/access.log; {temp} include {tmp}/site.conf; {extra} }}\n"
    )
    return conf
