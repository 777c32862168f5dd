/*
 * card_geometry.c - find an ID card's outline in a photo (see
 * card_geometry.h for the contract).
 *
 * Steps, all on the thumbnail (pixel-index coordinates until the end):
 *   1. Sobel gradients; edge pixels are local maxima of the magnitude
 *      across the edge, above EDGE_MIN.
 *   2. Hough transform: each edge pixel votes only near its own gradient
 *      direction, so a straight edge piles up in one cell while texture and
 *      text spread thin.  The strongest MAX_LINES cells become lines.
 *   3. Every two pairs of nearly parallel lines bound a quadrilateral; it is
 *      kept when it is convex, inside the frame, 25-98 % of its area, card
 *      proportioned, and each side has an edge of one polarity under most of
 *      its length (text lines inside the card have both polarities and do
 *      not run the whole width).  The best score (area x weakest side
 *      support x proportion) wins.
 *   4. Each side is refit to the sub-pixel edge positions found across it,
 *      and the corners are the intersections of the refit sides.
 */
#include "card_geometry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

#define PI 3.14159265358979323846

#define EDGE_MIN        40.0f /* Sobel magnitude (about 4 x the grey step) of an edge */
#define THETA_BINS      180   /* Hough angle bins, 1 degree */
#define VOTE_SPREAD     2     /* an edge pixel votes its gradient angle +/- 2 degrees */
#define MAX_LINES       24
#define PEAK_THETA      4    /* suppression around a found line: degrees ... */
#define PEAK_RHO        8    /* ... and px */
#define MIN_LINE_FRAC   0.10 /* a line needs votes >= 10 % of the shorter side */
#define PARALLEL_DEG    20.0 /* opposite sides differ by at most this (perspective) */
#define CORNER_DEG      55.0 /* adjacent sides meet at more than this */
#define MIN_GAP_FRAC    0.20 /* opposite sides at least 20 % of the shorter side apart */
#define AREA_MIN        0.25
#define AREA_MAX        0.98
#define ID1_ASPECT      1.585 /* 85.6 / 54 */
#define ASPECT_LO       1.25  /* perspective shortens one direction */
#define ASPECT_HI       2.05
#define SUPPORT_MIN     0.55 /* share of a side with an edge under it */
#define POLARITY_MIN    0.70 /* share of that edge with one sign */
#define SIDE_SAMPLES    48
#define SEARCH_PX       2    /* support: how far across the side to look */
#define REFINE_PX       3.0  /* refinement: how far across the side to look ... */
#define REFINE_STEP     0.5  /* ... in steps of */
#define REFINE_OUTLIER  1.0  /* px from the first fit */
#define REFINE_MAX_MOVE 3.0  /* a refined corner further than this is not trusted */
#define FRAME_SLACK     0.02 /* corners may lie this share outside the frame */

struct grad {
    float *gx, *gy;
    uint32_t w, h;
};

/* A line n . p = rho with n = (cos theta, sin theta). */
struct line {
    double nx, ny, rho;
    int theta; /* degrees, [0, 180) */
};

struct quad {
    double p[8]; /* TL, TR, BR, BL */
    double score;
};

/* Sobel gradients of the interior; the border stays 0. */
static int grad_compute(const uint8_t *g, uint32_t w, uint32_t h, struct grad *out)
{
    out->w = w, out->h = h;
    out->gx = calloc((size_t)w * h, sizeof *out->gx);
    out->gy = calloc((size_t)w * h, sizeof *out->gy);
    if (!out->gx || !out->gy)
        return FILOT_ENOMEM;
    for (uint32_t y = 1; y + 1 < h; y++)
        for (uint32_t x = 1; x + 1 < w; x++) {
            const uint8_t *r0 = g + (size_t)(y - 1) * w + x, *r1 = r0 + w, *r2 = r1 + w;
            int gx = (r0[1] + 2 * r1[1] + r2[1]) - (r0[-1] + 2 * r1[-1] + r2[-1]);
            int gy = (r2[-1] + 2 * r2[0] + r2[1]) - (r0[-1] + 2 * r0[0] + r0[1]);
            out->gx[(size_t)y * w + x] = (float)gx;
            out->gy[(size_t)y * w + x] = (float)gy;
        }
    return 0;
}

static void grad_free(struct grad *gr)
{
    free(gr->gx);
    free(gr->gy);
}

