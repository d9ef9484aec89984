/* SPDX-License-Identifier: MIT */
/* journal/transaction.c — placeholder, being written. */
#include "internal.h"
