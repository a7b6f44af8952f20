// Must not compile: traits whose cipher is chosen when a database is created (any_cipher), with
// an environment that does not say which cipher a new database gets.
// expect: this cipher is chosen when a database is created (entidb::any_cipher): the environment needs `cipher_id cipher = ...;`
#include <entidb/database.hpp>

struct unchosen_storage : entidb::file_storage {
    using cipher = entidb::any_cipher;
    struct environment {
        entidb::key_source key;
        entidb::kdf_params kdf = {};
    };
};

int main() {
    auto db = entidb::open<unchosen_storage>("db", {}, {.key = entidb::passphrase_from("pw")});
    (void)db;
}
