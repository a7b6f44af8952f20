// Must not compile: an encrypted backup's restore needs libsodium (ENTIDB_NO_SODIUM stands in
// for a system without <sodium.h>); the plain backup, restore, verify and salvage do not.
// expect: entidb: an encrypted backup needs libsodium: install Debian's libsodium-dev (scripts/setup.sh does) and build with it
#define ENTIDB_NO_SODIUM 1
#include <entidb/salvage.hpp>

int main() {
    const std::filesystem::path dir = "db";
    (void)entidb::read_backup("b");
    (void)entidb::verify(dir);
    (void)entidb::salvage(dir, "out");
    return static_cast<int>(entidb::restore("b", "r", entidb::passphrase_from("p")).entities);
}
