using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Records the version of every versioned entity a query materializes (see <see cref="LoadedVersions" />), and makes
///     sure the context's change tracker is observed from its first query on, so entities attached later are recorded too.
/// </summary>
internal sealed class LoadedVersionInterceptor(SaveSession session) : IMaterializationInterceptor
{
    public object InitializedInstance(MaterializationInterceptionData materializationData, object entity)
    {
        session.Observe(materializationData.Context);
        if (VersionFieldMetadata.Find(materializationData.EntityType) is { } metadata
            && metadata.Property.DeclaringType.IsAssignableFrom(materializationData.EntityType))
        {
            session.Loaded.Record(entity, metadata.ToLong(materializationData.GetPropertyValue(metadata.Property)));
        }

        return entity;
    }
}
