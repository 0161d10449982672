"""The production deployment files: Dockerfile, docker-compose.yml, .dockerignore.

No Docker engine runs where the tests run, so nothing is built or started here. Instead the
compose file is rendered the way `docker compose config` renders it — by `docker compose`
itself when that plugin exists, else by `docker-compose`, else by a small interpolator below —
and the rendered services are checked against what the code needs: the five roles, secrets only
from the environment, the instance config from dagster.prod.yaml, durable volumes, start order,
and a gRPC workspace that Dagster itself accepts and that points at the code service. Both
instance configs are checked for run monitoring.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._core.workspace.load import location_origins_from_yaml_paths

from awan_pipelines.run_limits import DEMO_MAX_RUNTIME_S, INGEST_TODAY_MAX_RUNTIME_S
from awan_trading.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
AWAN_SERVICES = {"migrate", "code", "webserver", "daemon", "live", "telegram"}
SERVICES = AWAN_SERVICES | {"postgres", "db-init", "redis"}
# Unique values: finding one in a rendered file proves it came from the environment.
ENV = {
    "POSTGRES_PASSWORD": "pg-pw-from-env",
    "REDIS_PASSWORD": "redis-pw-from-env",
    "AWAN_EXCHANGE_API_KEY": "key-from-env",
    "AWAN_EXCHANGE_API_SECRET": "secret-from-env",
    "AWAN_TELEGRAM_TOKEN": "123:token-from-env",
}
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|_URL$")


class ComposeError(Exception):
    """Rendering the compose file failed (e.g. a required variable is unset)."""


def compose_tool() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose` (v1), whichever works here."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for tool in candidates:
        probe = subprocess.run([*tool, "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return tool
    return None


_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:-|:\?)?(?P<arg>[^}]*)\}")


def interpolate(value: object, env: Mapping[str, str]) -> object:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$` over a parsed file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$$"  # kept escaped, as `config` prints it
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name, "")
        if op == ":?" and not current:
            raise ComposeError(f"required variable {name} is missing a value: {arg}")
        return current or (arg if op == ":-" else "")

    return _VARIABLE.sub(substitute, value)


def render(env: Mapping[str, str], profiles: tuple[str, ...] = ()) -> dict:
    """The compose file as `config` renders it under exactly `env` (no `.env`, no shell vars),
    with the services of `profiles` enabled besides those without a profile."""
    tool = compose_tool()
    if tool is None:
        parsed = interpolate(yaml.safe_load(COMPOSE.read_text()), env)
        services = parsed["services"]  # type: ignore[index]
        for name in [n for n, s in services.items() if s.get("profiles")]:
            if not set(services[name]["profiles"]) & set(profiles):
                del services[name]
        return parsed  # type: ignore[return-value]
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "DOCKER_HOST"}}
    with tempfile.TemporaryDirectory() as scratch:
        empty_env_file = Path(scratch) / "empty.env"
        empty_env_file.write_text("")
        done = subprocess.run(
            [
                *tool,
                "--env-file",
                str(empty_env_file),
                "-f",
                str(COMPOSE),
                *(arg for p in profiles for arg in ("--profile", p)),
                "config",
            ],
            capture_output=True,
            text=True,
            env={**base, **env},
            cwd=ROOT,
            timeout=120,
        )
    if done.returncode != 0:
        raise ComposeError(done.stderr)
    return yaml.safe_load(done.stdout)


def environment(service: dict) -> dict[str, str]:
    """A service's environment as a dict (compose allows a list of `K=V` too)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def volume_mounts(service: dict) -> dict[str, str]:
    """target → source for a service's volumes, short or long syntax."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts[target] = source
    return mounts


def command(service: dict) -> list[str]:
    cmd = service.get("command")
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd or []]


def dockerfile_env() -> dict[str, str]:
    """The `ENV` values the Dockerfile sets (multi-line `ENV a=b \\` blocks included)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in line[4:].split()))
    return env


def dockerfile_heredoc(target: str) -> str:
    """The content of a `COPY <<EOF <target>` heredoc."""
    match = re.search(
        rf"^COPY <<EOF {re.escape(target)}\n(.*?)^EOF$", DOCKERFILE.read_text(), re.S | re.M
    )
    assert match, f"no COPY heredoc for {target} in the Dockerfile"
    return match.group(1)


