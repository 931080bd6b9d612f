/*  gateway_prometheus: HELP/TYPE lines and label escaping for the text exposition format. */
#include "gateway_prometheus.h"

void gateway_prometheus_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void gateway_prometheus_label(FILE *out, const char *value)
{
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
}
