// A small todo app: typed collections, a unique hash index, an ordered index, the change
// feed, and filtering in plain C++ (there is no query language).
#include <entidb/entidb.hpp>
#include <fmt/core.h>

#include <string>
#include <vector>

struct todo {
    std::string title;
    std::string owner;  // an email
    std::int32_t priority = 0;
    bool done = false;
    std::vector<std::string> tags;
    static constexpr auto entidb_fields = entidb::fields(
        entidb::field("title", &todo::title), entidb::field("owner", &todo::owner),
        entidb::field("priority", &todo::priority), entidb::field("done", &todo::done), entidb::field("tags", &todo::tags));
};

struct person {
    std::string email;
    std::string name;
    static constexpr auto entidb_fields =
        entidb::fields(entidb::field("email", &person::email), entidb::field("name", &person::name));
};

using people_t = entidb::collection<person, entidb::unique_hash_index<"email">>;
using todos_t = entidb::collection<todo, entidb::hash_index<"owner">, entidb::ordered_index<"priority">>;

int main(int argc, char** argv) {
    auto db = entidb::open(argc > 1 ? argv[1] : "todo.db");
    people_t people(db, "people");
    todos_t todos(db, "todos");

    // Every committed change, in commit order (an audit log, a cache invalidator...).
    db.subscribe([](const entidb::change& c) {
        fmt::print("  feed: #{} {} {} in {}\n", c.sequence, c.kind == entidb::change_kind::put ? "put" : "delete",
                   c.id, c.collection);
    });

    const auto since = db.last_sequence();
    db.transaction([&](auto& txn) {
        // A fixed id: running the example again updates Ada instead of claiming her email twice.
        people.put(txn, entidb::entity_id::parse("000000000000000000000000000000ad"), {"ada@example.com", "Ada"});
        todos.put(txn, entidb::entity_id::generate(), {"write the engine", "ada@example.com", 3, false, {"work"}});
        todos.put(txn, entidb::entity_id::generate(), {"buy milk", "ada@example.com", 1, true, {"home"}});
        todos.put(txn, entidb::entity_id::generate(), {"test recovery", "alan@example.com", 5, false, {"work"}});
    });

    auto snapshot = db.begin_read();
    fmt::print("Ada's open todos:\n");
    for (const auto& [id, t] : todos.find<"owner">(snapshot, "ada@example.com"))
        if (!t.done) fmt::print("  {} (priority {})\n", t.title, t.priority);  // filtering is plain C++

    fmt::print("priority 3 and up, highest first:\n");
    for (const auto& [id, t] : todos.range<"priority">(snapshot, 3, std::nullopt, entidb::order::descending))
        fmt::print("  {} — {}\n", t.priority, t.title);

    fmt::print("changes since #{}: {}\n", since, db.changes_since(since).size());
    return 0;
}
