#define _GNU_SOURCE
#include "CUDPBatch.h"
#include <pthread.h>
#include <string.h>

// Names the calling thread for top -H, ps -L and /proc/<pid>/task/<tid>/comm; the kernel keeps
// 15 bytes and a NUL.
void giaoban_set_thread_name(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof(short_name) - 1);
    short_name[sizeof(short_name) - 1] = 0;
    pthread_setname_np(pthread_self(), short_name);
}
