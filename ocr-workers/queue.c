/*
 * queue.c - hiredis client and the Lua scripts of the job queue.
 */
#include "queue.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/status.h"

#define KEY_PREFIX        "filot:ocr:gpu:"
#define INSTANCE_TTL_S    15
#define RECONNECT_MIN_MS  100u
#define RECONNECT_MAX_MS  3000u
#define COMMAND_TIMEOUT_S 5

struct queue {
    const struct filot_config *cfg;
    redisContext *rc;
    char host[256];
    int port;
    int db;
    char user[128]; /* Redis 6 ACL user: AUTH user password; "" = AUTH password */
    char password[256];
    char owner[160];
    char instance_key[200];
    /* fixed key names (doc/COMPATIBILITY.md 1.1 hard-codes these, as we do) */
    char k_timestamps[64], k_correlation[64], k_owners[64], k_delayed[64];
    char k_lock_prefix[64], k_instance_prefix[64], k_reaper[64];
    uint64_t next_attempt_ms;
    uint32_t backoff_ms;
    bool outage_logged;
    bool healthy;
    char last_error[256]; /* why the last connect failed */
};

/* The claim: move due retries back, pop, lock, mark processing - one step. */
static const char claim_lua[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', ARGV[1], 'LIMIT', 0, 100)\n"
    "for _, id in ipairs(due) do\n"
    "  redis.call('ZREM', KEYS[7], id)\n"
    "  redis.call('RPUSH', KEYS[1], id)\n"
    "end\n"
    "for _ = 1, 10 do\n"
    "  local id = redis.call('LPOP', KEYS[1])\n"
    "  if not id then return false end\n"
    "  local lock = ARGV[5] .. id\n"
    "  if redis.call('EXISTS', lock) == 0 then\n"
    "    local corr = redis.call('HGET', KEYS[4], id)\n"
    "    if not corr then corr = ARGV[2]; redis.call('HSET', KEYS[4], id, corr) end\n"
    "    redis.call('SET', lock, corr, 'EX', tonumber(ARGV[3]))\n"
    "    redis.call('SADD', KEYS[2], id)\n"
    "    redis.call('HSET', KEYS[3], id, ARGV[1])\n"
    "    redis.call('HSET', KEYS[6], id, ARGV[4])\n"
    "    local n = redis.call('HINCRBY', KEYS[5], id, 1)\n"
    "    return {id, corr, n}\n"
    "  end\n"
    "  redis.call('RPUSH', KEYS[1], id)\n"
    "end\n"
    "return false\n";

static const char renew_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('HGET', KEYS[3], ARGV[4]) ~= ARGV[5]"
    " then return 0 end\n"
    "redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))\n"
    "redis.call('HSET', KEYS[2], ARGV[4], ARGV[3])\n"
    "return 1\n";

static const char complete_lua[] =
    "if redis.call('HGET', KEYS[5], ARGV[1]) ~= ARGV[2] then return 0 end\n"
    "redis.call('SREM', KEYS[1], ARGV[1])\n"
    "redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "redis.call('HDEL', KEYS[3], ARGV[1])\n"
    "redis.call('HDEL', KEYS[4], ARGV[1])\n"
    "redis.call('HDEL', KEYS[5], ARGV[1])\n"
    "redis.call('DEL', KEYS[6])\n"
    "return 1\n";

static const char retry_lua[] =
    "if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end\n"
    "redis.call('SREM', KEYS[1], ARGV[1])\n"
    "redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "redis.call('HDEL', KEYS[3], ARGV[1])\n"
    "redis.call('DEL', KEYS[4])\n"
    "redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])\n"
    "if ARGV[4] == '0' then redis.call('HINCRBY', KEYS[6], ARGV[1], -1) end\n"
    "return 1\n";

/*
 * KEYS: processing timestamps owners attempts queue reaperlock correlation
 * ARGV: now stuck_ms max_retries me instance_prefix lock_prefix interval_ms
 *       force lock_ttl max_out
 */
static const char reap_lua[] =
    "if ARGV[8] == '0' and not redis.call('SET', KEYS[6], ARGV[4], 'PX', ARGV[7], 'NX') then\n"
    "  return {-1, {}}\n"
    "end\n"
    "local now = tonumber(ARGV[1])\n"
    "local requeued, out = 0, {}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  local owner = redis.call('HGET', KEYS[3], id)\n"
    "  local dead = owner == ARGV[4]\n"
    "  if owner and not dead then\n"
    "    local inst = string.match(owner, '^(.*)#')\n"
    "    dead = inst ~= nil and redis.call('EXISTS', ARGV[5] .. inst) == 0\n"
    "  end\n"
    "  if not dead then\n"
    "    local ts = tonumber(redis.call('HGET', KEYS[2], id) or '0') or 0\n"
    "    dead = redis.call('EXISTS', ARGV[6] .. id) == 0 and now - ts > tonumber(ARGV[2])\n"
    "  end\n"
    "  if dead then\n"
    "    local n = tonumber(redis.call('HGET', KEYS[4], id) or '0') or 0\n"
    "    if n >= tonumber(ARGV[3]) then\n"
    "      if #out < 3 * tonumber(ARGV[10]) then\n"
    "        local corr = redis.call('HGET', KEYS[7], id) or 'reaper'\n"
    "        redis.call('HSET', KEYS[3], id, ARGV[4])\n"
    "        redis.call('HSET', KEYS[2], id, ARGV[1])\n"
    "        redis.call('SET', ARGV[6] .. id, corr, 'EX', tonumber(ARGV[9]))\n"
    "        table.insert(out, id)\n"
    "        table.insert(out, n)\n"
    "        table.insert(out, corr)\n"
    "      end\n"
    "    else\n"
    "      redis.call('SREM', KEYS[1], id)\n"
    "      redis.call('HDEL', KEYS[2], id)\n"
    "      redis.call('HDEL', KEYS[3], id)\n"
    "      redis.call('DEL', ARGV[6] .. id)\n"
    "      redis.call('RPUSH', KEYS[5], id)\n"
    "      requeued = requeued + 1\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {requeued, out}\n";

/* The original's enqueue (doc/COMPATIBILITY.md 1.3), made atomic. */
static const char enqueue_lua[] =
    "if redis.call('LPOS', KEYS[1], ARGV[1]) or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1\n"
    "   or redis.call('ZSCORE', KEYS[5], ARGV[1]) then return 0 end\n"
    "redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])\n"
    "redis.call('RPUSH', KEYS[1], ARGV[1])\n"
    "redis.call('HSET', KEYS[4], ARGV[1], '0')\n"
    "return 1\n";

static const char outbox_take_lua[] =
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1)\n"
    "if #ids == 0 then return false end\n"
    "local p = redis.call('HGET', KEYS[1], ids[1])\n"
    "if not p then redis.call('ZREM', KEYS[2], ids[1]); return false end\n"
    "redis.call('ZADD', KEYS[2], ARGV[2], ids[1])\n"
    "return {ids[1], p}\n";

