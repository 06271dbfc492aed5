/* fuzz/fatal.h: FATAL steps of HOSTILE fuzz histories -- a CQE the kernel
 * model (fuzz/kernel_model.h) calls hostile, which must fire one named
 * invariant (core/invariant.h) and end the history.
 *
 * Owns: the one strong definition of iouw_invariant_hook() in the fuzz
 * executables, the armed invariant name and the jump buffer it unwinds to,
 * and __ubsan_default_options() (UBSan halts, so a sanitizer report stays a
 * crash). Linked in only by a target that calls iouw_fatal_arm() (the
 * weak reference in core/invariant.c pulls nothing from an archive).
 *
 * Protocol: `if (sigsetjmp(iouw_fatal_jmp, 0) == 0) { iouw_fatal_arm(name,
 * who); <feed the CQE>; iouw_fatal_disarm(); <mismatch: it did not fire> }
 * else { <it fired: release everything> }`. The core's invariant checks
 * come before any change they guard, so the table is consistent when the
 * hook unwinds. The armed invariant firing unwinds (nothing else runs in
 * the skipped frames); any other invariant, or one while nothing is armed,
 * prints "<who>: oracle mismatch: the hostile CQE had to fire ..." (when
 * armed) and returns to the usual report and abort(): a crash.
 */
#ifndef IOUW_FUZZ_FATAL_H
#define IOUW_FUZZ_FATAL_H

#include <setjmp.h>

extern sigjmp_buf iouw_fatal_jmp;

/* @name must fire next; @who prefixes the report when another one does. */
void iouw_fatal_arm(const char *name, const char *who);

/* Nothing armed any more (the fed CQE returned: it did not fire). */
void iouw_fatal_disarm(void);

#endif /* IOUW_FUZZ_FATAL_H */
