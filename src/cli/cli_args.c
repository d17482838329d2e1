/* Command-line helpers that need no device: where a misplaced global option
 * goes, where the sample data is, which stage --freeze names. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_misplaced_global(const char *command, const char *option)
{
    static const struct {
        const char *name, *example;
    } GLOBAL[] = {{"--device", "--device 0"}, {"--no-kernel-cache", "--no-kernel-cache"},
                  {"--quiet", "--quiet"}, {"-q", "--quiet"}};
    size_t n = strcspn(option, "=");
    for (size_t i = 0; i < sizeof GLOBAL / sizeof GLOBAL[0]; i++)
        if (strlen(GLOBAL[i].name) == n && !strncmp(option, GLOBAL[i].name, n)) {
            fprintf(stderr, "clresnet %s: error: %s is a global option: clresnet %s %s ...\n", command,
                    GLOBAL[i].name, GLOBAL[i].example, command);
            return 2;
        }
    return 0;
}

#ifndef CLRESNET_INSTALL_DATA_DIR
#define CLRESNET_INSTALL_DATA_DIR "/usr/local/share/clresnet/data"
#endif

/* A dataset folder: Flowers-102's label file or an image folder's train/. */
static bool is_dataset(const char *dir)
{
    char p[CRN_PATH_MAX];
    struct stat sb;
    if (crn_path_fmt(p, sizeof p, NULL, "%s/imagelabels.mat", dir) != CRN_OK) return false; /* too long: none */
    if (stat(p, &sb) == 0) return true;
    if (crn_path_fmt(p, sizeof p, NULL, "%s/train", dir) != CRN_OK) return false;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int cli_sample_data(char *buf, size_t size, crn_error *err)
{
    const char *env = getenv("CLRESNET_DATA");
    if (env && *env) {
        if (!is_dataset(env)) {
            crn_fail(err, CRN_EINVAL, "CLRESNET_DATA=%s holds no dataset (no imagelabels.mat, no train/)", env);
            return 1;
        }
        return crn_path_fmt(buf, size, err, "%s", env) == CRN_OK ? 0 : 1;
    }
    char exe[CRN_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    const char *rel[] = {"/data", "/../data", "/../share/clresnet/data"};
    char tried[1024] = "";
    for (size_t i = 0; n > 0 && i < sizeof rel / sizeof rel[0]; i++) {
        char cand[CRN_PATH_MAX];
        if (crn_path_fmt(cand, sizeof cand, NULL, "%s%s", exe, rel[i]) != CRN_OK) continue;
        if (is_dataset(cand)) {
            char *abs = realpath(cand, NULL);
            int rc = crn_path_fmt(buf, size, err, "%s", abs ? abs : cand);
            free(abs);
            return rc == CRN_OK ? 0 : 1;
        }
        size_t used = strlen(tried);
        if (snprintf(tried + used, sizeof tried - used, "%s%.300s", i ? ", " : "", cand) < 0) break;
    }
    if (is_dataset(CLRESNET_INSTALL_DATA_DIR))
        return crn_path_fmt(buf, size, err, "%s", CLRESNET_INSTALL_DATA_DIR) == CRN_OK ? 0 : 1;
    crn_fail(err, CRN_EINVAL, "no --data given and no sample data found (looked in %s, %s); give --data DIR or "
             "set CLRESNET_DATA", tried[0] ? tried : "the program's folder", CLRESNET_INSTALL_DATA_DIR);
    return 1;
}

/* Edit distance of a and b (both short), for "did you mean". */
static int distance(const char *a, const char *b)
{
    size_t m = strlen(a), n = strlen(b);
    if (m > 40 || n > 40) return 99;
    int row[41];
    for (size_t j = 0; j <= n; j++) row[j] = (int)j;
    for (size_t i = 1; i <= m; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= n; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[n];
}

bool cli_suggest_flag(const char *help, const char *given, char *out, size_t size)
{
    int best = 3; /* at most two edits away */
    out[0] = '\0';
    for (const char *p = strstr(help, "--"); p; p = strstr(p + 2, "--")) {
        size_t n = 2;
        while (p[n] == '-' || (p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9')) n++;
        char flag[48];
        if (n < 4 || n >= sizeof flag) continue;
        memcpy(flag, p, n);
        flag[n] = '\0';
        int d = distance(given, flag);
        if (d < best) {
            best = d;
            snprintf(out, size, "%s", flag);
        }
    }
    return out[0] != '\0';
}

int cli_resolve_freeze(const char *command, const char *stage, crn_model_config *mc)
{
    if (!stage) return 0;
    int k = crn_model_freeze_parse(mc->kind, stage);
    if (k > 0) {
        mc->freeze = k;
        return 0;
    }
    char names[128] = "";
    for (int i = 1; crn_model_freeze_name(mc->kind, i); i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i > 1 ? ", " : "",
                 crn_model_freeze_name(mc->kind, i));
    fprintf(stderr, "clresnet %s: error: --freeze '%s': %s has no such stage; its stages are %s (each frozen with "
            "every stage before it)\n", command, stage, crn_model_name(mc->kind), names);
    return 2;
}
