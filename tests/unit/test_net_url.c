/*
 * test_net_url.c - net_url: which hosts count as this machine, and the
 * start-up warning for settings that send traffic over plain http to
 * another host (CF_R2_ENDPOINT, BULI2_API_URL).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "common/log.h"
#include "common/net_url.h"

START_TEST(test_loopback_hosts)
{
    static const char *const yes[] = {"localhost", "LocalHost", "127.0.0.1",        "127.8.9.10",
                                      "::1",       "[::1]",     "[0:0:0:0:0:0:0:1]"};
    static const char *const no[] = {
        "buli2.example.com",     "10.0.0.1", "128.0.0.1", "[::2]", "::",
        "localhost.example.com", "[::1",     "",          "[]"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        ck_assert_msg(net_host_is_loopback(yes[i]), "%s should be loopback", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        ck_assert_msg(!net_host_is_loopback(no[i]), "%s should not be loopback", no[i]);
}
END_TEST

START_TEST(test_plain_http_remote)
{
    static const char *const warned[] = {"http://buli2.example.com",
                                         "HTTP://buli2.example.com:8080/",
                                         "http://10.1.2.3:8080/api", "http://[2001:db8::1]/"};
    static const char *const quiet[] = {"https://buli2.example.com",
                                        "http://localhost:8080",
                                        "http://127.0.0.1:9000/base",
                                        "http://[::1]:8080",
                                        "file:///srv/uploads",
                                        "buli2.example.com",
                                        "",
                                        "not a url"};
    for (size_t i = 0; i < sizeof warned / sizeof warned[0]; i++)
        ck_assert_msg(net_url_plain_http_remote(warned[i]), "%s should count as plain remote",
                      warned[i]);
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
        ck_assert_msg(!net_url_plain_http_remote(quiet[i]), "%s should not count", quiet[i]);
}
END_TEST

/* Runs net_warn_plain_http with stdout (the log) in a file; returns the text. */
static char *warn_log(const char *var, const char *url, bool *warned)
{
    char path[] = "/tmp/test_net_url.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
    *warned = net_warn_plain_http(var, url);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fd);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    return strdup(text);
}

START_TEST(test_warning_line)
{
    bool warned;
    char *text = warn_log("BULI2_API_URL", "http://buli2.example.com/base", &warned);
    ck_assert(warned);
    ck_assert_msg(strstr(text, "\"BULI2_API_URL uses plain http: traffic is not encrypted\"") !=
                      NULL,
                  "no warning line: %s", text);
    ck_assert_msg(strstr(text, "\"level\":\"warn\"") != NULL, "not a warning: %s", text);
    ck_assert_msg(strstr(text, "\"host\":\"buli2.example.com\"") != NULL, "no host: %s", text);
    free(text);
    static const char *const quiet[] = {"https://buli2.example.com", "http://localhost:8080",
                                        "http://127.0.0.1:8080", "http://[::1]:8080"};
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) {
        text = warn_log("BULI2_API_URL", quiet[i], &warned);
        ck_assert_msg(!warned && text[0] == '\0', "%s logged: %s", quiet[i], text);
        free(text);
    }
}
END_TEST

int main(void)
{
    log_init("test_net_url", LOG_INFO);
    Suite *s = suite_create("net_url");
    TCase *tc = tcase_create("net_url");
    tcase_add_test(tc, test_loopback_hosts);
    tcase_add_test(tc, test_plain_http_remote);
    tcase_add_test(tc, test_warning_line);
    suite_add_tcase(s, tc);
    return check_run(s);
}
