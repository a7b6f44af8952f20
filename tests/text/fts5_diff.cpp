// Our side of the FTS5 differential (tests/text/fts5_oracle.py): reads a corpus and queries,
// evaluates each query with text::search_all and text::search, and prints what it found.
//
// Input, one record a line, fields separated by a tab:
//     D <rowid> <text>        a document
//     Q <number> <query>      a query in FTS5's syntax
//     K <limit>               the limit of the top-k search printed for each query
// Output, per query in input order:
//     Q <number> <hits>       then one "H <rowid> <score>" per hit in rowid order,
//                             then one "T <rowid> <score>" per top-k hit, best first;
//     E <number> <message>    instead, when the query does not parse.
// Scores are printed with 17 significant digits (they round-trip).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <entidb/text/search.hpp>

#include "memory_posting_source.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fts5_diff <input file>\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::cerr << "cannot open " << argv[1] << "\n";
        return 2;
    }
    text_test::memory_posting_source<std::int64_t> source;
    const entidb::text::tokenizer_options options;
    std::vector<std::pair<std::string, std::string>> queries;
    std::size_t limit = 10;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const auto tab1 = line.find('\t');
        const auto tab2 = line.find('\t', tab1 == std::string::npos ? tab1 : tab1 + 1);
        if (line[0] == 'K' && tab1 != std::string::npos) {
            limit = std::stoul(line.substr(tab1 + 1));
            continue;
        }
        if (tab1 == std::string::npos || tab2 == std::string::npos) {
            std::cerr << "malformed line: " << line << "\n";
            return 2;
        }
        const std::string key = line.substr(tab1 + 1, tab2 - tab1 - 1);
        const std::string rest = line.substr(tab2 + 1);
        if (line[0] == 'D') {
            source.add(std::stoll(key), rest, options);
        } else if (line[0] == 'Q') {
            queries.emplace_back(key, rest);
        }
    }
    std::string out;
    for (const auto& [number, text] : queries) {
        try {
            const auto q = entidb::text::parse_query(text, options);
            const auto all = entidb::text::search_all(source, q);
            out += fmt::format("Q\t{}\t{}\n", number, all.size());
            for (const auto& hit : all) out += fmt::format("H\t{}\t{:.17g}\n", hit.doc, hit.score);
            for (const auto& hit : entidb::text::search(source, q, limit)) out += fmt::format("T\t{}\t{:.17g}\n", hit.doc, hit.score);
        } catch (const entidb::error& e) {
            out += fmt::format("E\t{}\t{}\n", number, e.what());
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}
