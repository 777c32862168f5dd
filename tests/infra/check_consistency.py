#!/usr/bin/env python3
"""Cross-file consistency of the deployment artifacts.

Usage: check_consistency.py CHECK [args]
  env-task CONFIG        config vars == task definition environment + secrets
  env-systemd CONFIG     config vars == env example keys + unit Environment=
  env-guide CONFIG       config vars == the guide's environment table
  secrets-guide          the guide's secrets table == the task's secrets
  commands-guide HELP    the guide's subcommand table == `deploy-ocr-gpu.sh help`
  dockerfile CONFIG      Dockerfile settings (users, ENV, HEALTHCHECK, ENTRYPOINT...)
  packages BUILD RUNTIME the Dockerfile's apt lists == infra/docker/packages.mk
                         == the lists `make print-IMAGE_*_PKGS` printed (files)
  image-versions VERSIONS  the image's Debian release and pinned OCR packages ==
                         the test machine's (VERSIONS: `dpkg-query -W` output
                         and a line "debian <version>" from /etc/debian_version)

CONFIG is a file holding the output of `build/bin/filot-ocr config`
(NAME<TAB>DEFAULT<TAB>DESCRIPTION per line): the daemon's own list of the
variables it reads.  Differences are printed; exit 1 when there are any.
"""
import json
import os
import re
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASK = "infra/ecs/task-ocr-gpu.json"
UNIT = "infra/systemd/filot-ocrd.service"
ENV_EXAMPLE = "infra/systemd/filot-ocrd.env.example"
GUIDE = "doc/T7C_GPU_OCR_DEPLOYMENT.md"
DOCKERFILE = "infra/docker/Dockerfile.gpu"
PACKAGES_MK = "infra/docker/packages.mk"

# Read by the daemon but deliberately absent from the task definition.
TASK_NOT_SET = {
    # The ECS agent sets it to the GPU(s) assigned through resourceRequirements;
    # a value in the task definition would override that assignment.
    "NVIDIA_VISIBLE_DEVICES",
    # Internal: filot-ocr (the CLI) sets it for its private instance;
    # production takes jobs from Redis.
    "OCR_JOB_SOURCE",
}
# In the task definition although the daemon's config table does not list them.
TASK_EXTRA = {
    # Injected as a secret for compatibility with the original task
    # definitions (doc/COMPATIBILITY.md 10.2); filot-ocrd does not read it.
    "BULI2_CALLBACK_URL",
    # Read by libgomp inside Tesseract, not by the config table (the
    # supervisor also forces it into its children's environment).
    "OMP_THREAD_LIMIT",
}
SYSTEMD_NOT_SET = {"OCR_JOB_SOURCE"}  # as above
SYSTEMD_EXTRA = {"OMP_THREAD_LIMIT"}  # as above (unit Environment=)
# Values that differ on purpose between the ECS task and on-prem hosts.
PER_DEPLOYMENT = {
    # ECS probes /health with curl inside the container and reads metrics
    # from EMF log lines, so it binds loopback; on-prem Prometheus scrapes
    # /metrics over the network.
    "OCR_HEALTH_BIND",
}
# The guide also documents the variables the image sets for the CUDA
# runtime and the clock, and the compatibility secret.
GUIDE_EXTRA = {"BULI2_CALLBACK_URL", "OMP_THREAD_LIMIT", "TZ", "NVIDIA_DRIVER_CAPABILITIES"}
# ENV the Dockerfile may set besides config variables.
DOCKERFILE_EXTRA = {"OMP_THREAD_LIMIT", "TZ", "NVIDIA_DRIVER_CAPABILITIES"}

problems = []


