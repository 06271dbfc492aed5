/* harness/scenario.c: the scenario parser (see scenario.h for the contract
 * and harness/README.md for the language).
 *
 * Structure: a lexer turns one line into words (bare, quoted, key=value),
 * each with its byte column; the command words pick a row of the command
 * table (harness/commands.h); the positional words, then the key=value
 * words, are matched against the row's params and typed (check_value); the
 * row's CHECK function adds what the table cannot say (placement, rules
 * across arguments); steps are appended to the current block (the body, or
 * the open either/or branch). Once the whole script is read, set_generation
 * slots are checked against the table size (check_slots). Everything is
 * bounded (IOUW_SCN_MAX_*) and every failure is one formatted error, so
 * arbitrary input never crashes or aborts the parser.
 */
#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"

struct errname {
	const char *name;
	int value;
};

static const struct errname errnames[] = {
	{ "EPERM", EPERM },         { "ENOENT", ENOENT },     { "EINTR", EINTR },
	{ "EIO", EIO },             { "EBADF", EBADF },       { "EAGAIN", EAGAIN },
	{ "EWOULDBLOCK", EWOULDBLOCK }, { "ENOMEM", ENOMEM }, { "EACCES", EACCES },
	{ "EFAULT", EFAULT },       { "EBUSY", EBUSY },       { "EEXIST", EEXIST },
	{ "EINVAL", EINVAL },       { "ENOSPC", ENOSPC },     { "ESPIPE", ESPIPE },
	{ "EPIPE", EPIPE },         { "ENOSYS", ENOSYS },     { "ETIME", ETIME },
	{ "ENOTSOCK", ENOTSOCK },   { "EOPNOTSUPP", EOPNOTSUPP }, { "ECONNRESET", ECONNRESET },
	{ "ETIMEDOUT", ETIMEDOUT }, { "EALREADY", EALREADY }, { "ECANCELED", ECANCELED },
	{ "ENOTCONN", ENOTCONN },   { "EOVERFLOW", EOVERFLOW }, { "EPROTO", EPROTO },
	{ "ENOBUFS", ENOBUFS },
};

static bool lookup_errname(const char *s, int *ret)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (strcmp(s, errnames[i].name) == 0) {
			*ret = errnames[i].value;
			return true;
		}
	return false;
}

const char *iouw_scn_format_res(int64_t res, char *buf, size_t len)
{
	if (res < 0)
		for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
			if (-res == errnames[i].value) {
				snprintf(buf, len, "-%s", errnames[i].name);
				return buf;
			}
	snprintf(buf, len, "%lld", (long long)res);
	return buf;
}

/* Digits of an unsigned number, decimal or 0x-hex, into *ret (no sign). */
static bool parse_digits(const char *v, uint64_t *ret)
{
	uint64_t acc = 0;
	unsigned base = 10;

	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		v += 2;
	}
	if (!*v)
		return false;
	for (; *v; v++) {
		unsigned d;

		if (*v >= '0' && *v <= '9')
			d = (unsigned)(*v - '0');
		else if (base == 16 && *v >= 'a' && *v <= 'f')
			d = (unsigned)(*v - 'a' + 10);
		else if (base == 16 && *v >= 'A' && *v <= 'F')
			d = (unsigned)(*v - 'A' + 10);
		else
			return false;
		if (acc > (UINT64_MAX - d) / base)
			return false;
		acc = acc * base + d;
	}
	*ret = acc;
	return true;
}

bool iouw_scn_parse_int(const char *v, int64_t *ret)
{
	bool neg = false;
	uint64_t acc;
	int e;

	if (*v == '-') {
		neg = true;
		v++;
	} else if (*v == '+') {
		v++;
	}
	if (*v == 'E') {
		if (!neg || !lookup_errname(v, &e))
			return false;
		*ret = -(int64_t)e;
		return true;
	}
	if (!parse_digits(v, &acc))
		return false;
	if (neg) {
		if (acc > (uint64_t)INT64_MAX + 1)
			return false;
		*ret = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	} else {
		if (acc > (uint64_t)INT64_MAX)
			return false;
		*ret = (int64_t)acc;
	}
	return true;
}

bool iouw_scn_parse_u64(const char *v, uint64_t *ret)
{
	return parse_digits(v, ret);
}

bool iouw_scn_parse_duration(const char *v, uint64_t *ret)
{
	uint64_t acc = 0, mul;

	if (*v < '0' || *v > '9')
		return false;
	for (; *v >= '0' && *v <= '9'; v++) {
		if (acc > (UINT64_MAX - 9) / 10)
			return false;
		acc = acc * 10 + (uint64_t)(*v - '0');
	}
	if (strcmp(v, "ns") == 0 || (strcmp(v, "") == 0 && acc == 0))
		mul = 1;
	else if (strcmp(v, "us") == 0)
		mul = 1000;
	else if (strcmp(v, "ms") == 0)
		mul = 1000000;
	else if (strcmp(v, "s") == 0)
		mul = 1000000000;
	else
		return false;
	if (acc > UINT64_MAX / mul)
		return false;
	*ret = acc * mul;
	return true;
}

bool iouw_scn_parse_bool(const char *v, bool *ret)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
		*ret = true;
		return true;
	}
	if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
		*ret = false;
		return true;
	}
	return false;
}

/* ---- parser state ---------------------------------------------------------- */


struct parser {
	const char *fname;
	struct iouw_scenario *s;
	char *err;
	size_t errlen;
	int line;
	bool failed;
	bool oom;
	size_t total_steps;
	/* either/or state: the open blocks, innermost last. Only the
	 * innermost block's current branch takes new steps, so the pointers
	 * to the enclosing either steps stay valid while they are open. */
	struct {
		struct iouw_scn_step *step;
		bool branch_has_guard;
		bool branch_guard_open; /* still in the leading cqe lines */
	} open[IOUW_SCN_MAX_NESTING];
	size_t nopen;
	struct iouw_scn_step *either; /* innermost open block, or NULL */
	bool branch_has_guard;
	bool branch_guard_open;
	/* Open repeat blocks, innermost last: where the body starts and how
	 * many either blocks were open when it began (the innermost open
	 * construct is a repeat iff no either opened since). */
	struct {
		struct iouw_scn_block *blk;
		size_t start;
		uint32_t count;
		int line, col;
		size_t nopen;
	} rep[IOUW_SCN_MAX_NESTING];
	size_t nrep;
	uint64_t total_bytes; /* step text and arguments, expansions included */
	bool seen_config;
	bool seen_creation;
	bool seen_modes;
	bool seen_kernel;
	uint32_t ring; /* config ring= (8 without config) */
	/* current line */
	struct iouw_scn_arg words[IOUW_SCN_MAX_ARGS + 3];
	size_t nwords;
	size_t line_len;
};

