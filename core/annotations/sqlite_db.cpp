#include "core/annotations/sqlite_db.h"

#include <sqlite3.h>

#include "core/util/error.h"

namespace gligen::annotations {

SqliteDatabase::SqliteDatabase(const std::string& path, bool create, bool read_only) : path_(path) {
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error("cannot open dataset database '" + path + "': " + msg +
                (create ? "" : ". Check the path, or create it with 'gligen-trainer dataset import'."));
  }
  sqlite3_extended_result_codes(db_, 1);
}

SqliteDatabase::~SqliteDatabase() { sqlite3_close_v2(db_); }

void SqliteDatabase::fail(int rc, const std::string& context) const {
  const int primary = rc & 0xff;
  std::string msg =
      "dataset database '" + path_ + "': " + context + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  if (primary == SQLITE_NOTADB) {
    msg += ". The file is not an SQLite database: open a dataset database (.sqlite) made by GLIGEN Studio";
  } else if (primary == SQLITE_CORRUPT) {
    msg += ". The database file is damaged; restore it from a backup or re-import the dataset";
  } else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    msg += ". Another program holds the database too long; try again when it has finished";
  } else if (primary == SQLITE_READONLY) {
    msg += ". The database is read-only; check its permissions and those of its folder (the -wal/-shm files)";
  } else if (primary == SQLITE_FULL) {
    msg += ". The disk is full";
  } else if (primary == SQLITE_CANTOPEN) {
    msg += ". Check that the file and its folder exist and are accessible";
  }
  throw Error(msg);
}

void SqliteDatabase::exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    fail(rc, "cannot run '" + sql.substr(0, 60) + "'");
  }
}

int64_t SqliteDatabase::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int SqliteDatabase::changes() const { return sqlite3_changes(db_); }

int64_t SqliteDatabase::scalar_int(const std::string& sql) {
  SqliteStatement st(*this, sql);
  return st.step() ? st.int64(0) : 0;
}

SqliteStatement::SqliteStatement(SqliteDatabase& db, const std::string& sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db.handle(), sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, "cannot prepare '" + sql.substr(0, 80) + "'");
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::bind(int index, int64_t v) {
  const int rc = sqlite3_bind_int64(stmt_, index, v);
  if (rc != SQLITE_OK) db_.fail(rc, "bind");
  return *this;
}
SqliteStatement& SqliteStatement::bind(int index, double v) {
  const int rc = sqlite3_bind_double(stmt_, index, v);
  if (rc != SQLITE_OK) db_.fail(rc, "bind");
  return *this;
}
SqliteStatement& SqliteStatement::bind(int index, const std::string& v) {
  const int rc = sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) db_.fail(rc, "bind");
  return *this;
}
SqliteStatement& SqliteStatement::bind_blob(int index, const void* data, size_t size) {
  const int rc = sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_.fail(rc, "bind");
  return *this;
}
SqliteStatement& SqliteStatement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_.fail(rc, "bind");
  return *this;
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  db_.fail(rc, "query failed");
}

void SqliteStatement::run() {
  while (step()) {}
  sqlite3_reset(stmt_);
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double SqliteStatement::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string SqliteStatement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}
bool SqliteStatement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
const void* SqliteStatement::blob_data(int col) const { return sqlite3_column_blob(stmt_, col); }
int SqliteStatement::blob_size(int col) const { return sqlite3_column_bytes(stmt_, col); }
std::vector<std::uint8_t> SqliteStatement::blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(blob_data(col));
  return p ? std::vector<std::uint8_t>(p, p + blob_size(col)) : std::vector<std::uint8_t>();
}

SqliteTransaction::SqliteTransaction(SqliteDatabase& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

SqliteTransaction::~SqliteTransaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteTransaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace gligen::annotations