@pytest.fixture(scope="module")
def rendered() -> dict:
    """Every role, the opt-in Telegram bot included (the celery workers have their own test)."""
    return render(ENV, profiles=("telegram",))


def test_compose_renders_every_role(rendered):
    assert set(rendered["services"]) == SERVICES
    images = {rendered["services"][s]["image"] for s in AWAN_SERVICES}
    assert len(images) == 1, "every awan role must run the same image"
    for name in AWAN_SERVICES:
        build = rendered["services"][name]["build"]
        assert (ROOT / build["context"]).resolve() == ROOT
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert "timescale" in rendered["services"]["postgres"]["image"]
    assert rendered["services"]["redis"]["image"].startswith("redis:")


def test_compose_refuses_to_render_without_the_required_passwords():
    for required in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        env = {k: v for k, v in ENV.items() if k != required}
        with pytest.raises(ComposeError, match=required):
            render(env)


def test_every_setting_and_secret_comes_from_the_environment(rendered):
    raw = COMPOSE.read_text()
    for value in ENV.values():
        assert value not in raw
    services = rendered["services"]
    for name in AWAN_SERVICES:
        env = environment(services[name])
        assert env["DAGSTER_PG_URL"] == (
            "postgresql+psycopg2://awan:pg-pw-from-env@postgres:5432/dagster"
        ), (
            "dagster-postgres needs the psycopg2 driver named (SQLAlchemy 2.1 defaults to psycopg 3, which it cannot use)"
        )
        assert env["AWAN_STORE_URL"] == "postgresql://awan:pg-pw-from-env@postgres:5432/awan"
        assert env["AWAN_REDIS_URL"] == "redis://:redis-pw-from-env@redis:6379/0"
        assert env["AWAN_EXCHANGE_API_KEY"] == ENV["AWAN_EXCHANGE_API_KEY"]
        assert env["AWAN_EXCHANGE_API_SECRET"] == ENV["AWAN_EXCHANGE_API_SECRET"]
        assert env["AWAN_TELEGRAM_TOKEN"] == ENV["AWAN_TELEGRAM_TOKEN"]
    assert environment(services["postgres"])["POSTGRES_PASSWORD"] == ENV["POSTGRES_PASSWORD"]
    # In the file itself, every secret-bearing value is an interpolation, never a literal.
    parsed = yaml.safe_load(raw)
    for name, service in parsed["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAMES.search(key):
                assert "${" in value, f"{name}.{key} must come from the environment"
            if "://" in value and "@" in value:
                assert re.search(r":\$\{(POSTGRES|REDIS)_PASSWORD:\?", value), f"{name}.{key}"


def test_awan_settings_in_compose_load_as_settings(rendered, monkeypatch):
    """The AWAN_* variables the services get are fields of `Settings` (which forbids unknown
    keys) with valid values: the containers would start, not die on a settings error."""
    for name in AWAN_SERVICES:
        awan_vars = {
            k: v
            for k, v in environment(rendered["services"][name]).items()
            if k.startswith("AWAN_")
        }
        fields = {f"AWAN_{field.upper()}" for field in Settings.model_fields}
        assert set(awan_vars) <= fields, set(awan_vars) - fields
        with monkeypatch.context() as patch:
            for key in [k for k in os.environ if k.startswith("AWAN_")]:
                patch.delenv(key)
            for key, value in awan_vars.items():
                patch.setenv(key, value)
            settings = load_settings()
        assert settings.resolved_store_url() == awan_vars["AWAN_STORE_URL"]
        assert set(settings.secret_values()) >= {
            ENV["POSTGRES_PASSWORD"],
            ENV["AWAN_EXCHANGE_API_KEY"],
        }


def test_the_instance_config_is_dagster_prod_yaml(rendered):
    image_env = dockerfile_env()
    home = image_env["DAGSTER_HOME"]
    assert re.search(
        r"^COPY dagster\.prod\.yaml \$\{DAGSTER_HOME\}/dagster\.yaml$",
        DOCKERFILE.read_text(),
        re.M,
    )
    for name in AWAN_SERVICES:
        assert environment(rendered["services"][name])["DAGSTER_HOME"] == home
    prod = yaml.safe_load((ROOT / "dagster.prod.yaml").read_text())
    assert prod["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert prod["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_the_grpc_workspace_points_at_the_code_service(rendered, tmp_path, monkeypatch):
    services = rendered["services"]
    workspace_path = "/opt/dagster/workspace.grpc.yaml"
    for role in ("webserver", "daemon"):
        assert command(services[role])[command(services[role]).index("--workspace") + 1] == (
            workspace_path
        )
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(dockerfile_heredoc(workspace_path))
    env = environment(services["webserver"])
    monkeypatch.setenv("DAGSTER_CODE_HOST", env["DAGSTER_CODE_HOST"])
    monkeypatch.setenv("DAGSTER_CODE_PORT", env["DAGSTER_CODE_PORT"])
    (origin,) = location_origins_from_yaml_paths([str(workspace)])
    assert isinstance(origin, GrpcServerCodeLocationOrigin)
    assert origin.host in services, "the workspace must name a compose service"
    assert origin.host == "code"
    code = command(services["code"])
    assert code[:3] == ["dagster", "code-server", "start"]
    assert int(code[code.index("--port") + 1]) == origin.port
    assert code[code.index("--location-name") + 1] == origin.location_name == "awan"
    module = code[code.index("--module-name") + 1]
    assert (ROOT / Path(*module.split("."))).with_suffix(".py").exists()
    assert "awan_pipelines.definitions" in (ROOT / "workspace.yaml").read_text()


def test_state_lives_in_named_volumes(rendered):
    services = rendered["services"]
    assert {"pgdata", "redisdata", "dagster-storage"} <= set(rendered["volumes"])
    assert volume_mounts(services["postgres"])["/var/lib/postgresql/data"] == "pgdata"
    assert volume_mounts(services["redis"])["/data"] == "redisdata"
    home = dockerfile_env()["DAGSTER_HOME"]
    # Runs execute in `code` and write compute logs; the webserver shows them: one volume.
    for role in ("code", "webserver", "daemon"):
        assert volume_mounts(services[role])[f"{home}/storage"] == "dagster-storage"


def test_services_start_in_dependency_order(rendered):
    services = rendered["services"]

    def needs(name: str) -> dict[str, str]:
        depends = services[name].get("depends_on") or {}
        return {k: v["condition"] for k, v in depends.items()}

    assert needs("db-init") == {"postgres": "service_healthy"}
    assert needs("migrate") == {"db-init": "service_completed_successfully"}
    assert needs("code") == {
        "migrate": "service_completed_successfully",
        "redis": "service_healthy",
    }
    assert needs("webserver") == {"code": "service_healthy"}
    assert needs("daemon") == {"code": "service_healthy"}
    assert command(services["migrate"]) == ["awan", "db", "migrate"]
    for name in ("postgres", "redis", "code", "webserver", "daemon"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    ports = services["webserver"]["ports"]
    published = json.dumps(ports)
    assert "3000" in published
    for name in SERVICES - {"webserver"}:
        assert not services[name].get("ports"), f"only the UI is published, not {name}"


def test_dockerfile_matches_the_project(rendered):
    text = DOCKERFILE.read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"].startswith(">=3.11")
    assert "ARG PYTHON_VERSION=3.11" in text
    assert re.search(r"^FROM python:\$\{PYTHON_VERSION\}-slim", text, re.M)
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv and f"ARG UV_VERSION={makefile_uv.group(1)}" in text
    syncs = re.findall(r"uv sync [^\n]*", text)
    assert syncs and all("--frozen" in s and "--no-default-groups" in s for s in syncs)
    # Nothing secret is baked into the image.
    for key in dockerfile_env():
        assert not SECRET_NAMES.search(key), f"the image must not set {key}"
    assert not re.search(r"^ARG \S*(PASSWORD|SECRET|TOKEN|KEY)", text, re.M)
    # What the image copies exists and is not excluded by .dockerignore.
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for sources in re.findall(r"^COPY (?!<<)(.+) \S+$", text, re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), source
            assert source not in ignored, f"{source} is copied but .dockerignore drops it"
    assert {".env", ".venv", ".git", ".awan"} <= ignored
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1] != "root"


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.prod.yaml"])
def test_run_monitoring_ends_crashed_runs_with_the_default_launcher(name):
    """A run whose process died must end, or it holds a queued-coordinator slot for good.

    Both instances launch with the DefaultRunLauncher, which has no worker health check and
    cannot resume a run: monitoring must be on, with resume attempts 0 (Dagster refuses to load
    an instance asking that launcher to resume), a start timeout, and a runtime backstop longer
    than any per-run limit awan sets.
    """
    config = yaml.safe_load((ROOT / name).read_text())
    launcher = config.get("run_launcher", {"class": "DefaultRunLauncher"})
    assert launcher["class"] == "DefaultRunLauncher"
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] is True
    assert monitoring["max_resume_run_attempts"] == 0
    assert 60 <= monitoring["start_timeout_seconds"] <= 600
    assert 0 < monitoring["poll_interval_seconds"] <= 120
    assert monitoring["max_runtime_seconds"] > max(INGEST_TODAY_MAX_RUNTIME_S, DEMO_MAX_RUNTIME_S)

    # The instance loads with it, and its daemon runs the monitoring loop. (Storage is the
    # test's own; the production file's PostgreSQL is checked elsewhere.)
    overrides = {k: v for k, v in config.items() if k in {"run_monitoring", "run_launcher"}}
    with dg.instance_for_test(overrides=overrides) as instance:
        assert instance.run_monitoring_enabled
        assert not instance.run_launcher.supports_resume_run
        assert not instance.run_launcher.supports_check_run_worker_health
        assert "MONITORING" in instance.get_required_daemon_types()


def test_the_live_loop_runs_in_sensor_mode_restarts_and_is_checked_by_its_heartbeat(rendered):
    live = rendered["services"]["live"]
    assert command(live)[:2] == ["awan", "live"]
    assert command(live)[command(live).index("--execution") + 1] == "sensor"
    assert live["restart"] == "unless-stopped"
    check = [str(c) for c in live["healthcheck"]["test"]]
    assert check[:3] == ["CMD", "awan", "heartbeat"] and "--max-age" in check
    # the health check's limit leaves room for the loop's slowest wake-up (a 5 s tick)
    assert float(check[check.index("--max-age") + 1]) >= 60
    assert (
        environment(live)["AWAN_STORE_URL"]
        == environment(rendered["services"]["code"])["AWAN_STORE_URL"]
    )
    assert {"migrate", "redis"} <= set(live["depends_on"])


def published_ports(service: dict) -> list[tuple[str, str, str]]:
    """(host ip, published port, container port) of each `ports` entry, short or long syntax."""
    ports = []
    for entry in service.get("ports", []):
        if isinstance(entry, str):
            host_ip, published, target = entry.rsplit(":", 2)
        else:
            host_ip, published, target = (
                entry.get("host_ip", ""),
                entry["published"],
                entry["target"],
            )
        ports.append((host_ip, str(published), str(target)))
    return ports


def test_the_webserver_is_published_on_loopback_only_by_default(rendered):
    assert published_ports(rendered["services"]["webserver"]) == [("127.0.0.1", "3000", "3000")]
    # Wider exposure is an explicit choice in `.env`.
    opened = render({**ENV, "WEBSERVER_BIND": "0.0.0.0", "WEBSERVER_PORT": "8080"})
    assert published_ports(opened["services"]["webserver"]) == [("0.0.0.0", "8080", "3000")]


def compose_variables() -> set[str]:
    """Every `${VAR…}` docker-compose.yml reads."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE.read_text()))


def env_example() -> dict[str, str]:
    """`.env.example`'s `VAR=value` lines, commented-out ones included (optional settings are
    listed commented, with compose's default, so a copy changes nothing until edited)."""
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            pairs[match.group(1)] = match.group(2).strip()
    return pairs


def test_env_example_lists_every_variable_compose_reads_and_no_secret():
    example = env_example()
    assert set(example) == compose_variables()
    for name, value in example.items():
        if SECRET_NAMES.search(name):
            assert value == "", f".env.example must not hold a value for {name}"
    # What compose requires is set (uncommented) in the example, so a copy fails loudly.
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert required == {line.split("=")[0] for line in lines if re.match(r"[A-Z_]+=", line)}


def test_redis_runs_with_the_repository_redis_conf(rendered):
    redis_service = rendered["services"]["redis"]
    mounts = {}
    for volume in redis_service["volumes"]:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts[target] = source
    conf_path = "/usr/local/etc/redis/redis.conf"
    assert Path(mounts[conf_path]).name == "redis.conf"
    assert (ROOT / "redis.conf").exists()
    script = command(redis_service)[-1]
    assert f"redis-server {conf_path}" in script
    assert "--requirepass" in script and "REDIS_PASSWORD" in script
    assert "appendonly" not in script, "persistence settings belong in redis.conf"
    conf = dict(
        line.split(None, 1)
        for line in (ROOT / "redis.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert conf["maxmemory-policy"].startswith("volatile-")
    assert conf["appendonly"] == "yes" and conf["appendfsync"] == "everysec"
    # Its files go to the image's working directory, /data: the durable volume.
    assert "dir" not in conf and mounts["/data"] == "redisdata"
    assert "requirepass" not in conf, "the password comes from the environment, never a file"


def test_the_celery_profile_adds_workers_like_the_code_location():
    assert "celery-worker" not in render(ENV)["services"], "workers are opt-in"
    services = render(ENV, profiles=("celery",))["services"]
    assert set(services) == (SERVICES - {"telegram"}) | {"celery-worker"}
    worker, code = services["celery-worker"], services["code"]
    assert worker["image"] == code["image"]
    assert environment(worker) == environment(code)
    broker = environment(worker)["DAGSTER_CELERY_BROKER_URL"]
    assert broker == "redis://:redis-pw-from-env@redis:6379/1", "its own database beside the cache"
    assert environment(code)["AWAN_REDIS_URL"].endswith("/0")
    assert command(worker)[:4] == ["celery", "-A", "awan_pipelines.celery_app", "worker"]
    assert (ROOT / "awan_pipelines" / "celery_app.py").exists()
    assert volume_mounts(worker) == volume_mounts(code), "compute logs on the shared volume"
    assert int(worker["deploy"]["replicas"]) == 2
    assert not worker.get("ports")
    assert {"migrate", "redis"} <= set(worker["depends_on"])
    assert worker["healthcheck"]["test"]
    scaled = render({**ENV, "CELERY_WORKERS": "5"}, profiles=("celery",))
    assert int(scaled["services"]["celery-worker"]["deploy"]["replicas"]) == 5


def test_helm_values_run_the_code_location_with_the_k8s_run_launcher():
    """deploy/helm/values.yaml, for Dagster's chart: it parses, points at the one code location,
    launches a pod per run, keeps dagster.prod.yaml's queue limits and driver, holds no secret."""
    text = (ROOT / "deploy" / "helm" / "values.yaml").read_text()
    values = yaml.safe_load(text)
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    module = args[args.index("--module-name") + 1]
    assert module == "awan_pipelines.definitions"
    assert (ROOT / Path(*module.split("."))).with_suffix(".py").exists()
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    secrets = {s["name"] for s in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]}
    assert secrets == {s["name"] for s in deployment["envSecrets"]}
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert "postgresqlPassword" not in values["postgresql"]
    prod = yaml.safe_load((ROOT / "dagster.prod.yaml").read_text())["run_coordinator"]["config"]
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == prod["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == prod["tag_concurrency_limits"]
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    for variable in deployment.get("env", []):
        assert not SECRET_NAMES.search(variable["name"]), f"{variable['name']}: use the Secret"
    assert not re.search(r"://[^/\s:]+:[^@\s…]+@", text), "no credentials in URLs"


def test_the_telegram_bot_is_opt_in_polls_the_loops_store_and_reads_its_settings():
    assert "telegram" not in render(ENV)["services"], "the bot is opt-in"
    rendered = render(ENV, profiles=("telegram",))
    services = rendered["services"]
    bot = services["telegram"]
    assert command(bot) == ["awan", "telegram", "bot"]
    assert bot["profiles"] == ["telegram"]  # no token, no bot: started only when asked for
    assert bot["restart"] == "unless-stopped" and "ports" not in bot  # long polling: no port
    env = environment(bot)
    assert env["AWAN_STORE_URL"] == environment(services["live"])["AWAN_STORE_URL"]
    assert env["AWAN_TELEGRAM_TOKEN"] == ENV["AWAN_TELEGRAM_TOKEN"]
    assert env["AWAN_TELEGRAM_API_URL"] == "https://api.telegram.org/bot"
    assert "AWAN_TELEGRAM_CHAT_IDS" in env
    home = dockerfile_env()["AWAN_HOME"]
    assert volume_mounts(bot)[home] == volume_mounts(services["live"])[home] == "awan-home"
    assert set(bot["depends_on"]) == {"migrate"}
