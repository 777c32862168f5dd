/*
 * doc_parse.h - KTP / NPWP field extraction and scoring, compatible with the
 * original worker (doc/COMPATIBILITY.md sections 5 and 6) minus its bugs:
 * captures end at the end of the line, and an empty parse scores 0, not NaN.
 */
#ifndef FILOT_DOC_PARSE_H
#define FILOT_DOC_PARSE_H

#include <jansson.h>
#include <stdbool.h>

enum doc_type { DOC_NONE = 0, DOC_KTP, DOC_NPWP };

/* "KTP" / "NPWP" (exact, as the API stores them).  Returns 0 or FILOT_EINVAL. */
int doc_type_parse(const char *s, enum doc_type *out);
const char *doc_type_name(enum doc_type t);

/*
 * Extracts the fields of a document type from OCR text.  Returns a new JSON
 * object holding only the keys that matched (the original's contract), or
 * NULL on allocation failure.
 */
json_t *doc_parse(enum doc_type t, const char *ocr_text);

/* The original's score: 0..100 (max 90 in practice); empty parse -> 0. */
int doc_score(enum doc_type t, const json_t *parsed);

struct doc_verdict {
    const char *decision; /* "auto_approve" | "needs_review" */
    const char *outcome;  /* "auto_approved" | "pending_manual_review" */
};
/* The original's threshold: a score at least this approves. */
#define DOC_APPROVE_SCORE 75

/* score >= DOC_APPROVE_SCORE approves, everything else goes to manual review. */
void doc_decide(int score, struct doc_verdict *v);

/* Sets v to auto_approve / auto_approved or needs_review / pending_manual_review. */
void doc_verdict_set(bool approve, struct doc_verdict *v);

#endif
