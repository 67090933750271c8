using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Snippets;

/// <summary>The counters and products the retry snippets load.</summary>
public class ShopContext(DbContextOptions<ShopContext> options) : DbContext(options)
{
    public DbSet<Counter> Counters => Set<Counter>();

    public DbSet<Product> Products => Set<Product>();
}

public class Counter
{
    public int Id { get; set; }
    public int Value { get; set; }
    [VersionField] public long Version { get; set; }
}

public class Product
{
    public int Id { get; set; }
    public int Stock { get; set; }
    [VersionField] public long Version { get; set; }
}

/// <summary>What a client sends back: the article as it read it, version included.</summary>
public record ArticleDto(int Id, string Title, long Version)
{
    public static ArticleDto From(Article article)
        => new(article.Id, article.Title, article.Version);
}

/// <summary>The body of a PUT.</summary>
public record ArticleChange(string Title);
