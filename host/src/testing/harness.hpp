// Moved: the harness is part of the SDK now.
#pragma once
#include "cxflow/testing.hpp"
