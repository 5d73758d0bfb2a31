// SPDX-License-Identifier: MIT
// `cpupolicy model ...` (cmd_model.cpp): argv[0] is "model".
#pragma once

int cmd_model(int argc, char **argv);
