#include "clresnet/train/run_dir.h"

#include "clresnet/core/file_util.h"

#include <errno.h>
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int crn_run_dir_file(const crn_run_dir *r, const char *name, char *buf, size_t size, crn_error *err)
{
    return crn_path_fmt(buf, size, err, "%s/%s", r->path, name);
}

int crn_run_dir_write_text(const crn_run_dir *r, const char *name, const char *text, crn_error *err)
{
    char path[CRN_PATH_MAX];
    int rc = crn_run_dir_file(r, name, path, sizeof path, err);
    return rc ? rc : crn_write_file_atomic(path, text, strlen(text), err);
}

/* Keeps the header line and the data lines whose first field (an integer)
 * is <= keep; used when resuming so that logs hold no epochs or steps that
 * the checkpoint does not. */
static int truncate_log(const char *path, long long keep, bool has_header, bool json, crn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return CRN_OK;
    char *out = NULL;
    size_t out_n = 0;
    FILE *mem = open_memstream(&out, &out_n);
    char line[8192];
    int first = 1;
    while (mem && fgets(line, sizeof line, f)) {
        long long key = -1;
        if (has_header && first) {
            fputs(line, mem);
            first = 0;
            continue;
        }
        first = 0;
        if (json) {
            const char *p = strstr(line, "\"epoch\":");
            if (p) key = strtoll(p + 8, NULL, 10);
        } else {
            key = strtoll(line, NULL, 10);
        }
        if (key >= 0 && key <= keep) fputs(line, mem);
    }
    fclose(f);
    if (!mem) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    fclose(mem);
    int rc = crn_write_file_atomic(path, out, out_n, err);
    free(out);
    return rc;
}

/* Temp files of writes that a kill interrupted (NAME.tmp.PID): never read,
 * removed when the run resumes. */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".tmp.")) continue;
        char p[CRN_PATH_MAX];
        if (crn_path_fmt(p, sizeof p, NULL, "%s/%s", dir, e->d_name) == CRN_OK) unlink(p);
    }
    closedir(d);
}

