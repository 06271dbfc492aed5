/* harness/scenario.c: the scenario parser (see scenario.h for the contract
 * and harness/README.md for the language).
 *
 * Structure: a lexer turns one line into words (bare, quoted, key=value),
 * each with its byte column; a per-command validator checks the words
 * against the command's grammar and the name table; steps are appended to
 * the current block (the body, or the open either/or branch). Everything is
 * bounded (IOUW_SCN_MAX_*) and every failure is one formatted error, so
 * arbitrary input never crashes or aborts the parser.
 */
#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct word {
	char *key; /* NULL: positional */
	char *val;
	size_t val_len;
	bool quoted;
	int col;
};

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
	/* current line */
	struct word words[IOUW_SCN_MAX_ARGS + 3];
	size_t nwords;
	size_t line_len;
};

static bool fail(struct parser *p, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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

/* Lex a quoted string starting at line[*i] == '"'. */
static bool lex_quoted(struct parser *p, const char *line, size_t len, size_t *i, struct word *w)
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
		int out;

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
			unsigned char e;

			if (*i + 1 >= len) {
				free(buf);
				return fail(p, (int)*i + 2, "an escape character after '\\'");
			}
			e = (unsigned char)line[*i + 1];
			switch (e) {
			case 'n': out = '\n'; break;
			case 't': out = '\t'; break;
			case 'r': out = '\r'; break;
			case '0': out = 0; break;
			case '\\': out = '\\'; break;
			case '"': out = '"'; break;
			case 'x': {
				int h, l;

				if (*i + 3 >= len || (h = hexval((unsigned char)line[*i + 2])) < 0 ||
				    (l = hexval((unsigned char)line[*i + 3])) < 0) {
					free(buf);
					return fail(p, (int)*i + 3, "two hex digits after '\\x'");
				}
				out = h * 16 + l;
				*i += 2;
				break;
			}
			default:
				free(buf);
				return fail(p, (int)*i + 2,
				            "one of the escapes \\n \\t \\r \\0 \\\\ \\\" \\xHH");
			}
			*i += 2;
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
		struct word *w;
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

static bool valid_name(const struct word *w)
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

static bool define_name(struct parser *p, const struct word *w, enum iouw_scn_name_kind kind,
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
	return true;
}

static bool use_request(struct parser *p, const struct word *w)
{
	const struct iouw_scn_name *n;

	if (!valid_name(w))
		return fail(p, w->col, "a request name");
	n = iouw_scn_lookup(p->s, w->val);
	if (!n || n->kind != IOUW_SCN_NAME_REQUEST)
		return fail(p, w->col, "the name of a request defined above");
	return true;
}

static bool use_fd(struct parser *p, const struct word *w, bool socket_or_pipe)
{
	const struct iouw_scn_name *n;

	if (!valid_name(w))
		return fail(p, w->col, "an fd name");
	n = iouw_scn_lookup(p->s, w->val);
	if (!n || n->kind == IOUW_SCN_NAME_REQUEST)
		return fail(p, w->col, "the name of a socketpair, pipe or file defined above");
	if (socket_or_pipe && n->kind == IOUW_SCN_NAME_FILE)
		return fail(p, w->col, "the name of a socketpair or pipe (files have no peer)");
	return true;
}

/* ---- value checks ------------------------------------------------------------ */

static bool v_int(struct parser *p, const struct word *w, int64_t lo, int64_t hi)
{
	int64_t v;

	if (w->quoted || !iouw_scn_parse_int(w->val, &v) || v < lo || v > hi)
		return fail(p, w->col, "an integer in [%lld, %lld]", (long long)lo, (long long)hi);
	return true;
}

static bool v_u64(struct parser *p, const struct word *w)
{
	uint64_t v;

	if (w->quoted || !iouw_scn_parse_u64(w->val, &v))
		return fail(p, w->col, "an unsigned 64-bit integer (decimal or 0x-hex)");
	return true;
}

static bool v_dur(struct parser *p, const struct word *w, bool relative)
{
	uint64_t v;
	const char *s = w->val;

	if (relative) {
		/* "-D": a deadline already D in the past (explained fuzz inputs). */
		if (w->quoted || (*s != '+' && *s != '-'))
			return fail(p, w->col, "a relative time like +5ms");
		s++;
	}
	if (w->quoted || !iouw_scn_parse_duration(s, &v))
		return fail(p, w->col, "a duration like 5ms (units ns, us, ms, s)");
	return true;
}

static bool v_bool(struct parser *p, const struct word *w)
{
	bool b;

	if (w->quoted || !iouw_scn_parse_bool(w->val, &b))
		return fail(p, w->col, "a boolean (0, 1, true, false)");
	return true;
}

static bool v_str(struct parser *p, const struct word *w)
{
	if (!w->quoted)
		return fail(p, w->col, "a quoted string");
	return true;
}

static bool v_res_alts(struct parser *p, const struct word *w)
{
	const char *s = w->val;

	if (w->quoted)
		return fail(p, w->col, "a result like 0, 3, -ECANCELED or 0|-EALREADY");
	while (*s) {
		char buf[32];
		const char *bar = strchr(s, '|');
		size_t n = bar ? (size_t)(bar - s) : strlen(s);
		int64_t v;

		if (n == 0 || n >= sizeof(buf))
			return fail(p, w->col, "a result like 0, 3, -ECANCELED or 0|-EALREADY");
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (!iouw_scn_parse_int(buf, &v) || v < INT32_MIN || v > INT32_MAX)
			return fail(p, w->col, "a 32-bit result like 0, 3, -ECANCELED (alternatives "
			                       "separated by '|')");
		s += n;
		if (*s == '|') {
			s++;
			if (!*s)
				return fail(p, w->col, "a result after '|'");
		}
	}
	return true;
}

static bool v_enum(struct parser *p, const struct word *w, const char *const *choices,
                   const char *what)
{
	if (!w->quoted)
		for (size_t i = 0; choices[i]; i++)
			if (!strcmp(w->val, choices[i]))
				return true;
	return fail(p, w->col, "%s", what);
}

/* Key specification: name and value type. */
enum vtype { T_INT, T_UINT, T_U64, T_DUR, T_RELDUR, T_BOOL, T_STR, T_RES, T_OPCODE, T_NAME_REQ,
	     T_DEADLINE, T_SHUTDOWN, T_STATE, T_ERR, T_TICK };

struct keyspec {
	const char *key;
	enum vtype type;
	bool repeat;
	bool required;
};

static const char *const opcodes[] = { "SEND", "RECV", "READ", "WRITE", "WRITEV", "FSYNC",
	                               "ASYNC_CANCEL", "NOP", NULL };

static bool check_value(struct parser *p, const struct word *w, enum vtype t)
{
	static const char *const states[] = { "active", "cancel_requested", NULL };

	switch (t) {
	case T_INT: return v_int(p, w, INT64_MIN, INT64_MAX);
	case T_UINT: return v_int(p, w, 0, INT64_MAX);
	case T_U64: return v_u64(p, w);
	case T_DUR: return v_dur(p, w, false);
	case T_RELDUR: return v_dur(p, w, true);
	case T_BOOL: return v_bool(p, w);
	case T_STR: return v_str(p, w);
	case T_RES: return v_res_alts(p, w);
	case T_OPCODE:
		return v_enum(p, w, opcodes,
		              "an opcode (SEND RECV READ WRITE WRITEV FSYNC ASYNC_CANCEL NOP)");
	case T_NAME_REQ: return use_request(p, w);
	case T_DEADLINE:
		if (!w->quoted && !strcmp(w->val, "none"))
			return true;
		return v_dur(p, w, true);
	case T_SHUTDOWN:
		if (!w->quoted && !strcmp(w->val, "none"))
			return true;
		return v_dur(p, w, false);
	case T_STATE: return v_enum(p, w, states, "active or cancel_requested");
	case T_TICK: /* a wheel tick, or none (no deadline) */
		if (!w->quoted && !strcmp(w->val, "none"))
			return true;
		return v_int(p, w, 0, INT64_MAX);
	case T_ERR: {
		int e;
		int64_t v;

		if (!w->quoted && (lookup_errname(w->val, &e) ||
		                   (iouw_scn_parse_int(w->val, &v) && v >= 0 && v < 4096)))
			return true;
		return fail(p, w->col, "an errno name like EPIPE, or 0");
	}
	}
	return fail(p, w->col, "a value");
}

/* Check keyed words from @first on against @spec; positional words there are
 * an error. */
static bool check_keys(struct parser *p, size_t first, const struct keyspec *spec, int cmd_col)
{
	size_t nspec = 0;
	unsigned seen[32] = { 0 };

	while (spec[nspec].key)
		nspec++;
	for (size_t i = first; i < p->nwords; i++) {
		const struct word *w = &p->words[i];
		size_t k;

		if (!w->key) {
			char keys[512] = "";

			for (k = 0; k < nspec; k++) {
				strncat(keys, k ? ", " : "", sizeof(keys) - strlen(keys) - 1);
				strncat(keys, spec[k].key, sizeof(keys) - strlen(keys) - 1);
				strncat(keys, "=", sizeof(keys) - strlen(keys) - 1);
			}
			return nspec ? fail(p, w->col, "a key=value argument (%s)", keys)
			             : fail(p, w->col, "end of line");
		}
		for (k = 0; k < nspec; k++)
			if (!strcmp(w->key, spec[k].key))
				break;
		if (k == nspec) {
			char keys[512] = "";

			for (size_t j = 0; j < nspec; j++) {
				strncat(keys, j ? ", " : "", sizeof(keys) - strlen(keys) - 1);
				strncat(keys, spec[j].key, sizeof(keys) - strlen(keys) - 1);
			}
			return fail(p, w->col, "one of the keys: %s", nspec ? keys : "(none)");
		}
		if (seen[k] && !spec[k].repeat)
			return fail(p, w->col, "key '%s' only once", spec[k].key);
		seen[k]++;
		if (!check_value(p, w, spec[k].type))
			return false;
	}
	for (size_t k = 0; k < nspec; k++)
		if (spec[k].required && !seen[k])
			return fail(p, cmd_col, "key %s= on this line", spec[k].key);
	return true;
}

static bool need_pos(struct parser *p, size_t idx, const char *what)
{
	if (idx >= p->nwords || p->words[idx].key) {
		int col = idx < p->nwords ? p->words[idx].col : (int)p->line_len + 1;

		return fail(p, col, "%s", what);
	}
	return true;
}

static bool no_more(struct parser *p, size_t idx)
{
	if (idx < p->nwords)
		return fail(p, p->words[idx].col, "end of line");
	return true;
}

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
		struct word *w = &p->words[first + i];

		st->args[i].key = w->key;
		st->args[i].val = w->val;
		st->args[i].val_len = w->val_len;
		st->args[i].quoted = w->quoted;
		st->args[i].col = w->col;
		w->key = NULL;
		w->val = NULL;
	}
	st->nargs = n;
	return true;
}

