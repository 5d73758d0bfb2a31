/* The public header must compile on its own as strict C89, C11 and C++ (tests/module.mk). */
#include "cpupolicy.h"
#include "cpupolicy.h" /* and twice: include guard */
#include "cpupolicy_toolstack.h"
#include "cpupolicy_toolstack.h"

typedef char featureset_size_fn_is_right[sizeof(&cpupolicy_featureset_size) ? 1 : -1];

#include "cpupolicy_models.h"
#include "cpupolicy_models.h"
typedef char models_blocker_fits[sizeof(cpupolicy_model_blocker_t) ? 1 : -1];
