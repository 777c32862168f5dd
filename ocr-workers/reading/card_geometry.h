/*
 * card_geometry.h - find an ID card's outline in a photo.
 *
 * A phone photo shows the card on a table at 25-98 % of the frame, tilted
 * and in perspective.  card_find() looks for it on a small area-averaged
 * thumbnail: straight edges (gradient + Hough), the largest convex
 * quadrilateral they bound whose sides are backed by edges along most of
 * their length and whose proportions are those of an ID-1 card (85.6 x 54
 * mm, 1.58:1, landscape within +/-45 degrees), then each side refined to
 * sub-pixel precision by a line fit.  The caller warps the quadrilateral to
 * the canonical card raster (pp_params.warp / quad, common/preproc.h).
 *
 * No card (a scan, a page, an image that already is the card crop, a card
 * standing upright) is a normal answer: the caller keeps today's path.
 */
#ifndef FILOT_CARD_GEOMETRY_H
#define FILOT_CARD_GEOMETRY_H

#include <stdint.h>

#include "common/preproc.h"

/* Longer side of the thumbnail the search runs on (px). */
#define CARD_THUMB_SIDE 512u

/*
 * Looks for the card in img.  Returns 1 and writes quad (x,y of top-left,
 * top-right, bottom-right, bottom-left in img's continuous coordinates,
 * accepted by pp_quad_check()), 0 when there is no card, or a negative
 * FILOT_E* code (bad image, out of memory).
 */
int card_find(const struct pp_image *img, float quad[8]);

/*
 * The search itself on an 8-bit grey image (stride == w), for callers that
 * already hold a thumbnail; quad in that image's coordinates.  Same
 * returns as card_find().
 */
int card_find_grey(const uint8_t *grey, uint32_t w, uint32_t h, float quad[8]);

#endif