static bool word_is(const struct parser *p, size_t i, const char *s)
{
	return i < p->nwords && !p->words[i].key && !p->words[i].quoted && !strcmp(p->words[i].val, s);
}

static const struct keyspec k_none[] = { { NULL, 0, false, false } };

/* ---- expectations of harness/expect.h (one function each) ------------------ */

/* expect fd NAME open|closed: a request's dup is open, or was closed
 * exactly once. */
static bool v_expect_fd(struct parser *p, enum iouw_scn_op *ret_op)
{
	static const char *const st[] = { "open", "closed", NULL };

	if (!need_pos(p, 2, "a request name") || !use_request(p, &p->words[2]) ||
	    !need_pos(p, 3, "open or closed") || !v_enum(p, &p->words[3], st, "open or closed") ||
	    !no_more(p, 4))
		return false;
	*ret_op = IOUW_SCN_EXPECT_FD;
	return true;
}

/* expect outstanding none | fds=N requests=N handles=N buffers=N */
static bool v_expect_outstanding(struct parser *p, enum iouw_scn_op *ret_op)
{
	static const struct keyspec ks[] = {
		{ "fds", T_UINT, false, false },     { "requests", T_UINT, false, false },
		{ "handles", T_UINT, false, false }, { "buffers", T_UINT, false, false },
		{ NULL, 0, 0, 0 }
	};

	*ret_op = IOUW_SCN_EXPECT_OUTSTANDING;
	if (word_is(p, 2, "none"))
		return no_more(p, 3);
	if (p->nwords == 2)
		return fail(p, p->words[1].col + 12, "none or at least one of fds=, requests=, "
		                                     "handles=, buffers=");
	return check_keys(p, 2, ks, p->words[0].col);
}

