using Concurrency.EntityFrameworkCore;

namespace Concurrency.Snippets.VersionField;

#region version-field
public class Article
{
    public int Id { get; set; }
    public string Title { get; set; } = "";
    [VersionField] public long Version { get; set; }     // or int
}
// fluent: modelBuilder.Entity<Article>().Property(a => a.Version).IsVersionField();
// shadow: modelBuilder.Entity<IdentityRole>().HasVersionField("Version");
#endregion
