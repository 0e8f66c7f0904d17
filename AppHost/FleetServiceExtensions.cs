using FleetAspire.AppHost.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace FleetAspire.AppHost;

internal static class FleetServiceExtensions
{
    /// <summary>
    /// A fleet service: the shared database and broker, the signing key, a fixed port, a health probe, the settings the
    /// AppHost forwards to it, and a start that waits for the broker and for the migrator to have finished.
    /// </summary>
    /// <remarks>
    /// The port is bound by the service itself (no DCP proxy in front): while the process is down its port refuses
    /// connections at once, instead of a proxy accepting them and never answering (docs/adr/0017). The supervisor
    /// (<see cref="ServiceSupervisor"/>) starts a crashed service again.
    /// </remarks>
    public static IResourceBuilder<ProjectResource> AddFleetService<TProject>(
        this IDistributedApplicationBuilder builder,
        string name,
        int port,
        FleetInfrastructure infrastructure,
        IResourceBuilder<ProjectResource> migrator,
        IResourceBuilder<ParameterResource> signingKey)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name, options => options.ExcludeLaunchProfile = true)
            .WithHttpEndpoint(port: port, name: "http", isProxied: false)
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName)
            .WithReference(infrastructure.Database)
            .WithReference(infrastructure.Broker).WaitFor(infrastructure.Broker)
            .WaitForCompletion(migrator)
            .WithEnvironment("Auth__SigningKey", signingKey)
            .WithForwardedSettings(builder.Configuration, ForwardedSettings.For(name))
            .WithHttpHealthCheck("/health")
            .WithFleetTelemetryDefaults()
            .WithAnnotation(new SupervisedAnnotation());

    /// <summary>
    /// Passes every key under the named sections of the AppHost's own configuration (appsettings, user secrets,
    /// environment, command line) to the service as its environment — explicitly, never by the accident of the
    /// service inheriting the AppHost's environment.
    /// </summary>
    public static IResourceBuilder<T> WithForwardedSettings<T>(this IResourceBuilder<T> resource, IConfiguration configuration,
        IEnumerable<string> sections) where T : IResourceWithEnvironment
    {
        foreach (var section in sections)
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null)
                {
                    resource.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
                }
            }
        }

        return resource;
    }

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

/// <summary>Which sections of the AppHost's configuration each service receives (README "Settings").</summary>
internal static class ForwardedSettings
{
    /// <summary>Every fleet service: the migration's per-instance switches and the shared infrastructure clients.</summary>
    private static readonly string[] Common = ["MachineTransition", "Outbox", "Cloud", "RateLimits"];

    public static IEnumerable<string> For(string service) => service switch
    {
        Names.ResourceNames.Migration => [.. Common, "Phases", "Backfill", "Verification", "Fallback", "Contract", "Repair"],
        Names.ResourceNames.Machines => [.. Common, "HealthChecks"],
        Names.ResourceNames.Pool => [.. Common, "Pool"],
        _ => Common,
    };
}
