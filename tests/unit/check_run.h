/*
 * check_run.h - the one way every unit-test binary runs its suite.
 */
#ifndef FILOT_CHECK_RUN_H
#define FILOT_CHECK_RUN_H

#include <check.h>

/* Runs s (the runner takes it over); 0 when every check passed, 1 when one
 * failed or none ran (a filter typo must not look like success). */
int check_run(Suite *s);

#endif
