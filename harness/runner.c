/* harness/runner.c: the scenario runner's entry points (contract in
 * runner.h; the shared internals and the map of the runner's files in
 * runner_int.h).
 *
 * Owns iouw_scenario_run: the config read, the ring and the scripted kernel
 * over it set up (kernel mode, or inject mode with the injection transport
 * probed), the loop set up and observed, the body run, the end-of-run checks
 * (every deferred CQE released, the fd audit, every kernel CQE named), the
 * verdict and report, teardown; iouw_scenario_record (a kernel-mode run
 * writing its recording through harness/outfile.h, committed only for a
 * passing run); iouw_scenario_branch_variants.
 *
 * Invariants: a run owns everything it sets up and frees all of it before
 * returning (peers first, then the ring, then the loop, then the requests);
 * a setup failure returns its verdict in the result with nothing left to
 * free; io_uring being unavailable is a SKIP, the environment failing once a
 * ring works an ERROR (README, "Skip policy").
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "outfile.h"
#include "skernel.h"

static const struct iouw_scn_step *find_config(const struct iouw_scenario *s)
{
	for (size_t i = 0; i < s->body.n; i++)
		if (s->body.steps[i].op == IOUW_SCN_CONFIG)
			return &s->body.steps[i];
	return NULL;
}

static void teardown(struct runner *r)
{
	/* Peers first: pending reads and sends see EOF/EPIPE and finish. */
	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i].peer >= 0) {
			close(r->fds[i].peer);
			r->fds[i].peer = -1;
		}
	/* The ring next, so the kernel lets go of buffers before they are freed. */
	iouw_backend_free(r->k);
	r->k = NULL;
	iouw_loop_free(r->loop);
	r->loop = NULL;
	for (size_t i = 0; i < r->nreqs; i++) {
		struct reqent *q = &r->reqs[i];

		if (!q->submitted && q->req)
			q->req->ops->release(q->req);
		if (q->have_result)
			iouw_result_free(&q->result);
		if (!q->dropped && q->handle)
			iouw_handle_drop(q->handle);
		free(q->stage.v);
		free(q->completion.v);
		free(q->deliver.v);
	}
	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i].fd >= 0)
			close(r->fds[i].fd);
	for (size_t i = 0; i < r->nlog; i++)
		free(r->log[i].text);
	free(r->log);
	for (size_t i = 0; i < r->nsqes; i++)
		free(r->sqes[i].data);
	free(r->sqes);
	iouw_fdl_free(&r->fdl);
	free(r->named);
	iouw_kmj_free(r->kmj);
}

/* The loop config and the ring's sizes from the script's config line @cs
 * (NULL: defaults). false with the verdict in @ret for a bad config. */
static bool setup_config(struct runner *r, const struct iouw_scn_step *cs,
                         struct iouw_uring_config *ucfg, struct iouw_run_result *ret)
{
	const struct iouw_scn_arg *a;

	iouw_loop_config_init(&r->cfg);
	r->cfg.ring_size = 8;
	r->cfg.tick_ns = UINT64_C(1000000);
	r->cfg.max_request_timeout_ns = UINT64_C(10000000000);
	if (cs) {
		r->cfg.ring_size = (uint32_t)iouw_scn_int(cs, "ring");
		r->cfg.tick_ns = (uint64_t)iouw_scn_int(cs, "tick");
		r->cfg.max_request_timeout_ns = (uint64_t)iouw_scn_int(cs, "max_timeout");
		if ((a = iouw_scn_key(cs, "shutdown")) && !a->none)
			r->cfg.shutdown_timeout_ns = a->u;
		r->cfg.single_issuer = iouw_scn_flag(cs, "single_issuer");
	}
	if (iouw_loop_config_normalize(&r->cfg, &r->cfg) < 0) {
		ret->verdict = IOUW_VERDICT_FAIL;
		snprintf(ret->reason, sizeof(ret->reason), "bad config (tick and max_timeout must be "
		                                           "non-zero)");
		return false;
	}
	r->sq_cap = cs && iouw_scn_key(cs, "sq") ? (unsigned)iouw_scn_key(cs, "sq")->i
	                                         : r->cfg.ring_size;
	/* At most the real SQ (at least 8 entries, see below). */
	if (r->sq_cap > (r->cfg.ring_size < 8 ? 8 : r->cfg.ring_size))
		r->sq_cap = r->cfg.ring_size < 8 ? 8 : r->cfg.ring_size;
	memset(ucfg, 0, sizeof(*ucfg));
	ucfg->entries = r->cfg.ring_size < 8 ? 8 : r->cfg.ring_size;
	ucfg->single_issuer = r->cfg.single_issuer;
	ucfg->cq_entries = 4 * ucfg->entries < 64 ? 64 : 4 * ucfg->entries;
	if (cs && iouw_scn_key(cs, "cq")) {
		/* A small CQ, to overflow on purpose (inject mode). The kernel
		 * wants at least as many CQ as SQ entries. */
		ucfg->cq_entries = (unsigned)iouw_scn_key(cs, "cq")->i;
		if (ucfg->cq_entries < ucfg->entries) {
			ret->verdict = IOUW_VERDICT_FAIL;
			snprintf(ret->reason, sizeof(ret->reason),
			         "bad config: cq=%u is smaller than the SQ (%u entries; ring=%u, at least 8)",
			         ucfg->cq_entries, ucfg->entries, r->cfg.ring_size);
			return false;
		}
	}
	return true;
}

