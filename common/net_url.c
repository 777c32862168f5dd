/*
 * net_url.c - see net_url.h.
 */
#include "net_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

bool net_host_is_loopback(const char *host)
{
    unsigned char addr[16];
    char buf[64];
    size_t n = strlen(host);

    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, addr) == 1)
        return addr[0] == 127;
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof buf)
            return false;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    static const unsigned char v6_loopback[16] = {[15] = 1};
    return inet_pton(AF_INET6, host, addr) == 1 && memcmp(addr, v6_loopback, 16) == 0;
}

/* The host of an http:// url whose host is not loopback (curl_free it); else NULL. */
static char *plain_remote_host(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    if (u == NULL)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || strcasecmp(scheme, "http") != 0 ||
        net_host_is_loopback(host)) {
        curl_free(host);
        host = NULL;
    }
    curl_free(scheme);
    curl_url_cleanup(u);
    return host;
}

bool net_url_plain_http_remote(const char *url)
{
    char *host = plain_remote_host(url);
    bool remote = host != NULL;
    curl_free(host);
    return remote;
}

bool net_warn_plain_http(const char *var, const char *url)
{
    char *host = plain_remote_host(url);
    if (host == NULL)
        return false;
    char msg[128];
    snprintf(msg, sizeof msg, "%s uses plain http: traffic is not encrypted", var);
    log_kv(LOG_WARN, msg, LF_STR, "host", host, LF_END);
    curl_free(host);
    return true;
}