/* expect wait blocked=0|1 bound=D|none moved=D: the loop's last wait. */
static bool v_expect_wait(struct parser *p, enum iouw_scn_op *ret_op)
{
	static const struct keyspec ks[] = {
		{ "blocked", T_BOOL, false, false }, { "bound", T_SHUTDOWN, false, false },
		{ "moved", T_DUR, false, false },    { NULL, 0, 0, 0 }
	};

	if (p->nwords == 2)
		return fail(p, p->words[1].col + 5, "at least one of blocked=, bound=, moved=");
	*ret_op = IOUW_SCN_EXPECT_WAIT;
	return check_keys(p, 2, ks, p->words[0].col);
}

/* expect clock elapsed=D: virtual time since the run started. */
static bool v_expect_clock(struct parser *p, enum iouw_scn_op *ret_op)
{
	static const struct keyspec ks[] = { { "elapsed", T_DUR, false, true }, { NULL, 0, 0, 0 } };

	*ret_op = IOUW_SCN_EXPECT_CLOCK;
	return check_keys(p, 2, ks, p->words[0].col);
}

/* The expectations above, by their word after `expect`; false when @what is
 * none of them (*handled false) or the line is bad (*handled true). */
static bool v_expect_more(struct parser *p, const char *what, enum iouw_scn_op *ret_op,
                          bool *handled)
{
	*handled = true;
	if (!strcmp(what, "fd"))
		return v_expect_fd(p, ret_op);
	if (!strcmp(what, "outstanding"))
		return v_expect_outstanding(p, ret_op);
	if (!strcmp(what, "wait"))
		return v_expect_wait(p, ret_op);
	if (!strcmp(what, "clock"))
		return v_expect_clock(p, ret_op);
	*handled = false;
	return false;
}

/* Validate the words of one command line. Returns the op and the index of
 * the first argument word kept in the step, or false. */
