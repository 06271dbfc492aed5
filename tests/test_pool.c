/* tests/test_pool.c: the block pool (core/pool.h) and request blocks drawn
 * from it (iouw_request_pool_new, the *_fd constructors' pool argument,
 * docs/requests.md §4.10).
 *
 * - a block given back is the next one taken (no new allocation); blocks
 *   out and cached are counted; at most max_cached are kept; a block with
 *   its header starts a cache line;
 * - the owner thread (the one that made the pool) gives back onto its
 *   private list, never the shared one; blocks given back on other threads
 *   go onto the shared list and the owner takes them in when its private
 *   list runs dry; max_cached holds on both paths;
 * - the owner may free the pool while blocks are out: they come back
 *   later, on the owner or other threads, and the last one frees the pool
 *   (ASan and the leak checker see the rest);
 * - a take or a free on a thread other than the owner panics, naming the
 *   invariant, and so do a second free and a take after the free;
 * - blocks given back from several threads at once while the owner takes:
 *   none lost, none handed out twice; the owner freeing the pool while
 *   other threads give blocks back: each freed once, the pool too;
 * - a request's block (request + handle) goes back to the pool only when
 *   both the request has ended and the caller dropped the handle, in
 *   either order; a pool of the wrong block size is -EINVAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd.h"
#include "handle.h"
#include "pool.h"
#include "request.h"
#include "support.h"

START_TEST(pool_reuses_given_blocks)
{
	struct iouw_pool *p;
	void *a, *b, *c;

	ck_assert_int_eq(iouw_pool_new(0, 4, &p), -EINVAL);
	ck_assert_int_eq(iouw_pool_new(64, 4, NULL), -EINVAL);
	ck_assert_int_eq(iouw_pool_new(64, 4, &p), 0);
	ck_assert_uint_eq(iouw_pool_block_size(p), 64);
	a = iouw_pool_take(p);
	b = iouw_pool_take(p);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_eq((uintptr_t)a % _Alignof(max_align_t), 0);
	/* The pool's header (padded to max_align_t's size) and the block
	 * start a 64-byte cache line. */
	ck_assert_uint_eq(((uintptr_t)a - sizeof(max_align_t)) % 64, 0);
	ck_assert_uint_eq(((uintptr_t)b - sizeof(max_align_t)) % 64, 0);
	memset(a, 0xaa, 64); /* the whole block is usable */
	memset(b, 0xbb, 64);
	ck_assert_uint_eq(iouw_pool_out(p), 2);
	iouw_pool_give(a);
	ck_assert_uint_eq(iouw_pool_out(p), 1);
	ck_assert_uint_eq(iouw_pool_cached(p), 1);
	ck_assert_uint_eq(iouw_pool_shared(p), 0); /* the owner's own list */
	c = iouw_pool_take(p);
	ck_assert_ptr_eq(c, a); /* reused */
	ck_assert_uint_eq(iouw_pool_cached(p), 0);
	iouw_pool_give(b);
	iouw_pool_give(c);
	ck_assert_uint_eq(iouw_pool_out(p), 0);
	iouw_pool_free(p);
}
END_TEST

START_TEST(pool_keeps_at_most_max_cached)
{
	struct iouw_pool *p;
	void *blk[10];

	ck_assert_int_eq(iouw_pool_new(32, 3, &p), 0);
	for (unsigned i = 0; i < 10; i++)
		blk[i] = iouw_pool_take(p);
	for (unsigned i = 0; i < 10; i++)
		iouw_pool_give(blk[i]);
	/* On the owner the blocks beyond max_cached are freed at once. */
	ck_assert_uint_eq(iouw_pool_out(p), 0);
	ck_assert_uint_eq(iouw_pool_cached(p), 3);
	ck_assert_uint_eq(iouw_pool_shared(p), 0);
	blk[0] = iouw_pool_take(p);
	ck_assert_uint_eq(iouw_pool_cached(p), 2);
	iouw_pool_give(blk[0]);
	ck_assert_uint_eq(iouw_pool_cached(p), 3);
	iouw_pool_free(p);
}
END_TEST

struct give_arg {
	void **blocks;
	unsigned n;
};

