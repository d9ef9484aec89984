/* SPDX-License-Identifier: MIT */
/* journal/format.c — placeholder, being written. */
#include "internal.h"