static bool fail(struct parser *p, int col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(struct parser *p, int col, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return false;
	p->failed = true;
	if (!p->err || p->errlen == 0)
		return false;
	n = snprintf(p->err, p->errlen, "%s:%d:%d: error: expected ", p->fname, p->line, col);
	if (n < 0 || (size_t)n >= p->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static void free_words(struct parser *p)
{
	for (size_t i = 0; i < p->nwords; i++) {
		free(p->words[i].key);
		free(p->words[i].val);
	}
	p->nwords = 0;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_key_char(unsigned char c, bool first)
{
	return (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The escape at line[*i] == '\\' into *ret; *i moves past it. */
static bool lex_escape(struct parser *p, const char *line, size_t len, size_t *i, int *ret)
{
	int h, l;

	if (*i + 1 >= len)
		return fail(p, (int)*i + 2, "an escape character after '\\'");
	switch (line[*i + 1]) {
	case 'n': *ret = '\n'; break;
	case 't': *ret = '\t'; break;
	case 'r': *ret = '\r'; break;
	case '0': *ret = 0; break;
	case '\\': *ret = '\\'; break;
	case '"': *ret = '"'; break;
	case 'x':
		if (*i + 3 >= len || (h = hexval((unsigned char)line[*i + 2])) < 0 ||
		    (l = hexval((unsigned char)line[*i + 3])) < 0)
			return fail(p, (int)*i + 3, "two hex digits after '\\x'");
		*ret = h * 16 + l;
		*i += 2;
		break;
	default:
		return fail(p, (int)*i + 2, "one of the escapes \\n \\t \\r \\0 \\\\ \\\" \\xHH");
	}
	*i += 2;
	return true;
}

/* Lex a quoted string starting at line[*i] == '"'. */
static bool lex_quoted(struct parser *p, const char *line, size_t len, size_t *i,
                       struct iouw_scn_arg *w)
{
	size_t cap = 16, n = 0;
	char *buf = malloc(cap);
	int start_col = (int)*i + 1;

	if (!buf) {
		p->oom = true;
		return fail(p, start_col, "memory");
	}
	(*i)++;
	for (;;) {
		unsigned char c;
		int out = 0;

		if (*i >= len) {
			free(buf);
			return fail(p, (int)*i + 1, "closing '\"' of the string opened at column %d",
			            start_col);
		}
		c = (unsigned char)line[*i];
		if (c == '"') {
			(*i)++;
			break;
		}
		if (c < 0x20 || c == 0x7f) {
			free(buf);
			return fail(p, (int)*i + 1, "a printable character or an escape in the string");
		}
		if (c == '\\') {
			if (!lex_escape(p, line, len, i, &out)) {
				free(buf);
				return false;
			}
		} else {
			out = c;
			(*i)++;
		}
		if (n + 1 >= IOUW_SCN_MAX_STRING) {
			free(buf);
			return fail(p, start_col, "a string shorter than %d bytes", IOUW_SCN_MAX_STRING);
		}
		if (n + 2 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				p->oom = true;
				return fail(p, start_col, "memory");
			}
			buf = nb;
			cap *= 2;
		}
		buf[n++] = (char)out;
	}
	buf[n] = '\0';
	w->val = buf;
	w->val_len = n;
	w->quoted = true;
	return true;
}

static char *dup_range(struct parser *p, const char *s, size_t n)
{
	char *r = malloc(n + 1);

	if (!r) {
		p->oom = true;
		return NULL;
	}
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

/* Split a line into words. Stops at an unquoted '#'. */
static bool lex_line(struct parser *p, const char *line, size_t len)
{
	size_t i = 0;

	p->nwords = 0;
	p->line_len = len;
	for (;;) {
		struct iouw_scn_arg *w;
		size_t start;

		while (i < len && is_space((unsigned char)line[i]))
			i++;
		if (i >= len || line[i] == '#')
			return true;
		if (p->nwords >= sizeof(p->words) / sizeof(p->words[0]))
			return fail(p, (int)i + 1, "at most %d words on a line", IOUW_SCN_MAX_ARGS);
		w = &p->words[p->nwords];
		memset(w, 0, sizeof(*w));
		w->col = (int)i + 1;
		start = i;
		if (line[i] == '"') {
			if (!lex_quoted(p, line, len, &i, w))
				return false;
			p->nwords++;
			if (i < len && !is_space((unsigned char)line[i]))
				return fail(p, (int)i + 1, "a space after the string");
		} else {
			size_t eq = SIZE_MAX;

			while (i < len && !is_space((unsigned char)line[i])) {
				unsigned char c = (unsigned char)line[i];

				if (c < 0x20 || c >= 0x7f)
					return fail(p, (int)i + 1, "a printable ASCII character");
				if (c == '"') {
					if (eq != SIZE_MAX && eq + 1 == i)
						break;
					return fail(p, (int)i + 1, "'\"' only at the start of a value");
				}
				if (c == '=' && eq == SIZE_MAX)
					eq = i;
				i++;
			}
			if (eq != SIZE_MAX) {
				if (eq == start)
					return fail(p, (int)start + 1, "a key before '='");
				for (size_t k = start; k < eq; k++)
					if (!is_key_char((unsigned char)line[k], k == start))
						return fail(p, (int)k + 1,
						            "a key of lower-case letters, digits and '_'");
				w->key = dup_range(p, line + start, eq - start);
				if (!w->key)
					return fail(p, (int)start + 1, "memory");
				p->nwords++;
				if (i < len && line[i] == '"') {
					if (!lex_quoted(p, line, len, &i, w))
						return false;
				} else {
					if (i == eq + 1)
						return fail(p, (int)i + 1, "a value after '='");
					w->val = dup_range(p, line + eq + 1, i - eq - 1);
					if (!w->val)
						return fail(p, (int)start + 1, "memory");
					w->val_len = i - eq - 1;
				}
			} else {
				w->val = dup_range(p, line + start, i - start);
				if (!w->val)
					return fail(p, (int)start + 1, "memory");
				w->val_len = i - start;
				p->nwords++;
			}
			if (i < len && !is_space((unsigned char)line[i]))
				return fail(p, (int)i + 1, "a space after the value");
		}
	}
}

/* ---- names ----------------------------------------------------------------- */

const struct iouw_scn_name *iouw_scn_lookup(const struct iouw_scenario *s, const char *name)
{
	for (size_t i = 0; i < s->nnames; i++)
		if (strcmp(s->names[i].name, name) == 0)
			return &s->names[i];
	return NULL;
}

static bool valid_name(const struct iouw_scn_arg *w)
{
	const char *v = w->val;

	if (w->quoted || w->val_len == 0 || w->val_len > IOUW_SCN_MAX_NAME)
		return false;
	if (!((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z') || v[0] == '_'))
		return false;
	for (size_t i = 1; i < w->val_len; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static const char *const reserved[] = { "op", "cancel", "stale", "none", "pending", "block",
	                                "write", "close", "fill", "drain", NULL };

static bool define_name(struct parser *p, struct iouw_scn_arg *w, enum iouw_scn_name_kind kind,
                        int req_kind)
{
	struct iouw_scn_name *n;

	if (!valid_name(w))
		return fail(p, w->col, "a name (a letter or '_', then letters, digits, '_', '-', '.'; "
		                       "at most %d)", IOUW_SCN_MAX_NAME);
	for (size_t i = 0; reserved[i]; i++)
		if (!strcmp(w->val, reserved[i]))
			return fail(p, w->col, "a name that is not the keyword '%s'", reserved[i]);
	if (iouw_scn_lookup(p->s, w->val))
		return fail(p, w->col, "a new name ('%s' is already defined)", w->val);
	if (p->s->nnames >= IOUW_SCN_MAX_NAMES)
		return fail(p, w->col, "at most %d names", IOUW_SCN_MAX_NAMES);
	n = &p->s->names[p->s->nnames++];
	memcpy(n->name, w->val, w->val_len + 1);
	n->kind = kind;
	n->req_kind = req_kind;
	w->name = n;
	return true;
}

static bool use_request(struct parser *p, struct iouw_scn_arg *w)
{
	if (!valid_name(w))
		return fail(p, w->col, "a request name");
	w->name = iouw_scn_lookup(p->s, w->val);
	if (!w->name || w->name->kind != IOUW_SCN_NAME_REQUEST)
		return fail(p, w->col, "the name of a request defined above");
	return true;
}

/* An fd name for a param of type @t (FD, STREAM, SOCKET or FILE). */
static bool use_fd(struct parser *p, struct iouw_scn_arg *w, enum iouw_scn_type t)
{
	const struct iouw_scn_name *n;

	if (w->quoted)
		return fail(p, w->col, "an fd name (unquoted)");
	if (!valid_name(w))
		return fail(p, w->col, "an fd name");
	n = iouw_scn_lookup(p->s, w->val);
	if (!n || n->kind == IOUW_SCN_NAME_REQUEST)
		return fail(p, w->col, "the name of a socketpair, pipe or file defined above");
	if (t == IOUW_SCN_T_STREAM && n->kind == IOUW_SCN_NAME_FILE)
		return fail(p, w->col, "the name of a socketpair or pipe (files have no peer)");
	if (t == IOUW_SCN_T_SOCKET && n->kind != IOUW_SCN_NAME_SOCKET)
		return fail(p, w->col, "the name of a socketpair");
	if (t == IOUW_SCN_T_FILE && n->kind != IOUW_SCN_NAME_FILE)
		return fail(p, w->col, "the name of a file");
	w->name = n;
	return true;
}

/* ---- typed values -------------------------------------------------------------- */

static bool v_int(struct parser *p, struct iouw_scn_arg *w, const struct iouw_scn_param *pa)
{
	if (w->quoted || !iouw_scn_parse_int(w->val, &w->i) || w->i < pa->lo || w->i > pa->hi) {
		if (pa->what && (pa->key || pa->flags & IOUW_SCN_F_REQUIRED))
			return fail(p, w->col, "%s", pa->what);
		return fail(p, w->col, "an integer in [%lld, %lld]", (long long)pa->lo,
		            (long long)pa->hi);
	}
	return true;
}

/* A duration, signed when @relative ("+5ms", "-5ms": a deadline already
 * in the past, as explained fuzz inputs state them). */
static bool v_dur(struct parser *p, struct iouw_scn_arg *w, const struct iouw_scn_param *pa,
                  bool relative)
{
	const char *s = w->val;

	if (relative) {
		if (w->quoted || (*s != '+' && *s != '-'))
			return fail(p, w->col, "a relative time like +5ms");
		s++;
	}
	if (w->quoted || !iouw_scn_parse_duration(s, &w->u))
		return fail(p, w->col, "a duration like 5ms (units ns, us, ms, s)");
	if (relative) {
		if (w->u > (uint64_t)INT64_MAX)
			return fail(p, w->col, "a relative time of at most %lldns", (long long)INT64_MAX);
		w->i = w->val[0] == '-' ? -(int64_t)w->u : (int64_t)w->u;
	} else if (w->u < (uint64_t)pa->lo || w->u > (uint64_t)pa->hi) {
		return pa->what ? fail(p, w->col, "%s", pa->what)
		                : fail(p, w->col, "a duration in [%lldns, %lldns]", (long long)pa->lo,
		                       (long long)pa->hi);
	}
	return true;
}

static bool v_res_alts(struct parser *p, struct iouw_scn_arg *w)
{
	const char *s = w->val;

	if (w->quoted || !*s)
		return fail(p, w->col, "a result like 0, 3, -ECANCELED or 0|-EALREADY");
	while (*s) {
		char buf[32];
		size_t n = strcspn(s, "|");
		int64_t v;

		if (n == 0 || n >= sizeof(buf))
			return fail(p, w->col, "a result like 0, 3, -ECANCELED or 0|-EALREADY");
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (!iouw_scn_parse_int(buf, &v) || v < INT32_MIN || v > INT32_MAX)
			return fail(p, w->col, "a 32-bit result like 0, 3, -ECANCELED (alternatives "
			                       "separated by '|')");
		if (w->nalts == IOUW_SCN_MAX_ALTS)
			return fail(p, w->col, "at most %d alternatives", IOUW_SCN_MAX_ALTS);
		w->alts[w->nalts++] = (int32_t)v;
		s += n;
		if (*s == '|' && !*++s)
			return fail(p, w->col, "a result after '|'");
	}
	w->i = w->alts[0];
	return true;
}

static bool v_choice(struct parser *p, struct iouw_scn_arg *w, const struct iouw_scn_param *pa)
{
	if (!w->quoted)
		for (size_t i = 0; pa->choices[i]; i++)
			if (!strcmp(w->val, pa->choices[i])) {
				w->u = i;
				w->b = true;
				return true;
			}
	return fail(p, w->col, "%s", pa->what ? pa->what : "one of the listed words");
}

static bool v_err(struct parser *p, struct iouw_scn_arg *w)
{
	int e;

	if (!w->quoted && lookup_errname(w->val, &e)) {
		w->i = e;
		return true;
	}
	if (!w->quoted && iouw_scn_parse_int(w->val, &w->i) && w->i >= 0 && w->i < 4096)
		return true;
	return fail(p, w->col, "an errno name like EPIPE, or 0");
}

static bool v_str(struct parser *p, struct iouw_scn_arg *w, const struct iouw_scn_param *pa)
{
	if (!w->quoted)
		return fail(p, w->col, "%s", pa->key ? "a quoted string" : pa->what);
	if ((pa->flags & IOUW_SCN_F_NONEMPTY) && w->val_len == 0)
		return pa->key ? fail(p, w->col, "a non-empty %s string", pa->key)
		               : fail(p, w->col, "a non-empty string");
	return true;
}

static bool v_bool(struct parser *p, struct iouw_scn_arg *w)
{
	if (w->quoted || !iouw_scn_parse_bool(w->val, &w->b))
		return fail(p, w->col, "a boolean (0, 1, true, false)");
	return true;
}

static bool v_u64(struct parser *p, struct iouw_scn_arg *w)
{
	if (w->quoted || !iouw_scn_parse_u64(w->val, &w->u))
		return fail(p, w->col, "an unsigned 64-bit integer (decimal or 0x-hex)");
	return true;
}

/* Either "none" or a value of the param's duration type. */
static bool v_none_or(struct parser *p, struct iouw_scn_arg *w, const struct iouw_scn_param *pa,
                      bool relative)
{
	if (!w->quoted && !strcmp(w->val, "none")) {
		w->none = true;
		return true;
	}
	return v_dur(p, w, pa, relative);
}

static bool v_req(struct parser *p, struct iouw_scn_arg *w, const struct iouw_scn_param *pa)
{
	if ((pa->flags & IOUW_SCN_F_NONE) && !w->quoted && !strcmp(w->val, "none")) {
		w->none = true;
		return true;
	}
	return use_request(p, w);
}

/* Check @w against @pa and store its typed value; @op: the command's. */
static bool check_value(struct parser *p, struct iouw_scn_arg *w, const struct iouw_scn_param *pa,
                        enum iouw_scn_op op)
{
	w->param = pa;
	if ((pa->flags & IOUW_SCN_F_NONE) && !w->quoted && !strcmp(w->val, "none")) {
		w->none = true;
		return true;
	}
	switch (pa->type) {
	case IOUW_SCN_T_INT: return v_int(p, w, pa);
	case IOUW_SCN_T_U64: return v_u64(p, w);
	case IOUW_SCN_T_DUR: return v_dur(p, w, pa, false);
	case IOUW_SCN_T_RELDUR: return v_dur(p, w, pa, true);
	case IOUW_SCN_T_DEADLINE: return v_none_or(p, w, pa, true);
	case IOUW_SCN_T_SHUTDOWN: return v_none_or(p, w, pa, false);
	case IOUW_SCN_T_BOOL: return v_bool(p, w);
	case IOUW_SCN_T_STR: return v_str(p, w, pa);
	case IOUW_SCN_T_RES: return v_res_alts(p, w);
	case IOUW_SCN_T_ERR: return v_err(p, w);
	case IOUW_SCN_T_ENUM:
	case IOUW_SCN_T_WORD: return v_choice(p, w, pa);
	case IOUW_SCN_T_REQ: return v_req(p, w, pa);
	case IOUW_SCN_T_FD:
	case IOUW_SCN_T_STREAM:
	case IOUW_SCN_T_SOCKET:
	case IOUW_SCN_T_FILE: return use_fd(p, w, pa->type);
	case IOUW_SCN_T_NEW: return define_name(p, w, (enum iouw_scn_name_kind)pa->lo, (int)op);
	}
	return fail(p, w->col, "a value");
}

/* Whether an OPTIONAL positional @pa takes @w (or leaves it to the next). */
static bool optional_takes(const struct iouw_scn_param *pa, const struct iouw_scn_arg *w)
{
	int64_t v;

	switch (pa->type) {
	case IOUW_SCN_T_WORD:
	case IOUW_SCN_T_ENUM:
		for (size_t i = 0; !w->quoted && pa->choices[i]; i++)
			if (!strcmp(w->val, pa->choices[i]))
				return true;
		return false;
	case IOUW_SCN_T_INT: return !w->quoted && iouw_scn_parse_int(w->val, &v);
	case IOUW_SCN_T_STR: return w->quoted;
	case IOUW_SCN_T_U64:
	case IOUW_SCN_T_DUR:
	case IOUW_SCN_T_RELDUR:
	case IOUW_SCN_T_DEADLINE:
	case IOUW_SCN_T_SHUTDOWN:
	case IOUW_SCN_T_BOOL:
	case IOUW_SCN_T_RES:
	case IOUW_SCN_T_ERR:
	case IOUW_SCN_T_REQ:
	case IOUW_SCN_T_FD:
	case IOUW_SCN_T_STREAM:
	case IOUW_SCN_T_SOCKET:
	case IOUW_SCN_T_FILE:
	case IOUW_SCN_T_NEW: return !w->quoted;
	}
	return false;
}

static bool no_more(struct parser *p, size_t idx)
{
	if (idx < p->nwords)
		return fail(p, p->words[idx].col, "end of line");
	return true;
}

static int line_end_col(const struct parser *p, size_t idx)
{
	return idx < p->nwords ? p->words[idx].col : (int)p->line_len + 1;
}

/* The keys of @c as "a=, b=" (with_eq) or "a, b" into @buf. */
static const char *key_list(const struct iouw_scn_cmd *c, bool with_eq, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < c->nparams; k++)
		if (c->params[k].key && n + strlen(c->params[k].key) + 4 < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s%s", n ? ", " : "",
			                      c->params[k].key, with_eq ? "=" : "");
	return buf;
}

/* A positional word no param takes. @skipped: the first optional param
 * that passed it by. */
static bool stray_word(struct parser *p, const struct iouw_scn_cmd *c,
                       const struct iouw_scn_arg *w, const struct iouw_scn_param *skipped)
{
	char keys[512];

	if (skipped)
		return fail(p, w->col, "%s", skipped->what);
	if (*key_list(c, true, keys, sizeof(keys)))
		return fail(p, w->col, "a key=value argument (%s)", keys);
	return fail(p, w->col, "end of line");
}

/* The positional words from @first on against @c's positional params;
 * *ret_next: the first keyed word. */
static bool match_positional(struct parser *p, const struct iouw_scn_cmd *c, size_t first,
                             size_t *ret_next)
{
	size_t i = first, k = 0;
	size_t taken = 0; /* words the current param k took */

	for (; i < p->nwords && !p->words[i].key; i++) {
		struct iouw_scn_arg *w = &p->words[i];
		const struct iouw_scn_param *skipped = NULL;

		for (;; k++, taken = 0) {
			const struct iouw_scn_param *pa = &c->params[k];
			bool must = (pa->flags & IOUW_SCN_F_REQUIRED) && taken == 0;

			if (k >= c->nparams || pa->key)
				return stray_word(p, c, w, skipped);
			if (taken && !(pa->flags & IOUW_SCN_F_REPEAT))
				continue;
			if (must || optional_takes(pa, w))
				break;
			if (!skipped)
				skipped = pa;
		}
		if (!check_value(p, w, &c->params[k], c->op))
			return false;
		taken++;
	}
	for (; k < c->nparams && !c->params[k].key; k++, taken = 0)
		if ((c->params[k].flags & IOUW_SCN_F_REQUIRED) && !taken)
			return fail(p, line_end_col(p, i), "%s", c->params[k].what);
	*ret_next = i;
	return true;
}

/* The key=value words from @first on against @c's keys. */
static bool match_keys(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	unsigned seen[IOUW_SCN_MAX_ARGS + 3] = { 0 };
	char keys[512];

	for (size_t i = first; i < p->nwords; i++) {
		struct iouw_scn_arg *w = &p->words[i];
		size_t k;

		if (!w->key)
			return stray_word(p, c, w, NULL);
		for (k = 0; k < c->nparams; k++)
			if (c->params[k].key && !strcmp(w->key, c->params[k].key))
				break;
		if (k == c->nparams)
			return fail(p, w->col, "one of the keys: %s",
			            *key_list(c, false, keys, sizeof(keys)) ? keys : "(none)");
		if (seen[k]++ && !(c->params[k].flags & IOUW_SCN_F_REPEAT))
			return fail(p, w->col, "key '%s' only once", w->key);
		if (!check_value(p, w, &c->params[k], c->op))
			return false;
	}
	for (size_t k = 0; k < c->nparams; k++)
		if (c->params[k].key && (c->params[k].flags & IOUW_SCN_F_REQUIRED) && !seen[k])
			return fail(p, p->words[0].col, "key %s= on this line", c->params[k].key);
	return true;
}

/* The word of this line matched to @c's param @k (the first), or NULL. */
static struct iouw_scn_arg *word_of(struct parser *p, const struct iouw_scn_cmd *c, size_t k)
{
	for (size_t i = 1; i < p->nwords; i++)
		if (p->words[i].param == &c->params[k])
			return &p->words[i];
	return NULL;
}

static struct iouw_scn_arg *word_key(struct parser *p, const char *key)
{
	for (size_t i = 1; i < p->nwords; i++)
		if (p->words[i].key && !strcmp(p->words[i].key, key))
			return &p->words[i];
	return NULL;
}

/* ---- per-command rules beyond the table (CHECK column) ------------------------- */

typedef bool (*check_fn)(struct parser *p, const struct iouw_scn_cmd *c, size_t first);

static bool chk_none(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)p, (void)c, (void)first;
	return true;
}

static bool chk_modes(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c;
	if (p->seen_modes)
		return fail(p, p->words[0].col, "a single modes line");
	if (p->either)
		return fail(p, p->words[0].col, "modes outside either/or blocks");
	p->s->modes = 0;
	for (size_t i = first; i < p->nwords; i++)
		p->s->modes |= p->words[i].u == 0 ? IOUW_SCN_MODE_KERNEL : IOUW_SCN_MODE_INJECT;
	p->seen_modes = true;
	return true;
}

static bool chk_kernel(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c;
	if (p->seen_kernel)
		return fail(p, p->words[0].col, "a single kernel line");
	if (p->either)
		return fail(p, p->words[0].col, "kernel outside either/or blocks");
	p->seen_kernel = true;
	if (p->words[first].u == 0) { /* legal */
		if (p->nwords > first + 1)
			return fail(p, p->words[first + 1].col, "no rule after 'kernel legal'");
		return true;
	}
	if (p->nwords == first + 1)
		return fail(p, p->words[0].col, "the hostile rules exercised (kernel hostile H1 ...)");
	for (size_t i = first + 1; i < p->nwords; i++)
		p->s->kernel_hostile |= UINT32_C(1) << (p->words[i].u + 1);
	return true;
}

static bool chk_negative(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c, (void)first;
	p->s->negative_line = (int)word_key(p, "line")->i;
	return true;
}

static bool chk_config(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	const struct iouw_scn_arg *ring = word_key(p, "ring");

	(void)c, (void)first;
	if (p->seen_config || p->seen_creation || p->either)
		return fail(p, p->words[0].col, "config once, before any fd or request is created");
	p->seen_config = true;
	p->ring = ring ? (uint32_t)ring->i : 8;
	return true;
}

static bool chk_create_fd(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c, (void)first;
	if (p->either)
		return fail(p, p->words[0].col, "fds created outside either/or blocks");
	p->seen_creation = true;
	return true;
}

static bool chk_create_req(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c, (void)first;
	if (p->either)
		return fail(p, p->words[0].col, "requests created outside either/or blocks");
	return true;
}

static bool chk_create_recv(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	const struct iouw_scn_arg *cap = word_key(p, "capacity"), *pf = word_key(p, "prefix");
	int64_t capv = cap ? cap->i : word_key(p, "len")->i;

	if (pf && pf->val_len > (uint64_t)capv)
		return fail(p, p->words[0].col, "a prefix no longer than the capacity");
	return chk_create_req(p, c, first);
}

/* set_generation's slot against the table size: checked once the whole
 * script is read (check_slots), as a config line may come later. */
static bool chk_set_generation(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)p, (void)c, (void)first;
	return true;
}

static bool chk_cqe(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	struct iouw_scn_arg *ud = word_key(p, "ud"), *at = word_key(p, "at_wait");
	struct iouw_scn_arg *req = word_of(p, c, 1), *which = word_of(p, c, 2);

	if (ud) {
		if (first < p->nwords && !p->words[first].key)
			return fail(p, p->words[first].col, "either a request name or ud=, not both");
		if (at)
			return fail(p, at->col, "at_wait= only with a request name (not with ud=)");
		return true;
	}
	if (!req)
		return fail(p, line_end_col(p, word_of(p, c, 0) ? first + 1 : first),
		            "a request name or ud=");
	if (!which)
		return fail(p, line_end_col(p, (size_t)(req - p->words) + 1), "op or cancel");
	return true;
}

static bool chk_clock(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c;
	if (p->words[first].i < 0)
		return fail(p, p->words[first].col, "a relative time like +5ms (the clock only "
		                                    "moves forward)");
	return true;
}

static bool chk_expect_sqe(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	const struct iouw_scn_arg *req = word_of(p, c, 0);

	if (req->none)
		return first + 1 < p->nwords ? fail(p, p->words[first + 1].col, "end of line") : true;
	if (!word_of(p, c, 1) && !word_key(p, "op"))
		return fail(p, line_end_col(p, first + 1), "op, op=OPCODE or cancel");
	return true;
}

static bool chk_expect_admit(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	if (word_of(p, c, 1) && first + 2 < p->nwords)
		return fail(p, p->words[first + 2].col, "end of line");
	return true;
}

static bool chk_expect_result(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	const struct iouw_scn_arg *st = word_of(p, c, 1), *v = word_of(p, c, 2);

	if (v && strcmp(st->val, "ok"))
		return fail(p, v->col, "a value only after ok");
	if (!strcmp(st->val, "pending") && first + 2 < p->nwords)
		return fail(p, p->words[first + 2].col, "end of line");
	return true;
}

static bool chk_expect_table(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c;
	if (first >= p->nwords)
		return fail(p, p->words[1].col + 6, "at least one key=value fact");
	return true;
}

static bool chk_idlist(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c;
	for (size_t i = first; i < p->nwords; i++)
		if (p->words[i].none && i > first)
			return fail(p, p->words[i].col, "the name of a request defined above");
	if (p->words[first].none && first + 1 < p->nwords)
		return fail(p, p->words[first + 1].col, "end of line");
	return true;
}

/* expect outstanding: `none` alone, or at least one count. */
static bool chk_expect_outstanding(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	const struct iouw_scn_arg *none = word_of(p, c, 0);

	if (none && first + 1 < p->nwords)
		return fail(p, p->words[first + 1].col, "end of line");
	if (first >= p->nwords)
		return fail(p, line_end_col(p, first), "none or at least one of fds=, requests=, "
		                                       "handles=, buffers=");
	return true;
}

/* expect wait: at least one fact. */
static bool chk_expect_wait(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	(void)c;
	if (first >= p->nwords)
		return fail(p, line_end_col(p, first), "at least one of blocked=, bound=, moved=");
	return true;
}

static bool chk_expect_abort(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	const struct iouw_scn_arg *w = &p->words[first];

	(void)c;
	if (strlen(w->val) != w->val_len)
		return fail(p, w->col, "a non-empty invariant name");
	if (p->either)
		return fail(p, p->words[0].col, "expect abort outside either/or blocks");
	return true;
}

static struct iouw_scn_block *current_block(struct parser *p);

/* ---- repeat N ... end: expanded here, so the runner sees plain steps ------- */

static bool repeat_innermost(const struct parser *p)
{
	return p->nrep > 0 && p->rep[p->nrep - 1].nopen == p->nopen;
}

/* Steps and bytes (text and arguments) of @st, its branches included. */
static void step_size(const struct iouw_scn_step *st, uint64_t *steps, uint64_t *bytes)
{
	*steps += 1;
	*bytes += strlen(st->text) + 1;
	for (size_t i = 0; i < st->nargs; i++)
		*bytes += st->args[i].val_len + 1 + (st->args[i].key ? strlen(st->args[i].key) + 1 : 0);
	for (size_t b = 0; b < st->nbranches; b++)
		for (size_t i = 0; i < st->branches[b].n; i++)
			step_size(&st->branches[b].steps[i], steps, bytes);
}

/* Set the repeat tags of @st (and its branches) that belong to the repeat
 * at @line (untagged ones are claimed for it: it is their innermost). */
static void tag_step(struct iouw_scn_step *st, int line, uint32_t iter, uint32_t count)
{
	if (st->repeat_line == 0 || st->repeat_line == line) {
		st->repeat_line = line;
		st->repeat_iter = iter;
		st->repeat_count = count;
	}
	for (size_t b = 0; b < st->nbranches; b++)
		for (size_t i = 0; i < st->branches[b].n; i++)
			tag_step(&st->branches[b].steps[i], line, iter, count);
}

static bool copy_block(struct iouw_scn_block *dst, const struct iouw_scn_block *src);

/* Copy @src into *@dst for a repeat's expansion. The text and arguments
 * are shared with the original (a copy never frees them: repeat_copy), so
 * a copy costs no allocation unless it is an either block, whose branches
 * are copied (each copy carries its own iteration tags). false when out of
 * memory (whatever was copied is owned by *@dst and freed with it). */
static bool copy_step(struct iouw_scn_step *dst, const struct iouw_scn_step *src)
{
	*dst = *src;
	dst->repeat_copy = true;
	dst->branches = NULL;
	dst->nbranches = 0;
	if (src->nbranches) {
		dst->branches = calloc(src->nbranches, sizeof(*dst->branches));
		if (!dst->branches)
			return false;
		dst->nbranches = src->nbranches;
		for (size_t b = 0; b < src->nbranches; b++)
			if (!copy_block(&dst->branches[b], &src->branches[b]))
				return false;
	}
	return true;
}

static bool copy_block(struct iouw_scn_block *dst, const struct iouw_scn_block *src)
{
	dst->steps = calloc(src->n ? src->n : 1, sizeof(*dst->steps));
	if (!dst->steps)
		return false;
	dst->cap = src->n;
	for (size_t i = 0; i < src->n; i++) {
		dst->n = i + 1;
		if (!copy_step(&dst->steps[i], &src->steps[i]))
			return false;
	}
	return true;
}

/* repeat N (its count typed by the command table): open a repeat block in
 * the current block (the parser keeps no step for the line). */
static bool chk_repeat(struct parser *p, const struct iouw_scn_cmd *c, size_t first)
{
	const struct iouw_scn_arg *w = &p->words[0];

	(void)c;
	if (p->nopen + p->nrep >= IOUW_SCN_MAX_NESTING)
		return fail(p, w->col, "at most %d nested either/repeat blocks", IOUW_SCN_MAX_NESTING);
	if (p->either) {
		if (!p->branch_has_guard)
			return fail(p, w->col, "a cqe line first in each branch");
		p->branch_guard_open = false;
	}
	p->rep[p->nrep].blk = current_block(p);
	p->rep[p->nrep].start = current_block(p)->n;
	p->rep[p->nrep].count = (uint32_t)p->words[first].i;
	p->rep[p->nrep].line = p->line;
	p->rep[p->nrep].col = w->col;
	p->rep[p->nrep].nopen = p->nopen;
	p->nrep++;
	return true;
}

/* end of the innermost repeat: append count-1 copies of its body. */
static bool close_repeat(struct parser *p)
{
	typeof(p->rep[0]) *rp = &p->rep[p->nrep - 1];
	struct iouw_scn_block *b = rp->blk;
	size_t m = b->n - rp->start;
	uint64_t steps = 0, bytes = 0;

	if (m == 0)
		return fail(p, p->words[0].col, "at least one step between 'repeat' and 'end'");
	for (size_t i = rp->start; i < b->n; i++) {
		step_size(&b->steps[i], &steps, &bytes);
		tag_step(&b->steps[i], rp->line, 1, rp->count);
	}
	if (p->total_steps + (rp->count - 1) * steps > IOUW_SCN_MAX_STEPS ||
	    p->total_bytes + (rp->count - 1) * bytes > IOUW_SCN_MAX_EXPANDED_BYTES) {
		p->line = rp->line; /* the error names the repeat line */
		return fail(p, rp->col, "a repeat whose expansion stays within %d steps and %u MiB "
		            "(%u x %llu steps, %llu bytes; %zu other steps)", IOUW_SCN_MAX_STEPS,
		            IOUW_SCN_MAX_EXPANDED_BYTES >> 20, rp->count, (unsigned long long)steps,
		            (unsigned long long)bytes, p->total_steps - (size_t)steps);
	}
	if (b->cap < b->n + (rp->count - 1) * m) {
		struct iouw_scn_step *ns = realloc(b->steps, (b->n + (rp->count - 1) * m) * sizeof(*ns));

		if (!ns) {
			p->oom = true;
			return fail(p, rp->col, "memory");
		}
		b->steps = ns;
		b->cap = b->n + (rp->count - 1) * m;
	}
	for (uint32_t k = 2; k <= rp->count; k++)
		for (size_t i = 0; i < m; i++) {
			struct iouw_scn_step *dst = &b->steps[b->n];
			bool ok = copy_step(dst, &b->steps[rp->start + i]);

			b->n++; /* owned by the block even when half copied */
			if (!ok) {
				p->oom = true;
				return fail(p, rp->col, "memory");
			}
			tag_step(dst, rp->line, k, rp->count);
		}
	p->total_steps += (rp->count - 1) * steps;
	p->total_bytes += (rp->count - 1) * bytes;
	p->nrep--;
	return true;
}

/* Commands a repeat body cannot hold: they define names or apply once. */
static bool refuse_in_repeat(struct parser *p, enum iouw_scn_op op)
{
	static const bool once[IOUW_SCN_NOPS] = {
		[IOUW_SCN_MODES] = true,      [IOUW_SCN_NEGATIVE] = true, [IOUW_SCN_CONFIG] = true,
		[IOUW_SCN_KERNEL] = true,
		[IOUW_SCN_SOCKETPAIR] = true, [IOUW_SCN_PIPE] = true,     [IOUW_SCN_FILE] = true,
		[IOUW_SCN_SEND] = true,       [IOUW_SCN_RECV] = true,     [IOUW_SCN_READ_AT] = true,
		[IOUW_SCN_WRITE_AT] = true,   [IOUW_SCN_SYNC] = true,     [IOUW_SCN_EXPECT_ABORT] = true,
	};

	if (!once[op])
		return true;
	return fail(p, p->words[0].col, "no fd, request, modes, kernel, negative, config or expect "
	                                "abort line inside a repeat block (opened at line %d)",
	            p->rep[p->nrep - 1].line);
}

#define CHECK_ROW(op, name, params, chk, ...) [IOUW_SCN_##op] = chk,
static const check_fn checks[IOUW_SCN_NOPS] = { IOUW_SCN_COMMANDS(CHECK_ROW) };
#undef CHECK_ROW

/* ---- steps ------------------------------------------------------------------- */

static struct iouw_scn_block *current_block(struct parser *p)
{
	if (p->either)
		return &p->either->branches[p->either->nbranches - 1];
	return &p->s->body;
}

/* Enter @st (a new either block): the enclosing block's guard state is
 * saved and restored by leave_either(). */
static void enter_either(struct parser *p, struct iouw_scn_step *st)
{
	if (p->either) {
		/* The nested block is a step after the enclosing guard. */
		p->open[p->nopen - 1].branch_has_guard = p->branch_has_guard;
		p->open[p->nopen - 1].branch_guard_open = false;
	}
	p->open[p->nopen].step = st;
	p->nopen++;
	p->either = st;
	p->branch_has_guard = false;
	p->branch_guard_open = true;
}

static void leave_either(struct parser *p)
{
	p->nopen--;
	p->either = p->nopen ? p->open[p->nopen - 1].step : NULL;
	if (p->either) {
		p->branch_has_guard = p->open[p->nopen - 1].branch_has_guard;
		p->branch_guard_open = p->open[p->nopen - 1].branch_guard_open;
	}
}

static struct iouw_scn_step *append_step(struct parser *p, struct iouw_scn_block *b,
                                         enum iouw_scn_op op, const char *line, size_t len,
                                         int col)
{
	struct iouw_scn_step *st;

	if (p->total_steps >= IOUW_SCN_MAX_STEPS) {
		fail(p, col, "at most %d steps", IOUW_SCN_MAX_STEPS);
		return NULL;
	}
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		struct iouw_scn_step *ns = realloc(b->steps, nc * sizeof(*ns));

		if (!ns) {
			p->oom = true;
			fail(p, col, "memory");
			return NULL;
		}
		b->steps = ns;
		b->cap = nc;
	}
	st = &b->steps[b->n];
	memset(st, 0, sizeof(*st));
	st->op = op;
	st->cmd = iouw_scn_cmd(op);
	st->line = p->line;
	st->col = col;
	st->text = dup_range(p, line, len);
	if (!st->text) {
		fail(p, col, "memory");
		return NULL;
	}
	b->n++;
	p->total_steps++;
	return st;
}

/* Move the words from @first on into @st's args. */
static bool take_args(struct parser *p, struct iouw_scn_step *st, size_t first)
{
	size_t n = p->nwords > first ? p->nwords - first : 0;

	if (n == 0)
		return true;
	st->args = calloc(n, sizeof(*st->args));
	if (!st->args) {
		p->oom = true;
		return fail(p, st->col, "memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct iouw_scn_arg *w = &p->words[first + i];

		st->args[i] = *w;
		w->key = NULL;
		w->val = NULL;
	}
	st->nargs = n;
	return true;
}

/* The row for this line's command words, or an error naming the commands. */
static const struct iouw_scn_cmd *find_command(struct parser *p, size_t *ret_first)
{
	const struct iouw_scn_arg *c = &p->words[0], *w2 = p->nwords > 1 ? &p->words[1] : NULL;
	const struct iouw_scn_cmd *cmd;
	size_t npos = 0, nw = 1;
	char list[512];

	if (c->key || c->quoted)
		return fail(p, c->col, "a command word"), NULL;
	while (npos + 1 < p->nwords && !p->words[npos + 1].key)
		npos++;
	cmd = iouw_scn_cmd_find(c->val, w2 && !w2->key && !w2->quoted ? w2->val : NULL, npos, &nw);
	if (cmd) {
		*ret_first = nw;
		return cmd;
	}
	if (*iouw_scn_cmd_sublist(c->val, list, sizeof(list))) {
		const char *what = !strcmp(c->val, "expect") ? "what to expect" : "a peer action";

		return fail(p, line_end_col(p, 1), "%s (%s)", what, list), NULL;
	}
	return fail(p, c->col, "a command (%s)", iouw_scn_cmd_list(list, sizeof(list))), NULL;
}

/* Validate the words of one command line against its row. Returns the op
 * and the index of the first argument word kept in the step, or false. */
static bool validate(struct parser *p, enum iouw_scn_op *ret_op, size_t *ret_first)
{
	size_t first = 1, keys = 0;
	const struct iouw_scn_cmd *c = find_command(p, &first);

	if (!c || !match_positional(p, c, first, &keys) || !match_keys(p, c, keys) ||
	    !checks[c->op](p, c, first))
		return false;
	*ret_op = c->op;
	*ret_first = first;
	return true;
}

/* The waiter table's size for ring size @ring: the loop rounds it up to a
 * power of two (iouw_loop_config_normalize). */
static uint32_t table_size(uint32_t ring)
{
	uint32_t n = 1;

	while (n < ring)
		n <<= 1;
	return n;
}

/* Every slot set_generation and expect slot name below the table size
 * (config ring=, rounded up to a power of two as the loop does; 8 without
 * config). */
static bool check_slots(struct parser *p, const struct iouw_scn_block *b, uint32_t cap)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct iouw_scn_step *st = &b->steps[i];
		const struct iouw_scn_arg *slot = NULL;

		if (st->op == IOUW_SCN_SET_GENERATION)
			slot = iouw_scn_key(st, "slot");
		else if (st->op == IOUW_SCN_EXPECT_SLOT)
			slot = iouw_scn_pos(st, 0);
		for (size_t j = 0; j < st->nbranches; j++)
			if (!check_slots(p, &st->branches[j], cap))
				return false;
		if (!slot || (uint64_t)slot->i < cap)
			continue;
		p->line = st->line;
		return fail(p, slot->col, "a slot in [0, %u] (the waiter table has %u slots: the "
		                          "ring size rounded up to a power of two)", cap - 1, cap);
	}
	return true;
}

static bool handle_block_word(struct parser *p, const char *line, size_t len)
{
	const struct iouw_scn_arg *c = &p->words[0];
	const char *cmd = c->val;
	struct iouw_scn_block *nb;
	struct iouw_scn_step *st;

	if (!strcmp(cmd, "either")) {
		if (!no_more(p, 1))
			return false;
		if (p->nopen + p->nrep >= IOUW_SCN_MAX_NESTING)
			return fail(p, c->col, "at most %d nested either%s blocks",
			            IOUW_SCN_MAX_NESTING, p->nrep ? "/repeat" : "");
		if (p->either && !p->branch_has_guard)
			return fail(p, c->col, "a cqe line first in each branch");
		st = append_step(p, current_block(p), IOUW_SCN_EITHER, line, len, c->col);
		if (!st)
			return false;
		st->branches = calloc(1, sizeof(*st->branches));
		if (!st->branches) {
			p->oom = true;
			return fail(p, c->col, "memory");
		}
		st->nbranches = 1;
		enter_either(p, st);
		return true;
	}
	if (!strcmp(cmd, "or")) {
		if (!no_more(p, 1))
			return false;
		if (repeat_innermost(p))
			return fail(p, c->col, "'end' to close the repeat block opened at line %d "
			                       "before 'or'", p->rep[p->nrep - 1].line);
		if (!p->either)
			return fail(p, c->col, "'or' only inside an either block");
		if (!p->branch_has_guard)
			return fail(p, c->col, "a cqe line to start the branch before 'or'");
		if (p->either->nbranches >= 16)
			return fail(p, c->col, "at most 16 branches");
		nb = realloc(p->either->branches, (p->either->nbranches + 1) * sizeof(*nb));
		if (!nb) {
			p->oom = true;
			return fail(p, c->col, "memory");
		}
		memset(&nb[p->either->nbranches], 0, sizeof(*nb));
		p->either->branches = nb;
		p->either->nbranches++;
		p->branch_has_guard = false;
		p->branch_guard_open = true;
		return true;
	}
	/* end */
	if (!no_more(p, 1))
		return false;
	if (repeat_innermost(p))
		return close_repeat(p);
	if (!p->either)
		return fail(p, c->col, "'end' only after an either block");
	if (!p->branch_has_guard)
		return fail(p, c->col, "a cqe line to start the branch before 'end'");
	if (p->either->nbranches < 2)
		return fail(p, c->col, "at least one 'or' branch before 'end'");
	leave_either(p);
	return true;
}

static bool parse_line(struct parser *p, const char *line, size_t len)
{
	enum iouw_scn_op op = IOUW_SCN_MODES;
	size_t first;
	struct iouw_scn_step *st;
	const char *cmd;

	if (!lex_line(p, line, len))
		return false;
	if (p->nwords == 0)
		return true;
	cmd = p->words[0].val;
	if (!p->words[0].key && !p->words[0].quoted &&
	    (!strcmp(cmd, "either") || !strcmp(cmd, "or") || !strcmp(cmd, "end")))
		return handle_block_word(p, line, len);
	if (!validate(p, &op, &first))
		return false;
	if (op == IOUW_SCN_REPEAT)
		return true; /* opened by chk_repeat; expanded at its end */
	if (p->nrep && !refuse_in_repeat(p, op))
		return false;
	if (p->either) {
		if (op == IOUW_SCN_CQE) {
			if (p->branch_guard_open)
				p->branch_has_guard = true;
		} else {
			if (!p->branch_has_guard)
				return fail(p, p->words[0].col, "a cqe line first in each branch");
			p->branch_guard_open = false;
		}
	}
	st = append_step(p, current_block(p), op, line, len, p->words[0].col);
	if (!st)
		return false;
	return take_args(p, st, first);
}

static void free_block(struct iouw_scn_block *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct iouw_scn_step *st = &b->steps[i];

		for (size_t j = 0; j < st->nargs && !st->repeat_copy; j++) {
			free(st->args[j].key);
			free(st->args[j].val);
		}
		if (!st->repeat_copy) {
			/* a repeat's copies share these with the original */
			free(st->args);
			free(st->text);
		}
		for (size_t j = 0; j < st->nbranches; j++)
			free_block(&st->branches[j]);
		free(st->branches);
	}
	free(b->steps);
}

void iouw_scenario_free(struct iouw_scenario *s)
{
	if (!s)
		return;
	free_block(&s->body);
	free(s->name);
	free(s);
}

int iouw_scenario_parse(const char *name, const char *text, size_t len, struct iouw_scenario **ret,
                        char *err, size_t errlen)
{
	struct parser p;
	size_t pos = 0;
	int r = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!name || (!text && len) || !ret) {
		if (err && errlen)
			snprintf(err, errlen, "iouwait: error: expected a name, text and result pointer");
		return -EINVAL;
	}
	memset(&p, 0, sizeof(p));
	p.fname = name;
	p.err = err;
	p.errlen = errlen;
	p.s = calloc(1, sizeof(*p.s));
	if (!p.s)
		return -ENOMEM;
	p.s->modes = IOUW_SCN_MODE_KERNEL | IOUW_SCN_MODE_INJECT;
	p.s->name = strdup(name);
	if (!p.s->name) {
		free(p.s);
		return -ENOMEM;
	}
	while (pos < len || (pos == len && len == 0 && p.line == 0)) {
		const char *nl = len ? memchr(text + pos, '\n', len - pos) : NULL;
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t llen = end - pos;

		if (p.line == INT32_MAX - 1) {
			fail(&p, 1, "fewer lines");
			break;
		}
		p.line++;
		if (llen > 0 && text[pos + llen - 1] == '\r')
			llen--;
		if (llen > 0 && !parse_line(&p, text + pos, llen)) {
			free_words(&p);
			break;
		}
		free_words(&p);
		pos = end + 1;
		if (!nl)
			break;
	}
	if (!p.failed && repeat_innermost(&p)) {
		p.line = p.rep[p.nrep - 1].line;
		fail(&p, p.rep[p.nrep - 1].col, "'end' to close this repeat block");
	} else if (!p.failed && p.either) {
		p.line = p.either->line;
		fail(&p, p.either->col, "'end' to close this either block");
	}
	if (!p.failed)
		check_slots(&p, &p.s->body, table_size(p.ring ? p.ring : 8));
	if (p.failed) {
		r = p.oom ? -ENOMEM : -EINVAL;
		iouw_scenario_free(p.s);
		return r;
	}
	*ret = p.s;
	return 0;
}

const struct iouw_scn_arg *iouw_scn_pos(const struct iouw_scn_step *st, size_t i)
{
	for (size_t j = 0; j < st->nargs; j++) {
		if (st->args[j].key)
			continue;
		if (i == 0)
			return &st->args[j];
		i--;
	}
	return NULL;
}

const struct iouw_scn_arg *iouw_scn_at(const struct iouw_scn_step *st, size_t k)
{
	for (size_t j = 0; j < st->nargs; j++)
		if (st->args[j].param == &st->cmd->params[k])
			return &st->args[j];
	return NULL;
}

const struct iouw_scn_arg *iouw_scn_key(const struct iouw_scn_step *st, const char *key)
{
	for (size_t j = 0; j < st->nargs; j++)
		if (st->args[j].key && !strcmp(st->args[j].key, key))
			return &st->args[j];
	return NULL;
}

/* The param of @st's row keyed @key. */
static const struct iouw_scn_param *row_key(const struct iouw_scn_step *st, const char *key)
{
	for (size_t k = 0; k < st->cmd->nparams; k++)
		if (st->cmd->params[k].key && !strcmp(st->cmd->params[k].key, key))
			return &st->cmd->params[k];
	IOUW_INVARIANT(false, "scenario key not in the command table");
	return NULL;
}

int64_t iouw_scn_int(const struct iouw_scn_step *st, const char *key)
{
	const struct iouw_scn_param *pa = row_key(st, key);
	const struct iouw_scn_arg *a = iouw_scn_key(st, key);

	if (!a)
		return pa->dflt;
	return pa->type == IOUW_SCN_T_INT || pa->type == IOUW_SCN_T_ERR ? a->i : (int64_t)a->u;
}

bool iouw_scn_flag(const struct iouw_scn_step *st, const char *key)
{
	const struct iouw_scn_param *pa = row_key(st, key);
	const struct iouw_scn_arg *a = iouw_scn_key(st, key);

	IOUW_INVARIANT(pa->type == IOUW_SCN_T_BOOL, "scenario flag that is not a boolean");
	return a ? a->b : pa->dflt != 0;
}
