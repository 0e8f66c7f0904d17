using FleetAspire.Names;

namespace FleetAspire.AppHost.Infrastructure;

/// <summary>The two connection-string resources the services reference, whatever mode produced them.</summary>
internal sealed record FleetInfrastructure(
    InfrastructureMode Mode,
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResourceWithConnectionString> Broker);

internal static class FleetInfrastructureExtensions
{
    public static FleetInfrastructure AddFleetInfrastructure(this IDistributedApplicationBuilder builder)
    {
        var mode = InfrastructureModeResolver.Resolve(builder);
        return mode switch
        {
            InfrastructureMode.Local => LocalInfrastructure.Add(builder),
            InfrastructureMode.External => AddExternal(builder),
            _ => AddContainers(builder),
        };
    }

    /// <summary>
    /// The standard Aspire way. REVIEW: unverified on our machines (no container engine); see README.
    /// </summary>
    private static FleetInfrastructure AddContainers(IDistributedApplicationBuilder builder)
    {
        var postgres = builder.AddPostgres(ResourceNames.Postgres).WithDataVolume();
        var database = postgres.AddDatabase(ResourceNames.FleetDatabase);
        var rabbit = builder.AddRabbitMQ(ResourceNames.RabbitMq).WithDataVolume();
        return new FleetInfrastructure(
            InfrastructureMode.Containers,
            builder.CreateResourceBuilder<IResourceWithConnectionString>(database.Resource),
            builder.CreateResourceBuilder<IResourceWithConnectionString>(rabbit.Resource));
    }

    /// <summary>Connection strings from configuration (user secrets, environment): someone else runs the servers.</summary>
    private static FleetInfrastructure AddExternal(IDistributedApplicationBuilder builder)
    {
        var database = builder.AddConnectionString(ResourceNames.FleetDatabase);
        var broker = builder.AddConnectionString(ResourceNames.RabbitMq);
        return new FleetInfrastructure(
            InfrastructureMode.External,
            builder.CreateResourceBuilder<IResourceWithConnectionString>(database.Resource),
            builder.CreateResourceBuilder<IResourceWithConnectionString>(broker.Resource));
    }
}
