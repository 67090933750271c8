using System.ComponentModel.DataAnnotations.Schema;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;

public class Article
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public string Body { get; set; } = "";

    [VersionField]
    public long Version { get; set; }
}

/// <summary>Reaches a versioned <see cref="Article" /> through a navigation, so the article can be loaded by <c>Include</c>.</summary>
public class Review
{
    public int Id { get; set; }

    public int ArticleId { get; set; }

    public Article Article { get; set; } = null!;

    public string Text { get; set; } = "";
}

public class Counter
{
    public int Id { get; set; }

    public int Value { get; set; }

    [VersionField]
    public int Version { get; set; }
}

public class Document
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public string Notes { get; set; } = "";

    [ConditionalVersionField(CheckFields = [nameof(Title)])]
    public long Version { get; set; }
}

public class Page
{
    public int Id { get; set; }

    public string Content { get; set; } = "";

    [TriggerVersionField]
    public long Version { get; set; }
}

public class Animal
{
    public int Id { get; set; }

    public string Name { get; set; } = "";

    [VersionField]
    public int Version { get; set; }
}

public class Dog : Animal
{
    public string Breed { get; set; } = "";
}

[Table("Vehicles")]
public class Vehicle
{
    public int Id { get; set; }

    public string Make { get; set; } = "";

    [VersionField]
    public long Version { get; set; }
}

[Table("Cars")]
public class Car : Vehicle
{
    public int Seats { get; set; }
}

/// <summary>A class "from a library": versioned through a shadow property.</summary>
public class Tag
{
    public int Id { get; set; }

    public string Name { get; set; } = "";
}

public class Customer
{
    public int Id { get; set; }

    public string Name { get; set; } = "";

    public Address Address { get; set; } = new();

    [VersionField]
    public int Version { get; set; }
}

public class Address
{
    public string Street { get; set; } = "";

    public string City { get; set; } = "";
}

public class Note
{
    public int Id { get; set; }

    public string Text { get; set; } = "";
}

/// <summary>An aggregate with owned collection elements in their own table.</summary>
public class Order
{
    public int Id { get; set; }

    public string Note { get; set; } = "";

    public List<OrderLine> Lines { get; set; } = [];

    [VersionField]
    public long Version { get; set; }
}

public class OrderLine
{
    public int Id { get; set; }

    public string Product { get; set; } = "";

    public int Quantity { get; set; }
}

public class VersionedContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Article> Articles => Set<Article>();

    public DbSet<Counter> Counters => Set<Counter>();

    public DbSet<Document> Documents => Set<Document>();

    public DbSet<Page> Pages => Set<Page>();

    public DbSet<Animal> Animals => Set<Animal>();

    public DbSet<Dog> Dogs => Set<Dog>();

    public DbSet<Vehicle> Vehicles => Set<Vehicle>();

    public DbSet<Car> Cars => Set<Car>();

    public DbSet<Tag> Tags => Set<Tag>();

    public DbSet<Customer> Customers => Set<Customer>();

    public DbSet<Note> Notes => Set<Note>();

    public DbSet<Order> Orders => Set<Order>();

    public DbSet<Review> Reviews => Set<Review>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Vehicle>().UseTptMappingStrategy();
        modelBuilder.Entity<Tag>().HasVersionField("Version");
        modelBuilder.Entity<Customer>().OwnsOne(c => c.Address);
        modelBuilder.Entity<Order>().OwnsMany(o => o.Lines, line => line.HasKey("Id"));
        modelBuilder.UseVersioning();
    }
}
