/*  gateway_dashboard: lookup of the embedded dashboard files by exact name. */
#include "gateway_dashboard.h"

#include <string.h>

#define S_PREFIX "/dashboard"

static const char *s_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    return "application/octet-stream";
}

const gateway_dashboard_file_t *gateway_dashboard_find(const char *path, const char **content_type)
{
    size_t prefix = strlen(S_PREFIX);
    if (!path || strncmp(path, S_PREFIX, prefix) != 0)
        return NULL;
    const char *name = path + prefix;
    if (*name == '\0' || strcmp(name, "/") == 0)
        name = "index.html";
    else if (*name == '/')
        name++;
    else
        return NULL; /* "/dashboardx" */
    for (const gateway_dashboard_file_t *file = gateway_dashboard_files; file->name; file++)
        if (strcmp(file->name, name) == 0) {
            *content_type = s_content_type(file->name);
            return file;
        }
    return NULL;
}
