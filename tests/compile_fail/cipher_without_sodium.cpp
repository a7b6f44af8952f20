// Must not compile: a traits type's cipher is XChaCha20-Poly1305 but libsodium is not there
// (ENTIDB_NO_SODIUM stands in for a system without <sodium.h>).
// expect: entidb: xchacha20poly1305 needs libsodium: install Debian's libsodium-dev (scripts/setup.sh does) and build with it
#define ENTIDB_NO_SODIUM 1
#include <entidb/crypto/xchacha20poly1305.hpp>

struct encrypted_traits {
    using cipher = entidb::xchacha20poly1305;  // naming it is fine
};

int main() {
    return encrypted_traits::cipher::encrypts ? 0 : 1;  // using it is not
}