static float mag_at(const struct grad *gr, int64_t x, int64_t y)
{
    if (x < 0 || y < 0 || x >= (int64_t)gr->w || y >= (int64_t)gr->h)
        return 0.0f;
    size_t i = (size_t)y * gr->w + (size_t)x;
    return hypotf(gr->gx[i], gr->gy[i]);
}

/* Edge pixel: strong enough and not weaker than its two neighbours across the edge. */
static int is_edge(const struct grad *gr, uint32_t x, uint32_t y, float *phi_deg)
{
    size_t i = (size_t)y * gr->w + x;
    float gx = gr->gx[i], gy = gr->gy[i], m = hypotf(gx, gy);
    if (m < EDGE_MIN)
        return 0;
    int dx = (int)lroundf(gx / m), dy = (int)lroundf(gy / m);
    if (m < mag_at(gr, (int64_t)x + dx, (int64_t)y + dy) ||
        m < mag_at(gr, (int64_t)x - dx, (int64_t)y - dy))
        return 0;
    double phi = atan2(gy, gx) * 180.0 / PI;
    *phi_deg = (float)(phi < 0 ? phi + 180.0 : phi);
    return 1;
}

/* Votes every edge pixel into acc (THETA_BINS x nrho, rho offset by diag). */
static void hough_vote(const struct grad *gr, uint32_t *acc, int diag, const double *cs,
                       const double *sn)
{
    int nrho = 2 * diag + 1;
    for (uint32_t y = 1; y + 1 < gr->h; y++)
        for (uint32_t x = 1; x + 1 < gr->w; x++) {
            float phi;
            if (!is_edge(gr, x, y, &phi))
                continue;
            int t0 = (int)lroundf(phi);
            for (int dt = -VOTE_SPREAD; dt <= VOTE_SPREAD; dt++) {
                int t = ((t0 + dt) % THETA_BINS + THETA_BINS) % THETA_BINS;
                int r = (int)lround(x * cs[t] + y * sn[t]) + diag;
                if (r >= 0 && r < nrho)
                    acc[(size_t)t * nrho + r]++;
            }
        }
}

/* Zeroes the cells around line (t, rho), across the 0/180 degree seam too. */
static void suppress(uint32_t *acc, int diag, int t, int rho)
{
    int nrho = 2 * diag + 1;
    for (int dt = -PEAK_THETA; dt <= PEAK_THETA; dt++) {
        int tt = t + dt, rc = rho;
        if (tt < 0 || tt >= THETA_BINS) {
            tt = (tt + THETA_BINS) % THETA_BINS;
            rc = -rho;
        }
        for (int r = rc - PEAK_RHO; r <= rc + PEAK_RHO; r++)
            if (r + diag >= 0 && r + diag < nrho)
                acc[(size_t)tt * nrho + r + diag] = 0;
    }
}

/* The strongest lines of the accumulator, strongest first; returns how many. */
static int hough_peaks(uint32_t *acc, int diag, uint32_t min_votes, const double *cs,
                       const double *sn, struct line *lines)
{
    int nrho = 2 * diag + 1, n = 0;
    size_t cells = (size_t)THETA_BINS * nrho;
    while (n < MAX_LINES) {
        size_t best = 0;
        for (size_t i = 1; i < cells; i++)
            best = acc[i] > acc[best] ? i : best;
        if (acc[best] < min_votes)
            break;
        int t = (int)(best / nrho), rho = (int)(best % nrho) - diag;
        lines[n++] = (struct line){cs[t], sn[t], rho, t};
        suppress(acc, diag, t, rho);
    }
    return n;
}

static int angle_diff(int a, int b)
{
    int d = abs(a - b) % 180;
    return d > 90 ? 180 - d : d;
}

static int intersect(const struct line *a, const struct line *b, double *x, double *y)
{
    double det = a->nx * b->ny - a->ny * b->nx;
    if (fabs(det) < 1e-9)
        return -1;
    *x = (a->rho * b->ny - a->ny * b->rho) / det;
    *y = (a->nx * b->rho - a->rho * b->nx) / det;
    return 0;
}

/* Distance between two nearly parallel lines, measured at point (cx, cy). */
static double gap(const struct line *a, const struct line *b, double cx, double cy)
{
    double da = a->nx * cx + a->ny * cy - a->rho, db = b->nx * cx + b->ny * cy - b->rho;
    if (a->nx * b->nx + a->ny * b->ny < 0)
        db = -db;
    return fabs(da - db);
}

