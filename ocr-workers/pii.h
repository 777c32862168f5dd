/*
 * pii.h - masking identity numbers (NIK, NPWP) in what leaves the worker
 * for subscribers: the published result carries them masked unless
 * OCR_RESULT_PII=full (the original published them in clear, B11).
 */
#ifndef FILOT_PII_H
#define FILOT_PII_H

#include <jansson.h>

/* Masks the nik / npwpNumber values of a parsedResult object in place. */
void pii_mask_parsed(json_t *parsed);

/*
 * Returns a malloc'd copy of text where every run of 12 or more digits
 * (optionally split by '.', '-' or single spaces, as NIK and NPWP are
 * printed) keeps only its first 4 and last 4 digits.  NULL on ENOMEM.
 */
char *pii_mask_text(const char *text);

#endif
