// entidb/detail/flat_array.hpp — a growable array of trivially copyable elements that
// never holds two copies of itself and, when large, lives on 2 MiB pages.
//
// The primary index is a few flat arrays of tens of MB. Two properties matter for them:
//  - Growing must not copy: std::vector allocates the new block before freeing the old,
//    so at open (where the index is built by appending) peak memory would be 2.5× the
//    array. Small blocks grow with realloc; large ones are their own mapping and grow
//    with mremap, which moves page-table entries, not bytes.
//  - A lookup touches a random page of the array: with 4 KiB pages that is a TLB miss and
//    a page walk per lookup, which a virtual machine makes several times dearer. Large
//    blocks are mapped with lengths in whole 2 MiB pages and marked MADV_HUGEPAGE (Linux
//    transparent huge pages, where the system allows them on request), and mremap keeps
//    their huge pages when it moves them.
// Capacity is only what the caller asks for (rounded up to whole 2 MiB pages when large),
// except push_back, which grows by half.
//
// An array may also adopt a private mapping of a file (the persisted primary index,
// index/primary_index_file.hpp): its elements are then the file's pages, read in only when
// touched, and a write copies just the page it changes. Such an array is never grown in
// place (a file mapping cannot be extended past the file): growing first copies it into
// memory of its own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

#include <sys/mman.h>

namespace entidb {
inline namespace v1 {
namespace detail {

template <typename T>
class flat_array {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                  "flat_array moves its elements with realloc and mremap: use std::vector for other types");

public:
    // Blocks of at least this many bytes are mappings of whole huge pages.
    static constexpr std::size_t huge_page = std::size_t{2} << 20;
    static constexpr std::size_t map_from = huge_page;

    flat_array() = default;
    flat_array(flat_array&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          capacity_(std::exchange(other.capacity_, 0)),
          mapped_bytes_(std::exchange(other.mapped_bytes_, 0)),
          file_backed_(std::exchange(other.file_backed_, false)) {}
    flat_array& operator=(flat_array&& other) noexcept {
        flat_array(std::move(other)).swap(*this);
        return *this;
    }
    flat_array(const flat_array&) = delete;
    flat_array& operator=(const flat_array&) = delete;
    ~flat_array() { release(); }

    void swap(flat_array& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
        std::swap(mapped_bytes_, other.mapped_bytes_);
        std::swap(file_backed_, other.file_backed_);
    }

    // Takes over `mapping` (from mmap, `bytes` long, MAP_PRIVATE) holding `count` elements,
    // releasing what the array held. It is unmapped when the array lets it go.
    void adopt_mapping(void* mapping, std::size_t bytes, std::size_t count) noexcept {
        release();
        data_ = static_cast<T*>(mapping);
        size_ = capacity_ = count;
        mapped_bytes_ = bytes;
        file_backed_ = true;
    }
    [[nodiscard]] bool file_backed() const noexcept { return file_backed_; }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] bool mapped() const noexcept { return mapped_bytes_ != 0; }
    [[nodiscard]] T* data() noexcept { return data_; }
    [[nodiscard]] const T* data() const noexcept { return data_; }
    [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
    [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    [[nodiscard]] T* begin() noexcept { return data_; }
    [[nodiscard]] T* end() noexcept { return data_ + size_; }
    [[nodiscard]] const T* begin() const noexcept { return data_; }
    [[nodiscard]] const T* end() const noexcept { return data_ + size_; }

    void push_back(const T& v) {
        if (size_ == capacity_) reserve(std::max<std::size_t>(64, capacity_ + capacity_ / 2));
        data_[size_++] = v;
    }
    // Elements added by growing are unset: the caller writes them.
    void resize(std::size_t n) {
        reserve(n);
        size_ = n;
    }
    void reserve(std::size_t n) {
        if (n <= capacity_) return;
        if (n > (std::numeric_limits<std::size_t>::max() - huge_page) / sizeof(T)) throw std::bad_alloc();
        place(n * sizeof(T));
    }
    // Best effort: if the block cannot shrink, it stays as it is.
    void shrink_to_fit() noexcept {
        if (size_ == capacity_) return;
        try {
            place(size_ * sizeof(T));
        } catch (const std::bad_alloc&) {
        }
    }

private:
    // Moves the elements into a block of at least `bytes` (>= size_ * sizeof(T)).
    void place(std::size_t bytes) {
        if (file_backed_) {  // into memory of its own first: a file mapping does not grow
            flat_array own;
            own.reserve(std::max<std::size_t>(size_, 1));
            if (size_ > 0) std::memcpy(own.data_, data_, size_ * sizeof(T));
            own.size_ = size_;
            swap(own);
        }
        if (bytes == 0) {
            release();
            capacity_ = 0;
            return;
        }
        if (bytes >= map_from) {
            bytes = (bytes + huge_page - 1) / huge_page * huge_page;
            if (mapped() && bytes == mapped_bytes_) return;
            void* p = mapped() ? ::mremap(data_, mapped_bytes_, bytes, MREMAP_MAYMOVE)
                               : ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) throw std::bad_alloc();
            (void)::madvise(p, bytes, MADV_HUGEPAGE);  // advice: refused where THP is off
            if (!mapped()) {
                if (size_ > 0) std::memcpy(p, data_, size_ * sizeof(T));
                std::free(data_);
            }
            data_ = static_cast<T*>(p);
            mapped_bytes_ = bytes;
        } else if (mapped()) {  // small again: back to the heap
            void* p = std::malloc(bytes);
            if (p == nullptr) throw std::bad_alloc();
            std::memcpy(p, data_, size_ * sizeof(T));
            ::munmap(data_, mapped_bytes_);
            data_ = static_cast<T*>(p);
            mapped_bytes_ = 0;
        } else {
            void* p = std::realloc(data_, bytes);
            if (p == nullptr) throw std::bad_alloc();
            data_ = static_cast<T*>(p);
        }
        capacity_ = bytes / sizeof(T);
    }

    void release() noexcept {
        if (mapped())
            ::munmap(data_, mapped_bytes_);
        else
            std::free(data_);
        data_ = nullptr;
        mapped_bytes_ = 0;
        file_backed_ = false;
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
    std::size_t mapped_bytes_ = 0;  // 0: a heap block
    bool file_backed_ = false;      // a private mapping of a file (adopt_mapping)
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
