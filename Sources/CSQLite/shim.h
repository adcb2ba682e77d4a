// SQLite for Swift: the public header plus wrappers for what Swift cannot import, the
// SQLITE_TRANSIENT destructor (a cast of -1 to a function pointer).
#ifndef GIAOBAN_CSQLITE_SHIM_H
#define GIAOBAN_CSQLITE_SHIM_H
#include <sqlite3.h>

/// Binds text that SQLite copies before returning (the Swift string's buffer is temporary).
static inline int giaoban_sqlite3_bind_text(sqlite3_stmt *s, int i, const char *text, int n) {
    return sqlite3_bind_text(s, i, text, n, SQLITE_TRANSIENT);
}

/// Binds bytes that SQLite copies before returning.
static inline int giaoban_sqlite3_bind_blob(sqlite3_stmt *s, int i, const void *bytes, int n) {
    return sqlite3_bind_blob(s, i, bytes, n, SQLITE_TRANSIENT);
}
#endif
