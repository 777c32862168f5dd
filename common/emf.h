/*
 * emf.h - CloudWatch Embedded Metric Format (EMF) lines in the JSON log.
 *
 * One metric line is one JSON object on stdout, next to the ordinary log
 * lines (log.h).  The awslogs driver ships stdout to CloudWatch Logs, which
 * turns every line that carries an "_aws" member into metrics; no AWS SDK
 * and no agent are needed.  A line looks like
 *
 *   {"_aws":{"Timestamp":1732923038123,"CloudWatchMetrics":[{"Namespace":
 *    "FiLot/OCR","Dimensions":[["Service"]],"Metrics":[{"Name":"QueueDepth",
 *    "Unit":"Count"}]}]},"Service":"filot-ocr-gpu-worker","QueueDepth":12}
 *
 * The namespace, dimension and metric names below are the ones the alarms
 * (alerts/cloudwatch-alarms.json) and the scaling policy
 * (infra/ecs/autoscaling-ocr-gpu.json) refer to; tests/infra checks that
 * they agree with what this module prints.
 */
#ifndef FILOT_EMF_H
#define FILOT_EMF_H

#include <stddef.h>
#include <stdint.h>

#define EMF_NAMESPACE_DEFAULT "FiLot/OCR" /* OCR_EMF_NAMESPACE default */
#define EMF_SERVICE           "filot-ocr-gpu-worker"
#define EMF_DIMENSION         "Service" /* the only dimension */
#define EMF_MAX_METRICS       100       /* EMF limit per directive */

/* Metric names (and the unit each is emitted with). */
#define EMF_QUEUE_DEPTH         "QueueDepth"         /* Count: LLEN of the queue */
#define EMF_DOCUMENTS_PROCESSED "DocumentsProcessed" /* Count: since the last line */
#define EMF_DOCUMENTS_FAILED    "DocumentsFailed"    /* Count: since the last line */
#define EMF_PROCESSING_TIME_MS  "ProcessingTimeMs"   /* Milliseconds: one document */

#define EMF_UNIT_COUNT        "Count"
#define EMF_UNIT_MILLISECONDS "Milliseconds"

struct emf_metric {
    const char *name; /* 1..255 printable ASCII, not "_aws" nor EMF_DIMENSION */
    const char *unit; /* a CloudWatch StandardUnit, e.g. "Count"; NULL = "None" */
    double value;     /* finite */
};

/*
 * Builds one EMF line (no trailing newline) for the metrics, all under one
 * directive with the single dimension Service=service, stamped ts_ms (Unix
 * milliseconds).  Returns a malloc'd string, or NULL when an argument is
 * invalid (empty namespace or service, n == 0 or above EMF_MAX_METRICS, a
 * bad or repeated name, an unknown unit, a non-finite value).
 */
char *emf_format(const char *ns, const char *service, const struct emf_metric *metrics, size_t n,
                 uint64_t ts_ms);

/*
 * Formats with the current wall-clock time and writes the line plus '\n'
 * to fd with one write(2) (retried only on a short write), like log.c.
 * An empty or NULL namespace means "metrics off": nothing is written and 0
 * is returned.  Returns 0 or a negative FILOT_E* code.
 */
int emf_write(int fd, const char *ns, const char *service, const struct emf_metric *metrics,
              size_t n);

/* emf_write() to stdout, the JSON log stream. */
int emf_emit(const char *ns, const char *service, const struct emf_metric *metrics, size_t n);

/* 1 when unit is a CloudWatch StandardUnit name, else 0. */
int emf_unit_valid(const char *unit);

#endif
