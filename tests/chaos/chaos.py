#!/usr/bin/env python3
"""chaos.py - the soak of `make chaos`; tests/chaos/run.sh starts it.

Two filot-ocrd instances (two ECS tasks) share one queue on loopback with a
real redis-server (append-only file, fsync always, so a restart keeps the
queue), PostgreSQL, moto_server in IAM-auth mode as R2 and the BULI2
stand-in (tests/servers.sh).  N documents (KTP/NPWP cards of
tests/gen-cards.sh, PDFs, blank cards that must be escalated, bad files) are
uploaded, their rows inserted and their ids enqueued the way the upload API
does.  During the chaos phase: a random busy worker (one holding a job) is
SIGKILLed every 1-3 s (--kill-every; held back while no document finished
since the previous kill, so a loaded machine still makes progress), one
whole instance (supervisor and children at once) is SIGKILLed once (and
started again 10 s later, as ECS replaces a task), the GPU server (OCR_GPU_EMULATE=1) is killed four times,
redis-server and PostgreSQL are each restarted once and BULI2 answers 500
for a stretch (--faults kills: the worker kills alone, to measure throughput
under sustained kills).  A clean phase (same files, new rows, no faults) measures the
baseline throughput first unless --no-clean.

Checks, per phase: every row terminal, nothing stranded (rows not terminal,
queue, processing set, delayed set, locks, per-job hashes, BULI2 outbox),
no document completed twice (an audit trigger on documents, created only in
this run's own database, records every final write), every due escalation
delivered (the stand-in's reviews.jsonl against the rows pending manual
review).  Reported: messages published per document (a subscriber on the
results channel for the whole run), restarts, max RSS per program, drain
time, throughput.  Exit 1 when a check fails.

Every process it starts is written to DIR/pids; run.sh kills those (and
stops the servers) on any exit.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
USER_ID = "6c1d9f2e-4b3a-4e5f-8a7b-1c2d3e4f5a6b"
CHANNEL = "filot:ocr:gpu:results"
PREFIX = "filot:ocr:gpu:"
TERMINAL = ("completed", "failed")
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")

args = None
servers = {}
pids_file = None


def log(msg):
    print("# chaos: " + msg, flush=True)


def remember(pid):
    with open(pids_file, "a") as f:
        f.write("%d\n" % pid)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(cmd, **kw):
    """Runs a command to completion; raises with its output when it fails."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], r.returncode, r.stderr.strip()[:500]))
    return r.stdout


# ---- Redis: a minimal RESP client (no Python redis module on Debian 12) ----

class Redis:
    def __init__(self, port, timeout=3.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("bad RESP line %r" % line)

    def send(self, *words):
        out = b"*%d\r\n" % len(words)
        for w in words:
            w = str(w).encode()
            out += b"$%d\r\n%s\r\n" % (len(w), w)
        self.sock.sendall(out)

    def cmd(self, *words):
        self.send(*words)
        return self.reply()


def redis_cmd(*words):
    """One command on a fresh connection; None when Redis is down."""
    try:
        r = Redis(servers["REDIS_PORT"])
        try:
            return r.cmd(*words)
        finally:
            r.close()
    except (OSError, ConnectionError, RuntimeError):
        return None


class Subscriber(threading.Thread):
    """Counts the messages on the results channel per document, resubscribing
    after Redis restarts."""

    def __init__(self):
        super().__init__(daemon=True)
        self.per_doc = {}
        self.total = 0
        self.reconnects = 0
        self.stop = False
        self.ready = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stop:
            try:
                r = Redis(servers["REDIS_PORT"], timeout=0.5)
                r.send("SUBSCRIBE", CHANNEL)
                r.reply()
                self.ready.set()
                while not self.stop:
                    try:
                        msg = r.reply()
                    except socket.timeout:
                        continue
                    if isinstance(msg, list) and len(msg) == 3 and msg[0] == "message":
                        self._count(msg[2])
            except (OSError, ConnectionError, RuntimeError):
                if self.stop:
                    return
                self.reconnects += 1
                time.sleep(0.05)

    def _count(self, text):
        try:
            doc = json.loads(text).get("documentId", "?")
        except ValueError:
            doc = "?"
        with self.lock:
            self.per_doc[doc] = self.per_doc.get(doc, 0) + 1
            self.total += 1


# ---- PostgreSQL through psql ------------------------------------------------

def sql(text, quiet_fail=False):
    """Rows of a statement as lists of strings; None on failure when quiet_fail."""
    try:
        # on stdin: 1000 rows of VALUES pass the 128 KiB limit of one argument
        out = run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t",
                   servers["DATABASE_URL"], "-f", "-"], input=text, timeout=30)
    except (RuntimeError, subprocess.TimeoutExpired):
        if quiet_fail:
            return None
        raise
    return [line.split("\t") for line in out.splitlines() if line != ""]