static FILE *open_log(const char *dir, const char *name, const char *header, crn_error *err, int *rc)
{
    char path[CRN_PATH_MAX];
    if ((*rc = crn_path_fmt(path, sizeof path, err, "%s/%s", dir, name)) != CRN_OK) return NULL;
    struct stat st;
    int fresh = stat(path, &st) != 0 || st.st_size == 0;
    FILE *f = fopen(path, "a");
    if (!f) {
        *rc = crn_fail(err, CRN_EIO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fresh && header) {
        fputs(header, f);
        fflush(f);
    }
    return f;
}

int crn_run_dir_open(crn_run_dir *r, const char *path, bool resume, int keep_epochs, long long keep_steps,
                     crn_error *err)
{
    memset(r, 0, sizeof *r);
    int rc = crn_path_fmt(r->path, sizeof r->path, err, "%s", path);
    if (rc == CRN_OK) rc = crn_mkdirs(path, err);
    if (rc != CRN_OK) return rc;
    char p[CRN_PATH_MAX];
    if (resume) {
        remove_stale_temps(path);
        if ((rc = crn_run_dir_file(r, "log.csv", p, sizeof p, err)) != CRN_OK ||
            (rc = truncate_log(p, keep_epochs, true, false, err)) != CRN_OK)
            return rc;
        if ((rc = crn_run_dir_file(r, "log.jsonl", p, sizeof p, err)) != CRN_OK ||
            (rc = truncate_log(p, keep_epochs, false, true, err)) != CRN_OK)
            return rc;
        if ((rc = crn_run_dir_file(r, "steps.csv", p, sizeof p, err)) != CRN_OK ||
            (rc = truncate_log(p, keep_steps, true, false, err)) != CRN_OK)
            return rc;
    } else {
        /* A new run in an existing folder starts its logs afresh. */
        const char *logs[] = {"log.csv", "log.jsonl", "steps.csv"};
        for (int i = 0; i < 3; i++) {
            if ((rc = crn_run_dir_file(r, logs[i], p, sizeof p, err)) != CRN_OK) return rc;
            unlink(p);
        }
    }
    rc = CRN_OK;
    r->log_csv = open_log(path, "log.csv",
                          "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,train_images_per_s,best,val_top5\n", err, &rc);
    if (rc == CRN_OK) r->log_jsonl = open_log(path, "log.jsonl", NULL, err, &rc);
    if (rc == CRN_OK) r->steps_csv = open_log(path, "steps.csv", "step,epoch,loss,lr\n", err, &rc);
    if (rc != CRN_OK) crn_run_dir_close(r);
    return rc;
}

void crn_run_dir_close(crn_run_dir *r)
{
    if (r->log_csv) fclose(r->log_csv);
    if (r->log_jsonl) fclose(r->log_jsonl);
    if (r->steps_csv) fclose(r->steps_csv);
    r->log_csv = r->log_jsonl = r->steps_csv = NULL;
}

int crn_run_dir_log_epoch(crn_run_dir *r, const crn_epoch_record *e, crn_error *err)
{
    fprintf(r->log_csv, "%d,%.6f,%.6f,%.6f,%.6f,%.9g,%.3f,%.2f,%d,%.6f\n", e->epoch, e->train_loss, e->train_acc,
            e->val_loss, e->val_acc, e->lr, e->seconds, e->train_images_per_s, e->best ? 1 : 0, e->val_top5);
    fprintf(r->log_jsonl,
            "{\"epoch\":%d,\"train_loss\":%.6f,\"train_acc\":%.6f,\"val_loss\":%.6f,\"val_acc\":%.6f,"
            "\"lr\":%.9g,\"seconds\":%.3f,\"train_images_per_s\":%.2f,\"best\":%s,\"val_top5\":%.6f}\n",
            e->epoch, e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->lr, e->seconds,
            e->train_images_per_s, e->best ? "true" : "false", e->val_top5);
    if (fflush(r->log_csv) != 0 || fflush(r->log_jsonl) != 0)
        return crn_fail(err, CRN_EIO, "writing the epoch log in %s: %s", r->path, strerror(errno));
    return CRN_OK;
}

int crn_run_dir_log_step(crn_run_dir *r, long long step, int epoch, double loss, double lr, crn_error *err)
{
    fprintf(r->steps_csv, "%lld,%d,%.7f,%.9g\n", step, epoch, loss, lr);
    if (fflush(r->steps_csv) != 0)
        return crn_fail(err, CRN_EIO, "writing steps.csv in %s: %s", r->path, strerror(errno));
    return CRN_OK;
}

/* The files a run writes into its folder. */
static const char *const RUN_FILES[] = {
    "config.json",    "last.safetensors", "best.safetensors", "log.csv",        "log.jsonl",
    "steps.csv",      "metrics.json",     "per_class.csv",    "confusion.csv",  "predictions.csv",
    "splits.json",    "report.html",      "curves_accuracy.svg", "curves_loss.svg", "per_class_precision.svg",
    "per_class_recall.svg", "per_class_f1.svg", "train_distribution.svg", "confusion.svg",
};
enum { RUN_FILE_COUNT = sizeof RUN_FILES / sizeof RUN_FILES[0], RUN_MARKERS = 7 }; /* the first 7 mark a run */

bool crn_run_dir_holds_run(const char *path, char *which, size_t size)
{
    for (int i = 0; i < RUN_MARKERS; i++) {
        char p[CRN_PATH_MAX];
        if (crn_path_fmt(p, sizeof p, NULL, "%s/%s", path, RUN_FILES[i]) == CRN_OK && access(p, F_OK) == 0) {
            if (which) snprintf(which, size, "%s", RUN_FILES[i]);
            return true;
        }
    }
    return false;
}

int crn_run_dir_claim(const char *path, bool overwrite, crn_error *err)
{
    char which[64];
    if (!crn_run_dir_holds_run(path, which, sizeof which)) return CRN_OK;
    if (!overwrite)
        return crn_fail(err, CRN_EEXIST, "%s already holds a run (%s)", path, which);
    for (int i = 0; i < RUN_FILE_COUNT; i++) {
        char p[CRN_PATH_MAX];
        int rc = crn_path_fmt(p, sizeof p, err, "%s/%s", path, RUN_FILES[i]);
        if (rc) return rc;
        if (unlink(p) != 0 && errno != ENOENT)
            return crn_fail(err, CRN_EIO, "--overwrite: cannot remove %s: %s", p, strerror(errno));
    }
    return CRN_OK;
}
