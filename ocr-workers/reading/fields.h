/*
 * fields.h - the field parsers of each document type: from the rows of a
 * page (layout.h) to the result's keys and their confidence.
 */
#ifndef FILOT_FIELDS_H
#define FILOT_FIELDS_H

#include <jansson.h>

#include "ocr-workers/reading/extract.h"
#include "ocr-workers/reading/layout.h"

/*
 * KTP: labelled rows, header, blood type, rows whose value was dropped
 * (read again when reread is given), then the NIK (needs birth/gender).
 * Adds the keys found to o and their confidence to conf.
 */
void fields_ktp(json_t *o, json_t *conf, const struct layout *L, extract_reread_fn reread,
                void *ctx);

/* NPWP: the labelled number (number_put_npwp()) and name. */
void fields_npwp(json_t *o, json_t *conf, const struct layout *L, extract_reread_fn reread,
                 void *ctx);

#endif
