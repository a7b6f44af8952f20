// entidb/storage/backend.hpp — the byte-store concept every storage layer sits on.
//
// A backend is an append-only byte store with random reads:
//   read_at(offset, out)  fills `out` completely or throws (errc::corruption when
//                         the range lies past the end, errc::io_error otherwise);
//   append(bytes)         writes at the end and returns the offset of the first byte;
//   flush()               makes every appended byte durable (a no-op for memory);
//                         a failure throws errc::outcome_unknown and is never retried;
//   size()                the number of bytes appended and not truncated;
//   truncate(n)           drops everything at and after offset n (n <= size()).
// and states at compile time whether flush() really makes data durable:
//   static constexpr bool durable = true | false;
// The declaration is an explicit opt-in: a concept checks it rather than guessing.
//
// Thread-safety: a backend is used by one writer at a time; read_at may run
// concurrently with append as long as readers only ask for bytes already appended
// before they started (the engine guarantees that through snapshots).
#pragma once

#include <concepts>
#include <cstdint>

#include "../bytes.hpp"

namespace entidb {
inline namespace v1 {

template <typename B>
concept storage_backend = requires(B& b, const B& cb, std::uint64_t offset, mutable_bytes out, bytes_view in) {
    { B::durable } -> std::convertible_to<bool>;
    { cb.read_at(offset, out) } -> std::same_as<void>;
    { b.append(in) } -> std::same_as<std::uint64_t>;
    { b.flush() } -> std::same_as<void>;
    { cb.size() } -> std::same_as<std::uint64_t>;
    { b.truncate(offset) } -> std::same_as<void>;
};

// True for a backend type that promises durability after flush().
template <typename B>
concept durable_backend = storage_backend<B> && B::durable;

// A backend whose bytes can be reused in place (a recycled wal.log, wal/writer.hpp): it
// holds capacity() >= size() bytes, and append() writes at size(), over whatever the
// bytes past it hold, so a write into reserved space changes no file size:
//   capacity()    the bytes held; a reopen sees all of them (size() == capacity());
//   reserve(n)    capacity() >= n, the new bytes zero (posix_fallocate), size() unchanged;
//                 like an append, durable only after the next flush();
//   set_end(n)    size() = n <= capacity(); the bytes past it stay (nothing is written).
// truncate(n) still drops the bytes at and after n: capacity() = size() = n.
template <typename B>
concept recyclable_backend = storage_backend<B> && requires(B& b, const B& cb, std::uint64_t n) {
    { cb.capacity() } -> std::same_as<std::uint64_t>;
    { b.reserve(n) } -> std::same_as<void>;
    { b.set_end(n) } -> std::same_as<void>;
};

// A backend that maps its file hands out views of its bytes (file_backend::view_at): reads
// are then copies from memory, or no copy at all, instead of a system call each.
template <typename B>
concept mappable_backend = storage_backend<B> && requires(const B& cb, std::uint64_t offset, std::size_t n) {
    { cb.view_at(offset, n) } -> std::same_as<bytes_view>;
};

}  // namespace v1
}  // namespace entidb
