/* SPDX-License-Identifier: MIT */
/* STUB: placeholder until this file is written. */
typedef int uext4_stub_t;
