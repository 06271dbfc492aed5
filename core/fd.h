/* core/fd.h: a shared, reference-counted file descriptor, the C form of
 * the original's Arc<OwnedFd> (docs/requests.md §4.9).
 *
 * Owns: struct iouw_fd, one open fd and the count of references to it.
 *
 * Whoever creates an iouw_fd holds one reference; iouw_fd_get() adds one,
 * iouw_fd_put() gives one back, and the put that drops the count to zero
 * closes the fd and frees the object: the fd is closed exactly once, by
 * whichever holder lets go last, on whatever thread that is. A request
 * built on an iouw_fd (core/request.h) takes its own reference and puts it
 * when it ends, so a caller may put its reference at any time (with
 * requests still in flight the fd stays open until the last one ends).
 *
 * Invariants (panic): a get or put on an object whose count is already zero
 * ("fd reference used after its last put": the object may already be freed,
 * so this catches what it can; ASan catches the rest), and a count that
 * would wrap ("fd reference count overflow"). The fd number never changes
 * while a reference is held. Thread-safe: the count is atomic; nothing else
 * is written after creation.
 */
#ifndef IOUW_FD_H
#define IOUW_FD_H

struct iouw_fd;

/* Take ownership of @fd (>= 0) in a new object holding one reference.
 * Returns 0 and sets *ret_fd, or -EINVAL (fd < 0, ret_fd NULL) or -ENOMEM;
 * on error @fd is NOT taken (the caller still owns it and must close it). */
int iouw_fd_adopt(int fd, struct iouw_fd **ret_fd);

/* Duplicate @fd (F_DUPFD_CLOEXEC) into a new object holding one reference;
 * the caller keeps its own @fd. Returns 0 and sets *ret_fd, -EINVAL (fd < 0,
 * ret_fd NULL), the fcntl error (-EBADF, -EMFILE, ...) or -ENOMEM, with
 * nothing left open on error. */
int iouw_fd_dup(int fd, struct iouw_fd **ret_fd);

/* Add a reference to @f (which the caller holds one on); returns @f. */
struct iouw_fd *iouw_fd_get(struct iouw_fd *f);

/* Give one reference back; the last one closes the fd and frees @f. NULL is
 * a no-op. */
void iouw_fd_put(struct iouw_fd *f);

/* The descriptor number (valid while a reference is held). */
int iouw_fd_num(const struct iouw_fd *f);

/* The current reference count (tests and observation; racy by nature when
 * other threads hold references). */
unsigned iouw_fd_refs(const struct iouw_fd *f);

/* TEST-ONLY: overwrite the count, so the misuse invariants can be reached
 * on a live object (a real use after the last put is a use after free).
 * Never call it outside tests. */
void iouw_fd_test_set_refs(struct iouw_fd *f, unsigned refs);

#endif /* IOUW_FD_H */
