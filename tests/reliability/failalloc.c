/* tests/reliability/failalloc.c: an LD_PRELOAD shim that makes allocations
 * fail on demand (the reliability suite's "failing malloc").
 *
 *   IOUW_FAILALLOC_NTH=N   the Nth allocation (1-based, counted over malloc,
 *                          calloc, realloc, reallocarray, posix_memalign,
 *                          aligned_alloc, memalign) returns NULL / ENOMEM,
 *                          the others succeed
 *   IOUW_FAILALLOC_FROM=N  every allocation from the Nth on fails
 *   IOUW_FAILALLOC_MARK=P  when an allocation was made to fail, create the
 *                          file P (so a sweep knows when N went past the
 *                          last allocation)
 *
 * The count is per process and a forked child inherits it, so a sweep over
 * N reaches the allocations of the children too. Real allocations go to
 * glibc's __libc_* entry points (no dlsym, which allocates). free() is left
 * to glibc. Cannot be combined with ASan (which owns malloc): the suite
 * skips these cases in a sanitizer build.
 * Owns: the counter and the two limits, read once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t a, size_t n);

/* Exported so -Wmissing-prototypes is satisfied for the interposers. */
void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void *reallocarray(void *p, size_t n, size_t m);
int posix_memalign(void **ret, size_t a, size_t n);
void *aligned_alloc(size_t a, size_t n);
void *memalign(size_t a, size_t n);

static unsigned long count, nth, from;
static const char *mark;
static int ready;

static unsigned long env_ul(const char *name)
{
	const char *v = getenv(name);
	unsigned long x = 0;

	if (!v)
		return 0;
	for (; *v >= '0' && *v <= '9'; v++)
		x = x * 10 + (unsigned long)(*v - '0');
	return x;
}

static int should_fail(void)
{
	if (!ready) {
		ready = 1;
		nth = env_ul("IOUW_FAILALLOC_NTH");
		from = env_ul("IOUW_FAILALLOC_FROM");
		mark = getenv("IOUW_FAILALLOC_MARK");
	}
	count++;
	if ((nth && count == nth) || (from && count >= from)) {
		if (mark) {
			int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
		}
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *malloc(size_t n)
{
	return should_fail() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	return should_fail() ? NULL : __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __libc_realloc(p, n);
}

void *reallocarray(void *p, size_t n, size_t m)
{
	if (m && n > (size_t)-1 / m) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * m);
}

void *memalign(size_t a, size_t n)
{
	return should_fail() ? NULL : __libc_memalign(a, n);
}

void *aligned_alloc(size_t a, size_t n)
{
	return memalign(a, n);
}

int posix_memalign(void **ret, size_t a, size_t n)
{
	void *p = memalign(a, n);

	if (!p)
		return ENOMEM;
	*ret = p;
	return 0;
}