static void *give_all(void *arg)
{
	struct give_arg *g = arg;

	for (unsigned i = 0; i < g->n; i++)
		iouw_pool_give(g->blocks[i]);
	return NULL;
}

/* Give @n blocks back on a thread of their own, and wait for it. */
static void give_on_other_thread(void **blocks, unsigned n)
{
	struct give_arg g = { blocks, n };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, give_all, &g), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
}

/* Blocks given back on another thread go onto the shared list; the owner
 * takes them in (at most max_cached, the rest freed) once its private
 * list is empty, and only then. */
START_TEST(pool_other_thread_gives_come_back)
{
	struct iouw_pool *p;
	void *blk[10], *mine, *again;

	ck_assert_int_eq(iouw_pool_new(32, 3, &p), 0);
	for (unsigned i = 0; i < 10; i++)
		blk[i] = iouw_pool_take(p);
	mine = iouw_pool_take(p);
	iouw_pool_give(mine); /* one on the private list */
	give_on_other_thread(blk, 10);
	ck_assert_uint_eq(iouw_pool_shared(p), 10);
	ck_assert_uint_eq(iouw_pool_cached(p), 11);
	ck_assert_uint_eq(iouw_pool_out(p), 0);
	/* The private list first; the shared one is left alone. */
	again = iouw_pool_take(p);
	ck_assert_ptr_eq(again, mine);
	ck_assert_uint_eq(iouw_pool_shared(p), 10);
	/* Now the private list is empty: all ten are taken in, three kept
	 * (the last given, on top of the shared list, is the next one out). */
	blk[0] = iouw_pool_take(p);
	ck_assert_ptr_eq(blk[0], blk[9]);
	ck_assert_uint_eq(iouw_pool_shared(p), 0);
	ck_assert_uint_eq(iouw_pool_cached(p), 2);
	ck_assert_uint_eq(iouw_pool_out(p), 2);
	blk[1] = again;
	give_on_other_thread(blk, 2);
	ck_assert_uint_eq(iouw_pool_shared(p), 2);
	ck_assert_uint_eq(iouw_pool_out(p), 0);
	iouw_pool_free(p); /* frees both lists (the leak checker sees) */
}
END_TEST

START_TEST(pool_freed_with_blocks_out)
{
	struct iouw_pool *p;
	void *a, *b;

	ck_assert_int_eq(iouw_pool_new(16, 8, &p), 0);
	a = iouw_pool_take(p);
	b = iouw_pool_take(p);
	iouw_pool_give(iouw_pool_take(p)); /* one cached */
	iouw_pool_free(p);                 /* the owner goes first */
	iouw_pool_give(a);
	iouw_pool_give(b);                 /* the last one frees the pool */
}
END_TEST

/* After iouw_pool_free() a block given back on the owner thread is freed,
 * not cached on the private list of a pool nobody frees, and so is one
 * given back on another thread; whichever comes last frees the pool (the
 * leak checker sees a block or the pool left behind). */
START_TEST(pool_given_back_after_free_on_any_thread)
{
	for (unsigned last_on_owner = 0; last_on_owner < 2; last_on_owner++) {
		struct iouw_pool *p;
		void *a, *b;

		ck_assert_int_eq(iouw_pool_new(40, 8, &p), 0);
		a = iouw_pool_take(p);
		b = iouw_pool_take(p);
		iouw_pool_free(p);
		if (last_on_owner) {
			give_on_other_thread(&a, 1);
			iouw_pool_give(b); /* frees the pool */
		} else {
			iouw_pool_give(a);
			give_on_other_thread(&b, 1); /* frees the pool */
		}
	}
}
END_TEST

enum { GIVERS = 3, PER_GIVER = 2000 };
#define IN_USE 0x5a5a5a5au

