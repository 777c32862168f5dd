/*
 * check_run.c - runs a Check suite and turns the outcome into an exit code.
 */
#include "check_run.h"

#include <stdio.h>

int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int ran = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (ran == 0)
        fputs("no tests ran\n", stderr);
    return failed == 0 && ran > 0 ? 0 : 1;
}
