// entidb/cbor.hpp — the canonical CBOR layer (spec §4, docs/cbor.md): value model, streaming
// encoder, strict pull reader with validate/find_path, decoder, and the JSON bridge.
// Each header states its own ownership and thread-safety contract.
#pragma once

#include "cbor/rules.hpp"
#include "cbor/value.hpp"
#include "cbor/encoder.hpp"
#include "cbor/reader.hpp"
#include "cbor/decoder.hpp"
#include "cbor/json.hpp"