/*
 * One consistent read for `filot-ocr status`.  A claimed job is stuck by
 * the reaper's rule: its owner instance is gone, or its lock expired and
 * its lease is older than OCR_GPU_STUCK_TIMEOUT.
 * KEYS: queue processing timestamps owners attempts delayed outbox
 * ARGV: lock_prefix instance_prefix max_jobs now stuck_ms
 */
static const char status_lua[] =
    "local first = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')\n"
    "local out = {redis.call('LLEN', KEYS[1]), redis.call('SCARD', KEYS[2]),\n"
    "  redis.call('ZCARD', KEYS[6]), redis.call('HLEN', KEYS[7]), first[2] or '', {}}\n"
    "local now, stuck_ms = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "for i, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
    "  if i > tonumber(ARGV[3]) then break end\n"
    "  local owner = redis.call('HGET', KEYS[4], id) or ''\n"
    "  local inst = string.match(owner, '^(.*)#')\n"
    "  local ts = redis.call('HGET', KEYS[3], id) or '0'\n"
    "  local locked = redis.call('EXISTS', ARGV[1] .. id)\n"
    "  local stuck = (inst ~= nil and redis.call('EXISTS', ARGV[2] .. inst) == 0)\n"
    "    or (locked == 0 and now - (tonumber(ts) or 0) > stuck_ms)\n"
    "  local job = {id, owner, ts, redis.call('HGET', KEYS[5], id) or '0', stuck and 1 or 0}\n"
    "  table.insert(out[6], job)\n"
    "end\n"
    "return out\n";