def fail(msg):
    problems.append(msg)


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def config_vars(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not re.fullmatch(r"[A-Z][A-Z0-9_]*", parts[0]):
                fail(f"unexpected line in `filot-ocr config` output: {line!r}")
                continue
            out[parts[0]] = parts[1]
    if not out:
        fail("`filot-ocr config` printed no variables")
    return out


def compare(label, have, want):
    missing, extra = sorted(want - have), sorted(have - want)
    if missing:
        fail(f"{label}: missing {', '.join(missing)}")
    if extra:
        fail(f"{label}: not read by the daemon (and not allowlisted): {', '.join(extra)}")


def task_container():
    return json.loads(read(TASK))["containerDefinitions"][0]


def task_env():
    return {e["name"]: e["value"] for e in task_container().get("environment", [])}


def task_secrets():
    return {s["name"]: s["valueFrom"] for s in task_container().get("secrets", [])}


def env_example():
    """NAME=value and #NAME=value (documented optional) lines."""
    out = {}
    for line in read(ENV_EXAMPLE).splitlines():
        m = re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            if m.group(1) in out:
                fail(f"{ENV_EXAMPLE}: {m.group(1)} listed twice")
            out[m.group(1)] = (m.group(2), line.startswith("#"))
    return out


def unit_environment():
    out = {}
    for line in read(UNIT).splitlines():
        m = re.match(r"^Environment=(.*)$", line)
        if m:
            for word in shlex.split(m.group(1)):
                k, _, v = word.partition("=")
                out[k] = v
    return out


def guide_table(heading):
    """Rows (lists of cells) of the first table after the heading line."""
    lines = read(GUIDE).splitlines()
    try:
        i = next(n for n, l in enumerate(lines) if l.strip() == heading)
    except StopIteration:
        fail(f"{GUIDE}: heading {heading!r} not found")
        return []
    rows = []
    for line in lines[i + 1:]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    if len(rows) < 3:
        fail(f"{GUIDE}: no table under {heading!r}")
        return []
    return rows[2:]  # header and separator


def first_col_names(rows, heading):
    names = []
    for r in rows:
        m = re.fullmatch(r"`([^`]+)`", r[0])
        if not m:
            fail(f"{GUIDE} {heading}: first cell {r[0]!r} is not a `name`")
            continue
        names.append(m.group(1))
    if len(names) != len(set(names)):
        fail(f"{GUIDE} {heading}: duplicate rows")
    return names


def check_env_task(cfg_path):
    cfg = set(config_vars(cfg_path))
    env, sec = task_env(), task_secrets()
    compare(f"{TASK} environment+secrets", set(env) | set(sec),
            (cfg - TASK_NOT_SET) | TASK_EXTRA)
    for name in TASK_NOT_SET & (set(env) | set(sec)):
        fail(f"{TASK}: {name} must not be set in the task definition")


def check_env_systemd(cfg_path):
    cfg = set(config_vars(cfg_path))
    ex, unit = env_example(), unit_environment()
    both = set(ex) & set(unit)
    if both:
        fail(f"set in both the unit and the env example: {sorted(both)}")
    compare(f"{ENV_EXAMPLE} + {UNIT} Environment=", set(ex) | set(unit),
            (cfg - SYSTEMD_NOT_SET) | SYSTEMD_EXTRA)
    # One production value everywhere (doc/COMPATIBILITY.md B12): non-secret
    # values of the env example equal the task definition's.
    env = task_env()
    for name, (value, commented) in ex.items():
        if name in env and not commented and env[name] != value and name not in PER_DEPLOYMENT:
            fail(f"{name}: env example says {value!r}, task definition {env[name]!r}")
    for name, value in unit.items():
        if name in env and env[name] != value:
            fail(f"{name}: unit says {value!r}, task definition {env[name]!r}")
    drain = int(ex.get("OCR_DRAIN_TIMEOUT_MS", ("30000", False))[0])
    m = re.search(r"^TimeoutStopSec=(\d+)s?$", read(UNIT), re.M)
    if not m or int(m.group(1)) * 1000 < drain + 10000:
        fail(f"TimeoutStopSec must exceed OCR_DRAIN_TIMEOUT_MS ({drain} ms) by >= 10 s")


def check_env_guide(cfg_path):
    cfg = set(config_vars(cfg_path))
    heading = "## Environment variables"
    rows = guide_table(heading)
    names = first_col_names(rows, heading)
    compare(f"{GUIDE} {heading} table", set(names), cfg | GUIDE_EXTRA)
    # third column: the value in the task definition ("secret", "-" or `value`)
    env, sec = task_env(), task_secrets()
    for r in rows:
        name = r[0].strip("`")
        if len(r) < 3:
            fail(f"{GUIDE}: row {name} has fewer than 3 columns")
            continue
        cell = r[2]
        if name in sec:
            if "secret" not in cell.lower():
                fail(f"{GUIDE}: {name} comes from Secrets Manager, the table says {cell!r}")
        elif name in env:
            if cell != f"`{env[name]}`":
                fail(f"{GUIDE}: {name} ECS value {cell!r}, task definition `{env[name]}`")
        elif cell not in ("-", "—", "(not set)") and not cell.startswith("(not set"):
            fail(f"{GUIDE}: {name} is not in the task definition, the table says {cell!r}")


def check_secrets_guide():
    heading = "## Secrets"
    rows = guide_table(heading)
    names = first_col_names(rows, heading)
    sec = task_secrets()
    compare(f"{GUIDE} {heading} table", set(names), set(sec))
    for r in rows:
        name = r[0].strip("`")
        if name in sec and len(r) > 1:
            sid = sec[name].split(":secret:", 1)[-1]
            if r[1] != f"`{sid}`":
                fail(f"{GUIDE}: secret {name} is {r[1]!r} in the guide, `{sid}` in the task")


def help_commands(path):
    cmds, inside = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("Commands:"):
                inside = True
                continue
            if inside:
                m = re.match(r"^  ([a-z][a-z-]*)\s{2,}", line)
                if not m:
                    break
                cmds.append(m.group(1))
    if not cmds:
        fail("`deploy-ocr-gpu.sh help` lists no commands")
    return cmds


def check_commands_guide(help_path):
    heading = "### deploy-ocr-gpu.sh subcommands"
    names = first_col_names(guide_table(heading), heading)
    cmds = help_commands(help_path)
    if names != cmds:
        fail(f"guide subcommands {names} != help output {cmds} (same order expected)")
    required = {"build", "push", "register", "update", "all", "rollback", "help"}
    if not required <= set(cmds):
        fail(f"deploy-ocr-gpu.sh lacks {sorted(required - set(cmds))}")


# --- Dockerfile -----------------------------------------------------------------


def dockerfile_instructions():
    """(stage, INSTRUCTION, argument text) with continuations joined."""
    out, stage, buf = [], None, ""
    for raw in read(DOCKERFILE).splitlines():
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.I)
            stage = m.group(1) if m else rest.strip()
        out.append((stage, word, rest.strip()))
        buf = ""
    return out


