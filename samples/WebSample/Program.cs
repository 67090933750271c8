// A small web app showing the whole path from a stale write to a correct answer:
//   - /articles/{id}/edit: an HTML form. Open it in two tabs, save in one, then in the other: the second shows both
//     versions side by side and lets you reload or overwrite.
//   - /api/articles/{id}: the same record as JSON with ETag / If-Match (412 when stale, 428 without If-Match),
//     and PUT /api/articles/{id}/lock and /unlock.
//
// Run:  dotnet run --project samples/WebSample            (SQLite file websample.db, http://127.0.0.1:5080)
//       dotnet run --project samples/WebSample -- --ConnectionStrings:Default="Host=...;Database=...;Username=..."
using WebSample;

var app = SampleApp.Create(args);
app.Run();
