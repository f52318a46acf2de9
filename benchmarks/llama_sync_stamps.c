/* Per-token timestamps from an unmodified llama-bench (issue 17's diagnosis, docs/PERFORMANCE.md).
 *
 * Wraps llama_synchronize(): after the real call, records CLOCK_MONOTONIC in ns; at exit,
 * writes one stamp per line to $SYNC_OUT. In llama-bench's tg test each token ends with one
 * llama_synchronize, so for `-p P -n N -r R` the last R*N stamps are the timed tokens.
 *
 *   gcc -O2 -shared -fPIC -o libsyncstamp.so benchmarks/llama_sync_stamps.c -ldl
 *   SYNC_OUT=stamps.txt LD_PRELOAD=$PWD/libsyncstamp.so llama-bench -m M.gguf -p 512 -n 128 -r 3
 *
 * (Python's ctypes looks symbols up in libllama's own handle, so the wrapper does not see
 * venvsel's worker: time that side with time.monotonic_ns() after each sync.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_STAMPS 400000
static unsigned long long stamps[MAX_STAMPS];
static int n_stamps;

void llama_synchronize(void * ctx) {
    static void (*real)(void *) = 0;
    if (!real) {
        real = (void (*)(void *)) dlsym(RTLD_NEXT, "llama_synchronize");
    }
    real(ctx);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (n_stamps < MAX_STAMPS) {
        stamps[n_stamps++] = (unsigned long long) t.tv_sec * 1000000000ull + t.tv_nsec;
    }
}

__attribute__((destructor)) static void dump(void) {
    const char * path = getenv("SYNC_OUT");
    if (!path) {
        return;
    }
    FILE * f = fopen(path, "w");
    if (!f) {
        return;
    }
    for (int i = 0; i < n_stamps; i++) {
        fprintf(f, "%llu\n", stamps[i]);
    }
    fclose(f);
}
