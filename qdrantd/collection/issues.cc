#include "qdrantd/collection/issues.h"

#include <chrono>

namespace qd::collection {
Issue UnindexedFieldIssue(const std::string& collection, const std::string& field,
                          const std::string& schema) {
  Issue issue;
  issue.id = "UNINDEXED_FIELD/" + collection + "/" + field;
  issue.description = "Unindexed field '" + field +
                      "' might be slowing queries down in collection '" + collection + "'";
  issue.message = "Create an index on field '" + field + "' of schema " + schema +
                  " in collection '" + collection +
                  "'. Check the documentation for more details: "
                  "https://qdrant.tech/documentation/concepts/indexing/#payload-index";
  issue.method = "PUT";
  issue.uri = "/collections/" + collection + "/index";
  issue.body = {{"field_name", field}, {"field_schema", schema}};
  issue.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  return issue;
}

IssueLog& IssueLog::Global() {
  static IssueLog* log = new IssueLog();  // never destroyed: requests may run during exit
  return *log;
}

void IssueLog::Submit(Issue issue) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string id = issue.id;
  issues_.insert_or_assign(std::move(id), std::move(issue));
}

void IssueLog::Resolve(std::string_view prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = issues_.lower_bound(prefix);
       it != issues_.end() && std::string_view(it->first).starts_with(prefix);) {
    it = issues_.erase(it);
  }
}

void IssueLog::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  issues_.clear();
}

std::vector<Issue> IssueLog::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Issue> out;
  for (const auto& [id, issue] : issues_) out.push_back(issue);
  return out;
}

}  // namespace qd::collection
