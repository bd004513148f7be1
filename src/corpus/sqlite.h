// A thin RAII layer over SQLite's C API: one connection, prepared statements, transactions. Every error
// becomes an mm::Error that names the database file. Nothing corpus-specific here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace mm {

class Db;

class Statement {
 public:
  Statement(Db& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v);
  Statement& bind(int i, double v);
  Statement& bind(int i, const std::string& v);
  Statement& bind_blob(int i, const std::string& bytes);
  Statement& bind_null(int i);
  bool step();  // true while there is a row
  void run();   // step to completion
  void reset();

  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  bool is_null(int col) const;

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  // Opens `path`; `create` allows creating a new file. Throws mm::Error.
  Db(const std::string& path, bool create, bool readonly = false);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  int64_t last_insert_id() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }
  [[noreturn]] void fail(const std::string& what) const;  // throws with sqlite's message

  // BEGIN IMMEDIATE ... COMMIT, rolled back if destroyed uncommitted.
  class Transaction {
   public:
    explicit Transaction(Db& db);
    ~Transaction();
    void commit();

   private:
    Db& db_;
    bool done_ = false;
  };

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace mm
