/* Errors: every library call that can fail takes a crn_error * and returns
 * CRN_OK (0) or a negative code; the message says what went wrong and where.
 * Library code never prints or exits; the CLI shows the message. */
#ifndef CLRESNET_ERROR_H
#define CLRESNET_ERROR_H

#include <stddef.h>

enum {
    CRN_OK = 0,
    CRN_EINVAL = -1,   /* bad argument or input value */
    CRN_EIO = -2,      /* file system */
    CRN_EFORMAT = -3,  /* malformed file */
    CRN_ENOMEM = -4,   /* host or device memory */
    CRN_ECL = -5,      /* OpenCL runtime */
    CRN_EBLAS = -6,    /* CLBlast */
    CRN_ENODEV = -7,   /* no usable device */
    CRN_EINTR = -8,    /* interrupted by the user */
    CRN_EEXIST = -9,   /* would replace what is there (a run folder that holds a run) */
};

typedef struct crn_error {
    int code;
    char msg[2048];
} crn_error;

/* Sets the error (if err is not NULL) and returns code, so that a failing
 * path reads `return crn_fail(err, CRN_EIO, "%s: %s", path, strerror(errno));` */
int crn_fail(crn_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prepends context to an existing message ("loading X: <old message>"). */
int crn_error_prefix(crn_error *err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
