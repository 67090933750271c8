using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Records the version of every versioned entity a query materializes in its context's <see cref="SaveSession" />
///     (see <see cref="LoadedVersions" />), and from then on observes that context's change tracker, so entities attached
///     later are recorded too.
/// </summary>
/// <remarks>
///     Materialization interceptors are singletons baked into compiled queries, so this one is stateless and added to the
///     options by <c>UseConcurrency()</c>; the per-context state is the context's scoped <see cref="SaveSession" />.
/// </remarks>
internal sealed class LoadedVersionInterceptor : IMaterializationInterceptor
{
    public static readonly LoadedVersionInterceptor Instance = new();

    private LoadedVersionInterceptor()
    {
    }

    public object InitializedInstance(MaterializationInterceptionData materializationData, object entity)
    {
        if (VersionFieldMetadata.Find(materializationData.EntityType) is { } metadata)
        {
            var session = materializationData.Context.GetService<SaveSession>();
            session.Observe(materializationData.Context);
            session.Loaded.Record(entity, metadata.ToLong(materializationData.GetPropertyValue(metadata.Property)));
        }

        return entity;
    }
}
