/* fuzz/script_check.h: the `script` fuzz target's oracle over the scenario
 * parser (harness/scenario.h).
 *
 * Owns: iouw_script_check() and iouw_script_history_print().
 *
 * Invariants checked on every input (any bytes, NUL included; at most
 * IOUW_SCRIPT_MAX_BYTES of it, below):
 * - the parser returns 0 or -EINVAL, never aborts, never reads outside the
 *   input, and leaks nothing (ASan/LSan);
 * - an error is exactly one line "NAME:LINE:COL: error: expected ...", with
 *   1 <= LINE <= (number of lines + 1) and COL >= 1;
 * - a parsed scenario's steps (either branches included, pre-order) have
 *   line numbers in increasing order inside the input, and every step's
 *   text is the source line; the copies a `repeat` expansion made are
 *   exempt (they repeat lines already seen) but lie inside their repeat
 *   block, tagged with an iteration in 1..count;
 * - parsing the same bytes twice gives the same verdict (no hidden state).
 */
#ifndef IOUW_FUZZ_SCRIPT_CHECK_H
#define IOUW_FUZZ_SCRIPT_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The budget (issue 11: every input ends quickly): only the first
 * IOUW_SCRIPT_MAX_BYTES bytes of an input are parsed (the rest is ignored,
 * by the target and by iouwait-decode alike). Parsing and every oracle
 * are linear in the input, but a 1 MiB script parsed twice takes over a
 * second under ASan; 256 KiB stays within a few hundred milliseconds. */
#define IOUW_SCRIPT_MAX_BYTES (256u * 1024u)

/* Run every oracle on @data; abort() with a message on a violation. */
void iouw_script_check(const uint8_t *data, size_t size);

/* Print what the parser makes of @data: the error line, or the steps. */
void iouw_script_history_print(FILE *out, const uint8_t *data, size_t size);

#endif /* IOUW_FUZZ_SCRIPT_CHECK_H */
