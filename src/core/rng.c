#include "clresnet/core/rng.h"

#include "clresnet/core/hash.h"

void crn_rng_init(crn_rng *r, uint64_t seed, uint64_t epoch, uint64_t index, uint64_t purpose)
{
    uint64_t h = crn_hash64(seed ^ 0x636C7265736E6574ULL);
    h = crn_hash64(h ^ epoch);
    h = crn_hash64(h ^ index);
    h = crn_hash64(h ^ purpose);
    r->state = h;
}

uint64_t crn_rng_next(crn_rng *r)
{
    /* splitmix64: a Weyl counter through the finaliser */
    uint64_t z = r->state += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double crn_rng_uniform(crn_rng *r)
{
    return (double)(crn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t crn_rng_below(crn_rng *r, uint64_t span)
{
    /* rejection sampling: unbiased */
    uint64_t limit = UINT64_MAX - UINT64_MAX % span, v;
    do
        v = crn_rng_next(r);
    while (v >= limit);
    return v % span;
}

int crn_rng_int(crn_rng *r, int lo, int hi)
{
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)((int64_t)hi - (int64_t)lo) + 1;
    return (int)((int64_t)lo + (int64_t)crn_rng_below(r, span));
}
