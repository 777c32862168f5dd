/*
 * main.c - filot-ocr, the command-line tool for people and test rigs.
 *
 *   filot-ocr ocr [--type KTP|NPWP] [--workers N] [--health-port P]
 *                 [--log FILE | --verbose] FILE...
 *   filot-ocr config            the environment variables filot-ocrd reads
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../ocr-workers/queue.h"
#include "../common/status.h"
#include "ocr_run.h"

static void usage(FILE *out)
{
    fputs("usage: filot-ocr ocr [--type KTP|NPWP] [--workers N] [--health-port P]\n"
          "                     [--log FILE | --verbose] FILE...\n"
          "       filot-ocr enqueue DOCUMENT_ID...\n"
          "       filot-ocr config\n"
          "       filot-ocr --help\n"
          "\n"
          "ocr     runs a private filot-ocrd instance (own shared memory and sockets, no\n"
          "        Redis or database) and prints one JSON object per FILE, in input order.\n"
          "        Exit 0 when every file succeeded, 1 otherwise, 2 on bad usage.\n"
          "        --workers N      worker processes (default OCR_GPU_CONCURRENCY)\n"
          "        --health-port P  serve /health and /metrics on P (default: off)\n"
          "        --log FILE       append filot-ocrd's JSON log to FILE\n"
          "        --verbose        filot-ocrd's log on stderr\n"
          "enqueue puts document ids on the Redis queue (OCR_GPU_QUEUE_KEY) the way the\n"
          "        upload API does, skipping ids already queued or being processed.\n"
          "        Exit 0 when every id was queued or already present, 1 on Redis errors.\n"
          "config  prints the environment variables, their defaults and meaning.\n",
          out);
}

/* Prints the configuration table as NAME<TAB>DEFAULT<TAB>DESCRIPTION. */
static int cmd_config(void)
{
    size_t n;
    const struct config_var *v = config_vars(&n);
    for (size_t i = 0; i < n; i++)
        printf("%s\t%s\t%s\n", v[i].name, v[i].def, v[i].help);
    return FILOT_EXIT_OK;
}

static int parse_int_arg(const char *s, int lo, int hi, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int cmd_ocr(int argc, char **argv)
{
    static const struct option longopts[] = {{"type", required_argument, NULL, 't'},
                                             {"workers", required_argument, NULL, 'w'},
                                             {"health-port", required_argument, NULL, 'p'},
                                             {"log", required_argument, NULL, 'l'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct ocr_run_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:w:p:l:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (strcmp(optarg, "KTP") != 0 && strcmp(optarg, "NPWP") != 0) {
                fprintf(stderr, "filot-ocr: --type must be KTP or NPWP, got \"%s\"\n", optarg);
                return FILOT_EXIT_CONFIG;
            }
            o.doc_type = optarg;
            break;
        case 'w':
            if (parse_int_arg(optarg, 1, 64, &o.workers) != 0) {
                fprintf(stderr, "filot-ocr: --workers must be 1..64, got \"%s\"\n", optarg);
                return FILOT_EXIT_CONFIG;
            }
            break;
        case 'p':
            if (parse_int_arg(optarg, 1, 65535, &o.health_port) != 0) {
                fprintf(stderr, "filot-ocr: --health-port must be 1..65535\n");
                return FILOT_EXIT_CONFIG;
            }
            break;
        case 'l':
            o.log_path = optarg;
            break;
        case 'v':
            o.log_path = "/dev/stderr";
            break;
        case 'h':
            usage(stdout);
            return FILOT_EXIT_OK;
        default:
            usage(stderr);
            return FILOT_EXIT_CONFIG;
        }
    }
    if (optind >= argc) {
        fputs("filot-ocr ocr: no FILE given\n", stderr);
        return FILOT_EXIT_CONFIG;
    }
    o.files = argv + optind;
    o.nfiles = argc - optind;
    o.progress = isatty(STDERR_FILENO);
    return ocr_run(&o);
}

/* The original's enqueueForGPU, atomic (one Lua script per id). */
static int cmd_enqueue(int argc, char **argv)
{
    char err[512];
    struct filot_config cfg;
    if (argc < 2) {
        fputs("filot-ocr enqueue: no DOCUMENT_ID given\n", stderr);
        return FILOT_EXIT_CONFIG;
    }
    if (config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "filot-ocr: %s\n", err);
        return FILOT_EXIT_CONFIG;
    }
    log_init("filot-ocr", cfg.log_level);
    struct queue *q = NULL;
    if (queue_open(&cfg, "filot-ocr-cli", 0, &q, err, sizeof err) != 0) {
        fprintf(stderr, "filot-ocr: %s\n", err);
        return FILOT_EXIT_CONFIG;
    }
    int rc = FILOT_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        bool added = false;
        if (queue_enqueue(q, argv[i], &added) != 0) {
            fprintf(stderr, "filot-ocr: cannot enqueue %s: Redis unavailable\n", argv[i]);
            rc = FILOT_EXIT_FAILURE;
            continue;
        }
        log_kv(LOG_INFO,
               added ? "Document enqueued for GPU OCR processing"
                     : "Document already queued or processing; not enqueued",
               LF_STR, "documentId", argv[i], LF_BOOL, "added", added, LF_END);
    }
    queue_close(q);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FILOT_EXIT_CONFIG : FILOT_EXIT_OK;
    }
    if (strcmp(argv[1], "ocr") == 0)
        return cmd_ocr(argc - 1, argv + 1);
    if (strcmp(argv[1], "enqueue") == 0)
        return cmd_enqueue(argc - 1, argv + 1);
    if (strcmp(argv[1], "config") == 0)
        return cmd_config();
    fprintf(stderr, "filot-ocr: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return FILOT_EXIT_CONFIG;
}
