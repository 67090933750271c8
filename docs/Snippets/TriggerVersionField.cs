using Concurrency.EntityFrameworkCore;

namespace Concurrency.Snippets.TriggerVersionField;

#region trigger-version-field
public class Page
{
    public int Id { get; set; }
    public string Content { get; set; } = "";
    [TriggerVersionField] public long Version { get; set; }
}
#endregion
