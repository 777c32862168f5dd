/*
 * storage.h - fetching a document's bytes: Cloudflare R2 over the S3 API
 * (libcurl, CURLOPT_AWS_SIGV4 "aws:amz:auto:s3", path-style,
 * x-amz-content-sha256 = SHA-256 of the empty body, which curl 7.81 and 7.88 both sign correctly)
 * or a local file:// root.
 *
 * Only the configured endpoint and bucket are ever contacted: a file_url
 * that names another host, bucket or scheme is refused before any request
 * (no SSRF).  Downloads are capped at max_bytes and bounded in time.
 */
#ifndef FILOT_STORAGE_H
#define FILOT_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct storage_config {
    const char *endpoint;   /* CF_R2_ENDPOINT, e.g. https://<acct>.r2.cloudflarestorage.com;
                               or file:///srv/docs for a local root; NULL/"" = not configured */
    const char *access_key; /* CF_R2_ACCESS_KEY_ID */
    const char *secret_key; /* CF_R2_SECRET_ACCESS_KEY */
    const char *bucket;     /* CF_R2_BUCKET_NAME */
    uint64_t max_bytes;     /* OCR_MAX_DOWNLOAD_BYTES */
    uint32_t connect_timeout_ms;
    uint32_t total_timeout_ms;
};

/* What went wrong, so the caller can decide between retry and fail. */
enum storage_error_kind {
    STORAGE_OK = 0,
    STORAGE_PERMANENT, /* bad key/URL, not found, too big, empty, forbidden host */
    STORAGE_TRANSIENT  /* network, timeout, 5xx, throttling: worth a retry */
};

struct storage;

int storage_open(const struct storage_config *cfg, struct storage **out);
void storage_close(struct storage *st);

/*
 * Turns a documents.file_url into an object key, compatible with the
 * original's extractKeyFromUrl (doc/COMPATIBILITY.md section 3): a bare key is
 * used as is; an http(s) URL must point at the configured endpoint host
 * (and for path-style, the configured bucket) or it is refused.  key gets
 * the decoded key.  Returns 0 or FILOT_EINVAL with a reason in err.
 */
int storage_key_from_url(const struct storage *st, const char *file_url, char *key, size_t keylen,
                         char *err, size_t errlen);

/*
 * Downloads file_url's object.  On success *buf (malloc'd, caller frees)
 * and *len.  Logs nothing on failure (the caller knows the document and
 * logs it once).  On failure err holds a clear sentence (e.g. "The specified key
 * does not exist.", "No data received from R2", "object is larger than
 * OCR_MAX_DOWNLOAD_BYTES=N") and *kind says whether to retry.
 */
int storage_fetch(struct storage *st, const char *file_url, uint8_t **buf, size_t *len,
                  enum storage_error_kind *kind, char *err, size_t errlen);

/* True for a file:// root (logs then speak of files, not objects). */
bool storage_is_local(const struct storage *st);

#endif