/* Inject mode: how the scripted kernel posts CQEs on @inner (NOP injection,
 * else MSG_RING). false with a SKIP verdict in @ret when neither works. */
static bool choose_injection(struct runner *r, struct iouw_backend *inner,
                             enum iouw_skernel_transport *how, struct iouw_run_result *ret)
{
	int e, m;

	*how = IOUW_SKERNEL_NOP_INJECT;
	e = r->o->force_msg_ring ? -EOPNOTSUPP : iouw_uring_probe_nop_inject(inner);
	if (e < 0) {
		m = iouw_uring_probe_msg_ring(inner);
		if (m < 0) {
			ret->verdict = IOUW_VERDICT_SKIP;
			snprintf(ret->reason, sizeof(ret->reason),
			         "no CQE injection: NOP inject %s, MSG_RING %s", strerror(-e), strerror(-m));
			return false;
		}
		*how = IOUW_SKERNEL_MSG_RING;
	}
	snprintf(ret->inject_via, sizeof(ret->inject_via), "%s",
	         *how == IOUW_SKERNEL_MSG_RING ? "msg_ring" : "nop");
	return true;
}

/* The ring and the scripted kernel over it (r->k). false with the verdict
 * in @ret (nothing left to free). */
static bool setup_kernel(struct runner *r, const struct iouw_uring_config *ucfg,
                         struct iouw_run_result *ret)
{
	struct iouw_backend *inner = NULL;
	enum iouw_skernel_transport how = IOUW_SKERNEL_KERNEL;
	bool skip;
	int e;

	/* The one skip policy (README, "Skip policy"): io_uring unavailable
	 * here (setup or enter refused, a seccomp filter on io_uring_enter
	 * alone included) skips; once a ring works, the backend failing to
	 * set up (out of memory or fds) is the environment failing. */
	e = iouw_uring_available();
	skip = e < 0 && iouw_uring_unavailable(e);
	if (e == 0) {
		e = iouw_uring_backend_new(ucfg, &inner);
		skip = e != -ENOMEM && iouw_uring_unavailable(e);
	}
	if (e < 0) {
		ret->verdict = skip ? IOUW_VERDICT_SKIP : IOUW_VERDICT_ERROR;
		snprintf(ret->reason, sizeof(ret->reason), "%s: %s",
		         skip ? "io_uring unavailable" : "environment: io_uring setup", strerror(-e));
		return false;
	}
	if (r->mode == IOUW_RUN_INJECT && !choose_injection(r, inner, &how, ret)) {
		iouw_backend_free(inner);
		return false;
	}
	/* The scripted kernel owns the ring from here on. */
	e = iouw_skernel_new_ring(r->sq_cap, inner, how, &r->k);
	if (e < 0) {
		ret->verdict = IOUW_VERDICT_ERROR;
		snprintf(ret->reason, sizeof(ret->reason), "environment: scripted kernel: %s",
		         strerror(-e));
		return false;
	}
	iouw_skernel_set_clock(r->k, &r->vc);
	iouw_skernel_set_move_data(r->k, r->mode == IOUW_RUN_INJECT);
	iouw_skernel_set_post_timeout(r->k, iouw_run_cqe_timeout(r));
	/* A script that would spin forever ends (-ELOOP). */
	iouw_skernel_set_wait_limit(r->k, 1000000);
	return true;
}

/* The loop on the scripted kernel, observed. false with the verdict in
 * @ret (the kernel freed). */