static double turn(const double *a, const double *b, const double *c)
{
    return (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
}

static double side_len(const double *p, int k)
{
    const double *a = p + 2 * k, *b = p + 2 * ((k + 1) % 4);
    return hypot(b[0] - a[0], b[1] - a[1]);
}

/*
 * Share of side k (from corner k to k + 1) that has an edge under it, and
 * the sign that edge mostly has (*sign: +1 / -1, gradient along the side's
 * left normal).  *polarity: share of the supported samples with that sign.
 */
static double side_support(const struct grad *gr, const double *p, int k, double *polarity,
                           int *sign)
{
    const double *a = p + 2 * k, *b = p + 2 * ((k + 1) % 4);
    double len = side_len(p, k), ux = (b[0] - a[0]) / len, uy = (b[1] - a[1]) / len;
    double nx = -uy, ny = ux;
    int supported = 0, sum = 0;
    for (int s = 0; s < SIDE_SAMPLES; s++) {
        double t = 0.1 + 0.8 * (s + 0.5) / SIDE_SAMPLES;
        double px = a[0] + t * (b[0] - a[0]), py = a[1] + t * (b[1] - a[1]);
        double best = 0;
        for (int off = -SEARCH_PX; off <= SEARCH_PX; off++) {
            long xi = lround(px + off * nx), yi = lround(py + off * ny);
            if (xi < 1 || yi < 1 || xi + 1 >= (long)gr->w || yi + 1 >= (long)gr->h)
                continue;
            size_t i = (size_t)yi * gr->w + (size_t)xi;
            double proj = gr->gx[i] * nx + gr->gy[i] * ny;
            best = fabs(proj) > fabs(best) ? proj : best;
        }
        if (fabs(best) >= 0.75 * EDGE_MIN) {
            supported++;
            sum += best > 0 ? 1 : -1;
        }
    }
    *sign = sum >= 0 ? 1 : -1;
    *polarity = supported ? (double)abs(sum) / supported : 0.0;
    return (double)supported / SIDE_SAMPLES;
}

/*
 * Orders the four corners clockwise (y down) with the top side the one
 * pointing most to the right, then checks and scores the quadrilateral.
 * Returns 0 when it can be the card.
 */
static int judge(const struct grad *gr, double *p, double *score)
{
    double w = gr->w, h = gr->h, area = 0;
    for (int k = 0; k < 4; k++)
        area += p[2 * k] * p[2 * ((k + 1) % 4) + 1] - p[2 * ((k + 1) % 4)] * p[2 * k + 1];
    if (area < 0) { /* counter-clockwise: reverse */
        double t[8];
        memcpy(t, p, sizeof t);
        for (int k = 0; k < 4; k++)
            p[2 * k] = t[2 * (3 - k)], p[2 * k + 1] = t[2 * (3 - k) + 1];
        area = -area;
    }
    area /= 2;
    int top = 0;
    double best_x = -2;
    for (int k = 0; k < 4; k++) {
        double dx = p[2 * ((k + 1) % 4)] - p[2 * k], dy = p[2 * ((k + 1) % 4) + 1] - p[2 * k + 1];
        double ux = dx / hypot(dx, dy);
        if (ux > best_x)
            best_x = ux, top = k;
    }
    double q[8];
    for (int k = 0; k < 4; k++)
        q[2 * k] = p[2 * ((k + top) % 4)], q[2 * k + 1] = p[2 * ((k + top) % 4) + 1];
    memcpy(p, q, sizeof q);
    for (int k = 0; k < 4; k++) {
        if (p[2 * k] < -FRAME_SLACK * w || p[2 * k] > (1 + FRAME_SLACK) * w ||
            p[2 * k + 1] < -FRAME_SLACK * h || p[2 * k + 1] > (1 + FRAME_SLACK) * h)
            return -1;
        if (!(turn(p + 2 * k, p + 2 * ((k + 1) % 4), p + 2 * ((k + 2) % 4)) > 0))
            return -1;
    }
    double frac = area / (w * h);
    double aspect = (side_len(p, 0) + side_len(p, 2)) / (side_len(p, 1) + side_len(p, 3));
    if (frac < AREA_MIN || frac > AREA_MAX || aspect < ASPECT_LO || aspect > ASPECT_HI)
        return -1;
    double min_support = 1;
    for (int k = 0; k < 4; k++) {
        double pol;
        int sign;
        double s = side_support(gr, p, k, &pol, &sign);
        if (s < SUPPORT_MIN || pol < POLARITY_MIN)
            return -1;
        min_support = fmin(min_support, s);
    }
    double off = fabs(log(aspect / ID1_ASPECT));
    *score = frac * min_support * (1.0 - 0.5 * fmin(1.0, off / 0.25));
    return 0;
}

/* Tries every quadrilateral bounded by two pairs of nearly parallel lines. */
static int best_quad(const struct grad *gr, const struct line *l, int n, struct quad *best)
{
    double cx = gr->w / 2.0, cy = gr->h / 2.0, min_gap = MIN_GAP_FRAC * fmin(gr->w, gr->h);
    int found = 0;
    best->score = -1;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            if (angle_diff(l[a].theta, l[b].theta) > PARALLEL_DEG ||
                gap(&l[a], &l[b], cx, cy) < min_gap)
                continue;
            for (int c = a + 1; c < n; c++)
                for (int d = c + 1; d < n; d++) {
                    if (c == b || d == b || angle_diff(l[c].theta, l[d].theta) > PARALLEL_DEG ||
                        gap(&l[c], &l[d], cx, cy) < min_gap ||
                        angle_diff(l[a].theta, l[c].theta) < CORNER_DEG ||
                        angle_diff(l[a].theta, l[d].theta) < CORNER_DEG ||
                        angle_diff(l[b].theta, l[c].theta) < CORNER_DEG ||
                        angle_diff(l[b].theta, l[d].theta) < CORNER_DEG)
                        continue;
                    struct quad q;
                    if (intersect(&l[a], &l[c], &q.p[0], &q.p[1]) ||
                        intersect(&l[b], &l[c], &q.p[2], &q.p[3]) ||
                        intersect(&l[b], &l[d], &q.p[4], &q.p[5]) ||
                        intersect(&l[a], &l[d], &q.p[6], &q.p[7]) || judge(gr, q.p, &q.score))
                        continue;
                    if (q.score > best->score) {
                        *best = q;
                        found = 1;
                    }
                }
        }
    return found;
}

