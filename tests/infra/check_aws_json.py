#!/usr/bin/env python3
"""Validates the deployment JSON against the AWS API models that botocore
ships, then asserts the project's semantics.

Usage: check_aws_json.py KIND [--emf-summary FILE] [--file FILE]
  task        infra/ecs/task-ocr-gpu.json     ecs RegisterTaskDefinition
  cluster     infra/ecs/cluster.json          ecs CreateCluster
  service     infra/ecs/service-ocr-gpu.json  ecs CreateService
  autoscaling infra/ecs/autoscaling-ocr-gpu.json
              application-autoscaling RegisterScalableTarget + PutScalingPolicy
  alarms      alerts/cloudwatch-alarms.json   cloudwatch PutMetricAlarm
  metrics     alarms + scaling policy metrics in the EMF namespace must be
              emitted (names, units, dimensions) as in --emf-summary (written
              by check_emf.py --summary from a real EMF line)

ParamValidator catches wrong types, unknown keys, missing required members
and range/length violations; it does not check enums, so walk() does.
Exit 0 when valid; otherwise every problem is printed and exit 1.
"""
import argparse
import json
import os
import re
import sys

import botocore.session
from botocore.validate import ParamValidator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCOUNT = "070017891928"
REGION = "ap-southeast-2"
CLUSTER = "filot-ocr-gpu-cluster"
SERVICE = "filot-ocr-gpu-service"
FAMILY = "filot-ocr-gpu-worker"
EMF_NS = "FiLot/OCR"
# Secrets Manager names of the original (doc/COMPATIBILITY.md 10.2) + BULI2_API_KEY.
SECRETS = {
    "DATABASE_URL": "database-url",
    "REDIS_URL": "redis-url",
    "REDIS_PASSWORD": "redis-password",
    "CF_R2_ENDPOINT": "cf-r2-endpoint",
    "CF_R2_ACCESS_KEY_ID": "cf-r2-access-key",
    "CF_R2_SECRET_ACCESS_KEY": "cf-r2-secret-key",
    "CF_R2_BUCKET_NAME": "cf-r2-bucket",
    "BULI2_API_URL": "buli2-api-url",
    "BULI2_CALLBACK_URL": "buli2-callback-url",
    "BULI2_API_KEY": "buli2-api-key",
}

problems = []


def fail(msg):
    problems.append(msg)


def expect(cond, msg):
    if not cond:
        fail(msg)


OVERRIDE = {}  # rel path -> file given with --file (self-tests of this checker)


def load(rel):
    with open(OVERRIDE.get(rel, os.path.join(ROOT, rel)), encoding="utf-8") as f:
        return json.load(f)


_session = botocore.session.get_session()


def model(service):
    return _session.get_service_model(service)


