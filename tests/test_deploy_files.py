"""The production shape's files stay consistent with each other and with the settings.

No Docker engine exists on the development and CI machines, so docker-compose.yml is
checked by parsing it, and the nginx configuration by `nginx -t`. None of this needs the
database.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
NGINX_LOOPBACK_CONF = ROOT / "deploy" / "nginx.loopback.conf"
ENV_EXAMPLE = ROOT / ".env.example"
CI_RUN = ROOT / ".ci" / "run"

# Read by the settings but not configuration anyone sets: pytest and CI markers.
NOT_CONFIGURATION = {
    "CI",
    "DJANGO_SETTINGS_MODULE",
    "PYTEST_CURRENT_TEST",
    "PYTEST_VERSION",
    "PYTEST_XDIST_WORKER",
}

SHARED_BEGIN = "# --- begin shared locations"
SHARED_END = "# --- end shared locations ---"


# --- helpers ---------------------------------------------------------------------------


def load_compose() -> dict:
    with COMPOSE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def command_words(service: dict) -> list[str]:
    command = service.get("command") or []
    if isinstance(command, str):
        return command.split()
    return [str(word) for word in command]


def web_services(compose: dict) -> dict[str, dict]:
    return {
        name: service
        for name, service in compose["services"].items()
        if command_words(service)[:1] == ["daphne"]
    }


def depends_on_names(service: dict) -> set[str]:
    depends = service.get("depends_on") or []
    return set(depends) if isinstance(depends, list) else set(depends.keys())


def build_of(service: dict) -> tuple[str, str]:
    build = service.get("build")
    if isinstance(build, str):
        return (build, "Dockerfile")
    assert isinstance(build, dict), "a web service has no build section"
    return (build.get("context", "."), build.get("dockerfile", "Dockerfile"))


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def shared_block(text: str) -> str:
    start = text.index(SHARED_BEGIN)
    end = text.index(SHARED_END, start)
    return text[start:end]


def env_example_names() -> tuple[dict[str, str], set[str]]:
    """Active NAME=value lines, and every name documented (active or commented out)."""
    active: dict[str, str] = {}
    documented: set[str] = set()
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        match = re.match(r"^(#\s*)?(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not match:
            continue
        documented.add(match.group(2))
        if not match.group(1):
            active[match.group(2)] = match.group(3).strip().strip("\"'")
    return active, documented


def settings_sources() -> list[Path]:
    config = ROOT / "config"
    files = [config / "settings.py"]
    files += sorted((config / "settings").rglob("*.py")) if (config / "settings").is_dir() else []
    return [path for path in files if path.is_file()]


ENV_READ_PATTERNS = [
    # os.environ.get("X"), os.getenv("X"), os.environ.setdefault("X"), env("X"), env_bool("X")
    re.compile(
        r"""(?:os\.environ\.get|os\.getenv|os\.environ\.setdefault|\benv(?:_\w+)?)"""
        r"""\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    ),
    # os.environ["X"]
    re.compile(r"""os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""),
    # "X" in os.environ
    re.compile(r"""["']([A-Z][A-Z0-9_]*)["']\s+(?:not\s+)?in\s+os\.environ"""),
]


def settings_env_names() -> set[str]:
    names: set[str] = set()
    for path in settings_sources():
        text = path.read_text(encoding="utf-8")
        for pattern in ENV_READ_PATTERNS:
            names.update(pattern.findall(text))
    return names - NOT_CONFIGURATION


def nginx_binary() -> str:
    """nginx's path; skips (with the reason) outside CI, fails in CI, when it is missing."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
        None,
    )
    if found:
        return found
    reason = "nginx is not installed (apt-get install nginx); .ci/run installs it"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must not skip this check")
    pytest.skip(reason)


def nginx_test(conf: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    args = [nginx_binary(), "-t", "-q", "-e", "stderr", "-c", str(conf)]
    if not re.search(r"^pid\s", conf.read_text(encoding="utf-8"), re.M):
        args += ["-g", f"pid {tmp_path / 'nginx.pid'};"]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


# --- docker-compose.yml ----------------------------------------------------------------


def test_compose_has_database_cache_and_proxy_services():
    services = load_compose()["services"]
    assert {"postgres", "redis", "proxy"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert "healthcheck" in services["postgres"]
    assert services["postgres"].get("volumes"), "PostgreSQL data must live in a volume"


def test_compose_runs_at_least_two_daphne_web_services_from_one_image():
    webs = web_services(load_compose())
    assert len(webs) >= 2, f"need two or more daphne services, found {sorted(webs)}"
    builds = {build_of(service) for service in webs.values()}
    assert len(builds) == 1, f"web services must share one build: {builds}"
    context, dockerfile = builds.pop()
    assert (COMPOSE.parent / context / dockerfile).resolve() == DOCKERFILE


def test_daphne_trusts_proxy_headers_and_listens_with_a_big_backlog():
    for name, service in web_services(load_compose()).items():
        words = command_words(service)
        assert "--proxy-headers" in words, name
        assert words[-1] == "config.asgi:application", name
        endpoint = words[words.index("-e") + 1]
        assert endpoint.startswith("tcp:port=8000"), name
        assert "interface=0.0.0.0" in endpoint, name
        assert re.search(r"backlog=\d{3,}", endpoint), name
        # With -e, adding -b/-p would make daphne listen on a second socket.
        assert not {"-b", "--bind", "-p", "--port"} & set(words), name


def test_web_services_use_postgres_and_redis_services_and_production_settings():
    compose = load_compose()
    for name, service in web_services(compose).items():
        env = environment_of(service)
        assert re.match(r"^postgres(ql)?://[^@]+@postgres:5432/", env["DATABASE_URL"]), name
        assert env["REDIS_URL"].startswith("redis://redis:6379"), name
        assert env["DJANGO_DEBUG"] == "0", name
        assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?"), name
        assert "DJANGO_ALLOWED_HOSTS" in env, name
        needed = {"postgres", "redis"}
        assert needed <= depends_on_names(service), name


def test_migrations_run_once_before_the_web_services():
    compose = load_compose()
    services = compose["services"]
    migrators = [
        name
        for name, service in services.items()
        if "migrate" in command_words(service) and "manage.py" in command_words(service)
    ]
    assert len(migrators) == 1, f"exactly one one-shot migrate service: {migrators}"
    for name, service in web_services(compose).items():
        depends = service.get("depends_on")
        assert isinstance(depends, dict), name
        assert depends[migrators[0]]["condition"] == "service_completed_successfully", name


def test_proxy_depends_on_every_web_service_and_mounts_nginx_conf():
    compose = load_compose()
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert set(web_services(compose)) <= depends_on_names(proxy)
    assert any(str(port).split(":")[-1] == "80" for port in proxy.get("ports", []))
    mounts = [str(volume) for volume in proxy.get("volumes", [])]
    assert any(m.startswith("./deploy/nginx.conf:/etc/nginx/") for m in mounts), mounts


def test_every_compose_variable_is_documented_in_env_example():
    text = COMPOSE.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    _, documented = env_example_names()
    assert used - documented == set()


# --- Dockerfile ------------------------------------------------------------------------


def test_dockerfile_builds_a_non_root_image_with_static_files_and_a_healthcheck():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert "collectstatic" in text
    assert re.search(r"^EXPOSE 8000\b", text, re.M)
    assert re.search(r"^HEALTHCHECK\b(.|\n)*?/healthz", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}


def test_dockerfile_copies_only_paths_that_exist():
    text = DOCKERFILE.read_text(encoding="utf-8")
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", text, re.M):
        *sources, _dest = line.split()
        for source in sources:
            if source.startswith("--"):
                continue
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


# --- nginx -----------------------------------------------------------------------------


def test_nginx_conf_lists_every_web_service_as_an_upstream():
    text = NGINX_CONF.read_text(encoding="utf-8")
    upstream = re.search(r"upstream\s+(\w+)\s*\{([^}]*)\}", text)
    assert upstream, "nginx.conf has no upstream block"
    servers = set(re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstream.group(2), re.M))
    for name in web_services(load_compose()):
        assert (name, "8000") in servers, f"{name}:8000 missing from the upstream block"
    assert f"proxy_pass http://{upstream.group(1)}" in text


@pytest.mark.parametrize("conf", [NGINX_CONF, NGINX_LOOPBACK_CONF], ids=lambda p: p.name)
def test_nginx_proxies_websocket_upgrades_and_forwarded_headers(conf: Path):
    text = conf.read_text(encoding="utf-8")
    assert re.search(r"proxy_http_version\s+1\.1;", text)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", text)
    assert re.search(r"proxy_set_header\s+Connection\s+\$\w+;", text)
    assert re.search(r"map\s+\$http_upgrade\s+\$\w+", text)
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$\w+;", text)
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\$\w+;", text)
    assert re.search(r"proxy_set_header\s+Host\s+\$host;", text)
    ws = re.search(r"location\s+/ws/\s*\{([^}]*)\}", text)
    assert ws, "no location for /ws/"
    timeout = re.search(r"proxy_read_timeout\s+(\d+)([smh]?);", ws.group(1))
    assert timeout, "/ws/ needs a long proxy_read_timeout"
    seconds = int(timeout.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[timeout.group(2)]
    assert seconds >= 600


def test_loopback_conf_is_the_production_proxy_on_loopback_ports():
    prod = NGINX_CONF.read_text(encoding="utf-8")
    loop = NGINX_LOOPBACK_CONF.read_text(encoding="utf-8")
    assert shared_block(prod) == shared_block(loop), "keep the shared block identical"
    assert re.search(r"listen\s+127\.0\.0\.1:8100\b", loop)
    assert re.search(r"server\s+127\.0\.0\.1:8101\b", loop)
    assert re.search(r"server\s+127\.0\.0\.1:8102\b", loop)
    assert re.search(r"^pid\s+/tmp/", loop, re.M)
    assert re.search(r"^error_log\s+/tmp/", loop, re.M)


def test_nginx_accepts_the_loopback_conf(tmp_path: Path):
    # Checked as written, but with its /tmp files moved into tmp_path so the check never
    # touches the pid file or logs of a loopback proof that may be running.
    loopback_tmp = "/tmp/"  # noqa: S108 - the path written in the file, replaced here
    text = NGINX_LOOPBACK_CONF.read_text(encoding="utf-8").replace(loopback_tmp, f"{tmp_path}/")
    conf = tmp_path / "nginx.loopback.conf"
    conf.write_text(text, encoding="utf-8")
    result = nginx_test(conf, tmp_path)
    assert result.returncode == 0, result.stderr


def test_nginx_accepts_the_compose_conf_with_loopback_hosts(tmp_path: Path):
    # web1/web2 only resolve inside compose; everything else is checked as written.
    text = re.sub(
        r"^(\s*server\s+)[A-Za-z][\w-]*:(\d+)",
        r"\g<1>127.0.0.1:\2",
        NGINX_CONF.read_text(encoding="utf-8"),
        flags=re.M,
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    result = nginx_test(conf, tmp_path)
    assert result.returncode == 0, result.stderr


# --- .env.example and settings ---------------------------------------------------------


def test_env_example_is_production_shaped():
    active, _ = env_example_names()
    assert active.get("DJANGO_DEBUG") == "0"
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_CSRF_TRUSTED_ORIGINS"):
        assert active.get(name), f"{name} needs a value in .env.example"
    assert active.get("DJANGO_SSL_REDIRECT") in {"1", "true", "on", "yes"}
    assert active["DJANGO_CSRF_TRUSTED_ORIGINS"].startswith("https://")


def test_env_example_documents_every_variable_the_settings_read():
    if not settings_sources():
        pytest.skip("config/settings.py does not exist yet")
    names = settings_env_names()
    assert names, "found no environment reads in the settings: update ENV_READ_PATTERNS"
    _, documented = env_example_names()
    missing = sorted(names - documented)
    assert not missing, f"add these to .env.example: {missing}"


# --- CI --------------------------------------------------------------------------------


def test_ci_run_is_executable_and_runs_the_suite():
    assert os.access(CI_RUN, os.X_OK), ".ci/run must be executable"
    text = CI_RUN.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash") or text.startswith("#!/bin/bash")
    assert "set -euo pipefail" in text
    assert re.search(r"^\s*make test\b", text, re.M)
    assert re.search(r"^\s*make lint\b", text, re.M)
    assert re.search(r"^\s*make check-deploy\b", text, re.M)
    assert re.search(r"^\s*make audit\b", text, re.M), "known vulnerabilities fail CI"
    assert "export CI=true" in text
