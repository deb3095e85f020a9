/* SPDX-License-Identifier: ISC */
#include "twofold/common.h"