def walk(shape, value, path):
    """Checks enum members everywhere below shape (ParamValidator does not)."""
    if shape is None:
        return
    if shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                walk(shape.members[k], v, f"{path}.{k}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            walk(shape.member, v, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            walk(shape.key, k, f"{path} key {k!r}")
            walk(shape.value, v, f"{path}[{k!r}]")
    elif shape.type_name == "string" and isinstance(value, str) and shape.enum:
        if value not in shape.enum:
            fail(f"{path}: {value!r} is not one of {sorted(shape.enum)}")


def validate(service, operation, params, label):
    shape = model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        fail(f"{label}: {service} {operation} model:\n{report.generate_report()}")
    walk(shape, params, label)


# --- ECS ---------------------------------------------------------------------


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def check_task():
    t = load("infra/ecs/task-ocr-gpu.json")
    validate("ecs", "RegisterTaskDefinition", t, "task")
    expect(t.get("family") == FAMILY, "family must be filot-ocr-gpu-worker")
    expect(t.get("requiresCompatibilities") == ["EC2"], "requiresCompatibilities must be [EC2]")
    expect(t.get("networkMode") == "awsvpc", "networkMode must be awsvpc")
    expect(t.get("cpu") == "2048" and t.get("memory") == "8192", "task cpu/memory must be 2048/8192")
    expect(t.get("taskRoleArn") == f"arn:aws:iam::{ACCOUNT}:role/filot-ecs-task-role", "taskRoleArn")
    expect(t.get("executionRoleArn") == f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
           "executionRoleArn")
    expect({"type": "memberOf", "expression": "attribute:ecs.instance-type =~ g5.*"}
           in t.get("placementConstraints", []), "placement must be memberOf g5.*")
    tags = {x["key"]: x["value"] for x in t.get("tags", [])}
    for k in ("Project", "Component", "Environment", "Tranche"):
        expect(k in tags, f"tag {k} missing")
    cds = t.get("containerDefinitions", [])
    expect(len(cds) == 1, "exactly one container")
    if not cds:
        return
    c = cds[0]
    expect(c.get("name") == FAMILY, "container name must be filot-ocr-gpu-worker")
    expect(c.get("image") == "${ECR_REGISTRY}/${ECR_REPOSITORY}:${IMAGE_TAG}",
           "image must be the ${ECR_REGISTRY}/${ECR_REPOSITORY}:${IMAGE_TAG} placeholder")
    expect(c.get("essential") is True, "container must be essential")
    expect(c.get("memoryReservation") == 4096, "memoryReservation must be 4096")
    expect(c.get("resourceRequirements") == [{"type": "GPU", "value": "1"}],
           "resourceRequirements must be exactly one GPU")
    lp = c.get("linuxParameters", {})
    expect(lp.get("sharedMemorySize") == 2048, "linuxParameters.sharedMemorySize must be 2048")
    expect(lp.get("initProcessEnabled") is False,
           "initProcessEnabled must be false (filot-ocrd is PID-1 safe)")
    # least privilege (issue 9): read-only root, tmpfs where the daemon writes
    expect(c.get("readonlyRootFilesystem") is True, "readonlyRootFilesystem must be true")
    tmpfs = {m.get("containerPath"): m for m in lp.get("tmpfs", [])}
    env0 = env_of(c)
    for path in (env0.get("OCR_RUNTIME_DIR", "/run/filot-ocrd"), "/tmp"):
        expect(path in tmpfs, f"linuxParameters.tmpfs must mount {path} (read-only root)")
    rt = tmpfs.get(env0.get("OCR_RUNTIME_DIR", "/run/filot-ocrd"), {})
    expect({"uid=1000", "gid=1000", "mode=0700"} <= set(rt.get("mountOptions", [])),
           "the runtime-dir tmpfs must belong to the filot user (uid=1000, gid=1000, mode=0700)")
    expect(env0.get("OCR_SECCOMP", "on") != "off", "OCR_SECCOMP must not be off in production")
    ul = {u["name"]: (u["softLimit"], u["hardLimit"]) for u in c.get("ulimits", [])}
    expect(ul.get("nofile") == (65535, 65535), "ulimit nofile 65535")
    expect(ul.get("memlock") == (-1, -1), "ulimit memlock -1")
    env = env_of(c)
    port = int(env.get("HEALTH_PORT", "8080"))
    expect(port == 8080, "HEALTH_PORT must be 8080")
    expect(any(p.get("containerPort") == port and p.get("protocol", "tcp") == "tcp"
               for p in c.get("portMappings", [])), "portMappings must expose 8080/tcp")
    hc = c.get("healthCheck", {})
    expect(hc.get("command") == ["CMD-SHELL", f"curl -f http://localhost:{port}/health || exit 1"],
           "healthCheck must curl -f /health on the health port")
    expect((hc.get("interval"), hc.get("timeout"), hc.get("retries"), hc.get("startPeriod"))
           == (30, 10, 3, 60), "healthCheck interval/timeout/retries/startPeriod 30/10/3/60")
    drain_ms = int(env.get("OCR_DRAIN_TIMEOUT_MS", "30000"))
    stop = c.get("stopTimeout", 30)
    expect(stop <= 120, "stopTimeout above 120 s is rejected on EC2")
    expect(stop * 1000 >= drain_ms + 10000,
           f"stopTimeout {stop}s must exceed OCR_DRAIN_TIMEOUT_MS {drain_ms} by >= 10 s")
    shm = env.get("OCR_SHM_SIZE", "2G")
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", shm)
    expect(m is not None, f"OCR_SHM_SIZE {shm!r} unparsable")
    if m:
        mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
        expect(int(m.group(1)) * mult < lp.get("sharedMemorySize", 0) << 20,
               "OCR_SHM_SIZE must leave headroom below sharedMemorySize (/dev/shm)")
    expect("NVIDIA_VISIBLE_DEVICES" not in env,
           "NVIDIA_VISIBLE_DEVICES must not be set: the ECS agent assigns the GPU through it")
    expect(env.get("OMP_THREAD_LIMIT") == "1", "OMP_THREAD_LIMIT must be 1")
    expect(env.get("OCR_GPU_ENABLED") == "true", "OCR_GPU_ENABLED must be true")
    expect(env.get("OCR_RUNTIME_DIR") == "/run/filot-ocrd", "OCR_RUNTIME_DIR /run/filot-ocrd")
    lc = c.get("logConfiguration", {})
    expect(lc.get("logDriver") == "awslogs", "logDriver awslogs")
    expect(lc.get("options") == {"awslogs-group": "/ecs/filot-ocr-gpu-worker",
                                 "awslogs-region": REGION, "awslogs-stream-prefix": "ecs",
                                 "awslogs-create-group": "true"}, "awslogs options")
    secrets = {s["name"]: s["valueFrom"] for s in c.get("secrets", [])}
    expect(set(secrets) == set(SECRETS),
           f"secrets must be exactly {sorted(SECRETS)}, got {sorted(secrets)}")
    for name, sid in SECRETS.items():
        want = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:filot/{sid}"
        expect(secrets.get(name, want) == want, f"secret {name} must come from {want}")
    expect(not set(env) & set(secrets), f"both env and secret: {sorted(set(env) & set(secrets))}")
    names = [e["name"] for e in c.get("environment", [])]
    expect(len(names) == len(set(names)), "duplicate environment names")


def check_cluster():
    c = load("infra/ecs/cluster.json")
    validate("ecs", "CreateCluster", c, "cluster")
    expect(c.get("clusterName") == CLUSTER, "clusterName")
    expect({"name": "containerInsights", "value": "enabled"} in c.get("settings", []),
           "containerInsights must be enabled (the no-running-tasks alarm and the scaling"
           " policy read ECS/ContainerInsights)")
    ecc = c.get("configuration", {}).get("executeCommandConfiguration", {})
    expect(ecc.get("logging") == "OVERRIDE", "execute-command logging OVERRIDE")
    expect(ecc.get("logConfiguration", {}).get("cloudWatchLogGroupName")
           == "/ecs/filot-ocr-gpu-cluster", "execute-command log group")


def check_service():
    s = load("infra/ecs/service-ocr-gpu.json")
    validate("ecs", "CreateService", s, "service")
    expect(s.get("cluster") == CLUSTER and s.get("serviceName") == SERVICE, "cluster/service names")
    expect(s.get("taskDefinition") == FAMILY, "taskDefinition must name the family")
    expect(s.get("launchType") == "EC2", "launchType EC2")
    dc = s.get("deploymentConfiguration", {})
    expect(dc.get("deploymentCircuitBreaker") == {"enable": True, "rollback": True},
           "circuit breaker with rollback")
    expect((dc.get("maximumPercent"), dc.get("minimumHealthyPercent")) == (200, 100), "200/100")
    av = s.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    expect(av.get("subnets") and all(re.fullmatch(r"subnet-REPLACE_WITH_PRIVATE_SUBNET_\d", x)
                                     for x in av["subnets"]), "subnet placeholders")
    expect(av.get("securityGroups") == ["sg-REPLACE_WITH_GPU_SECURITY_GROUP"], "sg placeholder")
    expect(av.get("assignPublicIp") == "DISABLED", "assignPublicIp DISABLED")
    expect({"type": "memberOf", "expression": "attribute:ecs.instance-type =~ g5.*"}
           in s.get("placementConstraints", []), "placement memberOf g5.*")
    expect({"type": "spread", "field": "attribute:ecs.availability-zone"}
           in s.get("placementStrategy", []), "spread across AZs")
    expect(s.get("healthCheckGracePeriodSeconds") == 120, "healthCheckGracePeriodSeconds 120")
    expect(s.get("enableExecuteCommand") is True, "enableExecuteCommand")


# --- scaling and alarms -------------------------------------------------------


def check_autoscaling():
    a = load("infra/ecs/autoscaling-ocr-gpu.json")
    t = a.get("ScalableTarget", {})
    validate("application-autoscaling", "RegisterScalableTarget", t, "ScalableTarget")
    rid = f"service/{CLUSTER}/{SERVICE}"
    expect(t.get("ResourceId") == rid, f"ResourceId must be {rid}")
    expect(t.get("ScalableDimension") == "ecs:service:DesiredCount", "ScalableDimension")
    expect(1 <= t.get("MinCapacity", 0) <= t.get("MaxCapacity", 0), "1 <= Min <= Max")
    pols = a.get("ScalingPolicies", [])
    expect(len(pols) >= 1, "at least one scaling policy")
    for i, p in enumerate(pols):
        validate("application-autoscaling", "PutScalingPolicy", p, f"ScalingPolicies[{i}]")
        expect(p.get("ResourceId") == rid, f"policy {i} ResourceId")
        expect(p.get("PolicyType") == "TargetTrackingScaling", f"policy {i} target tracking")
        cms = p.get("TargetTrackingScalingPolicyConfiguration", {}) \
            .get("CustomizedMetricSpecification", {})
        ms = cms.get("Metrics", [])
        returned = [m for m in ms if m.get("ReturnData", True)]
        expect(len(returned) == 1, f"policy {i}: exactly one metric query returns data")
        expect(any(m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "QueueDepth"
                   for m in ms), f"policy {i} must use QueueDepth")
        ids = {m["Id"] for m in ms}
        for m in ms:
            if "Expression" in m:
                used = set(re.findall(r"[a-z][a-zA-Z0-9_]*", m["Expression"]))
                expect(used <= ids, f"policy {i}: expression uses unknown ids {used - ids}")


def check_alarms():
    a = load("alerts/cloudwatch-alarms.json")
    alarms = a.get("Alarms", [])
    expect(len(alarms) >= 3, "at least three alarms")
    names = set()
    for i, al in enumerate(alarms):
        validate("cloudwatch", "PutMetricAlarm", al, f"Alarms[{i}]")
        names.add(al.get("AlarmName"))
    for want in ("filot-ocr-gpu-queue-depth-high", "filot-ocr-gpu-no-running-tasks",
                 "filot-ocr-gpu-job-failures"):
        expect(want in names, f"alarm {want} missing")
    for al in alarms:
        if al.get("Namespace") == "ECS/ContainerInsights":
            dims = {d["Name"]: d["Value"] for d in al.get("Dimensions", [])}
            expect(dims == {"ClusterName": CLUSTER, "ServiceName": SERVICE},
                   f"{al['AlarmName']}: Container Insights dimensions must name the service")


def metric_refs():
    """(where, namespace, name, unit, dims) of every metric the alarms and the
    scaling policies read."""
    out = []
    for al in load("alerts/cloudwatch-alarms.json").get("Alarms", []):
        if "MetricName" in al:
            out.append((al["AlarmName"], al.get("Namespace"), al["MetricName"], al.get("Unit"),
                        {d["Name"]: d["Value"] for d in al.get("Dimensions", [])}))
        for m in al.get("Metrics", []):
            ms = m.get("MetricStat")
            if ms:
                met = ms["Metric"]
                out.append((al["AlarmName"], met.get("Namespace"), met["MetricName"],
                            ms.get("Unit"), {d["Name"]: d["Value"] for d in met.get("Dimensions", [])}))
    for p in load("infra/ecs/autoscaling-ocr-gpu.json").get("ScalingPolicies", []):
        cms = p.get("TargetTrackingScalingPolicyConfiguration", {}) \
            .get("CustomizedMetricSpecification", {})
        stats = [m["MetricStat"] for m in cms.get("Metrics", []) if "MetricStat" in m]
        for ms in stats:
            met = ms["Metric"]
            out.append((p["PolicyName"], met.get("Namespace"), met["MetricName"], ms.get("Unit"),
                        {d["Name"]: d["Value"] for d in met.get("Dimensions", [])}))
        if "MetricName" in cms:
            out.append((p["PolicyName"], cms.get("Namespace"), cms["MetricName"], cms.get("Unit"),
                        {d["Name"]: d["Value"] for d in cms.get("Dimensions", [])}))
    return out


def check_metrics(summary_path):
    with open(summary_path, encoding="utf-8") as f:
        emitted = json.load(f)
    # emitted: {"namespaces": {ns: {"dimensions": {name: value}, "metrics": {name: unit}}}}
    ns = emitted["namespaces"]
    expect(EMF_NS in ns, f"the EMF lines carry no namespace {EMF_NS}")
    refs = metric_refs()
    used = set()
    for where, namespace, name, unit, dims in refs:
        if namespace not in ns:
            expect(not namespace.startswith("FiLot"),
                   f"{where}: namespace {namespace} is never emitted")
            continue
        e = ns[namespace]
        expect(name in e["metrics"], f"{where}: metric {namespace}/{name} is never emitted "
                                     f"(emitted: {sorted(e['metrics'])})")
        if name in e["metrics"] and unit is not None:
            expect(unit == e["metrics"][name],
                   f"{where}: unit {unit} but {name} is emitted as {e['metrics'][name]}")
        expect(dims == e["dimensions"], f"{where}: dimensions {dims} but lines carry "
                                        f"{e['dimensions']}")
        used.add(name)
    for name in ("QueueDepth", "DocumentsFailed"):
        expect(name in used, f"no alarm or policy reads {name}")


FILES = {"task": "infra/ecs/task-ocr-gpu.json", "cluster": "infra/ecs/cluster.json",
         "service": "infra/ecs/service-ocr-gpu.json",
         "autoscaling": "infra/ecs/autoscaling-ocr-gpu.json",
         "alarms": "alerts/cloudwatch-alarms.json", "metrics": "alerts/cloudwatch-alarms.json"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["task", "cluster", "service", "autoscaling", "alarms",
                                     "metrics"])
    ap.add_argument("--emf-summary")
    ap.add_argument("--file", help="check this file instead of the repository's one")
    args = ap.parse_args()
    if args.file:
        OVERRIDE[FILES[args.kind]] = args.file
    try:
        if args.kind == "metrics":
            if not args.emf_summary:
                ap.error("metrics needs --emf-summary")
            check_metrics(args.emf_summary)
        else:
            globals()["check_" + args.kind]()
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{type(e).__name__}: {e}")
    for p in problems:
        print(f"{args.kind}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