static bool validate(struct parser *p, enum iouw_scn_op *ret_op, size_t *ret_first)
{
	const struct word *c = &p->words[0];
	const char *cmd = c->val;
	size_t i;

	if (c->key || c->quoted)
		return fail(p, c->col, "a command word");
#define DONE(op_, first_)               \
	do {                            \
		*ret_op = (op_);        \
		*ret_first = (first_);  \
		return true;            \
	} while (0)

	if (!strcmp(cmd, "modes")) {
		static const char *const m[] = { "kernel", "inject", NULL };

		if (p->seen_modes)
			return fail(p, c->col, "a single modes line");
		if (p->either)
			return fail(p, c->col, "modes outside either/or blocks");
		if (!need_pos(p, 1, "a mode (kernel, inject)"))
			return false;
		p->s->modes = 0;
		for (i = 1; i < p->nwords; i++) {
			if (!v_enum(p, &p->words[i], m, "a mode (kernel, inject)"))
				return false;
			p->s->modes |= !strcmp(p->words[i].val, "kernel") ? IOUW_SCN_MODE_KERNEL
			                                                  : IOUW_SCN_MODE_INJECT;
		}
		p->seen_modes = true;
		DONE(IOUW_SCN_MODES, 1);
	}
	if (!strcmp(cmd, "negative")) {
		static const struct keyspec ks[] = { { "line", T_UINT, false, true }, { NULL, 0, 0, 0 } };
		int64_t v;

		if (!check_keys(p, 1, ks, c->col))
			return false;
		iouw_scn_parse_int(p->words[1].val, &v);
		if (v < 1 || v > INT32_MAX)
			return fail(p, p->words[1].col, "a line number >= 1");
		p->s->negative_line = (int)v;
		DONE(IOUW_SCN_NEGATIVE, 1);
	}
	if (!strcmp(cmd, "config")) {
		static const struct keyspec ks[] = {
			{ "ring", T_UINT, false, false },       { "sq", T_UINT, false, false },
			{ "tick", T_DUR, false, false },        { "max_timeout", T_DUR, false, false },
			{ "shutdown", T_SHUTDOWN, false, false }, { "single_issuer", T_BOOL, false, false },
			{ "prearm", T_BOOL, false, false },     { "cq", T_UINT, false, false },
			{ NULL, 0, 0, 0 }
		};

		if (p->seen_config || p->seen_creation || p->either)
			return fail(p, c->col, "config once, before any fd or request is created");
		p->seen_config = true;
		if (!check_keys(p, 1, ks, c->col))
			return false;
		for (i = 1; i < p->nwords; i++) {
			int64_t v;

			if (!strcmp(p->words[i].key, "ring") || !strcmp(p->words[i].key, "sq")) {
				iouw_scn_parse_int(p->words[i].val, &v);
				if (v < 1 || v > 4096)
					return fail(p, p->words[i].col, "a size in [1, 4096]");
			}
			if (!strcmp(p->words[i].key, "cq")) {
				iouw_scn_parse_int(p->words[i].val, &v);
				if (v < 1 || v > 16384)
					return fail(p, p->words[i].col, "a CQ size in [1, 16384]");
			}
		}
		DONE(IOUW_SCN_CONFIG, 1);
	}
	if (!strcmp(cmd, "socketpair") || !strcmp(cmd, "pipe") || !strcmp(cmd, "file")) {
		static const struct keyspec kf[] = { { "content", T_STR, false, false },
			                             { NULL, 0, 0, 0 } };
		enum iouw_scn_name_kind k = cmd[0] == 's' ? IOUW_SCN_NAME_SOCKET
		                          : cmd[0] == 'p' ? IOUW_SCN_NAME_PIPE
		                                          : IOUW_SCN_NAME_FILE;

		if (p->either)
			return fail(p, c->col, "fds created outside either/or blocks");
		if (!need_pos(p, 1, "a name for the new fd") || !define_name(p, &p->words[1], k, 0))
			return false;
		if (!check_keys(p, 2, k == IOUW_SCN_NAME_FILE ? kf : k_none, c->col))
			return false;
		p->seen_creation = true;
		DONE(k == IOUW_SCN_NAME_SOCKET ? IOUW_SCN_SOCKETPAIR
		     : k == IOUW_SCN_NAME_PIPE ? IOUW_SCN_PIPE
		                               : IOUW_SCN_FILE,
		     1);
	}
	if (!strcmp(cmd, "send") || !strcmp(cmd, "recv") || !strcmp(cmd, "read_at") ||
	    !strcmp(cmd, "write_at") || !strcmp(cmd, "sync")) {
		static const struct keyspec ksend[] = {
			{ "fd", T_STR, false, true },           { "data", T_STR, true, true },
			{ "deadline", T_DEADLINE, false, false }, { "async", T_BOOL, false, false },
			{ NULL, 0, 0, 0 }
		};
		static const struct keyspec krecv[] = {
			{ "fd", T_STR, false, true },        { "len", T_UINT, false, true },
			{ "offset", T_UINT, false, false },  { "capacity", T_UINT, false, false },
			{ "exact", T_BOOL, false, false },   { "prefix", T_STR, false, false },
			{ "deadline", T_DEADLINE, false, false }, { "async", T_BOOL, false, false },
			{ NULL, 0, 0, 0 }
		};
		static const struct keyspec kread[] = {
			{ "fd", T_STR, false, true },       { "len", T_UINT, false, true },
			{ "off", T_UINT, false, false },    { "capacity", T_UINT, false, false },
			{ "async", T_BOOL, false, false },  { NULL, 0, 0, 0 }
		};
		static const struct keyspec kwrite[] = {
			{ "fd", T_STR, false, true },     { "data", T_STR, true, true },
			{ "off", T_UINT, false, false },  { "async", T_BOOL, false, false },
			{ NULL, 0, 0, 0 }
		};
		static const struct keyspec ksync[] = {
			{ "fd", T_STR, false, true }, { "async", T_BOOL, false, false }, { NULL, 0, 0, 0 }
		};
		enum iouw_scn_op op = !strcmp(cmd, "send")     ? IOUW_SCN_SEND
		                    : !strcmp(cmd, "recv")     ? IOUW_SCN_RECV
		                    : !strcmp(cmd, "read_at")  ? IOUW_SCN_READ_AT
		                    : !strcmp(cmd, "write_at") ? IOUW_SCN_WRITE_AT
		                                               : IOUW_SCN_SYNC;
		const struct keyspec *ks = op == IOUW_SCN_SEND      ? ksend
		                         : op == IOUW_SCN_RECV      ? krecv
		                         : op == IOUW_SCN_READ_AT   ? kread
		                         : op == IOUW_SCN_WRITE_AT  ? kwrite
		                                                    : ksync;
		if (p->either)
			return fail(p, c->col, "requests created outside either/or blocks");
		if (!need_pos(p, 1, "a name for the new request"))
			return false;
		/* fd= is a name, not a string: relax T_STR for it below. */
		for (i = 2; i < p->nwords; i++) {
			struct word *w = &p->words[i];

			if (w->key && !strcmp(w->key, "fd")) {
				if (w->quoted)
					return fail(p, w->col, "an fd name (unquoted)");
				if (!use_fd(p, w, op == IOUW_SCN_SEND || op == IOUW_SCN_RECV))
					return false;
				w->quoted = true; /* satisfy T_STR; restored below */
			}
		}
		if (!check_keys(p, 2, ks, c->col))
			return false;
		for (i = 2; i < p->nwords; i++) {
			struct word *w = &p->words[i];

			if (w->key && !strcmp(w->key, "fd"))
				w->quoted = false;
			if (w->key && !strcmp(w->key, "data") && w->val_len == 0)
				return fail(p, w->col, "a non-empty data string");
		}
		if (op == IOUW_SCN_RECV) {
			int64_t len = 0, off = 0, capv = -1;
			size_t prefix = 0;

			for (i = 2; i < p->nwords; i++) {
				struct word *w = &p->words[i];

				if (!strcmp(w->key, "len"))
					iouw_scn_parse_int(w->val, &len);
				else if (!strcmp(w->key, "offset"))
					iouw_scn_parse_int(w->val, &off);
				else if (!strcmp(w->key, "capacity"))
					iouw_scn_parse_int(w->val, &capv);
				else if (!strcmp(w->key, "prefix"))
					prefix = w->val_len;
			}
			if (capv < 0)
				capv = len;
			if (len > (1 << 24) || capv > (1 << 24))
				return fail(p, c->col, "len and capacity at most 16 MiB");
			if (prefix > (size_t)capv)
				return fail(p, c->col, "a prefix no longer than the capacity");
		}
		if (op == IOUW_SCN_READ_AT) {
			for (i = 2; i < p->nwords; i++) {
				int64_t v;

				if ((!strcmp(p->words[i].key, "len") || !strcmp(p->words[i].key, "capacity")) &&
				    iouw_scn_parse_int(p->words[i].val, &v) && v > (1 << 24))
					return fail(p, p->words[i].col, "a size at most 16 MiB");
			}
		}
		if (!define_name(p, &p->words[1], IOUW_SCN_NAME_REQUEST, (int)op))
			return false;
		DONE(op, 1);
	}
	if (!strcmp(cmd, "submit") || !strcmp(cmd, "wait")) {
		if (p->nwords == 1)
			DONE(IOUW_SCN_PHASE_SUBMIT, 1);
		if (cmd[0] == 'w')
			return no_more(p, 1);
		for (i = 1; i < p->nwords; i++)
			if (!use_request(p, &p->words[i]))
				return false;
		DONE(IOUW_SCN_SUBMIT_REQ, 1);
	}
	if (!strcmp(cmd, "turn")) {
		for (i = 1; i < p->nwords; i++) {
			if (word_is(p, i, "block"))
				continue;
			if (p->words[i].key && !strcmp(p->words[i].key, "error")) {
				/* The fatal result the (last) turn must return. */
				if (!v_int(p, &p->words[i], INT32_MIN, -1))
					return false;
				continue;
			}
			if (p->words[i].key || !v_int(p, &p->words[i], 1, 100000))
				return p->failed ? false
				                 : fail(p, p->words[i].col,
				                        "a turn count, 'block' or error=-ERRNO");
		}
		if (p->nwords > 4)
			return fail(p, p->words[4].col, "end of line");
		DONE(IOUW_SCN_TURN, 1);
	}
	if (!strcmp(cmd, "reap") || !strcmp(cmd, "advance") || !strcmp(cmd, "fill") ||
	    !strcmp(cmd, "run") || !strcmp(cmd, "close")) {
		if (!no_more(p, 1))
			return false;
		DONE(cmd[0] == 'r' ? (cmd[1] == 'e' ? IOUW_SCN_REAP : IOUW_SCN_RUN)
		     : cmd[0] == 'a' ? IOUW_SCN_ADVANCE
		     : cmd[0] == 'f' ? IOUW_SCN_FILL
		                     : IOUW_SCN_CLOSE,
		     1);
	}
	if (!strcmp(cmd, "clock")) {
		if (!need_pos(p, 1, "a relative time like +5ms") || !v_dur(p, &p->words[1], true) ||
		    !no_more(p, 2))
			return false;
		DONE(IOUW_SCN_CLOCK, 1);
	}
	if (!strcmp(cmd, "pause")) {
		uint64_t d;

		if (!need_pos(p, 1, "a duration like 10ms") || !v_dur(p, &p->words[1], false) ||
		    !no_more(p, 2))
			return false;
		iouw_scn_parse_duration(p->words[1].val, &d);
		if (d > UINT64_C(5000000000))
			return fail(p, p->words[1].col, "a pause of at most 5s");
		DONE(IOUW_SCN_PAUSE, 1);
	}
	if (!strcmp(cmd, "cancel")) {
		static const struct keyspec ks[] = { { "took", T_BOOL, false, false },
			                             { "sqe", T_BOOL, false, false },
			                             { "cancel_flags", T_UINT, false, false },
			                             { NULL, 0, 0, 0 } };

		if (!need_pos(p, 1, "a request name") || !use_request(p, &p->words[1]) ||
		    !check_keys(p, 2, ks, c->col))
			return false;
		DONE(IOUW_SCN_CANCEL, 1);
	}
	if (!strcmp(cmd, "corrupt")) {
		static const struct keyspec ks[] = { { "progress", T_UINT, false, true },
			                             { "len", T_UINT, false, true },
			                             { "capacity", T_UINT, false, false },
			                             { NULL, 0, 0, 0 } };

		if (!need_pos(p, 1, "a request name") || !use_request(p, &p->words[1]) ||
		    !check_keys(p, 2, ks, c->col))
			return false;
		DONE(IOUW_SCN_CORRUPT, 1);
	}
	if (!strcmp(cmd, "drop")) {
		if (!need_pos(p, 1, "a request name") || !use_request(p, &p->words[1]) || !no_more(p, 2))
			return false;
		DONE(IOUW_SCN_DROP, 1);
	}
	if (!strcmp(cmd, "wait_fail")) {
		static const struct keyspec ks[] = { { "res", T_INT, false, true },
			                             { "times", T_UINT, false, false },
			                             { NULL, 0, 0, 0 } };
		int64_t v;

		if (!check_keys(p, 1, ks, c->col))
			return false;
		for (i = 1; i < p->nwords; i++) {
			iouw_scn_parse_int(p->words[i].val, &v);
			if (!strcmp(p->words[i].key, "res") && v >= 0)
				return fail(p, p->words[i].col, "a negative errno like -EINTR");
			if (!strcmp(p->words[i].key, "times") && (v < 1 || v > 1000))
				return fail(p, p->words[i].col, "a count in [1, 1000]");
		}
		DONE(IOUW_SCN_WAIT_FAIL, 1);
	}
	if (!strcmp(cmd, "set_generation")) {
		static const struct keyspec ks[] = { { "slot", T_UINT, false, true },
			                             { "gen", T_UINT, false, true },
			                             { NULL, 0, 0, 0 } };

		if (!check_keys(p, 1, ks, c->col))
			return false;
		DONE(IOUW_SCN_SET_GENERATION, 1);
	}
	if (!strcmp(cmd, "peer")) {
		static const char *const acts[] = { "write", "close", "fill", "drain", NULL };
		const char *a;

		if (!need_pos(p, 1, "a peer action (write, close, fill, drain)") ||
		    !v_enum(p, &p->words[1], acts, "a peer action (write, close, fill, drain)"))
			return false;
		a = p->words[1].val;
		if (!need_pos(p, 2, "an fd name") || !use_fd(p, &p->words[2], true))
			return false;
		if (!strcmp(a, "write")) {
			if (!need_pos(p, 3, "a quoted string to write") || !v_str(p, &p->words[3]) ||
			    !no_more(p, 4))
				return false;
			if (p->words[3].val_len == 0)
				return fail(p, p->words[3].col, "a non-empty string");
			DONE(IOUW_SCN_PEER_WRITE, 2);
		}
		if (!no_more(p, 3))
			return false;
		DONE(!strcmp(a, "close") ? IOUW_SCN_PEER_CLOSE
		     : !strcmp(a, "fill") ? IOUW_SCN_PEER_FILL
		                          : IOUW_SCN_PEER_DRAIN,
		     2);
	}
	if (!strcmp(cmd, "cqe")) {
		static const struct keyspec kres[] = { { "res", T_RES, false, true },
			                               { "at_wait", T_BOOL, false, false },
			                               { NULL, 0, 0, 0 } };
		static const struct keyspec kud[] = { { "ud", T_U64, false, true },
			                              { "res", T_RES, false, true },
			                              { NULL, 0, 0, 0 } };
		static const char *const which[] = { "op", "cancel", NULL };

		i = 1;
		if (i < p->nwords && p->words[i].key && !strcmp(p->words[i].key, "ud")) {
			if (!check_keys(p, 1, kud, c->col))
				return false;
			DONE(IOUW_SCN_CQE, 1);
		}
		if (word_is(p, i, "stale"))
			i++;
		if (!need_pos(p, i, "a request name or ud=") || !use_request(p, &p->words[i]))
			return false;
		i++;
		if (!need_pos(p, i, "op or cancel") ||
		    !v_enum(p, &p->words[i], which, "op or cancel"))
			return false;
		if (!check_keys(p, i + 1, kres, c->col))
			return false;
		DONE(IOUW_SCN_CQE, 1);
	}
	if (!strcmp(cmd, "either") || !strcmp(cmd, "or") || !strcmp(cmd, "end"))
		return fail(p, c->col, "a command (either/or/end handled elsewhere)");
	if (!strcmp(cmd, "expect")) {
		const char *what;

		if (!need_pos(p, 1, "what to expect (sqe, stage, completion, deliver, admit, result, "
		                    "table, slot, ready, cancels, stuck, peer, file, abort, consistent, "
		                    "fd, outstanding, wait, clock)"))
			return false;
		what = p->words[1].val;
		if (p->words[1].quoted)
			return fail(p, p->words[1].col, "what to expect, unquoted");
		if (!strcmp(what, "sqe")) {
			static const struct keyspec ks[] = {
				{ "len", T_UINT, false, false },  { "off", T_INT, false, false },
				{ "data", T_STR, false, false },  { "iovs", T_UINT, false, false },
				{ "fd", T_STR, false, false },    { "async", T_BOOL, false, false },
				{ NULL, 0, 0, 0 }
			};

			if (word_is(p, 2, "none")) {
				if (!no_more(p, 3))
					return false;
				DONE(IOUW_SCN_EXPECT_SQE, 2);
			}
			if (!need_pos(p, 2, "a request name or none") || !use_request(p, &p->words[2]))
				return false;
			if (word_is(p, 3, "cancel")) {
				i = 4;
			} else if (3 < p->nwords && p->words[3].key && !strcmp(p->words[3].key, "op")) {
				if (!check_value(p, &p->words[3], T_OPCODE))
					return false;
				i = 4;
			} else if (word_is(p, 3, "op")) {
				i = 4;
			} else {
				return fail(p, 3 < p->nwords ? p->words[3].col : c->col,
				            "op, op=OPCODE or cancel");
			}
			for (size_t j = i; j < p->nwords; j++) {
				struct word *w = &p->words[j];

				if (w->key && !strcmp(w->key, "fd")) {
					if (w->quoted || !use_fd(p, w, false))
						return p->failed ? false : fail(p, w->col, "an fd name");
					w->quoted = true;
				}
			}
			if (!check_keys(p, i, ks, c->col))
				return false;
			for (size_t j = i; j < p->nwords; j++)
				if (p->words[j].key && !strcmp(p->words[j].key, "fd"))
					p->words[j].quoted = false;
			DONE(IOUW_SCN_EXPECT_SQE, 2);
		}
		if (!strcmp(what, "stage") || !strcmp(what, "completion") || !strcmp(what, "deliver")) {
			static const char *const st[] = { "submit", "timeout", "orphaned", NULL };
			static const char *const co[] = { "cancel", "requeue", "complete", NULL };
			static const char *const de[] = { "complete", "timeout", NULL };
			static const struct keyspec kco[] = { { "stale", T_BOOL, false, false },
				                              { NULL, 0, 0, 0 } };
			enum iouw_scn_op op = what[0] == 's' ? IOUW_SCN_EXPECT_STAGE
			                    : what[0] == 'c' ? IOUW_SCN_EXPECT_COMPLETION
			                                     : IOUW_SCN_EXPECT_DELIVER;

			if (!need_pos(p, 2, "a request name") || !use_request(p, &p->words[2]))
				return false;
			if (!need_pos(p, 3, "an outcome"))
				return false;
			if (op == IOUW_SCN_EXPECT_STAGE &&
			    !v_enum(p, &p->words[3], st, "submit, timeout or orphaned"))
				return false;
			if (op == IOUW_SCN_EXPECT_COMPLETION &&
			    !v_enum(p, &p->words[3], co, "cancel, requeue or complete"))
				return false;
			if (op == IOUW_SCN_EXPECT_DELIVER &&
			    !v_enum(p, &p->words[3], de, "complete or timeout"))
				return false;
			if (!check_keys(p, 4, op == IOUW_SCN_EXPECT_COMPLETION ? kco : k_none, c->col))
				return false;
			DONE(op, 2);
		}
		if (!strcmp(what, "admit")) {
			static const struct keyspec ks[] = { { "slot", T_UINT, false, false },
				                             { "gen", T_UINT, false, false },
				                             { "tick", T_TICK, false, false },
				                             { NULL, 0, 0, 0 } };

			if (!need_pos(p, 2, "a request name") || !use_request(p, &p->words[2]))
				return false;
			i = 3;
			if (word_is(p, 3, "expired"))
				i = 4;
			if (!check_keys(p, i, i == 4 ? k_none : ks, c->col))
				return false;
			DONE(IOUW_SCN_EXPECT_ADMIT, 2);
		}
		if (!strcmp(what, "result")) {
			static const char *const sts[] = { "pending", "ok", "timeout", "send_failed",
				                           "recv_failed", "read_failed", "write_failed",
				                           "insufficient_length", "sync_error",
				                           "abandoned", NULL };
			static const struct keyspec ks[] = { { "err", T_ERR, false, false },
				                             { "data", T_STR, false, false },
				                             { "len", T_UINT, false, false },
				                             { NULL, 0, 0, 0 } };

			if (!need_pos(p, 2, "a request name") || !use_request(p, &p->words[2]))
				return false;
			if (!need_pos(p, 3, "a status (pending, ok, timeout, send_failed, recv_failed, "
			                    "read_failed, write_failed, insufficient_length, "
			                    "sync_error, abandoned)") ||
			    !v_enum(p, &p->words[3], sts,
			            "a status (pending, ok, timeout, send_failed, recv_failed, "
			            "read_failed, write_failed, insufficient_length, sync_error, "
			            "abandoned)"))
				return false;
			i = 4;
			if (i < p->nwords && !p->words[i].key) {
				if (strcmp(p->words[3].val, "ok"))
					return fail(p, p->words[i].col, "a value only after ok");
				if (!v_int(p, &p->words[i], 0, INT64_MAX))
					return false;
				i++;
			}
			if (!strcmp(p->words[3].val, "pending") && !no_more(p, i))
				return false;
			if (!check_keys(p, i, ks, c->col))
				return false;
			DONE(IOUW_SCN_EXPECT_RESULT, 2);
		}
		if (!strcmp(what, "table")) {
			static const struct keyspec ks[] = {
				{ "len", T_UINT, false, false },     { "inflight", T_UINT, false, false },
				{ "ready", T_UINT, false, false },   { "cancels", T_UINT, false, false },
				{ "stuck", T_UINT, false, false },   { "inbound", T_UINT, false, false },
				{ "drained", T_BOOL, false, false }, { "warnings", T_UINT, false, false },
				{ "deadlines", T_UINT, false, false }, { "delivered", T_UINT, false, false },
				{ "timeouts", T_UINT, false, false }, { "abandoned", T_UINT, false, false },
				{ "capacity", T_UINT, false, false }, { "cq_ready", T_UINT, false, false },
				{ "cq_overflow", T_BOOL, false, false },
				{ NULL, 0, 0, 0 }
			};

			if (p->nwords == 2)
				return fail(p, p->words[1].col + 6, "at least one key=value fact");
			if (!check_keys(p, 2, ks, c->col))
				return false;
			DONE(IOUW_SCN_EXPECT_TABLE, 2);
		}
		if (!strcmp(what, "slot")) {
			static const struct keyspec ks[] = {
				{ "gen", T_UINT, false, false },      { "occupied", T_BOOL, false, false },
				{ "inflight", T_BOOL, false, false }, { "state", T_STATE, false, false },
				{ "req", T_NAME_REQ, false, false },  { NULL, 0, 0, 0 }
			};

			if (!need_pos(p, 2, "a slot index") || !v_int(p, &p->words[2], 0, 1 << 20) ||
			    !check_keys(p, 3, ks, c->col))
				return false;
			DONE(IOUW_SCN_EXPECT_SLOT, 2);
		}
		if (!strcmp(what, "ready") || !strcmp(what, "cancels") || !strcmp(what, "stuck")) {
			enum iouw_scn_op op = what[0] == 'r' ? IOUW_SCN_EXPECT_READY
			                    : what[0] == 'c' ? IOUW_SCN_EXPECT_CANCELS
			                                     : IOUW_SCN_EXPECT_STUCK;

			if (word_is(p, 2, "none")) {
				if (!no_more(p, 3))
					return false;
				DONE(op, 2);
			}
			if (!need_pos(p, 2, "request names or none"))
				return false;
			for (i = 2; i < p->nwords; i++)
				if (!use_request(p, &p->words[i]))
					return false;
			DONE(op, 2);
		}
		if (!strcmp(what, "abort")) {
			if (!need_pos(p, 2, "the quoted name of an invariant") || !v_str(p, &p->words[2]) ||
			    !no_more(p, 3))
				return false;
			if (p->words[2].val_len == 0 || strlen(p->words[2].val) != p->words[2].val_len)
				return fail(p, p->words[2].col, "a non-empty invariant name");
			if (p->either)
				return fail(p, c->col, "expect abort outside either/or blocks");
			DONE(IOUW_SCN_EXPECT_ABORT, 2);
		}
		if (!strcmp(what, "peer") || !strcmp(what, "file")) {
			static const struct keyspec kp[] = { { "data", T_STR, false, true },
				                             { NULL, 0, 0, 0 } };
			static const struct keyspec kf[] = { { "data", T_STR, false, true },
				                             { "off", T_UINT, false, false },
				                             { NULL, 0, 0, 0 } };
			const struct iouw_scn_name *n;
			bool peer = what[0] == 'p';

			if (!need_pos(p, 2, "an fd name") || !use_fd(p, &p->words[2], false))
				return false;
			n = iouw_scn_lookup(p->s, p->words[2].val);
			if (peer && n->kind != IOUW_SCN_NAME_SOCKET)
				return fail(p, p->words[2].col, "the name of a socketpair");
			if (!peer && n->kind != IOUW_SCN_NAME_FILE)
				return fail(p, p->words[2].col, "the name of a file");
			if (!check_keys(p, 3, peer ? kp : kf, c->col))
				return false;
			DONE(peer ? IOUW_SCN_EXPECT_PEER : IOUW_SCN_EXPECT_FILE, 2);
		}
		if (!strcmp(what, "consistent")) {
			if (!no_more(p, 2))
				return false;
			DONE(IOUW_SCN_EXPECT_CONSISTENT, 2);
		}
		{
			enum iouw_scn_op op = IOUW_SCN_EXPECT_CONSISTENT;
			bool handled;

			if (v_expect_more(p, what, &op, &handled))
				DONE(op, 2);
			if (handled)
				return false;
		}
		return fail(p, p->words[1].col,
		            "what to expect (sqe, stage, completion, deliver, admit, result, table, "
		            "slot, ready, cancels, stuck, peer, file, abort, consistent, fd, "
		            "outstanding, wait, clock)");
	}
#undef DONE
	return fail(p, c->col, "a command (modes, negative, config, socketpair, pipe, file, send, "
	                       "recv, read_at, write_at, sync, submit, turn, reap, advance, fill, "
	                       "wait, wait_fail, run, close, clock, pause, cancel, drop, corrupt, "
	                       "set_generation, "
	                       "peer, cqe, either, or, repeat, end, expect)");
}

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