/* Bilinear gradient projected on (nx, ny) at a real position; 0 outside. */
static double proj_at(const struct grad *gr, double x, double y, double nx, double ny)
{
    double fx = floor(x), fy = floor(y), ax = x - fx, ay = y - fy;
    long x0 = (long)fx, y0 = (long)fy;
    if (x0 < 1 || y0 < 1 || x0 + 2 >= (long)gr->w || y0 + 2 >= (long)gr->h)
        return 0;
    size_t i = (size_t)y0 * gr->w + (size_t)x0;
    double v[4];
    for (int k = 0; k < 4; k++) {
        size_t j = i + (size_t)(k & 1) + (k & 2 ? gr->w : 0);
        v[k] = gr->gx[j] * nx + gr->gy[j] * ny;
    }
    return (v[0] * (1 - ax) + v[1] * ax) * (1 - ay) + (v[2] * (1 - ax) + v[3] * ax) * ay;
}

/*
 * Total least squares line through the points (x, y) pairs whose distance
 * to the line `prev` is within max_dist (all when prev is NULL).
 */
static int fit_line(const double *pts, int n, const struct line *prev, double max_dist,
                    struct line *out)
{
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        double x = pts[2 * i], y = pts[2 * i + 1];
        if (prev && fabs(prev->nx * x + prev->ny * y - prev->rho) > max_dist)
            continue;
        sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y, m++;
    }
    if (m < SIDE_SAMPLES / 4)
        return -1;
    double mx = sx / m, my = sy / m;
    double cxx = sxx / m - mx * mx, cyy = syy / m - my * my, cxy = sxy / m - mx * my;
    /* The normal is the eigenvector of the smaller eigenvalue of the covariance. */
    double ang = 0.5 * atan2(2 * cxy, cxx - cyy); /* direction of the line */
    out->nx = -sin(ang);
    out->ny = cos(ang);
    out->rho = out->nx * mx + out->ny * my;
    out->theta = 0;
    return 0;
}

