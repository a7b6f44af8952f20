// Must not compile: a traits type's cipher is AES-256-GCM but libsodium is not there
// (ENTIDB_NO_SODIUM stands in for a system without <sodium.h>).
// expect: entidb: aes256gcm needs libsodium: install Debian's libsodium-dev (scripts/setup.sh does) and build with it
#define ENTIDB_NO_SODIUM 1
#include <entidb/crypto/aes256gcm.hpp>

struct aes_traits {
    using cipher = entidb::aes256gcm;  // naming it is fine
};

int main() {
    return aes_traits::cipher::encrypts ? 0 : 1;  // using it is not
}
