using System.Data.Common;
using Concurrency.EntityFrameworkCore.Infrastructure.Internal;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     The save path, in the order EF runs it. SavingChanges: undo what an aborted save left, then wait for EF's own
///     DetectChanges (DetectedAllChanges) to prepare versions (<see cref="VersionPreparer" />, which also collects the rows
///     to read first). EF then calls the database, where <see cref="Storage.Internal.ConcurrencyDatabase" /> reads those
///     rows under a row lock (<see cref="PreSaveRead" />). A stale write: ThrowingConcurrencyException
///     (<see cref="ConflictTranslator" />). SavedChanges: keep what a transaction may still roll back
///     (<see cref="TransactionVersionLog" />). Any failure: restore the versions this save changed.
/// </summary>
/// <remarks>Scoped: one instance per DbContext, which is never used by two threads at once.</remarks>
internal sealed class ConcurrencySaveChangesInterceptor(IDbContextOptions options, SaveSession session) : SaveChangesInterceptor
{
    private readonly bool _readActualVersion
        = options.FindExtension<ConcurrencyOptionsExtension>()?.ReadActualVersionOnConflict ?? true;

    // Resolved on first use: the interceptor is built while EF builds the context's services, before this one can be.
    // (Not context.Database: its first use builds the facade and its dependencies, which a save need not pay for.)
    private IDbContextTransactionManager? _transactions;
    private EventHandler<DetectedChangesEventArgs>? _onDetectedAllChanges;
    private DbContext? _armedContext;

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Prepare(eventData.Context);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData,
        InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        Prepare(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Complete(eventData.Context);
        return result;
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Complete(eventData.Context);
        return ValueTask.FromResult(result);
    }

    // Failures other than concurrency conflicts (EF calls no interceptor for those: see ThrowingConcurrencyException).
    public override void SaveChangesFailed(DbContextErrorEventData eventData)
        => Abort();

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Abort();
        return Task.CompletedTask;
    }

    public override void SaveChangesCanceled(DbContextEventData eventData)
        => Abort();

    public override Task SaveChangesCanceledAsync(DbContextEventData eventData, CancellationToken cancellationToken = default)
    {
        Abort();
        return Task.CompletedTask;
    }

    public override InterceptionResult ThrowingConcurrencyException(ConcurrencyExceptionEventData eventData, InterceptionResult result)
    {
        ConflictTranslator.ThrowAsync(eventData, session, _readActualVersion, async: false, CancellationToken.None).GetAwaiter().GetResult();
        return result;
    }

    public override async ValueTask<InterceptionResult> ThrowingConcurrencyExceptionAsync(
        ConcurrencyExceptionEventData eventData,
        InterceptionResult result,
        CancellationToken cancellationToken = default)
    {
        await ConflictTranslator.ThrowAsync(eventData, session, _readActualVersion, async: true, cancellationToken).ConfigureAwait(false);
        return result;
    }

    private void Prepare(DbContext? context)
    {
        // A previous save aborted before EF's try block (a later SavingChanges interceptor threw) reached none of the exit
        // hooks: undo what it changed, or its bumped versions would read as expected versions now.
        Abort();
        if (context is null)
        {
            return;
        }

        session.DatabaseReached = false;
        session.Observe(context);
        if (session.Transactions.HasPending)
        {
            session.Transactions.Settle(CurrentTransaction(context), session.Loaded);
        }

        var model = VersionedModel.Get(context.Model);
        if (!model.HasVersionFields && !model.HasObjectLocks)
        {
            return;
        }

        // EF runs DetectChanges right after the SavingChanges interceptors: preparing here would scan twice, so prepare
        // when EF's own scan ends. Not possible when EF will not scan (auto-detect off, or only notification tracking).
        if (context.ChangeTracker.AutoDetectChangesEnabled && model.HasSnapshotTracking)
        {
            _onDetectedAllChanges ??= OnDetectedAllChanges;
            _armedContext = context;
            context.ChangeTracker.DetectedAllChanges += _onDetectedAllChanges;
            return;
        }

        // EF calls no failure hook for exceptions thrown here (SavingChanges runs outside its try block).
        Guarded(context);
    }

    /// <summary>
    ///     The end of a DetectChanges of this save (EF blocks nested DetectChanges meanwhile). Usually one: EF's own, right
    ///     before it builds the commands. An application's SavingChanges interceptor may run one earlier (by calling
    ///     <c>Entries()</c>) and change entities after it, so every DetectChanges until EF reaches the database prepares
    ///     afresh from what the application had: the last one wins.
    /// </summary>
    private void OnDetectedAllChanges(object? sender, DetectedChangesEventArgs e)
    {
        if (_armedContext is { } context && !session.DatabaseReached)
        {
            session.Changes.Revert();
            Guarded(context); // also outside EF's try block
        }
    }

    private void Guarded(DbContext context)
    {
        try
        {
            VersionPreparer.Prepare(context, session);
        }
        catch
        {
            Abort();
            throw;
        }
    }

    private DbContext? Disarm()
    {
        var context = _armedContext;
        if (context is not null)
        {
            _armedContext = null;
            context.ChangeTracker.DetectedAllChanges -= _onDetectedAllChanges;
        }

        return context;
    }

    private void Complete(DbContext? context)
    {
        Disarm();
        session.PendingReads = null;
        if (context is not null && session.Changes.Count > 0)
        {
            SavedVersions.Remember(session, CurrentTransaction(context));
        }

        session.Changes.Clear();
    }

    private DbTransaction? CurrentTransaction(DbContext context)
        => (_transactions ??= context.GetService<IDbContextTransactionManager>()).CurrentTransaction?.GetDbTransaction();

    private void Abort()
    {
        Disarm();
        session.PendingReads = null;
        session.Changes.Revert();
    }
}