/* Refits side k to the sub-pixel positions of its edge; -1 keeps the side as it is. */
static int refine_side(const struct grad *gr, const double *p, int k, struct line *out)
{
    const double *a = p + 2 * k, *b = p + 2 * ((k + 1) % 4);
    double len = side_len(p, k), ux = (b[0] - a[0]) / len, uy = (b[1] - a[1]) / len;
    double nx = -uy, ny = ux, pol;
    int sign;
    side_support(gr, p, k, &pol, &sign);
    int steps = (int)(2 * REFINE_PX / REFINE_STEP) + 1, n = 0;
    double pts[2 * SIDE_SAMPLES];
    for (int s = 0; s < SIDE_SAMPLES; s++) {
        double t = 0.08 + 0.84 * (s + 0.5) / SIDE_SAMPLES;
        double px = a[0] + t * (b[0] - a[0]), py = a[1] + t * (b[1] - a[1]);
        double v[64];
        int best = -1;
        for (int i = 0; i < steps; i++) {
            double off = -REFINE_PX + i * REFINE_STEP;
            v[i] = sign * proj_at(gr, px + off * nx, py + off * ny, nx, ny);
            if (best < 0 || v[i] > v[best])
                best = i;
        }
        if (best <= 0 || best >= steps - 1 || v[best] < 0.5 * EDGE_MIN)
            continue;
        double den = v[best - 1] - 2 * v[best] + v[best + 1];
        double sub = den < 0 ? 0.5 * (v[best - 1] - v[best + 1]) / den : 0;
        double off = -REFINE_PX + (best + sub) * REFINE_STEP;
        pts[2 * n] = px + off * nx;
        pts[2 * n + 1] = py + off * ny;
        n++;
    }
    struct line first;
    if (fit_line(pts, n, NULL, 0, &first) != 0)
        return -1;
    return fit_line(pts, n, &first, REFINE_OUTLIER, out);
}

/* Replaces the corners by the intersections of the refit sides when they agree. */
static void refine(const struct grad *gr, double *p)
{
    struct line side[4];
    for (int k = 0; k < 4; k++)
        if (refine_side(gr, p, k, &side[k]) != 0)
            return;
    double q[8];
    for (int k = 0; k < 4; k++) {
        if (intersect(&side[(k + 3) % 4], &side[k], &q[2 * k], &q[2 * k + 1]) != 0 ||
            hypot(q[2 * k] - p[2 * k], q[2 * k + 1] - p[2 * k + 1]) > REFINE_MAX_MOVE)
            return;
    }
    memcpy(p, q, sizeof q);
}

int card_find_grey(const uint8_t *grey, uint32_t w, uint32_t h, float quad[8])
{
    if (!grey || !quad || w < 16 || h < 16 || w > 4096 || h > 4096)
        return FILOT_EINVAL;
    struct grad gr = {0};
    int diag = (int)ceil(hypot(w, h));
    uint32_t *acc = calloc((size_t)THETA_BINS * (2 * diag + 1), sizeof *acc);
    int rc = acc ? grad_compute(grey, w, h, &gr) : FILOT_ENOMEM;
    if (rc == 0) {
        double cs[THETA_BINS], sn[THETA_BINS];
        for (int t = 0; t < THETA_BINS; t++)
            cs[t] = cos(t * PI / 180.0), sn[t] = sin(t * PI / 180.0);
        hough_vote(&gr, acc, diag, cs, sn);
        struct line lines[MAX_LINES];
        uint32_t min_votes = (uint32_t)(MIN_LINE_FRAC * (w < h ? w : h));
        int n = hough_peaks(acc, diag, min_votes, cs, sn, lines);
        struct quad best;
        if (best_quad(&gr, lines, n, &best)) {
            refine(&gr, best.p);
            /* pixel-index to continuous coordinates, inside the frame */
            for (int k = 0; k < 4; k++) {
                quad[2 * k] = (float)fmin(fmax(best.p[2 * k] + 0.5, 0.0), (double)w);
                quad[2 * k + 1] = (float)fmin(fmax(best.p[2 * k + 1] + 0.5, 0.0), (double)h);
            }
            rc = pp_quad_check(quad, w, h) == 0 ? 1 : 0;
        }
    }
    free(acc);
    grad_free(&gr);
    return rc;
}

int card_find(const struct pp_image *img, float quad[8])
{
    if (!img || !quad)
        return FILOT_EINVAL;
    uint8_t *thumb = NULL;
    uint32_t tw, th, inv;
    int rc = pp_thumbnail(img, CARD_THUMB_SIDE, &thumb, &tw, &th, &inv);
    if (rc != 0)
        return rc;
    float q[8] = {0};
    rc = card_find_grey(thumb, tw, th, q);
    free(thumb);
    if (rc != 1)
        return rc;
    double f = inv / 65536.0;
    for (int k = 0; k < 4; k++) {
        quad[2 * k] = (float)fmin(q[2 * k] * f, (double)img->width);
        quad[2 * k + 1] = (float)fmin(q[2 * k + 1] * f, (double)img->height);
    }
    return pp_quad_check(quad, img->width, img->height) == 0 ? 1 : 0;
}
