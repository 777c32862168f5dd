/*
 * net_url.h - what a service URL says about the wire: whether its host is
 * this machine (loopback), and a start-up warning when a setting sends
 * traffic over plain http to another host.
 */
#ifndef FILOT_NET_URL_H
#define FILOT_NET_URL_H

#include <stdbool.h>

/*
 * True for "localhost", an IPv4 address in 127.0.0.0/8 and the IPv6
 * loopback "::1" (with or without the brackets a URL puts around it).
 */
bool net_host_is_loopback(const char *host);

/*
 * True when url is http:// (any case) to a host that is not loopback:
 * requests and credentials cross the network unencrypted.  False for
 * https, loopback hosts, other schemes and text that is not a URL.
 */
bool net_url_plain_http_remote(const char *url);

/*
 * Logs "<var> uses plain http: traffic is not encrypted" (LOG_WARN, with
 * the host) when net_url_plain_http_remote(url).  Returns whether it did.
 */
bool net_warn_plain_http(const char *var, const char *url);

#endif
