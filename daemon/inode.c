/* SPDX-License-Identifier: MIT */
/* STUB: placeholder until this file is written. */
#include <errno.h>

#include "internal.h"

