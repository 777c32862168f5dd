/*
 * ocr_run.c - the private instance behind `filot-ocr ocr`.
 */
#include "ocr_run.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/config.h"
#include "../common/log.h"
#include "../common/status.h"
#include "../ipc/listener_probe.h"
#include "../ipc/nng_chan.h"
#include "../ipc/shm_pool.h"
#include "cli.h"
#include "ocr_input.h"

#define MAX_ATTEMPTS    2
#define SHM_WAIT_MS     10000u
#define STOP_TIMEOUT_MS 20000u

extern char **environ;

enum file_state { F_QUEUED = 0, F_RUNNING, F_DONE };

struct file_job {
    struct ocr_input in;
    enum file_state state;
    int attempts;
    int worker; /* index holding it while F_RUNNING */
    int worker_pid;
    json_t *result; /* F_DONE */
};

struct run {
    const struct ocr_run_opts *o;
    struct file_job *jobs;
    int njobs;
    int done;
    int printed;
    int failures;
    bool progress_shown; /* the progress line is on the terminal now */
    char dir[64];
    char url[160];
    pid_t sup_pid;
    struct shm_pool pool;
    bool attached;
    nng_socket rep;
    bool listening;
    struct listener_probe probe;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* Starts filot-ocrd with a private runtime dir and our job channel. */
static pid_t spawn_supervisor(struct run *r)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return -1;
    snprintf(slash + 1, sizeof exe - (size_t)(slash + 1 - exe), "filot-ocrd");
    int logfd = open(r->o->log_path ? r->o->log_path : "/dev/null",
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        cli_error("cannot open log %s: %s", r->o->log_path, strerror(errno));
        return -1;
    }
    char workers[16], port[16];
    snprintf(workers, sizeof workers, "%d", r->o->workers);
    snprintf(port, sizeof port, "%d", r->o->health_port);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OCR_RUNTIME_DIR", r->dir, 1);
        setenv("OCR_JOB_SOURCE", r->url, 1);
        setenv("HEALTH_PORT", port, 1);
        if (r->o->workers > 0)
            setenv("OCR_GPU_CONCURRENCY", workers, 1);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a killed CLI must not leave an instance behind */
        char *argv[] = {"filot-ocrd", NULL};
        execve(exe, argv, environ);
        _exit(127);
    }
    close(logfd);
    return pid;
}

/* Waits for the supervisor's segment so we can read its exit records. */
static int attach_pool(struct run *r)
{
    char name[64], err[256];
    snprintf(name, sizeof name, "/filot-ocrd.%d", (int)r->sup_pid);
    uint64_t deadline = clock_mono_ms() + SHM_WAIT_MS;
    while (clock_mono_ms() < deadline) {
        if (shm_pool_attach_name(&r->pool, name, err, sizeof err) == 0) {
            r->attached = true;
            return 0;
        }
        if (waitpid(r->sup_pid, NULL, WNOHANG) == r->sup_pid) {
            r->sup_pid = 0;
            break;
        }
        clock_sleep_ms(20);
    }
    cli_error("filot-ocrd did not start (run with --verbose to see its log)");
    return FILOT_EIO;
}

