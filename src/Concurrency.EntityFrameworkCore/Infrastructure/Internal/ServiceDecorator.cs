using Microsoft.Extensions.DependencyInjection;

namespace Concurrency.EntityFrameworkCore.Infrastructure.Internal;

/// <summary>
///     Wraps the database provider's registration of an EF Core service in a decorator of this library, keeping its
///     lifetime: how the migrations SQL generator (version triggers) and the database (reads before a save) are
///     extended without replacing the provider's implementation.
/// </summary>
internal static class ServiceDecorator
{
    /// <summary>
    ///     Replaces the last registration of <typeparamref name="TService" /> with <typeparamref name="TDecorator" />,
    ///     which receives the provider's instance as its constructor argument of type <typeparamref name="TService" />.
    ///     No-op when none is registered yet or it is decorated already.
    /// </summary>
    public static void Decorate<TService, TDecorator>(IServiceCollection services)
        where TService : class
        where TDecorator : TService
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(TService))
            {
                continue;
            }

            if (descriptor.ImplementationFactory?.Target is Decorated)
            {
                return;
            }

            Func<IServiceProvider, TService> createInner = descriptor switch
            {
                { ImplementationType: { } type } => sp => (TService)ActivatorUtilities.CreateInstance(sp, type),
                { ImplementationFactory: { } factory } => sp => (TService)factory(sp),
                { ImplementationInstance: TService instance } => _ => instance,
                _ => throw new InvalidOperationException($"Unexpected registration of {typeof(TService).Name}."),
            };

            services[i] = new ServiceDescriptor(typeof(TService), new Decorated(sp => ActivatorUtilities.CreateInstance<TDecorator>(sp, createInner(sp))).Create, descriptor.Lifetime);
            return;
        }
    }

    /// <summary>Marks a factory as this library's, so decorating twice is a no-op.</summary>
    private sealed class Decorated(Func<IServiceProvider, object> create)
    {
        public object Create(IServiceProvider serviceProvider)
            => create(serviceProvider);
    }
}
