/*
 * engine_limit.c - the raw Tesseract throughput of this machine: the
 * ceiling any OCR service built on it can approach.
 *
 * Usage: engine-limit [-j PROCESSES] [-p PASSES] [-l LANGS] IMAGE...
 *
 * Every image is decoded with Leptonica before anything is timed.  Then
 * PROCESSES children (default: one per online core) each create and load one
 * Tesseract engine (LANGS, default ind+eng; OEM 1 LSTM; PSM 3 set explicitly,
 * as the original's CLI ran) and report ready.  The clock starts when all are
 * ready; child i recognises documents i, i + PROCESSES, ... of the PASSES x
 * IMAGE list (TessBaseAPISetImage2 + Recognize + GetUTF8Text, no
 * preprocessing, no queue, no IPC beyond the start signal and the result)
 * and the clock stops when the last child has reported.  Engine loading and
 * teardown are outside the clock.
 *
 * OpenMP must be off (OMP_THREAD_LIMIT=1) before Tesseract's library is
 * loaded, so the program sets it and re-executes itself when the
 * environment lacks it.
 *
 * Prints one line of key=value pairs:
 *   processes=N docs=D seconds=S docs_per_s=R chars=C errors=E
 * Exit status 0, or 1 when any image failed to decode or recognise.
 */
#include <errno.h>
#include <signal.h>
#include <leptonica/allheaders.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tesseract/capi.h>
#include <time.h>
#include <unistd.h>

#include "common/fd_io.h"

struct child_result {
    long docs;
    long chars;
    long errors;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * One child: load the engine, say ready, wait for the start signal (EOF on
 * go_fd), recognise its share, write the result and exit.
 */
static int run_child(int index, int procs, long total, PIX **pix, int npix, const char *langs,
                     int ready_fd, int go_fd, int result_fd)
{
    struct child_result res = {0, 0, 0};
    TessBaseAPI *api = TessBaseAPICreate();
    char byte = 1;

    if (api == NULL)
        return 1;
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    if (TessBaseAPIInit2(api, NULL, langs, OEM_LSTM_ONLY) != 0) {
        fprintf(stderr, "engine-limit: cannot load Tesseract languages %s\n", langs);
        byte = 0;
    }
    TessBaseAPISetPageSegMode(api, PSM_AUTO);
    if (fd_write_all(ready_fd, &byte, 1) != 0 || byte == 0)
        return 1;
    while (read(go_fd, &byte, 1) < 0 && errno == EINTR)
        ;
    for (long k = index; k < total; k += procs) {
        TessBaseAPISetImage2(api, pix[k % npix]);
        if (TessBaseAPIRecognize(api, NULL) != 0) {
            res.errors++;
        } else {
            char *text = TessBaseAPIGetUTF8Text(api);
            if (text != NULL) {
                res.chars += (long)strlen(text);
                TessDeleteText(text);
            } else {
                res.errors++;
            }
        }
        TessBaseAPIClear(api);
        res.docs++;
    }
    int rc = fd_write_all(result_fd, &res, sizeof res) == 0 ? 0 : 1;
    TessBaseAPIEnd(api);
    TessBaseAPIDelete(api);
    return rc;
}

/* Releases the first n decoded images and the array. */
static void free_pix(PIX **pix, int n)
{
    for (int i = 0; i < n; i++)
        pixDestroy(&pix[i]);
    free(pix);
}

static void usage(void)
{
    fprintf(stderr, "usage: engine-limit [-j PROCESSES] [-p PASSES] [-l LANGS] IMAGE...\n");
}

int main(int argc, char **argv)
{
    long procs = sysconf(_SC_NPROCESSORS_ONLN);
    long passes = 1;
    const char *langs = "ind+eng";
    int opt;

    const char *omp = getenv("OMP_THREAD_LIMIT");
    if (omp == NULL || strcmp(omp, "1") != 0) {
        /* Tesseract's OpenMP reads the variable when the library loads. */
        setenv("OMP_THREAD_LIMIT", "1", 1);
        execv("/proc/self/exe", argv);
        perror("engine-limit: re-exec with OMP_THREAD_LIMIT=1");
        return 1;
    }
    while ((opt = getopt(argc, argv, "j:p:l:h")) != -1) {
        switch (opt) {
        case 'j':
            procs = strtol(optarg, NULL, 10);
            break;
        case 'p':
            passes = strtol(optarg, NULL, 10);
            break;
        case 'l':
            langs = optarg;
            break;
        default:
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    int npix = argc - optind;
    if (npix <= 0 || procs < 1 || procs > 256 || passes < 1 || passes > 100000) {
        usage();
        return 2;
    }
    PIX **pix = calloc((size_t)npix, sizeof(PIX *));
    if (pix == NULL)
        return 1;
    for (int i = 0; i < npix; i++) {
        pix[i] = pixRead(argv[optind + i]);
        if (pix[i] == NULL) {
            fprintf(stderr, "engine-limit: cannot decode %s\n", argv[optind + i]);
            free_pix(pix, i);
            return 1;
        }
    }
    long total = (long)npix * passes;

    int ready[2], go[2], result[2];
    if (pipe(ready) != 0 || pipe(go) != 0 || pipe(result) != 0) {
        perror("engine-limit: pipe");
        free_pix(pix, npix);
        return 1;
    }
    pid_t *pids = calloc((size_t)procs, sizeof *pids);
    if (pids == NULL) {
        free_pix(pix, npix);
        return 1;
    }
    for (long i = 0; i < procs; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("engine-limit: fork");
            free(pids);
            free_pix(pix, npix);
            return 1;
        }
        if (pids[i] == 0) {
            close(ready[0]);
            close(go[1]);
            close(result[0]);
            _exit(
                run_child((int)i, (int)procs, total, pix, npix, langs, ready[1], go[0], result[1]));
        }
    }
    close(ready[1]);
    close(go[0]);
    close(result[1]);

    int ok = 1;
    for (long i = 0; i < procs; i++) {
        char byte = 0;
        if (fd_read_all(ready[0], &byte, 1) != 0 || byte != 1) {
            fprintf(stderr, "engine-limit: a child failed to load the engine\n");
            ok = 0;
            break;
        }
    }
    if (!ok)
        for (long i = 0; i < procs; i++)
            kill(pids[i], SIGTERM);
    double t0 = now_s();
    close(go[1]); /* the start signal: every child's read returns 0 */
    struct child_result sum = {0, 0, 0};
    for (long i = 0; i < procs; i++) {
        struct child_result r;
        if (fd_read_all(result[0], &r, sizeof r) != 0) {
            ok = 0;
            break;
        }
        sum.docs += r.docs;
        sum.chars += r.chars;
        sum.errors += r.errors;
    }
    double secs = now_s() - t0; /* the last result is in: engine teardown is not timed */
    for (long i = 0; i < procs; i++) {
        int st;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            ok = 0;
    }
    free_pix(pix, npix);
    free(pids);
    if (!ok || sum.docs != total) {
        fprintf(stderr, "engine-limit: %ld of %ld documents done\n", sum.docs, total);
        return 1;
    }
    printf("processes=%ld docs=%ld seconds=%.3f docs_per_s=%.3f chars=%ld errors=%ld\n", procs,
           sum.docs, secs, (double)sum.docs / secs, sum.chars, sum.errors);
    return sum.errors == 0 ? 0 : 1;
}
