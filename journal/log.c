/* SPDX-License-Identifier: MIT */
/* journal/log.c — placeholder, being written. */
#include "internal.h"
