// entidb/core/payload_codec.hpp — how an entity's bytes are stored in its records: as they are,
// or sealed by the database's cipher (docs/encryption.md).
//
// The engine owns one payload_codec<cipher_of<Traits>> and every path that writes or reads an
// entity's record goes through it: commit seals each put once, and the same sealed bytes go to
// the WAL's PUT (`after_bytes`) and to the segment record (flag 0x02), so recovery copies them
// without decrypting; reads, the change history and migrations open them; compaction copies
// records as they are. A sealed payload is bound to its record_place (collection, id,
// sequence, kind 1 = put): a record moved, swapped or replayed elsewhere does not open.
//
//   flags(tombstone)            a segment record's flags for a put or a tombstone
//   seal(plain, place, out)     appends the stored form of a put's payload to `out`
//   open(record, where, out)    the entity's bytes of a checked segment record into `out`
//                               (capacity reused). errc::corruption naming where() (an
//                               error_context: file and offset, made only on failure) for a
//                               record whose encrypted flag disagrees with the database, or
//                               whose payload does not authenticate (damage, or bytes moved
//                               from another place).
//   open_put(stored, place, where, out)  the same for a put's stored payload at a known place
//                               (a WAL PUT: salvage reads them).
//   cipher()                    the cipher (encrypting codecs), for the MANIFEST and backups;
//   cipher_or_null()            the same, or null without encryption.
//
// For no_encryption the codec is empty and every member is the identity, so an unencrypted
// database's files are byte for byte those it always had.
//
// Thread-safety: const members from any thread (the cipher's are).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "../bytes.hpp"
#include "../crypto/cipher.hpp"
#include "../error.hpp"
#include "../format/segment_record.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

inline constexpr std::uint8_t put_record_kind = 1;

template <cipher_policy C>
class payload_codec {
public:
    static constexpr bool encrypts = C::encrypts;
    using cipher_type = C;

    payload_codec()
        requires(!encrypts)
    = default;
    explicit payload_codec(std::shared_ptr<const C> cipher)
        requires encrypts
        : cipher_(std::move(cipher)) {}

    [[nodiscard]] static constexpr std::uint8_t flags(bool tombstone) noexcept {
        if (tombstone) return format::flag_tombstone;
        return encrypts ? format::flag_encrypted : std::uint8_t{0};
    }

    void seal(bytes_view plain, const record_place& place, byte_buffer& out) const
        requires encrypts
    {
        cipher_->seal(plain, place, out);
    }

    template <typename Where>
    void open(const format::segment_record& r, const Where& where, byte_buffer& out) const {
        if (r.encrypted() != encrypts && !r.tombstone())
            fail_at(errc::corruption, where(), "{}",
                    encrypts ? "an unencrypted record in an encrypted database"
                             : "an encrypted record (flag 0x02) in a database without a key");
        open_put(r.payload, {.collection = r.collection_id, .id = r.id, .sequence = r.sequence, .kind = put_record_kind},
                 where, out);
    }

    // The same for a put's stored payload whose place the caller knows (a WAL PUT, whose
    // sequence is its COMMIT's; salvage reads them).
    template <typename Where>
    void open_put(bytes_view stored, [[maybe_unused]] const record_place& place, [[maybe_unused]] const Where& where,
                  byte_buffer& out) const {
        if constexpr (encrypts) {
            try {
                cipher_->open(stored, place, out);
            } catch (const error& x) {
                fail_at(errc::corruption, where(), "{}", x.detail());
            }
        } else {
            out.assign(stored.begin(), stored.end());
        }
    }

    [[nodiscard]] const C& cipher() const noexcept
        requires encrypts
    {
        return *cipher_;
    }
    // The cipher, or null for an unencrypted database (format/manifest_file.hpp's argument).
    [[nodiscard]] const C* cipher_or_null() const noexcept {
        if constexpr (encrypts)
            return cipher_.get();
        else
            return nullptr;
    }

private:
    struct none {};
    [[no_unique_address]] std::conditional_t<encrypts, std::shared_ptr<const C>, none> cipher_{};
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
