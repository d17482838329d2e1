#include "clresnet/runtime/kernel_cache.h"

#include "clresnet/core/file_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entry layout: magic[8] | key u64 | length u64 | checksum u64 | binary. */
static const char MAGIC[8] = {'C', 'R', 'N', 'K', 'C', 'v', '0', '1'};
enum { HEADER = 32 };

int crn_cache_dir_choose(const char *cache_dir, const char *xdg_cache_home, const char *home, char *buf, size_t size,
                         crn_error *err)
{
    if (cache_dir && *cache_dir) return crn_path_fmt(buf, size, err, "%s", cache_dir);
    if (xdg_cache_home && *xdg_cache_home) return crn_path_fmt(buf, size, err, "%s/clresnet", xdg_cache_home);
    if (home && *home) return crn_path_fmt(buf, size, err, "%s/.cache/clresnet", home);
    if (size) buf[0] = '\0';
    return crn_fail(err, CRN_EIO, "no cache folder: neither XDG_CACHE_HOME nor HOME is set");
}

int crn_cache_path(const char *dir, uint64_t key, char *buf, size_t size, crn_error *err)
{
    return crn_path_fmt(buf, size, err, "%s/%016llx.clbin", dir, (unsigned long long)key);
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

int crn_cache_load(const char *dir, uint64_t key, unsigned char **bin, size_t *len, char *why,
                   size_t why_size)
{
    char path[CRN_PATH_MAX];
    *bin = NULL;
    *len = 0;
    if (crn_cache_path(dir, key, path, sizeof path, NULL) != CRN_OK) {
        if (why) snprintf(why, why_size, "path too long");
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (why) snprintf(why, why_size, "not cached");
        return 0;
    }
    unsigned char h[HEADER];
    int hit = 0;
    const char *reason = "truncated header";
    if (fread(h, 1, HEADER, f) == HEADER) {
        uint64_t n = get64(h + 16);
        reason = "bad magic";
        if (memcmp(h, MAGIC, 8) == 0) {
            reason = "key mismatch";
            if (get64(h + 8) == key) {
                reason = "implausible length";
                if (n > 0 && n < ((uint64_t)1 << 31)) {
                    unsigned char *b = malloc(n);
                    reason = "truncated binary";
                    if (b && fread(b, 1, n, f) == n) {
                        reason = "checksum mismatch";
                        if (crn_fnv1a64(CRN_FNV1A64_INIT, b, n) == get64(h + 24)) {
                            *bin = b;
                            *len = n;
                            hit = 1;
                        }
                    }
                    if (!hit) free(b);
                }
            }
        }
    }
    fclose(f);
    if (why) snprintf(why, why_size, "%s", hit ? "cached" : reason);
    return hit;
}

int crn_cache_store(const char *dir, uint64_t key, const unsigned char *bin, size_t len,
                    crn_error *err)
{
    int rc = crn_mkdirs(dir, err);
    if (rc != CRN_OK) return rc;
    unsigned char *buf = malloc(HEADER + len);
    if (!buf) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    memcpy(buf, MAGIC, 8);
    put64(buf + 8, key);
    put64(buf + 16, len);
    put64(buf + 24, crn_fnv1a64(CRN_FNV1A64_INIT, bin, len));
    memcpy(buf + HEADER, bin, len);
    char path[CRN_PATH_MAX];
    rc = crn_cache_path(dir, key, path, sizeof path, err);
    if (rc == CRN_OK) rc = crn_write_file_atomic(path, buf, HEADER + len, err);
    free(buf);
    return rc;
}
