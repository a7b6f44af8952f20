// Must not compile: an encrypted database's mapped segment bytes are ciphertext, so there is
// no zero-copy view of a payload; get() and get_into() decrypt into the caller's buffer.
// expect: zero-copy views are not offered for encrypted payloads
#include <entidb/database.hpp>

int main() {
    auto db = entidb::open<entidb::encrypted_file_storage>("db", {}, {.key = entidb::passphrase_from("pw"), .kdf = {}});
    auto r = db.begin_read();
    (void)r.get_view("c", entidb::entity_id{});
}
