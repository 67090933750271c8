// A small admin tool for articles, showing the whole path from a stale write to a correct answer:
//   - /: every article with its version and lock (who holds it, until when).
//   - /articles/{id}/edit: the edit form, with Lock and Unlock. Open it in two tabs, save in one, then in the other: the
//     second shows both versions side by side, the fields that differ highlighted, and lets you reload or overwrite.
//     "Sign in" (a name only) makes you the owner of the locks you take: you may keep saving, others are refused.
//   - /api/articles/{id}: the same record as JSON with ETag / If-Match (412 when stale, 428 without If-Match),
//     and PUT /api/articles/{id}/lock (?leaseSeconds=N) and /unlock.
//
// Run:  dotnet run --project samples/WebSample            (SQLite file websample.db, http://127.0.0.1:5080)
//       dotnet run --project samples/WebSample -- --ConnectionStrings:Default="Host=...;Database=...;Username=..."
using WebSample;

var app = SampleApp.Create(args);
app.Run();
