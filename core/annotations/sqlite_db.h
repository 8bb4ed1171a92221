// A thin RAII layer over the SQLite C API: a connection, prepared statements with typed binds
// and columns, and transactions that roll back unless committed. Every failure throws
// gligen::Error naming the database file and SQLite's message.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace gligen::annotations {

class SqliteDatabase;

class SqliteStatement {
 public:
  SqliteStatement(SqliteDatabase& db, const std::string& sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Binds are 1-based, as in SQLite.
  SqliteStatement& bind(int index, int64_t v);
  SqliteStatement& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  SqliteStatement& bind(int index, double v);
  SqliteStatement& bind(int index, const std::string& v);
  SqliteStatement& bind(int index, const char* v) { return bind(index, std::string(v)); }
  SqliteStatement& bind_blob(int index, const void* data, size_t size);
  SqliteStatement& bind_null(int index);
  SqliteStatement& bind(int index, const std::optional<double>& v) { return v ? bind(index, *v) : bind_null(index); }

  // True while a row is available; false when done.
  bool step();
  // Runs to completion (statements without rows).
  void run();
  void reset();  // also clears the binds

  // Columns are 0-based.
  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  bool is_null(int col) const;
  std::vector<std::uint8_t> blob(int col) const;
  const void* blob_data(int col) const;
  int blob_size(int col) const;

 private:
  SqliteDatabase& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDatabase {
 public:
  // Opens (and with `create`, creates) the file. Throws gligen::Error when it cannot.
  SqliteDatabase(const std::string& path, bool create, bool read_only);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  void exec(const std::string& sql);
  int64_t last_insert_rowid() const;
  int changes() const;
  int64_t scalar_int(const std::string& sql);
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // Throws gligen::Error for SQLite result code `rc` with a message that says what to do for the
  // common cases (busy, corrupt, not a database, read-only, full disk).
  [[noreturn]] void fail(int rc, const std::string& context) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor when not committed. IMMEDIATE takes the
// write lock at once, so a concurrent writer waits (busy timeout) instead of failing mid-edit.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDatabase& db);
  ~SqliteTransaction();
  void commit();

 private:
  SqliteDatabase& db_;
  bool done_ = false;
};

}  // namespace gligen::annotations