static bool setup_loop(struct runner *r, struct iouw_run_result *ret)
{
	int e = iouw_loop_new(&r->cfg, r->k, iouw_virtual_clock_as_clock(&r->vc), &r->loop);

	if (e == 0 && !(r->kmj = iouw_kmj_new(r->s->kernel_hostile))) {
		iouw_loop_free(r->loop);
		r->loop = NULL;
		e = -ENOMEM;
	}
	if (e < 0) {
		bool env = e == -ENOMEM || e == -EMFILE || e == -ENFILE;

		ret->verdict = env ? IOUW_VERDICT_ERROR : IOUW_VERDICT_FAIL;
		snprintf(ret->reason, sizeof(ret->reason), "%sloop setup failed: %s",
		         env ? "environment: " : "", strerror(-e));
		iouw_backend_free(r->k);
		return false;
	}
	iouw_loop_set_observer(r->loop, iouw_run_observe, r);
	iouw_waiters_set_warn(iouw_loop_waiters(r->loop), iouw_run_on_warn, r);
	r->rec = r->o->mode == IOUW_RUN_KERNEL ? r->o->record : NULL;
	if (r->rec)
		fprintf(r->rec, "# Recorded by `iouwait record` from %s: what the kernel did,\n"
		                "# replayed with injected CQEs.\n", r->s->name);
	return true;
}

/* Run the script's body, then the end-of-run checks: every deferred CQE
 * released, the fd audit, every kernel CQE named. */
static void run_body(struct runner *r, const struct iouw_scn_step *cs)
{
	char why[64];
	/* Arm the wake poll before line 1 (it takes an SQ slot of its own), so
	 * a script's first turn starts from an idle, armed loop. */
	int e = cs && !iouw_scn_flag(cs, "prearm") ? 0 : iouw_loop_turn(r->loop, false);

	r->start_ns = r->vc.now_ns;
	if (e == -ENOMEM || e == -EMFILE || e == -ENFILE)
		iouw_run_envf(r, "the first turn", -e);
	else if (e < 0)
		iouw_run_failf(r, "the first turn to arm the wake poll", "turn returned %d", e);
	else if ((e = iouw_fdl_init(&r->fdl)) < 0)
		iouw_run_envf(r, "the fd ledger (/proc/self/fd)", -e);
	else
		iouw_run_exec_block(r, &r->s->body);
	if (!r->failed && !r->ended && r->deferred_head < r->ndeferred) {
		r->cur_line = r->deferred[r->deferred_head]->line;
		iouw_run_failf(r, "the loop to wait for this deferred CQE", "no blocking wait released it");
	}
	if (!r->failed && iouw_kmj_unmet(r->kmj, why, sizeof(why))) {
		r->cur_line = 0;
		iouw_run_failf(r, "every rule of `kernel hostile` broken by a CQE", "no CQE broke %s", why);
	}
	if (!r->failed && !r->ended)
		iouw_run_audit_fds(r);
	if (!r->failed && !r->ended && r->mode == IOUW_RUN_KERNEL) {
		/* Every CQE the kernel posted must be named by the script. */
		unsigned named = (unsigned)iouw_skernel_cq_ready(r->k);

		if (io_uring_cq_ready(iouw_skernel_ring(r->k)) > named) {
			const struct io_uring_cqe *c = iouw_run_peek_cq(r, named);
			char b1[64], b2[32];

			r->cur_line = 0;
			iouw_run_failf(r, "every CQE named by the script",
			               "unnamed CQE at the end: %s res=%s",
			               iouw_run_ud_str(r, c->user_data, b1, sizeof(b1)),
			               iouw_run_res_str(c->res, b2, sizeof(b2)));
		}
	}
}

