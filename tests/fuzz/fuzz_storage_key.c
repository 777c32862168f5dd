/*
 * fuzz_storage_key.c - documents.file_url to object key
 * (storage_key_from_url) against an https R2 endpoint, a plain-http one
 * with a port, and a file:// root.  file_url is written by the upload API
 * from client input, so this is the SSRF / path-traversal boundary.
 *
 * Input: byte 0 picks the storage (bits 0-1) and the key buffer size
 * (bits 2-3), the rest is file_url.
 * Properties: an accepted key fits its buffer, is not empty, does not start
 * with '/', holds no control byte and no "." or ".." segment (storage.h's
 * promise: one object under the bucket or root, nothing else); a refusal
 * always says why in a terminated err.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/storage.h"
#include "tests/fuzz/util.h"

#define NSTORES 3

/* The stores are opened once: storage_open() makes no connection. */
static struct storage *open_store(const char *endpoint)
{
    struct storage_config cfg = {endpoint, "AKIAFUZZ", "secret", "uploads", 1 << 20, 1000, 1000};
    struct storage *st = NULL;
    if (storage_open(&cfg, &st) != 0)
        fuzz_fail("cannot open the fuzz storage");
    return st;
}

/* The key contract of storage.h, checked independently of storage.c. */
static void check_key(const char *key, size_t keylen)
{
    fuzz_check_terminated(key, keylen, "key is not terminated within its buffer");
    size_t len = strlen(key);
    if (len == 0 || key[0] == '/')
        fuzz_fail("key is empty or absolute");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
            fuzz_fail("key holds a control byte");
    for (const char *seg = key; seg != NULL;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            fuzz_fail("key holds a '.' or '..' segment");
        seg = slash ? slash + 1 : NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const endpoints[NSTORES] = {"https://acct.r2.cloudflarestorage.com",
                                                   "http://127.0.0.1:9000", "file:///tmp"};
    static const size_t keylens[4] = {1, 8, 64, 1100};
    static struct storage *stores[NSTORES];
    static int quiet;
    if (!quiet++)
        fuzz_quiet_logs();
    if (size == 0)
        return 0;
    struct storage *st = stores[(data[0] & 3) % NSTORES];
    if (st == NULL)
        st = stores[(data[0] & 3) % NSTORES] = open_store(endpoints[(data[0] & 3) % NSTORES]);
    size_t keylen = keylens[(data[0] >> 2) & 3];
    char *url = fuzz_cstring(data + 1, size - 1);
    char *key = malloc(keylen);
    char err[256];
    if (key == NULL)
        fuzz_fail("out of memory");
    memset(err, 'x', sizeof err);
    if (storage_key_from_url(st, url, key, keylen, err, sizeof err) == 0) {
        check_key(key, keylen);
    } else {
        fuzz_check_terminated(err, sizeof err, "err is not terminated");
        if (err[0] == '\0')
            fuzz_fail("refused without a reason");
    }
    free(key);
    free(url);
    return 0;
}
