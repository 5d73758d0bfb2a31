/* The public header must compile on its own as strict C89, C11 and C++ (tests/module.mk). */
#include "cpupolicy.h"
#include "cpupolicy.h" /* and twice: include guard */

typedef char featureset_size_fn_is_right[sizeof(&cpupolicy_featureset_size) ? 1 : -1];
