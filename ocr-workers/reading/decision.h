/*
 * decision.h - what happens to a read document: auto_approve or manual
 * review, and why.
 *
 * The original approves on its score alone (score >= 75, filot-compat.md
 * section 6), and that score approves almost anything that parses: a lone
 * "NIK : <16 digits>" line scores 80, an NPWP card read as a KTP 90.  The
 * strict policy (the default) keeps the score as it is but approves only a
 * document that looks like its declared type, whose essential fields were
 * read with confidence, and whose NIK agrees with the birth date and gender
 * printed beside it.  The compat policy is the original's rule.
 *
 * Review reasons, a fixed vocabulary (README "Decision policy"):
 *   score_below_threshold   the original's score is under 75
 *   type_mismatch           the page carries the other document type's words
 *   type_unconfirmed        too few of the declared type's header/label words
 *   <key>_missing           an essential field was not found
 *   <key>_low_confidence    an essential field was read with confidence < 60
 *   nik_birthdate_mismatch  NIK digits 7-12 are not the birth date (DDMMYY)
 *   nik_gender_mismatch     NIK day (+40 for women) disagrees with gender
 * where <key> is nik, name, birthDate, gender (KTP) or npwpNumber, name
 * (NPWP).
 */
#ifndef FILOT_DECISION_H
#define FILOT_DECISION_H

#include <jansson.h>
#include <stdbool.h>

#include "ocr-workers/reading/doc_parse.h"

/* Lowest fieldConfidence of an essential field the strict policy accepts. */
#define DECISION_MIN_CONFIDENCE 60

/*
 * Decides a typed document from its score, parsed fields (with
 * "fieldConfidence") and OCR text.  compat: the original's rule.  Fills v
 * and appends the review reasons (strings, in the order above) to reasons;
 * the decision is auto_approve exactly when no reason was appended.
 * Returns 0, or FILOT_ENOMEM when a reason could not be appended.
 */
int decision_decide(bool compat, enum doc_type t, int score, const json_t *parsed, const char *text,
                    struct doc_verdict *v, json_t *reasons);

/*
 * How many distinct header/label words of type t, and of the other type,
 * the OCR text holds (tolerant to OCR noise: a quarter of a word's letters
 * may be wrong).  Words both types print (NIK, NAMA, ALAMAT) count for
 * neither.
 */
void decision_type_words(enum doc_type t, const char *text, int *own, int *other);

#endif