/* The verdict into @ret, and the report (timeline, departure). */
static void report_run(struct runner *r, struct iouw_run_result *ret)
{
	const struct iouw_scenario *s = r->s;
	const struct iouw_run_options *o = r->o;

	ret->hash = iouw_run_log_hash(r);
	memcpy(ret->branches, r->branches, sizeof(ret->branches));
	if (r->env_failed) {
		/* Not a departure: the hash and the timeline are incomplete. */
		ret->verdict = IOUW_VERDICT_ERROR;
		ret->fail_line = r->fail_line;
		snprintf(ret->reason, sizeof(ret->reason), "environment: %.300s (at %.150s:%d)", r->actual,
		         s->name, r->fail_line);
	} else if (r->failed) {
		const char *t = iouw_run_step_text(&s->body, r->fail_line);

		ret->verdict = IOUW_VERDICT_FAIL;
		ret->fail_line = r->fail_line;
		snprintf(ret->reason, sizeof(ret->reason), "%s:%d: departed from the script",
		         s->name, r->fail_line);
		if (o->report) {
			iouw_run_print_timeline(r, o->report);
			fprintf(o->report, "  departed at %s:%d: %s\n", s->name, r->fail_line,
			        t ? t : "(end of script)");
			if (r->fail_step && r->fail_step->repeat_iter)
				fprintf(o->report, "    in iteration %u of %u of the repeat at line %d\n",
				        r->fail_step->repeat_iter, r->fail_step->repeat_count,
				        r->fail_step->repeat_line);
			fprintf(o->report, "    expected: %s\n", r->expected);
			fprintf(o->report, "    actual:   %s\n", r->actual);
		}
	} else {
		ret->verdict = IOUW_VERDICT_PASS;
		if (o->report && o->verbose)
			iouw_run_print_timeline(r, o->report);
	}
}

int iouw_scenario_run(const struct iouw_scenario *s, const struct iouw_run_options *o,
                      struct iouw_run_result *ret)
{
	struct runner *r;
	const struct iouw_scn_step *cs;
	struct iouw_uring_config ucfg;

	if (!s || !o || !ret || (o->mode != IOUW_RUN_KERNEL && o->mode != IOUW_RUN_INJECT))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (!(s->modes & (o->mode == IOUW_RUN_KERNEL ? IOUW_SCN_MODE_KERNEL : IOUW_SCN_MODE_INJECT))) {
		ret->verdict = IOUW_VERDICT_SKIP;
		snprintf(ret->reason, sizeof(ret->reason), "scenario does not apply to %s mode",
		         o->mode == IOUW_RUN_KERNEL ? "kernel" : "inject");
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fdl.holder = -1; /* nothing of the ledger's is open yet */
	r->s = s;
	r->o = o;
	r->mode = o->mode;
	r->vc.now_ns = UINT64_C(1000000000);
	cs = find_config(s);
	if (!setup_config(r, cs, &ucfg, ret) || !setup_kernel(r, &ucfg, ret) ||
	    !setup_loop(r, ret)) {
		free(r);
		return 0;
	}
	run_body(r, cs);
	report_run(r, ret);
	teardown(r);
	free(r);
	return 0;
}

int iouw_scenario_record(const struct iouw_scenario *s, const char *out_path,
                         const struct iouw_run_options *o, struct iouw_run_result *ret)
{
	struct iouw_run_options ro;
	struct iouw_outfile out;
	char err[512];
	FILE *f;
	int fd, e = 0;

	if (!s || !out_path || !o || !ret)
		return -EINVAL;
	e = iouw_outfile_open(out_path, NULL, 0, &out, err, sizeof(err));
	if (e < 0)
		return e;
	fd = dup(out.fd);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		e = -errno;
		if (fd >= 0)
			close(fd);
		iouw_outfile_discard(&out);
		return e;
	}
	ro = *o;
	ro.mode = IOUW_RUN_KERNEL;
	ro.record = f;
	e = iouw_scenario_run(s, &ro, ret);
	if (fclose(f) != 0 && e == 0 && ret->verdict == IOUW_VERDICT_PASS) {
		ret->verdict = IOUW_VERDICT_ERROR;
		snprintf(ret->reason, sizeof(ret->reason), "environment: writing the recording: %s",
		         strerror(errno));
	}
	if (e == 0 && ret->verdict == IOUW_VERDICT_PASS)
		return iouw_outfile_commit(&out, err, sizeof(err));
	iouw_outfile_discard(&out);
	return e;
}

static unsigned block_branch_variants(const struct iouw_scn_block *b)
{
	unsigned n = 1;

	for (size_t i = 0; i < b->n; i++) {
		const struct iouw_scn_step *st = &b->steps[i];

		if (st->op != IOUW_SCN_EITHER)
			continue;
		if (st->nbranches > n)
			n = (unsigned)st->nbranches;
		for (size_t j = 0; j < st->nbranches; j++) {
			unsigned m = block_branch_variants(&st->branches[j]);

			if (m > n)
				n = m;
		}
	}
	return n;
}

unsigned iouw_scenario_branch_variants(const struct iouw_scenario *s)
{
	return s ? block_branch_variants(&s->body) : 1;
}
