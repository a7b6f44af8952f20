// entidb/detail/xxhash.hpp — internal: xxHash compiled into the including translation unit.
//
// XXH_INLINE_ALL makes every xxHash function `static inline` under an XXH_INLINE_
// prefix, so EntiDB exports no xxHash symbol, cannot clash with another copy of
// libxxhash in the program, and users need not link libxxhash. Only entidb/hash.hpp
// should include this; everything else uses the wrappers there.
#pragma once

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#define ENTIDB_DETAIL_DEFINED_XXH_INLINE_ALL
#endif

#include <xxhash.h>

// Leave the macro as we found it, so a later plain #include <xxhash.h> by the user
// is not silently turned into an inline build too.
#ifdef ENTIDB_DETAIL_DEFINED_XXH_INLINE_ALL
#undef XXH_INLINE_ALL
#undef ENTIDB_DETAIL_DEFINED_XXH_INLINE_ALL
#endif
