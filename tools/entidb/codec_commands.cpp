// entidb cbor HEX — strict decode, canonical re-encode.
#include "tool.hpp"

namespace entidb_tool {

void add_codec_commands(std::vector<command>& out) {
    (void)out;  // filled in by the CBOR work
}

}  // namespace entidb_tool
