/*  sl_flags: parses --flag value, --flag=value and SLOWLANE_FLAG environment fallbacks
    into typed targets, once at start-up. Errors are one line on stderr naming the flag.
    Owns nothing after parsing but the strings it copies into targets (kept for the life
    of the process). */
#include "sl_flags.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sl_strlist_push(sl_strlist_t *list, const char *text)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 4;
        char **items = realloc(list->items, cap * sizeof *items);
        if (!items)
            abort(); // out of memory at start-up: nothing sensible to do
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count] = strdup(text);
    if (!list->items[list->count])
        abort();
    list->count++;
}

void sl_strlist_clear(sl_strlist_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = list->cap = 0;
}

static sl_flag_t *s_flag_find(sl_flag_t *flags, size_t count, const char *name, size_t size)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(flags[i].name) == size && strncmp(flags[i].name, name, size) == 0)
            return &flags[i];
    return NULL;
}

static int s_flag_set(const char *program, sl_flag_t *flag, const char *value, const char *source)
{
    switch (flag->type) {
    case SL_FLAG_STRING: {
        char *copy = strdup(value);
        if (!copy)
            abort();
        // The previous value may be a string literal default: it is not freed.
        *(char **) flag->target = copy;
        return 0;
    }
    case SL_FLAG_INT: {
        char *end = NULL;
        errno = 0;
        long long number = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || isspace((unsigned char) *value)) {
            fprintf(stderr, "%s: %s%s: '%s' is not a whole number\n", program, source, flag->name,
                    value);
            return -1;
        }
        if (number < flag->min || number > flag->max) {
            fprintf(stderr, "%s: %s%s: %lld is out of range %lld..%lld\n", program, source,
                    flag->name, number, (long long) flag->min, (long long) flag->max);
            return -1;
        }
        *(int64_t *) flag->target = number;
        return 0;
    }
    case SL_FLAG_BOOL:
        if (strcasecmp(value, "true") == 0 || strcasecmp(value, "yes") == 0 ||
            strcmp(value, "1") == 0 || strcasecmp(value, "on") == 0) {
            *(bool *) flag->target = true;
            return 0;
        }
        if (strcasecmp(value, "false") == 0 || strcasecmp(value, "no") == 0 ||
            strcmp(value, "0") == 0 || strcasecmp(value, "off") == 0) {
            *(bool *) flag->target = false;
            return 0;
        }
        fprintf(stderr, "%s: %s%s: '%s' is not true or false\n", program, source, flag->name,
                value);
        return -1;
    case SL_FLAG_LIST:
        sl_strlist_push((sl_strlist_t *) flag->target, value);
        return 0;
    }
    return -1;
}

/* SLOWLANE_ + name upper-cased with '-' as '_'. */
static void s_env_name(const char *name, char *buffer, size_t size)
{
    int used = snprintf(buffer, size, "SLOWLANE_");
    for (const char *p = name; *p && (size_t) used < size - 1; p++)
        buffer[used++] = *p == '-' ? '_' : (char) toupper((unsigned char) *p);
    buffer[used] = '\0';
}

void sl_flags_print_help(const char *program, const char *synopsis, const sl_flag_t *flags,
                         size_t count)
{
    printf("usage: %s %s\n\n", program, synopsis ? synopsis : "[flags]");
    for (size_t i = 0; i < count; i++) {
        char env[96];
        s_env_name(flags[i].name, env, sizeof env);
        const char *kind = flags[i].type == SL_FLAG_INT    ? " N"
                           : flags[i].type == SL_FLAG_BOOL ? ""
                                                           : " VALUE";
        char left[96];
        snprintf(left, sizeof left, "--%s%s%s", flags[i].name, kind,
                 flags[i].type == SL_FLAG_LIST ? " (repeatable)" : "");
        printf("  %-36s %s [%s]\n", left, flags[i].help ? flags[i].help : "", env);
    }
}

int sl_flags_parse(const char *program, sl_flag_t *flags, size_t count, int argc, char **argv,
                   int first, sl_strlist_t *positional)
{
    bool *given = calloc(count ? count : 1, sizeof *given);
    if (!given)
        abort();
    int rc = 0;
    for (int i = first; i < argc && rc == 0; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            sl_flags_print_help(program, NULL, flags, count);
            rc = 1;
            break;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (positional) {
                sl_strlist_push(positional, arg);
                continue;
            }
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", program, arg);
            rc = -1;
            break;
        }
        const char *name = arg + 2;
        const char *equals = strchr(name, '=');
        size_t name_size = equals ? (size_t) (equals - name) : strlen(name);
        sl_flag_t *flag = s_flag_find(flags, count, name, name_size);
        if (!flag) {
            fprintf(stderr, "%s: --%.*s: unknown flag (see --help)\n", program, (int) name_size,
                    name);
            rc = -1;
            break;
        }
        const char *value = equals ? equals + 1 : NULL;
        if (!value) {
            if (flag->type == SL_FLAG_BOOL)
                value = "true";
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                fprintf(stderr, "%s: --%s: needs a value\n", program, flag->name);
                rc = -1;
                break;
            }
        }
        if (s_flag_set(program, flag, value, "--") != 0)
            rc = -1;
        given[flag - flags] = true;
    }
    // The environment fills in what the command line did not say.
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (given[i])
            continue;
        char env_name[96];
        s_env_name(flags[i].name, env_name, sizeof env_name);
        const char *value = getenv(env_name);
        if (!value)
            continue;
        if (flags[i].type == SL_FLAG_LIST) {
            char *copy = strdup(value);
            if (!copy)
                abort();
            char *save = NULL;
            for (char *item = strtok_r(copy, " \t\n", &save); item;
                 item = strtok_r(NULL, " \t\n", &save))
                sl_strlist_push((sl_strlist_t *) flags[i].target, item);
            free(copy);
            continue;
        }
        char source[112];
        snprintf(source, sizeof source, "%s=... for --", env_name);
        if (s_flag_set(program, &flags[i], value, source) != 0)
            rc = -1;
    }
    free(given);
    return rc;
}