def sql_int(text):
    rows = sql(text, quiet_fail=True)
    return int(rows[0][0]) if rows else None


AUDIT_SQL = """
CREATE TABLE IF NOT EXISTS chaos_docs (id uuid PRIMARY KEY, phase text NOT NULL,
    kind text NOT NULL);
CREATE TABLE IF NOT EXISTS chaos_final_writes (n bigserial PRIMARY KEY, id uuid NOT NULL,
    old_status text, new_status text, at timestamptz DEFAULT clock_timestamp());
CREATE OR REPLACE FUNCTION chaos_audit() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  -- a final write: the row becomes completed/failed, or a terminal row's
  -- outcome is written again (the BULI2 ticket update changes neither)
  IF NEW.status::text IN ('completed', 'failed') AND
     (OLD.status IS DISTINCT FROM NEW.status OR OLD.result_json IS DISTINCT FROM NEW.result_json
      OR OLD.processed_at IS DISTINCT FROM NEW.processed_at) THEN
    INSERT INTO chaos_final_writes (id, old_status, new_status)
    VALUES (NEW.id, OLD.status::text, NEW.status::text);
  END IF;
  RETURN NEW;
END $f$;
DROP TRIGGER IF EXISTS chaos_audit ON documents;
CREATE TRIGGER chaos_audit AFTER UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION chaos_audit();
"""


# ---- servers ------------------------------------------------------------------

def redis_start():
    d = os.path.join(args.dir, "redis")
    os.makedirs(d, exist_ok=True)
    port = servers["REDIS_PORT"]
    run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "yes",
         "--pidfile", d + "/redis.pid", "--dir", d, "--logfile", "redis.log"])
    deadline = time.time() + 20
    while redis_cmd("PING") != "PONG":
        if time.time() > deadline:
            raise RuntimeError("redis-server did not come up")
        time.sleep(0.05)
    pid = int(open(d + "/redis.pid").read())
    remember(pid)
    return pid


def redis_crash():
    """SIGKILL (no shutdown save) and start again on the same append-only file."""
    d = os.path.join(args.dir, "redis")
    pid = int(open(d + "/redis.pid").read())
    os.kill(pid, signal.SIGKILL)
    while os.path.exists("/proc/%d" % pid):
        time.sleep(0.02)
    time.sleep(2)
    redis_start()


def pg_ctl(*words):
    run(["runuser", "-u", "postgres", "--", PGBIN + "/pg_ctl", "-D", servers["PGDATA_DIR"],
         "-l", os.path.join(os.path.dirname(servers["PGDATA_DIR"]), "pg.log"), "-w", "-t", "60",
         *words])


def postgres_restart():
    """Fast shutdown (sessions dropped, committed work kept), 2 s down, start."""
    pg_ctl("-m", "fast", "stop")
    time.sleep(2)
    d = os.path.dirname(servers["PGDATA_DIR"])
    pg_ctl("-o", "-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
           "-c synchronous_commit=off -c full_page_writes=off" % (servers["PG_PORT"], d), "start")
    with open(os.path.join(args.dir, "servers", "postgres.pid"), "w") as f:
        f.write(open(servers["PGDATA_DIR"] + "/postmaster.pid").readline())


