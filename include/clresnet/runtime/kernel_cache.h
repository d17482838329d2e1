/* On-disk cache of OpenCL program binaries, keyed by everything that changes
 * the binary: platform, device, driver version, kernel source and build
 * options. An entry that is corrupt or keyed differently is never trusted. */
#ifndef CLRESNET_KERNEL_CACHE_H
#define CLRESNET_KERNEL_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "clresnet/core/error.h"
#include "clresnet/core/file_util.h"
#include "clresnet/core/hash.h"


/* The usual cache folder from the values of the environment variables
 * CLRESNET_CACHE_DIR, XDG_CACHE_HOME and HOME (each may be NULL; the caller
 * reads them: the library reads no environment): cache_dir when set, else
 * XDG_CACHE_HOME/clresnet, else HOME/.cache/clresnet; an error when none
 * is set. */
int crn_cache_dir_choose(const char *cache_dir, const char *xdg_cache_home, const char *home, char *buf, size_t size,
                         crn_error *err);

/* Returns 1 and a malloc'd binary on a valid hit, 0 on a miss (absent,
 * corrupt, stale: the reason goes to `why` when given). */
int crn_cache_load(const char *dir, uint64_t key, unsigned char **bin, size_t *len,
                   char *why, size_t why_size);

/* Writes atomically (temp file, fsync, rename); creates the folder. */
int crn_cache_store(const char *dir, uint64_t key, const unsigned char *bin, size_t len,
                    crn_error *err);

/* The entry of key in dir (an error naming it when it exceeds size). */
int crn_cache_path(const char *dir, uint64_t key, char *buf, size_t size, crn_error *err);

#endif