START_TEST(pool_given_back_on_many_threads)
{
	static void *blocks[GIVERS][PER_GIVER];
	struct give_arg args[GIVERS];
	pthread_t t[GIVERS];
	struct iouw_pool *p;

	ck_assert_int_eq(iouw_pool_new(sizeof(unsigned), 1u << 20, &p), 0);
	for (unsigned g = 0; g < GIVERS; g++) {
		for (unsigned i = 0; i < PER_GIVER; i++) {
			blocks[g][i] = iouw_pool_take(p);
			ck_assert_ptr_nonnull(blocks[g][i]);
			*(unsigned *)blocks[g][i] = 0;
		}
		args[g] = (struct give_arg){ blocks[g], PER_GIVER };
	}
	for (unsigned g = 0; g < GIVERS; g++)
		ck_assert_int_eq(pthread_create(&t[g], NULL, give_all, &args[g]), 0);
	/* Meanwhile the owner takes and marks: a block handed out twice
	 * would carry the mark already (a new block holds whatever malloc
	 * gave: 0 here, 0xbe.. under ASan, never the mark). */
	for (unsigned round = 0; round < 200; round++) {
		void *mine[16];

		for (unsigned i = 0; i < 16; i++) {
			mine[i] = iouw_pool_take(p);
			ck_assert_ptr_nonnull(mine[i]);
			ck_assert_uint_ne(*(unsigned *)mine[i], IN_USE);
			*(unsigned *)mine[i] = IN_USE;
		}
		for (unsigned i = 0; i < 16; i++) {
			*(unsigned *)mine[i] = 0;
			iouw_pool_give(mine[i]);
		}
	}
	for (unsigned g = 0; g < GIVERS; g++)
		ck_assert_int_eq(pthread_join(t[g], NULL), 0);
	ck_assert_uint_eq(iouw_pool_out(p), 0);
	ck_assert_uint_le(iouw_pool_cached(p), GIVERS * PER_GIVER + 16);
	iouw_pool_free(p);
}
END_TEST

/* The owner frees the pool while other threads are giving blocks back:
 * every block is freed exactly once and so is the pool (ASan, leak
 * checker), whichever side comes last. */
START_TEST(pool_freed_while_blocks_come_back)
{
	static void *blocks[GIVERS][PER_GIVER];

	for (unsigned round = 0; round < 20; round++) {
		struct give_arg args[GIVERS];
		pthread_t t[GIVERS];
		struct iouw_pool *p;

		ck_assert_int_eq(iouw_pool_new(24, 64, &p), 0);
		for (unsigned g = 0; g < GIVERS; g++) {
			for (unsigned i = 0; i < PER_GIVER / 10; i++)
				blocks[g][i] = iouw_pool_take(p);
			args[g] = (struct give_arg){ blocks[g], PER_GIVER / 10 };
		}
		for (unsigned g = 0; g < GIVERS; g++)
			ck_assert_int_eq(pthread_create(&t[g], NULL, give_all, &args[g]), 0);
		if (round % 2)
			usleep(100);
		iouw_pool_free(p);
		for (unsigned g = 0; g < GIVERS; g++)
			ck_assert_int_eq(pthread_join(t[g], NULL), 0);
	}
}
END_TEST

static void *take_one(void *arg)
{
	return iouw_pool_take(arg);
}

static void *free_pool(void *arg)
{
	iouw_pool_free(arg);
	return NULL;
}

/* Run @fn(@p) on a thread of its own and wait for it. */
static void on_other_thread(void *(*fn)(void *), struct iouw_pool *p)
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, p) == 0)
		pthread_join(t, NULL);
}

/* The misuses below, each in a forked child (iouw_test_aborts_with). */
static void take_on_other_thread(void *arg)
{
	struct iouw_pool *p;

	(void)arg;
	if (iouw_pool_new(16, 4, &p) == 0)
		on_other_thread(take_one, p);
}

static void free_on_other_thread(void *arg)
{
	struct iouw_pool *p;

	(void)arg;
	if (iouw_pool_new(16, 4, &p) == 0)
		on_other_thread(free_pool, p);
}

/* A block out keeps the pool there after the free. */
static void free_twice(void *arg)
{
	struct iouw_pool *p;

	(void)arg;
	if (iouw_pool_new(16, 4, &p) == 0 && iouw_pool_take(p)) {
		iouw_pool_free(p);
		iouw_pool_free(p);
	}
}

static void take_after_free(void *arg)
{
	struct iouw_pool *p;

	(void)arg;
	if (iouw_pool_new(16, 4, &p) == 0 && iouw_pool_take(p)) {
		iouw_pool_free(p);
		(void)iouw_pool_take(p);
	}
}

/* The pool belongs to the thread that made it (its private list is the
 * owner's, unlocked): a take or a free on another thread panics, and so
 * do a second free and a take after the free (while a block out keeps the
 * pool there), each naming its invariant. */
