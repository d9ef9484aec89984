/* SPDX-License-Identifier: MIT */
/* STUB: placeholder until this file is written. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "uext4: not built yet\n");
	return 1;
}
