/*
 * db.h - the documents table (doc/COMPATIBILITY.md section 2) through libpq.
 *
 * Parameterised statements only.  Every write to a document is guarded by
 * "status <> 'completed'", so a retried or duplicated job can never undo
 * or repeat a completion.  The connection is re-established on demand with
 * backoff; an outage is logged once and reported by db_healthy().
 */
#ifndef FILOT_DB_H
#define FILOT_DB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct db;

enum db_rc {
    DB_OK = 0,
    DB_NOT_FOUND = 1,    /* no such row (also: id is not a valid uuid) */
    DB_UNAVAILABLE = -1, /* connection down / server gone: retry later */
    DB_FAILED = -2       /* the statement itself failed (message in err) */
};

struct doc_row {
    char id[40];
    char user_id[40];
    char type[64];
    char *file_url;  /* malloc'd, NULL when SQL NULL; free with db_row_free */
    char status[16]; /* uploaded | processing | completed | failed */
    char verification_status[64];
    bool has_ticket; /* buli2_ticket_id IS NOT NULL */
};

/* conninfo: DATABASE_URL as libpq accepts it (URI or key=value, sslmode...). */
int db_open(const char *conninfo, struct db **out);
void db_close(struct db *db);

/* Connects if needed (rate-limited reconnect).  DB_OK or DB_UNAVAILABLE. */
int db_ensure(struct db *db);
bool db_healthy(const struct db *db);

int db_get_doc(struct db *db, const char *id, struct doc_row *row, char *err, size_t errlen);
void db_row_free(struct doc_row *row);

/* UPDATE documents SET status='processing' (not when completed). */
int db_set_processing(struct db *db, const char *id, char *err, size_t errlen);

/* verification_status='ocr_completed', ocr_text. */
int db_set_ocr_completed(struct db *db, const char *id, const char *ocr_text, char *err,
                         size_t errlen);

/* verification_status='ai_evaluated', ai_score, ai_decision, result_json. */
int db_set_ai_evaluated(struct db *db, const char *id, int score, const char *decision,
                        const json_t *parsed, char *err, size_t errlen);

/*
 * The final write, one statement: status='completed', verification_status
 * = outcome, ai_score, ai_decision, result_json, ocr_text, processed_at =
 * UTC now.  *applied is false when the row was already completed (a
 * duplicate run): the caller must then not publish or escalate again.
 */
int db_complete(struct db *db, const char *id, const char *outcome, int score, const char *decision,
                const json_t *parsed, const char *ocr_text, bool *applied, char *err,
                size_t errlen);

/*
 * The original's markDocumentFailed: status='failed', result_json =
 * {"error":msg,"failedAt":ISO,"maxRetriesExceeded":bool}.  Not applied to a
 * completed row.
 */
int db_mark_failed(struct db *db, const char *id, const char *msg, bool max_retries_exceeded,
                   char *err, size_t errlen);

/*
 * After BULI2 accepted the escalation: buli2_ticket_id, verification_status
 * ='pending_manual_review', ai_score, ai_decision='needs_review'.  Only when
 * the row is completed, pending_manual_review and has no ticket yet
 * (*applied false otherwise).
 */
int db_set_ticket(struct db *db, const char *id, const char *ticket, int score, bool *applied,
                  char *err, size_t errlen);

/*
 * `filot-ocr requeue`: status='processing', as the upload API's retry sets
 * it before enqueueing.  Only a failed row, unless any_status; never a
 * completed one (*applied false when nothing changed).
 */
int db_requeue(struct db *db, const char *id, bool any_status, bool *applied, char *err,
               size_t errlen);

/*
 * The newest failed rows (by result_json.failedAt), at most limit, as
 * [{"documentId","type","error","failedAt"}]; *total counts every failed
 * row (0 when none is returned).
 */
int db_recent_failures(struct db *db, int limit, json_t **rows, long long *total, char *err,
                       size_t errlen);

#endif
