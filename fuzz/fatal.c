/* fuzz/fatal.c: see fatal.h. */
#include "fatal.h"

#include <stdio.h>
#include <string.h>

#include "invariant.h"

sigjmp_buf iouw_fatal_jmp;
static const char *armed, *armed_by;

void iouw_fatal_arm(const char *name, const char *who)
{
	armed = name;
	armed_by = who;
}

void iouw_fatal_disarm(void)
{
	armed = NULL;
}

void iouw_invariant_hook(const char *name, const char *file, int line)
{
	const char *want = armed;

	(void)file;
	(void)line;
	if (!want)
		return;
	armed = NULL;
	if (strcmp(name, want) != 0) {
		fprintf(stderr, "%s: oracle mismatch: the hostile CQE had to fire \"%s\", not:\n",
		        armed_by, want);
		return;
	}
	siglongjmp(iouw_fatal_jmp, 1);
}

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}
