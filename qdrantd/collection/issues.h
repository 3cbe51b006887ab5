// Issues (Qdrant's GET /issues): performance problems this node noticed while serving, each with
// the request that fixes it. Today one kind: UNINDEXED_FIELD, a filtered read on a big
// collection (Collection::kIssueMinPoints points or more) whose filter reads a key with no
// payload index of a type that serves the condition. Creating that index resolves it; DELETE
// /issues forgets them all; dropping the collection forgets its own.
// Process-wide, in memory (a restart forgets them, as in Qdrant). Thread: any.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qd::collection {

struct Issue {
  std::string id;  // "UNINDEXED_FIELD/<collection>/<field>"
  std::string description;
  std::string message;  // the solution, in words
  // The request that applies the solution.
  std::string method;
  std::string uri;
  std::vector<std::pair<std::string, std::string>> body;  // string members, in order
  int64_t timestamp_ms = 0;                               // Unix; when last noticed
};

// The issue of a filter reading `field` of `collection` without an index of `schema` (the index
// type Qdrant would suggest: the first that serves the condition).
Issue UnindexedFieldIssue(const std::string& collection, const std::string& field,
                          const std::string& schema);

class IssueLog {
 public:
  static IssueLog& Global();
  // Adds the issue, or refreshes the timestamp of the one with its id.
  void Submit(Issue issue);
  // Forgets the issues whose id starts with `prefix`.
  void Resolve(std::string_view prefix);
  void Clear();
  std::vector<Issue> List() const;  // by id

 private:
  mutable std::mutex mu_;
  std::map<std::string, Issue, std::less<>> issues_;  // Protected by mu_
};

}  // namespace qd::collection
