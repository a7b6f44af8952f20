// Must not compile: opening a KEY file needs libsodium (ENTIDB_NO_SODIUM stands in for a
// system without <sodium.h>); has_key_file and describe_key_file do not.
// expect: entidb: the KEY file needs libsodium: install Debian's libsodium-dev (scripts/setup.sh does) and build with it
#define ENTIDB_NO_SODIUM 1
#include <entidb/directory/key_file.hpp>

int main() {
    const std::filesystem::path dir = ".";
    if (!entidb::has_key_file(dir) || entidb::describe_key_file(dir).kek.empty()) return 1;
    const entidb::data_key key = entidb::open_key_file(dir, entidb::passphrase_from("p"));
    return key.empty() ? 1 : 0;
}
