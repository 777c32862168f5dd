/*
 * main.c - filot-ocr, the command-line tool for operators and test rigs:
 * the usage text, the subcommand dispatch and what the subcommands share
 * (cli.h).  stdout carries results only; errors and log lines go to
 * stderr, each error prefixed "filot-ocr: ".
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../common/status.h"
#include "../common/version.h"
#include "cli.h"
#include "ocr_run.h"

static void usage(FILE *out)
{
    fputs("usage: filot-ocr ocr [--type KTP|NPWP] [--workers N] [--health-port P]\n"
          "                     [--log FILE | --verbose] FILE...\n"
          "       filot-ocr enqueue DOCUMENT_ID...\n"
          "       filot-ocr status [--json] [--limit N]\n"
          "       filot-ocr requeue [--force] DOCUMENT_ID...\n"
          "       filot-ocr check [--connect]\n"
          "       filot-ocr config\n"
          "       filot-ocr --help | --version\n"
          "\n"
          "ocr      runs a private filot-ocrd instance (own shared memory and sockets, no\n"
          "         Redis or database) and prints one JSON object per FILE, in input order.\n"
          "         FILE \"-\" reads the document from stdin.  --type is case-insensitive.\n"
          "         --workers N      worker processes (default OCR_GPU_CONCURRENCY)\n"
          "         --health-port P  serve /health and /metrics on P (default: off)\n"
          "         --log FILE       append filot-ocrd's JSON log to FILE\n"
          "         --verbose        filot-ocrd's log on stderr\n"
          "         Failures are also written to stderr when stdout is not a terminal.\n"
          "enqueue  puts document ids on the Redis queue (OCR_GPU_QUEUE_KEY) the way the\n"
          "         upload API does, skipping ids already queued or being processed.\n"
          "status   queue depth, claimed jobs (owner, age, stuck), delayed retries, BULI2\n"
          "         outbox and the newest failed documents with their reasons (Redis and\n"
          "         PostgreSQL).  Plain text; --json for scripts; --limit N rows (default 10).\n"
          "requeue  puts failed documents back: status='processing' and enqueued, as the\n"
          "         upload API's retry does.  --force also takes rows that are not failed\n"
          "         (never completed ones).  One line per id says what was done.\n"
          "check    validates the whole environment, prints every bad variable and the\n"
          "         effective configuration (secrets masked); --connect also probes Redis,\n"
          "         PostgreSQL, R2 and BULI2 one by one.\n"
          "config   prints the environment variables, their defaults and meaning\n"
          "         (fails like check when the environment holds a bad value).\n"
          "\n"
          "Exit codes: 0 success; 1 a file, id or server failed; 2 bad usage or\n"
          "configuration; 130 interrupted (Ctrl-C).\n",
          out);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("filot-ocr: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return true;
        }
    }
    return false;
}

int cli_load_config(struct filot_config *cfg, enum log_level min_level)
{
    struct config_errors errs;
    log_set_fd(STDERR_FILENO);
    if (config_load_all(cfg, &errs) != 0) {
        for (int i = 0; i < errs.count && i < CONFIG_MAX_ERRORS; i++)
            cli_error("%s", errs.msg[i]);
        log_init("filot-ocr", LOG_ERROR);
        return FILOT_EXIT_CONFIG;
    }
    log_init("filot-ocr", cfg->log_level > min_level ? cfg->log_level : min_level);
    return 0;
}

/* Prints the configuration table as NAME<TAB>DEFAULT<TAB>DESCRIPTION. */
int cmd_config(int argc, char **argv)
{
    struct filot_config cfg;
    if (cli_wants_help(argc, argv))
        return FILOT_EXIT_OK;
    if (argc > 1) {
        cli_error("config takes no arguments");
        return FILOT_EXIT_CONFIG;
    }
    if (cli_load_config(&cfg, LOG_WARN) != 0)
        return FILOT_EXIT_CONFIG;
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

/* --type in any case, as the canonical upper-case name. */
static const char *parse_type(const char *s)
{
    if (strcasecmp(s, "KTP") == 0)
        return "KTP";
    if (strcasecmp(s, "NPWP") == 0)
        return "NPWP";
    return NULL;
}

int cmd_ocr(int argc, char **argv)
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
    opterr = 0;
    while ((c = getopt_long(argc, argv, "t:w:p:l:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if ((o.doc_type = parse_type(optarg)) == NULL) {
                cli_error("--type must be KTP or NPWP, got \"%s\"", optarg);
                return FILOT_EXIT_CONFIG;
            }
            break;
        case 'w':
            if (parse_int_arg(optarg, 1, 64, &o.workers) != 0) {
                cli_error("--workers must be 1..64, got \"%s\"", optarg);
                return FILOT_EXIT_CONFIG;
            }
            break;
        case 'p':
            if (parse_int_arg(optarg, 1, 65535, &o.health_port) != 0) {
                cli_error("--health-port must be 1..65535, got \"%s\"", optarg);
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
            cli_error("ocr: unknown option or missing value: %s", argv[optind - 1]);
            return FILOT_EXIT_CONFIG;
        }
    }
    if (optind >= argc) {
        cli_error("ocr: no FILE given (\"-\" reads stdin)");
        return FILOT_EXIT_CONFIG;
    }
    o.files = argv + optind;
    o.nfiles = argc - optind;
    o.progress = isatty(STDERR_FILENO);
    o.echo_failures = !isatty(STDOUT_FILENO);
    return ocr_run(&o);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {{"ocr", cmd_ocr},         {"enqueue", cmd_enqueue}, {"status", cmd_status},
                    {"requeue", cmd_requeue}, {"check", cmd_check},     {"config", cmd_config}};
    log_set_fd(STDERR_FILENO);
    if (version_requested(argc, argv, "filot-ocr"))
        return FILOT_EXIT_OK;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FILOT_EXIT_CONFIG : FILOT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command \"%s\" (filot-ocr --help lists them)", argv[1]);
    return FILOT_EXIT_CONFIG;
}
