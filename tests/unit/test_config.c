/*
 * test_config.c - environment parsing and validation messages.
 */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/status.h"

static void clear_env(void)
{
    size_t n;
    const struct config_var *v = config_vars(&n);
    for (size_t i = 0; i < n; i++)
        unsetenv(v[i].name);
}

START_TEST(test_defaults)
{
    clear_env();
    struct filot_config c;
    char err[256];
    ck_assert_int_eq(config_load(&c, err, sizeof err), 0);
    ck_assert_int_eq(c.concurrency, 2);
    ck_assert(!c.gpu_enabled); /* unset = false, as the original */
    ck_assert(c.gpu_autofallback);
    ck_assert_int_eq(c.health_port, 8080);
    ck_assert_uint_eq(c.shm_size, 2ULL << 30);
    ck_assert_str_eq(c.langs, "ind+eng");
    ck_assert_str_eq(c.queue_key, "filot:ocr:gpu:queue");
    ck_assert_str_eq(c.processing_key, "filot:ocr:gpu:processing");
    ck_assert_str_eq(c.attempts_key, "filot:ocr:gpu:attempts");
    ck_assert_str_eq(c.publish_channel, "filot:ocr:gpu:results");
    ck_assert_uint_eq(c.max_retries, 3);
    ck_assert_uint_eq(c.stuck_timeout_ms, 300000);
    ck_assert_uint_eq(c.lock_ttl_s, 600);
    ck_assert_str_eq(c.redis_url, "redis://localhost:6379");
    ck_assert_str_eq(c.buli2_url, "http://localhost:8080");
    ck_assert(!c.result_pii_full);
    ck_assert(!c.decision_compat);
}
END_TEST

/* Each bad value is refused with a message that names the variable. */
START_TEST(test_errors_name_the_variable)
{
    static const char *const bad[][2] = {
        {"OCR_GPU_CONCURRENCY", "abc"}, {"OCR_GPU_CONCURRENCY", "0"},
        {"OCR_GPU_CONCURRENCY", "65"},  {"OCR_GPU_CONCURRENCY", "2x"},
        {"HEALTH_PORT", "70000"},       {"OCR_SHM_SIZE", "lots"},
        {"OCR_SHM_SIZE", "1"},          {"OCR_SHM_SIZE", "-2G"},
        {"OCR_GPU_EMULATE", "yes"},     {"OCR_LOG_LEVEL", "loud"},
        {"OCR_PREPROCESS", "sharpen"},  {"OCR_RESULT_PII", "some"},
        {"OCR_GPU_MAX_RETRIES", "-1"},  {"OCR_GPU_POLL_INTERVAL", ""},
        {"OCR_DECISION_POLICY", "lax"}, {"OCR_DECISION_POLICY", "STRICT"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clear_env();
        setenv(bad[i][0], bad[i][1], 1);
        struct filot_config c;
        char err[256] = "";
        ck_assert_msg(config_load(&c, err, sizeof err) == FILOT_EINVAL, "%s=%s accepted", bad[i][0],
                      bad[i][1]);
        ck_assert_msg(strstr(err, bad[i][0]) != NULL, "message does not name %s: %s", bad[i][0],
                      err);
    }
    clear_env();
    setenv("OCR_GPU_CONCURRENCY", "abc", 1);
    struct filot_config c;
    char err[256];
    config_load(&c, err, sizeof err);
    ck_assert_str_eq(err, "OCR_GPU_CONCURRENCY must be an integer 1..64, got \"abc\"");
}
END_TEST

START_TEST(test_gpu_switches_like_the_original)
{
    struct filot_config c;
    char err[256];
    clear_env();
    setenv("OCR_GPU_ENABLED", "1", 1);
    config_load(&c, err, sizeof err);
    ck_assert(c.gpu_enabled);
    setenv("OCR_GPU_ENABLED", "TRUE", 1); /* case-sensitive in the original */
    config_load(&c, err, sizeof err);
    ck_assert(!c.gpu_enabled);
    setenv("OCR_GPU_ENABLED", "true", 1);
    setenv("NVIDIA_VISIBLE_DEVICES", "none", 1);
    config_load(&c, err, sizeof err);
    ck_assert(!c.gpu_enabled);
    setenv("OCR_GPU_AUTOFALLBACK", "FALSE", 1); /* lower-cased in the original */
    config_load(&c, err, sizeof err);
    ck_assert(!c.gpu_autofallback);
    setenv("OCR_GPU_AUTOFALLBACK", "no", 1);
    config_load(&c, err, sizeof err);
    ck_assert(c.gpu_autofallback);
}
END_TEST

START_TEST(test_sizes)
{
    uint64_t v;
    ck_assert_int_eq(config_parse_size("2G", &v), 0);
    ck_assert_uint_eq(v, 2ULL << 30);
    ck_assert_int_eq(config_parse_size("512M", &v), 0);
    ck_assert_uint_eq(v, 512ULL << 20);
    ck_assert_int_eq(config_parse_size("64KiB", &v), 0);
    ck_assert_uint_eq(v, 64ULL << 10);
    ck_assert_int_eq(config_parse_size("1000", &v), 0);
    ck_assert_uint_eq(v, 1000);
    ck_assert_int_eq(config_parse_size("2T", &v), FILOT_EINVAL);
    ck_assert_int_eq(config_parse_size("", &v), FILOT_EINVAL);
    ck_assert_int_eq(config_parse_size("99999999999999999999G", &v), FILOT_EINVAL);
}
END_TEST

START_TEST(test_backoff_order_and_pipeline_check)
{
    struct filot_config c;
    char err[256];
    clear_env();
    setenv("OCR_RESTART_BACKOFF_MIN_MS", "500", 1);
    setenv("OCR_RESTART_BACKOFF_MAX_MS", "100", 1);
    ck_assert_int_eq(config_load(&c, err, sizeof err), FILOT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "OCR_RESTART_BACKOFF_MAX_MS"));
    clear_env();
    config_load(&c, err, sizeof err);
    ck_assert_int_eq(config_check_pipeline(&c, err, sizeof err), FILOT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "DATABASE_URL"));
    setenv("DATABASE_URL", "postgresql://x@127.0.0.1/db", 1);
    setenv("CF_R2_ENDPOINT", "https://acct.r2.cloudflarestorage.com", 1);
    config_load(&c, err, sizeof err);
    ck_assert_int_eq(config_check_pipeline(&c, err, sizeof err), FILOT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "CF_R2_BUCKET_NAME"));
    setenv("CF_R2_ENDPOINT", "file:///srv/docs", 1); /* local root: no credentials */
    config_load(&c, err, sizeof err);
    ck_assert_int_eq(config_check_pipeline(&c, err, sizeof err), 0);
}
END_TEST

START_TEST(test_table_is_complete_and_unique)
{
    size_t n;
    const struct config_var *v = config_vars(&n);
    ck_assert_uint_ge(n, 40);
    for (size_t i = 0; i < n; i++) {
        ck_assert(strlen(v[i].help) > 10);
        for (size_t j = i + 1; j < n; j++)
            ck_assert_str_ne(v[i].name, v[j].name);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("env");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_errors_name_the_variable);
    tcase_add_test(tc, test_gpu_switches_like_the_original);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_backoff_order_and_pipeline_check);
    tcase_add_test(tc, test_table_is_complete_and_unique);
    suite_add_tcase(s, tc);
    return check_run(s);
}