def apt_packages(text):
    pkgs = []
    for cmd in re.split(r"&&|;", text):
        toks = shlex.split(cmd)
        if len(toks) >= 2 and toks[0] == "apt-get" and "install" in toks:
            pkgs += [t for t in toks[toks.index("install") + 1:] if not t.startswith("-")]
    return pkgs


def package_name(spec):
    """apt's "name=version" -> name."""
    return spec.split("=", 1)[0]


def mk_lists():
    text = read(PACKAGES_MK).replace("\\\n", " ")
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(IMAGE_[A-Z_]+)\s*:?=\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).split()
    return out


def check_packages(build_print, runtime_print):
    mk = mk_lists()
    stages = {}
    for stage, word, rest in dockerfile_instructions():
        if word == "RUN":
            pk = apt_packages(rest)
            if pk:
                stages.setdefault(stage, []).extend(package_name(p) for p in pk)
                if "--no-install-recommends" not in rest:
                    fail(f"stage {stage}: apt-get install without --no-install-recommends")
                if "rm -rf /var/lib/apt/lists/*" not in rest:
                    fail(f"stage {stage}: apt lists not removed in the same RUN")
    for stage, var, printed in (("build", "IMAGE_BUILD_PKGS", build_print),
                                ("runtime", "IMAGE_RUNTIME_PKGS", runtime_print)):
        want = mk.get(var)
        if want is None:
            fail(f"{PACKAGES_MK}: {var} not defined")
            continue
        have = stages.get(stage, [])
        if len(have) != len(set(have)):
            fail(f"stage {stage}: duplicate packages")
        if set(have) != set(want):
            fail(f"stage {stage} installs {sorted(set(have) - set(want))} not in {var}, "
                 f"lacks {sorted(set(want) - set(have))}")
        with open(printed, encoding="utf-8") as f:
            made = f.read().split()
        if made != want:
            fail(f"`make print-{var}` gives {made}, {PACKAGES_MK} says {want}"
                 " (is packages.mk included by the Makefile?)")


