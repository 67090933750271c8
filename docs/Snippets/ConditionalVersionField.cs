using Concurrency.EntityFrameworkCore;

namespace Concurrency.Snippets.ConditionalVersionField;

#region conditional-version-field
public class Document
{
    public int Id { get; set; }
    public string Title { get; set; } = "";
    public string Notes { get; set; } = "";       // not watched
    public int ViewCount { get; set; }            // not watched

    [ConditionalVersionField(CheckFields = [nameof(Title)])]
    public long Version { get; set; }
}
// or: [ConditionalVersionField(IgnoreFields = [nameof(Notes), nameof(ViewCount)])]
// fluent: .Property(d => d.Version).IsConditionalVersionField(checkFields: [nameof(Document.Title)]);
#endregion
