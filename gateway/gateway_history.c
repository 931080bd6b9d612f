/*  gateway_history: the ring of points and marks (see gateway_history.h). Points are
    numbered from 1; point n lives in slot (n - 1) % points. A series allocates its floats
    when it first appears, so a small cluster pays for what it has, and the limit on
    series bounds the rest. */
#include "gateway_history.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[GATEWAY_HISTORY_NAME_MAX];
    float *values; /* points floats, NaN where the series had no value */
} s_series_t;

typedef struct {
    uint64_t number; /* 1, 2, ...: readers ask for what came after the one they have */
    int64_t time_ms;
    char kind[24];
    char subject[128];
    char text[160];
} s_mark_t;

struct _gateway_history_t {
    pthread_mutex_t lock;
    size_t points;     /* slots in the ring */
    size_t max_series; /* series kept at most */
    int64_t *times;    /* per slot: the point's time */
    uint64_t newest;   /* number of the newest point, 0 before the first */
    s_series_t *series;
    size_t series_count;
    s_mark_t marks[GATEWAY_HISTORY_MARKS];
    uint64_t marks_made; /* number of the newest mark */
};

gateway_history_t *gateway_history_new(size_t points, size_t max_series)
{
    if (points == 0 || max_series == 0)
        return NULL;
    gateway_history_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->points = points;
    self->max_series = max_series;
    self->times = calloc(points, sizeof *self->times);
    self->series = calloc(max_series, sizeof *self->series);
    if (!self->times || !self->series) {
        free(self->times);
        free(self->series);
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

void gateway_history_destroy(gateway_history_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_history_t *self = *self_p;
    for (size_t i = 0; i < self->series_count; i++)
        free(self->series[i].values);
    free(self->series);
    free(self->times);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

size_t gateway_history_bytes(const gateway_history_t *self)
{
    return sizeof *self + self->points * sizeof *self->times +
           self->max_series * (sizeof(s_series_t) + self->points * sizeof(float));
}

static size_t s_slot(const gateway_history_t *self, uint64_t number)
{
    return (size_t) ((number - 1) % self->points);
}

void gateway_history_begin(gateway_history_t *self, int64_t time_ms)
{
    pthread_mutex_lock(&self->lock);
    self->newest++;
    size_t slot = s_slot(self, self->newest);
    self->times[slot] = time_ms;
    for (size_t i = 0; i < self->series_count; i++)
        self->series[i].values[slot] = NAN;
    pthread_mutex_unlock(&self->lock);
}

static s_series_t *s_find(gateway_history_t *self, const char *name)
{
    for (size_t i = 0; i < self->series_count; i++)
        if (strcmp(self->series[i].name, name) == 0)
            return &self->series[i];
    if (self->series_count == self->max_series || strlen(name) >= GATEWAY_HISTORY_NAME_MAX)
        return NULL;
    float *values = malloc(self->points * sizeof *values);
    if (!values)
        return NULL;
    for (size_t i = 0; i < self->points; i++)
        values[i] = NAN;
    s_series_t *series = &self->series[self->series_count++];
    snprintf(series->name, sizeof series->name, "%s", name);
    series->values = values;
    return series;
}

int gateway_history_set(gateway_history_t *self, const char *name, double value)
{
    pthread_mutex_lock(&self->lock);
    s_series_t *series = self->newest ? s_find(self, name) : NULL;
    if (series)
        series->values[s_slot(self, self->newest)] = (float) value;
    pthread_mutex_unlock(&self->lock);
    return series ? 0 : -1;
}

void gateway_history_mark(gateway_history_t *self, int64_t time_ms, const char *kind,
                          const char *subject, const char *text)
{
    pthread_mutex_lock(&self->lock);
    s_mark_t *mark = &self->marks[self->marks_made % GATEWAY_HISTORY_MARKS];
    mark->number = ++self->marks_made;
    mark->time_ms = time_ms;
    snprintf(mark->kind, sizeof mark->kind, "%s", kind ? kind : "");
    snprintf(mark->subject, sizeof mark->subject, "%s", subject ? subject : "");
    snprintf(mark->text, sizeof mark->text, "%s", text ? text : "");
    pthread_mutex_unlock(&self->lock);
}

//  The marks after number since that are still kept, oldest first.
static json_t *s_marks_json(const gateway_history_t *self, uint64_t since)
{
    json_t *marks = json_array();
    uint64_t kept_from =
        self->marks_made > GATEWAY_HISTORY_MARKS ? self->marks_made - GATEWAY_HISTORY_MARKS + 1 : 1;
    for (uint64_t number = since + 1 > kept_from ? since + 1 : kept_from;
         marks && number <= self->marks_made; number++) {
        const s_mark_t *mark = &self->marks[(number - 1) % GATEWAY_HISTORY_MARKS];
        json_array_append_new(marks, json_pack("{s:I, s:s, s:s, s:s}", "t",
                                               (json_int_t) mark->time_ms, "kind", mark->kind,
                                               "subject", mark->subject, "text", mark->text));
    }
    return marks;
}

json_t *gateway_history_json(gateway_history_t *self, uint64_t since, uint64_t marks_since,
                             int64_t interval_ms)
{
    pthread_mutex_lock(&self->lock);
    uint64_t oldest = self->newest > self->points ? self->newest - self->points + 1 : 1;
    uint64_t first = since + 1 > oldest ? since + 1 : oldest;
    json_t *times = json_array();
    json_t *series = json_object();
    for (uint64_t number = first; times && number <= self->newest; number++)
        json_array_append_new(times, json_integer((json_int_t) self->times[s_slot(self, number)]));
    for (size_t i = 0; series && i < self->series_count; i++) {
        json_t *values = json_array();
        for (uint64_t number = first; values && number <= self->newest; number++) {
            float value = self->series[i].values[s_slot(self, number)];
            json_array_append_new(values, isfinite(value) ? json_real(value) : json_null());
        }
        json_object_set_new(series, self->series[i].name, values ? values : json_null());
    }
    json_t *root =
        json_pack("{s:I, s:I, s:I, s:o*, s:o*, s:o*}", "seq", (json_int_t) self->newest, "mark_seq",
                  (json_int_t) self->marks_made, "interval_ms", (json_int_t) interval_ms, "t",
                  times, "series", series, "marks", s_marks_json(self, marks_since));
    pthread_mutex_unlock(&self->lock);
    return root;
}
