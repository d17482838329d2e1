/* The temporary file the file-path harnesses write each input to. It goes to
 * /dev/shm where that exists: on a disk mounted with `discard` (ext4 here)
 * every O_TRUNC of the previous input waits for a synchronous block discard,
 * which held fuzz_mat/safetensors/checkpoint/classnames at ~350 exec/s. The
 * file is written with write(2) (no stdio buffer) and read back by the
 * engine's own path-taking reader, as before. */
#ifndef CLRESNET_FUZZ_TMP_H
#define CLRESNET_FUZZ_TMP_H
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_tmp_path[128];

static void fuzz_tmp_remove(void) { unlink(fuzz_tmp_path); }

/* Writes data to the harness's file (named after the pid and name, which
 * keeps the extension the engine's file would have) and returns its path, or
 * NULL when it cannot be written. The file is removed at exit. */
static const char *fuzz_tmp_write(const char *name, const uint8_t *data, size_t size)
{
    char *path = fuzz_tmp_path;
    if (!path[0]) {
        struct stat st;
        const char *dir = (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
                              ? "/dev/shm"
                              : "/tmp";
        snprintf(path, sizeof fuzz_tmp_path, "%s/clresnet-fuzz-%d-%s", dir, (int)getpid(), name);
        atexit(fuzz_tmp_remove);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return NULL;
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0) {
            close(fd);
            return NULL;
        }
        done += (size_t)k;
    }
    close(fd);
    return path;
}
#endif
