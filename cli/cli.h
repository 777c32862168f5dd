/*
 * cli.h - what every `filot-ocr` subcommand shares: exit codes, the one
 * error prefix, and the rule that stdout carries results only (the common
 * logger writes to stderr in this program).
 *
 * Exit codes: 0 success, 1 a runtime failure (a file, an id, a server),
 * 2 bad usage or configuration, 130 interrupted (Ctrl-C).
 */
#ifndef FILOT_CLI_H
#define FILOT_CLI_H

#include <stdbool.h>

#include "../common/config.h"

#define CLI_EXIT_INTERRUPTED 130

/* Prints "filot-ocr: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * True when argv (after the subcommand) asks for help (-h / --help): the
 * subcommand's usage goes to stdout and it exits 0.
 */
bool cli_wants_help(int argc, char **argv);

/*
 * Loads and validates the environment for a subcommand; prints every bad
 * variable with the prefix and returns FILOT_EXIT_CONFIG, else 0.  The
 * logger is set up on stderr at the configured level (min_level when
 * higher).
 */
int cli_load_config(struct filot_config *cfg, enum log_level min_level);

int cmd_config(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_enqueue(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_requeue(int argc, char **argv);
int cmd_ocr(int argc, char **argv);

#endif
