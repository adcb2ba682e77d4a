// Interposes the allocator entry points with wrappers that count per thread and then
// call glibc's implementation (__libc_*). Per-thread counting keeps the figure exact
// while other threads (test runner, loggers) allocate freely.
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include "CAllocCounter.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static __thread uint64_t thread_allocations;
static int active;

uint64_t giaoban_thread_allocations(void) { return thread_allocations; }
int giaoban_alloc_counter_active(void) { return active; }

void *malloc(size_t size) { active = 1; thread_allocations++; return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { thread_allocations++; return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { thread_allocations++; return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }

void *memalign(size_t alignment, size_t size) { thread_allocations++; return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { thread_allocations++; return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    thread_allocations++;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}
