using Microsoft.EntityFrameworkCore.Metadata.Conventions;
using Microsoft.EntityFrameworkCore.Metadata.Conventions.Infrastructure;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Metadata.Conventions;

/// <summary>Adds the version-field and object-lock conventions to every model built for a context configured with <c>UseConcurrency()</c>.</summary>
internal sealed class ConcurrencyConventionSetPlugin(IDatabaseProvider provider, DatabaseDialect dialect) : IConventionSetPlugin
{
    public ConventionSet ModifyConventions(ConventionSet conventionSet)
    {
        conventionSet.PropertyAddedConventions.Add(new VersionFieldAttributeConvention());
        conventionSet.ModelFinalizingConventions.Add(new VersionFieldFinalizingConvention(provider.Name, dialect));
        conventionSet.ModelFinalizingConventions.Add(new ObjectLockConvention());
        return conventionSet;
    }
}