/* Parses redis://[user][:password@]host[:port][/db] with curl's URL API. */
static int parse_url(struct queue *q, const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen,
                 "REDIS_URL uses rediss:// (TLS), which Debian 12's hiredis 0.14 cannot speak; "
                 "put a TLS sidecar (e.g. stunnel) in front and use redis://");
        return FILOT_EINVAL;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "REDIS_URL must start with redis://");
        return FILOT_EINVAL;
    }
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *user = NULL, *pass = NULL, *path = NULL;
    int rc = FILOT_EINVAL;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "REDIS_URL is not a valid URL");
        goto out;
    }
    snprintf(q->host, sizeof q->host, "%s", host);
    if (q->host[0] == '[') { /* [::1] */
        memmove(q->host, q->host + 1, strlen(q->host));
        q->host[strcspn(q->host, "]")] = '\0';
    }
    q->port = 6379;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
        q->port = atoi(port);
    if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK)
        snprintf(q->user, sizeof q->user, "%s", user);
    if (curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE) == CURLUE_OK)
        snprintf(q->password, sizeof q->password, "%s", pass);
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && path[0] == '/' && path[1])
        q->db = atoi(path + 1);
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(pass);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

int queue_open(const struct filot_config *cfg, const char *instance, int index, struct queue **out,
               char *err, size_t errlen)
{
    struct queue *q = calloc(1, sizeof *q);
    if (q == NULL)
        return FILOT_ENOMEM;
    q->cfg = cfg;
    int rc = parse_url(q, cfg->redis_url, err, errlen);
    if (rc != 0) {
        free(q);
        return rc;
    }
    if (cfg->redis_password[0] != '\0')
        snprintf(q->password, sizeof q->password, "%s", cfg->redis_password);
    snprintf(q->owner, sizeof q->owner, "%s#%d", instance, index);
    snprintf(q->k_timestamps, sizeof q->k_timestamps, KEY_PREFIX "processing:timestamps");
    snprintf(q->k_correlation, sizeof q->k_correlation, KEY_PREFIX "correlation");
    snprintf(q->k_owners, sizeof q->k_owners, KEY_PREFIX "owners");
    snprintf(q->k_delayed, sizeof q->k_delayed, KEY_PREFIX "delayed");
    snprintf(q->k_lock_prefix, sizeof q->k_lock_prefix, KEY_PREFIX "lock:");
    snprintf(q->k_instance_prefix, sizeof q->k_instance_prefix, KEY_PREFIX "instance:");
    snprintf(q->k_reaper, sizeof q->k_reaper, KEY_PREFIX "reaper:lock");
    snprintf(q->instance_key, sizeof q->instance_key, KEY_PREFIX "instance:%s", instance);
    q->backoff_ms = RECONNECT_MIN_MS;
    *out = q;
    return 0;
}

void queue_close(struct queue *q)
{
    if (q == NULL)
        return;
    if (q->rc != NULL)
        redisFree(q->rc);
    free(q);
}

/* Drops the connection after an I/O error; the next call reconnects. */
static void mark_down(struct queue *q, const char *why)
{
    if (!q->outage_logged)
        log_kv(LOG_WARN, "Redis not healthy, GPU worker pausing", LF_STR, "error", why, LF_END);
    q->outage_logged = true;
    q->healthy = false;
    if (q->rc != NULL)
        redisFree(q->rc);
    q->rc = NULL;
}

