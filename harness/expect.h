/* harness/expect.h: the runtime checks behind the scenario expectations
 * that look past the loop's own state (harness/README.md, "Language"):
 * byte comparison with the first differing offset (`expect sqe ... data=`),
 * the fd ledger (`expect fd r1 closed`), the outstanding-resources census
 * (`expect outstanding none`), the record of the loop's waits on the
 * scripted kernel (`expect wait`, `expect clock`) and the words the
 * timeline uses when a blocking turn did not block.
 *
 * Owns:
 *   - struct iouw_fd_ledger: for each request the harness creates, the dup
 *     its constructor made (core/request.h: "the dup is closed exactly
 *     once"), identified by number AND (st_dev, st_ino), and what became of
 *     it. Once the request has ended and the dup is found closed, the
 *     ledger occupies that fd number with a placeholder (a dup of one pipe
 *     end the ledger owns); a later close of the number by anyone (a second
 *     close of the dup) removes the placeholder, which the ledger notices.
 *     The ledger also holds the set of fds open when the run started (from
 *     /proc/self/fd), so fds that were opened during the run and never
 *     closed can be found and named.
 *   - struct iouw_wait_rec: what one submit_and_wait call of the loop asked
 *     the backend for (blocking or not, its bound) and what it did to the
 *     virtual clock.
 * Nothing here touches core/ state: the ledger works on fd numbers with
 * fcntl(F_GETFD) and fstat(), the census on counts the runner hands in.
 *
 * Invariants:
 *   - Every fd the ledger opens (its pipe end, every placeholder) is closed
 *     by iouw_fdl_free(), and only while fstat() still shows the ledger's
 *     own pipe there (a placeholder someone else closed, whose number was
 *     then reused, is left alone).
 *   - An entry moves TRACKED -> ENDED -> CLOSED (placeholder set) or
 *     TRACKED -> ENDED -> REUSED (closed, but its number was taken before
 *     the placeholder could be set); never backwards.
 *   - No global state; not thread-safe (the runner's thread only).
 */
#ifndef IOUW_EXPECT_H
#define IOUW_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Compare @want (@wlen bytes) with @got (@glen bytes). true when equal;
 * otherwise writes to @msg one line naming both lengths, the offset of the
 * first differing byte (or where the shorter one ends) and a few escaped
 * bytes of each around it. */
bool iouw_expect_bytes(const void *want, size_t wlen, const void *got, size_t glen, char *msg,
                       size_t msglen);

struct io_uring_sqe;

/* The bytes a SEND, WRITE or WRITEV SQE points at, all of them, copied
 * into *@data (malloc'd, NULL when there are none; the caller frees it)
 * while the SQE's memory is certainly alive: *@len bytes, *@total (what the
 * SQE asks for; for RECV/READ the length asked), *@iovs (WRITEV: the iovec
 * count). 0 or -ENOMEM. */
int iouw_expect_sqe_bytes(const struct io_uring_sqe *sqe, char **data, size_t *len, size_t *total,
                          unsigned *iovs);

/* ---- fd ledger ------------------------------------------------------------ */

enum iouw_fdl_state {
	IOUW_FDL_TRACKED = 0, /* request alive: its dup must be open */
	IOUW_FDL_ENDED,       /* request ended; dup not yet seen closed */
	IOUW_FDL_CLOSED,      /* dup closed; placeholder at its number */
	IOUW_FDL_REUSED,      /* dup closed; number reused before the placeholder */
};

struct iouw_fdl_entry {
	int fd;          /* the request's dup, as its SQEs name it */
	dev_t dev;       /* what it referred to */
	ino_t ino;
	enum iouw_fdl_state state;
	int ended_line;  /* script line of the step in which the request ended */
	bool detached;   /* abandoned with its op in flight: released at loop free */
};

struct iouw_fd_ledger {
	struct iouw_fdl_entry *e;
	size_t n, cap;
	int holder;           /* the ledger's pipe end placeholders are dups of */
	dev_t holder_dev;
	ino_t holder_ino;
	int *start_fds;       /* open at the start of the run, sorted */
	size_t nstart;
};

/* Open the ledger (its pipe) and record the fds open now. 0 or -errno. */
int iouw_fdl_init(struct iouw_fd_ledger *l);
/* Close what the ledger opened (see Invariants) and free it. */
void iouw_fdl_free(struct iouw_fd_ledger *l);
/* Track @fd (a request's dup) as entry @idx (the runner's request index;
 * entries grow to hold it). 0, -ENOMEM, or -errno of fstat. */
