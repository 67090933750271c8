using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>Reliability rules that need no database: refused configurations, scope state, which errors a retry cures.</summary>
[Category("Reliability")]
public sealed class ReliabilityTests
{
    [Test]
    public void A_version_field_with_a_value_converter_is_refused_when_the_model_is_built([Values] bool postgres)
    {
        using var context = new ModelContext(m => m.Entity<Article>().Property(a => a.Version).HasConversion<string>(), postgres: postgres);
        var message = Assert.Throws<InvalidOperationException>(() => _ = context.Model)!.Message;
        Assert.That(message, Does.Contain("'Article.Version'").And.Contain("value converter").And.Contain("Remove the HasConversion"));
    }

    [Test]
    public async Task IsActive_is_false_in_a_child_task_once_the_scope_was_disposed()
    {
        var disposed = new TaskCompletionSource();
        Task<bool> child;
        using (new DisableConcurrency())
        {
            child = Task.Run(async () =>
            {
                await disposed.Task;
                return DisableConcurrency.IsActive;
            });
        }

        disposed.SetResult();
        Assert.That(await child, Is.False);
        Assert.That(DisableConcurrency.IsActive, Is.False);
    }

    [Test]
    public async Task IsActive_is_false_once_the_scope_was_disposed_on_another_thread()
    {
        var scope = new DisableConcurrency();
        Assert.That(DisableConcurrency.IsActive, Is.True);
        await Task.Run(scope.Dispose);
        Assert.That(DisableConcurrency.IsActive, Is.EqualTo(DisableConcurrency.IsDisabledFor(typeof(object))));
        Assert.That(DisableConcurrency.IsActive, Is.False);
    }

    [TestCase("40P01", true)]
    [TestCase("40001", true)]
    [TestCase("23505", false)]
    [TestCase(null, false)]
    public void Deadlocks_and_serialization_failures_are_retried_other_database_errors_are_not(string? sqlState, bool retried)
    {
        var error = new FakeDbException(sqlState);
        Assert.That(ConcurrencyRetryExtensions.IsRetryable(error), Is.EqualTo(retried));
        Assert.That(ConcurrencyRetryExtensions.IsRetryable(new DbUpdateException("save failed", error)), Is.EqualTo(retried));
        Assert.That(ConcurrencyRetryExtensions.IsRetryable(new DbUpdateConcurrencyException("conflict")), Is.True);
        Assert.That(ConcurrencyRetryExtensions.IsRetryable(new InvalidOperationException("other")), Is.False);
    }

    [Test]
    public async Task RetryOnConflictAsync_retries_a_deadlock_and_returns_the_next_attempts_result()
    {
        var attempts = 0;
        using var context = new ModelContext(_ => { });
        var result = await context.RetryOnConflictAsync(
            _ => ++attempts == 1 ? throw new DbUpdateException("deadlock", new FakeDbException("40P01")) : Task.FromResult(attempts));
        Assert.That(result, Is.EqualTo(2));
    }

    private sealed class FakeDbException(string? sqlState) : DbException("database error")
    {
        public override string? SqlState
            => sqlState;
    }
}