/*
 * Frees a handshake reply; false (and the server's words in last_error)
 * when it is missing or an error.
 */
static bool reply_ok(struct queue *q, redisReply *r, const char *what)
{
    bool ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(q->last_error, sizeof q->last_error, "%s failed: %s", what,
                 r != NULL ? r->str : q->rc->errstr);
    freeReplyObject(r);
    return ok;
}

/*
 * AUTH and SELECT on a fresh connection.  redis://user:pass@ is an ACL
 * user (Redis 6+: AUTH user pass); redis://:pass@ the default user.
 */
static int handshake(struct queue *q)
{
    redisReply *r;
    if (q->password[0] != '\0') {
        r = q->user[0] != '\0' ? redisCommand(q->rc, "AUTH %s %s", q->user, q->password)
                               : redisCommand(q->rc, "AUTH %s", q->password);
        if (!reply_ok(q, r, "AUTH"))
            return FILOT_EIO;
    }
    if (q->db != 0 && !reply_ok(q, redisCommand(q->rc, "SELECT %d", q->db), "SELECT"))
        return FILOT_EIO;
    r = redisCommand(q->rc, "PING");
    bool pong = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (!reply_ok(q, r, "PING"))
        return FILOT_EIO;
    if (!pong)
        snprintf(q->last_error, sizeof q->last_error, "PING was not answered PONG");
    return pong ? 0 : FILOT_EIO;
}

int queue_ensure(struct queue *q)
{
    if (q->rc != NULL)
        return 0;
    uint64_t now = clock_mono_ms();
    if (now < q->next_attempt_ms)
        return FILOT_EUNAVAIL;
    struct timeval tv = {COMMAND_TIMEOUT_S, 0};
    q->rc = redisConnectWithTimeout(q->host, q->port, tv);
    snprintf(q->last_error, sizeof q->last_error, "%s",
             q->rc == NULL ? "out of memory" : q->rc->errstr);
    if (q->rc == NULL || q->rc->err != 0 || redisSetTimeout(q->rc, tv) != REDIS_OK ||
        handshake(q) != 0) {
        mark_down(q, q->last_error);
        q->next_attempt_ms = now + q->backoff_ms;
        q->backoff_ms = q->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : q->backoff_ms * 2;
        return FILOT_EUNAVAIL;
    }
    if (q->outage_logged)
        log_kv(LOG_INFO, "Redis connection restored", LF_STR, "host", q->host, LF_END);
    q->outage_logged = false;
    q->healthy = true;
    q->backoff_ms = RECONNECT_MIN_MS;
    return 0;
}

bool queue_healthy(const struct queue *q)
{
    return q->healthy;
}

const char *queue_last_error(const struct queue *q)
{
    return q->last_error;
}

/*
 * Runs a script with EVAL.  Returns the reply (caller frees) or NULL with
 * the connection dropped on I/O errors; a script error is logged.
 */