int iouw_fdl_track(struct iouw_fd_ledger *l, size_t idx, int fd);
/* The request of entry @idx ended at @line (its fd may still be open until
 * the step that ended it is over); @detached: abandoned with its op in
 * flight, so the loop keeps it until it is freed. */
void iouw_fdl_ended(struct iouw_fd_ledger *l, size_t idx, int line, bool detached);
/* After each step: every ENDED entry whose dup is now closed gets its
 * placeholder. -errno when dup3 fails for a reason other than the number
 * being taken (out of fds). */
int iouw_fdl_settle(struct iouw_fd_ledger *l);
/* `expect fd NAME open|closed` for entry @idx. true when it holds;
 * otherwise @msg says what was found. */
bool iouw_fdl_check(const struct iouw_fd_ledger *l, size_t idx, bool want_closed, char *msg,
                    size_t msglen);
/* Whether @fd is a placeholder or the ledger's own pipe. */
bool iouw_fdl_owns(const struct iouw_fd_ledger *l, int fd);
/* Whether @fd was already open when the run started. */
bool iouw_fdl_preexisting(const struct iouw_fd_ledger *l, int fd);
/* Entry index whose dup is @fd (by number and inode) and still open, or -1. */
ssize_t iouw_fdl_find(const struct iouw_fd_ledger *l, int fd);

/* ---- outstanding census ------------------------------------------------------ */

/* What `expect outstanding` compares; the runner fills the counts and a
 * human-readable list of who each one is. */
struct iouw_outstanding {
	uint64_t fds;      /* opened during the run, still open, not the script's */
	uint64_t requests; /* created and not yet ended (graveyard included) */
	uint64_t handles;  /* caller handles held, not dropped, without a result */
	uint64_t buffers;  /* request buffers not yet back with the caller or freed */
	char detail[768];
};

/* Count the fds opened during the run and still open that are neither in
 * @skip (the script's own fds, @nskip of them) nor the ledger's; each is
 * named in @o->detail (a request's dup by @names[idx] when tracked). Adds to
 * @o->fds. 0, or -errno when /proc/self/fd cannot be read. */
int iouw_fdl_census(const struct iouw_fd_ledger *l, const int *skip, size_t nskip,
                    const char *const *names, size_t nnames, struct iouw_outstanding *o);

/* Append "what" to @o->detail (joined by "; ", cut with "..." when full). */
void iouw_outstanding_note(struct iouw_outstanding *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- waits ------------------------------------------------------------------- */

#define IOUW_WAIT_NO_BOUND UINT64_MAX

struct iouw_wait_rec {
	bool valid;        /* at least one wait happened */
	unsigned wait_nr;  /* what the loop asked for: 0 = do not block */
	uint64_t bound_ns; /* the relative bound it passed, or IOUW_WAIT_NO_BOUND */
	uint64_t moved_ns; /* how far the wait moved the virtual clock */
	int res;           /* what the backend returned to the loop */
	int line;          /* script line of the step that made the wait */
	/* Why it returned: 'n' did not block (wait_nr 0), 'c' a named CQE was
	 * ready, 'd' a deferred CQE answered it, 't' timed out at the bound,
	 * 'f' scripted failure (wait_fail), 'x' would block forever, 'e' another
	 * error (wait limit, a deferred CQE that failed, a submit error). */
	char how;
};

/* Format @ns as the scenario language writes durations ("5ms", "1500us",
 * "0"), into @buf. */
const char *iouw_expect_fmt_dur(uint64_t ns, char *buf, size_t len);

/* Words for the timeline: what @w did and, when it did not block, why
 * (@why_not: the runner's reading of the loop's views, or NULL). */
void iouw_wait_describe(const struct iouw_wait_rec *w, const char *why_not, char *buf,
                        size_t len);

/* Compare @w with `expect wait` keys: @blocked (-1: not given), @bound_ns
 * (IOUW_WAIT_NO_BOUND meaning "none"; @has_bound false: not given),
 * @moved_ns (@has_moved). true when all given facts hold. */
bool iouw_wait_check(const struct iouw_wait_rec *w, int blocked, bool has_bound, uint64_t bound_ns,
                     bool has_moved, uint64_t moved_ns, char *msg, size_t msglen);

#endif /* IOUW_EXPECT_H */
