/* SPDX-License-Identifier: MIT */
/* journal/recovery.c — placeholder, being written. */
#include "internal.h"