/* Formats why a worker vanished while holding a file. */
static void describe_death(const struct run *r, int index, int pid, char *buf, size_t len,
                           bool *retryable)
{
    const struct shm_worker *w = &r->pool.hdr->workers[index];
    int st = atomic_load(&w->last_status);
    bool timeout = atomic_load(&w->last_reason) == ER_JOB_TIMEOUT;
    *retryable = !timeout;
    if (timeout)
        snprintf(buf, len,
                 "job exceeded OCR_JOB_TIMEOUT_MS; worker %d (pid %d) killed by signal %d "
                 "(%s) while processing",
                 index, pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
    else if (WIFSIGNALED(st))
        snprintf(buf, len, "worker killed by signal %d (%s) while processing", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(buf, len, "worker exited with code %d while processing", WEXITSTATUS(st));
}

/* A failed result; name and error are valid UTF-8 (ocr_input escapes names). */
static json_t *failure(const char *name, const char *error)
{
    return json_pack("{s:s, s:b, s:s, s:b}", "file", name, "success", 0, "error", error,
                     "gpuProcessed", 0);
}

static void finish(struct run *r, int k, json_t *result)
{
    struct file_job *j = &r->jobs[k];
    j->state = F_DONE;
    j->result = result;
    r->done++;
    if (!json_is_true(json_object_get(result, "success")))
        r->failures++;
}

/* A file whose worker died is retried once, else reported. */
static void check_dead_workers(struct run *r)
{
    for (int k = 0; k < r->njobs; k++) {
        struct file_job *j = &r->jobs[k];
        if (j->state != F_RUNNING)
            continue;
        const struct shm_worker *w = &r->pool.hdr->workers[j->worker];
        if (atomic_load(&w->last_pid) != j->worker_pid)
            continue;
        char why[200];
        bool retryable;
        describe_death(r, j->worker, j->worker_pid, why, sizeof why, &retryable);
        if (retryable && j->attempts < MAX_ATTEMPTS) {
            j->state = F_QUEUED;
            continue;
        }
        finish(r, k, failure(j->in.name, why));
    }
}

/* Hands the next queued file to the asking worker, or says idle. */
static json_t *answer_next(struct run *r, json_t *req)
{
    for (int k = 0; k < r->njobs; k++) {
        struct file_job *j = &r->jobs[k];
        if (j->state != F_QUEUED)
            continue;
        j->state = F_RUNNING;
        j->attempts++;
        j->worker = (int)json_integer_value(json_object_get(req, "worker"));
        j->worker_pid = (int)json_integer_value(json_object_get(req, "pid"));
        if (j->worker < 0 || j->worker >= SHM_MAX_WORKERS)
            j->worker = 0;
        json_t *job = json_pack("{s:s, s:i, s:s}", "op", "job", "id", k, "path", j->in.open_path);
        if (job == NULL) { /* never leave a file running that no worker holds */
            finish(r, k, failure(j->in.name, "cannot hand the file to a worker"));
            continue;
        }
        if (r->o->doc_type != NULL)
            json_object_set_new(job, "documentType", json_string(r->o->doc_type));
        return job;
    }
    return json_pack("{s:s}", "op", "idle");
}

/* Stores a worker's result; late answers for files already settled are dropped. */
static void accept_result(struct run *r, json_t *req)
{
    json_int_t k = json_integer_value(json_object_get(req, "id"));
    json_t *res = json_object_get(req, "result");
    if (k < 0 || k >= r->njobs || r->jobs[k].state != F_RUNNING || !json_is_object(res))
        return;
    json_t *out = json_pack("{s:s}", "file", r->jobs[k].in.name);
    json_object_update(out, res);
    finish(r, (int)k, out);
}

static void serve_one(struct run *r)
{
    json_t *req = NULL;
    if (chan_recv_json(r->rep, &req, NULL, 100) != 0)
        return;
    const char *op = json_string_value(json_object_get(req, "op"));
    json_t *rep;
    if (op != NULL && strcmp(op, "next") == 0) {
        rep = answer_next(r, req);
    } else {
        if (op != NULL && strcmp(op, "result") == 0)
            accept_result(r, req);
        rep = json_pack("{s:s}", "op", "ack");
    }
    chan_send_json(r->rep, rep);
    json_decref(rep);
    json_decref(req);
}

/* Erases the progress line so a result never lands behind it. */
static void clear_progress(struct run *r)
{
    if (!r->progress_shown)
        return;
    fputs("\r\033[K", stderr);
    r->progress_shown = false;
}

/*
 * Prints finished results in input order; a failure is also said on
 * stderr when stdout goes to a file or pipe, where nobody watches it.
 */
static void print_ready(struct run *r)
{
    int before = r->printed;
    while (r->printed < r->njobs && r->jobs[r->printed].state == F_DONE) {
        const struct file_job *j = &r->jobs[r->printed];
        char *line = json_dumps(j->result, JSON_COMPACT | JSON_PRESERVE_ORDER);
        clear_progress(r);
        if (line != NULL) {
            puts(line);
            free(line);
        }
        if (r->o->echo_failures && !json_is_true(json_object_get(j->result, "success")))
            cli_error("%s: %s", j->in.name, json_string_value(json_object_get(j->result, "error")));
        r->printed++;
    }
    fflush(stdout);
    if (r->o->progress && (r->printed != before || !r->progress_shown)) {
        clear_progress(r);
        fprintf(stderr, "filot-ocr: %d/%d files done, %d failed", r->done, r->njobs, r->failures);
        r->progress_shown = true;
    }
}

/* Settles every file still open (the supervisor went away). */
static void fail_remaining(struct run *r, const char *why)
{
    for (int k = 0; k < r->njobs; k++)
        if (r->jobs[k].state != F_DONE)
            finish(r, k, failure(r->jobs[k].in.name, why));
}

static void stop_supervisor(struct run *r)
{
    if (r->sup_pid <= 0)
        return;
    kill(r->sup_pid, SIGTERM);
    uint64_t deadline = clock_mono_ms() + STOP_TIMEOUT_MS;
    while (waitpid(r->sup_pid, NULL, WNOHANG) == 0) {
        if (clock_mono_ms() > deadline) {
            kill(r->sup_pid, SIGKILL);
            waitpid(r->sup_pid, NULL, 0);
            break;
        }
        if (r->listening)
            serve_one(r); /* keep answering so workers notice the drain quickly */
        else
            clock_sleep_ms(20);
    }
    r->sup_pid = 0;
}

/* nng #1518: a worker killed mid-handshake can break our listener. */
static void check_listener(struct run *r)
{
    if (!listener_probe_broken(&r->probe))
        return;
    nng_close(r->rep);
    r->listening = chan_listen(r->url, &r->rep) == 0;
    if (!r->listening)
        fail_remaining(r, "cannot re-create the job channel");
}

static void dispatch(struct run *r)
{
    static const char ping[] = "{\"op\":\"ping\"}";
    listener_probe_start(&r->probe, r->url, ping, sizeof ping - 1, 500, 3);
    while (r->done < r->njobs && !interrupted && r->listening) {
        check_listener(r);
        serve_one(r);
        check_dead_workers(r);
        print_ready(r);
        int st;
        if (waitpid(r->sup_pid, &st, WNOHANG) == r->sup_pid) {
            r->sup_pid = 0;
            fail_remaining(r, "filot-ocrd exited unexpectedly (run with --verbose)");
        }
    }
    listener_probe_stop(&r->probe);
    if (interrupted)
        fail_remaining(r, "interrupted");
    print_ready(r);
    clear_progress(r);
}

/*
 * Makes every argument ready (ocr_input); one that cannot be read is
 * settled now, with its reason on stderr and its one result line.
 */
static int prepare_inputs(struct run *r)
{
    for (int k = 0; k < r->njobs; k++) {
        int rc = ocr_input_prepare(&r->jobs[k].in, r->o->files[k], r->dir, k);
        if (rc == FILOT_ENOMEM)
            return rc;
        if (rc != 0) {
            if (!r->o->echo_failures)
                cli_error("%s", r->jobs[k].in.error);
            finish(r, k, failure(r->jobs[k].in.name, r->jobs[k].in.error));
        }
    }
    return 0;
}

int ocr_run(const struct ocr_run_opts *o)
{
    struct filot_config cfg;
    if (cli_load_config(&cfg, LOG_WARN) != 0)
        return FILOT_EXIT_CONFIG;
    struct run r = {.o = o, .njobs = o->nfiles};
    r.jobs = calloc((size_t)o->nfiles, sizeof *r.jobs);
    snprintf(r.dir, sizeof r.dir, "/tmp/filot-ocr.XXXXXX");
    if (r.jobs == NULL || mkdtemp(r.dir) == NULL ||
        chan_url(r.dir, "jobs.sock", r.url, sizeof r.url) != 0) {
        cli_error("cannot create a runtime directory: %s", strerror(errno));
        free(r.jobs);
        return FILOT_EXIT_FAILURE;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* fork+exec before any nng call: nng is not fork-safe */
    int rc = FILOT_EXIT_FAILURE;
    if (prepare_inputs(&r) != 0) {
        cli_error("out of memory");
    } else if (r.done == r.njobs) { /* nothing a worker could read */
        print_ready(&r);
        clear_progress(&r);
    } else if ((r.sup_pid = spawn_supervisor(&r)) > 0 && attach_pool(&r) == 0 &&
               chan_listen(r.url, &r.rep) == 0) {
        r.listening = true;
        dispatch(&r);
        rc = r.failures == 0 ? FILOT_EXIT_OK : FILOT_EXIT_FAILURE;
    }
    if (interrupted)
        rc = CLI_EXIT_INTERRUPTED;
    stop_supervisor(&r);
    if (r.listening)
        nng_close(r.rep);
    if (r.attached)
        shm_pool_close(&r.pool);
    for (int k = 0; k < r.njobs; k++) {
        json_decref(r.jobs[k].result);
        ocr_input_release(&r.jobs[k].in);
    }
    free(r.jobs);
    char sock[200];
    snprintf(sock, sizeof sock, "%s/jobs.sock", r.dir);
    unlink(sock);
    snprintf(sock, sizeof sock, "%s/gpu.sock", r.dir);
    unlink(sock);
    rmdir(r.dir);
    return rc;
}