def check_dockerfile(cfg_path):
    cfg = set(config_vars(cfg_path))
    ins = dockerfile_instructions()
    text = read(DOCKERFILE)
    args = {rest.split("=", 1)[0]: rest.split("=", 1)[1] for s, w, rest in ins
            if w == "ARG" and s is None and "=" in rest}
    if not re.fullmatch(r"debian:12(\.\d+)?-slim", args.get("DEBIAN_IMAGE", "")):
        fail("ARG DEBIAN_IMAGE must default to a Debian 12 slim image (the tested release)")
    froms = [(s, rest) for s, w, rest in ins if w == "FROM"]
    if [s for s, _ in froms] != ["build", "runtime"]:
        fail(f"stages must be build, runtime; got {[s for s, _ in froms]}")
    for stage, rest in froms:
        if not rest.startswith("${DEBIAN_IMAGE} "):
            fail(f"stage {stage} must start FROM ${{DEBIAN_IMAGE}}, not {rest}")
    if 'make -j"$(nproc)" all CUDA_HOME=/usr/local/cuda' not in text:
        fail('build stage must run make -j"$(nproc)" all CUDA_HOME=/usr/local/cuda')
    final = [(w, rest) for s, w, rest in ins if s == "runtime"]
    env = {}
    for w, rest in final:
        if w == "ENV":
            for word in shlex.split(rest):
                k, _, v = word.partition("=")
                env[k] = v
    want_env = {"OMP_THREAD_LIMIT": "1", "NVIDIA_VISIBLE_DEVICES": "all",
                "NVIDIA_DRIVER_CAPABILITIES": "compute,utility", "OCR_GPU_ENABLED": "true",
                "TZ": "Asia/Jakarta"}
    for k, v in want_env.items():
        if env.get(k) != v:
            fail(f"ENV {k} must be {v!r}, got {env.get(k)!r}")
    unknown = set(env) - cfg - DOCKERFILE_EXTRA
    if unknown:
        fail(f"Dockerfile ENV not read by the daemon: {sorted(unknown)}")
    last = {}
    for w, rest in final:
        last[w] = rest
    if last.get("USER") != "filot":
        fail("USER must be filot")
    if last.get("ENTRYPOINT") != '["/usr/local/bin/filot-ocrd"]':
        fail('ENTRYPOINT must be ["/usr/local/bin/filot-ocrd"] (exec form, no shell)')
    if "CMD" in last:
        fail("no CMD: filot-ocrd takes no arguments")
    if last.get("STOPSIGNAL") != "SIGTERM":
        fail("STOPSIGNAL must be SIGTERM")
    if last.get("EXPOSE") != "8080":
        fail("EXPOSE must be 8080")
    hc = last.get("HEALTHCHECK", "")
    for opt in ("--interval=30s", "--timeout=10s", "--start-period=60s", "--retries=3"):
        if opt not in hc:
            fail(f"HEALTHCHECK lacks {opt}")
    if "http://127.0.0.1:8080/health" not in hc or "curl -f" not in hc:
        fail("HEALTHCHECK must curl -f the /health endpoint on 8080")
    if not re.search(r"groupadd --system --gid 1000 filot", text) or \
            not re.search(r"useradd --system --uid 1000 --gid filot", text):
        fail("user/group filot must be system accounts with uid/gid 1000")
    if "COPY --from=build /src/build/bin/ /usr/local/bin/" not in text:
        fail("runtime stage must copy build/bin/ to /usr/local/bin/")


# The OCR stack whose exact build the tests exercise: the image must pin it.
PINNED_REQUIRED = {"tesseract-ocr", "libtesseract5", "liblept5", "libnng1",
                   "tesseract-ocr-eng", "tesseract-ocr-ind"}


def image_pins():
    """{package: version} of the runtime stage's apt-get install pins."""
    pins = {}
    for stage, word, rest in dockerfile_instructions():
        if stage == "runtime" and word == "RUN":
            for spec in apt_packages(rest):
                if "=" in spec:
                    name, version = spec.split("=", 1)
                    pins[name] = version
    return pins


def check_image_versions(versions_path):
    tested, debian = {}, None
    with open(versions_path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "debian":
                debian = parts[1]
            elif len(parts) == 2:
                tested[parts[0].split(":")[0]] = parts[1]
    if debian is None:
        fail(f"{versions_path}: no 'debian <version>' line")
        return
    args = {rest.split("=", 1)[0]: rest.split("=", 1)[1] for s, w, rest in dockerfile_instructions()
            if w == "ARG" and s is None and "=" in rest}
    m = re.fullmatch(r"debian:(\d+)(?:\.(\d+))?-slim", args.get("DEBIAN_IMAGE", ""))
    if not m:
        fail("ARG DEBIAN_IMAGE is not a debian:N[.M]-slim image")
    elif m.group(1) != debian.split(".")[0]:
        fail(f"image is Debian {m.group(1)}, the tests run on Debian {debian}")
    pins = image_pins()
    for name in sorted(PINNED_REQUIRED - set(pins)):
        fail(f"the runtime stage does not pin {name} to the tested version")
    for name, version in sorted(pins.items()):
        if name not in tested:
            fail(f"{name} is pinned in the image but not installed on the test machine")
        elif tested[name] != version:
            fail(f"{name}: image pins {version}, the tests run {tested[name]}")
    if not problems:
        print(f"image: Debian {m.group(1) if m else '?'} like the test machine ({debian}); "
              + ", ".join(f"{n} {v}" for n, v in sorted(pins.items())))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    check, rest = sys.argv[1], sys.argv[2:]
    fn = {"env-task": check_env_task, "env-systemd": check_env_systemd,
          "env-guide": check_env_guide, "secrets-guide": check_secrets_guide,
          "commands-guide": check_commands_guide, "dockerfile": check_dockerfile,
          "packages": check_packages, "image-versions": check_image_versions}.get(check)
    if fn is None:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        fn(*rest)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        fail(f"{type(e).__name__}: {e}")
    for p in problems:
        print(f"{check}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
