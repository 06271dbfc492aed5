/* harness/kmodel_judge.h: the scenario harness's judge of kernel histories
 * (issue 11 deliverable 1): every SQE the loop stages and every CQE a
 * script injects (inject mode) or the kernel posts (kernel mode) go through
 * the ONE kernel model the fuzz targets draw from (fuzz/kernel_model.h,
 * linked as libiouw_kmodel; docs/kernel.md §8.9), and each CQE is called
 * legal or hostile (naming the rule H1-H10 it breaks).
 *
 * Owns: struct iouw_kmj (the model's state for one run, and the
 * scenario's statement of intent: a `kernel legal|hostile RULE...` line,
 * harness/commands.h), the translation of an io_uring SQE into the model's
 * submit calls, and the verdict on one CQE against the intent.
 *
 * The intent is a set of hostile rules (bit N: HN); the empty set, the
 * default, says the scenario scripts a history a real kernel may produce:
 *   legal        a hostile CQE departs at its line with the model's reason
 *   hostile R... a hostile CQE must break one of the rules R named; at the
 *                end of the run every named rule must have been broken
 *                (iouw_kmj_unmet), so the statement cannot rot.
 * Invariants: the model sees SQEs in staging order and each CQE once, when
 * it is posted (named); the judge never changes the run (its notes are
 * '#' timeline lines, not hashed).
 */
#ifndef IOUW_KMODEL_JUDGE_H
#define IOUW_KMODEL_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_uring_sqe;
struct iouw_kmj;

#define IOUW_KMJ_RULES 10 /* H1..H10 */

/* A judge for one run with intent @hostile_rules (bit N set: rule HN is
 * exercised; 0: a legal history). NULL when out of memory. */
struct iouw_kmj *iouw_kmj_new(uint32_t hostile_rules);
void iouw_kmj_free(struct iouw_kmj *j);

/* The loop staged @sqe: the kernel holds it (op, ASYNC_CANCEL, wake poll). */
void iouw_kmj_sqe(struct iouw_kmj *j, const struct io_uring_sqe *sqe);

/* The loop reaped the CQE of @ud. */
void iouw_kmj_reaped(struct iouw_kmj *j, uint64_t ud);

/* The CQE (@ud, @res, @flags) was posted. Returns true when the intent
 * allows it. @note gets "" for a legal CQE, else the rule it breaks
 * ("H4 result below -4095 is no errno"); @expected (when returning false)
 * what the intent asked for. */
bool iouw_kmj_cqe(struct iouw_kmj *j, uint64_t ud, int32_t res, uint32_t flags, char *note,
                  size_t notelen, char *expected, size_t explen);

/* The rules the intent named that no CQE broke ("H4 H1"), into @buf;
 * false when there are none. */
bool iouw_kmj_unmet(const struct iouw_kmj *j, char *buf, size_t len);

/* The rule number (1..10) a model verdict names ("H4 ..." -> 4); 0 for
 * anything else. */
unsigned iouw_kmj_rule(const char *why);

#endif /* IOUW_KMODEL_JUDGE_H */
