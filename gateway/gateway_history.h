/*  gateway_history: the dashboard's memory of the last minutes. A ring of points, one per
    sample (a second), shared by every series: a series is a name ("route:/fast:rps") and
    one float per point, NaN where it had no value. Marks are events on the same time axis
    (a worker died, a scale, a broker lost). Fixed size, chosen at creation: points × series
    × 4 bytes, plus a bounded ring of marks; a series past the limit is not kept. Locked
    inside: the sampler writes, admin commands mark, HTTP threads read. What the figures
    mean is gateway_history_sampler's; serving them gateway_observe_http's. */
#ifndef GATEWAY_HISTORY_H
#define GATEWAY_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_HISTORY_NAME_MAX 300 /* bytes of a series name, NUL included */
#define GATEWAY_HISTORY_MARKS    256 /* marks kept (the oldest go first) */

typedef struct _gateway_history_t gateway_history_t;

/* A store of points samples for at most max_series series. NULL out of memory. */
gateway_history_t *gateway_history_new(size_t points, size_t max_series);

/* Frees it; safe on NULL and twice. */
void gateway_history_destroy(gateway_history_t **self_p);

/* Bytes the store holds (fixed at creation), for the docs' figure and a test. */
size_t gateway_history_bytes(const gateway_history_t *self);

/* Starts a new point at time_ms (wall clock, ms): the oldest point is dropped once the ring
   is full, and every series has no value yet (NaN) at the new one. */
void gateway_history_begin(gateway_history_t *self, int64_t time_ms);

/* Sets series name's value at the newest point (creating the series, NaN at every older
   point, if there is room). Returns 0, or -1 if the series is new and the store is full
   or no point was begun. */
int gateway_history_set(gateway_history_t *self, const char *name, double value);

/* Adds a mark at time_ms: kind (a short word: "worker_died", "scale", "broker_lost", ...),
   subject (the service, host or broker it concerns) and text (what happened), each cut to
   a bounded length. */
void gateway_history_mark(gateway_history_t *self, int64_t time_ms, const char *kind,
                          const char *subject, const char *text);

/* The points after number since and the marks after number marks_since (0: all kept), as
   a new JSON object: {"seq": newest point's number, "mark_seq": newest mark's,
   "interval_ms", "t": [ms...], "series": {name: [v|null...]}, "marks": [{"t", "kind",
   "subject", "text"}...]}. A reader passes back the seq and mark_seq it got to have only
   what is new. NULL out of memory. */
json_t *gateway_history_json(gateway_history_t *self, uint64_t since, uint64_t marks_since,
                             int64_t interval_ms);

#endif
