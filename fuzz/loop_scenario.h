/* fuzz/loop_scenario.h: turn a loop/ring fuzz history into a harness
 * scenario (harness/README.md) that replays it with injected CQEs and states
 * the reference model's expectations (`iouwait-explain`, scripts/explain).
 *
 * Owns: the emitter state (one history at a time, process-wide: the driver
 * in fuzz/loop_run.c is not reentrant either) and the text it builds. The
 * driver calls the hooks through its iouw_lr_scenario pointer (NULL in the
 * fuzz targets, which then pay one branch per hook and need not link this).
 *
 * Translation (every line in history order):
 *   header            -> `modes inject`, `config ring= sq= tick=1ms
 *                        max_timeout=64ms shutdown= prearm=0` (the fuzz
 *                        loop arms its wake poll at its first fill)
 *   request i         -> its own fd (socketpair for send/recv, an unlinked
 *                        temp file for the others) and `send|recv|... ri`
 *                        with every field; deadlines relative (+/-)
 *   submit            -> `submit ri` (a refused request: a comment)
 *   drop/clock/turn/phase -> `drop ri` / `clock +Nns` / `turn` / `reap|advance|fill|submit`
 *   kernel answer     -> `cqe ri op|cancel res=R` (a positive recv first
 *                        gets `peer write` of exactly R bytes)
 *   close, run        -> `close`, the drain's answers as `cqe ... at_wait=1`
 *                        (released one per blocking wait, as the fuzz
 *                        kernel answers them), `run`
 *   reference         -> `expect admit`, `expect sqe` (the model's next SQE),
 *                        `expect result` (status, value, err, buffer length
 *                        and bytes) when the reference ends a request (a
 *                        recorded result: right after the turn/phase that
 *                        reaped it), and `expect result ri pending` after a
 *                        reaped CQE that ended nothing.
 * A history that aborts (oracle mismatch or broken invariant on buggy code)
 * still yields the scenario up to and including the departing step.
 */
#ifndef IOUW_FUZZ_LOOP_SCENARIO_H
#define IOUW_FUZZ_LOOP_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "request_model.h"
#include "request_spec.h"

/* Start emitting into memory; on SIGABRT what was built is written to @fd
 * and the process exits with @abort_status (@abort_status + 1 when the abort
 * came inside the final drain: the fixed loop would submit SQEs the
 * truncated history never answers, so only the buggy build replays it). */
void iouw_ls_start(int fd, int abort_status);
/* Write the scenario to @out and stop; 0 or -EIO. */
int iouw_ls_finish(FILE *out);

/* The driver's hooks, in history order. */
struct iouw_ls_hooks {
	void (*config)(unsigned ring, unsigned sq, uint64_t budget_ns, uint64_t tick_ns,
	               uint64_t max_timeout_ns);
	/* A step begins; @desc is the driver's "#N t=+T action" text. */
	void (*step)(const char *desc);
	void (*step_end)(void);
	void (*request)(uint32_t i, const struct iouw_rs_spec *s, uint64_t deadline_ns,
	                uint64_t now_ns);
	void (*submitted)(uint32_t i, bool accepted);
	void (*drop)(uint32_t i);
	void (*admit)(uint32_t i, bool expired, uint32_t slot, uint32_t gen);
	void (*sqe)(uint32_t i, const struct iouw_rm_sqe *want);
	void (*cancel_sqe)(uint32_t i);
	void (*answer)(uint32_t i, bool cancel, int32_t res);
	void (*drain_clock)(uint64_t ns);
	/* An op CQE of request @i was reaped; @done: the reference's terminal
	 * result (delivered in this reap), NULL when it recorded none. */
	void (*reaped)(uint32_t i, const struct iouw_rm_result *done);
	void (*result)(uint32_t i, const struct iouw_rm_result *w, bool has_handle, bool detached);
};

/* The emitter's hooks; set fuzz/loop_run.c's iouw_lr_scenario to them
 * (after iouw_ls_start()) so the next history is translated. */
const struct iouw_ls_hooks *iouw_ls_hooks(void);

/* Defined in fuzz/loop_run.c (so the fuzz targets link without the
 * emitter): NULL, or the hooks the driver calls. */
extern const struct iouw_ls_hooks *iouw_lr_scenario;

#endif /* IOUW_FUZZ_LOOP_SCENARIO_H */
