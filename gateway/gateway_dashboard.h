/*  gateway_dashboard: the dashboard's static files (gateway/dashboard/, compiled into the
    binary at build time by dashboard/embed.cmake) and their lookup by request path. Only
    the names in the table are ever served: a path is compared whole, never resolved on a
    file system, so "..", encoded dots or slashes cannot reach anything else. The data the
    page polls is gateway_observe_http's. */
#ifndef GATEWAY_DASHBOARD_H
#define GATEWAY_DASHBOARD_H

#include <stddef.h>

typedef struct {
    const char *name;          /* file name in gateway/dashboard/, NULL ends the table */
    const unsigned char *data; /* its bytes */
    size_t size;               /* bytes in data */
} gateway_dashboard_file_t;

/* The embedded files (generated). */
extern const gateway_dashboard_file_t gateway_dashboard_files[];

/* The file for a decoded request path: "/dashboard" and "/dashboard/" are index.html,
   "/dashboard/NAME" is NAME if embedded. NULL otherwise. *content_type is set to a static
   string. */
const gateway_dashboard_file_t *gateway_dashboard_find(const char *path, const char **content_type);

#endif
