namespace Concurrency.TestSupport;

/// <summary>The database a fixture runs against.</summary>
public enum Provider
{
    Sqlite,
    Postgres,
}
