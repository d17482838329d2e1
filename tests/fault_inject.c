/* LD_PRELOAD shim for tests/fault_check.sh: kills the process with SIGKILL
 * in the middle of a checkpoint write (crn_write_file_atomic: temp file
 * "<path>.tmp.<pid>", write, fsync, rename).
 *   CRN_FAULT=partial  the first write() to a temp file writes half its bytes, then SIGKILL
 *   CRN_FAULT=rename   rename() of a complete, fsynced temp file: SIGKILL before it
 *   CRN_FAULT_SKIP=N   let the first N temp files through (default 0)
 * Build: cc -shared -fPIC -o fault_inject.so tests/fault_inject.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_seen = -1; /* temp files seen so far; -1: none yet */

static int armed(void)
{
    const char *s = getenv("CRN_FAULT_SKIP");
    return g_seen >= (s ? atoi(s) : 0);
}

static int is_tmp_fd(int fd)
{
    char link[64], path[4200];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    return strstr(path, ".safetensors.tmp.") != NULL;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    const char *mode = getenv("CRN_FAULT");
    if (mode && !strcmp(mode, "partial") && fd > 2 && is_tmp_fd(fd)) {
        if (lseek(fd, 0, SEEK_CUR) == 0) g_seen++; /* the first write of a new temp file */
        if (armed()) {
            real(fd, buf, n / 2);
            kill(getpid(), SIGKILL);
        }
    }
    return real(fd, buf, n);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    const char *mode = getenv("CRN_FAULT");
    if (mode && !strcmp(mode, "rename") && strstr(from, ".safetensors.tmp.")) {
        g_seen++;
        if (armed()) kill(getpid(), SIGKILL);
    }
    return real(from, to);
}