static redisReply *eval(struct queue *q, const char *script, int nkeys, int nargs,
                        const char **argv_in)
{
    if (queue_ensure(q) != 0)
        return NULL;
    const char *argv[32];
    size_t lens[32];
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = nk;
    int n = 3;
    for (int i = 0; i < nkeys + nargs && n < 32; i++)
        argv[n++] = argv_in[i];
    for (int i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = redisCommandArgv(q->rc, n, argv, lens);
    if (r == NULL) {
        mark_down(q, q->rc->errstr);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        log_kv(LOG_ERROR, "Redis script failed", LF_STR, "error", r->str, LF_END);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* A fresh correlation id (uuid v4), as the original generated. */
static void new_correlation(char out[40])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

/* The lock key of a document. */
static void lock_key(const struct queue *q, const char *id, char *out, size_t len)
{
    snprintf(out, len, "%s%s", q->k_lock_prefix, id);
}

int queue_claim(struct queue *q, struct claim *c)
{
    char now[24], corr[40], ttl[16];
    snprintf(now, sizeof now, "%" PRIu64, clock_wall_ms());
    new_correlation(corr);
    snprintf(ttl, sizeof ttl, "%u", q->cfg->lock_ttl_s);
    const char *args[] = {q->cfg->queue_key,
                          q->cfg->processing_key,
                          q->k_timestamps,
                          q->k_correlation,
                          q->cfg->attempts_key,
                          q->k_owners,
                          q->k_delayed,
                          now,
                          corr,
                          ttl,
                          q->owner,
                          q->k_lock_prefix};
    redisReply *r = eval(q, claim_lua, 7, 5, args);
    if (r == NULL)
        return FILOT_EUNAVAIL;
    int rc = FILOT_EBUSY;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        snprintf(c->id, sizeof c->id, "%s", r->element[0]->str);
        snprintf(c->correlation, sizeof c->correlation, "%s", r->element[1]->str);
        c->attempts = (int)r->element[2]->integer;
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

/* Runs a script whose reply is an integer; returns it, or -1 on failure. */
static long long eval_int(struct queue *q, const char *script, int nkeys, int nargs,
                          const char **args)
{
    redisReply *r = eval(q, script, nkeys, nargs, args);
    if (r == NULL)
        return -1;
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

int queue_renew(struct queue *q, const struct claim *c)
{
    char lock[200], now[24], ttl[16];
    lock_key(q, c->id, lock, sizeof lock);
    snprintf(now, sizeof now, "%" PRIu64, clock_wall_ms());
    snprintf(ttl, sizeof ttl, "%u", q->cfg->lock_ttl_s);
    const char *args[] = {lock, q->k_timestamps, q->k_owners, c->correlation, ttl,
                          now,  c->id,           q->owner};
    long long v = eval_int(q, renew_lua, 3, 5, args);
    return v == 1 ? 0 : v == 0 ? FILOT_ESTALE : FILOT_EUNAVAIL;
}

int queue_heartbeat(struct queue *q)
{
    if (queue_ensure(q) != 0)
        return FILOT_EUNAVAIL;
    redisReply *r = redisCommand(q->rc, "SET %s 1 EX %d", q->instance_key, INSTANCE_TTL_S);
    if (r == NULL) {
        mark_down(q, q->rc->errstr);
        return FILOT_EUNAVAIL;
    }
    freeReplyObject(r);
    return 0;
}

int queue_complete(struct queue *q, const struct claim *c)
{
    char lock[200];
    lock_key(q, c->id, lock, sizeof lock);
    const char *args[] = {q->cfg->processing_key,
                          q->cfg->attempts_key,
                          q->k_timestamps,
                          q->k_correlation,
                          q->k_owners,
                          lock,
                          c->id,
                          q->owner};
    long long v = eval_int(q, complete_lua, 6, 2, args);
    return v == 1 ? 0 : v == 0 ? FILOT_ESTALE : FILOT_EUNAVAIL;
}

int queue_retry_later(struct queue *q, const struct claim *c, uint32_t delay_ms, bool counted)
{
    char lock[200], due[24];
    lock_key(q, c->id, lock, sizeof lock);
    snprintf(due, sizeof due, "%" PRIu64, clock_wall_ms() + delay_ms);
    const char *args[] = {
        q->cfg->processing_key, q->k_timestamps, q->k_owners, lock, q->k_delayed,
        q->cfg->attempts_key,   c->id,           q->owner,    due,  counted ? "1" : "0"};
    long long v = eval_int(q, retry_lua, 6, 4, args);
    return v == 1 ? 0 : v == 0 ? FILOT_ESTALE : FILOT_EUNAVAIL;
}

int queue_reap(struct queue *q, bool force, struct reaped *out, int max, int *nout, int *requeued)
{
    char now[24], stuck[16], maxr[16], interval[16], ttl[16], maxo[16];
    snprintf(now, sizeof now, "%" PRIu64, clock_wall_ms());
    snprintf(stuck, sizeof stuck, "%u", q->cfg->stuck_timeout_ms);
    snprintf(maxr, sizeof maxr, "%u", q->cfg->max_retries);
    snprintf(interval, sizeof interval, "%u", q->cfg->reaper_interval_ms);
    snprintf(ttl, sizeof ttl, "%u", q->cfg->lock_ttl_s);
    snprintf(maxo, sizeof maxo, "%d", max);
    const char *args[] = {q->cfg->processing_key,
                          q->k_timestamps,
                          q->k_owners,
                          q->cfg->attempts_key,
                          q->cfg->queue_key,
                          q->k_reaper,
                          q->k_correlation,
                          now,
                          stuck,
                          maxr,
                          q->owner,
                          q->k_instance_prefix,
                          q->k_lock_prefix,
                          interval,
                          force ? "1" : "0",
                          ttl,
                          maxo};
    *nout = 0;
    *requeued = 0;
    redisReply *r = eval(q, reap_lua, 7, 10, args);
    if (r == NULL)
        return FILOT_EUNAVAIL;
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->integer < 0) {
        rc = FILOT_EBUSY;
    } else {
        *requeued = (int)r->element[0]->integer;
        redisReply *list = r->element[1];
        for (size_t i = 0; i + 2 < list->elements && *nout < max; i += 3) {
            snprintf(out[*nout].id, sizeof out[*nout].id, "%s", list->element[i]->str);
            out[*nout].attempts = (int)list->element[i + 1]->integer;
            snprintf(out[*nout].correlation, sizeof out[*nout].correlation, "%s",
                     list->element[i + 2]->str);
            (*nout)++;
        }
    }
    freeReplyObject(r);
    return rc;
}

int queue_enqueue(struct queue *q, const char *id, bool *added)
{
    char corr[40];
    new_correlation(corr);
    const char *args[] = {q->cfg->queue_key,
                          q->cfg->processing_key,
                          q->k_correlation,
                          q->cfg->attempts_key,
                          q->k_delayed,
                          id,
                          corr};
    long long v = eval_int(q, enqueue_lua, 5, 2, args);
    if (v < 0)
        return FILOT_EUNAVAIL;
    *added = v == 1;
    return 0;
}

/* One plain command with an integer (or status) reply; -1 on failure. */
static long long command_int(struct queue *q, const char *fmt, ...)
{
    if (queue_ensure(q) != 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(q->rc, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        mark_down(q, q->rc->errstr);
        return -1;
    }
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer
                  : r->type == REDIS_REPLY_ERROR ? -1
                                                 : 0;
    freeReplyObject(r);
    return v;
}

int queue_publish(struct queue *q, const char *json)
{
    return command_int(q, "PUBLISH %s %s", q->cfg->publish_channel, json) < 0 ? FILOT_EUNAVAIL : 0;
}

long long queue_length(struct queue *q)
{
    return command_int(q, "LLEN %s", q->cfg->queue_key);
}

void queue_sizes(struct queue *q, struct queue_sizes *out)
{
    out->queued = queue_length(q);
    out->processing = command_int(q, "SCARD %s", q->cfg->processing_key);
    out->delayed = command_int(q, "ZCARD %s", q->k_delayed);
    out->outbox = queue_outbox_length(q);
}

int queue_outbox_put(struct queue *q, const char *id, const char *payload)
{
    return queue_outbox_defer(q, id, payload, 0);
}

int queue_outbox_defer(struct queue *q, const char *id, const char *payload, uint32_t delay_ms)
{
    if (command_int(q, "HSET " KEY_PREFIX "buli2:outbox %s %s", id, payload) < 0)
        return FILOT_EUNAVAIL;
    char due[24];
    snprintf(due, sizeof due, "%" PRIu64, clock_wall_ms() + delay_ms);
    return command_int(q, "ZADD " KEY_PREFIX "buli2:due %s %s", due, id) < 0 ? FILOT_EUNAVAIL : 0;
}

int queue_outbox_take(struct queue *q, uint32_t lease_ms, char *id, size_t idlen, char **payload)
{
    char now[24], until[24];
    uint64_t t = clock_wall_ms();
    snprintf(now, sizeof now, "%" PRIu64, t);
    snprintf(until, sizeof until, "%" PRIu64, t + lease_ms);
    const char *args[] = {KEY_PREFIX "buli2:outbox", KEY_PREFIX "buli2:due", now, until};
    redisReply *r = eval(q, outbox_take_lua, 2, 2, args);
    if (r == NULL)
        return FILOT_EUNAVAIL;
    int rc = FILOT_EBUSY;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        snprintf(id, idlen, "%s", r->element[0]->str);
        *payload = strdup(r->element[1]->str);
        rc = *payload ? 0 : FILOT_ENOMEM;
    }
    freeReplyObject(r);
    return rc;
}

int queue_outbox_done(struct queue *q, const char *id)
{
    if (command_int(q, "HDEL " KEY_PREFIX "buli2:outbox %s", id) < 0)
        return FILOT_EUNAVAIL;
    return command_int(q, "ZREM " KEY_PREFIX "buli2:due %s", id) < 0 ? FILOT_EUNAVAIL : 0;
}

long long queue_outbox_length(struct queue *q)
{
    return command_int(q, "HLEN " KEY_PREFIX "buli2:outbox");
}

/* A bulk or integer reply element as a number (0 when absent). */
static long long reply_number(const redisReply *r)
{
    if (r == NULL)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    return r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

int queue_status_read(struct queue *q, struct queue_status *st, int max_jobs)
{
    char lim[16], now[24], stuck[16];
    memset(st, 0, sizeof *st);
    snprintf(lim, sizeof lim, "%d", max_jobs);
    snprintf(now, sizeof now, "%" PRIu64, clock_wall_ms());
    snprintf(stuck, sizeof stuck, "%u", q->cfg->stuck_timeout_ms);
    const char *args[] = {q->cfg->queue_key,
                          q->cfg->processing_key,
                          q->k_timestamps,
                          q->k_owners,
                          q->cfg->attempts_key,
                          q->k_delayed,
                          KEY_PREFIX "buli2:outbox", /* NOLINT(bugprone-suspicious-missing-comma) */
                          q->k_lock_prefix,
                          q->k_instance_prefix,
                          lim,
                          now,
                          stuck};
    redisReply *r = eval(q, status_lua, 7, 5, args);
    if (r == NULL)
        return FILOT_EUNAVAIL;
    int rc = FILOT_EIO;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 6 &&
        r->element[5]->type == REDIS_REPLY_ARRAY) {
        st->queued = reply_number(r->element[0]);
        st->claimed = reply_number(r->element[1]);
        st->delayed = reply_number(r->element[2]);
        st->outbox = reply_number(r->element[3]);
        st->next_retry_ms = reply_number(r->element[4]);
        const redisReply *jobs = r->element[5];
        st->jobs = calloc(jobs->elements + 1, sizeof *st->jobs);
        rc = st->jobs != NULL ? 0 : FILOT_ENOMEM;
        for (size_t i = 0; rc == 0 && i < jobs->elements; i++) {
            const redisReply *j = jobs->element[i];
            if (j->type != REDIS_REPLY_ARRAY || j->elements != 5)
                continue;
            struct queue_job *o = &st->jobs[st->njobs++];
            snprintf(o->id, sizeof o->id, "%s", j->element[0]->str);
            snprintf(o->owner, sizeof o->owner, "%s", j->element[1]->str);
            o->lease_ms = reply_number(j->element[2]);
            o->attempts = (int)reply_number(j->element[3]);
            o->stuck = reply_number(j->element[4]) != 0;
        }
    }
    freeReplyObject(r);
    return rc;
}

void queue_status_free(struct queue_status *st)
{
    free(st->jobs);
    st->jobs = NULL;
    st->njobs = 0;
}
