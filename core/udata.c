/* core/udata.c: the registry table (see udata.h for its invariants). */
#include "udata.h"

#include "invariant.h"

static const struct iouw_udata_range ranges[] = {
	{ "inject-carrier", IOUW_UDATA_INJECT_CARRIER, IOUW_UDATA_INJECT_CARRIER,
	  "core/skernel.c" },
	{ "probe", IOUW_UDATA_PROBE_FIRST, IOUW_UDATA_PROBE_LAST, "core/uring_backend" },
	{ "wake", IOUW_UDATA_WAKE, IOUW_UDATA_WAKE, "core/loop" },
};

const struct iouw_udata_range *iouw_udata_ranges(size_t *ret_n)
{
	*ret_n = sizeof(ranges) / sizeof(ranges[0]);
	return ranges;
}

const char *iouw_udata_name(uint64_t ud)
{
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (ud >= ranges[i].first && ud <= ranges[i].last)
			return ranges[i].name;
	return NULL;
}

void iouw_udata_assert_registry(void)
{
	size_t n = sizeof(ranges) / sizeof(ranges[0]);

	for (size_t i = 0; i < n; i++) {
		IOUW_INVARIANT(ranges[i].first <= ranges[i].last, "user_data range inverted");
		IOUW_INVARIANT(ranges[i].first >= IOUW_UDATA_RESERVED_FIRST,
		               "user_data range outside the reserved block");
		IOUW_INVARIANT(i == 0 || ranges[i - 1].last < ranges[i].first,
		               "user_data ranges overlap or are out of order");
	}
}