START_TEST(pool_misuse_panics)
{
	static const struct {
		const char *name;
		void (*fn)(void *arg);
	} cases[] = {
		{ "pool taken from a thread other than its owner", take_on_other_thread },
		{ "pool freed from a thread other than its owner", free_on_other_thread },
		{ "pool freed twice", free_twice },
		{ "pool taken after it was freed", take_after_free },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(iouw_test_aborts_with(cases[i].name, cases[i].fn, NULL),
		              "no panic '%s'", cases[i].name);
}
END_TEST

START_TEST(request_block_back_after_both_sides)
{
	int sv[2];
	struct iouw_fd *f;
	struct iouw_pool *p, *wrong;
	static const char bytes[8] = "01234567";
	struct iovec iov = { (void *)bytes, sizeof(bytes) };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(iouw_fd_dup(sv[0], &f), 0);
	ck_assert_int_eq(iouw_request_pool_new(8, &p), 0);
	for (unsigned order = 0; order < 2; order++) {
		struct iouw_request *req;
		struct iouw_handle *h;
		struct iouw_result res;

		ck_assert_int_eq(iouw_request_send_fd(p, f, &iov, 1, IOUW_NO_DEADLINE, &req, &h), 0);
		ck_assert_uint_eq(iouw_pool_out(p), 1);
		if (order == 0) { /* the request ends first, then the caller lets go */
			req->ops->finish(req, IOUW_FINISH_TIMEOUT);
			ck_assert_uint_eq(iouw_pool_out(p), 1);
			ck_assert_int_eq(iouw_handle_try(h, &res), 0);
			ck_assert_int_eq(res.status, IOUW_RESULT_TIMEOUT);
			iouw_handle_drop(h);
		} else { /* the caller walks away first */
			iouw_handle_drop(h);
			ck_assert_uint_eq(iouw_pool_out(p), 1);
			req->ops->release(req);
		}
		ck_assert_uint_eq(iouw_pool_out(p), 0);
		ck_assert_uint_eq(iouw_pool_cached(p), 1);
	}
	/* A pool of some other block size is not a request pool. */
	ck_assert_int_eq(iouw_pool_new(8, 8, &wrong), 0);
	{
		struct iouw_request *req = NULL;
		struct iouw_handle *h = NULL;

		ck_assert_int_eq(iouw_request_sync_fd(wrong, f, &req, &h), -EINVAL);
		ck_assert_ptr_null(req);
		ck_assert_uint_eq(iouw_fd_refs(f), 1);
	}
	iouw_pool_free(wrong);
	iouw_pool_free(p);
	iouw_fd_put(f);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(request_blocks_outlive_the_pool)
{
	int sv[2];
	struct iouw_fd *f;
	struct iouw_pool *p;
	struct iouw_request *req[4];
	struct iouw_handle *h[4];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(iouw_fd_dup(sv[0], &f), 0);
	ck_assert_int_eq(iouw_request_pool_new(8, &p), 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(iouw_request_sync_fd(p, f, &req[i], &h[i]), 0);
	iouw_pool_free(p); /* requests still in flight */
	iouw_fd_put(f);    /* and the caller's fd reference gone too */
	for (unsigned i = 0; i < 4; i++) {
		iouw_handle_drop(h[i]);
		req[i]->ops->finish(req[i], IOUW_FINISH_COMPLETE);
	}
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	TCase *req = tcase_create("request");

	iouw_test_add_fd_fixture(tc);
	iouw_test_add_fd_fixture(req);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pool_reuses_given_blocks);
	tcase_add_test(tc, pool_keeps_at_most_max_cached);
	tcase_add_test(tc, pool_other_thread_gives_come_back);
	tcase_add_test(tc, pool_freed_with_blocks_out);
	tcase_add_test(tc, pool_given_back_after_free_on_any_thread);
	tcase_add_test(tc, pool_given_back_on_many_threads);
	tcase_add_test(tc, pool_freed_while_blocks_come_back);
	tcase_add_test(tc, pool_misuse_panics);
	tcase_add_test(req, request_block_back_after_both_sides);
	tcase_add_test(req, request_blocks_outlive_the_pool);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, req);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(pool_suite());
}
