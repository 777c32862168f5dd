/*
 * json_text.h - how our JSON text writes real numbers.
 *
 * jansson prints reals with 17 significant digits by default, so a value
 * computed as 3954 / 1000.0 comes out as 3.9540000000000002.  15 digits
 * are as many as a double always holds exactly: every real we produce
 * (seconds with millisecond parts, milliseconds with microsecond parts)
 * prints as the short decimal it stands for.  Pass JSON_REAL_15 to every
 * json_dumps() whose document can hold a real.
 */
#ifndef FILOT_JSON_TEXT_H
#define FILOT_JSON_TEXT_H

#include <jansson.h>

#define JSON_REAL_15 JSON_REAL_PRECISION(15)

#endif
