/*
 * fields_npwp.c - the NPWP card's fields from its labelled rows (see
 * fields.h).
 */
#include "ocr-workers/reading/fields.h"

#include "ocr-workers/reading/layout.h"
#include "ocr-workers/reading/number_reader.h"
#include "ocr-workers/reading/text_rules.h"

static const struct label NPWP_LABELS[] = {
    {"npwpNumber", "NPWP"},
    {"name", "NAMA"},
    {"nikOnCard", "NIK"},
};

/* NPWP: the labelled number (see number_put_npwp()) and name. */
void fields_npwp(json_t *o, json_t *conf, const struct layout *L, extract_reread_fn reread,
                 void *ctx)
{
    const size_t nl = sizeof NPWP_LABELS / sizeof NPWP_LABELS[0];
    for (size_t j = 0; j < L->nrows; j++) {
        size_t k = 0;
        int li = layout_match_label(&L->rows[j], NPWP_LABELS, nl, &k);
        if (li < 0 || json_object_get(o, NPWP_LABELS[li].key))
            continue;
        struct value v;
        char s[VALUE_LEN];
        layout_take_value(&L->rows[j], k, &v);
        if (v.to == v.from)
            continue;
        if (li == 1) {
            text_clean_words(v.text, "'.-", 1, s, sizeof s);
            layout_put(o, conf, "name", s, v.conf);
        } else if (li == 0) {
            number_put_npwp(o, conf, &v, reread, ctx);
        }
    }
}
