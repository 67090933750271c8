namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>Stops the throwaway PostgreSQL (cluster or container, if the run started one) after every test of this assembly.</summary>
[SetUpFixture]
public sealed class PostgresLifetime
{
    [OneTimeTearDown]
    public void StopServer()
        => PostgresServer.StopIfStarted();
}