def buli2(path):
    req = urllib.request.Request(servers["BULI2_API_URL"] + path, data=b"", method="POST")
    urllib.request.urlopen(req, timeout=5).read()


def start_servers():
    sdir = os.path.join(args.dir, "servers")
    run([os.path.join(ROOT, "tests/servers.sh"), "start", sdir, "postgres", "moto", "buli2"])
    for line in open(os.path.join(sdir, "env")):
        k, _, v = line.strip().partition("=")
        servers[k] = v
    servers["REDIS_PORT"] = free_port()
    servers["REDIS_URL"] = "redis://127.0.0.1:%d" % servers["REDIS_PORT"]
    redis_start()
    # committed means kept, also across the fast shutdown of the restart
    sql("ALTER DATABASE postgres SET synchronous_commit = on")
    run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", servers["DATABASE_URL"], "-f",
         os.path.join(ROOT, "db/schema.sql")])
    sql("INSERT INTO users (id, email) VALUES ('%s', 'chaos@test') ON CONFLICT DO NOTHING"
        % USER_ID)
    sql(AUDIT_SQL)


# ---- documents ----------------------------------------------------------------

def s3_put(key, path):
    url = "%s/%s/%s" % (servers["CF_R2_ENDPOINT"], servers["CF_R2_BUCKET_NAME"], key)
    # curl 7.88 signs the body hash moto expects only when told it is unsigned
    run(["curl", "-sf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
         "%s:%s" % (servers["CF_R2_ACCESS_KEY_ID"], servers["CF_R2_SECRET_ACCESS_KEY"]),
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--upload-file", path,
         "-o", "/dev/null", url])


