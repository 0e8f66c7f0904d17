using FleetAspire.Names;
using Microsoft.Extensions.Hosting;

namespace FleetAspire.Data;

public static class FleetDatabaseExtensions
{
    /// <summary>
    /// Registers <see cref="FleetDbContext"/> on the <c>fleet</c> connection string with Aspire's pooling, health
    /// check and telemetry.
    /// </summary>
    /// <remarks>
    /// Aspire's retrying execution strategy is off: our writes open explicit transactions (claims, assignments), which
    /// a retrying strategy refuses, and an outage must reach the client as 503 + Retry-After rather than be hidden
    /// behind in-process retries that hold a request for tens of seconds.
    /// </remarks>
    public static IHostApplicationBuilder AddFleetDatabase(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<FleetDbContext>(
            ResourceNames.FleetDatabase,
            settings => settings.DisableRetry = true,
            options => options.UseFleetConventions());
        return builder;
    }
}
