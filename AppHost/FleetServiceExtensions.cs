using FleetAspire.AppHost.Infrastructure;

namespace FleetAspire.AppHost;

internal static class FleetServiceExtensions
{
    /// <summary>
    /// A fleet service: the shared database and broker, the signing key, a fixed port, a health probe, and a start
    /// that waits for the broker and for the migrator to have finished.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddFleetService<TProject>(
        this IDistributedApplicationBuilder builder,
        string name,
        int port,
        FleetInfrastructure infrastructure,
        IResourceBuilder<ProjectResource> migrator,
        IResourceBuilder<ParameterResource> signingKey)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name, options => options.ExcludeLaunchProfile = true)
            .WithHttpEndpoint(port: port, name: "http")
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName)
            .WithReference(infrastructure.Database)
            .WithReference(infrastructure.Broker).WaitFor(infrastructure.Broker)
            .WaitForCompletion(migrator)
            .WithEnvironment("Auth__SigningKey", signingKey)
            .WithHttpHealthCheck("/health")
            .WithFleetTelemetryDefaults();

    /// <summary>
    /// Aspire asks services to retry OTLP exports in memory, so at shutdown (dashboard already gone) each service's
    /// last flush blocks ~10 s until DCP kills it. A 1 s export timeout and no retry make Ctrl+C take seconds.
    /// </summary>
    public static IResourceBuilder<T> WithFleetTelemetryDefaults<T>(this IResourceBuilder<T> resource)
        where T : IResourceWithEnvironment =>
        resource.WithEnvironment(context =>
        {
            context.EnvironmentVariables.Remove("OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY");
            context.EnvironmentVariables["OTEL_EXPORTER_OTLP_TIMEOUT"] = "1000";
        });
}
