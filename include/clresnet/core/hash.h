/* Hashes: FNV-1a over bytes (cache keys, checksums of checkpoints and of a
 * dataset's sample list) and the splitmix64 finaliser (random streams). */
#ifndef CLRESNET_CORE_HASH_H
#define CLRESNET_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CRN_FNV1A64_INIT 0xcbf29ce484222325ULL
uint64_t crn_fnv1a64(uint64_t h, const void *data, size_t n);

/* splitmix64's finaliser: a bijective mix of 64 bits. */
uint64_t crn_hash64(uint64_t x);

#endif
