// libpq (PostgreSQL's client library) for Swift: the public header. Everything Giaoban uses
// imports as is; PQfreemem and PQunescapeBytea hand back memory the caller frees.
#ifndef GIAOBAN_CPOSTGRES_SHIM_H
#define GIAOBAN_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