/* repeat N: open a repeat block in the current block. */
static bool open_repeat(struct parser *p)
{
	const struct word *c = &p->words[0];
	int64_t n;

	if (!need_pos(p, 1, "a repeat count") ||
	    !v_int(p, &p->words[1], 1, IOUW_SCN_MAX_REPEAT) || !no_more(p, 2))
		return false;
	if (p->nopen + p->nrep >= IOUW_SCN_MAX_NESTING)
		return fail(p, c->col, "at most %d nested either/repeat blocks", IOUW_SCN_MAX_NESTING);
	if (p->either) {
		if (!p->branch_has_guard)
			return fail(p, c->col, "a cqe line first in each branch");
		p->branch_guard_open = false;
	}
	iouw_scn_parse_int(p->words[1].val, &n);
	p->rep[p->nrep].blk = current_block(p);
	p->rep[p->nrep].start = current_block(p)->n;
	p->rep[p->nrep].count = (uint32_t)n;
	p->rep[p->nrep].line = p->line;
	p->rep[p->nrep].col = c->col;
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
	switch (op) {
	case IOUW_SCN_MODES: case IOUW_SCN_NEGATIVE: case IOUW_SCN_CONFIG:
	case IOUW_SCN_SOCKETPAIR: case IOUW_SCN_PIPE: case IOUW_SCN_FILE:
	case IOUW_SCN_SEND: case IOUW_SCN_RECV: case IOUW_SCN_READ_AT: case IOUW_SCN_WRITE_AT:
	case IOUW_SCN_SYNC: case IOUW_SCN_EXPECT_ABORT:
		return fail(p, p->words[0].col, "no fd, request, modes, negative, config or expect "
		                                "abort line inside a repeat block (opened at line %d)",
		            p->rep[p->nrep - 1].line);
	default:
		return true;
	}
}

static bool handle_block_word(struct parser *p, const char *line, size_t len)
{
	const struct word *c = &p->words[0];
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
	if (!strcmp(cmd, "repeat"))
		return open_repeat(p);
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
	    (!strcmp(cmd, "either") || !strcmp(cmd, "or") || !strcmp(cmd, "end") ||
	     !strcmp(cmd, "repeat")))
		return handle_block_word(p, line, len);
	if (!validate(p, &op, &first))
		return false;
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

const struct iouw_scn_arg *iouw_scn_key(const struct iouw_scn_step *st, const char *key)
{
	for (size_t j = 0; j < st->nargs; j++)
		if (st->args[j].key && !strcmp(st->args[j].key, key))
			return &st->args[j];
	return NULL;
}
