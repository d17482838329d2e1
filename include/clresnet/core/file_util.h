/* Small file-system helpers shared by every writer: nothing written by
 * clresnet is ever left half-written. */
#ifndef CLRESNET_FILE_UTIL_H
#define CLRESNET_FILE_UTIL_H

#include <stddef.h>

#include "clresnet/core/error.h"

/* The size of every path buffer clresnet uses, the terminating NUL
 * included. */
#define CRN_PATH_MAX 4096

/* Formats a path into buf (size bytes; CRN_PATH_MAX for a path buffer). A
 * path that does not fit is an error (CRN_EINVAL) that names the path's
 * start, and leaves buf empty: no path is ever silently cut short. */
int crn_path_fmt(char *buf, size_t size, crn_error *err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The same into a malloc'd string of the path's own length (for paths kept,
 * such as a dataset's files); NULL when out of memory. */
char *crn_path_alloc(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* mkdir -p */
int crn_mkdirs(const char *path, crn_error *err);

/* Whether a file could be created at path: its folder exists and is
 * writable (checked before long work; the error names path). */
int crn_check_can_write(const char *path, crn_error *err);

/* Replaces path with data atomically: a temp file beside it, fsync, rename.
 * On failure (a full disk, say) the previous file is left as it was. */
int crn_write_file_atomic(const char *path, const void *data, size_t n, crn_error *err);

/* Reads a whole file into a malloc'd buffer (NUL-terminated for text). */
int crn_read_file(const char *path, char **data, size_t *n, crn_error *err);

#endif