def make_files():
    """Cards, PDFs, a blank card and bad files; returns {kind: [(type, path, ext)]}."""
    cdir = os.path.join(args.dir, "cards")
    run([os.path.join(ROOT, "tests/gen-cards.sh"), "--seed", str(args.seed), "--count",
         str(args.cards), "--type", "mixed", "--degrade", "light", "--jobs", "2", cdir])
    files = {"card": [], "pdf": [], "blank": [], "bad": []}
    for line in open(os.path.join(cdir, "manifest.tsv")):
        name, typ = line.strip().split("\t")
        files["card"].append((typ, os.path.join(cdir, name), "png"))
    for typ, path, _ in files["card"][:2]:
        pdf = path[:-4] + ".pdf"
        run(["img2pdf", "--output", pdf, path])
        files["pdf"].append((typ, pdf, "pdf"))
    blank = os.path.join(args.dir, "blank.png")
    run(["convert", "-size", "1011x638", "xc:#808080", blank])
    files["blank"].append(("KTP", blank, "png"))
    jpg = os.path.join(args.dir, "card.jpg")
    run(["convert", files["card"][0][1], jpg])
    data = open(jpg, "rb").read()
    trunc = os.path.join(args.dir, "truncated.jpeg")
    open(trunc, "wb").write(data[: len(data) // 2])
    notes = os.path.join(args.dir, "notes.png")
    open(notes, "w").write("these are meeting notes, not a scanned card\n")
    files["bad"] += [("KTP", trunc, "jpeg"), ("NPWP", notes, "png"), ("KTP", None, "png"),
                     ("SIM", files["card"][1][1], "png")]
    return files


def plan_documents(files):
    """The document list: (kind, type, key); every 25th blank, every 50th a PDF,
    every 25th (offset) bad, the rest cards; keys uploaded here."""
    rnd = random.Random(args.seed)
    docs, uploads = [], []
    for i in range(args.docs):
        if i % 25 == 12:
            kind = "blank"
        elif i % 50 == 30:
            kind = "pdf"
        elif i % 25 == 20:
            kind = "bad"
        else:
            kind = "card"
        typ, path, ext = rnd.choice(files[kind])
        key = "%s/%s_%s.%s" % (USER_ID, typ, uuid.uuid4(), ext)
        docs.append((kind, typ, key))
        if path is not None:
            uploads.append((key, path))
    errors = []

    def upload(part):
        try:
            for key, path in part:
                s3_put(key, path)
        except RuntimeError as e:
            errors.append(str(e))
    threads = [threading.Thread(target=upload, args=(uploads[k::6],)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("upload failed: " + errors[0])
    return docs


def insert_rows(phase, docs):
    """One row per document (status uploaded, as the upload API leaves it); ids in order."""
    ids = [str(uuid.uuid4()) for _ in docs]
    values = ",".join("('%s','%s','%s','%s')" % (i, USER_ID, typ, key)
                      for i, (_, typ, key) in zip(ids, docs))
    sql("INSERT INTO documents (id, user_id, type, file_url) VALUES " + values)
    values = ",".join("('%s','%s','%s')" % (i, phase, kind) for i, (kind, _, _) in zip(ids, docs))
    sql("INSERT INTO chaos_docs (id, phase, kind) VALUES " + values)
    return ids


def enqueue(ids):
    env = dict(os.environ, REDIS_URL=servers["REDIS_URL"])
    for k in range(0, len(ids), 200):
        run([os.path.join(args.bin, "filot-ocr"), "enqueue", *ids[k:k + 200]], env=env)


# ---- filot-ocrd instances ----------------------------------------------------

class Instance:
    def __init__(self, name):
        self.name = name
        self.generation = 0
        self.proc = None
        self.port = None
        self.restarts_seen = 0  # child restarts of earlier generations
        self.last_health = None

    def start(self):
        self.generation += 1
        self.port = free_port()
        tag = "%s.%d" % (self.name, self.generation)
        env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "OCR_JOB_SOURCE", "OCR_RESULT_PII"):
            env.pop(k, None)
        env.update({k: str(v) for k, v in servers.items()})
        env.update({
            "HEALTH_PORT": str(self.port), "OCR_HEALTH_BIND": "127.0.0.1",
            "OCR_RUNTIME_DIR": os.path.join(args.dir, tag + ".run"),
            "OCR_SHM_SIZE": "64M", "OCR_GPU_CONCURRENCY": "2", "OCR_GPU_EMULATE": "1",
            "OCR_GPU_POLL_INTERVAL": "100", "OCR_RETRY_BACKOFF_MS": "300",
            "OCR_GPU_REAPER_INTERVAL": "5000", "BULI2_API_KEY": "chaos-key",
            "OCR_EMF_NAMESPACE": "",
        })
        for kv in args.env:
            k, _, v = kv.partition("=")
            env[k] = v
        out = open(os.path.join(args.dir, tag + ".out"), "w")
        err = open(os.path.join(args.dir, tag + ".err"), "w")
        self.proc = subprocess.Popen([os.path.join(args.bin, "filot-ocrd")], env=env,
                                     stdout=out, stderr=err, cwd=args.dir)
        out.close()
        err.close()
        remember(self.proc.pid)

    def health(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % self.port,
                                        timeout=2) as r:
                h = json.loads(r.read())
        except Exception:  # noqa: BLE001 - any failure means "no answer now"
            return None
        self.last_health = h
        return h

    def wait_ready(self, secs=60):
        deadline = time.time() + secs
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s" % (self.name, self.proc.returncode))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/health" % self.port,
                                            timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.1)
        raise RuntimeError("%s never became ready" % self.name)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def children(self, program):
        h = self.last_health if self.alive() else None
        return [c for c in (h or {}).get("children", [])
                if c.get("program") == program and c.get("pid", 0) > 0]

    def child_restarts(self):
        h = self.last_health or {}
        return sum(c.get("restarts", 0) for c in h.get("children", []))

    def crash(self):
        """SIGKILL of the supervisor and every process below it at once, as
        when ECS loses a task (jobs in flight die with their workers)."""
        self.restarts_seen += self.child_restarts()
        kids = descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)
        for p in kids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        return len(kids)

    def drain(self):
        """SIGTERM; seconds until exit and the exit code."""
        self.health()
        self.restarts_seen += self.child_restarts()
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return time.time() - t0, rc


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                todo += kids
        except OSError:
            pass
    return out


class RssSampler(threading.Thread):
    """Peak RSS (VmHWM) per program over every process of the instances."""

    def __init__(self, instances):
        super().__init__(daemon=True)
        self.instances = instances
        self.peak = {}
        self.stop = False

    def run(self):
        while not self.stop:
            for inst in self.instances:
                if inst.alive():
                    for pid in [inst.proc.pid] + descendants(inst.proc.pid):
                        self._sample(pid)
            time.sleep(0.5)

    def _sample(self, pid):
        try:
            exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        kb = int(line.split()[1])
                        self.peak[exe] = max(self.peak.get(exe, 0), kb)
        except (OSError, ValueError):
            pass


# ---- one phase ------------------------------------------------------------------

def terminal_count(phase):
    return sql_int("SELECT count(*) FROM documents d JOIN chaos_docs c USING (id) "
                   "WHERE c.phase = '%s' AND d.status::text IN ('completed', 'failed')" % phase)


def redis_leftovers(ids):
    """What Redis still holds of the jobs (empty list: nothing); None when down."""
    left = []
    counts = [("LLEN", "queue"), ("SCARD", "processing"), ("ZCARD", "delayed"),
              ("HLEN", "buli2:outbox")]
    for cmd, key in counts:
        n = redis_cmd(cmd, PREFIX + key)
        if n is None:
            return None
        if n:
            left.append("%s %s=%d" % (cmd, key, n))
    locks = redis_cmd("KEYS", PREFIX + "lock:*")
    if locks is None:
        return None
    if locks:
        left.append("%d locks" % len(locks))
    idset = set(ids)
    for h in ("attempts", "correlation", "processing:timestamps", "owners"):
        keys = redis_cmd("HKEYS", PREFIX + h) or []
        n = len(idset.intersection(keys))
        if n:
            left.append("%s holds %d" % (h, n))
    return left


def escalations(phase):
    """(due, delivered, duplicated deliveries, missing ids)."""
    due = {r[0]: r[1] for r in sql(
        "SELECT d.id, coalesce(d.buli2_ticket_id, '') FROM documents d JOIN chaos_docs c "
        "USING (id) WHERE c.phase = '%s' AND d.status = 'completed' "
        "AND d.verification_status = 'pending_manual_review'" % phase, quiet_fail=True) or []}
    reviews = {}
    path = os.path.join(servers["BULI2_STATE_DIR"], "reviews.jsonl")
    if os.path.exists(path):
        for line in open(path):
            rv = json.loads(line)
            reviews.setdefault(rv["body"].get("documentId"), []).append(rv["taskId"])
    delivered = [i for i, t in due.items() if t and t in reviews.get(i, [])]
    dups = sum(len(reviews[i]) - 1 for i in due if len(reviews.get(i, [])) > 1)
    return len(due), len(delivered), dups, sorted(set(due) - set(delivered))


class Chaos(threading.Thread):
    """The fault schedule, driven by the share of documents already terminal."""

    def __init__(self, insts, ids, progress):
        super().__init__(daemon=True)
        self.insts, self.ids, self.progress = insts, ids, progress
        self.stop = False
        self.events = []
        self.worker_kills = 0
        self.gpu_kills = 0
        self.kills_held = 0
        self.rnd = random.Random(args.seed + 1)
        self.error = None

    def progress_n(self):
        return round(self.progress() * len(self.ids))

    def note(self, what):
        self.events.append((time.time(), what))
        log("%5.1f %% done: %s" % (100.0 * self.progress(), what))

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = "%s: %s" % (type(e).__name__, e)

    def _run(self):
        a, b = self.insts
        todo = [(0.10, "gpu"), (0.20, "crash"), (0.25, "buli2-down"), (0.30, "gpu"),
                (0.45, "redis"), (0.50, "gpu"), (0.55, "buli2-up"), (0.60, "postgres"),
                (0.70, "gpu")]
        if args.faults == "kills":
            todo = []  # sustained worker kills alone: the throughput question
        next_kill = time.time() + self.rnd.uniform(*args.kill_every)
        done_at_kill = -1
        restart_b_at = None
        while not self.stop:
            done = self.progress()
            while todo and done >= todo[0][0]:
                what = todo.pop(0)[1]
                self._event(what, a, b)
                if what == "crash":
                    restart_b_at = time.time() + 10
            if restart_b_at and time.time() >= restart_b_at:
                restart_b_at = None
                b.start()
                b.wait_ready()
                self.note("instance %s started again (pid %d)" % (b.name, b.proc.pid))
            # at most one kill per document finished since the last one: on a
            # loaded machine a job outlasts the interval and nothing would finish
            if time.time() >= next_kill and done < 1.0 and self.progress_n() == done_at_kill:
                next_kill = time.time() + self.rnd.uniform(*args.kill_every)
                self.kills_held += 1
            elif time.time() >= next_kill and done < 1.0:
                next_kill = time.time() + self.rnd.uniform(*args.kill_every)
                done_at_kill = self.progress_n()
                # a worker holding a job: its job must be recovered, not lost or doubled
                workers = [c["pid"] for i in self.insts for c in i.children("filot-ocr-worker")
                           if c.get("state") == "busy"]
                workers = [p for p in workers if os.path.exists("/proc/%d" % p)]
                if workers:
                    try:
                        os.kill(self.rnd.choice(workers), signal.SIGKILL)
                        self.worker_kills += 1
                    except ProcessLookupError:
                        pass
            time.sleep(0.1)
        for what in [w for _, w in todo if w in ("buli2-up",)]:
            self._event(what, a, b)

    def _event(self, what, a, b):
        if what == "gpu":
            inst = (a, b)[self.gpu_kills % 2]
            if not inst.alive():
                inst = a
            gpus = inst.children("filot-gpu-server")
            if gpus:
                os.kill(gpus[0]["pid"], signal.SIGKILL)
                self.gpu_kills += 1
                self.note("SIGKILL gpu-server of %s (pid %d)" % (inst.name, gpus[0]["pid"]))
        elif what == "crash":
            pid = b.proc.pid
            nkids = b.crash()
            self.note("SIGKILL instance %s (supervisor pid %d and its %d children at once)"
                      % (b.name, pid, nkids))
        elif what == "buli2-down":
            buli2("/_fail?status=500&count=-1")
            self.note("BULI2 answers 500 from now on")
        elif what == "buli2-up":
            buli2("/_fail?status=500&count=0")
            self.note("BULI2 answers again")
        elif what == "redis":
            redis_crash()
            self.note("redis-server SIGKILLed, started again 2 s later on its append-only file")
        elif what == "postgres":
            postgres_restart()
            self.note("PostgreSQL stopped (fast) and started again 2 s later")


def run_phase(phase, docs, chaos):
    ids = insert_rows(phase, docs)
    insts = [Instance(phase + "-a"), Instance(phase + "-b")]
    for i in insts:
        i.start()
    for i in insts:
        i.wait_ready()
    rss = RssSampler(insts)
    rss.start()
    n = len(ids)
    state = {"done": 0}

    def progress():
        return state["done"] / n

    t0 = time.time()
    enqueue(ids)
    log("%s: %d documents enqueued on 2 instances" % (phase, n))
    ch = Chaos(insts, ids, progress) if chaos else None
    if ch:
        ch.start()
    deadline = t0 + args.deadline
    last_print = 0
    while time.time() < deadline:
        for i in insts:
            if i.alive():
                i.health()
        c = terminal_count(phase)
        if c is not None:
            state["done"] = c
        if time.time() - last_print >= 15:
            last_print = time.time()
            log("%s: %d/%d terminal after %.0f s" % (phase, state["done"], n, time.time() - t0))
        if state["done"] >= n:
            break
        time.sleep(0.25)
    t_done = time.time()
    if ch:
        ch.stop = True
        ch.join()
    # quiescence: Redis clean and every due escalation delivered, bounded
    q_deadline = time.time() + args.quiesce
    while time.time() < q_deadline:
        left = redis_leftovers(ids)
        due, delivered, _, _ = escalations(phase)
        if left == [] and due == delivered and state["done"] >= n:
            break
        state["done"] = terminal_count(phase) or state["done"]
        time.sleep(0.5)
    quiet = time.time() - t_done
    for i in insts:
        if i.alive():
            i.health()
    drains = [(i.name,) + i.drain() for i in insts if i.alive()]
    rss.stop = True
    rss.join()
    if ch and ch.error:
        raise RuntimeError("fault schedule failed: " + ch.error)
    return report(phase, ids, insts, t0, t_done, quiet, drains, rss, ch)


# ---- the report -------------------------------------------------------------------

def report(phase, ids, insts, t0, t_done, quiet, drains, rss, ch):
    n = len(ids)
    rows = sql("SELECT c.kind, d.status::text, d.verification_status FROM documents d "
               "JOIN chaos_docs c USING (id) WHERE c.phase = '%s'" % phase)
    terminal = sum(1 for r in rows if r[1] in TERMINAL)
    by = {}
    for kind, status, vs in rows:
        k = "%s %s" % (kind, status if status != "completed" else vs)
        by[k] = by.get(k, 0) + 1
    twice = sql("SELECT count(*) FROM (SELECT w.id FROM chaos_final_writes w JOIN chaos_docs c "
                "USING (id) WHERE c.phase = '%s' GROUP BY w.id HAVING count(*) > 1) x" % phase)
    twice = int(twice[0][0])
    left = redis_leftovers(ids)
    stranded_rows = n - terminal
    due, delivered, dups, missing = escalations(phase)
    with SUB.lock:
        per = [SUB.per_doc.get(i, 0) for i in ids]
    hist = {}
    for k in per:
        hist[k] = hist.get(k, 0) + 1
    secs = t_done - t0
    res = {
        "phase": phase, "docs": n, "terminal": terminal, "stranded_rows": stranded_rows,
        "redis_left": left if left is not None else ["Redis unreachable"],
        "twice": twice, "due": due, "delivered": delivered, "esc_dups": dups,
        "missing": missing[:5], "msgs": hist, "outcomes": by, "secs": secs,
        "throughput": n / secs if secs > 0 else 0.0, "quiesce": quiet,
        "drains": drains, "rss": rss.peak,
        "child_restarts": sum(i.restarts_seen for i in insts),
        "worker_kills": ch.worker_kills if ch else 0, "gpu_kills": ch.gpu_kills if ch else 0,
        "kills_held": ch.kills_held if ch else 0,
        "instance_starts": sum(i.generation for i in insts),
    }
    return res


def print_table(results):
    def row(name, *vals):
        print("| %s | %s |" % (name, " | ".join(str(v) for v in vals)))
    cols = [r["phase"] for r in results]
    print()
    print("| | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    row("terminal / total", *["%d / %d" % (r["terminal"], r["docs"]) for r in results])
    row("stranded (rows not terminal; Redis leftovers)",
        *["%d; %s" % (r["stranded_rows"], ", ".join(r["redis_left"]) or "none")
          for r in results])
    row("completed twice (audit trigger)", *[r["twice"] for r in results])
    row("escalations delivered / due", *["%d / %d (%d duplicate POSTs)"
                                         % (r["delivered"], r["due"], r["esc_dups"])
                                         for r in results])
    row("messages per document", *[", ".join("%d doc(s) got %d" % (v, k)
                                             for k, v in sorted(r["msgs"].items()))
                                   for r in results])
    row("outcomes", *["; ".join("%s %d" % kv for kv in sorted(r["outcomes"].items()))
                      for r in results])
    row("faults", *["%d worker SIGKILLs (%d held back: no document finished since the "
                    "last), %d gpu-server SIGKILLs, %d instance starts"
                    % (r["worker_kills"], r["kills_held"], r["gpu_kills"], r["instance_starts"])
                    for r in results])
    row("child restarts (supervisors' count)", *[r["child_restarts"] for r in results])
    row("max RSS (MB)", *[", ".join("%s %.0f" % (k, v / 1024.0)
                                    for k, v in sorted(r["rss"].items())) for r in results])
    row("drain time (SIGTERM to exit, idle)", *[", ".join("%s %.2f s rc %d" % d
                                                         for d in r["drains"])
                                               for r in results])
    row("enqueue to last terminal", *["%.1f s" % r["secs"] for r in results])
    row("throughput (documents/s)", *["%.2f" % r["throughput"] for r in results])
    if len(results) == 2:
        print("\nchaos throughput = %.0f %% of clean"
              % (100.0 * results[1]["throughput"] / results[0]["throughput"]))
    print("quiescence after the last terminal row: "
          + ", ".join("%s %.1f s" % (r["phase"], r["quiesce"]) for r in results))


def failures(r):
    out = []
    if r["terminal"] != r["docs"]:
        out.append("%s: %d of %d documents not terminal" % (r["phase"], r["docs"] - r["terminal"],
                                                            r["docs"]))
    if r["redis_left"]:
        out.append("%s: Redis still holds %s" % (r["phase"], ", ".join(r["redis_left"])))
    if r["twice"]:
        out.append("%s: %d documents completed twice" % (r["phase"], r["twice"]))
    if r["delivered"] != r["due"]:
        out.append("%s: %d of %d escalations missing (%s)" % (
            r["phase"], r["due"] - r["delivered"], r["due"], ", ".join(r["missing"])))
    if r["due"] == 0:
        out.append("%s: no escalation was due; the blank cards should have been" % r["phase"])
    return out


SUB = None


def main():
    global args, pids_file, SUB
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--docs", type=int, default=1000)
    p.add_argument("--cards", type=int, default=24)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--bin", default=os.path.join(ROOT, "build/bin"))
    p.add_argument("--no-clean", action="store_true", help="skip the clean baseline phase")
    p.add_argument("--clean", action="store_true", help="only the clean phase")
    p.add_argument("--deadline", type=float, default=0, help="seconds per phase to terminal")
    p.add_argument("--quiesce", type=float, default=240)
    p.add_argument("--env", action="append", default=[], help="VAR=VALUE for both daemons")
    p.add_argument("--kill-every", default="1-3", help="seconds between worker SIGKILLs, MIN-MAX")
    p.add_argument("--suite", action="store_true", help="last line in tests/run.sh form")
    p.add_argument("--faults", choices=("all", "kills"), default="all",
                   help="kills: only the worker SIGKILLs (throughput under sustained kills)")
    args = p.parse_args()
    lo, _, hi = args.kill_every.partition("-")
    args.kill_every = (float(lo), float(hi or lo))
    args.bin = os.path.abspath(args.bin)
    if args.deadline <= 0:
        args.deadline = 120 + 2.0 * args.docs
    pids_file = os.path.join(args.dir, "pids")
    for tool in ("redis-server", "psql", "curl", "convert", "img2pdf", "moto_server"):
        if shutil.which(tool) is None:
            raise SystemExit("chaos: %s not found (make test installs it)" % tool)
    t_start = time.time()
    start_servers()
    SUB = Subscriber()
    SUB.start()
    SUB.ready.wait(10)
    files = make_files()
    log("set-up: servers and files in %.0f s" % (time.time() - t_start))
    docs = plan_documents(files)
    log("set-up: servers, %d cards, %d documents uploaded in %.0f s"
        % (len(files["card"]), len(docs), time.time() - t_start))
    results = []
    if not args.no_clean:
        results.append(run_phase("clean", docs, False))
    if not args.clean:
        results.append(run_phase("chaos", docs, True))
    SUB.stop = True
    print_table(results)
    bad = [f for r in results for f in failures(r)]
    for f in bad:
        print("FAILED: " + f)
    print("subscriber reconnects: %d; total %.0f s" % (SUB.reconnects, time.time() - t_start))
    if args.suite:
        checks = 5 * len(results)
        print("chaos: %d passed, %d failed" % (checks - len(bad), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
