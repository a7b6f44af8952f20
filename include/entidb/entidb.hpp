// entidb/entidb.hpp — the umbrella header: everything public.
#pragma once

#include "bytes.hpp"
#include "error.hpp"
#include "version.hpp"
#include "storage/backend.hpp"
#include "storage/memory_backend.hpp"
