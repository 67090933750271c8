using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Concurrency.AspNetCore.FunctionalTests.TestUtilities;

/// <summary>The same ETag flow from an MVC controller.</summary>
[ApiController]
[Route("mvc/docs")]
public sealed class DocsController(WebContext db) : ControllerBase
{
    [HttpGet("{id:int}")]
    public async Task<IActionResult> Get(int id)
        => await db.Docs.FindAsync(id) is { } doc ? this.VersionedOk(db.Entry(doc)) : NotFound();

    [HttpPut("{id:int}")]
    [RequireIfMatch]
    public async Task<IActionResult> Put(int id, DocChange change)
    {
        if (await db.Docs.FindAsync(id) is not { } doc)
        {
            return NotFound();
        }

        HttpContext.CheckPreconditions(db.Entry(doc));
        doc.Title = change.Title;
        await db.SaveChangesAsync();
        return this.VersionedOk(db.Entry(doc));
    }
}
