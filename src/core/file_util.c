#include "clresnet/core/file_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int crn_path_fmt(char *buf, size_t size, crn_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < size) return CRN_OK;
    int rc = n < 0 ? crn_fail(err, CRN_EINVAL, "cannot format a path from '%.200s'", fmt)
                   : crn_fail(err, CRN_EINVAL, "path too long (%d bytes, at most %zu): %.200s...", n, size - 1, buf);
    if (size) buf[0] = '\0';
    return rc;
}

char *crn_path_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int crn_mkdirs(const char *path, crn_error *err)
{
    char tmp[CRN_PATH_MAX];
    int rc = crn_path_fmt(tmp, sizeof tmp, err, "%s", path);
    if (rc) return rc;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return crn_fail(err, CRN_EIO, "cannot create folder %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return crn_fail(err, CRN_EIO, "cannot create folder %s: %s", tmp, strerror(errno));
    return CRN_OK;
}

int crn_check_can_write(const char *path, crn_error *err)
{
    char dir[CRN_PATH_MAX];
    int rc = crn_path_fmt(dir, sizeof dir, err, "%s", path);
    if (rc) return rc;
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    if (access(dir, W_OK) != 0)
        return crn_fail(err, CRN_EIO, "cannot write %s: folder %s: %s", path, dir, strerror(errno));
    return CRN_OK;
}

int crn_write_file_atomic(const char *path, const void *data, size_t n, crn_error *err)
{
    char tmp[CRN_PATH_MAX];
    int rc = crn_path_fmt(tmp, sizeof tmp, err, "%s.tmp.%ld", path, (long)getpid());
    if (rc) return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    /* named as the caller knows it: the temporary name is ours */
    if (fd < 0) return crn_fail(err, CRN_EIO, "cannot write %s: %s", path, strerror(errno));
    const char *p = data;
    size_t left = n;
    int bad = 0;
    while (left > 0 && !bad) {
        ssize_t k = write(fd, p, left);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) bad = 1;
        else {
            p += k;
            left -= (size_t)k;
        }
    }
    if (!bad && fsync(fd) != 0) bad = 1;
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        if (!bad) e = errno;
        unlink(tmp);
        return crn_fail(err, CRN_EIO, "writing %s failed: %s; the previous file is unchanged", path, strerror(e));
    }
    /* The rename itself survives a power loss only once the folder is synced. */
    char dir[CRN_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path); /* fits: tmp was longer */
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CRN_OK;
}

int crn_read_file(const char *path, char **data, size_t *n, crn_error *err)
{
    *data = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return crn_fail(err, CRN_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return crn_fail(err, CRN_EIO, "%s is a folder, not a file", path);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *g = realloc(buf, ncap + 1);
            if (!g) {
                free(buf);
                fclose(f);
                return crn_fail(err, CRN_ENOMEM, "%s: out of host memory", path);
            }
            buf = g;
            cap = ncap;
        }
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return crn_fail(err, CRN_EIO, "%s: read error", path);
    }
    buf[len] = '\0';
    *data = buf;
    *n = len;
    return CRN_OK;
}
